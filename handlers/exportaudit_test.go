package handlers_test

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/smtpdesk/smtpdesk/mailgun/sandbox"
	"github.com/smtpdesk/smtpdesk/store"
)

// TestLoginExportsAreAudited: a download of a domain's logins, and of every domain's, is a
// "credentials.export" entry naming the domain (one per domain for the export of every domain),
// who took it, what the file held and the filters; a failed one is "failed" and says why in
// SMTP Desk's words. A domain's reviewers find it in the domain's history, under its own name in
// the action filter; an export that cannot be recorded is not sent.
func TestLoginExportsAreAudited(t *testing.T) {
	e := newEnv(t, envOptions{})
	reviewer := e.signIn(t, "reviewer")
	exports := func(t *testing.T, domain string) []store.AuditEntry {
		t.Helper()
		return e.auditEntries(t, store.AuditFilter{Action: "credentials.export", Domain: domain})
	}

	t.Run("one domain", func(t *testing.T) {
		p := get(t, reviewer, "/d/example.com/export.csv?q=user0&rotate=1")
		wantStatus(t, p, http.StatusOK)
		rows := strings.Count(strings.TrimSpace(string(p.Body)), "\n") // the header's line ends before the first row
		got := exports(t, "example.com")
		if len(got) != 1 {
			t.Fatalf("%d credentials.export entries of example.com, want 1: %+v", len(got), got)
		}
		en := got[0]
		if en.ActorEmail != "rita@smtpdesk.example" || en.Outcome != "ok" || en.RequestID == "" || len(en.Logins) != 0 {
			t.Errorf("entry = %+v; want Rita's, ok, with its request id and no login named", en)
		}
		if want := plural(rows, "login") + `; filter "user0"; only the logins to rotate`; en.Detail != want {
			t.Errorf("detail = %q, want %q", en.Detail, want)
		}
	})

	t.Run("shown to the domain's reviewers in its history, and offered in the filter", func(t *testing.T) {
		p := get(t, reviewer, "/audit?domain=example.com")
		wantStatus(t, p, http.StatusOK)
		row := p.Find(`[data-testid="audit-action"][data-action="credentials.export"]`)
		if row.Length() != 1 || strings.TrimSpace(row.Text()) != "Exported logins" {
			t.Errorf("the domain's history shows %d export rows, labelled %q", row.Length(), strings.TrimSpace(row.Text()))
		}
		if p.Find(`[data-testid="filter-action"] option[value="credentials.export"]`).Length() != 1 {
			t.Error("the reviewer's action filter does not offer credentials.export")
		}
		p = get(t, reviewer, "/audit?action=credentials.export")
		if p.TestID("filter-problems").Length() != 0 || p.TestID("audit-row").Length() != 1 {
			t.Errorf("action=credentials.export: %d rows, problems %q", p.TestID("audit-row").Length(), p.TestID("filter-problems").Text())
		}
	})

	t.Run("every domain: an entry for each, sharing the request id", func(t *testing.T) {
		before := len(exports(t, ""))
		wantStatus(t, get(t, reviewer, "/export.csv"), http.StatusOK)
		got := exports(t, "")[:len(exports(t, ""))-before]
		var domains []string
		for _, en := range got {
			domains = append(domains, en.Domain)
			if en.Outcome != "ok" || en.RequestID != got[0].RequestID || !strings.Contains(en.Detail, "of 2 of an export of every domain") {
				t.Errorf("entry %+v: want ok, one request, said to be part of an export of every domain", en)
			}
		}
		slices.Sort(domains)
		if want := []string{"example.com", "newsletter.example.org"}; !slices.Equal(domains, want) {
			t.Errorf("the export of every domain recorded %q, want %q", domains, want)
		}
	})

	t.Run("a HEAD takes nothing and is not recorded", func(t *testing.T) {
		before := len(exports(t, ""))
		req, err := http.NewRequestWithContext(context.Background(), http.MethodHead, e.URL+"/d/example.com/export.csv", nil)
		if err != nil {
			t.Fatal(err)
		}
		p, err := reviewer.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		wantStatus(t, p, http.StatusOK)
		if got := len(exports(t, "")); got != before {
			t.Errorf("a HEAD wrote %d credentials.export entries", got-before)
		}
	})

	t.Run("Mailgun failing: failed, in SMTP Desk's words", func(t *testing.T) {
		admin := e.signIn(t, "admin")
		e.SB.SetFaults(sandbox.Faults{Routes: []string{sandbox.RouteList}, Rate: 1, Status: http.StatusServiceUnavailable, Message: "upstream exploded: key-abc"})
		p := get(t, admin, "/d/acme.example/export.csv")
		e.SB.SetFaults(sandbox.Faults{})
		if p.Status < 500 {
			t.Fatalf("status %d, want an error page", p.Status)
		}
		got := exports(t, "acme.example")
		if len(got) != 1 || got[0].Outcome != "failed" || got[0].Detail != "nothing exported: Mailgun answered HTTP 503" {
			t.Errorf("entries = %+v; want one, failed, with Mailgun's status and not its text", got)
		}
	})

	t.Run("a domain Mailgun does not have: no entry", func(t *testing.T) {
		admin := e.signIn(t, "admin")
		wantStatus(t, get(t, admin, "/d/no-such-domain.example/export.csv"), http.StatusNotFound)
		if got := exports(t, "no-such-domain.example"); len(got) != 0 {
			t.Errorf("entries = %+v; want none", got)
		}
	})

	t.Run("not sent when it cannot be recorded", func(t *testing.T) {
		e.Auditor.failEvent.Store(true)
		defer e.Auditor.failEvent.Store(false)
		for _, path := range []string{"/d/example.com/export.csv", "/export.csv"} {
			p := get(t, reviewer, path)
			wantStatus(t, p, http.StatusServiceUnavailable)
			if strings.HasPrefix(p.Header.Get("Content-Type"), "text/csv") || !strings.Contains(p.Text(), "could not record the export") {
				t.Errorf("%s: %s, %.300s", path, p.Header.Get("Content-Type"), p.Text())
			}
		}
	})
}

// TestAuditExportsAreAudited: a download of the audit trail is an "audit.export" entry with the
// format, the filters and how many entries it held. It names no domain, so an administrator sees
// it and a domain's reviewer does not, as an integrity check.
func TestAuditExportsAreAudited(t *testing.T) {
	e := newEnv(t, envOptions{})
	admin := e.signIn(t, "admin")
	reviewer := e.signIn(t, "reviewer")

	wantStatus(t, get(t, reviewer, "/audit/export.jsonl?domain=example.com"), http.StatusOK)
	p := get(t, admin, "/audit/export.csv?action=auth.sign_in&outcome=ok")
	wantStatus(t, p, http.StatusOK)
	rows := strings.Count(strings.TrimSpace(string(p.Body)), "\n")

	got := e.auditEntries(t, store.AuditFilter{Action: "audit.export"})
	if len(got) != 2 {
		t.Fatalf("%d audit.export entries, want 2: %+v", len(got), got)
	}
	if en := got[0]; en.ActorEmail != "ada@smtpdesk.example" || en.Outcome != "ok" || en.Domain != "" ||
		en.Detail != `CSV; filters action="auth.sign_in", outcome="ok"; `+plural(rows, "entry") {
		t.Errorf("the admin's export: %+v", en)
	}
	if en := got[1]; en.ActorEmail != "rita@smtpdesk.example" || en.Outcome != "ok" || !strings.HasPrefix(en.Detail, `JSON Lines; filters domain="example.com"; `) {
		t.Errorf("the reviewer's export: %+v", en)
	}

	p = get(t, admin, "/audit?action=audit.export")
	if row := p.Find(`[data-testid="audit-action"][data-action="audit.export"]`); row.Length() != 2 || strings.TrimSpace(row.First().Text()) != "Exported audit trail" {
		t.Errorf("the admin sees %d audit.export rows, labelled %q", row.Length(), strings.TrimSpace(row.First().Text()))
	}
	p = get(t, reviewer, "/audit")
	if n := p.Find(`[data-testid="audit-action"][data-action="audit.export"]`).Length(); n != 0 {
		t.Errorf("the reviewer sees %d audit.export rows, which name no domain", n)
	}
	if p.Find(`[data-testid="filter-action"] option[value="audit.export"]`).Length() != 0 {
		t.Error("the reviewer is offered audit.export, whose entries they cannot see")
	}

	// A HEAD sends no entries and is not recorded.
	req, err := http.NewRequestWithContext(context.Background(), http.MethodHead, e.URL+"/audit/export.csv", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Do(req); err != nil {
		t.Fatal(err)
	}
	if n := len(e.auditEntries(t, store.AuditFilter{Action: "audit.export"})); n != 2 {
		t.Errorf("%d audit.export entries after a HEAD, want 2", n)
	}
}

// plural is "1 login", "2 logins", "1 entry", "2 entries", as the entries say it.
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	if noun == "entry" {
		return strconv.Itoa(n) + " entries"
	}
	return strconv.Itoa(n) + " " + noun + "s"
}
