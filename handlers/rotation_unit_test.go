package handlers

import (
	"testing"
	"time"

	"github.com/smtpdesk/smtpdesk/mailgun"
	"github.com/smtpdesk/smtpdesk/store"
)

// TestRotationOf: a password is marked "consider rotating" when it was set before the cutoff
// (AgeWarningDays ago), not at it; a reset counts only when newer than the login's creation (one
// no newer is of an earlier login of that name), and a login without a creation time or a reset
// has no age.
func TestRotationOf(t *testing.T) {
	cutoff := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	r := rotation{cutoff: cutoff, sets: map[string]time.Time{
		"reset@example.com":   cutoff.Add(time.Hour),
		"same@example.com":    cutoff.Add(-time.Hour),
		"earlier@example.com": cutoff.Add(-2 * time.Hour),
	}}
	for _, tt := range []struct {
		name      string
		cr        mailgun.Credential
		wantSetAt time.Time
		wantOld   bool
	}{
		{"created before the cutoff", mailgun.Credential{Login: "a@example.com", CreatedAt: cutoff.Add(-time.Second)}, time.Time{}, true},
		{"created at the cutoff", mailgun.Credential{Login: "a@example.com", CreatedAt: cutoff}, time.Time{}, false},
		{"created after the cutoff", mailgun.Credential{Login: "a@example.com", CreatedAt: cutoff.Add(time.Second)}, time.Time{}, false},
		{"old, reset since", mailgun.Credential{Login: "RESET@Example.com", CreatedAt: cutoff.Add(-time.Hour)}, cutoff.Add(time.Hour), false},
		{"reset at its creation", mailgun.Credential{Login: "same@example.com", CreatedAt: cutoff.Add(-time.Hour)}, time.Time{}, true},
		{"reset before its creation", mailgun.Credential{Login: "earlier@example.com", CreatedAt: cutoff.Add(-time.Hour)}, time.Time{}, true},
		{"no creation time", mailgun.Credential{Login: "a@example.com"}, time.Time{}, false},
	} {
		setAt, old := r.of(tt.cr)
		if !setAt.Equal(tt.wantSetAt) || old != tt.wantOld {
			t.Errorf("%s: of = %v, %v; want %v, %v", tt.name, setAt, old, tt.wantSetAt, tt.wantOld)
		}
	}
}

// TestRotationIsSystem: a login SMTP Desk created as a system login is one when Mailgun's
// created_at falls between the create's entry and its completion, give or take systemSlack (the
// two clocks differ); one created outside that is a login of the same name made again.
func TestRotationIsSystem(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	r := rotation{system: map[string]store.MarkedOK{"relay@example.com": {At: at, Completed: at.Add(2 * time.Second)}}}
	for _, tt := range []struct {
		name    string
		created time.Time
		want    bool
	}{
		{"during the create", at.Add(time.Second), true},
		{"Mailgun's clock behind", at.Add(-systemSlack), true},
		{"Mailgun's clock ahead", at.Add(2*time.Second + systemSlack), true},
		{"made again later", at.Add(2*time.Second + systemSlack + time.Second), false},
		{"an older login of that name", at.Add(-systemSlack - time.Second), false},
	} {
		if got := r.isSystem(mailgun.Credential{Login: "Relay@example.com", CreatedAt: tt.created}); got != tt.want {
			t.Errorf("%s: isSystem = %v, want %v", tt.name, got, tt.want)
		}
	}
}
