package static

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
)

func TestURLAndLookup(t *testing.T) {
	for _, name := range []string{"app.css", "app.js", "favicon.svg"} {
		t.Run(name, func(t *testing.T) {
			b, err := FS.ReadFile("dist/" + name)
			if err != nil {
				t.Fatalf("embedded file: %v", err)
			}
			sum := sha256.Sum256(b)
			ext := name[strings.LastIndex(name, "."):]
			want := Prefix + strings.TrimSuffix(name, ext) + "." + hex.EncodeToString(sum[:])[:8] + ext
			if got := URL(name); got != want {
				t.Errorf("URL(%q): got %q, want %q", name, got, want)
			}
			real, ok := Lookup(strings.TrimPrefix(want, Prefix))
			if !ok || real != name {
				t.Errorf("Lookup: got %q, %v; want %q, true", real, ok, name)
			}
		})
	}
}

func TestUnknown(t *testing.T) {
	if got, want := URL("nope.css"), "/static/nope.css"; got != want {
		t.Errorf("URL: got %q, want %q", got, want)
	}
	for _, name := range []string{"app.css", "app.00000000.css", "../static.go", ""} {
		if _, ok := Lookup(name); ok {
			t.Errorf("Lookup(%q) = ok, want not found", name)
		}
	}
}

func TestBuildManifest(t *testing.T) {
	fsys := fstest.MapFS{
		"dist/a.css":   {Data: []byte("a")},
		"dist/js/b.js": {Data: []byte("b")},
		"dist/c.d.svg": {Data: []byte("c")},
		"other/x.txt":  {Data: []byte("x")},
		"dist/sub":     {Mode: fs.ModeDir | 0o755},
	}
	m := buildManifest(fsys)
	pattern := map[string]string{
		"a.css":   `^a\.[0-9a-f]{8}\.css$`,
		"js/b.js": `^js/b\.[0-9a-f]{8}\.js$`,
		"c.d.svg": `^c\.d\.[0-9a-f]{8}\.svg$`,
	}
	if got, want := len(m.hashed), len(pattern); got != want {
		t.Fatalf("manifest size: got %d, want %d (%v)", got, want, m.hashed)
	}
	for name, re := range pattern {
		h := m.hashed[name]
		if !regexp.MustCompile(re).MatchString(h) {
			t.Errorf("%s: got %q, want match for %s", name, h, re)
		}
		if m.real[h] != name {
			t.Errorf("reverse of %q: got %q, want %q", h, m.real[h], name)
		}
	}
}

func TestScriptIsCSPClean(t *testing.T) {
	b, err := FS.ReadFile("dist/app.js")
	if err != nil {
		t.Fatal(err)
	}
	src := string(b)
	for _, bad := range []string{"eval(", "new Function", "innerHTML", "setTimeout('", "setTimeout(\"", ".style."} {
		if strings.Contains(src, bad) {
			t.Errorf("app.js contains %q", bad)
		}
	}
}

func TestNames(t *testing.T) {
	names := Names()
	if len(names) < 3 {
		t.Fatalf("names: got %v", names)
	}
	for i := 1; i < len(names); i++ {
		if names[i-1] > names[i] {
			t.Errorf("names not sorted: %v", names)
		}
	}
}

// TestScriptClassesAreBuilt: Tailwind builds app.css from the views alone (tailwind.config.js),
// not from app.js, so a class the script gives an element it makes must be one the views use
// too; else the element comes out unstyled (a footer button without its phone-sized target,
// say) and nothing else would tell.
func TestScriptClassesAreBuilt(t *testing.T) {
	js, err := FS.ReadFile("dist/app.js")
	if err != nil {
		t.Fatal(err)
	}
	css, err := FS.ReadFile("dist/app.css")
	if err != nil {
		t.Fatal(err)
	}
	assigned := regexp.MustCompile(`\.className = '([^']*)'`).FindAllSubmatch(js, -1)
	if len(assigned) == 0 {
		t.Fatal("app.js assigns no className: the pattern no longer finds them")
	}
	escape := strings.NewReplacer(":", `\:`, ".", `\.`, "/", `\/`, "[", `\[`, "]", `\]`)
	for _, m := range assigned {
		for _, class := range strings.Fields(string(m[1])) {
			sel := regexp.MustCompile(regexp.QuoteMeta("."+escape.Replace(class)) + `[ {,:.\[>)]`)
			if !sel.Match(css) {
				t.Errorf("app.js gives elements the class %q, which app.css does not have", class)
			}
		}
	}
}
