package handlers

import (
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
)

// gzipEcho is an echo with only the gzip middleware under test and a few routes.
func gzipEcho(t *testing.T, g *gzipper) *echo.Echo {
	t.Helper()
	e := echo.New()
	e.Use(g.middleware)
	big := strings.Repeat("<p>SMTP Desk</p>\n", 200)
	e.GET("/big", func(c echo.Context) error { return c.HTML(http.StatusOK, big) })
	e.HEAD("/big", func(c echo.Context) error { return c.NoContent(http.StatusOK) })
	e.GET("/small", func(c echo.Context) error { return c.HTML(http.StatusOK, "<p>hi</p>") })
	e.GET("/chunks", func(c echo.Context) error {
		c.Response().Header().Set(echo.HeaderContentType, echo.MIMETextHTMLCharsetUTF8)
		c.Response().WriteHeader(http.StatusTeapot)
		for range 100 {
			if _, err := c.Response().Write([]byte("0123456789")); err != nil {
				return err
			}
		}
		return nil
	})
	e.GET("/not-modified", func(c echo.Context) error { return c.NoContent(http.StatusNotModified) })
	e.GET("/redirect", func(c echo.Context) error { return c.Redirect(http.StatusSeeOther, "/big") })
	e.GET("/encoded", func(c echo.Context) error {
		c.Response().Header().Set(echo.HeaderContentEncoding, "br")
		return c.Blob(http.StatusOK, "application/octet-stream", []byte(big))
	})
	e.GET("/tagged", func(c echo.Context) error {
		c.Response().Header().Set("ETag", `"v1"`)
		return c.HTML(http.StatusOK, big)
	})
	e.GET("/healthz", func(c echo.Context) error { return c.String(http.StatusOK, big) })
	e.GET("/static/logo.png", func(c echo.Context) error { return c.Blob(http.StatusOK, "image/png", []byte(big)) })
	return e
}

func TestGzip(t *testing.T) {
	big := strings.Repeat("<p>SMTP Desk</p>\n", 200)
	tests := []struct {
		name, method, path, accept string
		wantStatus                 int
		wantGzip, wantVary         bool
		wantBody                   string
	}{
		{"page", http.MethodGet, "/big", "gzip, deflate, br", http.StatusOK, true, true, big},
		{"page without Accept-Encoding", http.MethodGet, "/big", "", http.StatusOK, false, true, big},
		{"gzip refused with q=0", http.MethodGet, "/big", "gzip;q=0, br", http.StatusOK, false, true, big},
		{"wildcard", http.MethodGet, "/big", "*", http.StatusOK, true, true, big},
		{"HEAD", http.MethodHead, "/big", "gzip", http.StatusOK, false, true, ""},
		{"small body", http.MethodGet, "/small", "gzip", http.StatusOK, false, true, "<p>hi</p>"},
		{"many small writes and a status", http.MethodGet, "/chunks", "gzip", http.StatusTeapot, true, true, strings.Repeat("0123456789", 100)},
		{"304", http.MethodGet, "/not-modified", "gzip", http.StatusNotModified, false, true, ""},
		{"redirect", http.MethodGet, "/redirect", "gzip", http.StatusSeeOther, false, true, ""},
		{"already encoded", http.MethodGet, "/encoded", "gzip", http.StatusOK, false, true, big},
		{"health check", http.MethodGet, "/healthz", "gzip", http.StatusOK, false, false, big},
		{"compressed static file", http.MethodGet, "/static/logo.png", "gzip", http.StatusOK, false, false, big},
	}
	g := newGzipper(gzip.BestSpeed, gzipMinLength, 4)
	e := gzipEcho(t, g)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, tt.path, nil)
			if tt.accept != "" {
				req.Header.Set("Accept-Encoding", tt.accept)
			}
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, req)
			if got, want := rec.Code, tt.wantStatus; got != want {
				t.Errorf("status: got %d, want %d", got, want)
			}
			enc := rec.Header().Get("Content-Encoding")
			if got, want := enc == "gzip", tt.wantGzip; got != want {
				t.Errorf("Content-Encoding: got %q, want gzip %v", enc, want)
			}
			if got, want := strings.Contains(rec.Header().Get("Vary"), "Accept-Encoding"), tt.wantVary; got != want {
				t.Errorf("Vary: got %q, want Accept-Encoding %v", rec.Header().Get("Vary"), want)
			}
			body := rec.Body.String()
			if tt.wantGzip {
				// The handler's Content-Length (of the uncompressed body) must not survive; an
				// answer that compressed into the buffer whole carries its compressed length.
				if cl := rec.Header().Get("Content-Length"); cl != strconv.Itoa(rec.Body.Len()) {
					t.Errorf("a gzipped answer of %d bytes has Content-Length %q", rec.Body.Len(), cl)
				}
				zr, err := gzip.NewReader(rec.Body)
				if err != nil {
					t.Fatalf("gzip.NewReader: %v", err)
				}
				b, err := io.ReadAll(zr)
				if err != nil {
					t.Fatalf("reading the gzipped body: %v", err)
				}
				body = string(b)
			}
			if tt.method == http.MethodGet && tt.wantStatus == http.StatusOK && body != tt.wantBody {
				t.Errorf("body: got %d bytes, want %d", len(body), len(tt.wantBody))
			}
			if tt.wantStatus == http.StatusTeapot && body != tt.wantBody {
				t.Errorf("body: got %q, want %q", body, tt.wantBody)
			}
			if got := g.taken.Load(); got != 0 {
				t.Errorf("gzip writers still taken after the request: %d", got)
			}
		})
	}
}

// TestGzipWeakensAStrongETag: a strong ETag names one representation's bytes; compressed, the
// answer is another, and carries the tag weak. Sent plain, it keeps it as it was.
func TestGzipWeakensAStrongETag(t *testing.T) {
	e := gzipEcho(t, newGzipper(gzip.BestSpeed, gzipMinLength, 4))
	for accept, want := range map[string]string{"gzip": `W/"v1"`, "": `"v1"`} {
		req := httptest.NewRequest(http.MethodGet, "/tagged", nil)
		req.Header.Set("Accept-Encoding", accept)
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		if got := rec.Header().Get("ETag"); got != want {
			t.Errorf("Accept-Encoding %q (Content-Encoding %q): ETag %s, want %s", accept, rec.Header().Get("Content-Encoding"), got, want)
		}
	}
}

// TestGzipWriterOnlyWhileWriting: a handler waiting (on Mailgun, say) before it writes holds no
// gzip writer; one that has started writing holds exactly one, and it goes back at the end.
func TestGzipWriterOnlyWhileWriting(t *testing.T) {
	g := newGzipper(gzip.BestSpeed, gzipMinLength, 4)
	e := echo.New()
	e.Use(g.middleware)
	waiting, wrote, release := make(chan struct{}), make(chan struct{}), make(chan struct{})
	first := strings.Repeat("a", 4096)
	e.GET("/slow", func(c echo.Context) error {
		close(waiting)
		<-release
		res := c.Response()
		res.Header().Set(echo.HeaderContentType, echo.MIMETextHTMLCharsetUTF8)
		res.WriteHeader(http.StatusOK)
		if _, err := res.Write([]byte(first)); err != nil {
			return err
		}
		wrote <- struct{}{}
		<-release
		_, err := res.Write([]byte("b"))
		return err
	})
	req := httptest.NewRequest(http.MethodGet, "/slow", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	rec := httptest.NewRecorder()
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.ServeHTTP(rec, req)
	}()

	<-waiting
	if got := g.taken.Load(); got != 0 {
		t.Errorf("gzip writers taken while the handler waits before writing: got %d, want 0", got)
	}
	release <- struct{}{}
	<-wrote
	if got := g.taken.Load(); got != 1 {
		t.Errorf("gzip writers taken while the handler writes: got %d, want 1", got)
	}
	close(release)
	<-done
	if got := g.taken.Load(); got != 0 {
		t.Errorf("gzip writers taken after the request: got %d, want 0", got)
	}
	zr, err := gzip.NewReader(rec.Body)
	if err != nil {
		t.Fatalf("gzip.NewReader: %v", err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), first+"b"; got != want {
		t.Errorf("body: got %d bytes, want %d", len(got), len(want))
	}
}

func TestAcceptsGzip(t *testing.T) {
	tests := []struct {
		header string
		want   bool
	}{
		{"", false},
		{"gzip", true},
		{"GZIP", true},
		{"deflate, gzip;q=0.8", true},
		{"gzip;q=0", false},
		{"gzip; q=0.000", false},
		{"br", false},
		{"*", true},
		{"identity", false},
	}
	for _, tt := range tests {
		if got := acceptsGzip(tt.header); got != tt.want {
			t.Errorf("acceptsGzip(%q): got %v, want %v", tt.header, got, tt.want)
		}
	}
}

// TestGzipBoundsWriters: with one writer allowed, an answer that finds it in use does not take
// a second one: it waits a moment and then goes out uncompressed and whole (a page must not queue
// behind a slow download), or stops waiting when its request ends; the next answer gets the
// writer once it is free.
func TestGzipBoundsWriters(t *testing.T) {
	g := newGzipper(gzip.BestSpeed, gzipMinLength, 1)
	g.wait = 20 * time.Millisecond
	var reported atomic.Int64
	g.onSkip = func() { reported.Add(1) }
	e := echo.New()
	e.Use(g.middleware)
	chunk := []byte(strings.Repeat("a", 4096))
	wrote, release := make(chan struct{}), make(chan struct{})
	e.GET("/hold", func(c echo.Context) error {
		res := c.Response()
		res.WriteHeader(http.StatusOK)
		if _, err := res.Write(chunk); err != nil {
			return err
		}
		close(wrote)
		<-release
		return nil
	})
	e.GET("/page", func(c echo.Context) error { return c.Blob(http.StatusOK, "text/html", chunk) })
	serveGzip := func(ctx context.Context, path string) *httptest.ResponseRecorder {
		req := httptest.NewRequestWithContext(ctx, http.MethodGet, path, nil)
		req.Header.Set("Accept-Encoding", "gzip")
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		return rec
	}
	first := make(chan *httptest.ResponseRecorder)
	go func() { first <- serveGzip(context.Background(), "/hold") }()
	<-wrote

	rec := serveGzip(context.Background(), "/page")
	if got := rec.Header().Get("Content-Encoding"); got != "" {
		t.Errorf("an answer that found no writer free: Content-Encoding %q, want none", got)
	}
	if rec.Code != http.StatusOK || rec.Body.String() != string(chunk) {
		t.Errorf("the uncompressed answer: status %d, %d bytes; want 200 and %d bytes", rec.Code, rec.Body.Len(), len(chunk))
	}
	if got := rec.Header().Get("Vary"); got != "Accept-Encoding" {
		t.Errorf("Vary %q on the uncompressed answer", got)
	}
	if got := reported.Load(); got != 1 {
		t.Errorf("answers reported sent uncompressed for want of a writer: %d, want 1", got)
	}
	// A wait long enough that it cannot end on its own: were it as short as above, a goroutine
	// descheduled for longer than the wait (a loaded machine) would find both the timer and
	// the ended request ready, and select picks either, reporting an answer sent uncompressed.
	// An implementation that ignored the request would still fail below, after this wait.
	g.wait = 30 * time.Second
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	if got := serveGzip(gone, "/page").Header().Get("Content-Encoding"); got == "gzip" {
		t.Error("a second answer was compressed while the only writer was in use")
	}
	// It stopped waiting because its request ended, not after the wait: that path is not
	// reported as an answer sent uncompressed (nothing was sent).
	if got := reported.Load(); got != 1 {
		t.Errorf("after a request that ended while waiting, answers reported sent uncompressed: %d, want still 1", got)
	}
	if got := g.taken.Load(); got != 1 {
		t.Errorf("writers taken: got %d, want 1", got)
	}
	close(release)
	if got := (<-first).Header().Get("Content-Encoding"); got != "gzip" {
		t.Errorf("first answer Content-Encoding: got %q, want gzip", got)
	}
	if got := serveGzip(context.Background(), "/page").Header().Get("Content-Encoding"); got != "gzip" {
		t.Errorf("answer after the writer was freed: Content-Encoding %q, want gzip", got)
	}
	if got := g.taken.Load(); got != 0 {
		t.Errorf("writers taken at the end: got %d, want 0", got)
	}
}

// countingWriter is a ResponseWriter that counts the body writes that reach it.
type countingWriter struct {
	*httptest.ResponseRecorder
	writes int
}

func (w *countingWriter) Write(b []byte) (int, error) {
	w.writes++
	return w.ResponseRecorder.Write(b)
}

// TestGzipFewWrites: a page rendered in many small writes reaches the connection in writes of
// the buffer's size (one when the compressed page fits it), not one per piece of compressor
// output; one that fits is sent with its Content-Length, a longer one without (as chunks).
func TestGzipFewWrites(t *testing.T) {
	tests := []struct {
		name       string
		writes     int // of 64 bytes each by the handler
		random     bool
		wantLength bool
	}{
		{"page under the buffer", 200, false, true},                   // 12.8 kB of text: one write
		{"incompressible bytes beyond the buffer", 2048, true, false}, // 128 kB of noise: ~5 writes
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var want strings.Builder
			chunk := make([]byte, 64)
			seed := uint32(1)
			e := echo.New()
			e.Use(newGzipper(gzip.BestSpeed, gzipMinLength, 4).middleware)
			e.GET("/page", func(c echo.Context) error {
				c.Response().Header().Set(echo.HeaderContentType, echo.MIMETextHTMLCharsetUTF8)
				for i := range tt.writes {
					for j := range chunk {
						if tt.random {
							seed = seed*1664525 + 1013904223
							chunk[j] = byte(seed >> 24)
						} else {
							chunk[j] = byte('a' + (i+j)%26)
						}
					}
					want.Write(chunk)
					if _, err := c.Response().Write(chunk); err != nil {
						return err
					}
				}
				return nil
			})
			req := httptest.NewRequest(http.MethodGet, "/page", nil)
			req.Header.Set("Accept-Encoding", "gzip")
			w := &countingWriter{ResponseRecorder: httptest.NewRecorder()}
			e.ServeHTTP(w, req)
			cl := w.Header().Get(echo.HeaderContentLength)
			if tt.wantLength && cl != strconv.Itoa(w.Body.Len()) {
				t.Errorf("Content-Length %q for %d compressed bytes", cl, w.Body.Len())
			}
			if !tt.wantLength && cl != "" {
				t.Errorf("Content-Length %q on an answer sent before it was complete", cl)
			}
			maxWrites := 1 + w.Body.Len()/gzipBufferSize
			if w.writes < 1 || w.writes > maxWrites {
				t.Errorf("writes reaching the connection for %d compressed bytes: got %d, want 1 to %d",
					w.Body.Len(), w.writes, maxWrites)
			}
			zr, err := gzip.NewReader(w.Body)
			if err != nil {
				t.Fatalf("gzip.NewReader: %v", err)
			}
			b, err := io.ReadAll(zr)
			if err != nil {
				t.Fatalf("reading the gzipped body: %v", err)
			}
			if string(b) != want.String() {
				t.Errorf("body: got %d bytes, want %d", len(b), want.Len())
			}
		})
	}
}
