package handlers_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smtpdesk/smtpdesk/mailgun/sandbox"
	"github.com/smtpdesk/smtpdesk/store"
)

// readLoginsCSV fetches path and parses it as a login export, failing the test on anything else.
func readLoginsCSV(t *testing.T, e *env, persona, path string) [][]string {
	t.Helper()
	c := e.signIn(t, persona)
	p := get(t, c, path)
	wantStatus(t, p, http.StatusOK)
	if ct := p.Header.Get("Content-Type"); ct != "text/csv; charset=utf-8" {
		t.Fatalf("Content-Type = %q", ct)
	}
	if cd := p.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, `attachment; filename="smtpdesk-logins-`) {
		t.Errorf("Content-Disposition = %q", cd)
	}
	records, err := csv.NewReader(bytes.NewReader(p.Body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(records) == 0 || strings.Join(records[0], ",") != "domain,login,mailbox,created_at,age_days,system,consider_rotating,password_reset_at,password_age_days" {
		t.Fatalf("header = %v", records[:min(1, len(records))])
	}
	return records[1:]
}

// TestExportAllLogins: the home page's CSV holds the logins of every domain the user may view,
// domain by domain in name order, narrowed by the page's search, or to the logins to rotate.
func TestExportAllLogins(t *testing.T) {
	e := newEnv(t, envOptions{})

	t.Run("a reviewer gets the domains they may view, and only those", func(t *testing.T) {
		rows := readLoginsCSV(t, e, "reviewer", "/export.csv")
		var want [][2]string
		for _, d := range []string{"example.com", "newsletter.example.org"} {
			for _, l := range e.SB.Logins(d) {
				want = append(want, [2]string{d, l})
			}
		}
		var got [][2]string
		for _, r := range rows {
			got = append(got, [2]string{r[0], r[1]})
		}
		if !slices.Equal(got, want) {
			t.Errorf("got %d rows (%v…), want %d (%v…)", len(got), got[:min(2, len(got))], len(want), want[:min(2, len(want))])
		}
	})

	t.Run("the home page links it, with its search", func(t *testing.T) {
		c := e.signIn(t, "admin")
		if href := get(t, c, "/").TestID("export-all-logins").AttrOr("href", ""); href != "/export.csv" {
			t.Errorf("home page export link = %q", href)
		}
		if href := get(t, c, "/?q=acme").TestID("export-all-logins").AttrOr("href", ""); href != "/export.csv?q=acme" {
			t.Errorf("searched home page export link = %q", href)
		}
		rows := readLoginsCSV(t, e, "admin", "/export.csv?q=ACME")
		if len(rows) != len(e.SB.Logins("acme.example")) {
			t.Errorf("q=ACME: %d rows, want acme.example's %d", len(rows), len(e.SB.Logins("acme.example")))
		}
		for _, r := range rows {
			if r[0] != "acme.example" {
				t.Fatalf("q=ACME exported a row of %s", r[0])
			}
		}
	})

	t.Run("rotate=1 keeps the logins to rotate", func(t *testing.T) {
		all := readLoginsCSV(t, e, "admin", "/export.csv")
		rotate := readLoginsCSV(t, e, "admin", "/export.csv?rotate=1")
		var marked [][]string
		for _, r := range all {
			if r[6] == "yes" {
				marked = append(marked, r)
			}
		}
		if len(marked) == 0 || len(marked) == len(all) {
			t.Fatalf("%d of %d logins are to rotate: the seed should have both kinds", len(marked), len(all))
		}
		if !slices.EqualFunc(rotate, marked, slices.Equal) {
			t.Errorf("rotate=1 gave %d rows, want the %d marked ones", len(rotate), len(marked))
		}
	})

	t.Run("nobody with no domain gets nothing", func(t *testing.T) {
		c := e.signIn(t, "nobody")
		p := get(t, c, "/export.csv")
		wantStatus(t, p, http.StatusForbidden)
		// In the words of the no-access page ("No access rule matches this account"), not "no
		// domain is shared with you", a word no other page uses.
		if got, want := strings.TrimSpace(p.TestID("error-message").Text()), "You have no access to any domain, so there is nothing to export."; got != want {
			t.Errorf("message %q, want %q", got, want)
		}
	})
}

// TestExportAllLoginsFailures: when Mailgun fails on the first domain the answer is an error
// page; when it fails on a later one, after rows were sent, the download is aborted rather than
// ending as a file that looks whole.
func TestExportAllLoginsFailures(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.signIn(t, "admin")
	fail := sandbox.Faults{Routes: []string{sandbox.RouteList}, Rate: 1, Status: http.StatusServiceUnavailable}

	e.SB.SetFaults(fail)
	p := get(t, c, "/export.csv")
	e.SB.SetFaults(sandbox.Faults{})
	if p.Status < 500 || strings.HasPrefix(p.Header.Get("Content-Type"), "text/csv") {
		t.Errorf("first domain failing: status %d, %s; want an error page", p.Status, p.Header.Get("Content-Type"))
	}

	// acme.example, first in name order, comes from the list cache; empty.example, next, fails.
	wantStatus(t, get(t, c, "/d/acme.example/export.csv"), http.StatusOK)
	e.SB.SetFaults(fail)
	defer e.SB.SetFaults(sandbox.Faults{})
	if p, err := c.Get(context.Background(), "/export.csv"); err == nil {
		t.Errorf("a later domain failing: the download ended normally (status %d, %d bytes); want it aborted", p.Status, len(p.Body))
	}
	if !strings.Contains(e.Logs.String(), "the download is aborted") {
		t.Error("the aborted export is not logged")
	}
}

// TestHomeLinksTheRotationReport: the home page links the logins to rotate across the domains it
// lists (/export.csv?rotate=1, with its search), as a domain's "To rotate" view links its own. The
// export answered it, but no page led there: a reviewer asking which logins of all their domains
// are due for rotation downloaded everything and sorted it by hand.
func TestHomeLinksTheRotationReport(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.signIn(t, "reviewer")
	for _, tt := range []struct{ page, want string }{
		{"/", "/export.csv?rotate=1"},
		{"/?q=news", "/export.csv?rotate=1&q=news"},
	} {
		p := get(t, c, tt.page)
		wantStatus(t, p, http.StatusOK)
		link := p.TestID("export-all-rotate")
		if href := link.AttrOr("href", ""); href != tt.want {
			t.Errorf("%s: rotation report link = %q, want %q", tt.page, href, tt.want)
		}
		if title := link.AttrOr("title", ""); !strings.Contains(title, "older than 365 days") {
			t.Errorf("%s: its title %q does not say the threshold", tt.page, title)
		}
	}
	// It is the rotation report of those domains: every row is marked, and there are some.
	rows := readLoginsCSV(t, e, "reviewer", "/export.csv?rotate=1&q=news")
	if len(rows) == 0 {
		t.Fatal("newsletter.example.org has no login to rotate: the seed should have some")
	}
	for _, r := range rows {
		if r[0] != "newsletter.example.org" || r[6] != "yes" {
			t.Errorf("row %v: want only newsletter.example.org's logins to rotate", r)
		}
	}
}

// TestExportAllLeavesOutADomainRemovedMeanwhile: a domain Mailgun no longer has ("Domain not
// found"), though the domain list SMTP Desk keeps for up to a minute still names it, is left out
// of the export of every domain, with no audit entry (as the one domain's export writes none for
// a domain Mailgun does not have) and a line in the log: it failed the whole export (the error
// page when first by name, an aborted download otherwise) until the list was read again. A 404
// that is not Mailgun's word about the domain (a proxy's) still fails the export.
func TestExportAllLeavesOutADomainRemovedMeanwhile(t *testing.T) {
	var gone atomic.Pointer[string] // the domain whose logins Mailgun answers 404 for
	var message atomic.Pointer[string]
	e := newEnv(t, envOptions{Upstream: func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if d := gone.Load(); d != nil && r.URL.Path == "/v3/domains/"+*d+"/credentials" {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusNotFound)
				_, _ = fmt.Fprintf(w, `{"message":%q}`, *message.Load())
				return
			}
			next.ServeHTTP(w, r)
		})
	}})
	domains := func(rows [][]string) []string {
		var ds []string
		for _, r := range rows {
			if !slices.Contains(ds, r[0]) {
				ds = append(ds, r[0])
			}
		}
		return ds
	}
	all := domains(readLoginsCSV(t, e, "admin", "/export.csv"))
	if len(all) < 3 {
		t.Fatalf("the export of every domain holds the logins of %q; the seed should give three domains or more", all)
	}
	notFound := "Domain not found"
	message.Store(&notFound)
	// Each export below reads every domain's logins again (their page cache, 15 s, has passed),
	// while the domain list, kept for a minute, still names the domain removed.
	later := func() { e.Clock.Add(16 * time.Second) }
	for _, d := range []string{all[0], all[1]} { // first by name (nothing sent yet), and a later one
		later()
		gone.Store(&d)
		got := domains(readLoginsCSV(t, e, "admin", "/export.csv"))
		if want := slices.DeleteFunc(slices.Clone(all), func(x string) bool { return x == d }); !slices.Equal(got, want) {
			t.Errorf("%s removed from Mailgun: the export holds the logins of %q, want %q", d, got, want)
		}
		if es := e.auditEntries(t, store.AuditFilter{Action: "credentials.export", Domain: d, Outcome: "failed"}); len(es) != 0 {
			t.Errorf("%s removed from Mailgun: %d failed export entries for it, want none", d, len(es))
		}
		if want := `"domain":"` + d + `"`; !strings.Contains(e.Logs.String(), "left out of the export") || !strings.Contains(e.Logs.String(), want) {
			t.Errorf("%s removed from Mailgun: the log does not say it was left out", d)
		}
	}
	proxy := "Not Found"
	message.Store(&proxy)
	first := all[0]
	gone.Store(&first)
	later()
	c := e.signIn(t, "admin")
	if p := get(t, c, "/export.csv"); p.Status < 400 || strings.HasPrefix(p.Header.Get("Content-Type"), "text/csv") {
		t.Errorf("a proxy's 404 for %s: status %d, %s; want an error page", first, p.Status, p.Header.Get("Content-Type"))
	}
}
