package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/smtpdesk/smtpdesk/internal/testlog"
)

// TestIssuerWithTrailingSlash: some providers' issuer ends in "/" (Auth0's, Azure AD v1's), and
// go-oidc requires the configured issuer to be exactly the one the discovery document names.
// The configuration used to strip the slash, so discovery failed for good and sign-in answered
// 503 whatever was set; now sign-in sends the browser to the provider.
func TestIssuerWithTrailingSlash(t *testing.T) {
	var idp *httptest.Server
	idp = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/.well-known/openid-configuration" {
			http.NotFound(w, r)
			return
		}
		iss := idp.URL + "/"
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer": iss, "authorization_endpoint": iss + "authorize", "token_endpoint": iss + "oauth/token",
			"jwks_uri": iss + ".well-known/jwks.json", "id_token_signing_alg_values_supported": []string{"RS256"},
		})
	}))
	defer idp.Close()

	addr := freeAddr(t)
	env := map[string]string{
		"SMTPDESK_LISTEN":    addr,
		"SMTPDESK_BASE_URL":  "http://" + addr,
		"MAILGUN_API_KEY":    "key-test",
		"MAILGUN_BASE_URL":   "http://127.0.0.1:1",
		"OIDC_ISSUER":        idp.URL + "/",
		"OIDC_CLIENT_ID":     "smtp-desk",
		"OIDC_CLIENT_SECRET": "s3cret",
		"SESSION_KEYS":       "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
		"POLICY_FILE":        "../../demoidp/demo-policy.yaml",
		"DATABASE_URL":       filepath.Join(t.TempDir(), "smtpdesk.db"),
	}
	ctx, cancel := context.WithCancel(context.Background())
	var out testlog.Buffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, nil, envOf(env), &out) }()
	defer func() { cancel(); <-done }()

	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	var status int
	var location string
	// The deadline only ends a wait for start-up and discovery, which a loaded machine may stretch
	// (30s, as the other start-up waits of this package).
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		resp, err := client.Get("http://" + addr + "/auth/login")
		if err != nil {
			continue // not listening yet
		}
		resp.Body.Close()
		status, location = resp.StatusCode, resp.Header.Get("Location")
		if status == http.StatusFound {
			break
		}
	}
	if status != http.StatusFound || !strings.HasPrefix(location, idp.URL+"/authorize?") {
		t.Fatalf("/auth/login: %d to %q, want a redirect to the provider's authorize endpoint\n%s", status, location, out.String())
	}
}

// TestDemoRefusesMalformedSettings: the demo supplies the settings that are missing, but one
// that is set and malformed is refused by name, as outside the demo, instead of being replaced
// by its default without a word.
func TestDemoRefusesMalformedSettings(t *testing.T) {
	var out testlog.Buffer
	// Refused at once; a demo that starts instead runs until this context ends.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := run(ctx, []string{"-demo", "-data", t.TempDir()},
		envOf(map[string]string{"RATE_LIMIT_ACTIONS": "lots", "HTTP_GZIP": "nope",
			// Malformed as Validate sees them: JSON logs instead, no profiler served.
			"LOG_FORMAT": "xml", "METRICS_PPROF": "true"}), &out)
	if err == nil {
		t.Fatalf("the demo started with malformed settings:\n%s", out.String())
	}
	for _, name := range []string{"RATE_LIMIT_ACTIONS", "HTTP_GZIP", "LOG_FORMAT", "METRICS_PPROF"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error %q does not name %s", err, name)
		}
	}
}

// TestDemoStartsDespiteSettingsItDoesNotUse: the demo brings its own sign-in, database, policy
// and Mailgun, and names the settings it does not use in its banner (README, Configuration), so
// one of those that is malformed, or names a file this machine lacks (a production environment
// exported in the shell), does not stop it; it refused to start, naming them, though it would
// not have read them. A setting it uses is still refused: MAILGUN_BASE_URL with a key file it
// cannot read, since with a key the demo would call that Mailgun.
func TestDemoStartsDespiteSettingsItDoesNotUse(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "absent")
	unused := map[string]string{
		"POLICY_FILE":       missing,
		"SESSION_KEYS_FILE": missing,
		"SMTPDESK_BASE_URL": "https://smtp-desk.corp.example/desk",
		"DATABASE_URL":      "Postgres://db/smtpdesk",
		"AGE_WARNING_DAYS":  "0",
	}
	_, out, stop := startDemo(t, envOf(unused), "-data", t.TempDir())
	stop()
	m := regexp.MustCompile(`Not used by the demo[^\n]*\n\s+(.*)\n`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("the banner does not name the settings the demo ignores:\n%s", out)
	}
	for name := range unused {
		if !strings.Contains(m[1], name) {
			t.Errorf("the banner's settings not used (%q) lack %s", m[1], name)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var refused testlog.Buffer
	err := run(ctx, []string{"-demo", "-data", t.TempDir()},
		envOf(map[string]string{"MAILGUN_BASE_URL": "http://127.0.0.1:9", "MAILGUN_API_KEY_FILE": missing}), &refused)
	if err == nil || !strings.Contains(err.Error(), "MAILGUN_API_KEY_FILE") {
		t.Errorf("the demo with MAILGUN_BASE_URL and an unreadable MAILGUN_API_KEY_FILE: %v, want it refused by name\n%s", err, refused.String())
	}
}
