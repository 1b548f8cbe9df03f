package handlers_test

import (
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/smtpdesk/smtpdesk/handlers"
	"github.com/smtpdesk/smtpdesk/store"
)

// TestFormFieldsComeFromTheBody: a change reads its form from the POST's body only. A field put
// in the address (a password, the logins to create, the domain typed to confirm delete all) is
// not acted on, as a browser never sends the forms that way and an address is kept in
// histories, logs and Referer headers.
func TestFormFieldsComeFromTheBody(t *testing.T) {
	e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000}})
	c := e.signIn(t, "admin")
	const pw = "query-secret-1"
	inQuery := url.Values{"mode": {"manual"}, "password": {pw}, "password2": {pw}}
	tests := []struct {
		name     string
		formPage string
		action   string
		body     map[string]string
		route    string // the sandbox route that must not be called
		errID    string // the form's error that says what the body lacks
	}{
		{"reset: the password", resetUser, resetUser + "?" + inQuery.Encode(),
			map[string]string{"mode": "manual"}, "update", "field-error-password"},
		{"create: the logins and the password", "/d/acme.example/new",
			"/d/acme.example/new?logins=from-query&" + inQuery.Encode(),
			map[string]string{"mode": "manual"}, "create", "field-error-logins"},
		{"delete all: the typed domain", "/d/acme.example/delete-all",
			"/d/acme.example/delete-all?confirm=acme.example",
			map[string]string{}, "delete_all", "field-error-confirm"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.SB.ResetCalls()
			p := submit(t, c, tt.formPage, tt.action, tt.body)
			wantStatus(t, p, http.StatusBadRequest)
			if p.TestID(tt.errID).Length() == 0 {
				t.Errorf("no %s on the form: %.600s", tt.errID, p.Text())
			}
			if n := len(e.callsTo(tt.route, "")); n != 0 {
				t.Errorf("%d %s calls, want none", n, tt.route)
			}
		})
	}
	if e.SB.CheckPassword("acme.example", "alice", pw) {
		t.Error("the password in the address was set")
	}
}

// TestPasswordTypedWithGenerate: a page without the script sends the password fields even when
// "Generate" is chosen. The form comes back saying so, and nothing is sent to Mailgun, rather
// than the typed password being dropped for a generated one.
func TestPasswordTypedWithGenerate(t *testing.T) {
	e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000}})
	c := e.signIn(t, "operator")
	const pw = "typed-pass-42"
	typed := map[string]string{"mode": "generate", "password": pw, "password2": pw}
	for _, tt := range []struct{ name, path, route string }{
		{"reset", resetUser, "update"},
		{"create", "/d/acme.example/new", "create"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e.SB.ResetCalls()
			form := map[string]string{"logins": "typed-one"}
			for k, v := range typed {
				form[k] = v
			}
			p := submit(t, c, tt.path, tt.path, form)
			wantStatus(t, p, http.StatusBadRequest)
			if got := p.TestID("field-error-mode").Text(); !strings.Contains(got, `but "Generate" is chosen`) {
				t.Errorf("mode error = %q", got)
			}
			if _, ok := p.Find(`[data-testid=mode-generate][aria-invalid=true][aria-describedby=mode-error]`).Attr("checked"); !ok {
				t.Error("the Generate choice is not checked and described by the error")
			}
			if strings.Contains(string(p.Body), pw) {
				t.Error("the typed password is sent back")
			}
			if n := len(e.callsTo(tt.route, "")); n != 0 {
				t.Errorf("%d %s calls, want none", n, tt.route)
			}
		})
	}
}

// TestPasswordWithControlCharacters: a chosen password holding a NUL, a line break, a tab or
// bytes that are not UTF-8 (sent by a script, or pasted from a spreadsheet row) comes back with
// the form's error, and nothing reaches Mailgun. Before, it was set: the login's old password
// was gone, and the new one is one no mail app can send (SMTP AUTH PLAIN separates its fields
// with NUL, RFC 4616, and a settings file keeps no line break).
func TestPasswordWithControlCharacters(t *testing.T) {
	e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000}})
	c := e.signIn(t, "operator")
	for _, pw := range []string{"pass\x00word", "pass\r\nword", "password\t", "pass\xffword"} {
		for _, tt := range []struct{ name, path, route string }{
			{"reset", resetUser, "update"},
			{"create", "/d/acme.example/new", "create"},
		} {
			t.Run(tt.name+" "+url.QueryEscape(pw), func(t *testing.T) {
				e.SB.ResetCalls()
				p := submit(t, c, tt.path, tt.path, map[string]string{"logins": "typed-one", "mode": "manual", "password": pw, "password2": pw})
				wantStatus(t, p, http.StatusBadRequest)
				if got := p.TestID("field-error-password").Text(); !strings.Contains(got, "control character") {
					t.Errorf("password error = %q", got)
				}
				if strings.Contains(string(p.Body), pw) {
					t.Error("the typed password is sent back")
				}
				if n := len(e.callsTo(tt.route, "")); n != 0 {
					t.Errorf("%d %s calls, want none", n, tt.route)
				}
			})
		}
	}
	if e.SB.CheckPassword("acme.example", "alice", "pass\x00word") {
		t.Error("the password with a NUL was set")
	}
}

// TestUnreadableFormBody: a form body that cannot be read (a '%' without its two hexadecimal
// digits, a multipart body cut short or without its boundary, a body over the limit sent without
// a length) is refused, said so in words, and nothing reaches Mailgun, wherever the CSRF token
// came from. Before, with the token in the body, the CSRF check's parse dropped the field it
// could not read without a word: "mode=%ZZ" read as no choice, so a generated password was set;
// a body over the limit read as an expired form (403). With the token in the header, the page
// printed Go's and echo's own words ("invalid URL escape", "code=413, message=Request Entity
// Too Large") under a 400 and told the user to check the address.
func TestUnreadableFormBody(t *testing.T) {
	e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000}})
	c := e.signIn(t, "operator")
	big := strings.Repeat("a", 100<<10) // over DefaultBodyLimit
	for _, tt := range []struct {
		name, ctype, body string
		inHeader          bool // the CSRF token in X-CSRF-Token, not the body
		chunked           bool // sent without a Content-Length
		status            int
		said              string
	}{
		{"a field cut short", "application/x-www-form-urlencoded", "mode=%ZZ", false, false, http.StatusBadRequest, "could not be read"},
		{"a field cut short, token in the header", "application/x-www-form-urlencoded", "mode=generate&x=%", true, false, http.StatusBadRequest, "could not be read"},
		{"multipart without its boundary", "multipart/form-data", "mode=generate", true, false, http.StatusBadRequest, "could not be read"},
		{"multipart cut short", "multipart/form-data; boundary=zz", "--zz\r\nContent-Disposition: form-data; name=\"mode\"\r\n\r\ngenerate", true, false, http.StatusBadRequest, "could not be read"},
		{"too large, without a length", "application/x-www-form-urlencoded", "mode=generate&pad=" + big, false, true, http.StatusRequestEntityTooLarge, "larger than SMTP Desk accepts"},
		{"too large, without a length, token in the header", "application/x-www-form-urlencoded", "mode=generate&pad=" + big, true, true, http.StatusRequestEntityTooLarge, "larger than SMTP Desk accepts"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e.SB.ResetCalls()
			form := get(t, c, resetUser)
			tok := form.CSRF()
			ft, _ := form.Find(`input[name="_form"]`).Attr("value")
			body := tt.body
			if !tt.inHeader {
				body = "_csrf=" + url.QueryEscape(tok) + "&_form=" + url.QueryEscape(ft) + "&" + body
			}
			var r io.Reader = strings.NewReader(body)
			if tt.chunked {
				r = io.MultiReader(r) // no length known: sent in chunks
			}
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, e.URL+resetUser, r)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", tt.ctype)
			req.Header.Set("Sec-Fetch-Site", "same-origin")
			if tt.inHeader {
				req.Header.Set("X-CSRF-Token", tok)
			}
			p, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			wantStatus(t, p, tt.status)
			msg := p.TestID("error-message").Text()
			if !strings.Contains(msg, tt.said) {
				t.Errorf("message %q, want it to say %q", msg, tt.said)
			}
			for _, leak := range []string{"escape", "boundary", "EOF", "code=", "address"} {
				if strings.Contains(p.Text(), leak) {
					t.Errorf("the page says %q: %.600s", leak, p.Text())
				}
			}
			if n := len(e.callsTo("update", "")); n != 0 {
				t.Errorf("%d update calls, want none", n)
			}
		})
	}
}

// TestBodyThatIsNotAForm: a change whose body is not a form (JSON, plain text, a body without a
// type, a multipart type other than form-data) is refused 415 with Accept-Post naming the form
// types, in words that say nothing was changed, before any Mailgun call or audit entry, whatever
// its CSRF token: in the body, in the header and the session's, or in the header and wrong. Go's
// parser reads such a body as no fields, so before, a create said "enter at least one login", a
// token in the body read as an expired form (403), and with the session's token in the header a
// sign-out or the audit trail's check went ahead.
func TestBodyThatIsNotAForm(t *testing.T) {
	e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000, ExportsPerMinute: 1000}})
	c := e.signIn(t, "admin")
	tok := get(t, c, "/").CSRF()
	bodies := []struct {
		name, ctype, body, header string // header: the X-CSRF-Token sent ("" none)
	}{
		{"JSON, the session's token in the header", "application/json", `{"logins":"x","mode":"generate","confirm":"acme.example"}`, tok},
		{"JSON, a wrong token in the header", "application/json; charset=utf-8", `{"logins":"x"}`, "bogus"},
		{"JSON, no token", "application/json", `{"_csrf":"` + tok + `"}`, ""},
		{"plain text holding a form", "text/plain", "_csrf=" + url.QueryEscape(tok) + "&logins=x&mode=generate", ""},
		{"no type", "", "_csrf=" + url.QueryEscape(tok) + "&logins=x&mode=generate", ""},
		{"multipart, not form-data", "multipart/mixed; boundary=zz", "--zz\r\n\r\nx\r\n--zz--\r\n", tok},
	}
	endpoints := []struct{ name, path string }{
		{"create", "/d/acme.example/new"},
		{"reset", resetUser},
		{"delete", "/d/acme.example/logins/alice@acme.example/delete"},
		{"delete all", "/d/acme.example/delete-all"},
		{"audit check", "/audit/verify"},
		{"sign out", "/auth/logout"},
	}
	mutating := []string{"create", "update", "update_mailbox", "delete", "delete_all"}
	entries := len(e.auditEntries(t, store.AuditFilter{}))
	for _, ep := range endpoints {
		for _, b := range bodies {
			t.Run(ep.name+", "+b.name, func(t *testing.T) {
				e.SB.ResetCalls()
				req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, e.URL+ep.path, strings.NewReader(b.body))
				if err != nil {
					t.Fatal(err)
				}
				if b.ctype != "" {
					req.Header.Set("Content-Type", b.ctype)
				}
				req.Header.Set("Sec-Fetch-Site", "same-origin")
				if b.header != "" {
					req.Header.Set("X-CSRF-Token", b.header)
				}
				p, err := c.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				wantStatus(t, p, http.StatusUnsupportedMediaType)
				if got, want := p.Header.Get("Accept-Post"), "application/x-www-form-urlencoded, multipart/form-data"; got != want {
					t.Errorf("Accept-Post = %q, want %q", got, want)
				}
				if msg := p.TestID("error-message").Text(); !strings.Contains(msg, "takes a form sent from SMTP Desk's pages; nothing was changed") {
					t.Errorf("message %q", msg)
				}
				for _, route := range mutating {
					if n := len(e.callsTo(route, "")); n != 0 {
						t.Errorf("%d %s calls, want none", n, route)
					}
				}
				if got := len(e.auditEntries(t, store.AuditFilter{})); got != entries {
					t.Errorf("%d audit entries, want %d (none written)", got, entries)
				}
			})
		}
	}
	if p := get(t, c, "/"); p.Status != http.StatusOK || p.URL.Path != "/" {
		t.Errorf("after the refused sign-outs, / is %d at %s: signed out", p.Status, p.URL)
	}

	t.Run("asked for JSON", func(t *testing.T) {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, e.URL+"/audit/verify", strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json")
		req.Header.Set("X-CSRF-Token", tok)
		p, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		wantStatus(t, p, http.StatusUnsupportedMediaType)
		var got struct{ Error, RequestID string }
		if err := json.Unmarshal(p.Body, &got); err != nil || !strings.Contains(got.Error, "nothing was changed") {
			t.Errorf("body %s (%v), want JSON saying nothing was changed", p.Body, err)
		}
	})
}

// TestFormBodiesStillRead: what pages and scripts send still works alongside TestBodyThatIsNotAForm.
// A form type is read whatever its letters' case and parameters (a multipart type in capitals
// read as no fields before, and the token it carried as an expired form), and a POST with no
// body at all, the token in its header (a sign-out sent by a script), is an empty form whatever
// its type.
func TestFormBodiesStillRead(t *testing.T) {
	e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000}})
	c := e.signIn(t, "operator")

	t.Run("multipart in capitals", func(t *testing.T) {
		e.SB.ResetCalls()
		form := get(t, c, resetUser)
		ft, _ := form.Find(`input[name="_form"]`).Attr("value")
		var buf strings.Builder
		mw := multipart.NewWriter(&buf)
		for k, v := range map[string]string{"_csrf": form.CSRF(), "_form": ft, "mode": "generate"} {
			if err := mw.WriteField(k, v); err != nil {
				t.Fatal(err)
			}
		}
		if err := mw.Close(); err != nil {
			t.Fatal(err)
		}
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, e.URL+resetUser, strings.NewReader(buf.String()))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "Multipart/Form-Data; boundary="+mw.Boundary())
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		p, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		wantStatus(t, p, http.StatusOK)
		if n := len(e.callsTo("update", "")); n != 1 {
			t.Errorf("%d update calls, want 1", n)
		}
	})

	for _, ctype := range []string{"", "text/plain;charset=UTF-8", "application/json", "multipart/form-data; boundary=zz"} {
		t.Run("sign out with no body, type "+ctype, func(t *testing.T) {
			c := e.signIn(t, "operator")
			tok := get(t, c, "/").CSRF()
			// As fetch(url, {method: "POST", headers: {"X-CSRF-Token": …}}) sends it.
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, e.URL+"/auth/logout", http.NoBody)
			if err != nil {
				t.Fatal(err)
			}
			if ctype != "" {
				req.Header.Set("Content-Type", ctype)
			}
			req.Header.Set("Sec-Fetch-Site", "same-origin")
			req.Header.Set("X-CSRF-Token", tok)
			p, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			wantStatus(t, p, http.StatusOK)
			if p := get(t, c, "/"); p.URL.Path == "/" {
				t.Errorf("still signed in after the sign-out (it went to %s)", p.URL.Path)
			}
		})
	}
}
