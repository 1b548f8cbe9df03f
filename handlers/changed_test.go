package handlers_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/smtpdesk/smtpdesk/handlers"
	"github.com/smtpdesk/smtpdesk/internal/testflow"
	"github.com/smtpdesk/smtpdesk/mailgun/sandbox"
	"github.com/smtpdesk/smtpdesk/store"
)

// getFrom fetches path as a browser does after a click on a page of this site at referer ("" for
// an address typed in).
func getFrom(t *testing.T, e *env, c *testflow.Client, path, referer string) *testflow.Page {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, e.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if referer != "" {
		req.Header.Set("Referer", referer)
	}
	p, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// sendForm posts the form sel of page p as a browser does: its hidden fields (CSRF token, form
// token, the way back) with fields filled in.
func sendForm(t *testing.T, c *testflow.Client, p *testflow.Page, sel string, fields map[string]string) *testflow.Page {
	t.Helper()
	form := p.Find(sel)
	if form.Length() != 1 {
		t.Fatalf("%s: %d forms %s, want one", p.URL.Path, form.Length(), sel)
	}
	v := url.Values{}
	form.Find(`input[type="hidden"]`).Each(func(_ int, in *goquery.Selection) {
		v.Add(in.AttrOr("name", ""), in.AttrOr("value", ""))
	})
	for k, s := range fields {
		v.Set(k, s)
	}
	out, err := c.Post(context.Background(), form.AttrOr("action", ""), v)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// testid is the CSS selector of a data-testid hook.
func testid(id string) string { return `[data-testid="` + id + `"]` }

// changedRows lists the data-login of the rows a domain page marks as just changed.
func changedRows(p *testflow.Page) []string {
	var out []string
	p.Find("tr[data-changed]").Each(func(_ int, s *goquery.Selection) {
		out = append(out, s.AttrOr("data-login", ""))
	})
	return out
}

// TestDoneShowsTheChangedLogin: the page after a create or a reset leads back to the list view
// the form was opened from (its Referer, which the form carries), naming the logins that changed
// (?changed=, never a password). That list opens at the page holding them, looked for in the
// whole domain when the view does not hold them, and marks their rows, and only theirs. A login
// full of characters that need escaping comes back intact.
func TestDoneShowsTheChangedLogin(t *testing.T) {
	e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000}})
	// example.com has postmaster@ and user001..user250; this one comes last, on page 3.
	const odd = `o'brien"<b>&ünï+x#?%@example.com`
	if err := e.SB.AddCredential("example.com", odd, "", sandbox.SeedBase()); err != nil {
		t.Fatal(err)
	}
	c := e.signIn(t, "admin")
	reset := func(login string) string { return "/d/example.com/logins/" + url.PathEscape(login) + "/reset" }
	generate := map[string]string{"mode": "generate"}
	const pw = "Chosen-Pass-42"
	manual := map[string]string{"mode": "manual", "password": pw, "password2": pw}
	tests := []struct {
		name     string
		form     string // the form page
		from     string // the page it was opened from (Referer); "" none
		fields   map[string]string
		wantBack string // where Done (or the manual reset's redirect) leads, without ?changed=
		want     []string
		wantPage string // the list's pager summary there
	}{
		{"reset from page 2", reset("user150@example.com"), "/d/example.com?page=2&per_page=100", generate,
			"/d/example.com?page=2&per_page=100", []string{"user150@example.com"}, "101–200 of 252"},
		{"reset from elsewhere: the page is found", reset("user150@example.com"), "", generate,
			"/d/example.com", []string{"user150@example.com"}, "101–200 of 252"},
		// The last login of page 1 (postmaster@ is first): the page is counted from 0-based index 99.
		{"reset from elsewhere of a page's last login", reset("user099@example.com"), "/d/example.com?page=3", generate,
			"/d/example.com?page=3", []string{"user099@example.com"}, "1–100 of 252"},
		{"manual reset from a page that does not hold it", reset("user010@example.com"), "/d/example.com?page=3&per_page=25", manual,
			"/d/example.com?page=3&per_page=25", []string{"user010@example.com"}, "1–25 of 252"},
		{"reset of an odd login from a filter", reset(odd), "/d/example.com?q=brien&junk=1", generate,
			"/d/example.com?q=brien", []string{odd}, "1 of 1"},
		{"reset from a filter's first page: the match is on its third", reset("user150@example.com"), "/d/example.com?q=user1&per_page=25", generate,
			"/d/example.com?per_page=25&q=user1", []string{"user150@example.com"}, "51–75 of 100"},
		// The first match of the filter's second page: the page after the one asked for.
		{"reset from a filter's first page: the match opens its second", reset("user125@example.com"), "/d/example.com?q=user1&per_page=25", generate,
			"/d/example.com?per_page=25&q=user1", []string{"user125@example.com"}, "26–50 of 100"},
		{"a Referer from another site is not followed", reset("user001@example.com"), "http://evil.example/d/example.com?page=2", generate,
			"/d/example.com", []string{"user001@example.com"}, "1–100 of 252"},
		{"create: the new login is on the last page", "/d/example.com/new", "/d/example.com?per_page=50", map[string]string{"logins": "newbie\nnewbie2", "mode": "generate"},
			"/d/example.com?per_page=50", []string{"newbie@example.com", "newbie2@example.com"}, "251–254 of 254"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			from := ""
			if tt.from != "" {
				from = tt.from
				if strings.HasPrefix(from, "/") {
					from = e.URL + from
				}
			}
			form := getFrom(t, e, c, tt.form, from)
			wantStatus(t, form, http.StatusOK)
			if got := form.TestID("cancel-link").AttrOr("href", ""); got != tt.wantBack {
				t.Errorf("Cancel leads to %q, want %q", got, tt.wantBack)
			}
			p := sendForm(t, c, form, testid("reset-form")+", "+testid("create-form"), tt.fields)
			wantStatus(t, p, http.StatusOK)
			var done *url.URL
			if tt.fields["mode"] == "manual" {
				done = p.URL // the redirect's
			} else {
				for _, s := range secretsOn(p) {
					if s == "" {
						t.Fatal("no generated password shown")
					}
					if href := p.TestID("done-link").AttrOr("href", ""); strings.Contains(href, s) {
						t.Error("the Done link holds the password")
					}
				}
				href, ok := p.TestID("done-link").Attr("href")
				if !ok {
					t.Fatalf("no Done link: %.500s", p.Text())
				}
				var err error
				if done, err = url.Parse(href); err != nil {
					t.Fatal(err)
				}
			}
			q := done.Query()
			if got := q["changed"]; !slices.Equal(got, tt.want) {
				t.Errorf("Done names %q, want %q (%s)", got, tt.want, done)
			}
			q.Del("changed")
			q.Del("flash") // the message the list is to show, that page view alone
			if id, err := strconv.ParseInt(q.Get("entry"), 10, 64); err != nil || id <= 0 {
				t.Errorf("Done names no audit entry of the change (%s)", done)
			}
			q.Del("entry")
			back := done.Path
			if len(q) > 0 {
				back += "?" + q.Encode()
			}
			if back != tt.wantBack {
				t.Errorf("Done leads to %q, want %q", back, tt.wantBack)
			}

			list := p
			if tt.fields["mode"] != "manual" {
				list = get(t, c, done.String())
			}
			wantStatus(t, list, http.StatusOK)
			if got := changedRows(list); !slices.Equal(got, tt.want) {
				t.Errorf("rows marked just changed: %q, want %q", got, tt.want)
			}
			if got := strings.Join(strings.Fields(list.TestID("pager-summary").Text()), " "); got != tt.wantPage {
				t.Errorf("the list shows %q, want %q", got, tt.wantPage)
			}
		})
	}
}

// TestChangedKeepsTheFormsWayBack: a form sent back for a fix keeps the list view it was opened
// from, and one whose back field names anything but this domain's list goes back to the list.
func TestChangedKeepsTheFormsWayBack(t *testing.T) {
	e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000}})
	c := e.signIn(t, "operator")
	form := getFrom(t, e, c, resetUser, e.URL+"/d/acme.example?per_page=25")
	wantStatus(t, form, http.StatusOK)
	fix := sendForm(t, c, form, testid("reset-form"), map[string]string{"mode": "manual", "password": "abc"})
	wantStatus(t, fix, http.StatusBadRequest)
	if got, want := fix.Find(`input[name="back"]`).AttrOr("value", ""), "/d/acme.example?per_page=25"; got != want {
		t.Errorf("the form sent back for a fix goes back to %q, want %q", got, want)
	}
	for i, back := range []string{"//evil.example/d/acme.example?page=2", "/d/example.com?per_page=25", "javascript:alert(1)//d/acme.example?page=2"} {
		pw := fmt.Sprintf("Fine-Pass-%d", i) // a new one each time: Mailgun refuses the same password again
		p := submit(t, c, resetUser, resetUser, map[string]string{"mode": "manual", "password": pw, "password2": pw, "back": back})
		wantStatus(t, p, http.StatusOK)
		if got, want := withoutChangeIDs(t, p.URL.RequestURI()), "/d/acme.example?changed=alice%40acme.example"; got != want || p.URL.Host != strings.TrimPrefix(e.URL, "http://") {
			t.Errorf("back %q: ended at %s, want %s on this site", back, p.URL, want)
		}
	}
}

// TestChangedInABigDomainKeepsThePage: in a domain bigger than the reset form reads whole, a
// login just changed that is not on the page asked for costs no read of the whole domain; the
// page asked for (the one the form came from) is shown, and marks the login when it holds it.
func TestChangedInABigDomainKeepsThePage(t *testing.T) {
	e := newEnv(t, envOptions{})
	if err := e.SB.AddDomain("big.example"); err != nil {
		t.Fatal(err)
	}
	if err := e.SB.AddGeneratedLogins("big.example", 1100); err != nil {
		t.Fatal(err)
	}
	c := e.signIn(t, "admin")
	const last = "gen001100@big.example" // the last login, on page 12
	e.SB.ResetCalls()
	p := get(t, c, "/d/big.example?changed="+url.QueryEscape(last))
	wantStatus(t, p, http.StatusOK)
	if got := changedRows(p); len(got) != 0 {
		t.Errorf("rows marked: %q, want none on page 1", got)
	}
	if n := len(e.callsTo(sandbox.RouteList, "big.example")); n != 1 {
		t.Errorf("%d list calls, want 1 (the page only)", n)
	}
	p = get(t, c, "/d/big.example?page=12&changed="+url.QueryEscape(last))
	wantStatus(t, p, http.StatusOK)
	if got := changedRows(p); !slices.Equal(got, []string{last}) {
		t.Errorf("rows marked: %q, want %q", got, []string{last})
	}
}

// TestResetLeavingTheRotateViewKeepsNoNote: a login reset from the "To rotate" view leaves that
// view (its password is new). Reset from the view's last page when it was that page's only
// login, the way back leads to a page that is gone: the list shows the view's new last page
// quietly, as after a delete, not under a note that the page asked for does not exist, which
// the user did not ask for. An address typed in with a page past the end still gets the note.
func TestResetLeavingTheRotateViewKeepsNoNote(t *testing.T) {
	e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000}})
	if err := e.SB.AddDomain("rot.example"); err != nil {
		t.Fatal(err)
	}
	old := sandbox.SeedBase().AddDate(-3, 0, 0)
	for i := 1; i <= 26; i++ {
		if err := e.SB.AddCredential("rot.example", fmt.Sprintf("app%02d@rot.example", i), "", old); err != nil {
			t.Fatal(err)
		}
	}
	c := e.signIn(t, "admin")
	const view = "/d/rot.example?page=2&per_page=25&rotate=1"
	list := get(t, c, view)
	wantStatus(t, list, http.StatusOK)
	if got := loginsOn(list); !slices.Equal(got, []string{"app26@rot.example"}) {
		t.Fatalf("%s shows %q, want the one login app26", view, got)
	}
	form := getFrom(t, e, c, "/d/rot.example/logins/app26@rot.example/reset", e.URL+view)
	wantStatus(t, form, http.StatusOK)
	const pw = "Rotated-Pass-42"
	p := sendForm(t, c, form, testid("reset-form"), map[string]string{"mode": "manual", "password": pw, "password2": pw})
	wantStatus(t, p, http.StatusOK)
	if got, want := p.URL.Query().Get("rotate"), "1"; got != want {
		t.Errorf("the reset led to %s, not back to the To rotate view", p.URL)
	}
	if got := p.TestID("flash").Text(); !strings.Contains(got, "Password for app26@rot.example changed.") {
		t.Errorf("flash = %q, want the reset's", got)
	}
	if got, want := pagerText(p), "1–25 of 25"; got != want {
		t.Errorf("the list shows %q, want %q", got, want)
	}
	if strings.Contains(p.Text(), "There is no page") {
		t.Errorf("the list after the reset says the page asked for does not exist: %q", strings.TrimSpace(p.TestID("flash-warning").Text()))
	}

	typed := get(t, c, view)
	wantStatus(t, typed, http.StatusOK)
	if got, want := strings.TrimSpace(typed.TestID("flash-warning").Text()), "There is no page 2: this is the only page."; got != want {
		t.Errorf("the view typed in with a page past its end: note %q, want %q", got, want)
	}
}

// TestChangedLeftOutOfTheViewIsSaid: a login created from a list filtered by another name is
// left out of the list that "Done" leads back to: the list says so, and what shows it, instead
// of showing the filter's matches without a word. A reset that takes its login out of the "To
// rotate" view says why. Only logins of the domain are named, never the address's text.
func TestChangedLeftOutOfTheViewIsSaid(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.signIn(t, "admin")
	p := submit(t, c, "/d/acme.example/new", "/d/acme.example/new", map[string]string{"logins": "zz-hidden", "mode": "generate"})
	wantStatus(t, p, http.StatusOK)
	info := func(p *testflow.Page) string { return strings.TrimSpace(p.TestID("flash-info").Text()) }

	p = get(t, c, "/d/acme.example?q=alice&changed=zz-hidden%40acme.example")
	wantStatus(t, p, http.StatusOK)
	if got, want := info(p), "zz-hidden@acme.example is not in this list: the filter “alice” leaves it out. Clear the filter to see it."; got != want {
		t.Errorf("filtered list after the create: note %q, want %q", got, want)
	}
	// Shown by the view: nothing to say.
	if got := info(get(t, c, "/d/acme.example?q=zz&changed=zz-hidden%40acme.example")); got != "" {
		t.Errorf("a view that shows the login: note %q, want none", got)
	}
	// Not a login of the domain: the address's text is not repeated.
	if got := info(get(t, c, "/d/acme.example?q=alice&changed=%3Cb%3Emade-up%40acme.example")); got != "" {
		t.Errorf("a made-up login: note %q, want none", got)
	}
	// Back to the "To rotate" view after a change that set a password (here the create's): the
	// login is not in the view.
	p = get(t, c, "/d/acme.example?rotate=1&changed=zz-hidden%40acme.example")
	if got, want := info(p), "zz-hidden@acme.example is not in this list: a password set now is not due for rotation."; got != want {
		t.Errorf("rotate view after a reset: note %q, want %q", got, want)
	}
	// A filter that matches it, in the "To rotate" view: the rotation leaves it out, not the filter.
	p = get(t, c, "/d/acme.example?q=zz&rotate=1&changed=zz-hidden%40acme.example")
	if got, want := info(p), "zz-hidden@acme.example is not in this list: a password set now is not due for rotation."; got != want {
		t.Errorf("filtered rotate view after a reset: note %q, want %q", got, want)
	}
}

// TestWayBackSaysWhoChangedItSince: the way back from a change ("Done, back to the list") says
// when another user changed the login again after it, so that the viewer learns the password
// they were just shown no longer works: a colleague's reset a moment later (each page alone was
// right, and the first user's list then greeted them with "Password changed."), a delete, one
// that was already at Mailgun when the reset ran, and a delete all that ran while the login was
// being created (its entry names only the logins listed before it). A change alone, or one only the viewer made again, says nothing of the kind.
func TestWayBackSaysWhoChangedItSince(t *testing.T) {
	const (
		reset = "/d/acme.example/logins/bob/reset"
		del   = "/d/acme.example/logins/bob/delete"
		form  = "/d/acme.example/new"
		all   = "/d/acme.example/delete-all"
	)
	tests := []struct {
		name string
		// change is the admin's change, after which meanwhile runs; it returns the passwords page.
		change    func(t *testing.T, e *env, admin *testflow.Client) *testflow.Page
		meanwhile func(t *testing.T, e *env, owner *testflow.Client)
		want      string
	}{
		{
			name: "reset again",
			change: func(t *testing.T, e *env, admin *testflow.Client) *testflow.Page {
				return submit(t, admin, reset, reset, map[string]string{"mode": "generate"})
			},
			meanwhile: func(t *testing.T, e *env, owner *testflow.Client) {
				wantStatus(t, submit(t, owner, reset, reset, map[string]string{"mode": "generate"}), http.StatusOK)
			},
			want: "Olga Owner reset the password of bob@acme.example again on ",
		},
		{
			name: "deleted",
			change: func(t *testing.T, e *env, admin *testflow.Client) *testflow.Page {
				return submit(t, admin, reset, reset, map[string]string{"mode": "generate"})
			},
			meanwhile: func(t *testing.T, e *env, owner *testflow.Client) {
				wantStatus(t, submit(t, owner, del, del, map[string]string{}), http.StatusOK)
			},
			want: "Olga Owner deleted bob@acme.example on ",
		},
		{
			name: "deleted while the reset ran",
			change: func(t *testing.T, e *env, admin *testflow.Client) *testflow.Page {
				// The owner's delete is at Mailgun (its entry begun before the reset's) while
				// the admin's reset goes through; Mailgun then deletes the login.
				owner := e.signIn(t, "owner")
				confirm := get(t, owner, del)
				hold := make(chan struct{})
				e.SB.SetFaults(sandbox.Faults{Routes: []string{sandbox.RouteDelete}, Hold: hold})
				done := make(chan *testflow.Page, 1)
				go func() { done <- sendAgain(t, owner, confirm, del, url.Values{}) }()
				deadline := time.Now().Add(5 * time.Second)
				for len(e.auditEntries(t, store.AuditFilter{Action: "credential.delete"})) < 1 && time.Now().Before(deadline) {
					time.Sleep(5 * time.Millisecond)
				}
				p := submit(t, admin, reset, reset, map[string]string{"mode": "generate"})
				close(hold)
				wantStatus(t, <-done, http.StatusOK)
				return p
			},
			meanwhile: func(*testing.T, *env, *testflow.Client) {},
			want:      "Olga Owner deleted bob@acme.example on ",
		},
		{
			name: "created while all were deleted",
			change: func(t *testing.T, e *env, admin *testflow.Client) *testflow.Page {
				// The owner's delete all is at Mailgun (its list read, its entry written) while
				// the admin creates zed; Mailgun deletes zed with the others.
				owner := e.signIn(t, "owner")
				confirm := get(t, owner, all)
				hold := make(chan struct{})
				e.SB.SetFaults(sandbox.Faults{Routes: []string{sandbox.RouteDeleteAll}, Hold: hold})
				done := make(chan *testflow.Page, 1)
				go func() {
					done <- sendAgain(t, owner, confirm, all, url.Values{"confirm": {"acme.example"},
						"listed": {confirm.Find(`input[name="listed"]`).AttrOr("value", "")}})
				}()
				deadline := time.Now().Add(5 * time.Second)
				for len(e.auditEntries(t, store.AuditFilter{Action: "credential.delete_all"})) < 1 && time.Now().Before(deadline) {
					time.Sleep(5 * time.Millisecond)
				}
				p := submit(t, admin, form, form, map[string]string{"logins": "zed", "mode": "generate"})
				close(hold)
				wantStatus(t, <-done, http.StatusOK)
				return p
			},
			meanwhile: func(*testing.T, *env, *testflow.Client) {},
			want:      "zed@acme.example is no longer in acme.example: Olga Owner deleted all of its logins on ",
		},
		{
			name: "a reset Mailgun refused meanwhile",
			change: func(t *testing.T, e *env, admin *testflow.Client) *testflow.Page {
				return submit(t, admin, reset, reset, map[string]string{"mode": "generate"})
			},
			meanwhile: func(t *testing.T, e *env, owner *testflow.Client) {
				// The owner's reset after it failed: the password the admin's change gave bob works.
				e.SB.SetFaults(sandbox.Faults{Routes: []string{sandbox.RouteUpdate}, Rate: 1, Status: http.StatusBadRequest, Message: "Password too weak"})
				submit(t, owner, reset, reset, map[string]string{"mode": "generate"})
				e.SB.SetFaults(sandbox.Faults{})
				if es := e.auditEntries(t, store.AuditFilter{Action: "credential.reset", Outcome: "failed"}); len(es) != 1 {
					t.Fatalf("failed resets in the trail: %d, want 1", len(es))
				}
			},
		},
		{
			name: "all deleted by me since",
			change: func(t *testing.T, e *env, admin *testflow.Client) *testflow.Page {
				return submit(t, admin, reset, reset, map[string]string{"mode": "generate"})
			},
			meanwhile: func(t *testing.T, e *env, _ *testflow.Client) {
				// The same user, in another window, deletes every login of the domain: their own
				// delete all, said as theirs.
				me := e.signIn(t, "admin")
				deleteAllOf(t, me, "acme.example")
			},
			want: "bob@acme.example is no longer in acme.example: you deleted all of its logins on ",
		},
		{
			name: "a delete Mailgun refused meanwhile",
			change: func(t *testing.T, e *env, admin *testflow.Client) *testflow.Page {
				return submit(t, admin, reset, reset, map[string]string{"mode": "generate"})
			},
			meanwhile: func(t *testing.T, e *env, owner *testflow.Client) {
				// The owner's delete failed: bob is still there, with the admin's password.
				e.SB.SetFaults(sandbox.Faults{Routes: []string{sandbox.RouteDelete}, Rate: 1, Status: http.StatusBadRequest, Message: "Not allowed"})
				submit(t, owner, del, del, map[string]string{})
				e.SB.SetFaults(sandbox.Faults{})
				if es := e.auditEntries(t, store.AuditFilter{Action: "credential.delete", Outcome: "failed"}); len(es) != 1 {
					t.Fatalf("failed deletes in the trail: %d, want 1", len(es))
				}
			},
		},
		{
			name: "reset again, then a reset of mine refused",
			change: func(t *testing.T, e *env, admin *testflow.Client) *testflow.Page {
				return submit(t, admin, reset, reset, map[string]string{"mode": "generate"})
			},
			meanwhile: func(t *testing.T, e *env, owner *testflow.Client) {
				wantStatus(t, submit(t, owner, reset, reset, map[string]string{"mode": "generate"}), http.StatusOK)
				// The admin's own later attempt, which Mailgun refused, changed nothing: the
				// owner's reset still came after the admin's change.
				e.SB.SetFaults(sandbox.Faults{Routes: []string{sandbox.RouteUpdate}, Rate: 1, Status: http.StatusBadRequest, Message: "Password too weak"})
				submit(t, e.signIn(t, "admin"), reset, reset, map[string]string{"mode": "generate"})
				e.SB.SetFaults(sandbox.Faults{})
			},
			want: "Olga Owner reset the password of bob@acme.example again on ",
		},
		{
			name: "alone",
			change: func(t *testing.T, e *env, admin *testflow.Client) *testflow.Page {
				return submit(t, admin, reset, reset, map[string]string{"mode": "generate"})
			},
			meanwhile: func(t *testing.T, e *env, _ *testflow.Client) {},
		},
		{
			// A persona review's: the same user's own reset again, in another tab, replaced the
			// password the page they leave showed, and the way back said only "changed.".
			name: "reset again by me in another window",
			change: func(t *testing.T, e *env, admin *testflow.Client) *testflow.Page {
				return submit(t, admin, reset, reset, map[string]string{"mode": "generate"})
			},
			meanwhile: func(t *testing.T, e *env, _ *testflow.Client) {
				wantStatus(t, submit(t, e.signIn(t, "admin"), reset, reset, map[string]string{"mode": "generate"}), http.StatusOK)
			},
			want: "You reset the password of bob@acme.example again later, on ",
		},
		{
			// A review's: the user's own delete all, after an older change of the login (their
			// own reset again, a colleague's), was hidden behind it ("use the newer one", "ask
			// them for the new one" of a login that is gone).
			name: "reset again by me, then all deleted by me",
			change: func(t *testing.T, e *env, admin *testflow.Client) *testflow.Page {
				return submit(t, admin, reset, reset, map[string]string{"mode": "generate"})
			},
			meanwhile: func(t *testing.T, e *env, _ *testflow.Client) {
				me := e.signIn(t, "admin")
				wantStatus(t, submit(t, me, reset, reset, map[string]string{"mode": "generate"}), http.StatusOK)
				deleteAllOf(t, me, "acme.example")
			},
			want: "bob@acme.example is no longer in acme.example: you deleted all of its logins on ",
		},
		{
			name: "reset by a colleague, then all deleted by me",
			change: func(t *testing.T, e *env, admin *testflow.Client) *testflow.Page {
				return submit(t, admin, reset, reset, map[string]string{"mode": "generate"})
			},
			meanwhile: func(t *testing.T, e *env, owner *testflow.Client) {
				wantStatus(t, submit(t, owner, reset, reset, map[string]string{"mode": "generate"}), http.StatusOK)
				me := e.signIn(t, "admin")
				deleteAllOf(t, me, "acme.example")
			},
			want: "bob@acme.example is no longer in acme.example: you deleted all of its logins on ",
		},
		{
			name: "deleted by me in another window",
			change: func(t *testing.T, e *env, admin *testflow.Client) *testflow.Page {
				return submit(t, admin, reset, reset, map[string]string{"mode": "generate"})
			},
			meanwhile: func(t *testing.T, e *env, _ *testflow.Client) {
				wantStatus(t, submit(t, e.signIn(t, "admin"), del, del, map[string]string{}), http.StatusOK)
			},
			want: "You deleted bob@acme.example on ",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000}})
			admin, owner := e.signIn(t, "admin"), e.signIn(t, "owner")
			p := tt.change(t, e, admin)
			wantStatus(t, p, http.StatusOK)
			done := p.Find(`a[href*="changed="]`).Last().AttrOr("href", "")
			if done == "" {
				t.Fatalf("no way back from the passwords page: %.600s", p.Text())
			}
			tt.meanwhile(t, e, owner)
			list := get(t, admin, done)
			wantStatus(t, list, http.StatusOK)
			flash := list.TestID("flash").Text()
			if tt.want == "" {
				if strings.Contains(flash, "after your change") || strings.Contains(flash, "no longer works") {
					t.Errorf("the way back from a change nobody else followed warns: %q", flash)
				}
				return
			}
			if !strings.Contains(flash, tt.want) || !strings.Contains(flash, "no longer works") {
				t.Errorf("the way back does not say %q; flashes %q", tt.want, flash)
			}
		})
	}
}

// TestWayBackOfMyLaterChangeIsQuiet: of two resets of one login by one user (two tabs), only the
// first one's way back says the second replaced its password: the second's is the password in
// force, and a way back that names no change (an address from before ?entry=) counts none of
// the user's own changes, as before.
func TestWayBackOfMyLaterChangeIsQuiet(t *testing.T) {
	const reset = "/d/acme.example/logins/bob/reset"
	e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000}})
	admin := e.signIn(t, "admin")
	var dones []string
	for range 2 {
		p := submit(t, admin, reset, reset, map[string]string{"mode": "generate"})
		wantStatus(t, p, http.StatusOK)
		dones = append(dones, p.TestID("done-link").AttrOr("href", ""))
	}
	warned := func(done string) bool {
		t.Helper()
		list := get(t, admin, done)
		wantStatus(t, list, http.StatusOK)
		return strings.Contains(list.TestID("flash").Text(), "You reset the password of bob@acme.example again")
	}
	if !warned(dones[0]) {
		t.Error("the first reset's way back does not say the second replaced its password")
	}
	// Made in the same tab here (Back to the first way back, or a bookmark of it, without the
	// script): the warning must not say where the later reset was made.
	if f := get(t, admin, dones[0]).TestID("flash-warning").Text(); strings.Contains(f, "another tab") {
		t.Errorf("the first reset's way back says where the second was made: %q", f)
	}
	if warned(dones[1]) {
		t.Error("the second reset's way back warns of the first")
	}
	if warned("/d/acme.example?changed=bob%40acme.example") {
		t.Error("a way back naming no change warns of the user's own")
	}
}

// TestOwnOverlappingResetIsNotSaidAfter (a review's): two resets of one login by one user that
// overlap (tab B's begins after tab A's and finishes before it): A's password is the one Mailgun
// set last, the one in force. A colleague's overlapping reset is not said on the way back (the
// passwords page warned of it); the user's own was said as "no longer works".
func TestOwnOverlappingResetIsNotSaidAfter(t *testing.T) {
	const reset = "/d/acme.example/logins/bob/reset"
	e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000}})
	tabA, tabB := e.signIn(t, "admin"), e.signIn(t, "admin")
	hold := make(chan struct{})
	e.SB.SetFaults(sandbox.Faults{Routes: []string{sandbox.RouteUpdate}, Hold: hold})
	done := make(chan *testflow.Page, 1)
	go func() { done <- submit(t, tabA, reset, reset, map[string]string{"mode": "generate"}) }()
	deadline := time.Now().Add(5 * time.Second)
	for len(e.auditEntries(t, store.AuditFilter{Action: "credential.reset"})) < 1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // A's call is at Mailgun, held
	e.SB.SetFaults(sandbox.Faults{})
	e.Clock.Add(time.Second)
	wantStatus(t, submit(t, tabB, reset, reset, map[string]string{"mode": "generate"}), http.StatusOK) // B: begins after A, done before A
	e.Clock.Add(time.Second)
	close(hold)
	p := <-done
	wantStatus(t, p, http.StatusOK)
	for _, en := range e.auditEntries(t, store.AuditFilter{Action: "credential.reset"}) {
		t.Logf("entry %d began %s completed %v", en.ID, en.Time.Format(time.RFC3339Nano), en.CompletedAt)
	}
	doneURL := p.TestID("done-link").AttrOr("href", "")
	list := get(t, tabA, doneURL)
	wantStatus(t, list, http.StatusOK)
	if f := list.TestID("flash").Text(); strings.Contains(f, "no longer works") {
		t.Errorf("A's way back (%s), whose password Mailgun set last, says it no longer works: %q", doneURL, f)
	}
}

// deleteAllOf deletes every login of domain as c, through its confirmation page.
func deleteAllOf(t *testing.T, c *testflow.Client, domain string) {
	t.Helper()
	all := "/d/" + domain + "/delete-all"
	confirm := get(t, c, all)
	wantStatus(t, sendAgain(t, c, confirm, all, url.Values{"confirm": {domain},
		"listed": {confirm.Find(`input[name="listed"]`).AttrOr("value", "")}}), http.StatusOK)
}
