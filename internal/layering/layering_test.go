package layering

import (
	"go/build"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/smtpdesk/smtpdesk/"

// rule says what a package's non-test files may import: the module's packages it may use
// (relative to the module), and the other modules' import paths it may use (prefixes); any
// standard-library package is allowed. "*" allows everything.
type rule struct {
	own      []string
	external []string
}

// rules is docs/ARCHITECTURE.md's import table. A package not in it fails the test, so a new
// package gets its line here and in that table.
var rules = map[string]rule{
	"config":          {},
	"mailgun":         {},
	"mailgun/sandbox": {own: []string{"mailgun"}},
	"static":          {},
	"views":           {external: []string{"github.com/a-h/templ"}},
	"store":           {external: []string{"modernc.org/sqlite", "github.com/jackc/pgx/v5"}},
	"policy":          {external: []string{"gopkg.in/yaml.v3"}},
	"audit":           {own: []string{"store", "mailgun"}},
	"auth": {own: []string{"policy", "internal/ratelimit"}, external: []string{
		"github.com/coreos/go-oidc/v3", "golang.org/x/oauth2", "github.com/gorilla/", "github.com/labstack/echo/v4"}},
	"demoidp": {external: []string{"github.com/go-jose/go-jose/v4"}},
	"metrics": {external: []string{"github.com/prometheus/client_golang", "github.com/labstack/echo/v4"}},
	"handlers": {own: []string{"views", "static", "auth", "policy", "audit", "mailgun", "store", "internal/ratelimit"}, external: []string{
		"github.com/a-h/templ", "github.com/labstack/echo/v4", "github.com/klauspost/compress/", "golang.org/x/sync/", "golang.org/x/net/idna", "golang.org/x/text/unicode/norm"}},
	"app":     {own: []string{"*"}, external: []string{"*"}},
	"cmd/web": {own: []string{"app", "config", "store", "auth", "audit"}},

	"cmd/mailgun-sandbox": {own: []string{"mailgun/sandbox"}},
	"cmd/loadtest":        {own: []string{"internal/testflow", "internal/testport", "mailgun"}},
	"e2e":                 {own: []string{"*"}, external: []string{"*"}},
	"security":            {own: []string{"*"}, external: []string{"*"}},

	"internal/ratelimit":                 {external: []string{"golang.org/x/time/rate"}},
	"internal/testflow":                  {external: []string{"github.com/PuerkitoBio/goquery"}},
	"internal/testclock":                 {},
	"internal/testlog":                   {},
	"internal/testport":                  {},
	"internal/testpg":                    {external: []string{"github.com/jackc/pgx/v5"}},
	"internal/testsqlite":                {external: []string{"modernc.org/sqlite"}},
	"internal/testmain":                  {},
	"internal/secretscan":                {},
	"internal/secretscan/cmd/secretscan": {own: []string{"internal/secretscan"}},
	"internal/layering":                  {},
}

func TestImportsFollowTheLayers(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "node_modules" || name == "testdata") {
			return filepath.SkipDir
		}
		pkg, err := build.ImportDir(path, 0)
		if _, none := err.(*build.NoGoError); none {
			return nil
		}
		if err != nil {
			t.Errorf("%s: %v", path, err)
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		seen++
		r, ok := rules[rel]
		if !ok {
			t.Errorf("package %s is not in the import table: add its line here and in docs/ARCHITECTURE.md", rel)
			return nil
		}
		for _, imp := range pkg.Imports {
			if msg := r.refuses(imp); msg != "" {
				t.Errorf("%s imports %s: %s", rel, imp, msg)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen < len(rules)-2 {
		t.Fatalf("found %d packages under %s, the table has %d: is the walk reading the module?", seen, root, len(rules))
	}
}

// refuses says why r does not allow imp, or "" when it does.
func (r rule) refuses(imp string) string {
	if own, ok := strings.CutPrefix(imp, module); ok {
		switch {
		case own == "cmd" || strings.HasPrefix(own, "cmd/"):
			return "nothing imports cmd/"
		case slices.Contains(r.own, "*") || slices.Contains(r.own, own):
			return ""
		}
		return "not one of the module's packages this layer may use (docs/ARCHITECTURE.md)"
	}
	first, _, _ := strings.Cut(imp, "/")
	if !strings.Contains(first, ".") {
		return "" // the standard library
	}
	for _, p := range r.external {
		if p == "*" || imp == strings.TrimSuffix(p, "/") || strings.HasPrefix(imp, strings.TrimSuffix(p, "/")+"/") {
			return ""
		}
	}
	return "a dependency this layer may not use (docs/ARCHITECTURE.md)"
}
