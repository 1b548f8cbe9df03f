package auth_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smtpdesk/smtpdesk/auth"
	"github.com/smtpdesk/smtpdesk/demoidp"
)

// TestSecurity09SignInAttemptRetriesDiscoveryAtOnce is SECURITY.md item 9: with the discovery
// backoff at an hour, a provider that comes up after the first failed discovery is found as soon
// as someone tries to sign in (the 503 kicks the discovery loop), not an hour later.
//
// Deterministic without sleeps: the provider answers 503 until the test has seen the first
// discovery request, and is up for every request after that. The failed attempt's loop then
// waits an hour unless kicked; the kick of the sign-in attempt is buffered, so it counts whether
// it arrives before or after the loop starts waiting.
func TestSecurity09SignInAttemptRetriesDiscoveryAtOnce(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	var up atomic.Bool
	var discoveries atomic.Int32
	firstTry := make(chan struct{}, 1)
	var idpHandler atomic.Pointer[http.Handler]
	idpSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/.well-known/openid-configuration" {
			discoveries.Add(1)
		}
		if !up.Load() {
			select {
			case firstTry <- struct{}{}:
			default:
			}
			http.Error(w, "provider down", http.StatusServiceUnavailable)
			return
		}
		(*idpHandler.Load()).ServeHTTP(w, r)
	}))
	t.Cleanup(idpSrv.Close)
	idp, err := demoidp.New(demoidp.Options{
		Issuer: idpSrv.URL, ClientID: "smtpdesk-test", ClientSecret: "test-secret",
		RedirectURIs: []string{h.srv.URL + auth.CallbackPath}, Now: h.clock.Now, Key: testRSAKey(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	handler := idp.Handler()
	idpHandler.Store(&handler)

	cfg := h.cfg
	cfg.IssuerURL = idpSrv.URL
	// Bounds only keep a broken test from hanging: a loaded machine may take seconds to answer,
	// and a kicked discovery that timed out would leave the loop waiting its hour.
	cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	cfg.DiscoveryRetryMin, cfg.DiscoveryRetryMax = time.Hour, time.Hour
	a := h.newApp(cfg)

	select {
	case <-firstTry:
	case <-time.After(10 * time.Second):
		t.Fatal("no discovery attempt at start")
	}
	up.Store(true)

	b := h.browser()
	if pg := b.get(auth.LoginPath); pg.resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("sign-in before rediscovery = %d, want 503", pg.resp.StatusCode)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := a.WaitReady(ctx); err != nil {
		t.Fatalf("the sign-in attempt did not trigger rediscovery (backoff is an hour): %v", err)
	}
	if n := discoveries.Load(); n != 2 {
		t.Errorf("discovery requests = %d, want 2 (the failed one and the kicked one)", n)
	}
	if got := location(t, b.get(auth.LoginPath)); !strings.HasPrefix(got, idpSrv.URL+"/authorize?") {
		t.Errorf("sign-in after rediscovery redirected to %q", got)
	}
}
