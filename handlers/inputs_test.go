package handlers_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/smtpdesk/smtpdesk/handlers"
	"github.com/smtpdesk/smtpdesk/store"
)

// TestAuditLoginFilterThatCannotMatch (after a review helper's): a login copied from the end of
// a sentence ("who reset alice@acme.example?") into the trail's login filter, or typed into its
// address with a '+' (read as a space), names no login Mailgun can have. The page answered
// "Nothing recorded for alice@acme.example. yet", which reads as "nobody touched alice" while
// the trail holds her reset; it now says the filter cannot match, as for a login without an @.
func TestAuditLoginFilterThatCannotMatch(t *testing.T) {
	e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000}})
	c := e.signIn(t, "admin")
	p := submit(t, c, "/d/acme.example/logins/alice/reset", "/d/acme.example/logins/alice@acme.example/reset",
		map[string]string{"mode": "generate"})
	wantStatus(t, p, http.StatusOK)
	if n := len(e.auditEntries(t, store.AuditFilter{Login: "alice@acme.example", Action: "credential.reset"})); n != 1 {
		t.Fatalf("%d resets of alice in the trail, want 1", n)
	}
	p = submit(t, c, "/d/acme.example/new", "/d/acme.example/new", map[string]string{"logins": "ann+ops", "mode": "generate"})
	wantStatus(t, p, http.StatusOK)
	if n := get(t, c, "/audit?login=ann%2Bops%40acme.example").TestID("audit-row").Length(); n != 1 {
		t.Fatalf("ann+ops's history (escaped) has %d rows, want 1", n)
	}
	for _, path := range []string{"/audit?login=" + url.QueryEscape("alice@acme.example."), "/audit?login=" + url.QueryEscape("alice@acme.example?"),
		"/audit?login=ann+ops@acme.example"} {
		p := get(t, c, path)
		wantStatus(t, p, http.StatusOK)
		if problems := strings.Join(strings.Fields(p.TestID("filter-problems").Text()), " "); !strings.Contains(problems, "cannot match any login") {
			t.Errorf("%s: the page says nothing of a login filter that cannot match (problems %q; empty state %q)", path, problems,
				strings.Join(strings.Fields(p.TestID("empty-state").Text()), " "))
		}
	}
	// A login that can be Mailgun's is taken as it is.
	if p := get(t, c, "/audit?login="+url.QueryEscape("alice@acme.example")); p.TestID("filter-problems").Length() != 0 || p.TestID("audit-row").Length() != 1 {
		t.Errorf("alice's history: %d problems, %d rows; want none and her reset", p.TestID("filter-problems").Length(), p.TestID("audit-row").Length())
	}
}

// TestDeleteAllConfirmWithInvisibleCharacters (after a review helper's): the delete-all
// confirmation pasted with a character that takes no room (a byte order mark from a text file,
// a zero-width space from a chat) shows exactly the domain's name, and the page's script enabled
// the button (JavaScript's trim() removes U+FEFF), but the server answered "Type acme.example
// exactly to confirm.": the owner could not see what to change. It is read as the filters are.
func TestDeleteAllConfirmWithInvisibleCharacters(t *testing.T) {
	for _, typed := range []string{"\ufeffacme.example", "acme.example\u200b", " \u2060acme.example "} {
		t.Run(url.QueryEscape(typed), func(t *testing.T) {
			e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000}})
			c := e.signIn(t, "owner")
			form := get(t, c, "/d/acme.example/delete-all")
			wantStatus(t, form, http.StatusOK)
			listed, _ := form.Find(`input[name="listed"]`).Attr("value")
			before := len(e.SB.Logins("acme.example"))
			p := submit(t, c, "/d/acme.example/delete-all", "/d/acme.example/delete-all",
				map[string]string{"confirm": typed, "listed": listed})
			wantStatus(t, p, http.StatusOK)
			if after := len(e.SB.Logins("acme.example")); after >= before {
				t.Errorf("confirm %q: %d logins before, %d after: nothing deleted", typed, before, after)
			}
		})
	}
}

// TestIDNDomainByItsName (after a review helper's): an internationalized domain is in Mailgun's
// list, and on every page, in its ASCII form (xn--bcher-kva.example for bücher.example). Searched
// for by its name, the home page answered "No domains match “bücher”. Check the spelling"; typed
// into the address, /d/bücher.example answered "not valid: it has a non-ASCII character" without
// naming the form that works. The search finds it, and the error page names and links it.
func TestIDNDomainByItsName(t *testing.T) {
	e := newEnv(t, envOptions{})
	// Enough domains for the home page to offer its search box (more than 10).
	for _, d := range []string{"xn--bcher-kva.example", "a1.example", "a2.example", "a3.example", "a4.example", "a5.example", "a6.example", "a7.example"} {
		if err := e.SB.AddDomain(d); err != nil {
			t.Fatal(err)
		}
	}
	c := e.signIn(t, "admin")
	for _, q := range []string{"bücher", "BÜCH", "xn--bcher", "bu\u0308cher"} { // the last decomposed (NFD)
		p := get(t, c, "/?q="+url.QueryEscape(q))
		wantStatus(t, p, http.StatusOK)
		if rows := p.Find(`[data-testid="domain-row"]`); rows.Length() != 1 || rows.AttrOr("data-domain", "") != "xn--bcher-kva.example" {
			t.Errorf("home search for %q: %d domains offered, want xn--bcher-kva.example alone; the page says %.300q", q, rows.Length(),
				strings.Join(strings.Fields(p.TestID("empty-state").Text()), " "))
		}
	}
	p := get(t, c, "/d/"+url.PathEscape("bücher.example"))
	wantStatus(t, p, http.StatusBadRequest)
	if msg := p.TestID("error-message").Text(); !strings.Contains(msg, "Mailgun names it xn--bcher-kva.example") {
		t.Errorf("/d/bücher.example: the page does not name xn--bcher-kva.example: %q", msg)
	}
	if href, _ := p.Find(`a[href="/d/xn--bcher-kva.example"]`).Attr("href"); href == "" {
		t.Error("/d/bücher.example: no link to /d/xn--bcher-kva.example")
	}
}
