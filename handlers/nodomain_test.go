package handlers_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smtpdesk/smtpdesk/handlers"
	"github.com/smtpdesk/smtpdesk/internal/testflow"
	"github.com/smtpdesk/smtpdesk/mailgun/sandbox"
	"github.com/smtpdesk/smtpdesk/store"
)

// changeRequest is one page of a change on domain d: its form (GET) and its POST with a form
// that would act if the domain were real.
type changeRequest struct {
	name string
	path string
	form map[string]string
}

func changeRequests(d string) []changeRequest {
	return []changeRequest{
		{"create", "/d/" + d + "/new", map[string]string{"logins": "bob", "mode": "generate"}},
		{"reset", "/d/" + d + "/logins/bob@" + d + "/reset", map[string]string{"mode": "generate"}},
		{"delete", "/d/" + d + "/logins/bob@" + d + "/delete", map[string]string{}},
		{"delete-all", "/d/" + d + "/delete-all", map[string]string{"confirm": d}},
	}
}

// changeCalls returns the sandbox's calls that change something.
func changeCalls(sb *sandbox.Server) []sandbox.Call {
	var out []sandbox.Call
	for _, c := range sb.Calls() {
		switch c.Route {
		case sandbox.RouteCreate, sandbox.RouteUpdate, sandbox.RouteUpdateMailbox, sandbox.RouteDelete, sandbox.RouteDeleteAll:
			out = append(out, c)
		}
	}
	return out
}

// wantNoSuchDomain fails the test unless p is the "Domain not found" page of domain d.
func wantNoSuchDomain(t *testing.T, p *testflow.Page, d string) {
	t.Helper()
	wantStatus(t, p, http.StatusNotFound)
	if len(p.Redirects) > 0 {
		t.Errorf("%s: redirected to %s", p.URL.Path, p.URL)
	}
	if text := p.Text(); !strings.Contains(text, "Domain not found") || !strings.Contains(text, "Mailgun does not know the domain "+d+".") {
		t.Errorf("%s: not the no-such-domain page: %.400s", p.URL.Path, text)
	}
}

// TestChangesOnADomainMailgunDoesNotHave: a create, reset, delete or delete-all on a domain that
// is not one of the account's Mailgun domains, typed into the address by someone whose policy
// covers it (an administrator's `*`, or a rule naming a domain Mailgun does not have), gets the
// "Domain not found" page a read of it gets, form and POST alike: no audit entry (the audit
// page's domain filter would offer the name for good), no change sent to Mailgun, not even a
// read of the domain's logins.
func TestChangesOnADomainMailgunDoesNotHave(t *testing.T) {
	const policyNaming = testPolicy + `
  - domain: gone-team.example
    role: owner
    groups: [acme-owners]
`
	for _, tt := range []struct {
		name, persona, domain, policy string
	}{
		{"administrator, a made-up name", "admin", "made-up.example", ""},
		{"owner, a name the policy gives but Mailgun does not have", "owner", "gone-team.example", policyNaming},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, envOptions{Policy: tt.policy, Settings: handlers.Settings{ActionsPerMinute: 1000}})
			c := e.signIn(t, tt.persona)
			e.SB.ResetCalls()
			for _, r := range changeRequests(tt.domain) {
				wantNoSuchDomain(t, get(t, c, r.path), tt.domain)
				// The form comes from a page that has one: the domain's own form is this 404.
				wantNoSuchDomain(t, submit(t, c, "/d/acme.example", r.path, r.form), tt.domain)
			}
			if got := changeCalls(e.SB); len(got) > 0 {
				t.Errorf("changes sent to Mailgun: %+v", got)
			}
			if got := e.callsTo(sandbox.RouteList, tt.domain); len(got) > 0 {
				t.Errorf("%d reads of %s's logins, want none", len(got), tt.domain)
			}
			if got := e.auditEntries(t, store.AuditFilter{Domain: tt.domain}); len(got) > 0 {
				t.Errorf("audit entries naming %s: %+v", tt.domain, got)
			}
			ds, err := e.DB.AuditDomains(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if slices.Contains(ds, tt.domain) {
				t.Errorf("the audit page's domain filter offers %s: %q", tt.domain, ds)
			}
		})
	}
}

// TestChangeOnADomainAddedAfterTheListWasRead: a domain added in Mailgun after this instance
// read the domain list (within the list's TTL, the clock standing still) is acted on at once:
// the list is read again, once, before a name it does not hold is refused, and the next action
// on it reads nothing more.
func TestChangeOnADomainAddedAfterTheListWasRead(t *testing.T) {
	e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000}})
	c := e.signIn(t, "admin") // the home page reads the domain list
	if got := e.callsTo(sandbox.RouteDomains, ""); len(got) == 0 {
		t.Fatal("signing in read no domain list: the test would not start from a kept list")
	}
	if err := e.SB.AddDomain("fresh.example"); err != nil {
		t.Fatal(err)
	}
	e.SB.ResetCalls()
	p := submit(t, c, "/d/fresh.example/new", "/d/fresh.example/new", map[string]string{"logins": "bob", "mode": "generate"})
	wantStatus(t, p, http.StatusOK)
	if pw := secretsOn(p)["bob@fresh.example"]; pw == "" || !e.SB.CheckPassword("fresh.example", "bob@fresh.example", pw) {
		t.Errorf("no working password shown for bob@fresh.example: %.400s", p.Text())
	}
	if got := e.callsTo(sandbox.RouteDomains, ""); len(got) != 1 {
		t.Errorf("domain list calls = %d, want 1 (the list read again for the name it lacked)", len(got))
	}
	if got := e.auditEntries(t, store.AuditFilter{Domain: "fresh.example", Action: "credential.create"}); len(got) != 1 || got[0].Outcome != store.OutcomeOK {
		t.Errorf("audit entries = %+v, want one ok create", got)
	}

	e.SB.ResetCalls()
	p = submit(t, c, "/d/fresh.example/logins/bob@fresh.example/reset", "/d/fresh.example/logins/bob@fresh.example/reset", map[string]string{"mode": "generate"})
	wantStatus(t, p, http.StatusOK)
	if got := e.callsTo(sandbox.RouteDomains, ""); len(got) != 0 {
		t.Errorf("domain list calls for the next action = %d, want 0 (the list read is kept)", len(got))
	}
}

// TestMadeUpDomainsReadTheListABoundedNumberOfTimes: a made-up name that meets a list read for
// its own request (the kept one had run out) is refused on that read alone; a burst of changes
// on made-up names, each a name the kept list lacks, reads the domain list at most
// DomainRereadsPerMinute times, however many names; a real domain's change reads it not at all;
// and once the budget has refilled, a domain added meanwhile is found.
func TestMadeUpDomainsReadTheListABoundedNumberOfTimes(t *testing.T) {
	e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000}})
	c := e.signIn(t, "admin")
	e.Clock.Add(2 * time.Minute) // past the list's TTL
	e.SB.ResetCalls()
	wantNoSuchDomain(t, get(t, c, "/d/made-up.example/new"), "made-up.example")
	if got := e.callsTo(sandbox.RouteDomains, ""); len(got) != 1 {
		t.Errorf("a made-up name after the list ran out read it %d times, want 1", len(got))
	}

	e.SB.ResetCalls()
	const burst = 5 * handlers.DomainRereadsPerMinute
	for i := range burst {
		d := fmt.Sprintf("made-up-%d.example", i)
		wantNoSuchDomain(t, submit(t, c, "/d/acme.example", "/d/"+d+"/new", map[string]string{"logins": "bob", "mode": "generate"}), d)
	}
	got := len(e.callsTo(sandbox.RouteDomains, ""))
	if got == 0 || got > handlers.DomainRereadsPerMinute {
		t.Errorf("%d made-up names read the domain list %d times, want 1 to %d", burst, got, handlers.DomainRereadsPerMinute)
	}
	if got := changeCalls(e.SB); len(got) > 0 {
		t.Errorf("changes sent to Mailgun: %+v", got)
	}
	if got := e.auditEntries(t, store.AuditFilter{Action: "credential.create"}); len(got) > 0 {
		t.Errorf("audit entries: %+v", got)
	}

	e.SB.ResetCalls()
	wantStatus(t, submit(t, c, "/d/acme.example/new", "/d/acme.example/new", map[string]string{"logins": "newbie", "mode": "generate"}), http.StatusOK)
	if got := e.callsTo(sandbox.RouteDomains, ""); len(got) != 0 {
		t.Errorf("a real domain's change read the domain list %d times, want 0", len(got))
	}

	// The budget spent, a domain added now waits for it to refill (a tenth of a minute per
	// read), well within the list's TTL.
	if err := e.SB.AddDomain("fresh.example"); err != nil {
		t.Fatal(err)
	}
	wantNoSuchDomain(t, get(t, c, "/d/fresh.example/new"), "fresh.example") // the bound's price
	e.Clock.Add(time.Minute / handlers.DomainRereadsPerMinute)
	wantStatus(t, get(t, c, "/d/fresh.example/new"), http.StatusOK)
}

// TestDomainListFailingDoesNotBlockAChange: when Mailgun's domain list cannot be read (a 5xx,
// no answer), a change on a real domain goes on as before the check existed, whether the kept
// list had run out or lacked the domain (added since): the check cannot tell, so it does not
// refuse, and Mailgun's answer to the change says what is wrong.
func TestDomainListFailingDoesNotBlockAChange(t *testing.T) {
	for _, f := range []struct {
		name   string
		faults sandbox.Faults
	}{
		{"503", sandbox.Faults{Routes: []string{sandbox.RouteDomains}, Rate: 1, Status: http.StatusServiceUnavailable}},
		{"no answer", sandbox.Faults{Routes: []string{sandbox.RouteDomains}, Rate: 1, Drop: true}},
	} {
		for _, tt := range []struct {
			name, domain string
			prepare      func(e *env)
		}{
			{"the kept list ran out", "acme.example", func(e *env) { e.Clock.Add(2 * time.Minute) }},
			{"the kept list lacks a domain added since", "fresh.example", func(e *env) {
				if err := e.SB.AddDomain("fresh.example"); err != nil {
					t.Fatal(err)
				}
			}},
		} {
			t.Run(f.name+", "+tt.name, func(t *testing.T) {
				e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000}})
				c := e.signIn(t, "admin")
				tt.prepare(e)
				e.SB.SetFaults(f.faults)
				e.SB.ResetCalls()
				path := "/d/" + tt.domain + "/new"
				p := submit(t, c, path, path, map[string]string{"logins": "newbie", "mode": "generate"})
				wantStatus(t, p, http.StatusOK)
				if got := e.callsTo(sandbox.RouteDomains, ""); len(got) == 0 {
					t.Error("the domain list was not asked for: the test does not reach the failing read")
				}
				if got := e.callsTo(sandbox.RouteCreate, tt.domain); len(got) != 1 {
					t.Errorf("create calls = %d, want 1", len(got))
				}
				if got := e.auditEntries(t, store.AuditFilter{Domain: tt.domain, Action: "credential.create"}); len(got) != 1 || got[0].Outcome != store.OutcomeOK {
					t.Errorf("audit entries = %+v, want one ok create", got)
				}
			})
		}
	}
}
