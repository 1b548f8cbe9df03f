package mailgun

import (
	"fmt"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Length limits for path segments.
const (
	maxDomainBytes = 253
	maxLabelBytes  = 63
	maxSpecBytes   = 255
)

// ValidateDomain checks a sending domain before it goes into a URL path: 1 to 253 bytes of
// hostname characters (ASCII letters, digits, '-', '_' and '.'), in dot-separated labels of
// 1 to 63 bytes (so no leading, trailing or doubled dot, and never "." or ".."). Errors wrap
// ErrInvalidInput and say what is wrong without echoing the input.
func ValidateDomain(s string) error {
	switch {
	case s == "":
		return fmt.Errorf("%w: domain is empty", ErrInvalidInput)
	case len(s) > maxDomainBytes:
		return fmt.Errorf("%w: domain is %d bytes long; at most %d are allowed", ErrInvalidInput, len(s), maxDomainBytes)
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !isHostByte(b) {
			return fmt.Errorf("%w: domain has %s at byte %d; only letters, digits, '-', '_' and '.' are allowed",
				ErrInvalidInput, describeByte(s, i), i)
		}
	}
	for label := range strings.SplitSeq(s, ".") {
		switch {
		case label == "":
			return fmt.Errorf("%w: domain has an empty label (a leading, trailing or doubled '.')", ErrInvalidInput)
		case len(label) > maxLabelBytes:
			return fmt.Errorf("%w: domain has a label of %d bytes; at most %d are allowed", ErrInvalidInput, len(label), maxLabelBytes)
		}
	}
	return nil
}

func isHostByte(b byte) bool {
	return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || b == '-' || b == '.' || b == '_'
}

// ValidateSpec checks a login specification (a local part such as "alice" or a full address
// such as "alice@example.com") before it goes into a URL path or a form: 1 to 255 bytes of
// valid UTF-8, no control characters (including tab, CR, LF and DEL), white space or invisible
// formatting characters (bidi overrides, zero-width spaces), no '/' or '\', at most
// one '@' with something on both sides of it, and not "." or "..". Errors wrap
// ErrInvalidInput and say what is wrong without echoing the input.
func ValidateSpec(s string) error {
	return validateLogin("spec", s)
}

// validateLogin is ValidateSpec with the name of the thing checked in its messages.
func validateLogin(what, s string) error {
	switch {
	case s == "":
		return fmt.Errorf("%w: %s is empty", ErrInvalidInput, what)
	case len(s) > maxSpecBytes:
		return fmt.Errorf("%w: %s is %d bytes long; at most %d are allowed", ErrInvalidInput, what, len(s), maxSpecBytes)
	case !utf8.ValidString(s):
		return fmt.Errorf("%w: %s is not valid UTF-8", ErrInvalidInput, what)
	case s == "." || s == "..":
		return fmt.Errorf("%w: %s must not be %q", ErrInvalidInput, what, s)
	}
	for i, r := range s {
		switch {
		case unicode.IsControl(r):
			return fmt.Errorf("%w: %s has a control character (%U) at byte %d", ErrInvalidInput, what, r, i)
		case r == '/' || r == '\\':
			return fmt.Errorf("%w: %s has %q at byte %d; slashes are not allowed", ErrInvalidInput, what, r, i)
		case unicode.IsSpace(r):
			// No SMTP login has white space; " " would otherwise reach Mailgun as a login.
			return fmt.Errorf("%w: %s has white space at byte %d", ErrInvalidInput, what, i)
		case unicode.Is(unicode.Cf, r):
			// Invisible formatting (bidi overrides, zero-width spaces, a BOM): no SMTP login
			// has it, and it makes a login, here and in the audit trail, read as another.
			return fmt.Errorf("%w: %s has an invisible formatting character (%U) at byte %d", ErrInvalidInput, what, r, i)
		}
	}
	switch n := strings.Count(s, "@"); {
	case n > 1:
		return fmt.Errorf("%w: %s has %d '@' signs; at most one is allowed", ErrInvalidInput, what, n)
	case n == 1:
		local, domain, _ := strings.Cut(s, "@")
		if local == "" {
			return fmt.Errorf("%w: %s has nothing before '@'", ErrInvalidInput, what)
		}
		if domain == "" {
			return fmt.Errorf("%w: %s has nothing after '@'", ErrInvalidInput, what)
		}
	}
	return nil
}

// describeByte names s[i] for an error message: printable ASCII quoted, anything else as a
// code (never the raw byte, which could break a log line).
func describeByte(s string, i int) string {
	b := s[i]
	if b > ' ' && b < 0x7f {
		return fmt.Sprintf("%q", rune(b))
	}
	if b < 0x80 {
		return fmt.Sprintf("the character %U", rune(b))
	}
	return "a non-ASCII character"
}

// credentialsPath is the collection URL path: /v3/domains/{domain}/credentials.
func credentialsPath(domain string) (string, error) {
	if err := ValidateDomain(domain); err != nil {
		return "", err
	}
	return "/v3/domains/" + url.PathEscape(domain) + "/credentials", nil
}

// credentialPath is a single credential's URL path: /v3/domains/{domain}/credentials/{spec}.
// Both segments are validated and escaped, so no input can produce the collection URL.
func credentialPath(domain, spec string) (string, error) {
	if err := ValidateDomain(domain); err != nil {
		return "", err
	}
	if err := ValidateSpec(spec); err != nil {
		return "", err
	}
	return singlePath("/v3/domains/"+url.PathEscape(domain)+"/credentials/", spec)
}

// mailboxPath is the older single-credential route: /v3/{domain}/mailboxes/{spec}.
func mailboxPath(domain, spec string) (string, error) {
	if err := ValidateDomain(domain); err != nil {
		return "", err
	}
	if err := ValidateSpec(spec); err != nil {
		return "", err
	}
	return singlePath("/v3/"+url.PathEscape(domain)+"/mailboxes/", spec)
}

// singlePath appends the escaped spec to prefix, re-checking the one property that matters
// most: the last segment is non-empty and is not a dot segment.
func singlePath(prefix, spec string) (string, error) {
	seg := url.PathEscape(spec)
	if seg == "" || seg == "." || seg == ".." || strings.Contains(seg, "/") {
		return "", fmt.Errorf("%w: spec does not make a single path segment", ErrInvalidInput)
	}
	return prefix + seg, nil
}

func isControl(r rune) bool { return unicode.IsControl(r) }
