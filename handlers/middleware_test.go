package handlers

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/klauspost/compress/gzip"
	"github.com/labstack/echo/v4"

	"github.com/smtpdesk/smtpdesk/internal/testlog"
)

// logRecords parses the JSON log lines.
func logRecords(t *testing.T, logs *testlog.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range logs.Lines() {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not one JSON record: %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

// newBackboneEcho builds an echo with the real middleware, error handler, health and static
// routes; the caller adds handlers.
func newBackboneEcho(t *testing.T, cfg MiddlewareConfig) (*echo.Echo, *testlog.Buffer) {
	t.Helper()
	logs := &testlog.Buffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg.Logger = logger
	e := echo.New()
	e.HideBanner = true
	e.HTTPErrorHandler = ErrorHandler(logger)
	Use(e, cfg)
	RegisterStatic(e)
	NewHealth(nil, nil, nil).Register(e)
	return e, logs
}

func serve(e *echo.Echo, req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	return rec
}

func TestSecurityHeadersAndNonce(t *testing.T) {
	e, _ := newBackboneEcho(t, MiddlewareConfig{FormActions: func() []string {
		return []string{"https://login.corp.example", "https://logout.corp.example"}
	}})
	rec := serve(e, httptest.NewRequest(http.MethodGet, "/no-such-page", nil))
	if got, want := rec.Code, http.StatusNotFound; got != want {
		t.Fatalf("status = %d, want %d", got, want)
	}
	h := rec.Header()
	for name, want := range map[string]string{
		"X-Content-Type-Options":     "nosniff",
		"Referrer-Policy":            "same-origin",
		"X-Frame-Options":            "DENY",
		"Cross-Origin-Opener-Policy": "same-origin",
	} {
		if got := h.Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if h.Get("Permissions-Policy") == "" {
		t.Error("no Permissions-Policy")
	}
	if got := h.Get("Strict-Transport-Security"); got != "" {
		t.Errorf("HSTS over plain HTTP: %q", got)
	}
	csp := h.Get("Content-Security-Policy")
	for _, part := range []string{"default-src 'self'", "style-src 'self'", "img-src 'self' data:", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'",
		"form-action 'self' https://login.corp.example https://logout.corp.example"} {
		if !strings.Contains(csp, part) {
			t.Errorf("CSP %q lacks %q", csp, part)
		}
	}
	m := regexp.MustCompile(`script-src 'self' 'nonce-([A-Za-z0-9+/=]+)'`).FindStringSubmatch(csp)
	if m == nil {
		t.Fatalf("CSP %q has no script nonce", csp)
	}
	nonce := m[1]
	if len(nonce) != 24 { // 16 bytes in base64
		t.Errorf("nonce %q is not 16 bytes of base64", nonce)
	}
	doc, err := goquery.NewDocumentFromReader(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	scripts := doc.Find("script")
	if scripts.Length() == 0 {
		t.Fatal("the rendered page has no script element")
	}
	scripts.Each(func(_ int, s *goquery.Selection) {
		if got, _ := s.Attr("nonce"); got != nonce {
			t.Errorf("script nonce = %q, want the CSP's %q", got, nonce)
		}
	})

	// A new nonce per request.
	rec2 := serve(e, httptest.NewRequest(http.MethodGet, "/no-such-page", nil))
	if rec2.Header().Get("Content-Security-Policy") == csp {
		t.Error("two requests got the same nonce")
	}
}

func TestHSTS(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	tests := []struct {
		name    string
		trusted []netip.Prefix
		remote  string
		tls     bool
		proto   string
		want    bool
	}{
		{"plain http", nil, "198.51.100.1:1234", false, "", false},
		{"tls", nil, "198.51.100.1:1234", true, "", true},
		{"forged proto, no trusted proxies", nil, "198.51.100.1:1234", false, "https", false},
		{"forged proto from untrusted peer", trusted, "198.51.100.1:1234", false, "https", false},
		{"proto from trusted proxy", trusted, "10.1.2.3:1234", false, "https", true},
		{"http from trusted proxy", trusted, "10.1.2.3:1234", false, "http", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, _ := newBackboneEcho(t, MiddlewareConfig{TrustedProxies: tt.trusted})
			req := httptest.NewRequest(http.MethodGet, "/healthz", nil)
			req.RemoteAddr = tt.remote
			if tt.tls {
				req.TLS = &tls.ConnectionState{}
			}
			if tt.proto != "" {
				req.Header.Set("X-Forwarded-Proto", tt.proto)
			}
			got := serve(e, req).Header().Get("Strict-Transport-Security")
			if (got != "") != tt.want {
				t.Errorf("HSTS = %q, want present=%v", got, tt.want)
			}
			if tt.want && got != "max-age=31536000; includeSubDomains" {
				t.Errorf("HSTS = %q", got)
			}
		})
	}
}

// TestClientIP is SECURITY.md item 17: X-Forwarded-For is believed only from configured proxies.
func TestClientIP(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.1/32")}
	tests := []struct {
		name    string
		trusted []netip.Prefix
		remote  string
		xff     string
		want    string
	}{
		{"no proxies, forged xff", nil, "198.51.100.7:5555", "203.0.113.9", "198.51.100.7"},
		{"no proxies, loopback peer, forged xff", nil, "127.0.0.1:5555", "203.0.113.9", "127.0.0.1"},
		{"no proxies, private peer, forged xff", nil, "10.1.1.1:5555", "203.0.113.9", "10.1.1.1"},
		{"trusted proxy", trusted, "10.1.2.3:5555", "203.0.113.9", "203.0.113.9"},
		{"trusted proxy, client-forged prefix", trusted, "10.1.2.3:5555", "6.6.6.6, 203.0.113.9", "203.0.113.9"},
		{"two trusted hops", trusted, "10.1.2.3:5555", "203.0.113.9, 192.0.2.1", "203.0.113.9"},
		// A zone is no part of a client's address, and its text is anyone's: it is dropped.
		{"trusted proxy, zoned entry", trusted, "10.1.2.3:5555", "fe80::1%<b>x", "fe80::1"},
		{"untrusted peer with xff", trusted, "198.51.100.7:5555", "203.0.113.9", "198.51.100.7"},
		{"loopback peer not configured", trusted, "127.0.0.1:5555", "203.0.113.9", "127.0.0.1"},
		{"trusted proxy, no xff", trusted, "10.1.2.3:5555", "", "10.1.2.3"},
		// Entries with a port, as some proxies write them (Azure Application Gateway): the
		// client, not the proxy that every user behind it shares.
		{"trusted proxy, xff with a port", trusted, "10.1.2.3:5555", "203.0.113.9:41234", "203.0.113.9"},
		{"trusted proxy, xff IPv6 with a port", trusted, "10.1.2.3:5555", "[2001:db8::9]:41234", "2001:db8::9"},
		{"trusted proxy, xff IPv6 bracketed", trusted, "10.1.2.3:5555", "[2001:db8::9]", "2001:db8::9"},
		{"two trusted hops with ports, client-forged prefix", trusted, "10.1.2.3:5555", "6.6.6.6:1, 203.0.113.9:2, 192.0.2.1:3", "203.0.113.9"},
		{"trusted proxy, forged port entry left of the client", trusted, "10.1.2.3:5555", "6.6.6.6:1, 203.0.113.9", "203.0.113.9"},
		{"trusted proxy, IPv4-mapped entry", trusted, "10.1.2.3:5555", "::ffff:203.0.113.9", "203.0.113.9"},
		// A hop that hides its client: the trusted hop that wrote it is the nearest address known.
		{"trusted hop hides its client", trusted, "10.1.2.3:5555", "unknown, 192.0.2.1", "192.0.2.1"},
		// What lies beyond a hidden hop was written by nobody trusted: a client-forged entry there
		// is not the client.
		{"forged entry beyond a hidden hop", trusted, "10.1.2.3:5555", "6.6.6.6, unknown, 192.0.2.1", "192.0.2.1"},
		{"every hop trusted", trusted, "10.1.2.3:5555", "10.9.9.9, 192.0.2.1", "10.9.9.9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, logs := newBackboneEcho(t, MiddlewareConfig{TrustedProxies: tt.trusted})
			var got string
			e.GET("/ip", func(c echo.Context) error {
				got = c.RealIP()
				return c.NoContent(http.StatusNoContent)
			})
			req := httptest.NewRequest(http.MethodGet, "/ip", nil)
			req.RemoteAddr = tt.remote
			if tt.xff != "" {
				req.Header.Set("X-Forwarded-For", tt.xff)
			}
			serve(e, req)
			if got != tt.want {
				t.Errorf("client IP = %q, want %q", got, tt.want)
			}
			recs := logRecords(t, logs)
			if len(recs) == 0 || recs[len(recs)-1]["client_ip"] != tt.want {
				t.Errorf("access log client_ip = %v, want %q", recs, tt.want)
			}
		})
	}
}

func TestRequestID(t *testing.T) {
	e, _ := newBackboneEcho(t, MiddlewareConfig{})
	var seen string
	e.GET("/id", func(c echo.Context) error {
		seen = RequestID(c)
		return c.NoContent(http.StatusNoContent)
	})
	req := httptest.NewRequest(http.MethodGet, "/id", nil)
	req.Header.Set("X-Request-ID", "forged-by-client")
	rec := serve(e, req)
	got := rec.Header().Get("X-Request-ID")
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(got) {
		t.Errorf("request id = %q, want 32 hex digits (the client's value ignored)", got)
	}
	if seen != got {
		t.Errorf("RequestID(c) = %q, header %q", seen, got)
	}
	if other := serve(e, httptest.NewRequest(http.MethodGet, "/id", nil)).Header().Get("X-Request-ID"); other == got {
		t.Error("two requests share an id")
	}
}

// TestAccessLog is SECURITY.md item 20: one structured record per request, path without the
// query, and a CRLF in the path cannot split it.
func TestAccessLog(t *testing.T) {
	e, logs := newBackboneEcho(t, MiddlewareConfig{})
	e.GET("/d/:domain", func(c echo.Context) error { return c.String(http.StatusOK, "hello") })
	req := httptest.NewRequest(http.MethodGet, "/d/evil%0d%0aFAKE=1?token=sekrit", nil)
	req.RemoteAddr = "198.51.100.7:4000"
	rec := serve(e, req)
	recs := logRecords(t, logs)
	if len(recs) != 1 {
		t.Fatalf("got %d log records, want 1: %s", len(recs), logs)
	}
	r := recs[0]
	want := map[string]any{
		"msg": "request", "method": "GET", "route": "/d/:domain", "path": "/d/evil\r\nFAKE=1",
		"status": float64(200), "bytes": float64(5), "client_ip": "198.51.100.7",
		"request_id": rec.Header().Get("X-Request-ID"),
	}
	for k, v := range want {
		if r[k] != v {
			t.Errorf("log %s = %#v, want %#v", k, r[k], v)
		}
	}
	if _, ok := r["duration"]; !ok {
		t.Error("no duration")
	}
	if strings.Contains(logs.String(), "sekrit") {
		t.Error("the query string was logged")
	}
}

// TestAccessLogQuietForMonitors: health checks and answered metrics scrapes are logged at Debug
// (a scraper every 15 s wrote 5,760 Info lines a day among the users' requests); a refused
// scrape, and every other request, at Info.
func TestAccessLogQuietForMonitors(t *testing.T) {
	e, logs := newBackboneEcho(t, MiddlewareConfig{})
	e.GET(MetricsPath, func(c echo.Context) error {
		if c.Request().Header.Get("Authorization") != "Bearer t" {
			return echo.NewHTTPError(http.StatusUnauthorized)
		}
		return c.String(http.StatusOK, "# metrics")
	})
	e.GET("/d/:domain", func(c echo.Context) error { return c.String(http.StatusOK, "hello") })
	scrape := httptest.NewRequest(http.MethodGet, MetricsPath, nil)
	scrape.Header.Set("Authorization", "Bearer t")
	for _, req := range []*http.Request{
		httptest.NewRequest(http.MethodGet, "/healthz", nil),
		scrape,
		httptest.NewRequest(http.MethodGet, MetricsPath, nil), // no token: 401
		httptest.NewRequest(http.MethodGet, "/d/example.com", nil),
	} {
		serve(e, req)
	}
	want := map[string]string{"/healthz": "DEBUG", "/metrics 200": "DEBUG", "/metrics 401": "INFO", "/d/example.com": "INFO"}
	got := map[string]string{}
	for _, r := range logRecords(t, logs) {
		if r["msg"] != "request" {
			continue
		}
		key := r["path"].(string)
		if key == MetricsPath {
			key = fmt.Sprintf("%s %v", key, r["status"])
		}
		got[key] = r["level"].(string)
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s logged at %q, want %s; log: %s", k, got[k], w, logs)
		}
	}
}

// TestAccessLogClientGone: a request its client left before any answer was sent is logged
// with status 499 (nginx's "client closed request"), not with the 200 echo assumes of a
// response nobody wrote, and not counted as answered.
func TestAccessLogClientGone(t *testing.T) {
	e, logs := newBackboneEcho(t, MiddlewareConfig{})
	e.GET("/d/:domain", func(c echo.Context) error {
		<-c.Request().Context().Done() // waiting on Mailgun when the browser gives up
		return fmt.Errorf("list: %w", c.Request().Context().Err())
	})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	serve(e, httptest.NewRequest(http.MethodGet, "/d/example.com", nil).WithContext(ctx))
	var got any
	for _, r := range logRecords(t, logs) {
		if r["msg"] == "request" {
			got = r["status"]
		}
	}
	if got != float64(StatusClientClosedRequest) {
		t.Errorf("access log status = %v, want %d; log: %s", got, StatusClientClosedRequest, logs)
	}
}

// TestAccessLogServerStopping: a request the server cut off at the end of a shutdown's grace
// period (its context canceled with ErrServerStopping) is logged as the server's doing, 503 and
// a warning that says so, where it read as one its client left (499, "canceled by the client").
func TestAccessLogServerStopping(t *testing.T) {
	e, logs := newBackboneEcho(t, MiddlewareConfig{})
	e.GET("/d/:domain", func(c echo.Context) error {
		<-c.Request().Context().Done() // waiting on Mailgun when the grace period ends
		return fmt.Errorf("list: %w", c.Request().Context().Err())
	})
	ctx, cutOff := context.WithCancelCause(context.Background())
	cutOff(ErrServerStopping)
	serve(e, httptest.NewRequest(http.MethodGet, "/d/example.com", nil).WithContext(ctx))
	var status any
	said := false
	for _, r := range logRecords(t, logs) {
		switch r["msg"] {
		case "request":
			status = r["status"]
		case "request cut off: the server is stopping and its grace period ended":
			said = r["level"] == "WARN"
		}
	}
	if status != float64(http.StatusServiceUnavailable) || !said {
		t.Errorf("access log status = %v, warning said %v; want 503 and the warning; log: %s", status, said, logs)
	}
}

// TestAccessLogAbortedDownload: a download aborted half-way (http.ErrAbortHandler, which
// Recover lets through to net/http) still gets its access log line, with status 500, or 499
// when its client had left.
func TestAccessLogAbortedDownload(t *testing.T) {
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tt := range []struct {
		ctx  context.Context
		want int
	}{{context.Background(), http.StatusInternalServerError}, {gone, StatusClientClosedRequest}} {
		e, logs := newBackboneEcho(t, MiddlewareConfig{})
		e.GET("/audit/export.csv", func(c echo.Context) error {
			c.Response().WriteHeader(http.StatusOK)
			_, _ = c.Response().Write([]byte("id,at\n"))
			panic(http.ErrAbortHandler)
		})
		func() {
			defer func() {
				if r := recover(); r != http.ErrAbortHandler {
					t.Errorf("panic = %v, want http.ErrAbortHandler passed on to net/http", r)
				}
			}()
			serve(e, httptest.NewRequest(http.MethodGet, "/audit/export.csv", nil).WithContext(tt.ctx))
		}()
		var got []any
		for _, r := range logRecords(t, logs) {
			if r["msg"] == "request" {
				got = append(got, r["status"], r["route"])
			}
		}
		if len(got) != 2 || got[0] != float64(tt.want) || got[1] != "/audit/export.csv" {
			t.Errorf("access log (status, route) = %v, want one line with %d; log: %s", got, tt.want, logs)
		}
	}
}

func TestBodyLimit(t *testing.T) {
	e, _ := newBackboneEcho(t, MiddlewareConfig{})
	e.POST("/form", func(c echo.Context) error {
		if _, err := c.FormParams(); err != nil {
			return err
		}
		return c.NoContent(http.StatusNoContent)
	})
	small := httptest.NewRequest(http.MethodPost, "/form", strings.NewReader("a=b"))
	small.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if got := serve(e, small).Code; got != http.StatusNoContent {
		t.Errorf("small body: %d", got)
	}
	big := httptest.NewRequest(http.MethodPost, "/form", strings.NewReader("a="+strings.Repeat("x", 100<<10)))
	big.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if got, want := serve(e, big).Code, http.StatusRequestEntityTooLarge; got != want {
		t.Errorf("100K body: %d, want %d", got, want)
	}
}

func TestRecover(t *testing.T) {
	e, logs := newBackboneEcho(t, MiddlewareConfig{})
	e.GET("/panic", func(c echo.Context) error { panic("boom with internal detail") })
	rec := serve(e, httptest.NewRequest(http.MethodGet, "/panic", nil))
	if got, want := rec.Code, http.StatusInternalServerError; got != want {
		t.Errorf("status = %d, want %d", got, want)
	}
	if strings.Contains(rec.Body.String(), "internal detail") {
		t.Error("panic detail shown to the user")
	}
	if !strings.Contains(logs.String(), "boom with internal detail") {
		t.Error("panic not logged")
	}
	if rec.Header().Get("Content-Security-Policy") == "" {
		t.Error("error page after a panic lacks security headers")
	}
}

// TestUseNoGzip: by default the chain gzips a page for a client that accepts it; with NoGzip
// (HTTP_GZIP=false, a compressing proxy in front) the same page goes out as it is, whole.
func TestUseNoGzip(t *testing.T) {
	page := strings.Repeat("<p>SMTP Desk</p>\n", 200)
	for _, noGzip := range []bool{false, true} {
		e, _ := newBackboneEcho(t, MiddlewareConfig{NoGzip: noGzip})
		e.GET("/page", func(c echo.Context) error { return c.HTML(http.StatusOK, page) })
		req := httptest.NewRequest(http.MethodGet, "/page", nil)
		req.Header.Set("Accept-Encoding", "gzip")
		rec := serve(e, req)
		if got, want := rec.Header().Get("Content-Encoding") == "gzip", !noGzip; got != want {
			t.Errorf("NoGzip=%v: gzipped = %v, want %v", noGzip, got, want)
		}
		if noGzip && rec.Body.String() != page {
			t.Errorf("NoGzip=true: body is %d bytes, want the page's %d as they are", rec.Body.Len(), len(page))
		}
	}
}

// TestAnswerOutlivesTheServersWriteTimeout: an answer made after the server's write timeout has
// passed (a delete-all whose whole-domain read and Mailgun calls were slow) still reaches the
// browser, compressed or not: the write deadline counts from the answer's first byte. It was a
// dropped connection for a change that had been made.
func TestAnswerOutlivesTheServersWriteTimeout(t *testing.T) {
	e, _ := newBackboneEcho(t, MiddlewareConfig{})
	const writeTimeout = 150 * time.Millisecond
	e.POST("/slow", func(c echo.Context) error {
		time.Sleep(3 * writeTimeout) // the handler's work, past the server's deadline
		return c.HTML(http.StatusOK, "<p>deleted</p>"+strings.Repeat("<!-- padding -->", 200))
	})
	srv := httptest.NewUnstartedServer(e)
	srv.Config.WriteTimeout = writeTimeout
	srv.Start()
	defer srv.Close()
	for _, enc := range []string{"identity", "gzip"} {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/slow", nil)
		req.Header.Set("Accept-Encoding", enc)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatalf("%s: the answer was lost: %v", enc, err)
		}
		var body []byte
		if enc == "gzip" {
			zr, err := gzip.NewReader(resp.Body)
			if err != nil {
				t.Fatalf("gzip: %v", err)
			}
			body, err = io.ReadAll(zr)
			if err != nil {
				t.Fatalf("gzip body: %v", err)
			}
		} else if body, err = io.ReadAll(resp.Body); err != nil {
			t.Fatalf("%s body: %v", enc, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "<p>deleted</p>") {
			t.Errorf("%s: %d %.80q", enc, resp.StatusCode, body)
		}
		if got := resp.Header.Get("Content-Encoding"); (enc == "gzip") != (got == "gzip") {
			t.Errorf("%s: Content-Encoding %q", enc, got)
		}
	}
}

// TestForwardedHostOnlyFromATrustedPeer: X-Forwarded-Host is believed from a trusted proxy
// only; anyone else's is the Host header's.
func TestForwardedHostOnlyFromATrustedPeer(t *testing.T) {
	host := ForwardedHost([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")})
	for _, tc := range []struct{ remote, xfh, want string }{
		{"10.1.2.3:5555", "desk.example, inner.example", "desk.example"},
		{"198.51.100.7:5555", "evil.example", "app.internal"},
		{"10.1.2.3:5555", "", "app.internal"},
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Host, r.RemoteAddr = "app.internal", tc.remote
		if tc.xfh != "" {
			r.Header.Set("X-Forwarded-Host", tc.xfh)
		}
		if got := host(r); got != tc.want {
			t.Errorf("peer %s, X-Forwarded-Host %q: host %q, want %q", tc.remote, tc.xfh, got, tc.want)
		}
	}
}

// TestTrustedProxyOnALinkLocalPeer (a review helper's): a proxy whose socket address is
// link-local IPv6 (with its zone: "[fe80::1%eth0]:port") in TRUSTED_PROXIES (fe80::/10) is
// trusted for every forwarded header: its X-Forwarded-For was believed, its X-Forwarded-Proto
// (HSTS) and X-Forwarded-Host not, as a prefix never contains an address with a zone.
func TestTrustedProxyOnALinkLocalPeer(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("fe80::/10")}
	e, _ := newBackboneEcho(t, MiddlewareConfig{TrustedProxies: trusted})
	var ip, host string
	e.GET("/ip", func(c echo.Context) error {
		ip, host = c.RealIP(), browserHost(c)
		return c.NoContent(http.StatusNoContent)
	})
	req := httptest.NewRequest(http.MethodGet, "/ip", nil)
	req.RemoteAddr = "[fe80::1%eth0]:5555"
	req.Host = "app.internal"
	req.Header.Set("X-Forwarded-For", "203.0.113.9")
	req.Header.Set("X-Forwarded-Proto", "https")
	req.Header.Set("X-Forwarded-Host", "desk.example")
	rec := serve(e, req)
	if ip != "203.0.113.9" {
		t.Fatalf("client IP = %q: the proxy is not trusted at all", ip)
	}
	if got := rec.Header().Get("Strict-Transport-Security"); got == "" {
		t.Error("X-Forwarded-For believed from the proxy, its X-Forwarded-Proto: https not (no HSTS)")
	}
	if host != "desk.example" {
		t.Errorf("browser host = %q, want the trusted proxy's X-Forwarded-Host desk.example", host)
	}
}

// TestPanicAfterTheAnswerBegan (after a review helper's): a download that panics (a bug, not
// http.ErrAbortHandler) after its first rows went out cannot become an error page any more; it
// must not reach the client as a whole file either (a short file taken for a complete one), with
// or without gzip. Recover took the panic as an error, the handler "returned", and net/http and
// gzip ended the answer cleanly: a truncated CSV, status 200, no error, logged as a 200.
func TestPanicAfterTheAnswerBegan(t *testing.T) {
	for _, gz := range []bool{false, true} {
		t.Run(fmt.Sprintf("gzip=%v", gz), func(t *testing.T) {
			e, logs := newBackboneEcho(t, MiddlewareConfig{})
			e.GET("/audit/export.csv", func(c echo.Context) error {
				res := c.Response()
				res.Header().Set(echo.HeaderContentType, "text/csv; charset=utf-8")
				res.WriteHeader(http.StatusOK)
				_, _ = res.Write([]byte("id,at\n" + strings.Repeat("1,2026-01-01T00:00:00Z\n", 100)))
				res.Flush()
				var rows map[string][]string
				rows["x"][0] = "boom" // a bug: nil map
				return nil
			})
			srv := httptest.NewServer(e)
			defer srv.Close()
			req, _ := http.NewRequest(http.MethodGet, srv.URL+"/audit/export.csv", nil)
			if gz {
				req.Header.Set("Accept-Encoding", "gzip")
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatalf("the rows were flushed before the panic, so the answer had begun: %v", err)
			}
			defer resp.Body.Close()
			var body io.Reader = resp.Body
			if resp.Header.Get("Content-Encoding") == "gzip" {
				zr, zerr := gzip.NewReader(resp.Body)
				if zerr != nil {
					t.Fatalf("gzip header: %v", zerr)
				}
				body = zr
			}
			b, rerr := io.ReadAll(body)
			if rerr == nil {
				t.Errorf("status %d, %d bytes read whole and without error: a download cut short by a panic looks complete", resp.StatusCode, len(b))
			}
			srv.Close() // the handler has returned: its log lines are written
			var panics, statuses int
			for _, r := range logRecords(t, logs) {
				switch r["msg"] {
				case "panic":
					panics++
				case "request":
					if r["status"] != float64(http.StatusInternalServerError) {
						t.Errorf("the request is logged with status %v, want 500", r["status"])
					}
					statuses++
				}
			}
			if panics != 1 || statuses != 1 {
				t.Errorf("%d panic and %d request lines, want one of each", panics, statuses)
			}
		})
	}
}
