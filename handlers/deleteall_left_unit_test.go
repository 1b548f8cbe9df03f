package handlers

import (
	"testing"
	"time"

	"github.com/smtpdesk/smtpdesk/mailgun"
	"github.com/smtpdesk/smtpdesk/store"
)

// TestDeletedAllLeft: delete-all's flash calls the system logins kept and names any other login
// still listed apart, with how many more there are beyond the names and the page read, in a
// warning: only the system logins left is a success.
func TestDeletedAllLeft(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	rot := rotation{system: map[string]store.MarkedOK{"relay@ex.com": {At: at, Completed: at.Add(time.Second)}}}
	list := func(total int, logins ...string) *mailgun.CredentialList {
		l := &mailgun.CredentialList{TotalCount: total}
		for _, lg := range logins {
			l.Items = append(l.Items, mailgun.Credential{Login: lg, CreatedAt: at})
		}
		return l
	}
	const done = "Deleted 9 logins from ex.com."
	tests := []struct {
		name string
		left *mailgun.CredentialList
		want string
		kind string
	}{
		{"system logins only", list(2, "postmaster@ex.com", "relay@ex.com"),
			"Deleted 9 logins; postmaster@ex.com, relay@ex.com kept.", "success"},
		{"system logins, more unread", list(6, "postmaster@ex.com", "relay@ex.com"),
			"Deleted 9 logins; postmaster@ex.com, relay@ex.com and 4 more kept.", "success"},
		{"one other", list(2, "postmaster@ex.com", "late@ex.com"),
			"Deleted 9 logins; postmaster@ex.com kept. late@ex.com is still listed: created while the delete was on its way, or left by Mailgun. Delete it on its own if it should go.", "warning"},
		{"others only", list(5, "a@ex.com", "b@ex.com", "c@ex.com", "d@ex.com"),
			done + " a@ex.com, b@ex.com, c@ex.com and 2 more are still listed: created while the delete was on its way, or left by Mailgun. Delete them on their own if they should go.", "warning"},
		{"one other, one unread", list(2, "late@ex.com"),
			done + " late@ex.com and 1 more are still listed: created while the delete was on its way, or left by Mailgun. Delete them on their own if they should go.", "warning"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, kind := deletedAllLeft(done, "9 logins", tt.left, rot)
			if got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
			if kind != tt.kind {
				t.Errorf("kind = %q, want %q", kind, tt.kind)
			}
		})
	}
}
