package security_test

import (
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/smtpdesk/smtpdesk/auth"
	"github.com/smtpdesk/smtpdesk/internal/testflow"
	"github.com/smtpdesk/smtpdesk/mailgun/sandbox"
	"github.com/smtpdesk/smtpdesk/static"
	"github.com/smtpdesk/smtpdesk/store"
)

// publicRoutes answer without a session.
var publicRoutes = map[string]bool{
	"/healthz": true, "/readyz": true, "/static/*": true, "/robots.txt": true, "/favicon.ico": true,
	"/auth/login": true, "/auth/callback": true, "/auth/signed-out": true,
	"/auth/logout": true, // signed out, it is a harmless no-op that redirects to the signed-out page
}

// fillPath turns a route pattern into a concrete path.
func fillPath(p string) string {
	r := strings.NewReplacer(":domain", "example.com", ":login", "user001@example.com", "*", "x")
	return regexp.MustCompile(`:[a-z_]+`).ReplaceAllString(r.Replace(p), "x")
}

func TestSecurity11DenyByDefault(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	checked := 0
	for _, rt := range e.App.Echo().Routes() {
		switch rt.Method {
		case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		default:
			continue
		}
		if publicRoutes[rt.Path] {
			continue
		}
		checked++
		c := e.client()
		resp, _ := raw(t, c, rt.Method, fillPath(rt.Path), url.Values{"logins": {"x"}, "confirm": {"example.com"}}, nil)
		switch {
		case rt.Method == http.MethodGet || rt.Method == http.MethodHead:
			if resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), "/auth/login") {
				t.Errorf("%s %s signed out = %d to %q, want a redirect to sign-in", rt.Method, rt.Path, resp.StatusCode, resp.Header.Get("Location"))
			}
		default:
			if resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusForbidden {
				t.Errorf("%s %s signed out = %d, want 401 or 403", rt.Method, rt.Path, resp.StatusCode)
			}
		}
	}
	if checked < 10 {
		t.Errorf("walked %d protected routes, want the whole surface (>= 10)", checked)
	}
	if n := len(e.Sandbox.Calls()); n != 0 {
		t.Errorf("signed-out requests caused %d Mailgun calls", n)
	}
}

func TestSecurity12ServerSideAuthorization(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	op := e.signIn("operator") // operator of acme.example only
	tok := csrf(t, op)
	e.Sandbox.ResetCalls()
	for _, tc := range []struct {
		method, path string
		form         url.Values
	}{
		{http.MethodGet, "/d/example.com", nil},
		{http.MethodPost, "/d/example.com/new", url.Values{"logins": {"intruder"}, "mode": {"generate"}}},
		{http.MethodPost, "/d/example.com/logins/user001@example.com/reset", url.Values{"mode": {"generate"}}},
		{http.MethodPost, "/d/example.com/logins/user001@example.com/delete", url.Values{}},
		{http.MethodPost, "/d/example.com/delete-all", url.Values{"confirm": {"example.com"}}},
		// acme.example's operator may not delete there either (owner only).
		{http.MethodPost, "/d/acme.example/delete-all", url.Values{"confirm": {"acme.example"}}},
		// Nor create a system login there (owner only): the form's flag is an action of its own,
		// checked after the create's.
		{http.MethodPost, "/d/acme.example/new", url.Values{"logins": {"sys-intruder"}, "mode": {"generate"}, "system": {"on"}}},
	} {
		f := tc.form
		if f != nil {
			f.Set("_csrf", tok)
		}
		resp, _ := raw(t, op, tc.method, tc.path, f, http.Header{"Sec-Fetch-Site": {"same-origin"}})
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("operator %s %s = %d, want 403", tc.method, tc.path, resp.StatusCode)
		}
	}
	if calls := e.Sandbox.Calls(); len(calls) != 0 {
		t.Errorf("refused requests reached Mailgun: %+v", calls)
	}
	denied := e.audit(store.AuditFilter{Action: "access.denied"})
	perDomain := map[string]int{}
	for _, d := range denied {
		perDomain[d.Domain]++
	}
	if len(denied) != 7 || perDomain["example.com"] != 5 || perDomain["acme.example"] != 2 {
		t.Errorf("access.denied audit entries per domain %v (%d in all), want one per refused action and domain: example.com 5, acme.example 2", perDomain, len(denied))
	}
	// The same session may act on its own domain: the 403s above were the policy, not the form.
	pg := submit(t, op, "/d/acme.example/new", "/d/acme.example/new", url.Values{"logins": {"allowed"}, "mode": {"generate"}})
	if pg.Status != http.StatusOK {
		t.Errorf("operator create on acme.example = %d, want 200", pg.Status)
	}
	notePasswords(e, pg)
}

// notePasswords registers every password shown on a page as a secret.
func notePasswords(e *env, pg *testflow.Page) []string {
	var out []string
	pg.TestID("secret-password").Each(func(_ int, s *goquery.Selection) {
		if v, ok := s.Attr("value"); ok && v != "" {
			out = append(out, v)
			e.secret(v, "generated password")
		}
	})
	return out
}

func TestSecurity13PolicyChangeApplies(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	op := e.signIn("operator")
	if pg := get(t, op, "/d/acme.example"); pg.Status != http.StatusOK {
		t.Fatalf("operator on acme.example = %d, want 200", pg.Status)
	}
	orig, err := os.ReadFile(e.Policy)
	if err != nil {
		t.Fatal(err)
	}
	removed := strings.Replace(string(orig), "groups: [team-acme]", "groups: [team-somebody-else]", 1)
	if removed == string(orig) {
		t.Fatal("demo policy has no team-acme rule to remove")
	}
	if err := os.WriteFile(e.Policy, []byte(removed), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := e.App.ReloadPolicy(); err != nil {
		t.Fatal(err)
	}
	if pg := get(t, op, "/d/acme.example"); pg.Status != http.StatusForbidden {
		t.Errorf("after the group lost its rule: %d, want 403 on the very next request", pg.Status)
	}
	// The other pages read the policy in force too: the domain list no longer offers the
	// domain; the operator has no other, so it says that no domain is shared with them.
	if pg := get(t, op, "/"); pg.Status != http.StatusForbidden {
		t.Errorf("the domain list after the group lost its rule = %d, want 403 (no domain shared)", pg.Status)
	}
	tok := csrf(t, op)
	e.Sandbox.ResetCalls()
	resp, _ := raw(t, op, http.MethodPost, "/d/acme.example/new", url.Values{"_csrf": {tok}, "logins": {"late"}, "mode": {"generate"}}, nil)
	if resp.StatusCode != http.StatusForbidden || len(e.Sandbox.Calls()) != 0 {
		t.Errorf("create after the group lost its rule = %d with %d Mailgun calls, want 403 and none", resp.StatusCode, len(e.Sandbox.Calls()))
	}
	if err := os.WriteFile(e.Policy, orig, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := e.App.ReloadPolicy(); err != nil {
		t.Fatal(err)
	}
	if pg := get(t, op, "/d/acme.example"); pg.Status != http.StatusOK {
		t.Errorf("after the rule came back: %d, want 200", pg.Status)
	}
}

// TestSecurity13AdminRemovalApplies: an administrator whose group leaves the policy's admins
// loses what only administrators may do on the next request, the audit trail's check among
// them, though the audit pages were opened under the old policy; and gets it back with the
// group (the control: the refusal was the policy's).
func TestSecurity13AdminRemovalApplies(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	admin := e.signIn("admin")
	if pg := get(t, admin, "/audit"); pg.Status != http.StatusOK {
		t.Fatalf("administrator on /audit = %d, want 200", pg.Status)
	}
	tok := csrf(t, admin)
	orig, err := os.ReadFile(e.Policy)
	if err != nil {
		t.Fatal(err)
	}
	demoted := strings.Replace(string(orig), "groups: [smtp-admins]", "groups: [smtp-somebody-else]", 1)
	if demoted == string(orig) {
		t.Fatal("demo policy has no smtp-admins administrators to remove")
	}
	verify := func() int {
		resp, _ := raw(t, admin, http.MethodPost, "/audit/verify", url.Values{"_csrf": {tok}}, http.Header{"Sec-Fetch-Site": {"same-origin"}})
		return resp.StatusCode
	}
	for _, tc := range []struct {
		policy string
		admin  bool
	}{{demoted, false}, {string(orig), true}} {
		if err := os.WriteFile(e.Policy, []byte(tc.policy), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := e.App.ReloadPolicy(); err != nil {
			t.Fatal(err)
		}
		if got := verify(); (got == http.StatusForbidden) == tc.admin {
			t.Errorf("audit check with smtp-admins among the administrators: %v: %d, want 403 exactly when it is not", tc.admin, got)
		}
	}
}

func TestSecurity14CSRF(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	admin := e.signIn("admin")
	tok := csrf(t, admin)
	e.Sandbox.ResetCalls()
	form := func(tok string) url.Values {
		v := url.Values{"logins": {"csrf-victim"}, "mode": {"generate"}}
		if tok != "" {
			v.Set("_csrf", tok)
		}
		return v
	}
	for _, tc := range []struct {
		name  string
		token string
		site  string
	}{
		{"missing token", "", ""},
		{"missing token, same-origin", "", "same-origin"},
		{"missing token, cross-site", "", "cross-site"},
		{"wrong token", "x" + tok, "same-origin"},
		{"right token, cross-site", tok, "cross-site"},
	} {
		hdr := http.Header{}
		if tc.site != "" {
			hdr.Set("Sec-Fetch-Site", tc.site)
		}
		resp, _ := raw(t, admin, http.MethodPost, "/d/example.com/new", form(tc.token), hdr)
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s = %d, want 403", tc.name, resp.StatusCode)
		}
	}
	// Another user's token is not this session's.
	other := e.signIn("reviewer")
	if resp, _ := raw(t, admin, http.MethodPost, "/d/example.com/new", form(csrf(t, other)), nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("another session's token = %d, want 403", resp.StatusCode)
	}
	if n := len(e.Sandbox.Calls()); n != 0 {
		t.Errorf("refused posts caused %d Mailgun calls", n)
	}
	// The control: the right token, same-origin, goes through.
	resp, body := raw(t, admin, http.MethodPost, "/d/example.com/new", form(tok), http.Header{"Sec-Fetch-Site": {"same-origin"}})
	if resp.StatusCode != http.StatusOK || len(e.calls(sandbox.RouteCreate)) != 1 {
		t.Errorf("valid post = %d with %d create calls, want 200 and 1", resp.StatusCode, len(e.calls(sandbox.RouteCreate)))
	}
	noteBody(t, e, body)
}

// noteBody registers the passwords in an HTML body as secrets.
func noteBody(t *testing.T, e *env, body string) []string {
	t.Helper()
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return notePasswords(e, &testflow.Page{Doc: doc})
}

// cspDirectives parses a Content-Security-Policy header.
func cspDirectives(h string) map[string][]string {
	out := map[string][]string{}
	for _, d := range strings.Split(h, ";") {
		f := strings.Fields(d)
		if len(f) > 0 {
			out[strings.ToLower(f[0])] = f[1:]
		}
	}
	return out
}

func has(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// TestSecurity15SecurityHeaders: every kind of answer carries the headers, not only pages:
// redirects, error pages (404, 413, a JSON error), downloads (CSV and JSON Lines, streamed
// or not), static files and the health checks.
func TestSecurity15SecurityHeaders(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	admin := e.signIn("admin")
	anon := e.client()
	nonces := map[string]string{}
	type request struct {
		c            *testflow.Client
		method, path string
		form         url.Values
		hdr          http.Header
	}
	at := func(c *testflow.Client, path string) request {
		return request{c: c, method: http.MethodGet, path: path}
	}
	reqs := []request{
		at(admin, "/"), at(admin, "/d/example.com"), at(admin, "/d/example.com?q=user00&page=2"), at(admin, "/d/example.com/new"),
		at(admin, "/d/example.com/logins/user001@example.com/reset"), at(admin, "/d/example.com/logins/user001@example.com/delete"),
		at(admin, "/d/example.com/delete-all"), at(admin, "/audit"), at(admin, "/audit/export.csv"), at(admin, "/audit/export.jsonl"),
		at(admin, "/d/example.com/export.csv"), at(admin, "/export.csv"), at(admin, "/no-such-page"), at(admin, "/d/no-such.example"),
		at(admin, auth.LogoutPath), // the sign-out address typed: a page asking to sign out
		{c: admin, method: http.MethodGet, path: "/d/no-such.example", hdr: http.Header{"Accept": {"application/json"}}},
		{c: admin, method: http.MethodPost, path: "/d/example.com/new", form: url.Values{"logins": {strings.Repeat("a", 1100<<10)}}}, // 413 (the create form's own limit)
		at(anon, "/"), at(anon, auth.LoginPath), at(anon, "/auth/signed-out"), at(anon, "/auth/callback?state=x&code=y"),
		at(anon, "/healthz"), at(anon, "/readyz"), at(anon, "/static/no-such.css"),
	}
	for _, name := range static.Names() {
		reqs = append(reqs, at(anon, static.URL(name)), request{c: anon, method: http.MethodHead, path: static.URL(name)})
	}
	statuses := map[int]bool{}
	for _, tc := range reqs {
		resp, body := raw(t, tc.c, tc.method, tc.path, tc.form, tc.hdr)
		statuses[resp.StatusCode] = true
		h := resp.Header
		csp := cspDirectives(h.Get("Content-Security-Policy"))
		for _, want := range []struct{ dir, val string }{
			{"default-src", "'self'"}, {"object-src", "'none'"}, {"base-uri", "'none'"}, {"frame-ancestors", "'none'"},
		} {
			if !has(csp[want.dir], want.val) {
				t.Errorf("%s %s (%d): CSP %s = %v, want %s", tc.method, tc.path, resp.StatusCode, want.dir, csp[want.dir], want.val)
			}
		}
		var nonce string
		for _, v := range csp["script-src"] {
			if strings.HasPrefix(v, "'nonce-") {
				nonce = strings.TrimSuffix(strings.TrimPrefix(v, "'nonce-"), "'")
			}
			if v == "'unsafe-inline'" || v == "'unsafe-eval'" || v == "*" {
				t.Errorf("%s %s: script-src allows %s", tc.method, tc.path, v)
			}
		}
		if nonce == "" {
			t.Errorf("%s %s: CSP without a script nonce: %q", tc.method, tc.path, h.Get("Content-Security-Policy"))
		} else if prev, dup := nonces[nonce]; dup {
			t.Errorf("%s %s reused the CSP nonce of %s", tc.method, tc.path, prev)
		}
		nonces[nonce] = tc.method + " " + tc.path
		if strings.HasPrefix(h.Get("Content-Type"), "text/html") {
			doc, err := goquery.NewDocumentFromReader(strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			doc.Find("script").Each(func(_ int, s *goquery.Selection) {
				if s.AttrOr("nonce", "") != nonce && s.AttrOr("src", "") == "" {
					t.Errorf("%s %s: inline script without the page's nonce", tc.method, tc.path)
				}
			})
		}
		if got := h.Get("Strict-Transport-Security"); !strings.Contains(got, "max-age=31536000") || !strings.Contains(got, "includeSubDomains") {
			t.Errorf("%s %s over HTTPS: HSTS = %q, want max-age=31536000; includeSubDomains", tc.method, tc.path, got)
		}
		if got := h.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("%s %s: X-Content-Type-Options = %q", tc.method, tc.path, got)
		}
		if got := h.Get("Referrer-Policy"); got != "same-origin" {
			t.Errorf("%s %s: Referrer-Policy = %q", tc.method, tc.path, got)
		}
	}
	for _, want := range []int{http.StatusOK, http.StatusFound, http.StatusNotFound, http.StatusRequestEntityTooLarge} {
		if !statuses[want] {
			t.Errorf("no request was answered %d: the walk misses a kind of answer", want)
		}
	}
}

// TestSecurity15SignedInPagesNotStored: every page a signed-in user gets names them (the header,
// the sign-out form with its CSRF token), so none may be kept by a browser or proxy cache, and
// after sign-out the back button must not show one. That holds for every GET route behind
// sign-in, and for the error pages answered before any route's middleware runs: an unknown
// address (404) and a form refused by the CSRF check (403). A method a page lacks (405) is
// answered by a route of the same signed-in group (handlers.NotAllowedRoute), after its
// middleware.
func TestSecurity15SignedInPagesNotStored(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	admin := e.signIn("admin")
	type request struct{ method, path string }
	var reqs []request
	for _, rt := range e.App.Echo().Routes() {
		if rt.Method == http.MethodGet && !publicRoutes[rt.Path] {
			reqs = append(reqs, request{rt.Method, fillPath(rt.Path)})
		}
	}
	if len(reqs) < 10 {
		t.Fatalf("walked %d signed-in GET routes, want the whole surface (>= 10)", len(reqs))
	}
	reqs = append(reqs, request{http.MethodGet, "/no-such-page"}, request{http.MethodGet, auth.LogoutPath},
		request{http.MethodPost, "/d/example.com/new"})
	for _, r := range reqs {
		var form url.Values
		if r.method == http.MethodPost {
			form = url.Values{"logins": {"no-token"}} // no CSRF token: refused before any route
		}
		resp, body := raw(t, admin, r.method, r.path, form, nil)
		if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
			t.Errorf("%s %s signed in = %d with Cache-Control %q, want no-store", r.method, r.path, resp.StatusCode, cc)
		}
		if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") && !strings.Contains(body, "Sign out") {
			t.Errorf("%s %s = %d: the page does not show the signed-in header this test is about", r.method, r.path, resp.StatusCode)
		}
	}
}

// TestSecurity15ErrorAnswersNotStored: an error answer is about this moment, signed in or not,
// and none may be kept by a cache. Signed out, they went out with no Cache-Control at all, and
// 404 and 405 are cacheable by default (RFC 9111 4.2.2): a static file's 404 from an instance
// that lacks that build's file (a rolling deploy) could be kept by a CDN and leave the new
// build's pages unstyled after the deploy. The walk covers every public kind: an unknown static
// file (GET and HEAD), a method a public route lacks (a health check's, a static file's, a
// sign-in step's HEAD), a refused sign-in (429) and a form sent without a session (the CSRF
// check's 403).
func TestSecurity15ErrorAnswersNotStored(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{SignInPerMinute: 1})
	anon := e.client()
	// A hashed name of the right form that this build does not have: another build's stylesheet.
	otherBuild := static.Prefix + "app.00000000.css"
	if otherBuild == static.URL("app.css") {
		t.Fatalf("this build's stylesheet is %s, the name the test takes for another build's", otherBuild)
	}
	reqs := []struct {
		method, path string
		form         url.Values
		want         int
	}{
		{http.MethodGet, otherBuild, nil, http.StatusNotFound},
		{http.MethodHead, otherBuild, nil, http.StatusNotFound},
		{http.MethodPost, "/healthz", nil, http.StatusMethodNotAllowed},
		{http.MethodPut, static.URL("app.css"), nil, http.StatusMethodNotAllowed},
		{http.MethodHead, auth.LoginPath, nil, http.StatusMethodNotAllowed},
		{http.MethodGet, auth.LoginPath, nil, http.StatusFound},           // the minute's one sign-in
		{http.MethodGet, auth.LoginPath, nil, http.StatusTooManyRequests}, // and the next
		{http.MethodPost, "/d/example.com/new", url.Values{"logins": {"x"}}, http.StatusForbidden},
	}
	for _, r := range reqs {
		resp, _ := raw(t, anon, r.method, r.path, r.form, nil)
		if resp.StatusCode != r.want {
			t.Errorf("%s %s signed out = %d, want %d", r.method, r.path, resp.StatusCode, r.want)
			continue
		}
		if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
			t.Errorf("%s %s signed out = %d with Cache-Control %q, want no-store", r.method, r.path, resp.StatusCode, cc)
		}
	}
}

func TestSecurity16PathSegmentsValidated(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	admin := e.signIn("admin")
	tok := csrf(t, admin)
	e.Sandbox.ResetCalls()
	entries := len(e.audit(store.AuditFilter{}))
	bad := []string{
		"/d/example.com/logins/%2F/delete",
		"/d/example.com/logins/a%2Fb@example.com/delete",
		"/d/example.com/logins/a%2F..%2F@example.com/delete",
		"/d/example.com/logins/a%00b@example.com/delete",
		"/d/example.com/logins/%2E%2E/delete",
		"/d/example.com/logins/a@b@example.com/delete",
		"/d/example.com/logins/a%0D%0Ab@example.com/delete",
		"/d/example.com/logins/" + strings.Repeat("a", 300) + "@example.com/delete",
		"/d/example.com/logins/%2F/reset",
		"/d/example.com/logins/%2E%2E/reset",
		"/d/example.com/logins/a@b@example.com/reset",
		"/d/exa%2Fmple.com/logins/user001@example.com/delete",
		"/d/%2E%2E/logins/user001@example.com/delete",
		"/d/example.com%00/delete-all",
		"/d/%2E%2E/delete-all",
	}
	for _, path := range bad {
		resp, _ := raw(t, admin, http.MethodPost, path, url.Values{"_csrf": {tok}, "mode": {"generate"}, "confirm": {"example.com"}}, http.Header{"Sec-Fetch-Site": {"same-origin"}})
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("POST %s = %d, want 400", path, resp.StatusCode)
		}
	}
	// An empty login never becomes the delete-all URL.
	for _, path := range []string{"/d/example.com/logins//delete", "/d/example.com/logins/%2F%2F/delete"} {
		resp, _ := raw(t, admin, http.MethodPost, path, url.Values{"_csrf": {tok}}, http.Header{"Sec-Fetch-Site": {"same-origin"}})
		if resp.StatusCode != http.StatusBadRequest && resp.StatusCode != http.StatusNotFound {
			t.Errorf("POST %s = %d, want 400 or 404", path, resp.StatusCode)
		}
	}
	if calls := e.Sandbox.Calls(); len(calls) != 0 {
		t.Errorf("invalid segments reached Mailgun: %+v", calls)
	}
	// Refused up front, by the page's own check, before anything acts on the segment: the
	// Mailgun client validates it again and would also answer 400 without a call, but only
	// after the action was charged to the rate limit and begun in the audit trail.
	if es := e.audit(store.AuditFilter{}); len(es) != entries {
		t.Errorf("invalid segments wrote %d audit entries, want none: %+v", len(es)-entries, es[:len(es)-entries])
	}
	// The control: a valid single delete is a single-login DELETE, never the collection.
	resp, _ := raw(t, admin, http.MethodPost, "/d/example.com/logins/user002@example.com/delete", url.Values{"_csrf": {tok}}, http.Header{"Sec-Fetch-Site": {"same-origin"}})
	if resp.StatusCode/100 != 3 {
		t.Errorf("valid delete = %d, want a redirect", resp.StatusCode)
	}
	calls := e.Sandbox.Calls()
	if len(calls) != 1 || calls[0].Route != sandbox.RouteDelete || calls[0].Spec != "user002@example.com" {
		t.Errorf("valid delete reached Mailgun as %+v, want one single-login delete of user002@example.com", calls)
	}
}

func TestSecurity17TrustedProxyClientIP(t *testing.T) {
	t.Parallel()
	t.Run("no trusted proxy", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, options{SignInPerMinute: 2})
		c := e.client()
		for i, xff := range []string{"203.0.113.1", "203.0.113.2", "203.0.113.3", "198.51.100.4, 203.0.113.5"} {
			resp, _ := raw(t, c, http.MethodGet, "/auth/login", nil, http.Header{"X-Forwarded-For": {xff}, "X-Real-Ip": {xff}})
			want := http.StatusFound
			if i >= 2 {
				want = http.StatusTooManyRequests
			}
			if resp.StatusCode != want {
				t.Errorf("sign-in attempt %d with X-Forwarded-For %q = %d, want %d", i+1, xff, resp.StatusCode, want)
			}
			if want == http.StatusTooManyRequests && resp.Header.Get("Retry-After") == "" {
				t.Errorf("429 without Retry-After")
			}
		}
		e2 := newEnv(t, options{})
		admin := e2.signIn("admin")
		tok := csrf(t, admin)
		resp, body := raw(t, admin, http.MethodPost, "/d/example.com/new", url.Values{"_csrf": {tok}, "logins": {"xff-test"}, "mode": {"generate"}},
			http.Header{"X-Forwarded-For": {"203.0.113.9"}, "X-Real-Ip": {"203.0.113.9"}})
		noteBody(t, e2, body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("create = %d", resp.StatusCode)
		}
		es := e2.audit(store.AuditFilter{Action: "credential.create"})
		if len(es) != 1 || es[0].ClientIP != "127.0.0.1" {
			t.Errorf("audit client IP = %+v, want the socket peer 127.0.0.1, not the forged header", es)
		}
	})
	t.Run("trusted loopback proxy", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, options{SignInPerMinute: 2, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
		c := e.client()
		// Behind a trusted proxy the forwarded address is the client: each has its own budget.
		for _, xff := range []string{"203.0.113.1", "203.0.113.1", "203.0.113.2"} {
			if resp, _ := raw(t, c, http.MethodGet, "/auth/login", nil, http.Header{"X-Forwarded-For": {xff}}); resp.StatusCode != http.StatusFound {
				t.Errorf("sign-in from %s behind the proxy = %d, want 302", xff, resp.StatusCode)
			}
		}
		if resp, _ := raw(t, c, http.MethodGet, "/auth/login", nil, http.Header{"X-Forwarded-For": {"203.0.113.1"}}); resp.StatusCode != http.StatusTooManyRequests {
			t.Errorf("third sign-in from 203.0.113.1 = %d, want 429", resp.StatusCode)
		}
	})
}
