package views

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/smtpdesk/smtpdesk/static"
)

// previewDir names where TestWritePreview writes every sample page as a static HTML file (with
// the built CSS and JS beside it), for screenshots:
//
//	go test ./views -run TestWritePreview -preview /tmp/views-preview
//
// Without the flag the pages go to a temporary directory, which still proves that every sample
// renders and that the preview's asset links resolve.
var previewDir = flag.String("preview", "", "write sample pages as HTML into this directory")

func TestWritePreview(t *testing.T) {
	dir := *previewDir
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range static.Names() {
		b, err := static.FS.ReadFile("dist/" + name)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The pages link to hashed /static/ URLs; the preview loads the files beside it.
	assets := regexp.MustCompile(`/static/([a-z]+)\.[0-9a-f]{8}\.([a-z]+)`)
	for _, tc := range pageCases() {
		var buf bytes.Buffer
		if err := tc.comp.Render(context.Background(), &buf); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		html := assets.ReplaceAll(buf.Bytes(), []byte("$1.$2"))
		name := regexp.MustCompile(`[^a-z0-9]+`).ReplaceAllString(tc.name, "-") + ".html"
		if err := os.WriteFile(filepath.Join(dir, name), html, 0o644); err != nil {
			t.Fatal(err)
		}
		if left := regexp.MustCompile(`/static/[^"' )]*`).Find(html); left != nil {
			t.Errorf("%s links %s, which is not a built asset (static.URL of a name it does not know?)", name, left)
		}
		css := 0
		for _, m := range regexp.MustCompile(`(?:href|src)="([a-z]+\.(?:css|js))"`).FindAllSubmatch(html, -1) {
			if _, err := os.Stat(filepath.Join(dir, string(m[1]))); err != nil {
				t.Errorf("%s links %s, which the preview lacks: %v", name, m[1], err)
			}
			if bytes.HasSuffix(m[1], []byte(".css")) {
				css++
			}
		}
		if css == 0 {
			t.Errorf("%s links no stylesheet", name)
		}
	}
}
