package handlers

import (
	"testing"

	"github.com/smtpdesk/smtpdesk/store"
)

// TestAuditScopeNoteNamesUpToFive: the scope note names the domains when there are at most
// scopeListMax of them, and counts them past that.
func TestAuditScopeNoteNamesUpToFive(t *testing.T) {
	five := []string{"a.example", "b.example", "c.example", "d.example", "e.example"}
	if got, _ := auditScopeNote(store.AuditFilter{Domains: five}); got != "You see only the entries of a.example, b.example, c.example, d.example and e.example, the domains you may view." {
		t.Errorf("five domains: %q", got)
	}
	if got, _ := auditScopeNote(store.AuditFilter{Domains: append(five, "f.example")}); got != "You see only the entries of the 6 domains you may view (the Domain filter lists them)." {
		t.Errorf("six domains: %q", got)
	}
}
