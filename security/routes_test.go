package security_test

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/smtpdesk/smtpdesk/auth"
	"github.com/smtpdesk/smtpdesk/handlers"
	"github.com/smtpdesk/smtpdesk/internal/testflow"
	"github.com/smtpdesk/smtpdesk/policy"
	"github.com/smtpdesk/smtpdesk/store"
)

// domainRoutes names the action each route with a domain in its path needs. The walks below
// take the routes from the app's router and fail on one that is not here, so a page added later
// is checked as soon as it exists, once it says which action it needs.
var domainRoutes = map[string]policy.Action{
	"GET /d/:domain":                       policy.ActView,
	"GET /d/:domain/export.csv":            policy.ActView,
	"GET /d/:domain/new":                   policy.ActCreate,
	"POST /d/:domain/new":                  policy.ActCreate,
	"GET /d/:domain/logins/:login/reset":   policy.ActReset,
	"POST /d/:domain/logins/:login/reset":  policy.ActReset,
	"GET /d/:domain/logins/:login/delete":  policy.ActDelete,
	"POST /d/:domain/logins/:login/delete": policy.ActDelete,
	"GET /d/:domain/delete-all":            policy.ActDeleteAll,
	"POST /d/:domain/delete-all":           policy.ActDeleteAll,
	// Every GET page also answers HEAD, through the same handler.
	"HEAD /d/:domain":                      policy.ActView,
	"HEAD /d/:domain/export.csv":           policy.ActView,
	"HEAD /d/:domain/new":                  policy.ActCreate,
	"HEAD /d/:domain/logins/:login/reset":  policy.ActReset,
	"HEAD /d/:domain/logins/:login/delete": policy.ActDelete,
	"HEAD /d/:domain/delete-all":           policy.ActDeleteAll,
}

// unsafeMethod reports whether a route's method may change state (SECURITY.md item 14). Echo
// lists its fallbacks (not found, method not allowed) as routes of made-up methods; they are not
// requests anyone sends.
func unsafeMethod(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return false
	}
	return !strings.HasPrefix(m, "echo_route_")
}

// TestSecurity12EveryDomainRoute walks every route of the router that names a domain, as users
// whose role on the domain is below, at and above what the route needs: each one below is
// refused with 403 before Mailgun hears of the domain, GET forms and exports included (a page
// is authorized for its own action, not for viewing the domain); each one within the role
// answers (the refusals were the policy's, not the request's).
func TestSecurity12EveryDomainRoute(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	type route struct{ method, path string }
	var routes []route
	for _, rt := range e.App.Echo().Routes() {
		// A method the page does not answer is refused 405 for everyone, before any role
		// is asked for (TestMethodNotAllowed).
		if !strings.Contains(rt.Path, ":domain") || rt.Name == handlers.NotAllowedRoute {
			continue
		}
		if _, ok := domainRoutes[rt.Method+" "+rt.Path]; !ok {
			t.Errorf("route %s %s names a domain, and this walk does not know which action it needs: add it to domainRoutes", rt.Method, rt.Path)
			continue
		}
		routes = append(routes, route{rt.Method, rt.Path})
	}
	if len(routes) != len(domainRoutes) {
		t.Fatalf("the router has %d of the %d routes domainRoutes names: keep the table to the router", len(routes), len(domainRoutes))
	}
	for _, u := range []struct {
		persona, domain, login string
		role                   policy.Role
	}{
		{"operator", "example.com", "user001@example.com", policy.RoleNone},
		{"reviewer", "acme.example", "alice@acme.example", policy.RoleNone},
		{"reviewer", "example.com", "user001@example.com", policy.RoleViewer},
		{"operator", "acme.example", "alice@acme.example", policy.RoleOperator},
	} {
		t.Run(u.persona+" on "+u.domain, func(t *testing.T) {
			c := e.signIn(u.persona)
			tok := csrf(t, c)
			e.Sandbox.ResetCalls()
			var allowed []string
			refused := 0
			for _, rt := range routes {
				path := strings.NewReplacer(":domain", u.domain, ":login", u.login).Replace(rt.path)
				if u.role >= domainRoutes[rt.method+" "+rt.path].MinRole() {
					if rt.method == http.MethodGet {
						allowed = append(allowed, path)
					}
					continue
				}
				refused++
				var form url.Values
				var hdr http.Header
				if unsafeMethod(rt.method) {
					// A form that would do the action if the policy let it through.
					form = url.Values{"_csrf": {tok}, "logins": {"intruder"}, "mode": {"generate"}, "confirm": {u.domain}}
					hdr = http.Header{"Sec-Fetch-Site": {"same-origin"}}
				}
				if resp, _ := raw(t, c, rt.method, path, form, hdr); resp.StatusCode != http.StatusForbidden {
					t.Errorf("%s %s = %d, want 403", rt.method, path, resp.StatusCode)
				}
			}
			for _, call := range e.Sandbox.Calls() {
				if call.Domain == u.domain {
					t.Errorf("a refused request reached Mailgun: %s %s", call.Method, call.Path)
				}
			}
			if refused == 0 || (u.role == policy.RoleNone) != (refused == len(routes)) {
				t.Errorf("%d of %d routes refused: want all of them without a role, some with one", refused, len(routes))
			}
			for _, path := range allowed {
				if resp, _ := raw(t, c, http.MethodGet, path, nil, nil); resp.StatusCode != http.StatusOK {
					t.Errorf("GET %s within the role = %d, want 200", path, resp.StatusCode)
				}
			}
		})
	}
}

// TestSecurity12AuditAndExportsScoped: the audit trail, its filters and exports, and the export
// of every domain's logins hold only the domains the user may view, whatever the query asks
// for: another domain's entries, or a login of it, named in the filters give none.
func TestSecurity12AuditAndExportsScoped(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	admin := e.signIn("admin")
	const probe = "scope-probe@example.com"
	notePasswords(e, submit(t, admin, "/d/example.com/new", "/d/example.com/new", url.Values{"logins": {"scope-probe"}, "mode": {"generate"}}))
	if es := e.audit(store.AuditFilter{Domain: "example.com"}); len(es) == 0 {
		t.Fatal("the create on example.com left no audit entry to look for")
	}
	filters := []string{"", "?domain=example.com", "?domain=EXAMPLE.COM", "?login=" + url.QueryEscape(probe),
		"?domain=example.com&login=" + url.QueryEscape(probe), "?action=credential.create", "?actor=ada"}
	op := e.signIn("operator") // operator of acme.example, nothing on example.com
	reviewer := e.signIn("reviewer")
	for _, f := range filters {
		for _, base := range []string{"/audit", "/audit/export.csv", "/audit/export.jsonl"} {
			path := base + f
			got := auditedDomains(t, op, path)
			for _, d := range got {
				if d != "acme.example" {
					t.Errorf("operator of acme.example: GET %s shows an entry of %q", path, d)
				}
			}
			if strings.Contains(f, "example.com") || strings.Contains(f, "actor") || f == "" {
				// The controls: the same query shows the entry to those who may see it.
				for _, who := range []struct {
					name string
					c    *testflow.Client
				}{{"admin", admin}, {"reviewer", reviewer}} {
					if !has(auditedDomains(t, who.c, path), "example.com") {
						t.Errorf("%s: GET %s shows no example.com entry; the refusal above proves nothing", who.name, path)
					}
				}
			}
		}
	}
	for _, path := range []string{"/export.csv", "/export.csv?q=example.com"} {
		resp, body := raw(t, op, http.MethodGet, path, nil, nil)
		rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
		if resp.StatusCode != http.StatusOK || err != nil || len(rows) == 0 {
			t.Fatalf("operator GET %s = %d (%v)", path, resp.StatusCode, err)
		}
		for _, r := range rows[1:] {
			if r[0] != "acme.example" {
				t.Fatalf("operator of acme.example: GET %s exports a login of %s", path, r[0])
			}
		}
	}
	_, body := raw(t, reviewer, http.MethodGet, "/export.csv?q=example.com", nil, nil)
	if !strings.Contains(body, "\nexample.com,user001@example.com,") {
		t.Error("the reviewer's export of example.com lacks its logins; the operator's above proves nothing")
	}
}

// auditedDomains returns the domain of every audit entry a page or export of the trail shows.
func auditedDomains(t *testing.T, c *testflow.Client, path string) []string {
	t.Helper()
	resp, body := raw(t, c, http.MethodGet, path, nil, nil)
	if resp.StatusCode == http.StatusBadRequest && strings.Contains(path, "/export.") &&
		(strings.Contains(path, "domain=") || strings.Contains(path, "login=")) && strings.Contains(body, "Nothing was exported") {
		// An export filtered by a domain the user may not view, or a login of one, is refused,
		// and holds nothing (the page itself says why, and shows none of its entries).
		return nil
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d, want 200", path, resp.StatusCode)
	}
	var out []string
	switch {
	case strings.Contains(path, ".csv"):
		rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
		if err != nil || len(rows) == 0 || rows[0][7] != "domain" {
			t.Fatalf("GET %s: not the audit CSV (%v)", path, err)
		}
		for _, r := range rows[1:] {
			out = append(out, r[7])
		}
	case strings.Contains(path, ".jsonl"):
		sc := bufio.NewScanner(strings.NewReader(body))
		for sc.Scan() {
			var rec struct{ Domain string }
			if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
				t.Fatalf("GET %s: %v", path, err)
			}
			out = append(out, rec.Domain)
		}
	default:
		doc, err := goquery.NewDocumentFromReader(strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		doc.Find(`[data-testid="audit-row"]`).Each(func(_ int, s *goquery.Selection) {
			out = append(out, strings.TrimSpace(s.Find(`[data-testid="audit-domain"]`).Text()))
		})
	}
	return out
}

// TestSecurity14EveryStateChangingRoute walks every route of the router that is not a GET or
// HEAD, the sign-out and the audit trail's check included, as a signed-in administrator: without
// the session's token, with a wrong one or another session's, with the token in the URL only,
// and with the right one sent cross-site, each is refused with 403 and changes nothing: no
// Mailgun call, no audit entry (the check writes one), and the session is still signed in.
// A public route's refusal of a method it does not answer (health, static files, the sign-in
// flow: handlers.NotAllowedRoute) is 405 to everyone before the CSRF check, and changes nothing
// either: TestPublicMethodNotAllowed.
func TestSecurity14EveryStateChangingRoute(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	admin := e.signIn("admin")
	tok := csrf(t, admin)
	other := csrf(t, e.signIn("reviewer"))
	entries := len(e.audit(store.AuditFilter{}))
	e.Sandbox.ResetCalls()
	var walked []string
	for _, rt := range e.App.Echo().Routes() {
		if !unsafeMethod(rt.Method) || rt.Name == handlers.NotAllowedRoute && publicRoutes[rt.Path] {
			continue
		}
		walked = append(walked, rt.Path)
		path := fillPath(rt.Path)
		for _, tc := range []struct {
			name, token, query, site string
		}{
			{"no token", "", "", ""},
			{"no token, same-origin", "", "", "same-origin"},
			{"a wrong token", "x" + tok, "", "same-origin"},
			{"another session's token", other, "", "same-origin"},
			{"the token in the URL only", "", "?_csrf=" + url.QueryEscape(tok), "same-origin"},
			{"the right token, cross-site", tok, "", "cross-site"},
		} {
			form := url.Values{"logins": {"csrf-victim"}, "mode": {"generate"}, "confirm": {"example.com"}}
			if tc.token != "" {
				form.Set("_csrf", tc.token)
			}
			hdr := http.Header{}
			if tc.site != "" {
				hdr.Set("Sec-Fetch-Site", tc.site)
			}
			if resp, _ := raw(t, admin, rt.Method, path+tc.query, form, hdr); resp.StatusCode != http.StatusForbidden {
				t.Errorf("%s %s with %s = %d, want 403", rt.Method, path, tc.name, resp.StatusCode)
			}
		}
	}
	for _, want := range []string{"/d/:domain/new", "/d/:domain/logins/:login/reset", "/d/:domain/logins/:login/delete",
		"/d/:domain/delete-all", "/audit/verify", auth.LogoutPath} {
		if !has(walked, want) {
			t.Errorf("the walk did not reach POST %s (walked %q)", want, walked)
		}
	}
	if calls := e.Sandbox.Calls(); len(calls) != 0 {
		t.Errorf("refused requests reached Mailgun: %+v", calls)
	}
	if n := len(e.audit(store.AuditFilter{})); n != entries {
		t.Errorf("refused requests wrote %d audit entries", n-entries)
	}
	if ck := e.sessionCookie(admin); ck == nil || signedOut(t, e, ck.Value) {
		t.Error("a refused sign-out signed the administrator out")
	}
}
