package mailgun_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/smtpdesk/smtpdesk/mailgun"
)

func TestValidateDomain(t *testing.T) {
	long := strings.Repeat(strings.Repeat("a", 63)+".", 3) + strings.Repeat("b", 61) // 253 bytes
	tests := []struct {
		in      string
		wantErr string // "" = valid; otherwise a phrase the message must contain
	}{
		{"example.com", ""},
		{"mg.example.co.uk", ""},
		{"sub_domain.example", ""},
		{"xn--bcher-kva.example", ""},
		{"A", ""},
		{long, ""},
		{"", "is empty"},
		{long + "c", "bytes long"},
		{"exa mple.com", "only letters"},
		{"example.com/x", "only letters"},
		{"a@example.com", "only letters"},
		{"ex%2Fmple.com", "only letters"},
		{"ex\nample.com", "U+000A"},
		{"ex\x7fample.com", "U+007F"},
		{"bücher.example", "non-ASCII"},
		{".", "empty label"},
		{"..", "empty label"},
		{".example.com", "empty label"},
		{"example.com.", "empty label"},
		{"example..com", "empty label"},
		{strings.Repeat("a", 64) + ".com", "label of 64 bytes"},
	}
	for _, tt := range tests {
		err := mailgun.ValidateDomain(tt.in)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("ValidateDomain(%q) = %v, want nil", tt.in, err)
		case tt.wantErr != "" && (!errors.Is(err, mailgun.ErrInvalidInput) || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("ValidateDomain(%q) = %v, want ErrInvalidInput saying %q", tt.in, err, tt.wantErr)
		}
	}
}

func TestValidateSpec(t *testing.T) {
	tests := []struct {
		in      string
		wantErr string
	}{
		{"alice", ""},
		{" ", "white space"},
		{"al ice@example.com", "white space"},
		{"alice\u00a0", "white space"},
		{"alice@example.com", ""},
		{"first.last+tag@example.com", ""},
		{"a b", "white space"},
		{"a%40b", ""},
		{"üser", ""},
		{"...", ""},
		{strings.Repeat("a", 255), ""},
		{"", "is empty"},
		{strings.Repeat("a", 256), "256 bytes long"},
		{".", `must not be "."`},
		{"..", `must not be ".."`},
		{"a/b", "slashes"},
		{`a\b`, "slashes"},
		{"a@b@c", "2 '@' signs"},
		{"@example.com", "nothing before '@'"},
		{"alice@", "nothing after '@'"},
		{"a\rb", "U+000D"},
		{"a\nb", "U+000A"},
		{"\tab", "U+0009"},
		{"a\x7f", "U+007F"},
		{"a\u0085", "U+0085"},
		{"a\x00", "U+0000"},
		{"a\xffb", "not valid UTF-8"},
		{"alice\u202e@example.com", "invisible formatting character (U+202E)"},
		{"al\u200bice", "U+200B"},
		{"\ufeffalice", "U+FEFF"},
		{"ali\u00adce", "U+00AD"},
	}
	for _, tt := range tests {
		err := mailgun.ValidateSpec(tt.in)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("ValidateSpec(%q) = %v, want nil", tt.in, err)
		case tt.wantErr != "" && (!errors.Is(err, mailgun.ErrInvalidInput) || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("ValidateSpec(%q) = %v, want ErrInvalidInput saying %q", tt.in, err, tt.wantErr)
		}
	}
}
