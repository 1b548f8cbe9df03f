package policy

import (
	"strings"
	"testing"
)

// README: POLICY_FILE is "YAML or JSON". RFC 8259 section 7 lets a JSON string escape "/" as
// "\/" (PHP's json_encode does so by default, and Keycloak sends full-path groups such as
// "/mail-team"), and write a character outside the BMP as a surrogate pair (Python's json.dumps
// does so by default). Both are valid JSON; the policy must read them.
func TestJSONEscapesYAMLLacksAreRead(t *testing.T) {
	for _, tt := range []struct{ name, group, want string }{
		{"escaped slash", `\/mail-team`, "/mail-team"},
		{"surrogate pair", `mail-team-\ud83d\udce7`, "mail-team-\U0001F4E7"},
		// An escaped backslash before a slash is a backslash and a slash, not an escaped slash.
		{"escaped backslash, then a slash", `mail\\/team`, `mail\/team`},
		{"other \\u escapes as they are", `caf\u00e9-\u00e9`, "café-é"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := "{\n  \"admins\": {\"groups\": [\"smtp-admins\"]},\n  \"rules\": [\n" +
				"    {\"domain\": \"acme.example\", \"role\": \"viewer\", \"groups\": [\"" + tt.group + "\"]}\n  ]\n}\n"
			p, err := Parse([]byte(in), "policy.json")
			if err != nil {
				t.Fatalf("Parse(valid JSON) = %v; want it read", err)
			}
			if got := p.Role(Subject{Groups: []string{tt.want}}, "acme.example"); got != RoleViewer {
				t.Errorf("role of group %q = %v, want viewer", tt.want, got)
			}
		})
	}
}

// syntaxError's own comment: "yaml.v3 names the line where the construct it was reading began,
// which can be above the mistake ... so the message says to look below it too". For a parser
// error yaml.v3 gives the construct's line 0-based, so the line named is the one above the
// construct: here the "[" opened on line 4 is reported at line 3, a line that holds no mistake
// and is not part of the construct; in a JSON file, a missing comma between rules is reported
// at the line before "rules": [.
func TestSyntaxErrorNamesTheConstructsLine(t *testing.T) {
	for _, tt := range []struct{ name, in, want string }{
		{"yaml unclosed flow list", "rules:\n  - domain: a.example\n    role: viewer\n    groups: [g\n  - domain: b.example\n    role: viewer\n    groups: [g]\n", "policy.yaml:4: "},
		{"json missing comma between rules", "{\n  \"admins\": {\"groups\": [\"smtp-admins\"]},\n  \"rules\": [\n    {\"domain\": \"a.example\", \"role\": \"viewer\", \"groups\": [\"g\"]}\n    {\"domain\": \"b.example\", \"role\": \"viewer\", \"groups\": [\"g\"]}\n  ]\n}\n", "policy.yaml:3: "},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.in), "policy.yaml")
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("Parse = %v; want it to start %q (the line where the construct with the mistake begins)", err, tt.want)
			}
		})
	}
}

// README: "`domain` is a domain name or "*" ...; there are no other patterns (`*.example.com` is
// refused)". A wildcard with a dot after it, as a template leaves "*.{{ zone }}" when the zone is
// empty, is read as "*": the rule grants its role, here owner, on every domain.
func TestStarDotIsNotEveryDomain(t *testing.T) {
	in := "rules:\n  - domain: \"*.\"\n    role: owner\n    groups: [team-acme]\n"
	p, err := Parse([]byte(in), "policy.yaml")
	if err == nil {
		t.Fatalf("Parse(domain \"*.\") took it: %q; role of team-acme on other.example = %v; want it refused as \"*.example.com\" is",
			p.Rules(), p.Role(Subject{Groups: []string{"team-acme"}}, "other.example"))
	}
}

// README: the policy "is checked at start-up with line-precise errors". A file saved in a legacy
// encoding (an accented letter in a comment, in Windows-1252) is refused with no line at all.
func TestNonUTF8ByteNamesItsLine(t *testing.T) {
	in := "admins:\n  groups: [smtp-admins]\n# Zust\xe4ndig: das Mail-Team\nrules: []\n"
	_, err := Parse([]byte(in), "policy.yaml")
	if err == nil || !strings.HasPrefix(err.Error(), "policy.yaml:3:") {
		t.Errorf("Parse = %v; want the error at policy.yaml:3, the line with the byte that is not UTF-8", err)
	}
}

// TestEmailAsAMailClientWritesItIsRefused: an e-mail entry written as an address book or a mail
// client has it ("mailto:…", "<…>", a display name, two with a comma) or with a final dot was
// taken, and matched nobody's ID token without a word.
func TestEmailAsAMailClientWritesItIsRefused(t *testing.T) {
	for _, e := range []string{"mailto:root@corp.example", "<root@corp.example>", "Root <root@corp.example>",
		"root@corp.example, ops@corp.example", "root@corp.example.", "root@.corp.example", "root@corp..example", `"root"@corp.example`} {
		in := "admins:\n  emails:\n    - '" + strings.ReplaceAll(e, "'", "''") + "'\n"
		if _, err := Parse([]byte(in), "policy.yaml"); err == nil || !strings.HasPrefix(err.Error(), "policy.yaml:3: ") {
			t.Errorf("Parse(admins.emails %q) = %v; want it refused at line 3", e, err)
		}
	}
	for _, e := range []string{"root@corp.example", "Root.Name+smtp@Corp.Example", "anna@bücher.example", "root@localhost"} {
		in := "admins:\n  emails: ['" + e + "']\n"
		if _, err := Parse([]byte(in), "policy.yaml"); err != nil {
			t.Errorf("Parse(admins.emails %q) = %v; want it taken", e, err)
		}
	}
}

// TestJSONRewriteLeavesYAMLFlowScalarsAlone: the JSON escape rewrite once treated every file that began with
// "{" as JSON and tracked strings by
// counting '"' alone. In a YAML flow mapping a '"' in a comment flips its count, and a
// single-quoted scalar (where a backslash is a backslash) is then rewritten: the group
// 'CORP\/admins' became "CORP/admins".
func TestJSONRewriteLeavesYAMLFlowScalarsAlone(t *testing.T) {
	in := "{\n  # groups as AD names them: \"DOMAIN\\group\n  admins: {groups: ['CORP\\/admins']},\n  rules: []\n}\n"
	p, err := Parse([]byte(in), "policy.yaml")
	if err != nil {
		t.Fatalf("Parse = %v", err)
	}
	if !p.IsAdmin(Subject{Groups: []string{`CORP\/admins`}}) {
		t.Errorf("group 'CORP\\/admins' (single-quoted: a backslash and a slash) is not an admin group; rewritten as %v", p.Rules())
	}
}

// TestJSONWithTrailingCommaAndSlashEscape: a JSON policy as PHP writes it ("\/"), hand-edited
// with a trailing comma (which YAML's flow collections take), is read: encoding/json refuses it
// whole, so its escapes were left to yaml.v3, which refused "\/".
func TestJSONWithTrailingCommaAndSlashEscape(t *testing.T) {
	in := "{\n  \"admins\": {\"groups\": [\"\\/mail-team\"]},\n  \"self_service\": false,\n  \"rules\": [],\n}\n"
	p, err := Parse([]byte(in), "policy.json")
	if err != nil {
		t.Fatalf("Parse = %v", err)
	}
	if !p.IsAdmin(Subject{Groups: []string{"/mail-team"}}) {
		t.Errorf("group /mail-team is not an admin group")
	}
	// The same without the trailing comma is read.
	in2 := "{\n  \"admins\": {\"groups\": [\"\\/mail-team\"]},\n  \"self_service\": false,\n  \"rules\": []\n}\n"
	if _, err := Parse([]byte(in2), "policy.json"); err != nil {
		t.Fatalf("Parse (valid JSON) = %v", err)
	}
}
