package app

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smtpdesk/smtpdesk/config"
	"github.com/smtpdesk/smtpdesk/demoidp"
	"github.com/smtpdesk/smtpdesk/internal/secretscan"
)

// fakeIdP serves only a discovery document (enough for auth's discovery; nothing signs in), and
// holds the answer until released, so a test can look at the app before discovery.
type fakeIdP struct {
	URL     string
	release chan struct{}
}

func startFakeIdP(t *testing.T, endSession func(issuer string) string) *fakeIdP {
	t.Helper()
	f := &fakeIdP{release: make(chan struct{})}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/.well-known/openid-configuration" {
			http.NotFound(w, r)
			return
		}
		select {
		case <-f.release:
		case <-r.Context().Done():
			return
		}
		doc := map[string]any{
			"issuer":                 f.URL,
			"authorization_endpoint": f.URL + "/authorize",
			"token_endpoint":         f.URL + "/token",
			"jwks_uri":               f.URL + "/jwks",
		}
		if es := endSession(f.URL); es != "" {
			doc["end_session_endpoint"] = es
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(doc)
	}))
	t.Cleanup(srv.Close)
	f.URL = srv.URL
	return f
}

// newAppFor wires a real App whose OIDC issuer is issuer (Mailgun is never called).
func newAppFor(t *testing.T, issuer string) *App {
	t.Helper()
	return newAppWith(t, issuer, nil)
}

// newAppWith is newAppFor with edit, when not nil, changing the configuration (and preparing what
// it names) before New.
func newAppWith(t *testing.T, issuer string, edit func(*config.Config)) *App {
	t.Helper()
	dir := t.TempDir()
	policyFile := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(policyFile, demoidp.DemoPolicy, 0o600); err != nil {
		t.Fatal(err)
	}
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	key, err := config.DeriveSessionKey(secret)
	if err != nil {
		t.Fatal(err)
	}
	secretscan.Record("OIDC client secret", "formaction-client-secret")
	cfg := config.Config{
		Listen:  "127.0.0.1:0",
		BaseURL: "http://127.0.0.1:8080",
		Mailgun: config.Mailgun{APIKey: config.Secret("key-formaction-test"), BaseURL: "http://127.0.0.1:1", Region: "us", Timeout: config.DefaultMailgunTimeout},
		OIDC: config.OIDC{
			Issuer: issuer, ClientID: "smtpdesk-formaction", ClientSecret: config.Secret("formaction-client-secret"),
			Scopes: []string{"openid", "email", "profile"}, GroupsClaim: "groups",
		},
		Session:          config.Session{Keys: []config.SessionKey{key}, IdleTimeout: config.DefaultIdleTimeout, MaxAge: config.DefaultMaxAge},
		PolicyFile:       policyFile,
		DatabaseURL:      config.Secret(filepath.Join(dir, "smtpdesk.db")),
		LogLevel:         slog.LevelDebug,
		AgeWarningDays:   365,
		RateLimitActions: 30,
		RateLimitSignIn:  20,
	}
	if edit != nil {
		edit(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}
	var logger *slog.Logger
	if secretscan.Dir() != "" {
		logger = slog.New(slog.NewJSONHandler(secretscan.LogWriter(t, nil), &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	a, err := New(context.Background(), cfg, logger)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	secretscan.KeepDB(t, filepath.Join(dir, "smtpdesk.db"))
	t.Cleanup(func() {
		if err := a.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return a
}

// formAction returns the sources of the CSP's form-action directive on a signed-out page.
func formAction(t *testing.T, a *App) []string {
	t.Helper()
	rec := httptest.NewRecorder()
	a.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	csp := rec.Header().Get("Content-Security-Policy")
	for _, d := range strings.Split(csp, ";") {
		if f := strings.Fields(d); len(f) > 0 && f[0] == "form-action" {
			return f[1:]
		}
	}
	t.Fatalf("no form-action directive in the CSP %q", csp)
	return nil
}

var originSource = regexp.MustCompile(`^https?://[a-z0-9.-]+(:[0-9]+)?$`)

// TestFormActionIncludesEndSessionOrigin is SECURITY.md item 10: sign-out redirects to the
// provider's end_session_endpoint, and browsers apply form-action to that redirect, so the CSP
// must list the endpoint's origin when it is not the issuer's (Azure AD v1: issuer
// sts.windows.net, end_session login.microsoftonline.com), and nothing wider.
func TestFormActionIncludesEndSessionOrigin(t *testing.T) {
	tests := []struct {
		name       string
		endSession func(issuer string) string
		extra      []string // expected after the issuer's origin, once discovered
	}{
		{"another origin", func(string) string { return "https://logout.idp.example/oauth2/logout" }, []string{"https://logout.idp.example"}},
		{"another origin with a port and query", func(string) string { return "https://Logout.IdP.example:8443/oauth2/logout?x=1" }, []string{"https://logout.idp.example:8443"}},
		{"the issuer's origin", func(iss string) string { return iss + "/end_session" }, nil},
		{"none", func(string) string { return "" }, nil},
		{"wildcard host", func(string) string { return "https://*.idp.example/logout" }, nil},
		{"directive separator in the host", func(string) string { return "https://logout.idp.example;script-src/x" }, nil},
		{"not http", func(string) string { return "javascript:alert(1)" }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			idp := startFakeIdP(t, tt.endSession)
			a := newAppFor(t, idp.URL)
			before := []string{"'self'", idp.URL}
			if got := formAction(t, a); !slices.Equal(got, before) {
				t.Errorf("form-action before discovery = %q, want %q", got, before)
			}
			close(idp.release)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := a.Auth().WaitReady(ctx); err != nil {
				t.Fatal(err)
			}
			want := slices.Concat(before, tt.extra)
			got := formAction(t, a)
			if !slices.Equal(got, want) {
				t.Errorf("form-action after discovery = %q, want %q", got, want)
			}
			for _, s := range got {
				if s != "'self'" && !originSource.MatchString(s) {
					t.Errorf("form-action source %q is not a plain origin", s)
				}
			}
		})
	}
}

func TestOrigin(t *testing.T) {
	for raw, want := range map[string]string{
		"https://login.microsoftonline.com/tenant/oauth2/logout": "https://login.microsoftonline.com",
		"https://sts.windows.net/tenant/":                        "https://sts.windows.net",
		"http://127.0.0.1:5556/dex":                              "http://127.0.0.1:5556",
		"https://[2001:db8::1]:8443/x":                           "https://[2001:db8::1]:8443",
		"HTTPS://IdP.Example/x":                                  "https://idp.example",
		"https://idp.example:/x":                                 "https://idp.example",
		"https://*.idp.example/":                                 "",
		"https://a.example,b.example/":                           "",
		"https://a.example'/":                                    "",
		"https://[fe80::1%25eth0]/":                              "",
		"https://idp.example:99999/":                             "",
		"ftp://idp.example/":                                     "",
		"/relative":                                              "",
		"":                                                       "",
	} {
		if got := origin(raw); got != want {
			t.Errorf("origin(%q) = %q, want %q", raw, got, want)
		}
	}
}
