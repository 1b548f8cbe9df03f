package config

import (
	"slices"
	"testing"
)

// TestMisspelt: a name one or two edits from a setting's (a letter missing, added, changed, two
// swapped) is named with the setting meant; a setting, a name too far from any, and a short one
// are not.
func TestMisspelt(t *testing.T) {
	got := Misspelt([]string{
		"AUDIT_RETENTON", "MAILGUN_REGOIN", "SESSION_MAX_AGES", "OIDC_SCOPE", "LOG_LEVLE", "DATABASE_URI", "GOMEMLIMT",
		"AUDIT_RETENTION", "GOMEMLIMIT", "PATH", "HOME", "GOPATH", "MAILGUN_DOMAIN", "HOSTNAME", "PGHOST", "GOGC", "TERM",
	})
	want := []string{
		"AUDIT_RETENTON is not a setting of SMTP Desk and is ignored; did you mean AUDIT_RETENTION?",
		"MAILGUN_REGOIN is not a setting of SMTP Desk and is ignored; did you mean MAILGUN_REGION?",
		"SESSION_MAX_AGES is not a setting of SMTP Desk and is ignored; did you mean SESSION_MAX_AGE?",
		"OIDC_SCOPE is not a setting of SMTP Desk and is ignored; did you mean OIDC_SCOPES?",
		"LOG_LEVLE is not a setting of SMTP Desk and is ignored; did you mean LOG_LEVEL?",
		"DATABASE_URI is not a setting of SMTP Desk and is ignored; did you mean DATABASE_URL?",
		"GOMEMLIMT is not a setting of SMTP Desk and is ignored; did you mean GOMEMLIMIT?",
	}
	if !slices.Equal(got, want) {
		t.Errorf("Misspelt =\n%q\nwant\n%q", got, want)
	}
	for _, tt := range []struct {
		a, b string
		want int
	}{
		{"abc", "abc", 0}, {"abc", "acb", 1}, {"abc", "ab", 1}, {"abc", "abcd", 1}, {"abc", "xbc", 1},
		{"abcd", "badc", 2}, {"abc", "xyz", 3}, {"a", "abcdef", 3},
	} {
		if got := editDistance(tt.a, tt.b, 3); got != tt.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}
