package handlers

import (
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/smtpdesk/smtpdesk/mailgun"
	"github.com/smtpdesk/smtpdesk/store"
)

// TestRanSince: an action ran at the same moment as one begun at began when it began then or
// since, or began before and finished at or after it, or is still pending and began less than
// resetOverlapWindow before it (an entry left pending by a crash long ago is no such action).
func TestRanSince(t *testing.T) {
	began := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *time.Time { t := began.Add(d); return &t }
	for _, tt := range []struct {
		name string
		e    store.AuditEntry
		want bool
	}{
		{"begun at the same instant", store.AuditEntry{Time: began, CompletedAt: at(time.Second)}, true},
		{"begun since", store.AuditEntry{Time: began.Add(time.Second), CompletedAt: at(2 * time.Second)}, true},
		{"finished before", store.AuditEntry{Time: began.Add(-2 * time.Second), CompletedAt: at(-time.Second)}, false},
		{"finished at the same instant", store.AuditEntry{Time: began.Add(-2 * time.Second), CompletedAt: at(0)}, true},
		{"finished after", store.AuditEntry{Time: began.Add(-2 * time.Second), CompletedAt: at(time.Second)}, true},
		{"pending, begun just before", store.AuditEntry{Time: began.Add(-time.Minute)}, true},
		{"pending, begun a window before", store.AuditEntry{Time: began.Add(-resetOverlapWindow)}, false},
		{"pending since long ago", store.AuditEntry{Time: began.Add(-time.Hour)}, false},
		// The clock set back while it ran (its end written before its start): begun since is
		// enough.
		{"begun since, ended on a clock set back", store.AuditEntry{Time: began.Add(time.Second), CompletedAt: at(-time.Second)}, true},
		{"begun at the same instant, ended on a clock set back", store.AuditEntry{Time: began, CompletedAt: at(-time.Second)}, true},
	} {
		if got := ranSince(tt.e, began); got != tt.want {
			t.Errorf("%s: ranSince = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestChangedLogins: ?changed= names at most maxChanged logins, folded to lower case; blank ones
// do not count.
func TestChangedLogins(t *testing.T) {
	q := url.Values{changedParam: {" ", "Alice@Example.com"}}
	for i := range maxChanged + 2 {
		q.Add(changedParam, fmt.Sprintf("u%02d@example.com", i))
	}
	got := changedLogins(q)
	if len(got) != maxChanged || got[""] || !got["alice@example.com"] || got[fmt.Sprintf("u%02d@example.com", maxChanged-1)] {
		t.Errorf("changedLogins = %v, want alice@example.com and u00..u%02d@example.com", got, maxChanged-2)
	}
}

// TestHiddenChanged: the note says which logins just changed the view leaves out, and why: the
// filter, or the "To rotate" view; nothing when the view shows one of them.
func TestHiddenChanged(t *testing.T) {
	all := []mailgun.Credential{{Login: "alice@example.com"}, {Login: "bob@example.com"}, {Login: "zed@example.com"}}
	set := func(logins ...string) map[string]bool {
		m := map[string]bool{}
		for _, l := range logins {
			m[l] = true
		}
		return m
	}
	for _, tt := range []struct {
		name    string
		shown   []mailgun.Credential
		changed map[string]bool
		filter  string
		rotate  bool
		want    string
	}{
		{"shown", all[:1], set("alice@example.com"), "ali", false, ""},
		{"left out by the filter", all[:1], set("zed@example.com"), "ali", false,
			"zed@example.com is not in this list: the filter “ali” leaves it out. Clear the filter to see it."},
		{"two left out by the filter", all[:1], set("bob@example.com", "zed@example.com"), "ali", false,
			"The 2 logins just changed are not in this list: the filter “ali” leaves them out. Clear the filter to see them."},
		{"matched by the filter, left out by the rotation", nil, set("zed@example.com"), "zed", true,
			"zed@example.com is not in this list: a password set now is not due for rotation."},
		{"shown in the rotation view", all[2:], set("zed@example.com"), "", true, ""},
		{"not a login of the domain", all[:1], set("made-up@example.com"), "ali", false, ""},
	} {
		if got := hiddenChanged(all, tt.shown, tt.changed, tt.filter, tt.rotate); got != tt.want {
			t.Errorf("%s: hiddenChanged = %q, want %q", tt.name, got, tt.want)
		}
	}
}
