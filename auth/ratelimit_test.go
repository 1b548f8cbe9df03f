package auth_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/smtpdesk/smtpdesk/auth"
)

// TestSignInRateLimit: sign-in attempts (login and callback) are limited per client IP; the
// refusal is a 429 with Retry-After; a forged X-Forwarded-For does not buy a fresh budget; the
// budget refills with time.
func TestSignInRateLimit(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.cfg.SignInPerMinute = 3
	h.restart(testKeys(1))
	b := h.browser()

	// Two logins and one callback spend the budget of three.
	b.startLogin("/protected")
	cb := b.toCallback("/protected", "admin") // the second login
	if got := b.get(cb); got.resp.StatusCode != http.StatusFound {
		t.Fatalf("callback within budget = %d, want 302", got.resp.StatusCode)
	}
	for _, forged := range []string{"", "203.0.113.7", "198.51.100.1, 203.0.113.8"} {
		hdr := map[string]string{}
		if forged != "" {
			hdr["X-Forwarded-For"] = forged
			hdr["X-Real-IP"] = forged
		}
		for _, path := range []string{auth.LoginPath, auth.CallbackPath + "?state=x&code=y"} {
			pg := b.do(http.MethodGet, path, nil, hdr)
			if pg.resp.StatusCode != http.StatusTooManyRequests {
				t.Fatalf("GET %s with X-Forwarded-For %q over budget = %d, want 429", path, forged, pg.resp.StatusCode)
			}
			ra, err := strconv.Atoi(pg.resp.Header.Get("Retry-After"))
			if err != nil || ra < 1 || ra > 60 {
				t.Errorf("Retry-After = %q, want 1..60 seconds", pg.resp.Header.Get("Retry-After"))
			}
		}
	}
	// 3 per minute: one attempt comes back every 20 seconds.
	h.clock.Add(20 * time.Second)
	if pg := b.get(auth.LoginPath); pg.resp.StatusCode != http.StatusFound {
		t.Errorf("login after the budget refilled = %d, want 302", pg.resp.StatusCode)
	}
	if pg := b.get(auth.LoginPath); pg.resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("second login after one refill = %d, want 429", pg.resp.StatusCode)
	}
}

// TestSignInRateLimitMessage: the 429 says how long to wait, rounded up to whole seconds, and
// in the singular for one.
func TestSignInRateLimitMessage(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.cfg.SignInPerMinute = 1
	h.restart(testKeys(1))
	b := h.browser()
	b.get(auth.LoginPath)
	pg := b.get(auth.LoginPath)
	if pg.resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("second login = %d, want 429", pg.resp.StatusCode)
	}
	if want := "Too many sign-in attempts came from your network. Try again in 60 seconds."; !strings.Contains(pg.body, want) {
		t.Errorf("body = %q, want it to contain %q", pg.body, want)
	}
	if got := pg.resp.Header.Get("Retry-After"); got != "60" {
		t.Errorf("Retry-After = %q, want 60", got)
	}
	h.clock.Add(500 * time.Millisecond)
	if pg := b.get(auth.LoginPath); pg.resp.Header.Get("Retry-After") != "60" || !strings.Contains(pg.body, "Try again in 60 seconds.") {
		t.Errorf("59.5 s to wait: %d Retry-After %q %q, want 60 seconds", pg.resp.StatusCode, pg.resp.Header.Get("Retry-After"), pg.body)
	}
	h.clock.Add(59 * time.Second)
	pg = b.get(auth.LoginPath)
	if ra, _ := strconv.Atoi(pg.resp.Header.Get("Retry-After")); pg.resp.StatusCode != http.StatusTooManyRequests || ra != 1 || !strings.Contains(pg.body, "Try again in 1 second.") {
		t.Errorf("half a second to wait: %d Retry-After %q %q, want 429, 1 and \"1 second\"", pg.resp.StatusCode, pg.resp.Header.Get("Retry-After"), pg.body)
	}
}

// TestSignInRateLimitDisabled: a negative SignInPerMinute turns the limit off.
func TestSignInRateLimitDisabled(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.cfg.SignInPerMinute = -1
	h.restart(testKeys(1))
	b := h.browser()
	for i := range auth.DefaultSignInPerMinute + 5 {
		if pg := b.get(auth.LoginPath); pg.resp.StatusCode != http.StatusFound {
			t.Fatalf("login %d with the limit disabled = %d, want 302", i+1, pg.resp.StatusCode)
		}
	}
}

// TestSignInRateLimitDefault: with SignInPerMinute unset the default budget applies.
func TestSignInRateLimitDefault(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	b := h.browser()
	for i := range auth.DefaultSignInPerMinute {
		if pg := b.get(auth.LoginPath); pg.resp.StatusCode != http.StatusFound {
			t.Fatalf("login %d within the default budget = %d, want 302", i+1, pg.resp.StatusCode)
		}
	}
	if pg := b.get(auth.LoginPath); pg.resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("login %d = %d, want 429", auth.DefaultSignInPerMinute+1, pg.resp.StatusCode)
	}
}

// TestSignInRateLimitPerIPv6Slash64: an IPv6 client's addresses share their /64's budget, as one
// subscriber or host may send from any of them; another /64, and each IPv4 address, has its own.
func TestSignInRateLimitPerIPv6Slash64(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.cfg.SignInPerMinute = 3
	h.cfg.TrustedClientIP = func(r *http.Request) string { return r.Header.Get("X-Test-Client") }
	h.restart(testKeys(1))
	b := h.browser()
	login := func(ip string) int {
		t.Helper()
		return b.do(http.MethodGet, auth.LoginPath, nil, map[string]string{"X-Test-Client": ip}).resp.StatusCode
	}
	for _, ip := range []string{"2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff:ffff:ffff:fffe"} {
		if got := login(ip); got != http.StatusFound {
			t.Fatalf("login from %s within the /64's budget = %d, want 302", ip, got)
		}
	}
	for _, ip := range []string{"2001:db8:1:2:abcd::9", "2001:db8:1:2::7%eth0", "2001:DB8:1:2::1"} {
		if got := login(ip); got != http.StatusTooManyRequests {
			t.Errorf("login from %s, a fresh address of a /64 over budget = %d, want 429", ip, got)
		}
	}
	for _, ip := range []string{"2001:db8:1:3::1", "192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"} {
		if got := login(ip); got != http.StatusFound {
			t.Errorf("login from %s (another /64, or an IPv4 address) = %d, want 302", ip, got)
		}
	}
	// An IPv4 address is the same client written as an IPv4-mapped IPv6 address.
	login("192.0.2.9")
	login("192.0.2.9")
	login("::ffff:192.0.2.9")
	if got := login("192.0.2.9"); got != http.StatusTooManyRequests {
		t.Errorf("fourth login from 192.0.2.9, one written IPv4-mapped = %d, want 429", got)
	}
}
