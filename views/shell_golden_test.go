package views

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/a-h/templ"
	"github.com/smtpdesk/smtpdesk/static"
)

// The shell of every page (layout, top bar, domain picker, user menu, breadcrumbs, flashes,
// heading, footer), the pager and the icons are held byte for byte to testdata/shell_*.txt,
// whose sections were rendered by the templ templates these components started as. With
// SMTPDESK_UPDATE_GOLDEN=1 the test rewrites the files from the current code.

// evil holds every character escaping must handle, and some it must leave alone.
const evil = `a&b <i>"q"</i> 'x' c/é`

// shellChild is the content column of a test page. It also renders whatever children it is
// given, so a leak of the shell's own children into it would show in the output.
var shellChild = templ.ComponentFunc(func(ctx context.Context, w io.Writer) error {
	if _, err := io.WriteString(w, `<p id="child">content</p>`); err != nil {
		return err
	}
	return templ.GetChildren(ctx).Render(ctx, w)
})

// shellAside is the aside of a test heading, with the same leak check as shellChild.
var shellAside = templ.ComponentFunc(func(ctx context.Context, w io.Writer) error {
	if _, err := io.WriteString(w, `<span id="aside">aside</span>`); err != nil {
		return err
	}
	return templ.GetChildren(ctx).Render(ctx, w)
})

// withChild renders c with shellChild as its children, as a page template does.
func withChild(c templ.Component) templ.Component {
	return templ.ComponentFunc(func(ctx context.Context, w io.Writer) error {
		return c.Render(templ.WithChildren(ctx, shellChild), w)
	})
}

// pagerWith is a pager whose URL builder returns fixed strings around the page numbers.
func pagerWith(page, perPage, total int, link func(p, n int) string) Pager {
	p := samplePager(page, perPage, total, "/", nil)
	p.URL = link
	return p
}

func shellPages() map[string]Page {
	pages := map[string]Page{}

	p := samplePage("Domains", "The Mailgun domains you can manage.")
	p.Nav = "domains"
	pages["user"] = p

	p = samplePage("example.com", "SMTP logins of this domain.")
	p.Nav = "domains"
	p.CurrentDomain = "example.com"
	p.Breadcrumbs = []NavItem{{Label: "Domains", URL: "/"}, {Label: "example.com", URL: "/domains/example.com"}}
	p.Flashes = []Flash{
		{Kind: "success", Message: "Deleted old-app@example.com."},
		{Kind: "error", Message: "Mailgun said <no> & \"never\"."},
		{Kind: "warning", Message: "Careful."},
		{Kind: "info", Message: "FYI."},
		{Kind: "strange", Message: "Unknown kind."},
	}
	pages["domain"] = p

	p = samplePage("Audit trail", "Who changed what.")
	p.Nav = "audit"
	p.User = &User{Name: "Grace Hopper", Email: "grace@corp.example", IsAdmin: true}
	p.Demo = false
	p.Nonce = ""
	p.RequestID = ""
	pages["admin-audit"] = p

	p = samplePage("Admin without domains", "")
	p.User = &User{Name: "", Email: "root@corp.example", IsAdmin: true}
	p.Domains = nil
	pages["admin-nodomains"] = p

	p = samplePage("No nav", "Subtitle only")
	p.User = &User{Name: "  ", Email: "x_y-z@corp.example"}
	p.Domains = nil
	p.Nav = ""
	pages["user-nonav"] = p

	p = samplePage("", "")
	p.User = nil
	p.Demo = false
	pages["signed-out"] = p

	p = samplePage(evil, evil)
	p.Nonce = evil
	p.CSRFToken = evil
	p.RequestID = evil
	p.User = &User{Name: "émile <zola>", Email: evil, IsAdmin: true}
	p.Domains = []NavItem{
		{Label: evil, URL: "/domains/" + url.PathEscape(evil), Note: "admin"},
		{Label: "bad.example", URL: "javascript:alert(1)", Note: ""},
		{Label: "abs.example", URL: "https://abs.example/x?a=1&b=2", Note: "operator"},
		{Label: "quote.example", URL: `/domains/q"u'o<te>`, Note: evil},
	}
	p.CurrentDomain = evil
	p.Nav = "domains"
	p.Breadcrumbs = []NavItem{{Label: "Domains", URL: "/"}, {Label: evil, URL: ""}, {Label: "js", URL: "javascript:alert(1)"}, {Label: evil, URL: "/last"}}
	p.Flashes = []Flash{{Kind: "error", Message: evil}}
	pages["escaping"] = p

	p = samplePage("One crumb", "")
	p.Breadcrumbs = []NavItem{{Label: "Only", URL: "/only"}}
	p.CurrentDomain = "not-in-list.example"
	pages["one-crumb"] = p

	p = samplePage("Same name", "")
	p.User = &User{Name: "ada@corp.example", Email: "ada@corp.example"}
	p.Domains = []NavItem{{Label: "example.com", URL: "/domains/example.com"}}
	p.CurrentDomain = "example.com"
	pages["same-name"] = p
	return pages
}

func shellCases() map[string]templ.Component {
	cases := map[string]templ.Component{}
	for name, p := range shellPages() {
		cases["layout-"+name] = withChild(Layout(p))
		cases["bare-"+name] = withChild(LayoutBare(p))
		cases["aside-"+name] = withChild(shell(p, shellOpts{Heading: true, Aside: shellAside}))
		cases["error-"+name] = withChild(shell(p, shellOpts{ErrorPage: true}))
		cases["topbar-"+name] = topBar(p)
		cases["breadcrumbs-"+name] = breadcrumbs(p.Breadcrumbs)
		cases["flashes-"+name] = flashes(p.Flashes)
	}
	cases["layout-nochildren"] = Layout(samplePage("No children", ""))

	extra := url.Values{"q": {"a&b c/é"}, "sort": {"x<y>\"z'"}}
	pagers := map[string]Pager{
		"first":          samplePager(1, 25, 500, "/d/example.com", nil),
		"second":         samplePager(2, 25, 500, "/d/example.com", nil),
		"fourth":         samplePager(4, 25, 500, "/d/example.com", nil),
		"fifth":          samplePager(5, 25, 500, "/d/example.com", nil),
		"middle":         samplePager(10, 25, 500, "/d/example.com", nil),
		"near-end":       samplePager(17, 25, 500, "/d/example.com", nil),
		"before-last":    samplePager(19, 25, 500, "/d/example.com", nil),
		"last":           samplePager(20, 25, 499, "/d/example.com", nil),
		"single":         samplePager(1, 100, 40, "/d/example.com", nil),
		"empty":          samplePager(1, 100, 0, "/d/example.com", nil),
		"seven":          samplePager(3, 100, 700, "/d/example.com", nil),
		"eight":          samplePager(8, 100, 800, "/d/example.com", nil),
		"two":            samplePager(2, 50, 51, "/d/example.com", nil),
		"filter":         samplePager(2, 50, 123456, "/d/example.com", extra),
		"filter-first":   samplePager(1, 500, 1234567, "/d/example.com", url.Values{"q": {"a&b c/é"}}),
		"filter-repeat":  samplePager(3, 25, 100, "/d/example.com", url.Values{"q": {"b", "a"}, "a": {"1"}}),
		"odd-size":       samplePager(2, 75, 1000, "/d/example.com", nil),
		"odd-path":       samplePager(2, 25, 100, `/d/ex"am'p<l>e&co m`, url.Values{"q": {evil}}),
		"unicode-path":   samplePager(2, 25, 100, "/d/bücher.example", nil),
		"escaped-path":   samplePager(2, 25, 100, "/d/a%2Fb%20c", nil),
		"no-sizes":       func() Pager { p := samplePager(2, 50, 300, "/a", nil); p.Sizes = nil; return p }(),
		"no-sizes-odd":   func() Pager { p := samplePager(2, 30, 300, "/a", nil); p.Sizes = nil; return p }(),
		"zero":           {},
		"nil-url":        {Page: 2, PerPage: 50, Total: 300, TotalPages: 6, From: 51, To: 100, Sizes: []int{25, 50}},
		"nil-url-single": {Page: 1, PerPage: 25, Total: 3, TotalPages: 1, From: 1, To: 3},
		"javascript": pagerWith(2, 25, 100, func(p, n int) string {
			return "javascript:alert(1)?page=" + Number(p)
		}),
		"bad-query": pagerWith(2, 25, 100, func(p, n int) string {
			return "/x?q=%zz&a=1;b=2&c=%41&per_page=" + Number(n) + "&page=" + Number(p) + "#frag"
		}),
		"bad-url": pagerWith(2, 25, 100, func(p, n int) string {
			return "/x\x7f?page=" + Number(p)
		}),
		"absolute": pagerWith(3, 25, 1000, func(p, n int) string {
			return "https://h.example:8080/p?page=" + Number(p) + "&per_page=" + Number(n) + "&z=&y"
		}),
		"empty-url": pagerWith(2, 25, 100, func(p, n int) string { return "" }),
		"page-only": pagerWith(9, 25, 1000, func(p, n int) string {
			if p == 1 {
				return "/list"
			}
			return "/list?page=" + Number(p)
		}),
	}
	for name, pg := range pagers {
		cases["pagination-"+name] = Pagination(pg)
	}

	cases["csrf"] = CSRFField(evil)
	cases["logo"] = iconLogo()
	cases["sprite"] = iconSprite("clock", "copy", "nope")
	return cases
}

// iconNames lists the icons icons.templ draws, read from its switch.
func iconNames(t *testing.T) []string {
	t.Helper()
	src, err := os.ReadFile("icons.templ")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range regexp.MustCompile(`case "([^"]+)":`).FindAllStringSubmatch(string(src), -1) {
		names = append(names, m[1])
	}
	if len(names) < 20 {
		t.Fatalf("found only %d icon names in icons.templ", len(names))
	}
	return append(names, "no-such-icon", "")
}

// unhash replaces the content-hashed asset URLs, which change whenever an asset is rebuilt,
// by placeholders.
func unhash(s string) string {
	for _, n := range []string{"favicon.svg", "app.css", "app.js"} {
		s = strings.ReplaceAll(s, static.URL(n), "{{static "+n+"}}")
	}
	return s
}

func renderString(t *testing.T, c templ.Component) string {
	t.Helper()
	var buf bytes.Buffer
	if err := c.Render(context.Background(), &buf); err != nil {
		t.Fatalf("render: %v", err)
	}
	return buf.String()
}

// iconCases are the icons of icons.templ (and an unknown and an empty name) in a few classes.
// Each renders icon twice: the second render, from the cache, must not differ from the first.
func iconCases(t *testing.T) map[string]templ.Component {
	t.Helper()
	cases := map[string]templ.Component{}
	for _, name := range iconNames(t) {
		for _, class := range []string{"h-4 w-4", "h-4 w-4 shrink-0", "", evil, " spaced  out "} {
			cases["icon "+strconv.Quote(name)+" "+strconv.Quote(class)] = templ.ComponentFunc(func(ctx context.Context, w io.Writer) error {
				var first, second bytes.Buffer
				if err := icon(name, class).Render(ctx, &first); err != nil {
					return err
				}
				if err := icon(name, class).Render(ctx, &second); err != nil {
					return err
				}
				if first.String() != second.String() {
					return fmt.Errorf("second render %q differs from the first %q", second.String(), first.String())
				}
				_, err := w.Write(first.Bytes())
				return err
			})
		}
	}
	return cases
}

// goldenGroup names the file of testdata/shell_<group>.txt that holds a case.
func goldenGroup(name string) string {
	prefix, _, _ := strings.Cut(name, "-")
	switch {
	case prefix == "layout" || prefix == "bare" || prefix == "aside" || prefix == "error":
		return "layouts"
	case prefix == "pagination":
		return "pagination"
	case strings.HasPrefix(name, "icon ") || name == "logo" || name == "sprite":
		return "icons"
	default: // topbar, breadcrumbs, flashes, csrf
		return "parts"
	}
}

// A golden file holds one section a case: a line "-- name --", then the case's exact output
// and one newline. Lines before the first section are a comment.
const goldenComment = `# Golden output of TestShellGolden (shell_golden_test.go): one section a case, a line
# "-- name --" then the exact output followed by one newline (which is not part of it).
# SMTPDESK_UPDATE_GOLDEN=1 go test ./views rewrites this file from the current code.
`

// goldenHeader returns the case name of a section's first line.
func goldenHeader(line string) (name string, ok bool) {
	if len(line) < len("-- x --") || !strings.HasPrefix(line, "-- ") || !strings.HasSuffix(line, " --") {
		return "", false
	}
	return line[len("-- ") : len(line)-len(" --")], true
}

// formatGolden writes the outputs of a group of cases as a golden file, in name order.
func formatGolden(outputs map[string]string) (string, error) {
	var b strings.Builder
	b.WriteString(goldenComment)
	for _, name := range slices.Sorted(maps.Keys(outputs)) {
		out := outputs[name]
		if strings.Contains(name, "\n") {
			return "", fmt.Errorf("case name %q holds a newline", name)
		}
		for line := range strings.SplitSeq(out, "\n") {
			if _, ok := goldenHeader(line); ok {
				return "", fmt.Errorf("output of case %q holds the section header line %q", name, line)
			}
		}
		b.WriteString("-- " + name + " --\n" + out + "\n")
	}
	return b.String(), nil
}

// parseGolden reads a golden file written by formatGolden.
func parseGolden(data string) (map[string]string, error) {
	sections := map[string]string{}
	name, start := "", -1
	end := func(at int) error {
		if start < 0 {
			return nil
		}
		out, ok := strings.CutSuffix(data[start:at], "\n")
		if !ok {
			return fmt.Errorf("section %q does not end in a newline", name)
		}
		if _, dup := sections[name]; dup {
			return fmt.Errorf("section %q appears twice", name)
		}
		sections[name] = out
		return nil
	}
	for i := 0; i < len(data); {
		lineEnd, next := len(data), len(data)
		if j := strings.IndexByte(data[i:], '\n'); j >= 0 {
			lineEnd, next = i+j, i+j+1
		}
		if n, ok := goldenHeader(data[i:lineEnd]); ok {
			if err := end(i); err != nil {
				return nil, err
			}
			name, start = n, next
		}
		i = next
	}
	if err := end(len(data)); err != nil {
		return nil, err
	}
	return sections, nil
}

func excerpt(s string, i int) string {
	lo, hi := max(i-80, 0), min(i+120, len(s))
	return s[lo:hi]
}

// TestShellGolden renders every case and compares it with its section of the group's golden
// file; with SMTPDESK_UPDATE_GOLDEN=1 it first rewrites the files.
func TestShellGolden(t *testing.T) {
	cases := shellCases()
	maps.Copy(cases, iconCases(t))
	groups := map[string]map[string]string{}
	for name, c := range cases {
		g := goldenGroup(name)
		if groups[g] == nil {
			groups[g] = map[string]string{}
		}
		groups[g][name] = unhash(renderString(t, c))
	}
	for _, g := range slices.Sorted(maps.Keys(groups)) {
		outputs := groups[g]
		path := filepath.Join("testdata", "shell_"+g+".txt")
		if os.Getenv("SMTPDESK_UPDATE_GOLDEN") == "1" {
			data, err := formatGolden(outputs)
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		wants, err := parseGolden(string(data))
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		t.Run(g, func(t *testing.T) {
			for _, name := range slices.Sorted(maps.Keys(outputs)) {
				got := outputs[name]
				want, ok := wants[name]
				if !ok {
					t.Errorf("case %q: %s has no section for it (SMTPDESK_UPDATE_GOLDEN=1 go test ./views adds it)", name, path)
					continue
				}
				if got != want {
					i := 0
					for i < len(got) && i < len(want) && got[i] == want[i] {
						i++
					}
					t.Errorf("case %q: output differs from %s at byte %d:\ngot:  …%s\nwant: …%s", name, path, i, excerpt(got, i), excerpt(want, i))
				}
			}
			for name := range wants {
				if _, ok := outputs[name]; !ok {
					t.Errorf("%s: section %q is no test case (any more)", path, name)
				}
			}
		})
	}
}

// TestGoldenFormat round-trips outputs that a naive format would lose: empty ones, trailing
// newlines, lines that look almost like headers.
func TestGoldenFormat(t *testing.T) {
	outputs := map[string]string{
		"empty": "", "newline": "\n", "two-newlines": "a\n\n", "no-newline": "<p>x</p>",
		"almost-header": "-- x -\n--x --\n -- y --", "spaces in name": "é\r\n",
	}
	data, err := formatGolden(outputs)
	if err != nil {
		t.Fatal(err)
	}
	got, err := parseGolden(data)
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(got, outputs) {
		t.Errorf("round trip: got %q, want %q", got, outputs)
	}
	if _, err := formatGolden(map[string]string{"x": "a\n-- y --\nb"}); err == nil {
		t.Error("formatGolden took an output holding a section header")
	}
	if _, err := parseGolden("-- a --\nx\n-- a --\ny\n"); err == nil {
		t.Error("parseGolden took a section twice")
	}
}

// TestShellGoldenPages checks that the goldens hold what a real page shows: every golden
// layout renders the page's own parts.
func TestShellGoldenPages(t *testing.T) {
	got := renderString(t, withChild(Layout(shellPages()["domain"])))
	for _, want := range []string{`<p id="child">content</p>`, `data-testid="domain-picker"`, `data-testid="flash-warning"`, `aria-label="Breadcrumb"`, static.URL("app.css")} {
		if !strings.Contains(got, want) {
			t.Errorf("layout lacks %q", want)
		}
	}
	if strings.Count(got, `<p id="child">`) != 1 {
		t.Error("children rendered more than once")
	}
}

// TestShellCanceled stops on a canceled context, like a templ component.
func TestShellCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for name, c := range map[string]templ.Component{
		"layout":     withChild(Layout(samplePage("x", "y"))),
		"shell":      shell(samplePage("x", "y"), shellOpts{}),
		"pagination": Pagination(samplePager(2, 25, 100, "/x", nil)),
		"icon":       icon("x", "h-4 w-4"),
	} {
		if err := c.Render(ctx, io.Discard); err == nil {
			t.Errorf("%s: got nil error, want the context's error", name)
		}
	}
}

// errWriter fails every write.
type errWriter struct{}

func (errWriter) Write([]byte) (int, error) { return 0, io.ErrClosedPipe }

// TestShellWriteError passes a failing writer's error on.
func TestShellWriteError(t *testing.T) {
	for name, c := range map[string]templ.Component{
		"layout":     withChild(Layout(samplePage("x", "y"))),
		"pagination": Pagination(samplePager(2, 25, 100, "/x", nil)),
		"icon":       icon("x", "h-4 w-4"),
	} {
		if err := c.Render(context.Background(), errWriter{}); err == nil {
			t.Errorf("%s: got nil error, want the writer's error", name)
		}
	}
}

// BenchmarkShell renders only the shell of the domain page: the layout around an empty content
// column, and the pager of a 25-row page.
func BenchmarkShell(b *testing.B) {
	p := samplePage("example.com", "SMTP logins of this domain: list, create, reset and delete them.")
	p.Nav = "domains"
	p.CurrentDomain = "example.com"
	pg := samplePager(3, 25, 250, "/d/example.com", nil)
	ctx := templ.WithNonce(context.Background(), "n0nce")
	b.Run("layout", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := shell(p, shellOpts{Heading: true, Aside: shellAside}).Render(templ.WithChildren(ctx, shellChild), io.Discard); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("pagination", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := Pagination(pg).Render(ctx, io.Discard); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("icon", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := icon("chevron-down", "h-4 w-4 shrink-0").Render(ctx, io.Discard); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestPaginationBuildsEachURLOnce checks that the pager's URL builder is called once per
// distinct page, and that the links are still right.
func TestPaginationBuildsEachURLOnce(t *testing.T) {
	calls := map[int]int{}
	pg := pagerWith(10, 25, 500, func(p, n int) string {
		calls[p]++
		return "/x?page=" + strconv.Itoa(p) + "&per_page=" + strconv.Itoa(n)
	})
	html := renderString(t, Pagination(pg))
	for p, n := range calls {
		if n != 1 {
			t.Errorf("URL(%d) called %d times", p, n)
		}
	}
	if len(calls) != 5 { // 1, 9, 10, 11 and 20
		t.Errorf("URL called for pages %v, want 1, 9, 10, 11, 20", calls)
	}
	for _, want := range []string{`href="/x?page=9&amp;per_page=25" rel="prev"`, `href="/x?page=20&amp;per_page=25" aria-label="Page 20"`, `action="/x"`} {
		if !strings.Contains(html, want) {
			t.Errorf("pagination lacks %q", want)
		}
	}
}

// TestIconConcurrent renders icons from several goroutines while the cache fills, each equal to
// the template's own render.
func TestIconConcurrent(t *testing.T) {
	names := iconNames(t)
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i, name := range names {
				class := "concurrent-" + strconv.Itoa((i+g)%5)
				var got, want bytes.Buffer
				if err := icon(name, class).Render(context.Background(), &got); err != nil {
					errs <- err.Error()
					return
				}
				if err := iconSVG(name, class).Render(context.Background(), &want); err != nil {
					errs <- err.Error()
					return
				}
				if got.String() != want.String() {
					errs <- "icon(" + name + ", " + class + ") differs from iconSVG"
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// topBar, breadcrumbs and flashes render one part of the shell alone, for the golden cases
// above; pages get them through shell.

func topBar(p Page) templ.Component {
	return appendComponent(func(b []byte) []byte { return appendTopBar(b, &p) })
}

func breadcrumbs(items []NavItem) templ.Component {
	return appendComponent(func(b []byte) []byte { return appendBreadcrumbs(b, items) })
}

func flashes(fs []Flash) templ.Component {
	return appendComponent(func(b []byte) []byte { return appendFlashes(b, fs) })
}
