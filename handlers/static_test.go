package handlers

import (
	"compress/gzip"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/smtpdesk/smtpdesk/static"
)

func TestStaticFiles(t *testing.T) {
	e, _ := newBackboneEcho(t, MiddlewareConfig{})
	names := static.Names()
	if len(names) == 0 {
		t.Fatal("no static files")
	}
	wantType := map[string]string{".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".svg": "image/svg+xml"}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			url := static.URL(name)
			if url == static.Prefix+name {
				t.Fatalf("URL(%q) = %q is not hashed", name, url)
			}
			rec := serve(e, httptest.NewRequest(http.MethodGet, url, nil))
			if rec.Code != http.StatusOK {
				t.Fatalf("GET %s: %d", url, rec.Code)
			}
			want, err := fs.ReadFile(static.FS, "dist/"+name)
			if err != nil {
				t.Fatal(err)
			}
			if rec.Body.String() != string(want) {
				t.Error("body differs from the embedded file")
			}
			if got, want := rec.Header().Get("Cache-Control"), "public, max-age=31536000, immutable"; got != want {
				t.Errorf("Cache-Control = %q, want %q", got, want)
			}
			for ext, ct := range wantType {
				if strings.HasSuffix(name, ext) && rec.Header().Get("Content-Type") != ct {
					t.Errorf("Content-Type = %q, want %q", rec.Header().Get("Content-Type"), ct)
				}
			}
			// A HEAD answers as the GET does, its length included, and sends no body.
			hd := serve(e, httptest.NewRequest(http.MethodHead, url, nil))
			if hd.Code != http.StatusOK || hd.Body.Len() != 0 {
				t.Errorf("HEAD %s: %d with %d body bytes, want 200 and none", url, hd.Code, hd.Body.Len())
			}
			for _, k := range []string{"Content-Type", "Cache-Control", "ETag"} {
				if hd.Header().Get(k) != rec.Header().Get(k) {
					t.Errorf("HEAD's %s %q, GET's %q", k, hd.Header().Get(k), rec.Header().Get(k))
				}
			}
			if got, size := hd.Header().Get("Content-Length"), strconv.Itoa(len(want)); got != size {
				t.Errorf("HEAD's Content-Length %q, want the file's %s bytes", got, size)
			}
			etag := rec.Header().Get("ETag")
			if etag == "" {
				t.Fatal("no ETag")
			}
			req := httptest.NewRequest(http.MethodGet, url, nil)
			req.Header.Set("If-None-Match", etag)
			if got := serve(e, req).Code; got != http.StatusNotModified {
				t.Errorf("If-None-Match: %d, want 304", got)
			}
		})
	}
	for _, bad := range []string{"/static/app.css", "/static/app.00000000.css", "/static/../go.mod", "/static/"} {
		if got := serve(e, httptest.NewRequest(http.MethodGet, bad, nil)).Code; got != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", bad, got)
		}
	}
}

func TestStaticGzip(t *testing.T) {
	e, _ := newBackboneEcho(t, MiddlewareConfig{})
	url := static.URL("app.css")
	req := httptest.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Accept-Encoding", "gzip, deflate")
	rec := serve(e, req)
	if got := rec.Header().Get("Content-Encoding"); got != "gzip" {
		t.Fatalf("Content-Encoding = %q, want gzip", got)
	}
	if got := rec.Header().Get("Content-Type"); got != "text/css; charset=utf-8" {
		t.Errorf("Content-Type = %q", got)
	}
	zr, err := gzip.NewReader(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := fs.ReadFile(static.FS, "dist/app.css")
	if string(got) != string(want) {
		t.Error("decompressed CSS differs")
	}
	// Without Accept-Encoding, plain.
	plain := serve(e, httptest.NewRequest(http.MethodGet, url, nil))
	if enc := plain.Header().Get("Content-Encoding"); enc != "" {
		t.Errorf("Content-Encoding without Accept-Encoding = %q", enc)
	}
	// The compressed bytes are another representation: one strong ETag must not name both, or
	// a cache could answer a plain request with them. The tag is weak for both, and
	// revalidating with it still answers 304.
	zipped, unzipped := rec.Header().Get("ETag"), plain.Header().Get("ETag")
	if !strings.HasPrefix(zipped, `W/"`) || zipped != unzipped {
		t.Errorf("ETag compressed %q, plain %q; want one weak tag for both", zipped, unzipped)
	}
	req = httptest.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Accept-Encoding", "gzip")
	req.Header.Set("If-None-Match", zipped)
	if got := serve(e, req); got.Code != http.StatusNotModified || got.Header().Get("ETag") != zipped {
		t.Errorf("If-None-Match %s: %d with ETag %q, want 304 with the same", zipped, got.Code, got.Header().Get("ETag"))
	}
	// HTML pages are compressed too.
	req = httptest.NewRequest(http.MethodGet, "/no-such-page", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	if enc := serve(e, req).Header().Get("Content-Encoding"); enc != "gzip" {
		t.Errorf("HTML page Content-Encoding = %q, want gzip", enc)
	}
}

// A page links its stylesheet, script and icon by URLs the server serves: views gets them from
// Page.Assets, and without them it would fall back to plain names, which answer 404.
func TestPagesLinkServedAssets(t *testing.T) {
	e, _ := newBackboneEcho(t, MiddlewareConfig{})
	page := serve(e, httptest.NewRequest(http.MethodGet, "/no-such-page", nil)).Body.String()
	links := regexp.MustCompile(`(?:href|src)="(/static/[^"]+)"`).FindAllStringSubmatch(page, -1)
	if len(links) != 3 {
		t.Fatalf("the page links %d assets, want 3 (icon, stylesheet, script): %q", len(links), links)
	}
	for _, l := range links {
		if got := serve(e, httptest.NewRequest(http.MethodGet, l[1], nil)).Code; got != http.StatusOK {
			t.Errorf("GET %s (linked by the page): %d, want 200", l[1], got)
		}
	}
}

// TestStaticNotModifiedKeepsTheETag: the 304 revalidating a static file carries the ETag its 200
// did for the same request (RFC 9110 15.4.5): weak for a file the gzip middleware compresses,
// and for one too small to compress (the favicon) the same as its 200's. The 304 made every
// compressible file's tag weak, the favicon's too, whose 200 went out plain with it strong.
func TestStaticNotModifiedKeepsTheETag(t *testing.T) {
	e, _ := newBackboneEcho(t, MiddlewareConfig{})
	for _, name := range []string{"app.css", "favicon.svg"} {
		get := func(ifNoneMatch string) *httptest.ResponseRecorder {
			req := httptest.NewRequest(http.MethodGet, static.URL(name), nil)
			req.Header.Set("Accept-Encoding", "gzip")
			if ifNoneMatch != "" {
				req.Header.Set("If-None-Match", ifNoneMatch)
			}
			return serve(e, req)
		}
		ok := get("")
		etag := ok.Header().Get("ETag")
		if ok.Code != http.StatusOK || etag == "" {
			t.Fatalf("%s: %d with ETag %q", name, ok.Code, etag)
		}
		if nm := get(etag); nm.Code != http.StatusNotModified || nm.Header().Get("ETag") != etag {
			t.Errorf("%s (Content-Encoding %q): If-None-Match %s answered %d with ETag %q, want 304 with the 200's",
				name, ok.Header().Get("Content-Encoding"), etag, nm.Code, nm.Header().Get("ETag"))
		}
	}
}
