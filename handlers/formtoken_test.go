package handlers_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/smtpdesk/smtpdesk/handlers"
	"github.com/smtpdesk/smtpdesk/internal/testflow"
	"github.com/smtpdesk/smtpdesk/mailgun/sandbox"
)

// TestFormSentTwiceActsOnce: a create or reset form sent again (a reload of the page its POST
// answered, or the back button) is refused with 409 and nothing reaches Mailgun a second time,
// so the password shown first stays the working one. A form that went back for a fix keeps its
// token, and the form shown with the refusal has a new one, for a deliberate second action.
func TestFormSentTwiceActsOnce(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.signIn(t, "admin")
	ctx := context.Background()
	formOf := func(path string) url.Values {
		t.Helper()
		p := get(t, c, path)
		wantStatus(t, p, http.StatusOK)
		tok := p.Find(`input[name="_form"]`).AttrOr("value", "")
		if tok == "" {
			t.Fatalf("%s has no form token", path)
		}
		return url.Values{"_csrf": {p.CSRF()}, "_form": {tok}}
	}
	var last map[string]string // the passwords the last answer showed
	post := func(path string, v url.Values) (int, string, string) {
		t.Helper()
		p, err := c.Post(ctx, path, v)
		if err != nil {
			t.Fatal(err)
		}
		last = secretsOn(p)
		return p.Status, p.Text(), p.Find(`input[name="_form"]`).AttrOr("value", "")
	}

	t.Run("reset", func(t *testing.T) {
		v := formOf(resetUser)
		tok := v.Get("_form")
		v.Set("mode", "manual")
		v.Set("password", "abc")
		v.Set("password2", "abc")
		if status, _, kept := post(resetUser, v); status != http.StatusBadRequest || kept != tok {
			t.Errorf("a form with a bad password = %d with token %q, want 400 keeping %q", status, kept, tok)
		}
		v.Del("password")
		v.Del("password2")
		v.Set("mode", "generate")
		status, _, _ := post(resetUser, v)
		pw := last["alice@acme.example"]
		if status != http.StatusOK || pw == "" {
			t.Fatalf("first reset = %d, password shown %v", status, pw != "")
		}
		first := e.SB.Calls()
		status, text, next := post(resetUser, v)
		if status != http.StatusConflict || !strings.Contains(text, "already sent") {
			t.Errorf("the same form again = %d %q, want 409 \"already sent\"", status, text)
		}
		if n := len(e.SB.Calls()) - len(first); n != 0 {
			t.Errorf("the form sent again made %d Mailgun calls, want 0", n)
		}
		if !e.SB.CheckPassword("acme.example", "alice", pw) {
			t.Error("the password shown first no longer works")
		}
		if next == "" || next == v.Get("_form") {
			t.Errorf("the form shown with the refusal has token %q, want a new one", next)
		}
		v.Set("_form", next)
		if status, _, _ := post(resetUser, v); status != http.StatusOK {
			t.Errorf("a deliberate second reset with the new form = %d, want 200", status)
		}
	})

	t.Run("create", func(t *testing.T) {
		const path = "/d/acme.example/new"
		v := formOf(path)
		tok := v.Get("_form")
		v.Set("mode", "generate")
		v.Set("logins", "twice\nbad login")
		status, _, kept := post(path, v)
		if status != http.StatusBadRequest || kept != tok {
			t.Errorf("a form with a bad line = %d with token %q, want 400 keeping %q", status, kept, tok)
		}
		v.Set("logins", "twice")
		if status, _, _ := post(path, v); status != http.StatusOK {
			t.Fatalf("the fixed form = %d, want 200", status)
		}
		if status, text, _ := post(path, v); status != http.StatusConflict || !strings.Contains(text, "already sent") {
			t.Errorf("the same form again = %d %q, want 409 \"already sent\"", status, text)
		}
		if n := len(e.callsTo("create", "acme.example")); n != 1 {
			t.Errorf("%d create calls, want 1", n)
		}
	})
}

// TestCreateNamesTheLoginThatExists: when Mailgun refuses a batch because a login exists, the
// form names that line, from the logins as typed, and every other line whose login the domain
// has (Mailgun names only the first), and no line of a new login.
func TestCreateNamesTheLoginThatExists(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.signIn(t, "admin")
	const path = "/d/acme.example/new"
	p := submit(t, c, path, path, map[string]string{"logins": "new-one\n\nlice\nalice\nnew-two", "mode": "generate"})
	if p.Status < 400 {
		t.Fatalf("create with an existing login = %d, want a refusal", p.Status)
	}
	var got []string
	p.TestID("line-error").Each(func(_ int, s *goquery.Selection) { got = append(got, strings.Join(strings.Fields(s.Text()), " ")) })
	if want := []string{"Line 4 alice@acme.example: already exists in this domain. Pick another name, or reset its password."}; !slices.Equal(got, want) {
		t.Errorf("line errors %q, want %q", got, want)
	}
	if h := strings.Join(strings.Fields(p.TestID("line-errors").Find("p").First().Text()), " "); h != "Nothing was created: 1 line names a login the domain has already" {
		t.Errorf("line errors heading %q", h)
	}
	if v := p.Find(`textarea[name="logins"]`).Text(); !strings.Contains(v, "new-two") {
		t.Errorf("the logins typed were not kept: %q", v)
	}

	// Mailgun names only the first login it finds; the form names every one the domain has,
	// so that it comes back once, not once for each.
	e.SB.ResetCalls()
	p = submit(t, c, path, path, map[string]string{"logins": "new-three\nbob\nalice\nnew-four\nCarol", "mode": "generate"})
	got = nil
	p.TestID("line-error").Each(func(_ int, s *goquery.Selection) { got = append(got, strings.Join(strings.Fields(s.Text()), " ")) })
	want := []string{
		"Line 2 bob@acme.example: already exists in this domain. Pick another name, or reset its password.",
		"Line 3 alice@acme.example: already exists in this domain. Pick another name, or reset its password.",
		"Line 5 Carol@acme.example: already exists in this domain. Pick another name, or reset its password.",
	}
	if !slices.Equal(got, want) {
		t.Errorf("line errors %q, want %q", got, want)
	}
	if h := strings.Join(strings.Fields(p.TestID("line-errors").Find("p").First().Text()), " "); h != "Nothing was created: 3 lines name logins the domain has already" {
		t.Errorf("line errors heading %q", h)
	}
	if n := len(e.callsTo("create", "")); n != 1 {
		t.Errorf("%d create calls, want the one Mailgun refused", n)
	}
}

// TestFormSentTwiceAtOnce: a double click sends the form twice at the same moment; one sending
// acts and the other is told it was already sent (the record is one atomic statement).
func TestFormSentTwiceAtOnce(t *testing.T) {
	e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000}})
	c := e.signIn(t, "admin")
	ctx := context.Background()
	for i := range 10 {
		p := get(t, c, resetUser)
		v := url.Values{"_csrf": {p.CSRF()}, "_form": {p.Find(`input[name="_form"]`).AttrOr("value", "")}, "mode": {"generate"}}
		before := len(e.callsTo("update", "acme.example"))
		statuses := make(chan int, 2)
		for range 2 {
			go func() {
				r, err := c.Post(ctx, resetUser, v)
				if err != nil {
					statuses <- 0
					return
				}
				statuses <- r.Status
			}()
		}
		got := []int{<-statuses, <-statuses}
		slices.Sort(got)
		if n := len(e.callsTo("update", "acme.example")) - before; n != 1 || !slices.Equal(got, []int{http.StatusOK, http.StatusConflict}) {
			t.Errorf("double send %d: %d Mailgun calls, answers %v; want 1 call, 200 and 409", i, n, got)
		}
	}
}

// TestFormNotSentIsNotAlreadySent: a form that changed nothing (refused by the rate limit, by an
// audit trail that could not record it, by Mailgun) can be sent again as a new attempt, never
// "already sent"; one whose outcome is unknown (Mailgun's 5xx) cannot. A token not of SMTP
// Desk's shape is not stored, so it tells nothing apart.
func TestFormNotSentIsNotAlreadySent(t *testing.T) {
	ctx := context.Background()
	formOf := func(t *testing.T, c *testflow.Client, path string) url.Values {
		p := get(t, c, path)
		return url.Values{"_csrf": {p.CSRF()}, "_form": {p.Find(`input[name="_form"]`).AttrOr("value", "")}}
	}
	post := func(t *testing.T, c *testflow.Client, path string, v url.Values) *testflow.Page {
		p, err := c.Post(ctx, path, v)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	t.Run("rate limit", func(t *testing.T) {
		e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1}})
		c := e.signIn(t, "admin")
		const path = "/d/acme.example/new"
		first := formOf(t, c, path)
		first.Set("logins", "first-one")
		wantStatus(t, post(t, c, path, first), http.StatusOK)
		v := formOf(t, c, path)
		v.Set("logins", "second-one")
		wantStatus(t, post(t, c, path, v), http.StatusTooManyRequests)
		e.Clock.Add(2 * time.Minute)
		wantStatus(t, post(t, c, path, v), http.StatusOK) // the reload after the wait
	})
	t.Run("audit trail down", func(t *testing.T) {
		e := newEnv(t, envOptions{})
		c := e.signIn(t, "admin")
		v := formOf(t, c, resetUser)
		v.Set("mode", "generate")
		e.Auditor.failBegin.Store(true)
		if p := post(t, c, resetUser, v); p.Status < 500 {
			t.Fatalf("reset with the audit trail down = %d, want a 5xx", p.Status)
		}
		e.Auditor.failBegin.Store(false)
		wantStatus(t, post(t, c, resetUser, v), http.StatusOK)
	})
	t.Run("Mailgun refused", func(t *testing.T) {
		e := newEnv(t, envOptions{})
		c := e.signIn(t, "admin")
		const path = "/d/acme.example/new"
		v := formOf(t, c, path)
		v.Set("logins", "alice") // exists
		for range 2 {
			if p := post(t, c, path, v); p.Status == http.StatusConflict || p.TestID("line-errors").Length() == 0 {
				t.Errorf("create of an existing login = %d, want Mailgun's refusal each time, never \"already sent\"", p.Status)
			}
		}
	})
	// Mailgun's 429 and its refusal of the key (401) say for sure that nothing was created: the
	// same form sent again after them is a new attempt too.
	for _, status := range []int{http.StatusTooManyRequests, http.StatusUnauthorized} {
		t.Run(fmt.Sprintf("Mailgun %d", status), func(t *testing.T) {
			e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000}})
			c := e.signIn(t, "admin")
			const path = "/d/acme.example/new"
			v := formOf(t, c, path)
			v.Set("logins", "refused-one")
			e.SB.SetFaults(sandbox.Faults{Routes: []string{sandbox.RouteCreate}, Rate: 1, Status: status})
			for i := range 2 {
				if p := post(t, c, path, v); p.Status == http.StatusConflict || p.Status < 400 {
					t.Errorf("sending %d with Mailgun answering %d = %d, want Mailgun's refusal each time, never \"already sent\"", i+1, status, p.Status)
				}
			}
			e.SB.SetFaults(sandbox.Faults{})
			wantStatus(t, post(t, c, path, v), http.StatusOK)
		})
	}
	// Mailgun's 5xx does not say that nothing changed (it may come after the change): the form
	// stays spent, and the same form sent again is "already sent", not a second reset.
	t.Run("Mailgun 503 after applying", func(t *testing.T) {
		e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000}})
		c := e.signIn(t, "admin")
		v := formOf(t, c, resetUser)
		v.Set("mode", "generate")
		e.SB.SetFaults(sandbox.Faults{Routes: []string{sandbox.RouteUpdate}, Rate: 1, Status: http.StatusServiceUnavailable, AfterApply: true})
		wantStatus(t, post(t, c, resetUser, v), http.StatusBadGateway)
		e.SB.SetFaults(sandbox.Faults{})
		e.SB.ResetCalls()
		p := post(t, c, resetUser, v)
		wantStatus(t, p, http.StatusConflict)
		if got := p.TestID("upstream-error").Text(); !strings.Contains(got, "already sent") {
			t.Errorf("the form sent again says %.300q, want \"already sent\"", got)
		}
		if n := len(e.callsTo(sandbox.RouteUpdate, "")); n != 0 {
			t.Errorf("%d update calls for the form sent again, want none", n)
		}
	})
	t.Run("foreign token", func(t *testing.T) {
		e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000}})
		c := e.signIn(t, "admin")
		v := formOf(t, c, resetUser)
		v.Set("mode", "generate")
		v.Set("_form", strings.Repeat("x", 60000))
		for range 2 {
			wantStatus(t, post(t, c, resetUser, v), http.StatusOK)
		}
	})
}

// TestPasswordPageMessageStaysWithItsDomain: the message a passwords page leaves for the list
// its "Done" goes back to is not shown on another domain's page or the audit trail, when the
// user goes there instead.
func TestPasswordPageMessageStaysWithItsDomain(t *testing.T) {
	e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000}})
	c := e.signIn(t, "admin")
	for _, elsewhere := range []string{"/d/example.com", "/audit", "/"} {
		wantStatus(t, submit(t, c, "/d/acme.example/new", "/d/acme.example/new", map[string]string{"logins": "msg-" + strings.Trim(strings.ReplaceAll(elsewhere, "/", "-"), "-") + "x", "mode": "generate"}), http.StatusOK)
		if f := get(t, c, elsewhere).TestID("flash").Text(); strings.Contains(f, "Created") {
			t.Errorf("%s shows acme.example's message %q", elsewhere, f)
		}
	}
	p := submit(t, c, resetUser, resetUser, map[string]string{"mode": "generate"})
	wantStatus(t, p, http.StatusOK)
	if f := get(t, c, p.TestID("done-link").AttrOr("href", "")).TestID("flash").Text(); !strings.Contains(f, "Password for alice@acme.example changed") {
		t.Errorf("the list shows %q, want the reset's message", f)
	}
}

// TestChosenPasswordAskedAgain: a create or reset form with a chosen password that comes back
// for another reason (a line to fix, a login Mailgun refused, Mailgun failing) has its password
// fields empty, as every form does, and now says to type the password again: it came back with
// "Choose a password" still checked and nothing else, so that sending it as it stood was refused
// for want of a password. The password itself is never in the page.
func TestChosenPasswordAskedAgain(t *testing.T) {
	e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000}})
	c := e.signIn(t, "admin")
	const pw = "Chosen-pass-42"
	const create = "/d/acme.example/new"
	manual := func(more map[string]string) map[string]string {
		m := map[string]string{"mode": "manual", "password": pw, "password2": pw}
		for k, v := range more {
			m[k] = v
		}
		return m
	}
	tests := []struct {
		name       string
		path       string
		faults     sandbox.Faults
		form       map[string]string
		wantStatus int
		wantRetype bool
	}{
		{"create, a line to fix", create, sandbox.Faults{}, manual(map[string]string{"logins": "fine\nnot fine"}), http.StatusBadRequest, true},
		{"create, a login that exists", create, sandbox.Faults{}, manual(map[string]string{"logins": "fresh\nalice"}), http.StatusBadRequest, true},
		{"reset, Mailgun failing", resetUser, sandbox.Faults{Routes: []string{sandbox.RouteUpdate}, Rate: 1, Status: 503},
			manual(nil), http.StatusBadGateway, true},
		// The password is what to fix: its own message says so.
		{"create, passwords differ", create, sandbox.Faults{},
			map[string]string{"logins": "fine", "mode": "manual", "password": pw, "password2": pw + "x"}, http.StatusBadRequest, false},
		{"create, generated, a line to fix", create, sandbox.Faults{}, map[string]string{"logins": "not fine"}, http.StatusBadRequest, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.SB.SetFaults(tt.faults)
			defer e.SB.SetFaults(sandbox.Faults{})
			p := submit(t, c, tt.path, tt.path, tt.form)
			wantStatus(t, p, tt.wantStatus)
			hint := strings.TrimSpace(p.Find("#f-password-hint").Text())
			if got := strings.Contains(hint, "Type your password again"); got != tt.wantRetype {
				t.Errorf("password hint %q; asks to type it again: %v, want %v", hint, got, tt.wantRetype)
			}
			if want := p.Find(`#f-password`).AttrOr("aria-describedby", ""); !strings.Contains(want, "f-password-hint") {
				t.Errorf("the password field is not described by its hint (aria-describedby=%q)", want)
			}
			if strings.Contains(string(p.Body), pw) {
				t.Error("the chosen password is in the page")
			}
		})
	}
}

// TestTypedPasswordSentTwiceSaysNothingOfGenerated (review helpers' notes): a reset or create
// form with a typed password, sent again, is refused as already sent in words that fit it: it
// said only "A generated password is shown only once". Which kind the first sending asked for is
// not known (the form may be switched before it is sent again), so the words fit both kinds.
func TestTypedPasswordSentTwiceSaysNothingOfGenerated(t *testing.T) {
	e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000}})
	c := e.signIn(t, "admin")
	const pw = "Typed-Pass-Word-42"
	for _, tt := range []struct{ path, logins, want string }{
		{resetUser, "", "if it had one typed, that is the password now"},
		{"/d/acme.example/new", "typed-twice", "a typed one is the password the logins have"},
	} {
		p := get(t, c, tt.path)
		wantStatus(t, p, http.StatusOK)
		v := url.Values{"_csrf": {p.CSRF()}, "_form": {p.Find(`input[name="_form"]`).AttrOr("value", "")},
			"mode": {"manual"}, "password": {pw}, "password2": {pw}}
		if tt.logins != "" {
			v.Set("logins", tt.logins)
		}
		for i, want := range []int{http.StatusOK, http.StatusConflict} {
			p, err := c.Post(context.Background(), tt.path, v)
			if err != nil {
				t.Fatal(err)
			}
			if p.Status != want {
				t.Fatalf("%s, sending %d: %d, want %d", tt.path, i+1, p.Status, want)
			}
			if i == 1 {
				if text := strings.Join(strings.Fields(p.TestID("upstream-error").Text()), " "); !strings.Contains(text, tt.want) {
					t.Errorf("%s sent again says %q, want %q", tt.path, text, tt.want)
				}
			}
		}
	}
}

// TestModeSwitchedBeforeResend (by a review helper): the form is sent with a generated password; the user goes
// Back (the page keeps its one-time token), switches to a typed password and sends it. The
// already-sent panel must not say the first sending set (or created logins with) the password
// typed: it set a generated one, shown once, and the typed one was never sent to Mailgun.
func TestModeSwitchedBeforeResend(t *testing.T) {
	e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000}})
	c := e.signIn(t, "admin")
	const pw = "Typed-Pass-Word-42"
	for _, tt := range []struct{ path, logins string }{
		{resetUser, ""},
		{"/d/acme.example/new", "switched-mode"},
	} {
		p := get(t, c, tt.path)
		wantStatus(t, p, http.StatusOK)
		base := url.Values{"_csrf": {p.CSRF()}, "_form": {p.Find(`input[name="_form"]`).AttrOr("value", "")}}
		if tt.logins != "" {
			base.Set("logins", tt.logins)
		}
		first := url.Values{}
		for k, v := range base {
			first[k] = v
		}
		first.Set("mode", "generate")
		p1, err := c.Post(context.Background(), tt.path, first)
		if err != nil {
			t.Fatal(err)
		}
		wantStatus(t, p1, http.StatusOK)
		second := url.Values{}
		for k, v := range base {
			second[k] = v
		}
		second.Set("mode", "manual")
		second.Set("password", pw)
		second.Set("password2", pw)
		p2, err := c.Post(context.Background(), tt.path, second)
		if err != nil {
			t.Fatal(err)
		}
		wantStatus(t, p2, http.StatusConflict)
		text := oneLine(p2.TestID("upstream-error").Text())
		if strings.Contains(text, "set the password you typed") || strings.Contains(text, "have the password you typed") || !strings.Contains(strings.ToLower(text), "generated") {
			t.Errorf("%s: the first sending generated a password, the second (same form, switched to a typed one) is told %q", tt.path, text)
		}
	}
}
