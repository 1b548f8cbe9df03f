package handlers

import (
	"slices"
	"testing"
	"time"

	"github.com/smtpdesk/smtpdesk/store"
)

// TestAuditCSVTimesSortAsText: the audit CSV's time and completed_at cells sort as text in the
// order of the times they hold (a reviewer sorts the column in a spreadsheet or with sort(1)),
// and read back exactly.
func TestAuditCSVTimesSortAsText(t *testing.T) {
	base := time.Date(2026, 3, 14, 15, 4, 16, 0, time.UTC)
	times := []time.Time{base, base.Add(500 * time.Millisecond), base.Add(500010 * time.Microsecond), base.Add(time.Second)}
	var at, done []string
	for _, tm := range times {
		completed := tm.Add(time.Millisecond)
		r := csvRecord(store.AuditEntry{Time: tm, CompletedAt: &completed})
		at, done = append(at, r[1]), append(done, r[len(r)-1])
		for _, cell := range []struct {
			text string
			want time.Time
		}{{r[1], tm}, {r[len(r)-1], completed}} {
			got, err := time.Parse(time.RFC3339Nano, cell.text)
			if err != nil || !got.Equal(cell.want) {
				t.Errorf("cell %q reads back as %v (%v), want %v", cell.text, got, err, cell.want)
			}
		}
	}
	for _, col := range [][]string{at, done} {
		if !slices.IsSorted(col) {
			t.Errorf("cells %q do not sort as text in the order of their times", col)
		}
	}
}
