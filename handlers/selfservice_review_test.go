package handlers_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/smtpdesk/smtpdesk/mailgun/sandbox"
	"github.com/smtpdesk/smtpdesk/store"
)

// TestSelfServiceRefusalOffersOnlyAResetThatExists (a review helper's): a team member whose own login the domain
// does not have (never made, or deleted) opens a colleague's reset link. The home page and the
// domain page both say "sam@example.com is not one of them: ask an operator to create it"; the
// refusal must not promise "You can reset the password of your own login, sam@example.com" with
// a "Reset your password" button that leads to "Login not found … the link is old".
func TestSelfServiceRefusalOffersOnlyAResetThatExists(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.signIn(t, "selfie") // a viewer of example.com as sam@example.com; the seed has no sam@
	p := get(t, c, "/d/example.com/logins/user001@example.com/reset")
	wantStatus(t, p, http.StatusForbidden)
	msg := strings.Join(strings.Fields(p.TestID("error-message").Text()), " ")
	next := p.TestID("next-link").AttrOr("href", "")
	if next != "" && next != "/d/example.com" {
		if q := get(t, c, next); q.Status != http.StatusOK {
			t.Errorf("the refusal's way on %q (%q) leads to %d %q: %s", p.TestID("next-link").Text(), next, q.Status,
				strings.TrimSpace(q.TestID("error-heading").Text()), strings.Join(strings.Fields(q.TestID("error-message").Text()), " "))
		}
	}
	if !strings.Contains(msg, "sam@example.com is not one of its logins: ask an operator of this domain to create it") {
		t.Errorf("the refusal does not say that example.com has no login sam@example.com: %q", msg)
	}
}

// TestSelfResetAuditSaysSelfService (a review helper's): the audit entry of a self-service reset says that it was
// one (the user's own login, allowed by self_service, not by a role), so that a reviewer who
// sees a viewer of the domain resetting a password can tell a team member's own reset from a
// role the policy should not have given.
func TestSelfResetAuditSaysSelfService(t *testing.T) {
	e := newEnv(t, envOptions{})
	if err := e.SB.AddCredential("example.com", "sam", "Sam-Old-Pass-1", sandbox.SeedBase()); err != nil {
		t.Fatal(err)
	}
	c := e.signIn(t, "selfie")
	const own = "/d/example.com/logins/sam@example.com/reset"
	wantStatus(t, submit(t, c, own, own, map[string]string{"mode": "generate"}), http.StatusOK)
	op := e.signIn(t, "operator")
	const other = "/d/acme.example/logins/alice@acme.example/reset"
	wantStatus(t, submit(t, op, other, other, map[string]string{"mode": "generate"}), http.StatusOK)

	self := e.auditEntries(t, store.AuditFilter{Action: "credential.reset", Domain: "example.com", Limit: 1})
	role := e.auditEntries(t, store.AuditFilter{Action: "credential.reset", Domain: "acme.example", Limit: 1})
	if len(self) != 1 || len(role) != 1 {
		t.Fatalf("reset entries: self %+v, role %+v", self, role)
	}
	if self[0].Detail == role[0].Detail || !strings.Contains(strings.ToLower(self[0].Detail), "self-service") {
		t.Errorf("a self-service reset is recorded as %q, an operator's as %q: the trail cannot tell them apart", self[0].Detail, role[0].Detail)
	}
}

// TestUnverifiedEmailIsSaid (a review helper's): e-mail rules and self-service match only a verified address
// (README, Policy). A team member whose provider does not mark hers verified is told so: on the
// no-access page, where her e-mail rule matched nothing, and where her own login's reset is
// refused. Before, the page asked to "add your email address" to a policy that already had it,
// and the refusal read as if self-service did not exist.
func TestUnverifiedEmailIsSaid(t *testing.T) {
	t.Run("no access", func(t *testing.T) {
		e := newEnv(t, envOptions{Policy: `
self_service: true
rules:
  - domain: example.com
    role: viewer
    emails: [sam@example.com]
`})
		e.IdP.SetTamper(func(claims, _ map[string]any) {
			claims["email_verified"] = false
			claims["groups"] = []string{}
		})
		c := e.signIn(t, "selfie")
		p := get(t, c, "/")
		wantStatus(t, p, http.StatusForbidden)
		if text := strings.ToLower(strings.Join(strings.Fields(p.Find("main").Text()), " ")); !strings.Contains(text, "verified") {
			t.Errorf("the no-access page of a user whose e-mail rule needs a verified address does not say hers is not verified: %.600s", text)
		}
	})
	t.Run("own reset", func(t *testing.T) {
		e := newEnv(t, envOptions{})
		if err := e.SB.AddCredential("example.com", "sam", "Sam-Old-Pass-1", sandbox.SeedBase()); err != nil {
			t.Fatal(err)
		}
		e.IdP.SetTamper(func(claims, _ map[string]any) { claims["email_verified"] = false })
		c := e.signIn(t, "selfie") // still a viewer of example.com by group
		p := get(t, c, "/d/example.com/logins/sam@example.com/reset")
		wantStatus(t, p, http.StatusForbidden)
		if text := strings.ToLower(strings.Join(strings.Fields(p.Find("main").Text()), " ")); !strings.Contains(text, "verified") {
			t.Errorf("the refusal of her own login's reset does not say that her e-mail is not verified: %.400s", text)
		}
	})
}

// TestSelfResetKelvinSign (a review helper's): a verified e-mail spelt with U+212A KELVIN SIGN is not
// kate@example.com (policy.FoldEmail), so its self-service reset must not change kate's password.
func TestSelfResetKelvinSign(t *testing.T) {
	e := newEnv(t, envOptions{})
	if err := e.SB.AddCredential("example.com", "kate", "Kate-Old-Pass-1", sandbox.SeedBase()); err != nil {
		t.Fatal(err)
	}
	e.IdP.SetTamper(func(claims, _ map[string]any) { claims["email"] = "\u212Aate@example.com" })
	c := e.signIn(t, "selfie")
	own := "/d/example.com/logins/" + url.PathEscape("\u212Aate@example.com") + "/reset"
	form := get(t, c, own)
	t.Logf("form: %d %q", form.Status, strings.TrimSpace(form.TestID("error-heading").Text()))
	p := submit(t, c, own, own, map[string]string{"mode": "generate"})
	t.Logf("reset: %d %v", p.Status, secretsOn(p))
	if e.SB.CheckPassword("example.com", "kate", "Kate-Old-Pass-1") == false {
		t.Errorf("kate@example.com's password was changed by a user whose e-mail is \\u212Aate@example.com")
	}
}

// TestUnverifiedRefusalKeepsTheASCIIRule (a review helper's): deny()'s new branch for an unverified e-mail
// tells the team member "Self-service would let you reset your own login, X, but your sign-in
// provider does not mark your e-mail address as verified" whenever X is her e-mail (SameEmail),
// without CanSelfReset's other conditions: for a login with a letter outside ASCII, which
// CanSelfReset now never allows, the page promises a reset that verifying the address would not
// give.
func TestUnverifiedRefusalKeepsTheASCIIRule(t *testing.T) {
	e := newEnv(t, envOptions{})
	const kelvin = "\u212Aate@example.com"
	e.IdP.SetTamper(func(claims, _ map[string]any) {
		claims["email"] = kelvin
		claims["email_verified"] = false
	})
	c := e.signIn(t, "selfie") // a viewer of example.com by group
	p := get(t, c, "/d/example.com/logins/"+url.PathEscape(kelvin)+"/reset")
	wantStatus(t, p, http.StatusForbidden)
	msg := strings.Join(strings.Fields(p.TestID("error-message").Text()), " ")
	if strings.Contains(msg, "Self-service would let you reset your own login") {
		t.Errorf("the refusal promises self-service for a non-ASCII login, which CanSelfReset never allows even when verified: %q", msg)
	}
}

// TestUnverifiedRefusalOfALoginThatDoesNotExist (a review helper's): the same branch for sam@example.com,
// which example.com does not have (the seed has no sam@): the verified case says "sam@example.com
// is not one of its logins: ask an operator of this domain to create it"; the unverified case
// promises that self-service would reset it.
func TestUnverifiedRefusalOfALoginThatDoesNotExist(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.IdP.SetTamper(func(claims, _ map[string]any) { claims["email_verified"] = false })
	c := e.signIn(t, "selfie")
	p := get(t, c, "/d/example.com/logins/sam@example.com/reset")
	wantStatus(t, p, http.StatusForbidden)
	msg := strings.Join(strings.Fields(p.TestID("error-message").Text()), " ")
	if strings.Contains(msg, "Self-service would let you reset your own login") || !strings.Contains(msg, "sam@example.com is not one of its logins") {
		t.Errorf("the refusal promises a self-service reset of a login the domain does not have: %q", msg)
	}
}
