package handlers

import (
	"bytes"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"github.com/smtpdesk/smtpdesk/auth"
	"github.com/smtpdesk/smtpdesk/static"
	"github.com/smtpdesk/smtpdesk/views"
)

// maxPooledBuffer keeps one huge page from pinning its buffer in the pool forever.
const maxPooledBuffer = 1 << 20

// bufferPool holds render buffers. It is the package's one piece of shared state, and holds
// nothing between uses.
var bufferPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// Render renders comp into a pooled buffer and only then writes it with status, so a template
// error becomes a clean error page (the error is returned for the HTTPErrorHandler) rather than a
// half-written one. The request context carries the CSP nonce for templ.
func Render(c echo.Context, status int, comp templ.Component) error {
	buf := bufferPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer func() {
		if buf.Cap() <= maxPooledBuffer {
			bufferPool.Put(buf)
		}
	}()
	if err := comp.Render(c.Request().Context(), buf); err != nil {
		return fmt.Errorf("render: %w", err)
	}
	res := c.Response()
	res.Header().Set(echo.HeaderContentType, echo.MIMETextHTMLCharsetUTF8)
	res.WriteHeader(status)
	if c.Request().Method == http.MethodHead {
		return nil
	}
	if _, err := res.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("write page: %w", err)
	}
	return nil
}

// pageAssets are the content-hashed URLs of the page frame's stylesheet, script and icon.
var pageAssets = sync.OnceValue(func() *views.Assets { return views.NewAssets(static.URL) })

// PageBase returns the layout's view model for a page titled title: the CSP nonce, request id,
// CSRF token, signed-in user and (read once) flash messages, the demo flag and the time. Page
// handlers add the domain picker, navigation and admin flag.
func PageBase(c echo.Context, title string) views.Page {
	p := pageFrame(c, title)
	p.Flashes = viewFlashes(auth.Flashes(c))
	return p
}

// pageBase is PageBase without the flashes, for error pages: an error must not swallow a flash
// the next page should show. It has the one this page view's address names (?flash=), made for
// it alone: after a change, the list it leads to may fail (Mailgun unavailable), and the change's
// message was then kept for whatever page came next, the error saying nothing of the change.
func pageBase(c echo.Context, title string) views.Page {
	p := pageFrame(c, title)
	p.Flashes = viewFlashes(auth.AddressedFlashes(c))
	return p
}

// viewFlashes is fs as the page shows them.
func viewFlashes(fs []auth.Flash) []views.Flash {
	var out []views.Flash
	for _, f := range fs {
		out = append(out, views.Flash{Kind: f.Kind, Message: f.Message})
	}
	return out
}

// pageFrame is PageBase without any flash: the part every page has.
func pageFrame(c echo.Context, title string) views.Page {
	p := views.Page{
		Title:     title,
		Nonce:     Nonce(c),
		RequestID: RequestID(c),
		CSRFToken: auth.CSRFToken(c),
		Demo:      isDemo(c),
		Support:   supportOf(c),
		Now:       time.Now(),
		Assets:    pageAssets(),
		// A POST is answered with a page only when the form's outcome is shown (errors, the
		// passwords, a failure); a success redirects.
		PostAnswer: c.Request().Method == http.MethodPost,
	}
	if u := auth.UserFrom(c); u != nil {
		p.User = &views.User{Name: u.Name, Email: u.Email}
	}
	return p
}
