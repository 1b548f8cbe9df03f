package handlers_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestRefusedSignInWhileSignedInNamesWhoIs: a sign-in refused (here a callback with a state this
// browser never began) leaves the session as it was, and the page says who is still signed in, as
// the top bar does: the name, or the e-mail without one; a user the provider gave neither (the
// "service" persona) is not named at all ("signed in as ." was a review helper's finding).
func TestRefusedSignInWhileSignedInNamesWhoIs(t *testing.T) {
	e := newEnv(t, envOptions{})
	for _, tt := range []struct{ persona, want string }{
		{"admin", "You are still signed in as Ada Admin. To sign in as someone else, sign in again."},
		{"service", "You are still signed in. To sign in as someone else, sign in again."},
	} {
		c := e.signIn(t, tt.persona)
		p := get(t, c, "/auth/callback?state=forged&code=x")
		wantStatus(t, p, http.StatusBadRequest)
		if text := strings.Join(strings.Fields(p.Text()), " "); !strings.Contains(text, tt.want) || strings.Contains(text, "not signed in") {
			t.Errorf("%s: the refused sign-in's page says %q, want %q", tt.persona, text, tt.want)
		}
	}
}
