package handlers

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/labstack/echo/v4"
)

// TestClientIPUnconfiguredInternalPeer is SECURITY.md item 17: echo trusts loopback, link-local
// and private peers by default. With TRUSTED_PROXIES naming only 203.0.113.0/24, a peer in any of
// those ranges that sends X-Forwarded-For is still identified by its own address, in the rule
// itself and in c.RealIP() and the access log behind Use.
func TestClientIPUnconfiguredInternalPeer(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")}
	peers := []string{
		"192.168.1.5", "172.16.0.9", "172.31.255.254", "10.9.9.9", // RFC 1918
		"169.254.1.1", // IPv4 link-local
		"fd00::1",     // IPv6 unique local (fc00::/7)
		"fe80::1",     // IPv6 link-local
		"127.0.0.1", "::1",
	}
	for _, peer := range peers {
		t.Run(peer, func(t *testing.T) {
			newReq := func() *http.Request {
				req := httptest.NewRequest(http.MethodGet, "/ip", nil)
				req.RemoteAddr = netip.AddrPortFrom(netip.MustParseAddr(peer), 5555).String()
				req.Header.Set("X-Forwarded-For", "198.51.100.66")
				return req
			}
			if got := IPExtractor(trusted)(newReq()); got != peer {
				t.Errorf("IPExtractor: client IP = %q, want the peer %q", got, peer)
			}

			e, logs := newBackboneEcho(t, MiddlewareConfig{TrustedProxies: trusted})
			var got string
			e.GET("/ip", func(c echo.Context) error {
				got = c.RealIP()
				return c.NoContent(http.StatusNoContent)
			})
			serve(e, newReq())
			if got != peer {
				t.Errorf("RealIP behind Use = %q, want the peer %q", got, peer)
			}
			recs := logRecords(t, logs)
			if len(recs) == 0 || recs[len(recs)-1]["client_ip"] != peer {
				t.Errorf("access log client_ip = %v, want %q", recs, peer)
			}
		})
	}

	// The configured range is still believed, so the test above is not passing by ignoring XFF.
	req := httptest.NewRequest(http.MethodGet, "/ip", nil)
	req.RemoteAddr = "203.0.113.7:5555"
	req.Header.Set("X-Forwarded-For", "198.51.100.66")
	if got := IPExtractor(trusted)(req); got != "198.51.100.66" {
		t.Errorf("configured proxy: client IP = %q, want the forwarded 198.51.100.66", got)
	}
}
