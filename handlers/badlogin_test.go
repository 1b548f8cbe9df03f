package handlers_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestBadLoginInTheAddressReadsPlainly: a login of another domain, or a malformed one, in a
// hand-edited address gets a page in sentences that says where to go, not Go-quoted developer
// text.
func TestBadLoginInTheAddressReadsPlainly(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.signIn(t, "admin")
	for path, want := range map[string]string{
		"/d/acme.example/logins/bob@other.example/reset": "The login bob@other.example is not in acme.example: the logins of acme.example end in @acme.example.",
		"/d/acme.example/logins/a%20b/delete":            `The login "a b" is not valid: it has white space`,
		"/d/bad_domain!/new":                             `The domain "bad_domain!" in the address is not valid: it has '!'`,
	} {
		p := get(t, c, path)
		wantStatus(t, p, http.StatusBadRequest)
		text := strings.Join(strings.Fields(p.Find("main").Text()), " ")
		if !strings.Contains(text, want) || strings.Contains(text, "spec") {
			t.Errorf("%s: page %q, want %q", path, text, want)
		}
	}
	p := get(t, c, "/d/acme.example/logins/bob@other.example/reset")
	if !strings.Contains(p.Text(), "Open acme.example from your domains") {
		t.Errorf("the page does not say where to go: %.400s", p.Text())
	}
}
