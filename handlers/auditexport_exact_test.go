package handlers_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/smtpdesk/smtpdesk/handlers"
	"github.com/smtpdesk/smtpdesk/store"
)

// TestAuditExportsHoldExactlyWhatTheFiltersMatch: each of the trail's exports holds the entries
// its filters match, every filter applied (a dropped one sends entries the reviewer excluded as
// evidence), and no page cursor: "before" is the page's, the file holds the whole match.
func TestAuditExportsHoldExactlyWhatTheFiltersMatch(t *testing.T) {
	e := newEnv(t, envOptions{Settings: handlers.Settings{ExportsPerMinute: 1000}})
	day := func(s string) time.Time {
		t.Helper()
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	ids := map[string]int64{}
	seed := func(name, domain, actor, action, outcome, login, at string) {
		t.Helper()
		id, err := e.DB.AppendAudit(context.Background(), store.AuditEntry{
			Time: day(at), ActorIssuer: "https://idp.test", ActorSubject: "sub-" + actor,
			ActorEmail: actor + "@test.example", Action: action, Domain: domain,
			Logins: []string{login}, Outcome: outcome, RequestID: "req-" + name,
		})
		if err != nil {
			t.Fatal(err)
		}
		ids[name] = id
	}
	seed("alice-reset", "acme.example", "alice", "credential.reset", "ok", "bob@acme.example", "2026-03-10T12:00:00Z")
	seed("carol-reset", "acme.example", "carol", "credential.reset", "failed", "bob@acme.example", "2026-03-10T23:59:59Z")
	seed("alice-delete", "acme.example", "alice", "credential.delete", "ok", "eve@acme.example", "2026-03-11T00:00:00Z")
	seed("alice-other", "example.com", "alice", "credential.reset", "ok", "bob@example.com", "2026-03-10T00:00:00Z")
	seed("alice-create", "acme.example", "alice", "credential.create", "unknown", "bob@acme.example", "2026-03-09T23:59:59Z")
	admin := e.signIn(t, "admin")

	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"actor=carol", []string{"carol-reset"}},
		{"outcome=failed", []string{"carol-reset"}},
		{"login=bob%40acme.example", []string{"alice-reset", "carol-reset", "alice-create"}},
		{"domain=acme.example&action=credential.reset", []string{"alice-reset", "carol-reset"}},
		// Whole days: the to day's last instant is in, the next day's first is not.
		{"from=2026-03-10&to=2026-03-10&tz=UTC", []string{"alice-reset", "carol-reset", "alice-other"}},
		{"actor=alice&outcome=ok&login=bob%40acme.example", []string{"alice-reset"}},
		{"domain=acme.example&before=" + strconv.FormatInt(ids["alice-delete"], 10), []string{"alice-reset", "carol-reset", "alice-delete", "alice-create"}},
		{"domain=acme.example&after=" + strconv.FormatInt(ids["carol-reset"], 10), []string{"alice-reset", "carol-reset", "alice-delete", "alice-create"}},
	} {
		var want []int64
		for _, n := range tc.want {
			want = append(want, ids[n])
		}
		slices.Sort(want)
		t.Run(tc.query, func(t *testing.T) {
			p := get(t, admin, "/audit/export.csv?"+tc.query)
			wantStatus(t, p, http.StatusOK)
			records, err := csv.NewReader(bytes.NewReader(p.Body)).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			var got []int64
			for _, r := range records[1:] {
				id, err := strconv.ParseInt(r[0], 10, 64)
				if err != nil {
					t.Fatalf("id cell %q: %v", r[0], err)
				}
				got = append(got, id)
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("CSV holds entries %v, want %v (%v)", got, want, tc.want)
			}

			p = get(t, admin, "/audit/export.jsonl?"+tc.query)
			wantStatus(t, p, http.StatusOK)
			got = nil
			for _, rec := range jsonlRecords(t, p.Body) {
				got = append(got, int64(rec["id"].(float64)))
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("JSON Lines holds entries %v, want %v (%v)", got, want, tc.want)
			}
		})
	}

	t.Run("the export's own entry names the zone its dates were read in", func(t *testing.T) {
		wantStatus(t, get(t, admin, "/audit/export.csv?from=2026-03-10&tz=Asia%2FKolkata"), http.StatusOK)
		got := e.auditEntries(t, store.AuditFilter{Action: "audit.export"})
		if len(got) == 0 || !strings.Contains(got[0].Detail, `from="2026-03-10", tz="Asia/Kolkata"`) {
			t.Errorf("the newest audit.export entry: %+v", got)
		}
	})

	t.Run("a HEAD that matches nothing is not recorded either", func(t *testing.T) {
		before := len(e.auditEntries(t, store.AuditFilter{Action: "audit.export"}))
		req, err := http.NewRequestWithContext(context.Background(), http.MethodHead, e.URL+"/audit/export.csv?actor=nobody-at-all", nil)
		if err != nil {
			t.Fatal(err)
		}
		res, err := admin.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		wantStatus(t, res, http.StatusOK)
		if n := len(e.auditEntries(t, store.AuditFilter{Action: "audit.export"})); n != before {
			t.Errorf("%d audit.export entries after a HEAD matching nothing, want %d", n, before)
		}
	})
}

// TestAuditExportCellsAsStored: every text cell of the CSV that a client or a provider can fill
// (the user agent, a stored message, the request id, the client IP) is neutralised as a formula,
// the logins of an entry are one cell separated by spaces, and the JSON Lines record keeps each
// field, with [] for an entry that names no login.
func TestAuditExportCellsAsStored(t *testing.T) {
	e := newEnv(t, envOptions{})
	evil := "=HYPERLINK(\"http://evil\",\"x\")"
	if _, err := e.DB.AppendAudit(context.Background(), store.AuditEntry{
		Time: time.Now().UTC(), ActorIssuer: "https://idp.test", ActorSubject: "s1", ActorEmail: "x@test.example",
		Action: "credential.create", Domain: "acme.example", Logins: []string{"a@acme.example", "b@acme.example"},
		Outcome: "ok", UpstreamMessage: evil, RequestID: "-r1", ClientIP: "+203.0.113.9", UserAgent: "@ua " + evil,
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.DB.AppendAudit(context.Background(), store.AuditEntry{
		Time: time.Now().UTC(), ActorIssuer: "https://idp.test", ActorSubject: "s2", ActorEmail: "y@test.example",
		Action: "credential.delete_all", Domain: "acme.example", Outcome: "ok", ClientIP: "203.0.113.7", UserAgent: "curl/8", RequestID: "r2",
	}); err != nil {
		t.Fatal(err)
	}
	admin := e.signIn(t, "admin")

	p := get(t, admin, "/audit/export.csv?domain=acme.example")
	wantStatus(t, p, http.StatusOK)
	records, err := csv.NewReader(bytes.NewReader(p.Body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(records) != 3 {
		t.Fatalf("%d records, want header + 2", len(records))
	}
	col := func(name string) int { return slices.Index(records[0], name) }
	r := records[2] // newest first: the create is the older one
	for name, want := range map[string]string{
		"upstream_message": "'" + evil, "user_agent": "'@ua " + evil, "request_id": "'-r1", "client_ip": "'+203.0.113.9",
		"logins": "a@acme.example b@acme.example",
	} {
		if got := r[col(name)]; got != want {
			t.Errorf("%s cell %q, want %q", name, got, want)
		}
	}

	p = get(t, admin, "/audit/export.jsonl?domain=acme.example")
	wantStatus(t, p, http.StatusOK)
	recs := jsonlRecords(t, p.Body)
	if len(recs) != 2 {
		t.Fatalf("%d records, want 2", len(recs))
	}
	all := recs[0] // the delete all, newest
	if all["client_ip"] != "203.0.113.7" || all["user_agent"] != "curl/8" || all["request_id"] != "r2" {
		t.Errorf("JSON Lines record %v", all)
	}
	if l, ok := all["logins"].([]any); !ok || len(l) != 0 {
		t.Errorf("logins of an entry naming none: %#v, want []", all["logins"])
	}
}
