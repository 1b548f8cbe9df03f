package security_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestSecurity24DeleteRateLimited: deleting one login and deleting every login are mutating
// actions too. Once a user has spent the minute's budget on deletes, either is refused with 429,
// a Retry-After header and the wait in the page, and no DELETE reaches Mailgun.
func TestSecurity24DeleteRateLimited(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, path, confirm string }{
		{"delete one", "/d/example.com/logins/user042@example.com/delete", ""},
		{"delete all", "/d/example.com/delete-all", "example.com"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, options{ActionsPerMinute: 2})
			admin := e.signIn("admin")
			tok := csrf(t, admin)
			same := http.Header{"Sec-Fetch-Site": {"same-origin"}}
			for _, login := range []string{"user040@example.com", "user041@example.com"} {
				resp, _ := raw(t, admin, http.MethodPost, "/d/example.com/logins/"+login+"/delete", url.Values{"_csrf": {tok}}, same)
				if resp.StatusCode != http.StatusSeeOther {
					t.Fatalf("delete of %s within the budget = %d, want 303", login, resp.StatusCode)
				}
			}
			if n := deletes(e); n != 2 {
				t.Fatalf("the two deletes within the budget made %d DELETE calls, want 2", n)
			}

			e.Sandbox.ResetCalls()
			form := url.Values{"_csrf": {tok}}
			if tc.confirm != "" {
				form.Set("confirm", tc.confirm)
			}
			resp, body := raw(t, admin, http.MethodPost, tc.path, form, same)
			if resp.StatusCode != http.StatusTooManyRequests {
				t.Errorf("%s over the budget = %d, want 429", tc.name, resp.StatusCode)
			}
			if ra := resp.Header.Get("Retry-After"); ra == "" || ra == "0" {
				t.Errorf("Retry-After = %q, want seconds", ra)
			}
			if !strings.Contains(body, "seconds") {
				t.Error("the 429 page does not say how long to wait")
			}
			if n := deletes(e); n != 0 {
				t.Errorf("the refused %s sent %d DELETE calls to Mailgun", tc.name, n)
			}
		})
	}
}

// deletes counts the DELETE calls the sandbox has seen since its last ResetCalls.
func deletes(e *env) int {
	n := 0
	for _, c := range e.Sandbox.Calls() {
		if c.Method == http.MethodDelete {
			n++
		}
	}
	return n
}
