package demoidp

import _ "embed"

// DemoPolicy is the access policy that goes with DefaultPersonas: the smtp-admins group is admin,
// team-acme operates acme.example, security-reviewers view example.com and newsletter.example.org,
// and self-service is on.
//
//go:embed demo-policy.yaml
var DemoPolicy []byte

// Persona is one person the demo provider can sign in as.
type Persona struct {
	ID            string // stable id: the "sub" claim is "demo-" + ID; the page's data-testid is "persona-" + ID
	Name          string
	Email         string
	EmailVerified bool
	Groups        []string
	Description   string // one line on the chooser page: what this person may do in SMTP Desk
}

// DefaultPersonas returns the demo personas: an admin, an operator of acme.example, a read-only
// reviewer of two domains, a member of a team who may reset only her own login (self-service)
// and a user without any access.
func DefaultPersonas() []Persona {
	return []Persona{
		{ID: "admin", Name: "Ada Admin", Email: "ada@smtpdesk.example", EmailVerified: true,
			Groups: []string{"smtp-admins"}, Description: "Administrator: every action on every domain."},
		{ID: "operator", Name: "Omar Operator", Email: "omar@acme.example", EmailVerified: true,
			Groups: []string{"team-acme"}, Description: "Operator of acme.example: list, create and reset its SMTP logins."},
		{ID: "reviewer", Name: "Rita Reviewer", Email: "rita@smtpdesk.example", EmailVerified: true,
			Groups: []string{"security-reviewers"}, Description: "Read-only reviewer of example.com and newsletter.example.org."},
		{ID: "self", Name: "Nora Newsletter", Email: "news@newsletter.example.org", EmailVerified: true,
			Groups: []string{"newsletter-team"}, Description: "Newsletter team: views newsletter.example.org and resets the password of news@newsletter.example.org, her own login (self-service)."},
		{ID: "nobody", Name: "Nick Nobody", Email: "nick@smtpdesk.example", EmailVerified: true,
			Groups: []string{}, Description: "Signed in, but the policy grants nothing: sees the no-access page."},
	}
}
