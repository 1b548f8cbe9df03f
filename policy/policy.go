// Package policy holds SMTP Desk's access policy: which identity-provider groups and e-mail
// addresses hold which role on which Mailgun domain. The policy denies by default; it is read from
// a YAML or JSON file, validated with line-precise errors, and swapped atomically on reload.
package policy

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"sync/atomic"
)

// Role is what a subject may do on one domain. Higher roles include the rights of lower ones.
type Role int

// The roles, from no access to every right on every domain.
const (
	RoleNone     Role = iota // no access
	RoleViewer               // list and review
	RoleOperator             // + create and reset
	RoleOwner                // + delete one and delete all
	RoleAdmin                // every right on every domain
)

// String returns the role's name as the policy file spells it ("none" for RoleNone).
func (r Role) String() string {
	switch r {
	case RoleViewer:
		return "viewer"
	case RoleOperator:
		return "operator"
	case RoleOwner:
		return "owner"
	case RoleAdmin:
		return "admin"
	default:
		return "none"
	}
}

// Action is something a user asks to do on a domain.
type Action int

// The actions the handlers authorize.
const (
	ActView      Action = iota // list credentials, read the domain's audit trail
	ActCreate                  // create credentials
	ActReset                   // reset a password
	ActDelete                  // delete one credential
	ActDeleteAll               // delete every credential of a domain
	ActSystem                  // create system credentials
)

// String returns the action's name, as recorded in access.denied audit events.
func (a Action) String() string {
	switch a {
	case ActView:
		return "view"
	case ActCreate:
		return "create"
	case ActReset:
		return "reset"
	case ActDelete:
		return "delete"
	case ActDeleteAll:
		return "delete_all"
	case ActSystem:
		return "system"
	default:
		return fmt.Sprintf("action(%d)", int(a))
	}
}

// MinRole returns the lowest role allowed to perform the action. Unknown actions need RoleAdmin.
func (a Action) MinRole() Role {
	switch a {
	case ActView:
		return RoleViewer
	case ActCreate, ActReset:
		return RoleOperator
	case ActDelete, ActDeleteAll, ActSystem:
		return RoleOwner
	default:
		return RoleAdmin
	}
}

// Subject is the signed-in person as the policy sees them.
type Subject struct {
	Email         string
	EmailVerified bool // e-mail rules and self-service apply only to verified addresses
	Groups        []string
}

// matcher matches subjects by group (exact) or verified e-mail (case-insensitive).
type matcher struct {
	groups map[string]bool
	emails map[string]bool // lower-cased
}

func (m matcher) matches(s Subject) bool {
	for _, g := range s.Groups {
		if m.groups[g] {
			return true
		}
	}
	if s.EmailVerified && s.Email != "" && m.emails[FoldEmail(s.Email)] {
		return true
	}
	return false
}

type rule struct {
	domain string // lower-cased, or "*"
	role   Role
	who    matcher
	line   int // in the policy file, for Warnings
}

// Policy is one parsed, validated policy file. It is immutable and safe for concurrent use.
type Policy struct {
	name        string
	admins      matcher
	selfService bool
	rules       []rule
}

// Name returns the file name the policy was read from.
func (p *Policy) Name() string { return p.name }

// IsAdmin reports whether the subject is in the admins list.
func (p *Policy) IsAdmin(s Subject) bool {
	if p == nil {
		return false
	}
	return p.admins.matches(s)
}

// SelfService reports whether users may reset the login that equals their verified e-mail.
func (p *Policy) SelfService() bool {
	return p != nil && p.selfService
}

// Role returns the highest role the subject holds on the domain; RoleNone when no rule matches.
func (p *Policy) Role(s Subject, domain string) Role {
	if p == nil {
		return RoleNone
	}
	if p.IsAdmin(s) {
		return RoleAdmin
	}
	domain = normalizeDomain(domain)
	best := RoleNone
	if domain == "" {
		return best
	}
	for _, r := range p.rules {
		if r.role <= best {
			continue
		}
		if (r.domain == "*" || r.domain == domain) && r.who.matches(s) {
			best = r.role
		}
	}
	return best
}

// Can reports whether the subject may perform the action on the domain.
func (p *Policy) Can(s Subject, domain string, a Action) bool {
	return p.Role(s, domain) >= a.MinRole()
}

// CanEveryDomain reports whether the subject may perform the action on every domain, whatever
// its name: an administrator, or a "*" rule granting a role that allows it. It is Can on the
// domain "*", which only the "*" rules name.
func (p *Policy) CanEveryDomain(s Subject, a Action) bool {
	return p.Can(s, "*", a)
}

// CanSelfReset reports whether the subject may reset login on domain through self-service: the
// policy allows self-service, the subject's e-mail is verified and equals the login
// (ignoring the case of ASCII letters: see SameEmail), the login is an address of the domain
// written in ASCII, and the subject may view the domain. A login with a letter outside ASCII
// is never self-service: Mailgun may fold it into another login when it looks it up (the
// sandbox lower-cases U+212A KELVIN SIGN to "k"), which SameEmail cannot see.
func (p *Policy) CanSelfReset(s Subject, domain, login string) bool {
	login = strings.TrimSpace(login)
	return p.SelfService() && s.EmailVerified && s.Email != "" && isASCII(login) &&
		SameEmail(login, s.Email) && loginOfDomain(login, domain) && p.Can(s, domain, ActView)
}

// loginOfDomain reports whether login is an address whose domain is domain (compared as the
// policy compares domains): the e-mail alice@other.example may view acme.example, but her own
// login is not one of acme.example's.
func loginOfDomain(login, domain string) bool {
	at := strings.LastIndexByte(login, '@')
	return at > 0 && normalizeDomain(login[at+1:]) == normalizeDomain(domain)
}

// HasAnyAccess reports whether the subject holds any role anywhere (the "no access" page is shown
// otherwise).
func (p *Policy) HasAnyAccess(s Subject) bool {
	if p == nil {
		return false
	}
	if p.IsAdmin(s) {
		return true
	}
	for _, r := range p.rules {
		if r.who.matches(s) {
			return true
		}
	}
	return false
}

// VisibleDomains returns the domains of all the subject may view, in the order given.
func (p *Policy) VisibleDomains(s Subject, all []string) []string {
	out := make([]string, 0, len(all))
	for _, d := range all {
		if p.Can(s, d, ActView) {
			out = append(out, d)
		}
	}
	return out
}

// Domains returns the domains the rules name, as Role compares them (lower case, no trailing
// dot), each once and sorted, without "*". A subject who is not an administrator and holds no
// "*" rule granting an action (CanEveryDomain) may do it on these domains only: the audit pages
// scope such a user's view of the trail by them, not by the names the trail holds, which any
// signed-in user adds to by asking for a made-up domain.
func (p *Policy) Domains() []string {
	if p == nil {
		return nil
	}
	var out []string
	for _, r := range p.rules {
		if r.domain != "*" {
			out = append(out, r.domain)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// normalizeDomain trims d, drops one trailing dot and lower-cases its ASCII letters only.
// Unicode lower-casing would turn a name that is no host name into one that is: U+212A KELVIN
// SIGN lower-cases to "k" and U+0130 (İ) to "i", so a rule written for "ac\u212Ae.example"
// would grant acke.example, a domain the file does not name (see FoldEmail).
func normalizeDomain(d string) string {
	return strings.TrimSuffix(FoldEmail(strings.TrimSpace(d)), ".")
}

// Load reads and validates the policy file at path (YAML or JSON).
func Load(path string) (*Policy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	return Parse(data, path)
}

// Holder holds the current policy and swaps it atomically, so a reload applies on the next
// request while requests in flight finish with the policy they started with.
type Holder struct {
	path string
	cur  atomic.Pointer[Policy]
}

// NewHolder loads the policy file at path; Reload re-reads the same file.
func NewHolder(path string) (*Holder, error) {
	p, err := Load(path)
	if err != nil {
		return nil, err
	}
	h := &Holder{path: path}
	h.cur.Store(p)
	return h, nil
}

// NewStaticHolder holds p, which did not come from a file (a test's); Reload keeps it.
func NewStaticHolder(p *Policy) *Holder {
	h := &Holder{}
	h.cur.Store(p)
	return h
}

// Current returns the policy in force. It never returns nil for a holder built by NewHolder or
// NewStaticHolder with a non-nil policy.
func (h *Holder) Current() *Policy { return h.cur.Load() }

// Path returns the file the holder reloads from, "" for a static holder.
func (h *Holder) Path() string { return h.path }

// Reload re-reads the policy file. On error the current policy stays in force and the error
// (with file name and line) is returned for the caller to log.
func (h *Holder) Reload() error {
	if h.path == "" {
		return nil
	}
	p, err := Load(h.path)
	if err != nil {
		return fmt.Errorf("policy: reload kept the previous policy: %w", err)
	}
	h.cur.Store(p)
	return nil
}

// Set replaces the current policy (tests and callers that build policies in memory).
func (h *Holder) Set(p *Policy) { h.cur.Store(p) }

// Rules returns a readable summary of the rules, for logs at start and reload.
func (p *Policy) Rules() []string {
	var out []string
	if p == nil {
		return out
	}
	for _, r := range p.rules {
		out = append(out, fmt.Sprintf("%s on %s for groups %v emails %v", r.role, r.domain, sortedKeys(r.who.groups), sortedKeys(r.who.emails)))
	}
	return out
}

// Warnings names what in a valid policy is likely a mistake, for the log at start and reload: a
// policy that grants nothing, a group spelt in two letter cases (groups are compared exactly, so
// one spelling matches nobody), and a rule that another rule, or admins, makes grant nothing.
func (p *Policy) Warnings() []string {
	var out []string
	if p == nil {
		return out
	}
	if len(p.rules) == 0 && len(p.admins.groups) == 0 && len(p.admins.emails) == 0 {
		out = append(out, fmt.Sprintf("%s grants nothing: it has neither admins nor rules, so every signed-in user sees \"No access yet\"", p.name))
	}
	whos := []matcher{p.admins}
	for _, r := range p.rules {
		whos = append(whos, r.who)
	}
	spellings := map[string][]string{} // a group's lower-cased name: its spellings, in file order
	var folded []string
	for _, m := range whos {
		for _, g := range sortedKeys(m.groups) {
			l := strings.ToLower(g)
			if len(spellings[l]) == 0 {
				folded = append(folded, l)
			}
			if !slices.Contains(spellings[l], g) {
				spellings[l] = append(spellings[l], g)
			}
		}
	}
	for _, l := range folded {
		if gs := spellings[l]; len(gs) > 1 {
			out = append(out, fmt.Sprintf("%s: groups %q differ only in letter case; groups match exactly as the provider sends them, so all but one likely match nobody", p.name, gs))
		}
	}
	covers := func(a, b matcher) bool { // a matches everyone b matches
		for g := range b.groups {
			if !a.groups[g] {
				return false
			}
		}
		for e := range b.emails {
			if !a.emails[e] {
				return false
			}
		}
		return true
	}
	for i, r := range p.rules {
		if covers(p.admins, r.who) {
			out = append(out, fmt.Sprintf("%s:%d: this rule grants nothing: admins already holds all its groups and e-mails", p.name, r.line))
			continue
		}
		for j, o := range p.rules {
			// o outweighs r; of two equal rules, only the later is named.
			if i != j && (o.domain == "*" || o.domain == r.domain) && o.role >= r.role && covers(o.who, r.who) &&
				(j < i || o.role > r.role || o.domain != r.domain || !covers(r.who, o.who)) {
				out = append(out, fmt.Sprintf("%s:%d: this rule grants nothing: the rule at line %d gives all its groups and e-mails %s on %s", p.name, r.line, o.line, o.role, o.domain))
				break
			}
		}
	}
	return out
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// FoldEmail lower-cases the ASCII letters of an e-mail address and nothing else. Unicode case
// folding would make different addresses equal: U+212A KELVIN SIGN lower-cases to "k" and
// U+017F LONG S folds to "s", so "\u212Aate@corp.example" would match a policy entry for
// kate@corp.example, and "\u017Fam@…" could reset sam@…'s login.
func FoldEmail(s string) string {
	return strings.Map(func(r rune) rune {
		if 'A' <= r && r <= 'Z' {
			return r + ('a' - 'A')
		}
		return r
	}, s)
}

// SameEmail reports whether a and b are the same address when only ASCII letters' case is
// ignored (see FoldEmail).
func SameEmail(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if lowerASCII(a[i]) != lowerASCII(b[i]) {
			return false
		}
	}
	return true
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}
