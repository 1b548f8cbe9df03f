package handlers

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/smtpdesk/smtpdesk/static"
)

// trailingSlash sends a GET or HEAD of an address that ends in "/" (other than the site's root)
// to the same address without it, query kept: "/d/example.com/" and "/audit/" are how such
// addresses are often typed, pasted or bookmarked, and they answered "Page not found". No page
// address ends in "/", so the redirect changes only what would have been a 404. It is the last
// of Use's middleware, so that the redirect is logged, counted and has the site's headers like
// every answer, and runs before the session is read: Echo runs its middleware for an address no
// route matches too.
//
// The new address is built from the path as the browser sent it (URL.EscapedPath), so that an
// escaped "/" or "?" inside a segment stays escaped and names the same domain or login. An
// address that would then start with "//" or "/\" is not redirected, since a browser reads that
// as another site's; it stays a 404. The static files are left alone (their addresses are made by
// the pages, never typed), and so are other methods: a redirected POST would lose its form in
// most browsers, and no form posts to such an address.
func trailingSlash(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if r.Method != http.MethodGet && r.Method != http.MethodHead || strings.HasPrefix(r.URL.Path, static.Prefix) {
			return next(c)
		}
		p := r.URL.EscapedPath()
		trimmed := strings.TrimRight(p, "/")
		if trimmed == p || trimmed == "" || strings.HasPrefix(trimmed, "//") || strings.HasPrefix(trimmed, `/\`) {
			return next(c)
		}
		if q := r.URL.RawQuery; q != "" {
			trimmed += "?" + q
		}
		return c.Redirect(http.StatusMovedPermanently, trimmed)
	}
}
