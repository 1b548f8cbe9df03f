package handlers_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/smtpdesk/smtpdesk/handlers"
	"github.com/smtpdesk/smtpdesk/store"
)

// TestA404ThatIsNotMailgunsSaysNothingChanged: a delete or a reset answered 404 without
// Mailgun's "Credentials not found" (a proxy's page, an address Mailgun does not serve) says
// nothing about the login, which is still there. The delete read "bob@acme.example was already
// gone" and the reset "no longer exists"; both now say that nothing was changed, on the form.
func TestA404ThatIsNotMailgunsSaysNothingChanged(t *testing.T) {
	for _, tc := range []struct {
		name, ctype, body string
	}{
		{"a proxy's page", "text/html", "<html><body><h1>404 Not Found</h1></body></html>"},
		{"another JSON message", "application/json", `{"message":"Not Found"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envOptions{
				Settings: handlers.Settings{ActionsPerMinute: 1000},
				Upstream: func(next http.Handler) http.Handler {
					return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						if r.Method == http.MethodDelete || r.Method == http.MethodPut {
							w.Header().Set("Content-Type", tc.ctype)
							w.WriteHeader(http.StatusNotFound)
							_, _ = w.Write([]byte(tc.body))
							return
						}
						next.ServeHTTP(w, r)
					})
				},
			})
			c := e.signIn(t, "owner")
			const login = "bob@acme.example"

			del := "/d/acme.example/logins/" + login + "/delete"
			p := submit(t, c, del, del, nil)
			wantStatus(t, p, http.StatusNotFound)
			if text := p.Text(); strings.Contains(text, "already gone") || !strings.Contains(text, "Nothing was changed") {
				t.Errorf("delete answered 404 by another than Mailgun: page %.600s; want 'Nothing was changed', not 'already gone'", text)
			}

			reset := "/d/acme.example/logins/" + login + "/reset"
			p = submit(t, c, reset, reset, map[string]string{"mode": "generate"})
			wantStatus(t, p, http.StatusNotFound)
			if text := p.Text(); strings.Contains(text, "no longer exists") || !strings.Contains(text, "Nothing was changed") {
				t.Errorf("reset answered 404 by another than Mailgun: page %.600s; want 'Nothing was changed', not 'no longer exists'", text)
			}

			if !slices.Contains(e.SB.Logins("acme.example"), login) {
				t.Fatalf("%s is gone from the sandbox, which never saw the calls", login)
			}
			for _, a := range e.auditEntries(t, store.AuditFilter{Domain: "acme.example"}) {
				if strings.HasPrefix(a.Action, "credential.") && (a.Outcome != "failed" || a.UpstreamStatus != http.StatusNotFound) {
					t.Errorf("audit %s = %s (%d), want failed (404)", a.Action, a.Outcome, a.UpstreamStatus)
				}
			}
		})
	}
}
