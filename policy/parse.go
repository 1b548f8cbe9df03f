package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// ErrInvalid is wrapped by every validation error Parse returns.
var ErrInvalid = errors.New("invalid policy")

// parseError is a validation error at a line of the policy file.
type parseError struct {
	name string
	line int
	msg  string
}

func (e *parseError) Error() string {
	if e.line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.name, e.line, e.msg)
	}
	return fmt.Sprintf("%s: %s", e.name, e.msg)
}

func (e *parseError) Unwrap() error { return ErrInvalid }

type parser struct{ name string }

func (ps parser) errf(n *yaml.Node, format string, args ...any) error {
	line := 0
	if n != nil {
		line = n.Line
	}
	return &parseError{name: ps.name, line: line, msg: fmt.Sprintf(format, args...)}
}

// Parse parses and validates a policy document (YAML or JSON). name is the file name used in
// error messages, e.g. `policy.yaml:7: unknown role "opertor" (want viewer, operator or owner)`.
func Parse(data []byte, name string) (*Policy, error) {
	if name == "" {
		name = "policy"
	}
	ps := parser{name: name}
	if err := ps.notUTF8(data); err != nil {
		return nil, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	err := dec.Decode(&doc)
	if err != nil && !errors.Is(err, io.EOF) && jsonEscapeRefused(data, err) {
		// JSON, whose escapes yaml.v3 does not all take (rewriteJSONEscapes): read again with
		// them rewritten, and keep that reading only when it is one. A document yaml.v3 reads
		// as it is, a YAML flow mapping with single-quoted scalars (where "\/" is a backslash
		// and a slash) among them, is never rewritten.
		again := yaml.NewDecoder(bytes.NewReader(rewriteJSONEscapes(data)))
		var doc2 yaml.Node
		if err2 := again.Decode(&doc2); err2 == nil || errors.Is(err2, io.EOF) {
			dec, doc, err = again, doc2, err2
		}
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, ps.syntaxError(data, err)
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, ps.errf(nil, "the policy file is empty (want admins, self_service and rules)")
	}
	// A second document ("---" then more YAML) would be ignored, and with it whatever rules
	// or admins it holds: refuse it rather than grant less than the file seems to say.
	var more yaml.Node
	if err := dec.Decode(&more); err != nil && !errors.Is(err, io.EOF) {
		return nil, ps.syntaxError(data, err)
	} else if err == nil && len(more.Content) > 0 && !isNull(more.Content[0]) {
		return nil, ps.errf(more.Content[0], "a second YAML document starts here (after a \"---\" line); the policy is one document: remove the \"---\" and merge its keys into the first")
	}
	// Anchors, aliases and merge keys would be read as what they stand for by a YAML library,
	// but each check below reads the nodes as written: an alias where a list goes was "groups
	// must be a list", a merge key an unknown key. They are refused by name instead.
	if n := firstAlias(&doc); n != nil {
		return nil, ps.errf(n, "YAML anchors, aliases and merge keys (&name, *name, <<) are not supported in the policy; write the value out in full")
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, ps.errf(root, "the policy must be a mapping with admins, self_service and rules")
	}
	p := &Policy{name: name}
	err = ps.eachKey(root, func(key string, k, v *yaml.Node) error {
		switch key {
		case "admins":
			m, err := ps.matcher(v, "admins")
			if err != nil {
				return err
			}
			p.admins = m
		case "self_service":
			b, err := ps.boolean(v, "self_service")
			if err != nil {
				return err
			}
			p.selfService = b
		case "rules":
			rules, err := ps.rules(v)
			if err != nil {
				return err
			}
			p.rules = rules
		default:
			return ps.errf(k, "unknown key %q (want admins, self_service or rules)", key)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null" && (n.Value == "" || n.Value == "~" || n.Value == "null")
}

// yamlLine matches the line yaml.v3 puts in a syntax error.
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntaxError turns a YAML syntax error into a parseError at its line. yaml.v3 names the line
// where the construct it was reading began, which can be above the mistake (a badly indented
// key is reported at the start of its list), so the message says to look below it too. A tab
// in the indentation, the commonest such mistake, is found and named exactly.
func (ps parser) syntaxError(data []byte, err error) error {
	m := yamlLine.FindStringSubmatch(err.Error())
	msg, line := strings.TrimPrefix(err.Error(), "yaml: "), 1 // no line named: look from the top
	if m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
		if yamlParserProblems[msg] {
			// yaml.v3 counts a parser's (not a scanner's) error line from 0 (decode.go, fail):
			// the line named was the one above the construct, which held no mistake. At the end
			// of the file, that is the line after the last: the last is named.
			line = min(line+1, lastLine(data))
		}
	}
	if bareStarError(msg) {
		if star := bareStarLine(data, line); star > 0 {
			return &parseError{name: ps.name, line: star, msg: bareStarMsg}
		}
	}
	if m == nil {
		return &parseError{name: ps.name, msg: "YAML syntax error: " + msg}
	}
	if strings.Contains(msg, "tab character") {
		if tab := tabIndentedLine(data, line); tab > 0 {
			return &parseError{name: ps.name, line: tab, msg: "YAML syntax error: a tab in the indentation; indent with spaces only"}
		}
	}
	return &parseError{name: ps.name, line: line, msg: "YAML syntax error: " + msg + " (on this line or below it: check the indentation and brackets)"}
}

// lastLine is the number of data's last line (1 for an empty file).
func lastLine(data []byte) int {
	n := bytes.Count(data, []byte("\n"))
	if !bytes.HasSuffix(data, []byte("\n")) {
		n++
	}
	return max(n, 1)
}

// yamlParserProblems are the messages of yaml.v3's parser, as against its scanner's, whose error
// lines it counts from 0 (parserc.go's yaml_parser_set_parser_error calls).
var yamlParserProblems = map[string]bool{
	"did not find expected ',' or ']'":       true,
	"did not find expected ',' or '}'":       true,
	"did not find expected '-' indicator":    true,
	"did not find expected <document start>": true,
	"did not find expected <stream-start>":   true,
	"did not find expected key":              true,
	"did not find expected node content":     true,
	"found duplicate %TAG directive":         true,
	"found duplicate %YAML directive":        true,
	"found incompatible YAML document":       true,
	"found undefined tag handle":             true,
}

// notUTF8 refuses a file that is neither UTF-8 nor UTF-16 (with its byte-order mark, which
// yaml.v3 reads) at the line of its first byte that is not UTF-8: yaml.v3 names no line, and a
// file saved in Windows-1252 (an accented letter in a comment) had to be searched by hand.
func (ps parser) notUTF8(data []byte) error {
	if bytes.HasPrefix(data, []byte{0xFE, 0xFF}) || bytes.HasPrefix(data, []byte{0xFF, 0xFE}) || utf8.Valid(data) {
		return nil
	}
	line := 1
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size <= 1 {
			return &parseError{name: ps.name, line: line, msg: fmt.Sprintf("a byte that is not UTF-8 (0x%02X): save the file as UTF-8", data[i])}
		}
		if r == '\n' {
			line++
		}
		i += size
	}
	return nil
}

// jsonEscapeRefused reports whether yaml.v3 refused an escape of JSON's in data, a document
// that begins as JSON does ("{" or "[").
func jsonEscapeRefused(data []byte, err error) bool {
	body := bytes.TrimLeft(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")), " \t\r\n")
	msg := err.Error()
	return len(body) > 0 && (body[0] == '{' || body[0] == '[') &&
		(strings.Contains(msg, "found unknown escape character") || strings.Contains(msg, "found invalid Unicode character escape code"))
}

// rewriteJSONEscapes rewrites the two string escapes JSON has and yaml.v3 refuses: "\/" (PHP's
// json_encode writes every "/" so, and groups such as Keycloak's "/mail-team" have them) becomes
// "/", and a surrogate pair ("\ud83d\udce7", as Python's json.dumps writes a character beyond
// the BMP) the one character's "\U0001f4e7". Strings are found by their double quotes alone, as
// in JSON. Nothing else changes, line breaks least of all, so errors keep their lines.
func rewriteJSONEscapes(data []byte) []byte {
	out := make([]byte, 0, len(data))
	inString := false
	for i := 0; i < len(data); i++ {
		c := data[i]
		switch {
		case !inString:
			inString = c == '"'
		case c == '"':
			inString = false
		case c == '\\' && i+1 < len(data):
			if data[i+1] == '/' {
				out = append(out, '/')
				i++
				continue
			}
			if hi, ok := jsonU(data[i:]); ok && utf16.IsSurrogate(rune(hi)) {
				if lo, ok := jsonU(data[i+6:]); ok && hi < 0xDC00 && lo >= 0xDC00 && lo <= 0xDFFF {
					out = fmt.Appendf(out, `\U%08x`, utf16.DecodeRune(rune(hi), rune(lo)))
					i += 11
					continue
				}
			}
			out = append(out, c, data[i+1])
			i++
			continue
		}
		out = append(out, c)
	}
	return out
}

// jsonU reads the JSON escape "\uXXXX" at the start of b.
func jsonU(b []byte) (uint16, bool) {
	if len(b) < 6 || b[0] != '\\' || b[1] != 'u' {
		return 0, false
	}
	v, err := strconv.ParseUint(string(b[2:6]), 16, 16)
	return uint16(v), err == nil
}

// bareStarMsg names the commonest policy mistake YAML reports in its own terms: `domain: *`
// written without quotes, which YAML reads as an alias ("*name") and refuses as "did not find
// expected alphabetic or numeric character", a message that sends one to the indentation.
const bareStarMsg = `YAML syntax error: an unquoted * (YAML reads *name as an alias); for every domain write "*" in quotes, as in domain: "*"`

// bareStarError reports whether yaml.v3's message is one an unquoted * at the start of a value
// gives: a lone or pattern-like * ("*", "*.example.com"), or "*name" with no such anchor.
func bareStarError(msg string) bool {
	return strings.Contains(msg, "did not find expected alphabetic or numeric character") ||
		strings.HasPrefix(msg, "unknown anchor")
}

// bareStar matches a value that starts with an unquoted *: after "key:", a list's "-", or a
// flow collection's "[", "{" or ",".
var bareStar = regexp.MustCompile(`(?:^\s*-\s+|:\s+|[\[{,]\s*)\*`)

// bareStarLine returns the number of the first line, from line from on, with a value that
// starts with an unquoted *; 0 when there is none.
func bareStarLine(data []byte, from int) int {
	for i, l := range strings.Split(string(data), "\n") {
		if i+1 >= from && bareStar.MatchString(l) {
			return i + 1
		}
	}
	return 0
}

// tabIndentedLine returns the number of the first line, from line from on, whose indentation
// holds a tab before some content; 0 when there is none.
func tabIndentedLine(data []byte, from int) int {
	for i, l := range strings.Split(string(data), "\n") {
		if i+1 < from {
			continue
		}
		rest := strings.TrimLeft(l, " \t")
		if rest != "" && strings.ContainsRune(l[:len(l)-len(rest)], '\t') {
			return i + 1
		}
	}
	return 0
}

// eachKey walks a mapping node, refusing non-string and duplicate keys.
func (ps parser) eachKey(m *yaml.Node, fn func(key string, k, v *yaml.Node) error) error {
	if m.Kind != yaml.MappingNode {
		return ps.errf(m, "expected a mapping")
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			return ps.errf(k, "keys must be plain names")
		}
		if seen[k.Value] {
			return ps.errf(k, "duplicate key %q", k.Value)
		}
		seen[k.Value] = true
		if err := fn(k.Value, k, v); err != nil {
			return err
		}
	}
	return nil
}

func (ps parser) boolean(v *yaml.Node, what string) (bool, error) {
	if v.Kind == yaml.ScalarNode {
		switch v.Value {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
	}
	return false, ps.errf(v, "%s must be true or false", what)
}

func (ps parser) strings(v *yaml.Node, what string) ([]string, error) {
	if v.Kind == yaml.ScalarNode && (v.Tag == "!!null" || v.Value == "") && v.Style == 0 {
		return nil, nil
	}
	if v.Kind != yaml.SequenceNode {
		return nil, ps.errf(v, "%s must be a list", what)
	}
	out := make([]string, 0, len(v.Content))
	for _, it := range v.Content {
		if it.Kind != yaml.ScalarNode || it.Tag == "!!null" {
			return nil, ps.errf(it, "%s entries must be strings", what)
		}
		s := strings.TrimSpace(it.Value)
		if s == "" {
			return nil, ps.errf(it, "%s entries must not be empty", what)
		}
		out = append(out, s)
	}
	return out, nil
}

func (ps parser) matcher(v *yaml.Node, what string) (matcher, error) {
	m := matcher{groups: map[string]bool{}, emails: map[string]bool{}}
	if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
		return m, nil
	}
	if v.Kind != yaml.MappingNode {
		// "admins: [smtp-admins]" is the natural first try; eachKey would say only
		// "expected a mapping".
		return m, ps.errf(v, "%s must be a mapping with groups and/or emails, not %s, as in %s: {groups: [smtp-admins]}", what, kindName(v), what)
	}
	err := ps.eachKey(v, func(key string, k, val *yaml.Node) error {
		switch key {
		case "groups":
			gs, err := ps.strings(val, what+".groups")
			if err != nil {
				return err
			}
			for _, g := range gs {
				m.groups[g] = true
			}
		case "emails":
			if err := ps.emails(val, what+".emails", m.emails); err != nil {
				return err
			}
		default:
			return ps.errf(k, "unknown key %q in %s (want groups or emails)", key, what)
		}
		return nil
	})
	return m, err
}

func (ps parser) emails(v *yaml.Node, what string, into map[string]bool) error {
	es, err := ps.strings(v, what)
	if err != nil {
		return err
	}
	for i, e := range es {
		if at := strings.IndexByte(e, '@'); at <= 0 || at != strings.LastIndexByte(e, '@') || at == len(e)-1 || strings.ContainsAny(e, " \t\r\n") {
			return ps.errf(v.Content[i], "%q is not an e-mail address", e)
		}
		// "*@corp.example" reads as "everyone at corp.example" but would match only that very
		// address, which nobody has: the rule would grant nothing, and say nothing. So would a
		// "*" anywhere in the domain ("root@corp.*"), which no domain name holds.
		local, dom, _ := strings.Cut(e, "@")
		if local == "*" || strings.Contains(dom, "*") {
			return ps.errf(v.Content[i], "%q is not an e-mail address: e-mails are matched exactly, with no patterns (for everyone at a domain, use a group)", e)
		}
		// As an address book or a mail client writes it ("mailto:", "<…>", "Name <…>", a list
		// with commas) or with a final dot, it matched nobody's ID token, and said nothing.
		if strings.ContainsAny(e, "<>()[],;:\"\\") ||
			strings.HasPrefix(dom, ".") || strings.HasSuffix(dom, ".") || strings.Contains(dom, "..") {
			return ps.errf(v.Content[i], "%q is not an e-mail address as an identity provider sends one: write it bare, as name@example.com (no \"mailto:\", angle brackets, commas or final dot)", e)
		}
		into[FoldEmail(e)] = true
	}
	return nil
}

func (ps parser) rules(v *yaml.Node) ([]rule, error) {
	if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
		return nil, nil
	}
	if v.Kind != yaml.SequenceNode {
		return nil, ps.errf(v, "rules must be a list")
	}
	out := make([]rule, 0, len(v.Content))
	for _, rn := range v.Content {
		if rn.Kind != yaml.MappingNode {
			return nil, ps.errf(rn, "each rule must be a mapping with domain, role, groups and emails")
		}
		r := rule{who: matcher{groups: map[string]bool{}, emails: map[string]bool{}}, line: rn.Line}
		var domainSet, roleSet bool
		err := ps.eachKey(rn, func(key string, k, val *yaml.Node) error {
			switch key {
			case "domain":
				if val.Kind != yaml.ScalarNode {
					return ps.errf(val, "domain must be one domain name or \"*\", not %s; write one rule per domain", kindName(val))
				}
				if strings.TrimSpace(val.Value) == "" || val.Tag == "!!null" {
					return ps.errf(val, "empty domain (want a domain name or \"*\")")
				}
				d := normalizeDomain(val.Value)
				if d == "*" && strings.TrimSpace(val.Value) != "*" {
					// "*." (a template's "*.{{ zone }}" with an empty zone) is no "*": it granted
					// the rule's role on every domain.
					return ps.errf(val, "invalid domain %q: \"*\" stands alone, for every domain; there are no other patterns (write each domain's own rule)", val.Value)
				}
				if d != "*" && !validDomain(d) {
					if !isASCII(d) {
						return ps.errf(val, "invalid domain %q: write a domain name in ASCII; an internationalized one in its ASCII form (xn--…), as Mailgun lists it", val.Value)
					}
					return ps.errf(val, "invalid domain %q (want a domain name such as mg.example.com, or \"*\")", val.Value)
				}
				r.domain, domainSet = d, true
			case "role":
				if val.Kind != yaml.ScalarNode {
					return ps.errf(val, "role must be one of viewer, operator or owner, not %s", kindName(val))
				}
				role, ok := roleByName(val)
				if !ok && val.Value == "admin" {
					return ps.errf(val, "unknown role \"admin\" (want viewer, operator or owner); administrators are listed under the top-level admins key, for every domain")
				}
				if !ok {
					return ps.errf(val, "unknown role %q (want viewer, operator or owner)", val.Value)
				}
				r.role, roleSet = role, true
			case "groups":
				gs, err := ps.strings(val, "groups")
				if err != nil {
					return err
				}
				for _, g := range gs {
					r.who.groups[g] = true
				}
			case "emails":
				return ps.emails(val, "emails", r.who.emails)
			default:
				return ps.errf(k, "unknown key %q in rule (want domain, role, groups or emails)", key)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		switch {
		case !domainSet:
			return nil, ps.errf(rn, "rule has no domain (want a domain name or \"*\")")
		case !roleSet:
			return nil, ps.errf(rn, "rule has no role (want viewer, operator or owner)")
		case len(r.who.groups) == 0 && len(r.who.emails) == 0:
			return nil, ps.errf(rn, "rule for %s names neither groups nor emails", r.domain)
		}
		out = append(out, r)
	}
	return out, nil
}

// firstAlias returns the first node under n that is an anchor, an alias or a merge key, or nil.
func firstAlias(n *yaml.Node) *yaml.Node {
	if n.Kind == yaml.AliasNode || n.Anchor != "" || n.Tag == "!!merge" {
		return n
	}
	for _, c := range n.Content {
		if a := firstAlias(c); a != nil {
			return a
		}
	}
	return nil
}

// kindName names a node that is not a plain value, for a message.
func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	case yaml.AliasNode:
		return "an alias (*name)"
	}
	return "a plain value"
}

func roleByName(v *yaml.Node) (Role, bool) {
	if v.Kind != yaml.ScalarNode {
		return RoleNone, false
	}
	switch v.Value {
	case "viewer":
		return RoleViewer, true
	case "operator":
		return RoleOperator, true
	case "owner":
		return RoleOwner, true
	}
	return RoleNone, false
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// validDomain accepts lower-case host names: dot-separated labels of letters, digits and
// hyphens, 1-63 bytes each, not starting or ending with a hyphen, 253 bytes at most.
func validDomain(d string) bool {
	if len(d) == 0 || len(d) > 253 {
		return false
	}
	for _, label := range strings.Split(d, ".") {
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}
