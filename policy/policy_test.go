package policy

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const sample = `admins:
  groups: [smtp-admins]
  emails: [Root@Corp.example]
self_service: true
rules:
  - domain: acme.example
    role: operator
    groups: [team-acme]
  - domain: "*"
    role: viewer
    groups: [auditors]
  - domain: acme.example
    role: owner
    emails: [boss@acme.example]
  - domain: example.com
    role: viewer
    groups: [team-acme]
`

func mustParse(t *testing.T, src string) *Policy {
	t.Helper()
	p, err := Parse([]byte(src), "policy.yaml")
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return p
}

func TestRole(t *testing.T) {
	p := mustParse(t, sample)
	tests := []struct {
		name   string
		s      Subject
		domain string
		want   Role
	}{
		{"no groups", Subject{Email: "x@y.example", EmailVerified: true}, "acme.example", RoleNone},
		{"operator", Subject{Groups: []string{"team-acme"}}, "acme.example", RoleOperator},
		{"operator domain case", Subject{Groups: []string{"team-acme"}}, "ACME.example.", RoleOperator},
		{"operator elsewhere", Subject{Groups: []string{"team-acme"}}, "other.example", RoleNone},
		// A rule names one domain: not its subdomains, nor a name that ends like it.
		{"operator of a subdomain", Subject{Groups: []string{"team-acme"}}, "mail.acme.example", RoleNone},
		{"operator of a name ending like it", Subject{Groups: []string{"team-acme"}}, "notacme.example", RoleNone},
		{"operator of a name starting like it", Subject{Groups: []string{"team-acme"}}, "acme.example.org", RoleNone},
		{"second rule", Subject{Groups: []string{"team-acme"}}, "example.com", RoleViewer},
		{"group case sensitive", Subject{Groups: []string{"Team-Acme"}}, "acme.example", RoleNone},
		{"wildcard", Subject{Groups: []string{"auditors"}}, "anything.example", RoleViewer},
		{"highest wins", Subject{Email: "BOSS@acme.example", EmailVerified: true, Groups: []string{"team-acme", "auditors"}}, "acme.example", RoleOwner},
		{"unverified email ignored", Subject{Email: "boss@acme.example", Groups: []string{"auditors"}}, "acme.example", RoleViewer},
		{"admin by group", Subject{Groups: []string{"smtp-admins"}}, "whatever.example", RoleAdmin},
		{"admin by email", Subject{Email: "root@corp.EXAMPLE", EmailVerified: true}, "x.example", RoleAdmin},
		{"admin email unverified", Subject{Email: "root@corp.example"}, "x.example", RoleNone},
		{"empty domain", Subject{Groups: []string{"auditors"}}, "", RoleNone},
		{"blank domain", Subject{Groups: []string{"auditors"}}, "  ", RoleNone},
		{"domain with spaces around", Subject{Groups: []string{"team-acme"}}, " acme.example ", RoleOperator},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := p.Role(tt.s, tt.domain); got != tt.want {
				t.Errorf("Role = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestCan(t *testing.T) {
	p := mustParse(t, sample)
	op := Subject{Groups: []string{"team-acme"}}
	owner := Subject{Email: "boss@acme.example", EmailVerified: true}
	tests := []struct {
		s    Subject
		a    Action
		want bool
	}{
		{op, ActView, true}, {op, ActCreate, true}, {op, ActReset, true},
		{op, ActDelete, false}, {op, ActDeleteAll, false}, {op, ActSystem, false},
		{owner, ActDelete, true}, {owner, ActDeleteAll, true}, {owner, ActSystem, true},
		{Subject{}, ActView, false}, {op, Action(99), false},
		// An action the policy does not know needs an administrator, not an owner.
		{owner, Action(99), false},
	}
	for _, tt := range tests {
		if got := p.Can(tt.s, "acme.example", tt.a); got != tt.want {
			t.Errorf("Can(%v, %v) = %v, want %v", tt.s, tt.a, got, tt.want)
		}
	}
	var nilPolicy *Policy
	if nilPolicy.Can(owner, "acme.example", ActView) {
		t.Error("nil policy allowed an action")
	}
}

func TestCanEveryDomain(t *testing.T) {
	p := mustParse(t, sample)
	tests := []struct {
		name string
		s    Subject
		a    Action
		want bool
	}{
		{"viewer of *", Subject{Groups: []string{"auditors"}}, ActView, true},
		{"viewer of * resets", Subject{Groups: []string{"auditors"}}, ActReset, false},
		{"operator of one domain", Subject{Groups: []string{"team-acme"}}, ActView, false},
		{"owner of one domain and viewer of *", Subject{Email: "boss@acme.example", EmailVerified: true, Groups: []string{"auditors"}}, ActDelete, false},
		{"admin", Subject{Groups: []string{"smtp-admins"}}, ActDeleteAll, true},
		{"nobody", Subject{}, ActView, false},
	}
	for _, tt := range tests {
		if got := p.CanEveryDomain(tt.s, tt.a); got != tt.want {
			t.Errorf("%s: CanEveryDomain(%v) = %v, want %v", tt.name, tt.a, got, tt.want)
		}
	}
	var nilPolicy *Policy
	if nilPolicy.CanEveryDomain(Subject{Groups: []string{"auditors"}}, ActView) {
		t.Error("nil policy allowed an action")
	}
}

// TestDomains: the domains the rules name, once each, sorted, as Role compares them; a subject
// without a "*" rule for an action can do it nowhere else.
func TestDomains(t *testing.T) {
	p := mustParse(t, sample+`  - domain: "Example.COM."
    role: operator
    emails: [ops@corp.example]
`)
	want := []string{"acme.example", "example.com"}
	if got := p.Domains(); !slices.Equal(got, want) {
		t.Errorf("Domains = %q, want %q", got, want)
	}
	ops := Subject{Email: "ops@corp.example", EmailVerified: true}
	if !p.Can(ops, "example.com", ActReset) || p.Can(ops, "made-up.example", ActView) || p.CanEveryDomain(ops, ActView) {
		t.Error("the rule added above does not apply as named: the case proves nothing")
	}
	var nilPolicy *Policy
	if got := nilPolicy.Domains(); len(got) != 0 {
		t.Errorf("nil policy's Domains = %q", got)
	}
}

func TestSelfServiceAndVisible(t *testing.T) {
	p := mustParse(t, sample)
	s := Subject{Email: "Dev@acme.example", EmailVerified: true, Groups: []string{"team-acme"}}
	if !p.CanSelfReset(s, "acme.example", "dev@ACME.example") {
		t.Error("self reset refused for own login")
	}
	if p.CanSelfReset(s, "acme.example", "other@acme.example") {
		t.Error("self reset allowed for someone else's login")
	}
	s.EmailVerified = false
	if p.CanSelfReset(s, "acme.example", "dev@acme.example") {
		t.Error("self reset allowed with unverified email")
	}
	got := p.VisibleDomains(Subject{Groups: []string{"team-acme"}}, []string{"acme.example", "empty.example", "example.com"})
	if want := []string{"acme.example", "example.com"}; !slices.Equal(got, want) {
		t.Errorf("VisibleDomains = %v, want %v", got, want)
	}
	// Switched off, self-service refuses a verified user who may view the domain.
	s.EmailVerified = true
	off := mustParse(t, "self_service: false\nrules:\n  - domain: acme.example\n    role: viewer\n    groups: [team-acme]\n")
	if !off.Can(s, "acme.example", ActView) {
		t.Fatal("the rule does not grant view: the case below proves nothing")
	}
	if off.CanSelfReset(s, "acme.example", "dev@acme.example") || off.SelfService() {
		t.Error("self service on when disabled")
	}
	// On, but the user has no role on the login's domain.
	none := mustParse(t, "self_service: true\nrules:\n  - domain: other.example\n    role: viewer\n    groups: [team-acme]\n")
	if !none.SelfService() || none.Can(s, "acme.example", ActView) {
		t.Fatal("the policy is not as the case below needs")
	}
	if none.CanSelfReset(s, "acme.example", "dev@acme.example") {
		t.Error("self reset allowed on a domain the user has no role on")
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"unknown role", "rules:\n  - domain: a.example\n    role: opertor\n    groups: [g]\n", `policy.yaml:3: unknown role "opertor" (want viewer, operator or owner)`},
		{"unknown top key", "admin:\n  groups: [x]\n", `policy.yaml:1: unknown key "admin"`},
		{"unknown rule key", "rules:\n  - domain: a.example\n    role: viewer\n    group: [g]\n", `policy.yaml:4: unknown key "group" in rule`},
		{"unknown admins key", "admins:\n  users: [x]\n", `policy.yaml:2: unknown key "users" in admins`},
		{"empty domain", "rules:\n  - domain: \"\"\n    role: viewer\n    groups: [g]\n", `policy.yaml:2: empty domain`},
		{"missing domain", "rules:\n  - role: viewer\n    groups: [g]\n", `policy.yaml:2: rule has no domain`},
		{"missing role", "rules:\n  - domain: a.example\n    groups: [g]\n", `policy.yaml:2: rule has no role`},
		{"nobody", "rules:\n  - domain: a.example\n    role: viewer\n", `policy.yaml:2: rule for a.example names neither groups nor emails`},
		{"empty lists", "rules:\n  - domain: a.example\n    role: viewer\n    groups: []\n    emails: []\n", `names neither groups nor emails`},
		{"bad domain", "rules:\n  - domain: bad_domain!\n    role: viewer\n    groups: [g]\n", `policy.yaml:2: invalid domain "bad_domain!"`},
		{"bad domain slash", "rules:\n  - domain: a.example/x\n    role: viewer\n    groups: [g]\n", `policy.yaml:2: invalid domain`},
		{"bad email", "admins:\n  emails: [nobody]\n", `policy.yaml:2: "nobody" is not an e-mail address`},
		{"self_service type", "self_service: yes please\n", `policy.yaml:1: self_service must be true or false`},
		{"duplicate key", "self_service: true\nself_service: false\n", `policy.yaml:2: duplicate key "self_service"`},
		{"not a mapping", "- a\n- b\n", `policy.yaml:1: the policy must be a mapping`},
		{"empty", "", `policy.yaml: the policy file is empty`},
		{"syntax", "rules: [\n", `policy.yaml:1: YAML syntax error: did not find expected node content (on this line or below it`},
		// yaml.v3 names line 5 (where the rule's mapping is read from); the tab is on line 6.
		{"tab indentation", "admins:\n  groups: [a]\nrules:\n  - domain: a.example\n    role: viewer\n\tgroups: [g]\n", `policy.yaml:6: YAML syntax error: a tab in the indentation; indent with spaces only`},
		// The second document's admins would be ignored.
		{"second document", "rules:\n  - domain: a.example\n    role: viewer\n    groups: [g]\n---\nadmins:\n  groups: [smtp-admins]\n", `policy.yaml:6: a second YAML document starts here`},
		{"second document broken", "self_service: true\n---\nrules: [\n", `policy.yaml:3: YAML syntax error`},
		{"json unknown role", "{\n  \"rules\": [\n    {\"domain\": \"a.example\",\n     \"role\": \"boss\", \"groups\": [\"g\"]}\n  ]\n}\n", `policy.yaml:4: unknown role "boss"`},
		{"json tabs unknown key", "{\n\t\"rulez\": []\n}\n", `policy.yaml:2: unknown key "rulez"`},
		// An unquoted * is a YAML alias: yaml.v3's own message ("did not find expected
		// alphabetic or numeric character … check the indentation") misleads.
		{"bare star", "rules:\n  - domain: *\n    role: viewer\n    groups: [g]\n", `policy.yaml:2: YAML syntax error: an unquoted * (YAML reads *name as an alias); for every domain write "*" in quotes, as in domain: "*"`},
		{"bare star below", "rules:\n  - role: viewer\n    groups: [g]\n    domain: *   # every domain\n", `policy.yaml:4: YAML syntax error: an unquoted *`},
		{"bare star pattern", "rules:\n  - domain: *.example.com\n    role: viewer\n    groups: [g]\n", `policy.yaml:2: YAML syntax error: an unquoted *`},
		{"bare star flow", "rules:\n  - {domain: *, role: viewer, groups: [g]}\n", `policy.yaml:2: YAML syntax error: an unquoted *`},
		{"bare star name", "rules:\n  - domain: *acme\n    role: viewer\n    groups: [g]\n", `policy.yaml:2: YAML syntax error: an unquoted *`},
		{"json bare star", `{"rules": [{"domain": *, "role": "viewer", "groups": ["g"]}]}`, `policy.yaml:1: YAML syntax error: an unquoted *`},
		// Several domains or roles in one rule: named as such, not "empty domain" or
		// `unknown role ""`.
		{"domain list", "rules:\n  - domain: [a.example, b.example]\n    role: viewer\n    groups: [g]\n", `policy.yaml:2: domain must be one domain name or "*", not a list; write one rule per domain`},
		{"domain mapping", "rules:\n  - domain: {name: a.example}\n    role: viewer\n    groups: [g]\n", `policy.yaml:2: domain must be one domain name or "*", not a mapping`},
		{"role list", "rules:\n  - domain: a.example\n    role: [viewer]\n    groups: [g]\n", `policy.yaml:3: role must be one of viewer, operator or owner, not a list`},
		{"email pattern", "rules:\n  - domain: a.example\n    role: viewer\n    emails: [x@a.example, \"*@corp.example\"]\n", `policy.yaml:4: "*@corp.example" is not an e-mail address: e-mails are matched exactly, with no patterns (for everyone at a domain, use a group)`},
		{"admin email pattern", "admins:\n  emails: [\"root@*.corp.example\"]\n", `policy.yaml:2: "root@*.corp.example" is not an e-mail address: e-mails are matched exactly`},
		{"admin email pattern at the end", "admins:\n  emails: [\"root@corp.*\"]\n", `policy.yaml:2: "root@corp.*" is not an e-mail address: e-mails are matched exactly`},
		{"admins list", "admins: [smtp-admins]\n", `policy.yaml:1: admins must be a mapping with groups and/or emails, not a list, as in admins: {groups: [smtp-admins]}`},
		{"admins plain", "admins: smtp-admins\n", `policy.yaml:1: admins must be a mapping with groups and/or emails, not a plain value`},
		{"role admin", "rules:\n  - domain: a.example\n    role: admin\n    groups: [g]\n", `policy.yaml:3: unknown role "admin" (want viewer, operator or owner); administrators are listed under the top-level admins key`},
		{"group not string", "rules:\n  - domain: a.example\n    role: viewer\n    groups: [[x]]\n", `policy.yaml:4: groups entries must be strings`},
		{"alias", "admins: {groups: &a [smtp-admins]}\nrules:\n  - domain: a.example\n    role: viewer\n    groups: *a\n", `policy.yaml:1: YAML anchors, aliases and merge keys (&name, *name, <<) are not supported in the policy; write the value out in full`},
		// Each e-mail row breaks one rule of the address's shape.
		{"email without local part", "admins:\n  emails: [\"@corp.example\"]\n", `policy.yaml:2: "@corp.example" is not an e-mail address`},
		{"email without domain", "admins:\n  emails: [\"root@\"]\n", `policy.yaml:2: "root@" is not an e-mail address`},
		{"email with two @", "admins:\n  emails: [\"root@corp@example\"]\n", `policy.yaml:2: "root@corp@example" is not an e-mail address`},
		{"email with a space", "admins:\n  emails: [\"root @corp.example\"]\n", `policy.yaml:2: "root @corp.example" is not an e-mail address`},
		// README: there are no other patterns than "*", quoted or not.
		{"quoted domain pattern", "rules:\n  - domain: \"*.example.com\"\n    role: viewer\n    groups: [g]\n", `policy.yaml:2: invalid domain "*.example.com"`},
		{"self_service yes", "self_service: yes\n", `policy.yaml:1: self_service must be true or false`},
		{"null group", "rules:\n  - domain: a.example\n    role: viewer\n    groups: [g, ~]\n", `policy.yaml:4: groups entries must be strings`},
		{"empty group", "rules:\n  - domain: a.example\n    role: viewer\n    groups: [g, \" \"]\n", `policy.yaml:4: groups entries must not be empty`},
		{"rules plain", "rules: all\n", `policy.yaml:1: rules must be a list`},
		{"admins groups quoted empty", "admins:\n  groups: \"\"\n", `policy.yaml:2: admins.groups must be a list`},
		{"merge key", "rules:\n  - domain: a.example\n    role: viewer\n    groups: [g]\n  - <<: {role: viewer, groups: [g]}\n    domain: b.example\n", `policy.yaml:5: YAML anchors, aliases and merge keys`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.src), "policy.yaml")
			if err == nil {
				t.Fatalf("Parse succeeded, want error containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %q, want it to contain %q", err, tt.want)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
		})
	}
}

// TestParseDocumentMarkers: a "---" before the one document, or ending it, and "..." are fine.
func TestParseDocumentMarkers(t *testing.T) {
	for _, src := range []string{
		"---\nself_service: true\n",
		"---\nself_service: true\n---\n",
		"self_service: true\n...\n",
		"self_service: true\n---\n# nothing more\n",
	} {
		if p, err := Parse([]byte(src), "policy.yaml"); err != nil || !p.SelfService() {
			t.Errorf("Parse(%q) = %v, want the one document read", src, err)
		}
	}
}

func TestParseJSON(t *testing.T) {
	p := mustParse(t, `{"admins": {"groups": ["smtp-admins"]}, "self_service": true,
	  "rules": [{"domain": "*", "role": "owner", "emails": ["a@b.example"]}]}`)
	if got := p.Role(Subject{Email: "a@b.example", EmailVerified: true}, "z.example"); got != RoleOwner {
		t.Errorf("Role = %v, want owner", got)
	}
	if !p.SelfService() {
		t.Error("self_service lost")
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load = %v, want ErrNotExist", err)
	}
}

func writeFile(t *testing.T, path, src string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestSecurity13PolicyReload: a policy change applies on the next check after Reload, a removed
// group loses access at once, and a broken file keeps the previous policy.
func TestSecurity13PolicyReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.yaml")
	writeFile(t, path, "rules:\n  - domain: acme.example\n    role: operator\n    groups: [team-acme]\n")
	h, err := NewHolder(path)
	if err != nil {
		t.Fatal(err)
	}
	op := Subject{Groups: []string{"team-acme"}}
	if !h.Current().Can(op, "acme.example", ActCreate) {
		t.Fatal("operator cannot create before reload")
	}
	writeFile(t, path, "rules:\n  - domain: acme.example\n    role: viewer\n    groups: [someone-else]\n")
	if !h.Current().Can(op, "acme.example", ActCreate) {
		t.Fatal("policy changed before Reload")
	}
	if err := h.Reload(); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	if got := h.Current().Role(op, "acme.example"); got != RoleNone {
		t.Errorf("after reload Role = %v, want none", got)
	}
	writeFile(t, path, "rules:\n  - domain: acme.example\n    role: opertor\n    groups: [team-acme]\n")
	err = h.Reload()
	if err == nil || !strings.Contains(err.Error(), "policy.yaml:3: unknown role") {
		t.Errorf("Reload of a broken file = %v, want a line-precise error", err)
	}
	if got := h.Current().Role(Subject{Groups: []string{"someone-else"}}, "acme.example"); got != RoleViewer {
		t.Errorf("broken reload replaced the policy: Role = %v, want viewer", got)
	}
}

func TestStaticHolder(t *testing.T) {
	p := mustParse(t, sample)
	h := NewStaticHolder(p)
	if err := h.Reload(); err != nil || h.Current() != p {
		t.Errorf("static Reload = %v, policy swapped: %v", err, h.Current() != p)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(sample))
	f.Add([]byte(`{"rules":[{"domain":"*","role":"viewer","groups":["g"]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(data, "fuzz.yaml")
		if err != nil {
			if p != nil {
				t.Fatal("policy returned with an error")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		s := Subject{Email: "a@b.example", EmailVerified: true, Groups: []string{"g", "team-acme"}}
		_ = p.Role(s, "acme.example")
		_ = p.VisibleDomains(s, []string{"acme.example", "x.example"})
	})
}

// TestEmailsFoldOnlyASCII: e-mail addresses match ignoring the case of ASCII letters only. Unicode
// folding would let another address through: U+212A KELVIN SIGN lower-cases to "k", U+017F LONG S
// folds to "s".
func TestEmailsFoldOnlyASCII(t *testing.T) {
	p := mustParse(t, `admins:
  emails: [Kate@Corp.example]
self_service: true
rules:
  - domain: acme.example
    role: viewer
    groups: [team-acme]
`)
	if !p.IsAdmin(Subject{Email: "KATE@corp.EXAMPLE", EmailVerified: true}) {
		t.Error("the admin's address in other ASCII case does not match")
	}
	kelvin := Subject{Email: "\u212Aate@corp.example", EmailVerified: true}
	if p.IsAdmin(kelvin) {
		t.Errorf("IsAdmin(%q) = true: a different address matched kate@corp.example", kelvin.Email)
	}
	sam := Subject{Email: "Sam@acme.example", EmailVerified: true, Groups: []string{"team-acme"}}
	if !p.CanSelfReset(sam, "acme.example", "sam@ACME.example") {
		t.Error("self-service refused the user's own login in other ASCII case")
	}
	longS := Subject{Email: "\u017Fam@acme.example", EmailVerified: true, Groups: []string{"team-acme"}}
	if p.CanSelfReset(longS, "acme.example", "sam@acme.example") {
		t.Errorf("CanSelfReset(%q, sam@acme.example) = true: self-service reached another person's login", longS.Email)
	}
	if FoldEmail("\u212Aate@X.example") != "\u212Aate@x.example" || !SameEmail("a@B.c", "A@b.C") || SameEmail("\u017F@x", "s@x") {
		t.Error("FoldEmail/SameEmail fold something other than ASCII letters")
	}
}

// TestDomainFoldsOnlyASCII: a rule's domain is lower-cased in ASCII only, so a name with a
// Unicode letter that lower-cases to an ASCII one (U+212A KELVIN SIGN to "k", U+0130 to "i") is
// refused as the invalid host name it is, instead of granting the ASCII domain it folds to.
func TestDomainFoldsOnlyASCII(t *testing.T) {
	for _, d := range []string{"ac\u212Ae.example", "\u0130nfo.example"} {
		src := "rules:\n  - domain: \"" + d + "\"\n    role: owner\n    groups: [g]\n"
		p, err := Parse([]byte(src), "policy.yaml")
		if err == nil {
			t.Errorf("Parse accepted domain %q as %v: it grants a domain the file does not name", d, p.Rules())
			continue
		}
		if want := `policy.yaml:2: invalid domain`; !strings.Contains(err.Error(), want) || !errors.Is(err, ErrInvalid) {
			t.Errorf("domain %q: error = %v, want it to contain %q", d, err, want)
		}
	}
	// An internationalized name is refused too, its error saying to write its ASCII form.
	if _, err := Parse([]byte("rules:\n  - domain: bücher.example\n    role: owner\n    groups: [g]\n"), "policy.yaml"); err == nil || !strings.Contains(err.Error(), "ASCII form (xn--") {
		t.Errorf("domain bücher.example: error = %v, want it to say to write the ASCII form", err)
	}
	p := mustParse(t, "rules:\n  - domain: KCME.Example.\n    role: owner\n    groups: [g]\n")
	g := Subject{Groups: []string{"g"}}
	if got := p.Role(g, "kcme.example"); got != RoleOwner {
		t.Errorf("Role(kcme.example) = %v under a rule for KCME.Example., want owner (ASCII case and the trailing dot ignored)", got)
	}
	// The domain asked about folds the same way.
	if got := p.Role(g, "\u212Acme.example"); got != RoleNone {
		t.Errorf("Role(%q) = %v under a rule for kcme.example, want none", "\u212Acme.example", got)
	}
}

// TestWarnings: a valid policy that is still likely wrong is named for the log at start and
// reload (the administrator gets no other sign: the file is in force).
func TestWarnings(t *testing.T) {
	tests := []struct {
		name, src string
		want      []string // substrings, one per warning
	}{
		{"sample", sample, nil},
		{"grants nothing", "self_service: true\nrules: []\n", []string{"policy.yaml grants nothing: it has neither admins nor rules"}},
		{"admins only", "admins:\n  groups: [smtp-admins]\n", nil},
		{"admins by e-mail only", "admins:\n  emails: [root@corp.example]\n", nil},
		{"group case", "admins:\n  groups: [SMTP-Admins]\nrules:\n  - domain: a.example\n    role: viewer\n    groups: [smtp-admins, team]\n  - domain: b.example\n    role: viewer\n    groups: [Team, smtp-admins]\n",
			[]string{`groups ["SMTP-Admins" "smtp-admins"] differ only in letter case`, `groups ["team" "Team"] differ only in letter case`}},
		// A user gets the highest role of the rules that match: a lower one for the same people
		// grants nothing, and was likely meant to limit them.
		{"outweighed by *", "rules:\n  - domain: a.example\n    role: viewer\n    groups: [team]\n  - domain: \"*\"\n    role: operator\n    groups: [team, ops]\n",
			[]string{"policy.yaml:2: this rule grants nothing: the rule at line 5 gives all its groups and e-mails operator on *"}},
		{"same rule twice", "rules:\n  - domain: a.example\n    role: viewer\n    groups: [team]\n  - domain: A.example\n    role: viewer\n    groups: [team]\n",
			[]string{"policy.yaml:5: this rule grants nothing: the rule at line 2 gives"}},
		{"by admins", "admins:\n  emails: [root@corp.example]\nrules:\n  - domain: a.example\n    role: owner\n    emails: [Root@corp.example]\n",
			[]string{"policy.yaml:4: this rule grants nothing: admins already holds"}},
		{"not outweighed", "rules:\n  - domain: a.example\n    role: owner\n    groups: [team]\n  - domain: \"*\"\n    role: viewer\n    groups: [team]\n  - domain: a.example\n    role: owner\n    groups: [ops]\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mustParse(t, tt.src).Warnings()
			if len(got) != len(tt.want) {
				t.Fatalf("Warnings() = %q, want %d", got, len(tt.want))
			}
			for i, w := range tt.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("warning %d = %q, want it to contain %q", i, got[i], w)
				}
			}
		})
	}
}

// TestHasAnyAccess: the "no access" page is for those no rule and no admins entry matches.
func TestHasAnyAccess(t *testing.T) {
	p := mustParse(t, sample)
	adminsOnly := mustParse(t, "admins:\n  groups: [smtp-admins]\n")
	tests := []struct {
		name string
		p    *Policy
		s    Subject
		want bool
	}{
		{"group of one rule", p, Subject{Groups: []string{"team-acme"}}, true},
		{"verified e-mail of one rule", p, Subject{Email: "boss@acme.example", EmailVerified: true}, true},
		{"unverified e-mail of one rule", p, Subject{Email: "boss@acme.example"}, false},
		{"groups no rule names", p, Subject{Groups: []string{"Team-Acme", "others"}}, false},
		{"nobody", p, Subject{}, false},
		{"admin with no rules", adminsOnly, Subject{Groups: []string{"smtp-admins"}}, true},
		{"not admin with no rules", adminsOnly, Subject{Groups: []string{"team-acme"}}, false},
		{"nil policy", nil, Subject{Groups: []string{"smtp-admins"}}, false},
	}
	for _, tt := range tests {
		if got := tt.p.HasAnyAccess(tt.s); got != tt.want {
			t.Errorf("%s: HasAnyAccess = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestSelfResetOnlyTheSameLogin: self-service resets the login equal to the user's verified
// e-mail, whole: not one that starts or ends like it, nothing for a user without an e-mail, and
// only when that login is an address of the domain asked about.
func TestSelfResetOnlyTheSameLogin(t *testing.T) {
	p := mustParse(t, sample)
	dev := Subject{Email: "dev@acme.example", EmailVerified: true, Groups: []string{"team-acme"}}
	tests := []struct {
		name  string
		s     Subject
		login string
		want  bool
	}{
		{"own login", dev, "dev@acme.example", true},
		{"own login with spaces around", dev, " dev@acme.example ", true},
		{"a login the e-mail starts with", Subject{Email: "dev@acme.example.org", EmailVerified: true, Groups: []string{"team-acme"}}, "dev@acme.example", false},
		{"a login starting with the e-mail", dev, "dev@acme.example.org", false},
		{"a shorter login", dev, "dev@acme", false},
		{"no e-mail, empty login", Subject{EmailVerified: true, Groups: []string{"team-acme"}}, "", false},
		{"own address of another domain", Subject{Email: "dev@other.example", EmailVerified: true, Groups: []string{"team-acme"}}, "dev@other.example", false},
		{"own address of a subdomain", Subject{Email: "dev@mail.acme.example", EmailVerified: true, Groups: []string{"team-acme"}}, "dev@mail.acme.example", false},
		{"own login, its domain in capitals", Subject{Email: "dev@ACME.EXAMPLE", EmailVerified: true, Groups: []string{"team-acme"}}, "dev@ACME.EXAMPLE", true},
		{"no domain part", Subject{Email: "dev", EmailVerified: true, Groups: []string{"team-acme"}}, "dev", false},
		// Mailgun may fold a letter outside ASCII into another login (the sandbox lower-cases
		// U+212A KELVIN SIGN to "k": kate@'s login), so such a login is no self-service.
		{"own login with a letter outside ASCII", Subject{Email: "\u212Aate@acme.example", EmailVerified: true, Groups: []string{"team-acme"}}, "\u212Aate@acme.example", false},
	}
	for _, tt := range tests {
		if got := p.CanSelfReset(tt.s, "acme.example", tt.login); got != tt.want {
			t.Errorf("%s: CanSelfReset(%q, %q) = %v, want %v", tt.name, tt.s.Email, tt.login, got, tt.want)
		}
	}
}

// TestFoldEmailASCIILetters: every ASCII capital folds, A and Z included, and the characters
// beside them in ASCII ("@", "[", "`", "{") do not.
func TestFoldEmailASCIILetters(t *testing.T) {
	for in, want := range map[string]string{
		"AZ@Corp.Example":            "az@corp.example",
		"ABCDEFGHIJKLMNOPQRSTUVWXYZ": "abcdefghijklmnopqrstuvwxyz",
		"@[`{":                       "@[`{",
	} {
		if got := FoldEmail(in); got != want {
			t.Errorf("FoldEmail(%q) = %q, want %q", in, got, want)
		}
	}
	p := mustParse(t, "admins:\n  emails: [Zoe@corp.example]\n")
	if !p.IsAdmin(Subject{Email: "zoe@corp.example", EmailVerified: true}) {
		t.Error("admins entry Zoe@corp.example does not match zoe@corp.example")
	}
}

// TestRuleDomainNames: a rule's domain is a host name: labels of ASCII letters, digits and
// hyphens, 1 to 63 bytes each and not starting or ending with a hyphen, 253 bytes in all.
func TestRuleDomainNames(t *testing.T) {
	label := func(n int) string { return strings.Repeat("a", n) }
	longest := label(63) + "." + label(63) + "." + label(63) + "." + label(61) // 253 bytes
	tests := []struct {
		domain string
		ok     bool
	}{
		{longest, true},
		{longest + "a", false},
		{label(63) + ".example", true},
		{label(64) + ".example", false},
		{"a-b.example", true},
		{"-ab.example", false},
		{"ab-.example", false},
		{"a..example", false},
		{".example", false},
		{"a_b.example", false},
		{"xn--bcher-kva.example", true},
		{"1.example", true},
	}
	for _, tt := range tests {
		src := "rules:\n  - domain: \"" + tt.domain + "\"\n    role: viewer\n    groups: [g]\n"
		p, err := Parse([]byte(src), "policy.yaml")
		switch {
		case tt.ok && err != nil:
			t.Errorf("domain %q (%d bytes): %v, want it accepted", tt.domain, len(tt.domain), err)
		case tt.ok && p.Role(Subject{Groups: []string{"g"}}, tt.domain) != RoleViewer:
			t.Errorf("domain %q: the rule does not grant it", tt.domain)
		case !tt.ok && (err == nil || !strings.Contains(err.Error(), "policy.yaml:2: invalid domain")):
			t.Errorf("domain %q (%d bytes): error = %v, want policy.yaml:2: invalid domain", tt.domain, len(tt.domain), err)
		}
	}
}

// TestGroupEntriesTrimmed: a group written with spaces around it in quotes is the group; the
// provider's names have none.
func TestGroupEntriesTrimmed(t *testing.T) {
	p := mustParse(t, "rules:\n  - domain: acme.example\n    role: viewer\n    groups: [\" team-acme \"]\n")
	if got := p.Role(Subject{Groups: []string{"team-acme"}}, "acme.example"); got != RoleViewer {
		t.Errorf("Role = %v, want viewer", got)
	}
}
