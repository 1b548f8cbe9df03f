package handlers_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/smtpdesk/smtpdesk/handlers"
)

// TestFormFieldsComeFromTheBody: a change reads its form from the POST's body only. A field put
// in the address (a password, the logins to create, the domain typed to confirm delete all) is
// not acted on, as a browser never sends the forms that way and an address is kept in
// histories, logs and Referer headers.
func TestFormFieldsComeFromTheBody(t *testing.T) {
	e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000}})
	c := e.signIn(t, "admin")
	const pw = "query-secret-1"
	inQuery := url.Values{"mode": {"manual"}, "password": {pw}, "password2": {pw}}
	tests := []struct {
		name     string
		formPage string
		action   string
		body     map[string]string
		route    string // the sandbox route that must not be called
		errID    string // the form's error that says what the body lacks
	}{
		{"reset: the password", resetUser, resetUser + "?" + inQuery.Encode(),
			map[string]string{"mode": "manual"}, "update", "field-error-password"},
		{"create: the logins and the password", "/d/acme.example/new",
			"/d/acme.example/new?logins=from-query&" + inQuery.Encode(),
			map[string]string{"mode": "manual"}, "create", "field-error-logins"},
		{"delete all: the typed domain", "/d/acme.example/delete-all",
			"/d/acme.example/delete-all?confirm=acme.example",
			map[string]string{}, "delete_all", "field-error-confirm"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.SB.ResetCalls()
			p := submit(t, c, tt.formPage, tt.action, tt.body)
			wantStatus(t, p, http.StatusBadRequest)
			if p.TestID(tt.errID).Length() == 0 {
				t.Errorf("no %s on the form: %.600s", tt.errID, p.Text())
			}
			if n := len(e.callsTo(tt.route, "")); n != 0 {
				t.Errorf("%d %s calls, want none", n, tt.route)
			}
		})
	}
	if e.SB.CheckPassword("acme.example", "alice", pw) {
		t.Error("the password in the address was set")
	}
}

// TestPasswordTypedWithGenerate: a page without the script sends the password fields even when
// "Generate" is chosen. The form comes back saying so, and nothing is sent to Mailgun, rather
// than the typed password being dropped for a generated one.
func TestPasswordTypedWithGenerate(t *testing.T) {
	e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000}})
	c := e.signIn(t, "operator")
	const pw = "typed-pass-42"
	typed := map[string]string{"mode": "generate", "password": pw, "password2": pw}
	for _, tt := range []struct{ name, path, route string }{
		{"reset", resetUser, "update"},
		{"create", "/d/acme.example/new", "create"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e.SB.ResetCalls()
			form := map[string]string{"logins": "typed-one"}
			for k, v := range typed {
				form[k] = v
			}
			p := submit(t, c, tt.path, tt.path, form)
			wantStatus(t, p, http.StatusBadRequest)
			if got := p.TestID("field-error-mode").Text(); !strings.Contains(got, `but "Generate" is chosen`) {
				t.Errorf("mode error = %q", got)
			}
			if _, ok := p.Find(`[data-testid=mode-generate][aria-invalid=true][aria-describedby=mode-error]`).Attr("checked"); !ok {
				t.Error("the Generate choice is not checked and described by the error")
			}
			if strings.Contains(string(p.Body), pw) {
				t.Error("the typed password is sent back")
			}
			if n := len(e.callsTo(tt.route, "")); n != 0 {
				t.Errorf("%d %s calls, want none", n, tt.route)
			}
		})
	}
}
