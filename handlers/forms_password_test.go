package handlers_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/smtpdesk/smtpdesk/handlers"
	"github.com/smtpdesk/smtpdesk/mailgun/sandbox"
)

// TestTypedPasswordWithAnInvisibleCharacter: a typed password holding an invisible formatting
// character a paste brought along (a zero-width space, a byte-order mark, a soft hyphen) was set
// with it, and the mail app, where nobody types it, was refused ever after. The form is sent
// back naming the character (never the password), and Mailgun hears nothing.
func TestTypedPasswordWithAnInvisibleCharacter(t *testing.T) {
	e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000}})
	c := e.signIn(t, "operator")
	for _, tc := range []struct{ pw, code string }{
		{"Fine-Pass\u200b-1", "U+200B"},
		{"\ufeffFine-Pass-2", "U+FEFF"},
		{"Fine-Pa\u00adss-3", "U+00AD"},
	} {
		e.SB.ResetCalls()
		p := submit(t, c, resetUser, resetUser, map[string]string{"mode": "manual", "password": tc.pw, "password2": tc.pw})
		wantStatus(t, p, http.StatusBadRequest)
		if got := p.TestID("field-error-password").Text(); !strings.Contains(got, "invisible character ("+tc.code+")") {
			t.Errorf("password with %s: field error %q, want it named", tc.code, got)
		}
		if strings.Contains(string(p.Body), strings.Trim(tc.pw, "\ufeff")) {
			t.Errorf("password with %s: the page shows the password", tc.code)
		}
		if n := len(e.callsTo(sandbox.RouteUpdate, "")); n != 0 {
			t.Errorf("password with %s: %d reset calls reached Mailgun", tc.code, n)
		}
	}
	// A password of letters, symbols and spaces from anywhere is set as typed.
	e.SB.ResetCalls()
	pw := "Fine Pass ü-€-4"
	wantStatus(t, submit(t, c, resetUser, resetUser, map[string]string{"mode": "manual", "password": pw, "password2": pw}), http.StatusOK)
	if n := len(e.callsTo(sandbox.RouteUpdate, "")); n != 1 {
		t.Errorf("a plain typed password: %d reset calls reached Mailgun, want 1", n)
	}
}
