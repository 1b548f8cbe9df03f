package testflow

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/smtpdesk/smtpdesk/app"
	"github.com/smtpdesk/smtpdesk/auth"
)

// startDemo starts the demo (app, sandbox and demo provider) on a free loopback port.
func startDemo(t *testing.T) *app.Demo {
	t.Helper()
	d, err := app.StartDemo(context.Background(), app.DemoOptions{Addr: "127.0.0.1:0", DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

// TestSignInThroughTheDemoProvider: SignIn presses the persona's button on the real provider's
// page and follows the flow back to the app: it lands on the app's page (or next), with the
// session cookie in the jar, the redirects in order, and a following request is signed in.
func TestSignInThroughTheDemoProvider(t *testing.T) {
	d := startDemo(t)
	base, err := url.Parse(d.URL)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		next     string
		wantPath string
	}{
		{"", "/"},
		{"/d/acme.example", "/d/acme.example"},
	} {
		t.Run("next="+tc.next, func(t *testing.T) {
			c, err := New(d.URL)
			if err != nil {
				t.Fatal(err)
			}
			p, err := c.SignInNext(context.Background(), "admin", tc.next)
			if err != nil {
				t.Fatal(err)
			}
			if p.Status != http.StatusOK || p.URL.Host != base.Host || p.URL.Path != tc.wantPath {
				t.Errorf("landed on %d %s, want 200 %s%s", p.Status, p.URL, base.Host, tc.wantPath)
			}
			var session bool
			for _, ck := range c.Cookies() {
				session = session || ck.Name == auth.CookieName || ck.Name == auth.InsecureCookieName
			}
			if !session {
				t.Errorf("no session cookie in the jar after sign-in: %v", c.Cookies())
			}
			if n := len(p.Redirects); n < 2 || p.Redirects[n-1].Path != tc.wantPath || p.Redirects[0].Host != base.Host {
				t.Errorf("redirects %v: want the app's login first and %s last", p.Redirects, tc.wantPath)
			}
			again, err := c.Get(context.Background(), "/d/acme.example/new")
			if err != nil {
				t.Fatal(err)
			}
			if again.Status != http.StatusOK || len(again.Redirects) != 0 || again.CSRF() == "" {
				t.Errorf("after sign-in, GET /d/acme.example/new: %d at %s, redirects %v, csrf %q", again.Status, again.URL, again.Redirects, again.CSRF())
			}
		})
	}
}

// TestSignInUnknownPersona: a persona the provider does not offer is ErrNoPersona, not a page.
func TestSignInUnknownPersona(t *testing.T) {
	d := startDemo(t)
	c, err := New(d.URL)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := c.SignIn(context.Background(), "mallory"); !errors.Is(err, ErrNoPersona) {
		t.Errorf("SignIn(mallory) = %v, %v; want ErrNoPersona", p, err)
	}
}

// TestSubmitSendsTheCSRFToken: Submit posts the form page's CSRF token, which the app accepts,
// and fails, without posting, for a page that has no _csrf input.
func TestSubmitSendsTheCSRFToken(t *testing.T) {
	d := startDemo(t)
	c, err := New(d.URL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.SignIn(context.Background(), "admin"); err != nil {
		t.Fatal(err)
	}
	p, err := c.Submit(context.Background(), "/d/acme.example/new", "/d/acme.example/new",
		url.Values{"logins": {"reviewtest"}})
	if err != nil {
		t.Fatal(err)
	}
	if p.Status != http.StatusOK || !strings.Contains(p.Text(), "reviewtest@acme.example") {
		t.Errorf("create through Submit: %d at %s: %s", p.Status, p.URL, p.Text())
	}
	if _, err := c.Submit(context.Background(), "/healthz", "/d/acme.example/new", url.Values{}); err == nil {
		t.Error("Submit from a page without a _csrf input returned no error")
	}
}

// TestSignInFailsWhenNoSessionResults checks that a flow ending without a new session is an
// error, with the page it ended on: the provider's Cancel lands on the app's 403 page with no
// session, and a second sign-in refused there keeps the first session, which is not new.
func TestSignInFailsWhenNoSessionResults(t *testing.T) {
	d := startDemo(t)
	c, err := New(d.URL)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	p, err := c.SignIn(ctx, "cancel")
	if !errors.Is(err, ErrNoSession) || p == nil || p.Status != http.StatusForbidden {
		status := 0
		if p != nil {
			status = p.Status
		}
		t.Fatalf("SignIn(cancel) = status %d, %v; want ErrNoSession with the 403 page", status, err)
	}
	if _, err := c.SignIn(ctx, "admin"); err != nil {
		t.Fatalf("SignIn(admin) = %v", err)
	}
	if _, err := c.SignIn(ctx, "cancel"); !errors.Is(err, ErrNoSession) {
		t.Errorf("SignIn(cancel) with a session = %v, want ErrNoSession", err)
	}
}

// TestSessionCookieNamesAreAuths keeps testflow's copies of the session cookie names equal to
// auth's, which it cannot import.
func TestSessionCookieNamesAreAuths(t *testing.T) {
	if sessionCookie != auth.CookieName || insecureSessionCookie != auth.InsecureCookieName {
		t.Errorf("testflow's session cookies %q and %q, auth's %q and %q", sessionCookie, insecureSessionCookie, auth.CookieName, auth.InsecureCookieName)
	}
}
