package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
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
