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

	"github.com/PuerkitoBio/goquery"

	"github.com/smtpdesk/smtpdesk/audit"
	"github.com/smtpdesk/smtpdesk/internal/testflow"
	"github.com/smtpdesk/smtpdesk/mailgun/sandbox"
)

// TestResetClearsRotationMark: a login's "consider rotating" mark goes by its password's age,
// which is its creation or its last reset through SMTP Desk (the audit trail's), whichever is
// newer: after a reset the login is no longer marked, left out of the "To rotate" view and
// exported as not to rotate, with the reset's time. A failed reset changes nothing, and a reset
// made through another instance shows once the cached answer expires.
func TestResetClearsRotationMark(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.signIn(t, "admin")
	const (
		domain = "example.com"
		reset  = "user001@example.com" // all three are years old and marked
		failed = "user002@example.com"
		other  = "user003@example.com"
	)
	row := func(login string) string { return `tr[data-login="` + login + `"]` }
	marked := func(login string) (old, resetShown bool) {
		t.Helper()
		p := get(t, c, "/d/"+domain+"?q="+login)
		wantStatus(t, p, http.StatusOK)
		r := p.Find(row(login))
		if r.Length() != 1 {
			t.Fatalf("%s: %d rows", login, r.Length())
		}
		return r.Find(`[data-testid="age-badge"]`).Length() > 0, r.Find(`[data-testid="reset-at"]`).Length() > 0
	}
	for _, l := range []string{reset, failed, other} {
		if old, shown := marked(l); !old || shown {
			t.Fatalf("before any reset %s: marked %v, reset shown %v; want marked", l, old, shown)
		}
	}

	const pw = "Rotated-pass-2026"
	p := submit(t, c, "/d/"+domain+"/logins/"+reset+"/reset", "/d/"+domain+"/logins/"+reset+"/reset",
		map[string]string{"mode": "manual", "password": pw, "password2": pw})
	wantStatus(t, p, http.StatusOK)
	if old, shown := marked(reset); old || !shown {
		t.Errorf("after its reset %s: marked %v, reset shown %v; want not marked, with the reset", reset, old, shown)
	}

	e.SB.SetFaults(sandbox.Faults{Routes: []string{sandbox.RouteUpdate}, Rate: 1, Status: http.StatusInternalServerError})
	p = submit(t, c, "/d/"+domain+"/logins/"+failed+"/reset", "/d/"+domain+"/logins/"+failed+"/reset",
		map[string]string{"mode": "manual", "password": pw, "password2": pw})
	e.SB.SetFaults(sandbox.Faults{})
	if p.Status < 500 {
		t.Fatalf("a reset Mailgun failed answered %d", p.Status)
	}
	if old, shown := marked(failed); !old || shown {
		t.Errorf("after a failed reset %s: marked %v, reset shown %v; want marked as before", failed, old, shown)
	}

	// The "To rotate" view and the export agree with the page.
	var toRotate []string
	get(t, c, "/d/"+domain+"?rotate=1&per_page=500").Find(`tr[data-login]`).Each(func(_ int, s *goquery.Selection) {
		toRotate = append(toRotate, s.AttrOr("data-login", ""))
	})
	if slices.Contains(toRotate, reset) || !slices.Contains(toRotate, failed) {
		t.Errorf("to rotate: %s listed %v, %s listed %v", reset, slices.Contains(toRotate, reset), failed, slices.Contains(toRotate, failed))
	}
	ex := get(t, c, "/d/"+domain+"/export.csv")
	records, err := csv.NewReader(bytes.NewReader(ex.Body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range records[1:] {
		switch r[1] {
		case reset:
			// Its login is old; its password's age counts from the reset.
			at, err := time.Parse(time.RFC3339, r[7])
			if want := strconv.Itoa(int(e.Clock.Now().Sub(at).Hours() / 24)); err != nil || r[6] != "no" || r[8] != want || r[8] == r[4] {
				t.Errorf("export of %s: age_days %q, consider_rotating %q, password_reset_at %q, password_age_days %q; want no, the reset and the days since it, %s", reset, r[4], r[6], r[7], r[8], want)
			}
		case failed:
			if r[6] != "yes" || r[7] != "" || r[8] != r[4] {
				t.Errorf("export of %s: consider_rotating %q, password_reset_at %q, password_age_days %q; want yes, none and the login's age %q", failed, r[6], r[7], r[8], r[4])
			}
		}
	}

	// A reset recorded by another instance of SMTP Desk (the same database).
	ctx := context.Background()
	pending, err := e.Auditor.Begin(ctx, audit.Actor{Issuer: "https://idp.example", Subject: "x", Email: "x@corp.example"},
		audit.Meta{RequestID: "other-instance"}, audit.ActionCredentialReset, domain, "", []string{other})
	if err != nil {
		t.Fatal(err)
	}
	if err := pending.Complete(ctx, nil); err != nil {
		t.Fatal(err)
	}
	e.Clock.Add(time.Minute) // past the cached answer's lifetime
	if old, shown := marked(other); old || !shown {
		t.Errorf("a minute after another instance reset %s: marked %v, reset shown %v; want not marked", other, old, shown)
	}
}

// TestResetOfAnEarlierLoginOfTheSameName: a login deleted and created again under the same name
// is a new login, with the password it was created with. A reset of the earlier one, which the
// audit trail still holds, is not shown as the new login's last reset, on the page or in the
// export, where password_reset_at would date its password before its creation.
func TestResetOfAnEarlierLoginOfTheSameName(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.signIn(t, "admin")
	const (
		domain = "example.com"
		login  = "user001@example.com"
	)
	const pw = "Rotated-pass-2026"
	p := submit(t, c, "/d/"+domain+"/logins/"+login+"/reset", "/d/"+domain+"/logins/"+login+"/reset",
		map[string]string{"mode": "manual", "password": pw, "password2": pw})
	wantStatus(t, p, http.StatusOK)
	p = submit(t, c, "/d/"+domain+"/logins/"+login+"/delete", "/d/"+domain+"/logins/"+login+"/delete", nil)
	wantStatus(t, p, http.StatusOK)
	// Created again after the reset (the audit trail's clock is the wall clock), in Mailgun's
	// own panel, say; the kept list and password ages expire.
	if err := e.SB.AddCredential(domain, login, "", time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	e.Clock.Add(time.Hour)

	r := get(t, c, "/d/"+domain+"?q="+login).Find(`tr[data-login="` + login + `"]`)
	if r.Length() != 1 {
		t.Fatalf("%s: %d rows", login, r.Length())
	}
	if r.Find(`[data-testid="reset-at"]`).Length() > 0 {
		t.Errorf("the new %s shows the earlier login's reset: %q", login, r.Find(`[data-testid="reset-at"]`).Text())
	}
	records, err := csv.NewReader(bytes.NewReader(get(t, c, "/d/"+domain+"/export.csv?q="+login).Body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(records) != 2 || records[1][1] != login {
		t.Fatalf("export of %s: %q", login, records)
	}
	if got := records[1][7]; got != "" {
		t.Errorf("export of the new %s: password_reset_at %q (before its created_at %s), want none", login, got, records[1][3])
	}
}

// TestRotateViewSpeaksOfPasswords: a login is to rotate by its password's age, not its own. Once
// every old login of a domain had its password reset, the "To rotate" view said "Every login of
// acme.example is younger than 365 days" beside logins the page shows as created two years ago,
// and its summary and tooltips spoke of "logins older than 365 days".
func TestRotateViewSpeaksOfPasswords(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.signIn(t, "admin")
	const domain = "acme.example"
	p := get(t, c, "/d/"+domain+"?rotate=1&per_page=500")
	wantStatus(t, p, http.StatusOK)
	if got := strings.Join(strings.Fields(p.TestID("filter-summary").Text()), " "); !strings.Contains(got, "with a password older than 365 days") {
		t.Errorf("summary %q does not say that the passwords are old", got)
	}
	if got := p.TestID("view-rotate").AttrOr("title", ""); !strings.Contains(got, "password") {
		t.Errorf("the To rotate tooltip %q does not speak of passwords", got)
	}
	if got := p.TestID("age-badge").First().AttrOr("title", ""); !strings.HasPrefix(got, "Password older than") {
		t.Errorf("the mark's tooltip %q does not speak of the password", got)
	}
	var old []string
	p.Find(`tr[data-login]`).Each(func(_ int, s *goquery.Selection) { old = append(old, s.AttrOr("data-login", "")) })
	if len(old) == 0 {
		t.Fatal("no login of acme.example is to rotate")
	}
	ctx := context.Background()
	for _, l := range old {
		pending, err := e.Auditor.Begin(ctx, audit.Actor{Issuer: "https://idp.example", Subject: "x", Email: "x@corp.example"},
			audit.Meta{RequestID: "other-instance"}, audit.ActionCredentialReset, domain, "", []string{l})
		if err != nil {
			t.Fatal(err)
		}
		if err := pending.Complete(ctx, nil); err != nil {
			t.Fatal(err)
		}
	}
	e.Clock.Add(time.Minute) // past the cached answer's lifetime
	p = get(t, c, "/d/"+domain+"?rotate=1")
	wantStatus(t, p, http.StatusOK)
	got := strings.Join(strings.Fields(p.TestID("empty-state").Text()), " ")
	if !strings.Contains(got, "Nothing to rotate") || strings.Contains(got, "younger than") || !strings.Contains(got, "password") {
		t.Errorf("empty rotate view of a domain whose old logins were all reset: %q", got)
	}
}

// TestRotateViewOfAFilterWithNothingDue: the "To rotate" view of a filter that matches logins,
// none of them due, says so and how many match, with a link to them; it read "No logins match",
// which is untrue, and its "Show all logins" kept the filter. A filter matching nothing still
// says that.
func TestRotateViewOfAFilterWithNothingDue(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.signIn(t, "admin")
	const domain = "acme.example"
	for _, logins := range []string{"fresh-one", "fresh-two\nfresh-three"} {
		p := submit(t, c, "/d/"+domain+"/new", "/d/"+domain+"/new", map[string]string{"logins": logins, "mode": "generate"})
		wantStatus(t, p, http.StatusOK)
	}
	heading := func(p *testflow.Page) string {
		return strings.Join(strings.Fields(p.Find(`[data-testid="empty-state"] h2, [data-testid="empty-state"] h3`).First().Text()), " ")
	}
	p := get(t, c, "/d/"+domain+"?q=fresh&rotate=1")
	wantStatus(t, p, http.StatusOK)
	if got, want := heading(p), "None of the 3 logins matching “fresh” is due for rotation"; got != want {
		t.Errorf("heading = %q, want %q", got, want)
	}
	link := p.TestID("show-all")
	if got := strings.Join(strings.Fields(link.Text()), " "); got != "Show the 3 matching logins" {
		t.Errorf("link = %q, want Show the 3 matching logins", got)
	}
	if href := link.AttrOr("href", ""); !strings.Contains(href, "q=fresh") || strings.Contains(href, "rotate") {
		t.Errorf("link leads to %q, want the filter's matches, not the rotate view", href)
	}

	p = get(t, c, "/d/"+domain+"?q=fresh-one&rotate=1")
	if got, want := heading(p), "The login matching “fresh-one” is not due for rotation"; got != want {
		t.Errorf("one match: heading = %q, want %q", got, want)
	}

	p = get(t, c, "/d/"+domain+"?q=nobody-like-this&rotate=1")
	if got, want := heading(p), "No logins match “nobody-like-this”"; got != want {
		t.Errorf("no match: heading = %q, want %q", got, want)
	}
	if p.TestID("show-all").Length() != 0 {
		t.Error("no match: the page offers to show the filter's matches, which are none")
	}
}

// TestRotationMarkAtTheAgeLimit: a password just over AgeWarningDays days old (the default 365)
// is marked "consider rotating", and one just under is not.
func TestRotationMarkAtTheAgeLimit(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.signIn(t, "admin")
	const year = 365 * 24 * time.Hour
	for login, age := range map[string]time.Duration{"just-over": year + time.Hour, "just-under": year - time.Hour} {
		if err := e.SB.AddCredential("acme.example", login, "", e.Clock.Now().Add(-age)); err != nil {
			t.Fatal(err)
		}
	}
	p := get(t, c, "/d/acme.example?q=just-")
	wantStatus(t, p, http.StatusOK)
	for login, want := range map[string]bool{"just-over@acme.example": true, "just-under@acme.example": false} {
		r := p.Find(`tr[data-login="` + login + `"]`)
		if r.Length() != 1 {
			t.Fatalf("%s: %d rows", login, r.Length())
		}
		if got := r.Find(`[data-testid="age-badge"]`).Length() > 0; got != want {
			t.Errorf("%s: marked %v, want %v", login, got, want)
		}
	}
}
