package handlers_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/smtpdesk/smtpdesk/auth"
	"github.com/smtpdesk/smtpdesk/handlers"
	"github.com/smtpdesk/smtpdesk/internal/secretscan"
	"github.com/smtpdesk/smtpdesk/internal/testflow"
	"github.com/smtpdesk/smtpdesk/mailgun/sandbox"
	"github.com/smtpdesk/smtpdesk/store"
)

// The whole-app hostile-input test (SECURITY.md item 16 and the forms' promises): every route
// the handlers register, GET and POST, is sent generated hostile variants of its path
// segments, its query and its form body, through the whole middleware stack, signed in as an
// administrator and, in a second pass, as a viewer who may change nothing. Each answer is held
// to five promises:
//
//  1. never a 5xx, and no panic recovered (the harness's log);
//  2. a whole HTML page with an <h1> saying what happened, never an empty body or a raw Go
//     error; a 4xx page offers a link on; a redirect stays on this site;
//  3. nothing changed: after a refused or invalid request (and after every GET) the sandbox's
//     logins and known passwords, and the count of changes Mailgun applied, are as before, and
//     the audit trail has no successful change from a refused request;
//  4. the input is not reflected unescaped (no raw <script or event-handler markup of ours);
//  5. no secret (the Mailgun key, a password sent) in an answer or in the log.
//
// The variants come from tables through a seeded PCG source, so every run sends the same
// requests; a failure names the request exactly.

// hostileSeed seeds the variant choice; change it to explore other combinations.
const hostileSeed = 16

// hostileDomain is a domain of the test's own, whose logins have passwords the test knows, so
// that a password changed behind a refusal shows.
const hostileDomain = "hostile.example"

// hostileLogins are hostileDomain's logins (local parts), each with a known password.
var hostileLogins = []string{"alpha", "bravo", "charlie"}

// xssMarkers are the raw markup the hostile values carry; an HTML answer must never contain
// one (it would be our input, unescaped).
var xssMarkers = []string{"<script>alert(", "<img src=x onerror", "<svg onload"}

// goErrorMarkers are texts of Go's and echo's own errors, which a page must never show.
var goErrorMarkers = []string{"invalid URL escape", "strconv.", "runtime error", "goroutine ", "%!",
	"unexpected EOF", "http: ", "echo:", "mailgun: invalid input", "mime: ", "multipart: ", "invalid semicolon separator", "panic:"}

// hostileSegments are raw (already escaped) path segments: invalid UTF-8, control characters,
// overlong, several @, upper case, look-alikes, dots, encoded slashes, empty, markup. %s is the
// valid value of the segment, for the variants built around it.
var hostileSegments = []string{
	"%ff", "%c0%af", "%s%ff", "%e2%80%ae%s", "%fe%ff%s",
	"%00", "%s%00", "%s%0d%0aSet-Cookie:%20x=1", "%7f", "%s%09", "%1b%5b31m%s",
	strings.Repeat("a", 300) + "%s", strings.Repeat("%ff", 120), strings.Repeat("x.", 160) + "%s",
	"a@b@c", "%s@evil.example@%s", "@", "@@", "%s@", "@%s",
	"UPPER%s", "%s.", ".%s", "-%s",
	"%d0%b0%s", "%s%ef%bc%a0evil.example", "%s%e3%80%82example", "%ef%bd%81%s",
	"..", ".", "%2e%2e", "%2e", "%2e%2e%2f%2e%2e%2faudit",
	"%2f", "%s%2fdelete-all", "%5c%s",
	"", "%20", "+", "%s%20",
	"%3Cscript%3Ealert(1)%3C%2Fscript%3E", "%22%3E%3Cimg%20src=x%20onerror=alert(1)%3E", "%s%3Csvg%20onload=alert(1)%3E",
}

// hostileNumbers are values for the numeric query parameters (page, per_page, skip, before, after).
var hostileNumbers = []string{"-1", "0", "-9223372036854775808", "9223372036854775808",
	"99999999999999999999999999", "1.5", "1e9", "0x10", "abc", "", "%ff", "%00", "%202", "+3", "NaN",
	"%3Cscript%3Ealert(1)%3C/script%3E", strings.Repeat("9", 400)}

// hostileTexts are values for the text query parameters and form fields (raw, escaped).
var hostileTexts = []string{"", "%ff%fe", "%c0%af", "a%00b", "%0d%0a", "%1b%5b2J", "%7f", "%e2%80%ae",
	"%3Cscript%3Ealert(1)%3C/script%3E", "%22%3E%3Cimg%20src=x%20onerror=alert(1)%3E",
	strings.Repeat("z", 5000), strings.Repeat("%ff", 700), "%zz", "%", "a;b", "..%2f..%2f",
	"%ef%bc%a0", "%d0%b0lice@acme.example", "a@b@c"}

// hostileDates are values of the audit trail's from and to filters.
var hostileDates = []string{"2026-13-45", "2026-02-30", "0000-00-00", "9999-12-31", "-2026-01-01",
	"2026-1-1", "31/12/2026", "2026-01-01T00:00:00Z", "%ff", "%00", strings.Repeat("2", 3000),
	"%3Cscript%3Ealert(1)%3C/script%3E", "yesterday", ""}

// hostileZones are values of the audit trail's tz.
var hostileZones = []string{"../../../../etc/passwd", "Europe/Nowhere", "%ff", "%00", "UTC%0d%0a",
	"Local", "", strings.Repeat("A", 2000), "America/New_York%00", "%2fetc%2flocaltime"}

// fieldKinds are what a form field is turned into; each is applied to the field's valid value.
var fieldKinds = []string{"missing", "empty", "repeated-first", "repeated-second", "huge-under",
	"invalid-utf8", "control", "nul", "markup", "wrong-type", "array", "only-spaces"}

// bodyKinds are whole-body variants of a POST.
var bodyKinds = []string{"no-csrf", "bad-csrf", "csrf-in-query", "json", "text-plain", "no-content-type",
	"multipart", "broken-multipart", "charset-utf16", "not-a-form", "binary", "unreadable-escape",
	"huge-over", "semicolons"}

// knownLogin is a login whose password the test knows.
type knownLogin struct{ domain, login, password string }

// hostileCase is one request.
type hostileCase struct {
	route   string // "GET /d/:domain", the route it is meant for
	method  string
	path    string // the request target's path, sent as it is (escapes kept)
	query   string // raw, sent as it is
	body    []byte
	ctype   string
	header  http.Header
	what    string   // the variant, for the failure message
	secrets []string // passwords the request carries
}

// hostileRun sends the cases and checks the answers.
type hostileRun struct {
	t       *testing.T
	e       *env
	persona string
	tf      *testflow.Client
	hc      *http.Client
	rng     *rand.Rand
	known   []knownLogin
	secrets []string       // every secret sent or known: never in an answer or the log
	status  map[string]int // request id → status answered
	counts  map[string]int // route → requests sent
	answers map[string]int // "route status" → answers, for the summary
	before  string         // the fingerprint of what is there now
	seq     int
	logPos  int
}

// newHostileRun signs persona in and takes the first fingerprint.
func newHostileRun(t *testing.T, e *env, persona string, known []knownLogin, seed uint64) *hostileRun {
	tf := e.signIn(t, persona)
	hc := &http.Client{
		Jar:           tf.HTTP.Jar,
		Transport:     tf.HTTP.Transport,
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	r := &hostileRun{t: t, e: e, persona: persona, tf: tf, hc: hc, rng: rand.New(rand.NewPCG(hostileSeed, seed)),
		known: known, status: map[string]int{}, counts: map[string]int{}, answers: map[string]int{}}
	r.secrets = append(r.secrets, e.APIKey, base64.StdEncoding.EncodeToString([]byte("api:"+e.APIKey)))
	for _, k := range known {
		r.secrets = append(r.secrets, k.password)
	}
	for _, ck := range tf.Cookies() {
		if ck.Name == auth.CookieName || ck.Name == auth.InsecureCookieName {
			r.secrets = append(r.secrets, ck.Value)
		}
	}
	r.before = r.fingerprint()
	r.logPos = len(e.Logs.String())
	return r
}

// password returns a fresh password with a marker no page or log has any reason to hold.
func (r *hostileRun) password() string {
	r.seq++
	pw := fmt.Sprintf("Hp%02d%s-%04d", r.seq%100, r.persona[:2], r.seq)
	secretscan.Record("hostile test password", pw)
	r.secrets = append(r.secrets, pw)
	return pw
}

// fingerprint says what Mailgun holds: every domain's logins, whether each known password is
// still the login's, and how many changes Mailgun has applied (any reset of a seeded login too).
func (r *hostileRun) fingerprint() string {
	var b strings.Builder
	for _, d := range r.e.SB.Domains() {
		fmt.Fprintf(&b, "%s: %s\n", d, strings.Join(r.e.SB.Logins(d), " "))
	}
	for _, k := range r.known {
		fmt.Fprintf(&b, "%s@%s password kept: %v\n", k.login, k.domain, r.e.SB.CheckPassword(k.domain, k.login, k.password))
	}
	applied := 0
	for _, c := range r.e.SB.Calls() {
		if c.Route != sandbox.RouteList && c.Route != sandbox.RouteDomains && c.Status >= 200 && c.Status < 300 {
			applied++
		}
	}
	fmt.Fprintf(&b, "changes applied by Mailgun: %d\n", applied)
	return b.String()
}

// restore puts back the known logins a legitimate delete removed, so that later variants still
// meet them.
func (r *hostileRun) restore() {
	for _, k := range r.known {
		if !slices.ContainsFunc(r.e.SB.Logins(k.domain), func(l string) bool { return strings.EqualFold(l, k.login+"@"+k.domain) }) {
			if err := r.e.SB.AddCredential(k.domain, k.login, k.password, sandbox.SeedBase()); err != nil {
				r.t.Fatalf("restore %s@%s: %v", k.login, k.domain, err)
			}
		}
	}
}

// formPage loads a page and returns the fields of its form posting to action (all of them when
// action is ""), the CSRF token among them: what a browser would send.
func (r *hostileRun) formPage(page, action string) url.Values {
	r.t.Helper()
	p, err := r.tf.Get(context.Background(), page)
	if err != nil {
		r.t.Fatal(err)
	}
	v := url.Values{}
	p.Find("form").EachWithBreak(func(_ int, f *goquery.Selection) bool {
		a, _ := f.Attr("action")
		if action != "" && a != action {
			return true
		}
		f.Find("input[name]").Each(func(_ int, in *goquery.Selection) {
			name, _ := in.Attr("name")
			val, _ := in.Attr("value")
			if ty, _ := in.Attr("type"); ty == "hidden" && !v.Has(name) {
				v.Set(name, val)
			}
		})
		return false
	})
	if v.Get("_csrf") == "" {
		v.Set("_csrf", p.CSRF()) // the page's other forms (sign-out) carry the same session's token
	}
	if v.Get("_csrf") == "" {
		r.t.Fatalf("%s (status %d) has no CSRF token", page, p.Status)
	}
	return v
}

// send sends one case and checks its answer against the five promises.
func (r *hostileRun) send(hc hostileCase) {
	t := r.t
	t.Helper()
	r.counts[hc.route]++
	req, err := http.NewRequestWithContext(context.Background(), hc.method, r.e.URL, bytes.NewReader(hc.body))
	if err != nil {
		t.Fatal(err)
	}
	if hc.body == nil {
		req.Body, req.ContentLength = http.NoBody, 0
	}
	req.URL.Opaque = hc.path // sent as it is: Go's client would re-escape a Path
	req.URL.RawQuery = hc.query
	for k, vs := range hc.header {
		req.Header[k] = vs
	}
	if hc.ctype != "" {
		req.Header.Set("Content-Type", hc.ctype)
	}
	if hc.method == http.MethodPost {
		req.Header.Set("Origin", r.e.URL)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	target := hc.method + " " + hc.path
	if hc.query != "" {
		target += "?" + hc.query
	}
	desc := fmt.Sprintf("[%s] %.300s (%s; body %.200q)", r.persona, target, hc.what, hc.body)
	resp, err := r.hc.Do(req)
	if err != nil {
		t.Errorf("%s: %v", desc, err)
		return
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Errorf("%s: read: %v", desc, err)
		return
	}
	rid := resp.Header.Get("X-Request-Id")
	r.status[rid] = resp.StatusCode
	r.answers[fmt.Sprintf("%s %d", hc.route, resp.StatusCode)]++
	r.secrets = append(r.secrets, hc.secrets...)
	text := string(body)
	excerpt := func() string { return pageExcerpt(resp.Header, body) }

	// 1. No 5xx; no panic in the log since the last request.
	logs := r.e.Logs.String()
	newLogs := logs[r.logPos:]
	r.logPos = len(logs)
	if resp.StatusCode >= 500 {
		t.Errorf("CHECK 1 %s: status %d; page: %s", desc, resp.StatusCode, excerpt())
	}
	if strings.Contains(newLogs, `"msg":"panic"`) {
		t.Errorf("CHECK 1 %s: a panic was recovered: %.800s", desc, newLogs[strings.Index(newLogs, `"msg":"panic"`):])
	}

	// 2. A whole page saying what happened; a redirect stays on this site.
	html := strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html")
	switch {
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		loc := resp.Header.Get("Location")
		if hc.route == "GET "+auth.LoginPath && strings.HasPrefix(loc, r.e.IdP.Issuer()+"/") {
			break // the sign-in flow's first step leads to the provider
		}
		if !strings.HasPrefix(loc, "/") || strings.HasPrefix(loc, "//") || strings.HasPrefix(loc, "/\\") || strings.ContainsAny(loc, "<>\"\x00\r\n") {
			t.Errorf("CHECK 2 %s: status %d leads to %q, not a path of this site", desc, resp.StatusCode, loc)
		}
	case !html:
		if resp.StatusCode >= 400 && !machineRoute(hc.route) || resp.StatusCode < 400 && !machineRoute(hc.route) && !strings.HasSuffix(hc.route, ".csv") && !strings.HasSuffix(hc.route, ".jsonl") {
			t.Errorf("CHECK 2 %s: status %d answered %q, not an HTML page: %.300q", desc, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
	default:
		checkPage(t, desc, resp, body)
	}

	// 3. Nothing changed, unless the answer says a change was made (a 2xx or 3xx to a POST).
	now := r.fingerprint()
	if now != r.before {
		if hc.method != http.MethodPost || resp.StatusCode >= 400 {
			t.Errorf("CHECK 3 %s: status %d, but Mailgun's credentials changed:\n%s; page: %s", desc, resp.StatusCode, lineDiff(r.before, now), excerpt())
		}
		r.restore()
		now = r.fingerprint()
	}
	r.before = now

	// 4. Our markup never comes back raw in a page.
	if html || resp.StatusCode >= 300 {
		for _, m := range xssMarkers {
			if strings.Contains(text, m) {
				t.Errorf("CHECK 4 %s: status %d page holds our %q unescaped: %s", desc, resp.StatusCode, m, excerpt())
			}
		}
	}

	// 5. No secret in the answer (headers too) or the request's log lines.
	var head strings.Builder
	_ = resp.Header.Write(&head)
	for _, s := range r.secrets {
		if strings.Contains(text, s) || strings.Contains(head.String(), s) {
			t.Errorf("CHECK 5 %s: status %d answer holds a secret %.8q…", desc, resp.StatusCode, s)
		}
		if strings.Contains(newLogs, s) {
			t.Errorf("CHECK 5 %s: the log holds a secret %.8q…", desc, s)
		}
	}
}

// checkPage holds an HTML answer to check 2 of both hostile tests (this one and the upstream's):
// a whole page with a heading (main's <h1>), a link on when it answers an error, and neither Go's
// error texts nor the markers given. It returns the page (nil when it is none) and its heading.
func checkPage(t *testing.T, desc string, resp *http.Response, body []byte, markers ...string) (*goquery.Document, string) {
	t.Helper()
	doc, err := goquery.NewDocumentFromReader(bytes.NewReader(body))
	h1 := ""
	if err == nil {
		h1 = strings.TrimSpace(doc.Find("main h1").First().Text())
	}
	lower := strings.ToLower(string(body))
	switch {
	case err != nil || !strings.HasPrefix(lower, "<!doctype html>") || !strings.Contains(lower, "</html>") || h1 == "":
		t.Errorf("CHECK 2 %s: status %d is not a whole page with a heading (h1 %q): %.300q", desc, resp.StatusCode, h1, body)
		doc = nil
	case resp.StatusCode >= 400 && doc.Find("main a[href]").Length() == 0:
		t.Errorf("CHECK 2 %s: status %d page %q offers no link on: %s", desc, resp.StatusCode, h1, pageExcerpt(resp.Header, body))
	}
	for _, m := range append(slices.Clone(goErrorMarkers), markers...) {
		if bytes.Contains(body, []byte(m)) {
			t.Errorf("CHECK 2 %s: status %d page shows Go's or Mailgun's own text %q: %s", desc, resp.StatusCode, m, pageExcerpt(resp.Header, body))
		}
	}
	return doc, h1
}

// machineRoute reports whether a route answers machines (monitors, crawlers, the browser's asset
// requests), not people: its answers need not be HTML pages.
func machineRoute(route string) bool {
	_, path, _ := strings.Cut(route, " ")
	return slices.Contains([]string{"/healthz", "/readyz", handlers.RobotsPath, handlers.FaviconPath}, path) ||
		strings.HasPrefix(path, "/static/")
}

// publicCases are the routes open to everyone (health, static files, the sign-in flow and the
// sign-out page) and the unknown addresses (the signed-in catch-all), with hostile paths and
// queries, perRoute each.
func (r *hostileRun) publicCases(perRoute int) []hostileCase {
	var out []hostileCase
	get := func(route, path, query, what string) {
		out = append(out, hostileCase{route: "GET " + route, method: http.MethodGet, path: path, query: query, what: what})
	}
	redirects := []string{"//evil.example/", "https://evil.example/", "/%5cevil.example", "javascript:alert(1)",
		"%0d%0aLocation:%20https://evil.example/", "/d/%3Cscript%3Ealert(1)%3C/script%3E", strings.Repeat("/a", 2000), "%ff"}
	for _, v := range r.pick(hostileTexts, perRoute) {
		get("/healthz", "/healthz", "verbose="+v, "hostile query")
		get("/readyz", "/readyz", "verbose="+v+"&"+v+"="+v, "hostile query")
		get(handlers.RobotsPath, handlers.RobotsPath, "x="+v, "hostile query")
		get(handlers.FaviconPath, handlers.FaviconPath, "x="+v, "hostile query")
		get(auth.SignedOutPath, auth.SignedOutPath, "next="+v, "hostile query")
		get(auth.LogoutPath, auth.LogoutPath, "next="+v, "hostile query")
		get(auth.CallbackPath, auth.CallbackPath, "code="+v+"&state="+v, "hostile code and state")
		get(auth.CallbackPath, auth.CallbackPath, "error="+v+"&error_description="+v+"&state="+v, "hostile provider error")
	}
	for _, next := range r.pick(redirects, perRoute) {
		get(auth.LoginPath, auth.LoginPath, "next="+next, "hostile next")
	}
	for _, tmpl := range r.pick(hostileSegments, 2*perRoute) {
		get("/static/*", "/static/"+segment(tmpl, "app.css"), "", "hostile static file "+tmpl)
		get("/*", "/"+segment(tmpl, "d"), "", "hostile unknown address "+tmpl)
		get("/*", "/d/"+segment(tmpl, "x")+"/"+segment(tmpl, "y")+"/z", "", "hostile unknown address "+tmpl)
	}
	// The sign-out POST, never with a token: it would end the session (a change, and not a
	// hostile one); refused, it must say so.
	for _, body := range []string{"", "_csrf=%ff", "_csrf=" + strings.Repeat("A", 70000), "%zz"} {
		out = append(out, hostileCase{route: "POST " + auth.LogoutPath, method: http.MethodPost, path: auth.LogoutPath,
			body: []byte(body), ctype: "application/x-www-form-urlencoded", what: "sign-out without a valid token"})
	}
	return out
}

// pageExcerpt is what a failure shows of an answer: its heading and message, or its start.
func pageExcerpt(h http.Header, body []byte) string {
	if strings.HasPrefix(h.Get("Content-Type"), "text/html") {
		if doc, err := goquery.NewDocumentFromReader(bytes.NewReader(body)); err == nil {
			return fmt.Sprintf("%.600q", strings.Join(strings.Fields(doc.Find("main").Text()), " "))
		}
	}
	return fmt.Sprintf("%.300q", body)
}

// lineDiff lists the lines of b that a does not have.
func lineDiff(a, b string) string {
	var out []string
	old := strings.Split(a, "\n")
	for _, l := range strings.Split(b, "\n") {
		if !slices.Contains(old, l) {
			out = append(out, "  now: "+l)
		}
	}
	return strings.Join(out, "\n")
}

// pick returns n values of list chosen by the run's source, without repeats while it can.
func (r *hostileRun) pick(list []string, n int) []string {
	idx := r.rng.Perm(len(list))
	out := make([]string, 0, n)
	for i := range n {
		out = append(out, list[idx[i%len(idx)]])
	}
	return out
}

// segment makes a hostile path segment from a template of hostileSegments and the valid value.
func segment(tmpl, valid string) string {
	return strings.ReplaceAll(tmpl, "%s", url.PathEscape(valid))
}

// hostileTargets are the values the valid parts of the paths take.
type hostileTargets struct {
	domain, login string // a domain and one of its logins the persona sees
}

// fill puts domain and login into a route's path.
func fill(route, domain, login string) string {
	p := strings.Replace(route, ":domain", domain, 1)
	return strings.Replace(p, ":login", login, 1)
}

// getRoutes and postRoutes are the pages' routes, as routes.go registers them (checked against
// the router by TestHostileInputEveryRoute).
var (
	getRoutes = []string{"/", "/d", "/export.csv", "/d/:domain", "/d/:domain/export.csv", "/d/:domain/new",
		"/d/:domain/logins/:login/reset", "/d/:domain/logins/:login/delete", "/d/:domain/delete-all",
		"/audit", "/audit/verify", "/audit/export.csv", "/audit/export.jsonl"}
	postRoutes = []string{"/d/:domain/new", "/d/:domain/logins/:login/reset", "/d/:domain/logins/:login/delete",
		"/d/:domain/delete-all", "/audit/verify"}
)

// pathCases are the GET and POST routes with hostile path segments, perRoute per parameter.
func (r *hostileRun) pathCases(tg hostileTargets, perRoute int) []hostileCase {
	var out []hostileCase
	add := func(method, route string) {
		for _, param := range []string{":domain", ":login"} {
			if !strings.Contains(route, param) {
				continue
			}
			for _, tmpl := range r.pick(hostileSegments, perRoute) {
				domain, login := url.PathEscape(tg.domain), url.PathEscape(tg.login)
				if param == ":domain" {
					domain = segment(tmpl, tg.domain)
				} else {
					login = segment(tmpl, tg.login)
				}
				hc := hostileCase{route: method + " " + route, method: method, path: fill(route, domain, login),
					what: "hostile " + param + " " + tmpl}
				if method == http.MethodPost {
					// The page's own fields for the valid target, so that only the path is wrong.
					form := r.formPage(fill(route, url.PathEscape(tg.domain), url.PathEscape(tg.login)), "")
					pw := r.password()
					form.Set("mode", "manual")
					form.Set("password", pw)
					form.Set("password2", pw)
					form.Set("logins", fmt.Sprintf("hp%d", r.seq))
					form.Set("confirm", tg.domain)
					hc.body, hc.ctype, hc.secrets = []byte(form.Encode()), "application/x-www-form-urlencoded", []string{pw}
				}
				out = append(out, hc)
			}
		}
	}
	for _, route := range getRoutes {
		add(http.MethodGet, route)
	}
	for _, route := range postRoutes {
		add(http.MethodPost, route)
	}
	return out
}

// queryCases are the GET routes with hostile query strings, perRoute each.
func (r *hostileRun) queryCases(tg hostileTargets, perRoute int) []hostileCase {
	listKeys := []string{"page", "per_page", "skip"}
	textKeys := []string{"q", "rotate", "changed", "back"}
	auditText := []string{"domain", "actor", "action", "outcome", "login"}
	var out []hostileCase
	for _, route := range getRoutes {
		audit := strings.HasPrefix(route, "/audit")
		for range perRoute {
			var parts []string
			kind := r.rng.IntN(6)
			switch {
			case kind == 0: // numbers
				for _, k := range listKeys {
					parts = append(parts, k+"="+r.pick(hostileNumbers, 1)[0])
				}
				if audit {
					parts = append(parts, "before="+r.pick(hostileNumbers, 1)[0], "after="+r.pick(hostileNumbers, 1)[0])
				}
			case kind == 1: // repeated keys
				k := r.pick(append(listKeys, textKeys...), 1)[0]
				if audit {
					k = r.pick(append(auditText, "from", "to", "tz", "before"), 1)[0]
				}
				parts = append(parts, k+"="+r.pick(hostileNumbers, 1)[0], k+"=2", k+"="+r.pick(hostileTexts, 1)[0])
			case kind == 2 && audit: // dates
				from, to := r.pick(hostileDates, 1)[0], r.pick(hostileDates, 1)[0]
				parts = append(parts, "from="+from, "to="+to, "tz="+r.pick(hostileZones, 1)[0])
			case kind == 2: // reversed or odd dates where none are read, and a huge filter
				parts = append(parts, "q="+strings.Repeat("%ff%00", 600), "from=2026-12-31", "to=2026-01-01")
			case kind == 3 && audit: // reversed range, valid dates
				parts = append(parts, "from=2026-12-31", "to=2020-01-01", "tz=Europe/Berlin")
			case kind == 3: // empty values and keys
				parts = append(parts, "page=", "per_page=", "=", "&&", "q")
			default: // texts
				keys := textKeys
				if audit {
					keys = auditText
				}
				for _, k := range r.pick(keys, 2) {
					parts = append(parts, k+"="+r.pick(hostileTexts, 1)[0])
				}
			}
			q := strings.Join(parts, "&")
			out = append(out, hostileCase{route: "GET " + route, method: http.MethodGet,
				path: fill(route, url.PathEscape(tg.domain), url.PathEscape(tg.login)), query: q, what: "hostile query"})
		}
	}
	// A hostile Referer on the pages that read it (the way back from a form).
	for _, ref := range []string{"http://evil.example/d/" + tg.domain + "?page=2", "/d/" + tg.domain + "?q=%3Cscript%3Ealert(1)%3C/script%3E",
		"javascript:alert(1)", "//evil.example/", strings.Repeat("r", 4000), "/d/" + tg.domain + "?per_page=-1&rotate=%00"} {
		for _, route := range []string{"/d/:domain/logins/:login/delete", "/d/:domain/delete-all"} {
			out = append(out, hostileCase{route: "GET " + route, method: http.MethodGet,
				path: fill(route, url.PathEscape(tg.domain), url.PathEscape(tg.login)), header: http.Header{"Referer": {ref}},
				what: "hostile Referer " + ref})
		}
	}
	return out
}

// postForm is a POST route with the form its page sends (the valid base of the variants) and
// the fields to vary.
type postForm struct {
	route, page, action string
	fields              []string                                   // the fields to vary, in order
	set                 func(r *hostileRun, v url.Values) []string // fills in the valid values; returns the secrets
}

// postForms are the POST routes' forms for targets tg.
func postForms(tg hostileTargets) []postForm {
	dom, login := url.PathEscape(tg.domain), url.PathEscape(tg.login)
	full := tg.login + "@" + tg.domain
	password := func(r *hostileRun, v url.Values) []string {
		pw := r.password()
		v.Set("mode", "manual")
		v.Set("password", pw)
		v.Set("password2", pw)
		return []string{pw}
	}
	return []postForm{
		{route: "/d/:domain/new", page: "/d/" + dom + "/new", action: "/d/" + tg.domain + "/new",
			fields: []string{"_csrf", "_form", "logins", "mode", "password", "password2", "system"},
			set: func(r *hostileRun, v url.Values) []string {
				s := password(r, v)
				v.Set("logins", fmt.Sprintf("hp%d\nhq%d", r.seq, r.seq))
				return s
			}},
		{route: "/d/:domain/logins/:login/reset", page: "/d/" + dom + "/logins/" + login + "/reset",
			action: "/d/" + tg.domain + "/logins/" + full + "/reset",
			fields: []string{"_csrf", "_form", "mode", "password", "password2", "back"}, set: password},
		{route: "/d/:domain/logins/:login/delete", page: "/d/" + dom + "/logins/" + login + "/delete",
			action: "/d/" + tg.domain + "/logins/" + full + "/delete",
			fields: []string{"_csrf", "_form", "back"}, set: func(*hostileRun, url.Values) []string { return nil }},
		{route: "/d/:domain/delete-all", page: "/d/" + dom + "/delete-all", action: "/d/" + tg.domain + "/delete-all",
			fields: []string{"_csrf", "_form", "listed", "confirm", "back"},
			set: func(_ *hostileRun, v url.Values) []string {
				v.Set("confirm", tg.domain)
				return nil
			}},
		{route: "/audit/verify", page: "/audit", action: "/audit/verify", fields: []string{"_csrf", "extra"},
			set: func(*hostileRun, url.Values) []string { return nil }},
	}
}

// rawForm is a urlencoded body as its raw (already escaped) "key=value" pairs, so that a variant
// can put bytes a browser would escape, and some it would not send at all.
type rawForm []string

func (f rawForm) encode() string { return strings.Join(f, "&") }

// baseRaw turns v into raw pairs in a fixed order.
func baseRaw(v url.Values, order []string) rawForm {
	var out rawForm
	seen := map[string]bool{}
	for _, k := range append(order, sortedKeys(v)...) {
		if seen[k] || !v.Has(k) {
			continue
		}
		seen[k] = true
		for _, s := range v[k] {
			out = append(out, url.QueryEscape(k)+"="+url.QueryEscape(s))
		}
	}
	return out
}

func sortedKeys(v url.Values) []string {
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// limitFor is the body limit of a POST route.
func limitFor(route string) int {
	if route == "/d/:domain/new" {
		return 1 << 20 // handlers.CreateBodyLimit
	}
	return 64 << 10 // handlers.DefaultBodyLimit
}

// fieldVariant is the raw form with field turned into kind.
func fieldVariant(base rawForm, field, valid, kind string, limit int) rawForm {
	key := url.QueryEscape(field)
	var out rawForm
	put := func(vals ...string) {
		for _, v := range vals {
			out = append(out, key+"="+v)
		}
	}
	done := false
	for _, p := range base {
		if !strings.HasPrefix(p, key+"=") {
			out = append(out, p)
			continue
		}
		if done {
			continue
		}
		done = true
		ev := url.QueryEscape(valid)
		switch kind {
		case "missing":
		case "empty":
			put("")
		case "repeated-first":
			put("%3Cscript%3Ealert(1)%3C/script%3E", ev)
		case "repeated-second":
			put(ev, "%ff"+ev, "")
		case "huge-under":
			rest := len(base.encode()) - len(p)
			put(ev + strings.Repeat("A", max(0, limit-rest-len(key)-len(ev)-64)))
		case "invalid-utf8":
			put(ev + "%ff%c0%af")
		case "control":
			put(ev + "%0d%0a%1b%7f%08")
		case "nul":
			put(ev + "%00" + ev)
		case "markup":
			put(ev + "%22%3E%3Cimg%20src=x%20onerror=alert(1)%3E%3Cscript%3Ealert(1)%3C/script%3E")
		case "wrong-type":
			put("1e309", "true")
		case "array":
			out = append(out, key+"[]="+ev, key+"[0]="+ev, key+".x="+ev)
		case "only-spaces":
			put("+++%09+")
		}
	}
	if !done && kind != "missing" {
		// A field the page does not send (system unchecked, back, extra): sent hostile.
		out = fieldVariant(append(out, key+"=on"), field, "on", kind, limit)
	}
	return out
}

// postCases are the POST routes' form variants: each field turned into perField kinds, and the
// whole-body kinds.
func (r *hostileRun) postCases(tg hostileTargets, perField, bodies int) []func() hostileCase {
	var out []func() hostileCase
	for _, pf := range postForms(tg) {
		limit := limitFor(pf.route)
		// A fresh form per request: its one-time token and the delete-all list digest as the
		// page has them now, so that the handler itself judges the variant.
		fresh := func() (rawForm, url.Values, []string) {
			v := r.formPage(pf.page, pf.action)
			secrets := pf.set(r, v)
			return baseRaw(v, pf.fields), v, secrets
		}
		for _, field := range pf.fields {
			for _, kind := range r.pick(fieldKinds, perField) {
				out = append(out, func() hostileCase {
					base, v, secrets := fresh()
					body := fieldVariant(base, field, v.Get(field), kind, limit).encode()
					return hostileCase{route: "POST " + pf.route, method: http.MethodPost, path: pf.action, body: []byte(body),
						ctype: "application/x-www-form-urlencoded", what: "field " + field + " " + kind, secrets: secrets}
				})
			}
		}
		for _, kind := range r.pick(bodyKinds, bodies) {
			out = append(out, func() hostileCase {
				base, v, secrets := fresh()
				return bodyVariant(pf, base, v, kind, limit, secrets)
			})
		}
	}
	return out
}

// bodyVariant is the form sent as a whole-body kind.
func bodyVariant(pf postForm, base rawForm, v url.Values, kind string, limit int, secrets []string) hostileCase {
	hc := hostileCase{route: "POST " + pf.route, method: http.MethodPost, path: pf.action, what: "body " + kind,
		ctype: "application/x-www-form-urlencoded", secrets: secrets, header: http.Header{}}
	csrf := v.Get("_csrf")
	without := fieldVariant(base, "_csrf", csrf, "missing", limit).encode()
	switch kind {
	case "no-csrf":
		hc.body = []byte(without)
	case "bad-csrf":
		hc.body = []byte(fieldVariant(base, "_csrf", csrf, "invalid-utf8", limit).encode())
	case "csrf-in-query":
		hc.body, hc.query = []byte(without), "_csrf="+url.QueryEscape(csrf)
	case "json":
		hc.header.Set("X-CSRF-Token", csrf)
		hc.ctype = "application/json"
		hc.body = []byte(fmt.Sprintf(`{"logins":["a","b"],"mode":"manual","password":%q,"confirm":%q,"_csrf":%q}`, v.Get("password"), v.Get("confirm"), csrf))
	case "text-plain":
		hc.header.Set("X-CSRF-Token", csrf)
		hc.ctype, hc.body = "text/plain", []byte(base.encode())
	case "no-content-type":
		hc.header.Set("X-CSRF-Token", csrf)
		hc.ctype, hc.body = "", []byte(base.encode())
	case "multipart", "broken-multipart":
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		for _, k := range sortedKeys(v) {
			_ = mw.WriteField(k, v.Get(k))
		}
		_ = mw.Close()
		hc.ctype, hc.body = mw.FormDataContentType(), b.Bytes()
		if kind == "broken-multipart" {
			hc.header.Set("X-CSRF-Token", csrf)
			hc.ctype, hc.body = "multipart/form-data; boundary=nothere", b.Bytes()[:b.Len()/2]
		}
	case "charset-utf16":
		hc.ctype, hc.body = "application/x-www-form-urlencoded; charset=utf-16", []byte(base.encode())
	case "not-a-form":
		hc.header.Set("X-CSRF-Token", csrf)
		hc.body = []byte("<?xml version=\"1.0\"?><form><script>alert(1)</script></form>")
	case "binary":
		hc.header.Set("X-CSRF-Token", csrf)
		hc.body = []byte("\x00\x01\x02\xff\xfe=\x00&\x1f\x8b\x08")
	case "unreadable-escape":
		hc.body = []byte(base.encode() + "&x=%zz&%=%")
	case "huge-over":
		hc.body = []byte(base.encode() + "&pad=" + strings.Repeat("B", limit))
	case "semicolons":
		hc.body = []byte(strings.ReplaceAll(base.encode(), "&", ";"))
	}
	return hc
}

// checkAudit holds the trail to check 3: every successful change in it was answered as one.
func (r *hostileRun) checkAudit() {
	r.t.Helper()
	for _, a := range r.e.auditEntries(r.t, store.AuditFilter{}) {
		if !strings.HasPrefix(a.Action, "credential.") || a.Outcome != "ok" {
			continue
		}
		st, ok := r.status[a.RequestID]
		if !ok {
			continue // another pass's request
		}
		if st >= 400 {
			r.t.Errorf("CHECK 3 [%s]: the audit trail records %s of %v in %s as done (entry %d), but its request (%s) was answered %d",
				r.persona, a.Action, a.Logins, a.Domain, a.ID, a.RequestID, st)
		}
	}
}

// checkLogs holds the whole log to checks 1 and 5 once more, after every request is answered:
// a line written late is seen too. who names the run in a failure.
func checkLogs(t *testing.T, who, logs string, secrets []string) {
	t.Helper()
	if i := strings.Index(logs, `"msg":"panic"`); i >= 0 {
		t.Errorf("CHECK 1 %s: the log has a recovered panic: %.800s", who, logs[i:])
	}
	for _, s := range secrets {
		if strings.Contains(logs, s) {
			t.Errorf("CHECK 5 %s: the log holds a secret %.8q…", who, s)
		}
	}
}

// TestHostileInputEveryRoute sends a few hundred hostile requests to every page route, signed in
// as an administrator (who may do everything) and as a viewer (who may change nothing).
func TestHostileInputEveryRoute(t *testing.T) {
	// The limits stay out of the way: each pass's sign-in steps and actions reach their handlers.
	e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1 << 20, ExportsPerMinute: 1 << 20,
		DenialsPerMinute: 1 << 20}, SignInPerMinute: 1 << 20})
	if err := e.SB.AddDomain(hostileDomain); err != nil {
		t.Fatal(err)
	}
	var known []knownLogin
	for i, l := range hostileLogins {
		k := knownLogin{hostileDomain, l, fmt.Sprintf("Known-%d-%s-pw", i, l)}
		if err := e.SB.AddCredential(k.domain, k.login, k.password, sandbox.SeedBase().AddDate(0, 0, -i)); err != nil {
			t.Fatal(err)
		}
		known = append(known, k)
	}

	// Every page route registered is covered: a route added later without variants fails here.
	var registered []string
	for _, rt := range e.Echo.Routes() {
		if rt.Name != handlers.NotAllowedRoute && (rt.Method == http.MethodGet || rt.Method == http.MethodPost) {
			registered = append(registered, rt.Method+" "+rt.Path)
		}
	}

	start := time.Now()
	total := 0
	passes := []struct {
		persona          string
		targets          []hostileTargets
		paths, queries   int
		perField, bodies int
	}{
		{"admin", []hostileTargets{{hostileDomain, "alpha"}}, 7, 6, 3, 6},
		// The viewer of example.com: its pages are theirs to read, no change is; acme.example
		// and hostile.example are not theirs at all.
		{"reviewer", []hostileTargets{{"example.com", "user001"}, {"acme.example", "alice"}}, 2, 2, 1, 3},
	}
	// Both sign in before any hostile request.
	runs := make([]*hostileRun, len(passes))
	for i, pass := range passes {
		runs[i] = newHostileRun(t, e, pass.persona, known, uint64(i))
	}
	for i, pass := range passes {
		t.Run(pass.persona, func(t *testing.T) {
			r := runs[i]
			r.t, r.before, r.logPos = t, r.fingerprint(), len(e.Logs.String())
			for _, tg := range pass.targets {
				var cases []hostileCase
				cases = append(cases, r.pathCases(tg, pass.paths)...)
				cases = append(cases, r.queryCases(tg, pass.queries)...)
				for _, hc := range cases {
					r.send(hc)
				}
				for _, mk := range r.postCases(tg, pass.perField, pass.bodies) {
					r.send(mk())
				}
			}
			// Last: the public routes (the sign-in flow's steps may change the session's cookies).
			for _, hc := range r.publicCases(pass.queries) {
				r.send(hc)
			}
			r.checkAudit()
			checkLogs(t, "["+r.persona+"]", e.Logs.String(), r.secrets)
			for _, route := range registered {
				if r.counts[route] == 0 {
					t.Errorf("route %s got no hostile request", route)
				}
			}
			n := 0
			for _, c := range r.counts {
				n += c
			}
			total += n
			t.Logf("%d hostile requests over %d routes; answers by route and status: %v", n, len(r.counts), r.answers)
		})
	}
	t.Logf("%d hostile requests in %v", total, time.Since(start).Round(time.Millisecond))
}
