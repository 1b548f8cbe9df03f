package handlers_test

import (
	"net/http"
	"strings"
	"testing"
	"time"
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

// TestFormOfAMissingLogin: the reset and delete forms of a login the domain does not have (an
// old link) answer 404 "Login not found" instead of a form that can only fail. A domain above
// loginCheckLimit logins is not read whole for it: the form shows, and its answer tells.
func TestFormOfAMissingLogin(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.signIn(t, "admin")
	for _, action := range []string{"reset", "delete"} {
		p := get(t, c, "/d/acme.example/logins/nosuch@acme.example/"+action)
		wantStatus(t, p, http.StatusNotFound)
		if !strings.Contains(p.Text(), "Login not found") || !strings.Contains(p.Text(), "acme.example has no login nosuch@acme.example") {
			t.Errorf("%s form of a missing login: %.400s", action, p.Text())
		}
		wantStatus(t, get(t, c, "/d/acme.example/logins/alice@acme.example/"+action), http.StatusOK)
	}
	if err := e.SB.AddDomain("big.example"); err != nil {
		t.Fatal(err)
	}
	if err := e.SB.AddGeneratedLogins("big.example", 1500); err != nil {
		t.Fatal(err)
	}
	e.SB.ResetCalls()
	wantStatus(t, get(t, c, "/d/big.example/logins/nosuch@big.example/reset"), http.StatusOK)
	if n := len(e.callsTo("list", "big.example")); n > 1 {
		t.Errorf("the form of a login in a domain of 1,500 made %d list calls, want at most 1 (the count)", n)
	}
}

// TestFormOfALoginMadeElsewhere: a login made outside this instance after its list was kept
// (Mailgun's own panel, another replica) has a reset form, not "Login not found".
func TestFormOfALoginMadeElsewhere(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.signIn(t, "admin")
	wantStatus(t, get(t, c, resetUser), http.StatusOK) // keeps acme.example's whole list
	if err := e.SB.AddCredential("acme.example", "zed", "zed-password-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, get(t, c, "/d/acme.example/logins/zed@acme.example/reset"), http.StatusOK)
	wantStatus(t, get(t, c, "/d/acme.example/logins/nosuch@acme.example/reset"), http.StatusNotFound)
}
