package handlers_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/smtpdesk/smtpdesk/app"
	"github.com/smtpdesk/smtpdesk/handlers"
	"github.com/smtpdesk/smtpdesk/internal/testflow"
	"github.com/smtpdesk/smtpdesk/mailgun/sandbox"
	"github.com/smtpdesk/smtpdesk/static"
)

func TestHomeShowsTheDomainsThePolicyGrants(t *testing.T) {
	e := newEnv(t, envOptions{})
	tests := []struct {
		persona     string
		wantDomains []string
		wantRoles   []string
	}{
		{"admin", []string{"acme.example", "empty.example", "example.com", "newsletter.example.org"}, []string{"admin", "admin", "admin", "admin"}},
		{"operator", []string{"acme.example"}, []string{"operator"}},
		{"reviewer", []string{"example.com", "newsletter.example.org"}, []string{"viewer", "viewer"}},
	}
	for _, tt := range tests {
		t.Run(tt.persona, func(t *testing.T) {
			c := e.signIn(t, tt.persona)
			p := get(t, c, "/")
			wantStatus(t, p, http.StatusOK)
			var names, roles []string
			p.TestID("domain-row").Each(func(_ int, s *goquery.Selection) {
				a := s.Find("a").First()
				names = append(names, strings.TrimSpace(a.Text()))
				roles = append(roles, strings.TrimSpace(s.Find(`[data-testid="role-badge"]`).Text()))
			})
			if !reflect.DeepEqual(names, tt.wantDomains) {
				t.Errorf("domains = %q, want %q", names, tt.wantDomains)
			}
			for i := range roles {
				if !strings.Contains(strings.ToLower(roles[i]), tt.wantRoles[i]) {
					t.Errorf("role of %s = %q, want %q", tt.wantDomains[i], roles[i], tt.wantRoles[i])
				}
			}
			// The domain picker holds the same domains, each linking to its page.
			var picker, links, wantLinks []string
			p.TestID("domain-picker-item").Each(func(_ int, s *goquery.Selection) {
				picker = append(picker, strings.TrimSpace(s.Find("span").First().Text()))
				links = append(links, s.AttrOr("href", s.Find("a").AttrOr("href", "")))
			})
			for _, d := range tt.wantDomains {
				wantLinks = append(wantLinks, "/d/"+d)
			}
			if !reflect.DeepEqual(picker, tt.wantDomains) || !reflect.DeepEqual(links, wantLinks) {
				t.Errorf("picker = %q linking to %q, want %q linking to %q", picker, links, tt.wantDomains, wantLinks)
			}
		})
	}
}

func TestHomeLoginCountsAreFetchedOnceAndCached(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.signIn(t, "admin") // lands on the home page, which fills the caches
	e.Clock.Add(2 * time.Minute)
	e.SB.ResetCalls()
	p := get(t, c, "/")
	wantStatus(t, p, http.StatusOK)
	counts := map[string]string{}
	p.TestID("domain-row").Each(func(_ int, s *goquery.Selection) {
		counts[strings.TrimSpace(s.Find("a").First().Text())] = strings.TrimSpace(s.Find(`[data-testid="login-count"]`).Text())
	})
	// The seed: 250 + postmaster, 12 + postmaster, 3 + postmaster, postmaster only.
	want := map[string]string{"example.com": "251", "acme.example": "13", "newsletter.example.org": "4", "empty.example": "1"}
	for d, n := range want {
		if !strings.Contains(counts[d], n) {
			t.Errorf("count of %s = %q, want %s", d, counts[d], n)
		}
	}
	if got, want := len(e.callsTo("list", "")), 4; got != want {
		t.Errorf("list calls = %d, want %d (one limit=1 call per domain)", got, want)
	}
	if got, want := len(e.callsTo("domains", "")), 1; got != want {
		t.Errorf("domain list calls = %d, want %d (picker and page share one)", got, want)
	}
	get(t, c, "/")
	get(t, c, "/audit")
	if got, want := len(e.SB.Calls()), 5; got != want {
		t.Errorf("calls after two more pages = %d, want %d (everything cached)", got, want)
	}
}

func TestHomeNoAccess(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.signIn(t, "nobody")
	e.SB.ResetCalls()
	p := get(t, c, "/")
	wantStatus(t, p, http.StatusForbidden)
	if p.TestID("no-access").Length() == 0 {
		t.Errorf("no-access page not shown: %.300s", p.Text())
	}
	if got := p.TestID("no-access-email").Text(); !strings.Contains(got, "nick@smtpdesk.example") {
		t.Errorf("no-access email = %q", got)
	}
	// A domain URL is refused too, before any Mailgun call.
	p = get(t, c, "/d/example.com")
	wantStatus(t, p, http.StatusForbidden)
	if got := len(e.callsTo("list", "")); got != 0 {
		t.Errorf("%d list calls for a user without access", got)
	}
}

// TestNoAccessNamesAnUnreadableGroupsClaim: when the provider sends a groups claim SMTP Desk
// cannot read, the no-access page says so instead of suggesting that a groups claim be added.
func TestNoAccessNamesAnUnreadableGroupsClaim(t *testing.T) {
	// A claim the provider's userinfo does not send, so that the ID token's is the only one.
	e := newEnv(t, envOptions{GroupsClaim: "roles"})
	p := get(t, e.signIn(t, "nobody"), "/")
	wantStatus(t, p, http.StatusForbidden)
	if got := p.TestID("no-groups").Text(); !strings.Contains(got, "add a groups claim") {
		t.Errorf("with no groups claim, no-groups = %q, want the suggestion to add one", got)
	}

	e.IdP.SetTamper(func(claims, _ map[string]any) { claims["roles"] = 7 })
	t.Cleanup(func() { e.IdP.SetTamper(nil) })
	p = get(t, e.signIn(t, "nobody"), "/")
	wantStatus(t, p, http.StatusForbidden)
	got := p.TestID("no-groups").Text()
	if !strings.Contains(got, `the "roles" claim was a number`) || strings.Contains(got, "add a groups claim") {
		t.Errorf("with a numeric groups claim, no-groups = %q, want it to name the claim's problem", got)
	}
}

func TestHomeRemembersTheLastDomain(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.signIn(t, "admin")
	wantStatus(t, get(t, c, "/d/newsletter.example.org"), http.StatusOK)
	p := get(t, c, "/")
	first := strings.TrimSpace(p.TestID("domain-row").First().Find("a").First().Text())
	if first != "newsletter.example.org" {
		t.Errorf("first domain = %q, want the last one used", first)
	}
	if p.TestID("last-used").Length() == 0 {
		t.Error("last used domain not marked")
	}
}

func TestHomeSearch(t *testing.T) {
	e := newEnv(t, envOptions{})
	for i := range 10 {
		if err := e.SB.AddDomain(strings.Repeat("x", i+1) + ".example.net"); err != nil {
			t.Fatal(err)
		}
	}
	c := e.signIn(t, "admin")
	p := get(t, c, "/")
	if p.TestID("filter-input").Length() == 0 {
		t.Error("no search box with 14 domains")
	}
	p = get(t, c, "/?q=acme")
	if got := p.TestID("domain-row").Length(); got != 1 {
		t.Errorf("search for acme: %d rows, want 1", got)
	}
}

// TestHomeSearchBoxWithFewDomains: a few domains get no search box, but an address that asks
// for a search (a bookmark, a shared link) shows its box, with the query and a Clear link; it
// showed "1 of 4 domains match" with no way to change or clear it.
func TestHomeSearchBoxWithFewDomains(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.signIn(t, "admin")
	if p := get(t, c, "/"); p.TestID("filter-input").Length() != 0 {
		t.Error("a search box for 4 domains")
	}
	p := get(t, c, "/?q=acme")
	if got := p.TestID("filter-input").AttrOr("value", ""); got != "acme" {
		t.Errorf("search box holds %q, want acme", got)
	}
	if p.TestID("filter-clear").Length() != 1 {
		t.Error("no Clear link for the search")
	}
}

// TestHomeIsPaged: an account of many domains is listed a page at a time, and only the domains
// shown are counted (a Mailgun call each): the home page of an account of thousands of domains
// made thousands of calls before it showed. The search narrows before paging, and the pager's
// links keep it.
func TestHomeIsPaged(t *testing.T) {
	e := newEnv(t, envOptions{})
	for i := range 116 { // with the seed's 4: 120 domains
		if err := e.SB.AddDomain(fmt.Sprintf("d%03d.example.net", i)); err != nil {
			t.Fatal(err)
		}
	}
	c := e.signIn(t, "admin")
	e.Clock.Add(2 * time.Minute) // the counts the sign-in's landing page made expire
	rowsOf := func(p *testflow.Page) []string {
		var names []string
		p.TestID("domain-row").Each(func(_ int, s *goquery.Selection) { names = append(names, s.AttrOr("data-domain", "")) })
		return names
	}
	summary := func(p *testflow.Page) string {
		return strings.Join(strings.Fields(p.TestID("pager-summary").Text()), " ")
	}

	e.SB.ResetCalls()
	p := get(t, c, "/")
	wantStatus(t, p, http.StatusOK)
	if got := len(rowsOf(p)); got != 50 {
		t.Errorf("first page: %d rows, want 50", got)
	}
	if got, want := summary(p), "1–50 of 120"; got != want {
		t.Errorf("first page's summary = %q, want %q", got, want)
	}
	if got, want := len(e.callsTo("list", "")), 50; got != want {
		t.Errorf("first page: %d count calls, want %d (the domains shown)", got, want)
	}

	e.SB.ResetCalls()
	p = get(t, c, "/?page=3")
	rows := rowsOf(p)
	if got, want := summary(p), "101–120 of 120"; got != want {
		t.Errorf("page 3's summary = %q, want %q", got, want)
	}
	if len(rows) != 20 || rows[19] != "newsletter.example.org" {
		t.Errorf("page 3 = %q, want the last 20 domains, ending with newsletter.example.org", rows)
	}
	if got, want := len(e.callsTo("list", "")), 20; got != want {
		t.Errorf("page 3: %d count calls, want %d", got, want)
	}
	if got := p.Find(`[data-testid="login-count"]`).Last().Text(); !strings.Contains(got, "4") {
		t.Errorf("newsletter.example.org's count = %q, want 4", got)
	}

	// Past the end: the last page, and the page says so.
	p = get(t, c, "/?page=9")
	wantStatus(t, p, http.StatusOK)
	if got, want := strings.TrimSpace(p.TestID("flash-warning").Text()), "There is no page 9: this is the last page, 3."; got != want {
		t.Errorf("past the end: warning %q, want %q", got, want)
	}
	// A size the page does not offer: the default, said with this page's words.
	p = get(t, c, "/?per_page=500")
	if got, want := strings.TrimSpace(p.TestID("flash-warning").Text()), `The page size "500" was not used: the choices are 25, 50 and 100, and this page shows 50 domains.`; got != want {
		t.Errorf("size 500: warning %q, want %q", got, want)
	}
	if got := len(rowsOf(p)); got != 50 {
		t.Errorf("size 500: %d rows, want 50", got)
	}

	// The search narrows first; the pager's links and its size form keep it.
	p = get(t, c, "/?q=d0&per_page=25")
	if got, want := summary(p), "1–25 of 100"; got != want {
		t.Errorf("search d0: summary %q, want %q", got, want)
	}
	next := p.TestID("pager-next").AttrOr("href", "")
	if next != "/?page=2&per_page=25&q=d0" {
		t.Errorf("next page link = %q, want the search kept", next)
	}
	if got := p.Find(`nav[aria-label="Pagination"] form input[name="q"]`).AttrOr("value", ""); got != "d0" {
		t.Errorf("page size form keeps q = %q, want d0", got)
	}
	if got, want := strings.Join(strings.Fields(p.TestID("filter-summary").Text()), " "), "100 of 120 domains match “d0”"; got != want {
		t.Errorf("filter summary = %q, want %q", got, want)
	}
	p = get(t, c, next)
	if rows := rowsOf(p); len(rows) != 25 || rows[0] != "d025.example.net" {
		t.Errorf("search d0, page 2 = %q, want d025… first", rows)
	}
}

// TestHomeSmallAccountHasNoPager: a few domains are one page, with nothing to page through or
// size.
func TestHomeSmallAccountHasNoPager(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.signIn(t, "admin")
	p := get(t, c, "/")
	if n := p.Find(`nav[aria-label="Pagination"]`).Length(); n != 0 {
		t.Errorf("%d pagers on the home page of 4 domains, want none", n)
	}
	if got := p.TestID("domain-row").Length(); got != 4 {
		t.Errorf("%d rows, want 4", got)
	}
}

func TestSignedOutPageIsPublic(t *testing.T) {
	e := newEnv(t, envOptions{})
	c, err := testflow.New(e.URL)
	if err != nil {
		t.Fatal(err)
	}
	p := get(t, c, "/auth/signed-out")
	wantStatus(t, p, http.StatusOK)
	if p.TestID("signed-out").Length() == 0 {
		t.Errorf("signed-out page not shown: %.300s", p.Text())
	}
	// Signed in, the same address redirects home: a cache must not give either to the other.
	if got := p.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("the signed-out page's Cache-Control is %q, want no-store", got)
	}
}

// TestCrawlerFilesArePublic: /robots.txt and /favicon.ico answer everyone, signed out, without
// a session or its cookie: behind sign-in they were redirected to it, and a crawler that
// followed started a sign-in (spending its address's sign-in budget) to learn nothing. robots.txt
// keeps every crawler out of an internal tool; favicon.ico leads to the current icon.
func TestCrawlerFilesArePublic(t *testing.T) {
	e := newEnv(t, envOptions{})
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, tt := range []struct {
		path     string
		status   int
		body     string // GET's, exactly
		location string
	}{
		{handlers.RobotsPath, http.StatusOK, "User-agent: *\nDisallow: /\n", ""},
		{handlers.FaviconPath, http.StatusFound, "", static.URL("favicon.svg")},
	} {
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			req, err := http.NewRequestWithContext(context.Background(), method, e.URL+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status || resp.Header.Get("Location") != tt.location {
				t.Errorf("%s %s signed out: %d to %q, want %d to %q", method, tt.path, resp.StatusCode, resp.Header.Get("Location"), tt.status, tt.location)
			}
			if method == http.MethodGet && tt.body != "" && string(body) != tt.body {
				t.Errorf("GET %s: %q, want %q", tt.path, body, tt.body)
			}
			if got := resp.Header.Get("Set-Cookie"); got != "" {
				t.Errorf("%s %s sets a cookie: %s", method, tt.path, got)
			}
			if got := resp.Header.Get("Cache-Control"); got != "public, max-age=86400" {
				t.Errorf("%s %s: Cache-Control %q, want a day's", method, tt.path, got)
			}
		}
		// Any other method is refused with the methods the address takes.
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, e.URL+tt.path, nil)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
			t.Errorf("POST %s: %d, Allow %q; want 405, GET, HEAD", tt.path, resp.StatusCode, resp.Header.Get("Allow"))
		}
	}
	// The icon it leads to is there.
	resp, err := http.Get(e.URL + static.URL("favicon.svg"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("the favicon %s: %d", static.URL("favicon.svg"), resp.StatusCode)
	}
}

// TestRoutesNeedASession walks the router: every route but health, static files and the
// sign-in flow sends a visitor without a session to sign in (GET, HEAD) or refuses them (POST).
func TestRoutesNeedASession(t *testing.T) {
	e := newEnv(t, envOptions{})
	public := func(path string) bool {
		return strings.HasPrefix(path, "/auth/") || strings.HasPrefix(path, "/static") ||
			path == "/healthz" || path == "/readyz" || path == "/livez" || path == handlers.RobotsPath || path == handlers.FaviconPath
	}
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	n := 0
	for _, r := range e.Echo.Routes() {
		if public(r.Path) || r.Method == "echo_route_not_found" {
			continue
		}
		path := strings.NewReplacer(":domain", "example.com", ":login", "user001@example.com", "*", "x").Replace(r.Path)
		req, err := http.NewRequestWithContext(context.Background(), r.Method, e.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		n++
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			if resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), "/auth/login") {
				t.Errorf("%s %s without a session: %d %s", r.Method, path, resp.StatusCode, resp.Header.Get("Location"))
			}
		default:
			if resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusForbidden {
				t.Errorf("%s %s without a session: %d", r.Method, path, resp.StatusCode)
			}
		}
	}
	if n < 13 {
		t.Errorf("walked %d protected routes, want at least 13", n)
	}
}

// TestDemoWiring signs in to the real demo (app.StartDemo) and opens a domain: the app calls
// Register with its own wiring.
func TestDemoWiring(t *testing.T) {
	ctx := context.Background()
	d, err := app.StartDemo(ctx, app.DemoOptions{Addr: "127.0.0.1:0", DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	c, err := testflow.New(d.URL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.SignIn(ctx, "operator"); err != nil {
		t.Fatal(err)
	}
	p := get(t, c, "/d/acme.example")
	wantStatus(t, p, http.StatusOK)
	if got, want := p.Find(rowSel).Length(), 13; got != want {
		t.Errorf("acme.example rows = %d, want %d", got, want)
	}
	wantStatus(t, get(t, c, "/d/example.com"), http.StatusForbidden)
}

// TestHomeSaysWhyCountsAreMissing: when Mailgun does not give a domain's login count, the page
// says so in words under the table, for every viewer (a phone or a keyboard has no tooltip), and
// says what to do; with every count known it says nothing.
func TestHomeSaysWhyCountsAreMissing(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.signIn(t, "admin") // lands on the home page, which fills the caches
	p := get(t, c, "/")
	wantStatus(t, p, http.StatusOK)
	if n := p.TestID("counts-missing").Length(); n != 0 {
		t.Errorf("with every count known the page says %q", p.TestID("counts-missing").Text())
	}

	e.Clock.Add(2 * time.Minute) // past the count cache
	e.SB.SetFaults(sandbox.Faults{Rate: 1, Status: http.StatusInternalServerError, Routes: []string{sandbox.RouteList}})
	defer e.SB.SetFaults(sandbox.Faults{})
	p = get(t, c, "/")
	wantStatus(t, p, http.StatusOK)
	note := p.TestID("counts-missing")
	text := strings.Join(strings.Fields(note.Text()), " ")
	if note.Length() == 0 || note.HasClass("sr-only") || !strings.Contains(text, "4 domains") || !strings.Contains(text, "Reload") {
		t.Errorf("with no count known, the note under the table = %q (shown: %v), want it to name the 4 domains' counts and say to reload", text, note.Length() > 0 && !note.HasClass("sr-only"))
	}
}

// TestHomeLastDomainIsOneShown: a domain name mistyped into the address (Mailgun does not know
// it: the 404 page) or a list Mailgun failed to give is not the domain last used; the home page
// still puts the one last shown first.
func TestHomeLastDomainIsOneShown(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.signIn(t, "admin")
	wantStatus(t, get(t, c, "/d/newsletter.example.org"), http.StatusOK)
	wantLast := func(after string) {
		t.Helper()
		p := get(t, c, "/")
		wantStatus(t, p, http.StatusOK)
		if first := p.TestID("domain-row").First().AttrOr("data-domain", ""); first != "newsletter.example.org" {
			t.Errorf("after %s: first domain = %q, want newsletter.example.org, the last one shown", after, first)
		}
		if got := p.TestID("last-used").Closest(`[data-testid="domain-row"]`).AttrOr("data-domain", ""); got != "newsletter.example.org" {
			t.Errorf("after %s: marked last used: %q, want newsletter.example.org", after, got)
		}
	}
	wantStatus(t, get(t, c, "/d/newsleter.example.org"), http.StatusNotFound)
	wantLast("a mistyped domain")
	e.SB.SetFaults(sandbox.Faults{Routes: []string{sandbox.RouteList}, Rate: 1, Status: http.StatusServiceUnavailable})
	if p := get(t, c, "/d/acme.example"); p.Status < 500 {
		t.Fatalf("a list Mailgun failed answered %d", p.Status)
	}
	e.SB.SetFaults(sandbox.Faults{})
	wantLast("a list Mailgun failed")
}

// TestHomeOffersTheOwnLogin: a team member who may reset only their own login (self-service)
// finds it on the home page, with the way to reset it, instead of looking for their domain and
// then their row. Not offered to whom the policy lets reset any login there.
func TestHomeOffersTheOwnLogin(t *testing.T) {
	e := newEnv(t, envOptions{})
	if err := e.SB.AddCredential("example.com", "sam", "Sam-Old-Pass-1", sandbox.SeedBase()); err != nil {
		t.Fatal(err)
	}
	c := e.signIn(t, "selfie") // a viewer of example.com, whose login sam@example.com is there
	p := get(t, c, "/")
	wantStatus(t, p, http.StatusOK)
	if got := strings.Join(strings.Fields(p.TestID("own-login").Text()), " "); !strings.Contains(got, "sam@example.com") {
		t.Errorf("home offers %q, want sam@example.com", got)
	}
	reset := p.TestID("own-login-reset").AttrOr("href", "")
	if reset != "/d/example.com/logins/sam@example.com/reset" {
		t.Errorf("the reset link is %q", reset)
	}
	if rp := get(t, c, reset); rp.Status != http.StatusOK || rp.TestID("reset-form").Length() != 1 {
		t.Errorf("the link leads to %d without the reset form", rp.Status)
	}
	// Gone from Mailgun (deleted in its own panel, say), its reset is not offered once the kept
	// list is read again: the link would lead to "Login not found". The card stays and says why,
	// as the domain page does: the team member who came for the button read nothing about it.
	del := httptest.NewRequest(http.MethodDelete, "/v3/domains/example.com/credentials/sam@example.com", nil)
	del.SetBasicAuth("api", e.APIKey)
	rec := httptest.NewRecorder()
	e.SB.ServeHTTP(rec, del)
	if rec.Code != http.StatusOK {
		t.Fatalf("delete sam@example.com in the sandbox = %d %s", rec.Code, rec.Body)
	}
	e.Clock.Add(time.Minute) // past what the instance keeps of the list
	gone := get(t, c, "/")
	if n := gone.TestID("own-login-reset").Length(); n != 0 {
		t.Error("home offers the reset of a login the domain no longer has")
	}
	if got, want := strings.Join(strings.Fields(gone.TestID("own-login").Text()), " "), "sam@example.com is not in example.com: ask an operator of this domain to create it."; !strings.Contains(got, want) {
		t.Errorf("home says %q of the missing own login, want %q", got, want)
	}
	for _, who := range []string{"admin", "operator"} {
		if n := get(t, e.signIn(t, who), "/").TestID("own-login").Length(); n != 0 {
			t.Errorf("%s, who may reset any login, is offered an own login", who)
		}
	}
}

// TestHomeSubtitleFitsTheRole: the domain list promises to manage logins only to someone who may
// change one; a reviewer and a team member are told they can see them.
func TestHomeSubtitleFitsTheRole(t *testing.T) {
	e := newEnv(t, envOptions{})
	for who, want := range map[string]string{
		"admin":    "Pick a domain to manage its SMTP logins.",
		"operator": "Pick a domain to manage its SMTP logins.",
		"reviewer": "Pick a domain to see its SMTP logins.",
		"selfie":   "Pick a domain to see its SMTP logins.",
	} {
		p := get(t, e.signIn(t, who), "/")
		wantStatus(t, p, http.StatusOK)
		if got := strings.TrimSpace(p.TestID("page-subtitle").Text()); got != want {
			t.Errorf("%s: subtitle %q, want %q", who, got, want)
		}
	}
}
