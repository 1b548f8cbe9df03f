package handlers

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/smtpdesk/smtpdesk/store"
)

// TestHealthAnswersAreNotStored: /healthz and /readyz are about this moment, ready or not: a
// cache between a monitor and the instance that kept one would report a dead instance alive or a
// recovered one unready.
func TestHealthAnswersAreNotStored(t *testing.T) {
	for _, tc := range []struct {
		path  string
		dbErr error
	}{
		{"/healthz", nil},
		{"/readyz", nil},
		{"/readyz", errors.New("down")},
	} {
		e := echo.New()
		NewHealth(fakePinger{err: tc.dbErr}, nil, nil).Register(e)
		rec := serve(e, httptest.NewRequest(http.MethodGet, tc.path, nil))
		if got := rec.Header().Get(echo.HeaderCacheControl); got != "no-store" {
			t.Errorf("%s (database error %v): %d with Cache-Control %q, want no-store", tc.path, tc.dbErr, rec.Code, got)
		}
	}
}

// TestErrorAnswersAreNotStored: an error page is about this moment (a 404 during a rolling
// deploy, a 405), so it is never stored, whatever caches sit in front.
func TestErrorAnswersAreNotStored(t *testing.T) {
	e, _ := newBackboneEcho(t, MiddlewareConfig{})
	for _, method := range []string{http.MethodGet, http.MethodHead} {
		rec := serve(e, httptest.NewRequest(method, "/static/no-such-file.css", nil))
		if rec.Code != http.StatusNotFound {
			t.Fatalf("%s: status %d, want 404", method, rec.Code)
		}
		if got := rec.Header().Get(echo.HeaderCacheControl); got != "no-store" {
			t.Errorf("%s 404: Cache-Control %q, want no-store", method, got)
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

// TestAuditScopeNoteNamesUpToFive: the scope note names the domains when there are at most
// scopeListMax of them, and counts them past that.
func TestAuditScopeNoteNamesUpToFive(t *testing.T) {
	five := []string{"a.example", "b.example", "c.example", "d.example", "e.example"}
	if got, _ := auditScopeNote(store.AuditFilter{Domains: five}); got != "You see only the entries of a.example, b.example, c.example, d.example and e.example, the domains you may view." {
		t.Errorf("five domains: %q", got)
	}
	if got, _ := auditScopeNote(store.AuditFilter{Domains: append(five, "f.example")}); got != "You see only the entries of the 6 domains you may view (the Domain filter lists them)." {
		t.Errorf("six domains: %q", got)
	}
}
