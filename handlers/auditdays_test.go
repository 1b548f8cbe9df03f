package handlers_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/smtpdesk/smtpdesk/handlers"
	"github.com/smtpdesk/smtpdesk/store"
)

// TestAuditDayWithTwoMidnights: on 29 October 2021 Amman's clocks went back from 01:00 EEST to
// 00:00 EET, so that day's local midnight happened twice: first at 21:00 UTC on the 28th (00:00
// EEST), then at 22:00 UTC (00:00 EET). The day begins at the first one. An entry at 21:30 UTC
// on the 28th is 00:30 on the 29th in Amman (and the page's script shows it so); the date filter
// put it in the 28th and left it out of the 29th, on the page and in the export.
func TestAuditDayWithTwoMidnights(t *testing.T) {
	e := newEnv(t, envOptions{Settings: handlers.Settings{ExportsPerMinute: 1000}})
	at := time.Date(2021, 10, 28, 21, 30, 0, 0, time.UTC)
	loc, err := time.LoadLocation("Asia/Amman")
	if err != nil {
		t.Fatal(err) // the Go toolchain's zoneinfo, or the system's
	}
	if got := at.In(loc).Format("2006-01-02 15:04 MST"); got != "2021-10-29 00:30 EEST" {
		t.Fatalf("tzdata: %s in Amman is %s", at, got)
	}
	if _, err := e.DB.AppendAudit(context.Background(), store.AuditEntry{Time: at, ActorEmail: "seed@test.example",
		Action: "credential.reset", Domain: "acme.example", Logins: []string{"a@acme.example"}, Outcome: "ok"}); err != nil {
		t.Fatal(err)
	}
	admin := e.signIn(t, "admin")
	for _, tc := range []struct {
		query string
		want  int
	}{
		{"from=2021-10-29&to=2021-10-29&tz=Asia%2FAmman", 1}, // the entry's day in Amman
		{"from=2021-10-28&to=2021-10-28&tz=Asia%2FAmman", 0}, // the day before
	} {
		p := get(t, admin, "/audit?"+tc.query)
		wantStatus(t, p, http.StatusOK)
		if got := p.TestID("audit-row").Length(); got != tc.want {
			t.Errorf("/audit?%s: %d rows, want %d", tc.query, got, tc.want)
		}
		csv := get(t, admin, "/audit/export.csv?"+tc.query)
		wantStatus(t, csv, http.StatusOK)
		if got := strings.Count(string(csv.Body), "credential.reset"); got != tc.want {
			t.Errorf("/audit/export.csv?%s: %d entries, want %d", tc.query, got, tc.want)
		}
	}
}

// TestAuditToYearZero: "to" a day is the next day's start; "to 0001-01-01" matches nothing
// (forms_test), and so does "to 0000-12-31" (a date time.Parse takes, and the form shows back),
// which ended at 0001-01-01T00:00Z, Go's zero time, that every layer reads as "no upper bound":
// the page and the export held every entry while the filter said "to 0000-12-31".
func TestAuditToYearZero(t *testing.T) {
	e := newEnv(t, envOptions{Settings: handlers.Settings{ExportsPerMinute: 1000}})
	seedAudit(t, e, 3, "acme.example", "credential.reset", "alice@acme.example")
	admin := e.signIn(t, "admin")
	for _, q := range []string{"to=0000-12-31", "domain=acme.example&to=0000-12-31", "to=0001-01-01"} {
		p := get(t, admin, "/audit?"+q)
		wantStatus(t, p, http.StatusOK)
		if v := p.TestID("filter-to").AttrOr("value", ""); v == "" {
			t.Errorf("/audit?%s: the form does not show the to date as applied", q)
		}
		if got := p.TestID("audit-row").Length(); got != 0 {
			t.Errorf("/audit?%s: %d rows, want none (nothing is that old)", q, got)
		}
		csv := get(t, admin, "/audit/export.csv?"+q)
		wantStatus(t, csv, http.StatusOK)
		if got := strings.Count(string(csv.Body), "credential.reset"); got != 0 {
			t.Errorf("/audit/export.csv?%s: %d entries, want none", q, got)
		}
	}
}
