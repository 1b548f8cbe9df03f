package handlers

import (
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/smtpdesk/smtpdesk/static"
)

// staticTypes fixes the Content-Type of the asset kinds SMTP Desk ships, whatever the host's
// MIME tables say (a distroless image has none).
var staticTypes = map[string]string{
	".css":   "text/css; charset=utf-8",
	".js":    "text/javascript; charset=utf-8",
	".mjs":   "text/javascript; charset=utf-8",
	".svg":   "image/svg+xml",
	".png":   "image/png",
	".ico":   "image/x-icon",
	".woff2": "font/woff2",
	".json":  "application/json",
	".map":   "application/json",
	".txt":   "text/plain; charset=utf-8",
}

// RegisterStatic serves /static/<hashed name> from static.FS with a one-year immutable cache
// lifetime, the right Content-Type and an ETag. Names that are not current hashed names are 404:
// a stale URL must not be cached for a year with new content. Gzip comes from the middleware.
func RegisterStatic(e *echo.Echo) {
	e.GET(static.Prefix+"*", serveStatic)
	e.HEAD(static.Prefix+"*", serveStatic)
	for _, m := range []string{http.MethodGet, http.MethodHead} {
		e.Add(m, RobotsPath, serveRobots)
		e.Add(m, FaviconPath, serveFavicon)
	}
}

// The two addresses crawlers and browsers ask for whatever a page says, answered to everyone:
// behind sign-in they were redirected to it, and a crawler that followed started a sign-in,
// spending its address's sign-in budget, to learn nothing.
const (
	// RobotsPath asks every crawler to stay out: SMTP Desk is an internal tool.
	RobotsPath = "/robots.txt"
	// FaviconPath redirects to the current favicon, for a browser that asks for it where no
	// page declared one (an error page of a proxy in front, a file it shows).
	FaviconPath = "/favicon.ico"
)

// crawlerCache is how long the two answers above may be kept: a day, as the favicon's
// address changes with each build that changes the icon.
const crawlerCache = "public, max-age=86400"

func serveRobots(c echo.Context) error {
	c.Response().Header().Set(echo.HeaderCacheControl, crawlerCache)
	return c.String(http.StatusOK, "User-agent: *\nDisallow: /\n")
}

func serveFavicon(c echo.Context) error {
	c.Response().Header().Set(echo.HeaderCacheControl, crawlerCache)
	return c.Redirect(http.StatusFound, static.URL("favicon.svg"))
}

func serveStatic(c echo.Context) error {
	hashed := c.Param("*")
	name, ok := static.Lookup(hashed)
	if !ok {
		return echo.NewHTTPError(http.StatusNotFound)
	}
	b, err := fs.ReadFile(static.FS, "dist/"+name)
	if err != nil {
		return echo.NewHTTPError(http.StatusNotFound).SetInternal(err)
	}
	ext := strings.ToLower(path.Ext(name))
	ctype := staticTypes[ext]
	if ctype == "" {
		ctype = mime.TypeByExtension(ext)
	}
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	// The hashed name already identifies the content. The tag is weak: the file goes out plain
	// or compressed (by the Gzip middleware, whatever its size and how busy it is), two
	// representations one strong tag cannot name, and a 304 must carry its 200's tag.
	// If-None-Match compares weakly, so a weak tag revalidates either.
	etag := `"` + hashed + `"`
	h := c.Response().Header()
	h.Set(echo.HeaderCacheControl, "public, max-age=31536000, immutable")
	h.Set("ETag", "W/"+etag)
	if match := c.Request().Header.Get("If-None-Match"); match != "" && etagMatches(match, etag) {
		return c.NoContent(http.StatusNotModified)
	}
	if c.Request().Method == http.MethodHead {
		// The GET's headers, length included (RFC 9110 9.3.2): it is known without a body.
		h.Set(echo.HeaderContentType, ctype)
		h.Set(echo.HeaderContentLength, strconv.Itoa(len(b)))
		return c.NoContent(http.StatusOK)
	}
	return c.Blob(http.StatusOK, ctype, b)
}

// etagMatches reports whether an If-None-Match header names etag (or is "*").
func etagMatches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
}
