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
		extra map[string]any // more claims in the ID token
		want  string
	}{
		{"objects", []any{map[string]any{"name": "security-reviewers"}}, nil, `0 groups; the "roles" claim was a list holding an object, not a string or a list of strings`},
		{"mixed", []any{"security-reviewers", 7}, nil, `0 groups; the "roles" claim was a list holding a number`},
		{"number", 7, nil, `0 groups; the "roles" claim was a number`},
		{"boolean", true, nil, `0 groups; the "roles" claim was a boolean`},
		// A claim that is there, of a shape not read, is named as such even when the token
		// also names it a distributed claim.
		{"number and distributed", 7, map[string]any{
			"_claim_names":   map[string]any{"roles": "src1"},
			"_claim_sources": map[string]any{"src1": map[string]any{"endpoint": "https://graph.windows.net/x/users/y/getMemberObjects"}},
		}, `0 groups; the "roles" claim was a number`},
		{"string", "security-reviewers", nil, "1 group"},
		{"absent", nil, nil, "0 groups"},
		// Entra ID's "groups overage": a link to the groups in place of them.
		{"distributed", nil, map[string]any{
			"_claim_names":   map[string]any{"roles": "src1"},
			"_claim_sources": map[string]any{"src1": map[string]any{"endpoint": "https://graph.windows.net/x/users/y/getMemberObjects"}},
		}, `0 groups; the "roles" claim was sent as a distributed claim (a link to the groups, which a provider sends instead of them when the user is in too many groups)`},
		{"another claim distributed", nil, map[string]any{
			"_claim_names":   map[string]any{"groups": "src1"},
			"_claim_sources": map[string]any{"src1": map[string]any{"endpoint": "https://graph.windows.net/x/users/y/getMemberObjects"}},
		}, "0 groups"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, harnessOpts{})
			h.cfg.GroupsClaim = "roles" // the provider's userinfo does not have it
			h.restart(h.cfg.SessionKeys)
			h.idp.SetTamper(func(c, _ map[string]any) {
				if tt.claim != nil {
					c["roles"] = tt.claim
				}
				for k, v := range tt.extra {
					c[k] = v
				}
			})
			h.browser().signIn("reviewer")
			if got := h.events.last(auth.ActionSignIn).Detail; !strings.HasPrefix(got, tt.want) || (tt.claim == nil && tt.extra == nil || tt.name == "string" || tt.name == "another claim distributed") && got != tt.want {
				t.Errorf("sign-in detail = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestGroupsFromUserinfoAfterAnUnreadableClaim: an ID token whose groups claim cannot be read
// sends SMTP Desk to userinfo, and when userinfo has the groups, they are the user's and the
// token's claim is no problem to report.
func TestGroupsFromUserinfoAfterAnUnreadableClaim(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.whoami()
	h.idp.SetTamper(func(c, _ map[string]any) { c["groups"] = 7 })
	b := h.browser()
	b.signIn("admin")
	if got := h.events.last(auth.ActionSignIn).Detail; got != "1 group" {
		t.Errorf("sign-in detail = %q, want \"1 group\"", got)
	}
	if got := b.get("/whoami").body; !strings.HasSuffix(got, `groups=["smtp-admins"] problem=""`) {
		t.Errorf("user = %s, want the groups from userinfo and no problem", got)
	}
}
