package handlers_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestSupportNamed: with SMTPDESK_SUPPORT set, the pages that send a user to someone (the
// no-access page, a refusal, any error page) name whom, escaped as text; without it, none does.
func TestSupportNamed(t *testing.T) {
	const support = `the mail team, <#mail-ops> on Slack`
	e := newEnv(t, envOptions{Support: support})
	nobody := e.signIn(t, "nobody")
	admin := e.signIn(t, "admin")
	for _, tc := range []struct {
		who    string
		path   string
		status int
	}{
		{"nobody", "/", http.StatusForbidden},              // the no-access page
		{"nobody", "/d/example.com", http.StatusForbidden}, // a refusal
		{"admin", "/no/such/page", http.StatusNotFound},    // an error page
	} {
		cl := nobody
		if tc.who == "admin" {
			cl = admin
		}
		p := get(t, cl, tc.path)
		wantStatus(t, p, tc.status)
		if got := strings.Join(strings.Fields(p.TestID("support").Text()), " "); got != "Who to ask: "+support {
			t.Errorf("%s %s: support line %q, want it to name %q", tc.who, tc.path, got, support)
		}
		if !strings.Contains(string(p.Body), "&lt;#mail-ops&gt;") {
			t.Errorf("%s %s: the support text is not escaped", tc.who, tc.path)
		}
	}

	plain := newEnv(t, envOptions{})
	p := get(t, plain.signIn(t, "nobody"), "/")
	wantStatus(t, p, http.StatusForbidden)
	if n := p.TestID("support").Length(); n != 0 {
		t.Errorf("without SMTPDESK_SUPPORT the no-access page has %d support lines, want none", n)
	}
}
