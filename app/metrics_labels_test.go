package app

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/smtpdesk/smtpdesk/metrics"
)

// TestMetricsLabelsStayBounded: whatever addresses, methods and names requests carry, the
// series' labels come from fixed sets: a route label is one of the routes registered (a
// template such as /d/:domain, never a path), a method one of HTTP's or "other", a status three
// digits (or "unreadable", a Mailgun 2xx whose body could not be read), an endpoint one of the
// Mailgun client's templates, a job one of the background jobs. A signed-in admin and a signed-out client walk every domain and
// every login's pages, unknown, long and odd paths, odd and standard methods and HEAD; then none
// of the names they carried is in any label, and a second walk over other names adds no series.
func TestMetricsLabelsStayBounded(t *testing.T) {
	const token = "metrics-t0ken-for-tests"
	d, admin := signedInDemo(t, DemoOptions{MetricsToken: token}, "admin")
	routes := map[string]bool{"unmatched": true}
	for _, r := range d.App.Echo().Routes() {
		routes[r.Path] = true
	}
	methods := []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodDelete,
		http.MethodPatch, http.MethodOptions, http.MethodTrace, "PROPFIND", "FOO"}

	var names []string // every domain, login and made-up segment the requests carry
	walk := func(round int) {
		t.Helper()
		var paths []string
		for _, dom := range d.Sandbox.Domains() {
			names = append(names, dom)
			paths = append(paths, "/d/"+dom, "/d/"+dom+"/new", "/d/"+dom+"/export.csv", "/d/"+dom+"/delete-all")
			for i, l := range d.Sandbox.Logins(dom) {
				if i == 5 {
					break
				}
				names = append(names, l)
				paths = append(paths, "/d/"+dom+"/logins/"+l+"/reset", "/d/"+dom+"/logins/"+l+"/delete")
			}
		}
		for i := range 20 {
			seg := fmt.Sprintf("zq%dx%d", round, i)
			names = append(names, seg)
			paths = append(paths, "/"+seg, "/d/"+seg+".example", "/d/"+seg+".example/logins/"+seg+"/reset",
				"/static/"+seg+".css", "/auth/"+seg, "/audit/"+seg, "/healthz/"+seg, "/d/acme.example/"+seg)
		}
		long := fmt.Sprintf("zq%dlong", round) + strings.Repeat("a", 4000)
		names = append(names, long[:20])
		paths = append(paths, "/"+long, "/d/acme.example/logins/"+fmt.Sprintf("zq%dcrlf", round)+"%0d%0a/reset")
		names = append(names, fmt.Sprintf("zq%dcrlf", round))
		for _, p := range paths {
			for _, m := range methods {
				for _, c := range []*http.Client{admin.HTTP, {}} { // signed in, signed out
					req, err := http.NewRequestWithContext(context.Background(), m, d.URL+p, nil)
					if err != nil {
						t.Fatal(err)
					}
					resp, err := c.Do(req)
					if err != nil {
						t.Fatalf("%s %s: %v", m, p, err)
					}
					resp.Body.Close()
				}
			}
		}
	}
	label := regexp.MustCompile(`(\w+)="((?:[^"\\]|\\.)*)"`)
	series := func() []string {
		t.Helper()
		var out []string
		for line := range strings.SplitSeq(scrapeMetrics(t, d, token), "\n") {
			if !strings.HasPrefix(line, "smtpdesk_") {
				continue
			}
			name, _, _ := strings.Cut(line, " ")
			out = append(out, name)
			for _, m := range label.FindAllStringSubmatch(name, -1) {
				k, v := m[1], m[2]
				switch k {
				case "route":
					if !routes[v] {
						t.Errorf("route label %q is not a registered route: %s", v, name)
					}
				case "method":
					if v != "other" && !slices.Contains(methods[:8], v) {
						t.Errorf("method label %q: %s", v, name)
					}
				case "status":
					if v != metrics.StatusUnreadable && !regexp.MustCompile(`^\d{1,3}$`).MatchString(v) {
						t.Errorf("status label %q: %s", v, name)
					}
				case "task":
					if !slices.Contains(metrics.Tasks, metrics.Task(v)) {
						t.Errorf("task label %q is not one of the background jobs: %s", v, name)
					}
				case "job", "instance":
					// Prometheus sets these on every series it scrapes, and renames a series'
					// own exported_job or exported_instance: a query on it would match nothing.
					t.Errorf("label %q clashes with Prometheus's target label: %s", k, name)
				case "endpoint":
					if strings.Contains(v, ".") {
						t.Errorf("endpoint label %q holds a name: %s", v, name)
					}
				}
				for _, n := range names {
					if strings.Contains(v, n) {
						t.Errorf("label %s=%q holds %q, a name a request carried", k, v, n)
					}
				}
			}
		}
		return out
	}
	walk(1)
	first := series()
	walk(2)
	second := series()
	for _, s := range second {
		if !slices.Contains(first, s) && !strings.Contains(s, `route="/metrics"`) {
			t.Errorf("a walk over other names added the series %s", s)
		}
	}
}
