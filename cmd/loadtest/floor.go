package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/smtpdesk/smtpdesk/mailgun"
)

// The floor is a reference, not SMTP Desk: a pass-through proxy that answers the dashboard's
// URL by making the same Mailgun list call, through the same kind of pooled HTTP client, and
// copying the JSON back. No session, policy, parsing, rendering or compression. It runs as its
// own process, like the dashboard, so its rows show what the machine costs any design that
// makes one upstream call per view: the part of each budget line no dashboard code can remove.
//
// The load test starts it by running its own executable with floorProxyArg first.
const (
	floorProxyArg = "-serve-floor-proxy"
	floorAuthEnv  = "LOADTEST_FLOOR_UPSTREAM_AUTH" // the sandbox's Authorization header value
)

// isFloorProxy says whether the arguments ask for the floor proxy, and returns the rest.
func isFloorProxy(args []string) (bool, []string) {
	if len(args) > 0 && args[0] == floorProxyArg {
		return true, args[1:]
	}
	return false, args
}

// runFloorProxy serves the floor proxy on -addr until ctx ends.
func runFloorProxy(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("floor-proxy", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	upstream := fs.String("upstream", "", "the sandbox's base URL")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *upstream == "" {
		return errors.New("floor proxy: -upstream is required")
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", *addr)
	if err != nil {
		return fmt.Errorf("floor proxy: %w", err)
	}
	srv := &http.Server{
		Handler:           newFloorProxy(*upstream, os.Getenv(floorAuthEnv), mailgun.NewHTTPClient()),
		ReadHeaderTimeout: 10 * time.Second,
	}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("floor proxy: %w", err)
	}
	return nil
}

// floorProxy maps GET /d/{domain}?page=P&per_page=N to the upstream's
// GET /v3/domains/{domain}/credentials?skip=(P-1)*N&limit=N and copies the answer.
type floorProxy struct {
	upstream string // base URL, no trailing slash
	auth     string // Authorization header value sent upstream
	client   *http.Client
}

func newFloorProxy(upstream, auth string, client *http.Client) *floorProxy {
	return &floorProxy{upstream: strings.TrimRight(upstream, "/"), auth: auth, client: client}
}

func (p *floorProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/healthz" {
		_, _ = io.WriteString(w, "ok\n")
		return
	}
	domain, ok := strings.CutPrefix(r.URL.Path, "/d/")
	if !ok || domain == "" || strings.Contains(domain, "/") {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet {
		http.Error(w, "GET only", http.StatusMethodNotAllowed)
		return
	}
	q := r.URL.Query()
	page, err1 := strconv.Atoi(q.Get("page"))
	perPage, err2 := strconv.Atoi(q.Get("per_page"))
	if err1 != nil || err2 != nil || page < 1 || perPage < 1 || perPage > mailgun.MaxLimit {
		http.Error(w, "want page ≥ 1 and per_page in 1..1000", http.StatusBadRequest)
		return
	}
	u := p.upstream + "/v3/domains/" + url.PathEscape(domain) + "/credentials?skip=" +
		strconv.Itoa((page-1)*perPage) + "&limit=" + strconv.Itoa(perPage)
	req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, u, nil)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	req.Header.Set("Authorization", p.auth)
	resp, err := p.client.Do(req)
	if err != nil {
		http.Error(w, "upstream: "+err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
	if resp.ContentLength >= 0 {
		w.Header().Set("Content-Length", strconv.FormatInt(resp.ContentLength, 10))
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}
