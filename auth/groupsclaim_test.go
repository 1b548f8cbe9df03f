package auth_test

import (
	"strings"
	"testing"

	"github.com/smtpdesk/smtpdesk/auth"
)

// TestUnreadableGroupsClaim: a groups claim of a shape SMTP Desk cannot read (objects, numbers)
// gives the user no groups, as no claim would; but the sign-in's audit entry says the claim was
// there and why it was not read, so that the administrator does not go looking for a claim the
// provider does send. A string is read as one group.
func TestUnreadableGroupsClaim(t *testing.T) {
	for _, tt := range []struct {
		name  string
		claim any
		want  string
	}{
		{"objects", []any{map[string]any{"name": "security-reviewers"}}, `0 groups; the "roles" claim was a list holding an object, not a string or a list of strings`},
		{"mixed", []any{"security-reviewers", 7}, `0 groups; the "roles" claim was a list holding a number`},
		{"number", 7, `0 groups; the "roles" claim was a number`},
		{"string", "security-reviewers", "1 group"},
		{"absent", nil, "0 groups"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, harnessOpts{})
			h.cfg.GroupsClaim = "roles" // the provider's userinfo does not have it
			h.restart(h.cfg.SessionKeys)
			h.idp.SetTamper(func(c, _ map[string]any) {
				if tt.claim != nil {
					c["roles"] = tt.claim
				}
			})
			h.browser().signIn("reviewer")
			if got := h.events.last(auth.ActionSignIn).Detail; !strings.HasPrefix(got, tt.want) || (tt.claim == nil || tt.name == "string") && got != tt.want {
				t.Errorf("sign-in detail = %q, want %q", got, tt.want)
			}
		})
	}
}
