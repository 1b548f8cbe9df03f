package mailgun_test

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/smtpdesk/smtpdesk/mailgun"
)

const testKey = "key-0123456789abcdef0123456789abcdef"

// seen is one request as the fake server saw it.
type seen struct {
	Method      string
	EscapedPath string
	Query       url.Values
	Form        url.Values
	User, Pass  string
	HasAuth     bool
	ContentType string
	UserAgent   string
}

// reply is one scripted answer.
type reply struct {
	status int
	header map[string]string
	body   string
	drop   bool // close the connection without answering
	cut    bool // send the status and headers, then close the connection partway through the body
}

// fake is an httptest server answering from a script: reply i answers request i, the last
// reply repeats.
type fake struct {
	srv     *httptest.Server
	mu      sync.Mutex
	reqs    []seen
	replies []reply
}

func newFake(t *testing.T, replies ...reply) *fake {
	t.Helper()
	f := &fake{replies: replies}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fake) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	form, _ := url.ParseQuery(string(body))
	user, pass, ok := r.BasicAuth()
	f.mu.Lock()
	f.reqs = append(f.reqs, seen{
		Method: r.Method, EscapedPath: r.URL.EscapedPath(), Query: r.URL.Query(), Form: form,
		User: user, Pass: pass, HasAuth: ok,
		ContentType: r.Header.Get("Content-Type"), UserAgent: r.Header.Get("User-Agent"),
	})
	i := min(len(f.reqs)-1, len(f.replies)-1)
	var rep reply
	if i >= 0 {
		rep = f.replies[i]
	}
	f.mu.Unlock()
	if rep.drop || rep.cut {
		hj, _ := w.(http.Hijacker)
		conn, buf, err := hj.Hijack()
		if err != nil {
			return
		}
		if rep.cut {
			_, _ = fmt.Fprintf(buf, "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
				cmp.Or(rep.status, http.StatusOK), http.StatusText(cmp.Or(rep.status, http.StatusOK)), len(rep.body)+100, rep.body)
			_ = buf.Flush()
		}
		_ = conn.Close()
		return
	}
	for k, v := range rep.header {
		w.Header().Set(k, v)
	}
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "application/json")
	}
	if rep.status == 0 {
		rep.status = http.StatusOK
	}
	w.WriteHeader(rep.status)
	_, _ = io.WriteString(w, rep.body)
}

func (f *fake) requests() []seen {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]seen(nil), f.reqs...)
}

// sleeper records the waits the client asks for and returns at once.
type sleeper struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (s *sleeper) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.waits = append(s.waits, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleeper) got() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.waits...)
}

// newClient returns a client for f with a recording sleeper and a jitter that always picks
// the top of the range.
func newClient(t *testing.T, f *fake, opts ...mailgun.Option) (*mailgun.Client, *sleeper) {
	t.Helper()
	c, err := mailgun.NewClient(testKey, append([]mailgun.Option{mailgun.WithBaseURL(f.srv.URL)}, opts...)...)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	s := &sleeper{}
	mailgun.SetTestHooks(c, s.sleep, nil, func(n int64) int64 { return n - 1 })
	return c, s
}

// onlyRequest returns the single request f saw.
func onlyRequest(t *testing.T, f *fake) seen {
	t.Helper()
	reqs := f.requests()
	if len(reqs) != 1 {
		t.Fatalf("server saw %d requests, want 1", len(reqs))
	}
	return reqs[0]
}
