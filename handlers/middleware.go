package handlers

import (
	"compress/gzip"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"path"
	"runtime"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

// Echo context keys set by the middleware.
const (
	nonceKey = "smtpdesk.csp_nonce"
	demoKey  = "smtpdesk.demo"
)

// DefaultBodyLimit caps request bodies: the largest form (many logins at once) fits well within it.
const DefaultBodyLimit = "64K"

// MiddlewareConfig configures the middleware Use installs.
type MiddlewareConfig struct {
	// Logger receives the access log and panics. Required.
	Logger *slog.Logger
	// TrustedProxies are the peers whose X-Forwarded-For and X-Forwarded-Proto are believed.
	// Empty: trust none, the client is the socket peer.
	TrustedProxies []netip.Prefix
	// FormActions returns the extra origins forms may submit or redirect to: the OIDC issuer's
	// and the provider's end_session endpoint's (sign-out follows a POST to the provider). It is
	// called per request, so origins discovered later apply. Nil: 'self' only.
	FormActions func() []string
	// BodyLimit is the largest request body accepted ("64K" when empty).
	BodyLimit string
	// Demo marks every page with the demo banner.
	Demo bool
}

// Use installs SMTP Desk's middleware on e, outermost first: request id, security headers (with
// the CSP nonce), gzip, access log (which also hands errors to e.HTTPErrorHandler, so the log sees
// the final status), recover, body limit. It also sets e.IPExtractor from the trusted proxies.
func Use(e *echo.Echo, cfg MiddlewareConfig) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.BodyLimit == "" {
		cfg.BodyLimit = DefaultBodyLimit
	}
	e.IPExtractor = IPExtractor(cfg.TrustedProxies)
	e.Use(
		RequestIDMiddleware(),
		SecurityHeaders(cfg.TrustedProxies, cfg.FormActions, cfg.Demo),
		Gzip(),
		AccessLog(cfg.Logger),
		Recover(cfg.Logger),
		middleware.BodyLimit(cfg.BodyLimit),
	)
}

// IPExtractor returns the client-IP rule: with no trusted proxies the socket peer; otherwise the
// nearest X-Forwarded-For entry that is not a trusted proxy, believed only when the socket peer
// is one (SECURITY.md item 17). Loopback and private ranges are not trusted unless configured.
func IPExtractor(trusted []netip.Prefix) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, p := range trusted {
		_, n, err := net.ParseCIDR(p.String())
		if err != nil {
			continue // a netip.Prefix always formats as a valid CIDR
		}
		opts = append(opts, echo.TrustIPRange(n))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}

// newRequestID returns 16 random bytes in hex.
func newRequestID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

// RequestIDMiddleware gives every request a random id (crypto/rand) in the X-Request-ID response
// header. An id sent by the client is dropped first: adopting it would let anyone forge log and
// audit correlation.
func RequestIDMiddleware() echo.MiddlewareFunc {
	return middleware.RequestIDWithConfig(middleware.RequestIDConfig{
		Generator:    newRequestID,
		TargetHeader: echo.HeaderXRequestID,
		Skipper: func(c echo.Context) bool {
			c.Request().Header.Del(echo.HeaderXRequestID)
			return false
		},
	})
}

// RequestID returns the request's id ("" outside the middleware).
func RequestID(c echo.Context) string {
	return c.Response().Header().Get(echo.HeaderXRequestID)
}

// Nonce returns the request's CSP nonce ("" outside the middleware).
func Nonce(c echo.Context) string {
	s, _ := c.Get(nonceKey).(string)
	return s
}

// isDemo reports whether the demo banner should show.
func isDemo(c echo.Context) bool {
	b, _ := c.Get(demoKey).(bool)
	return b
}

// IsHTTPS reports whether the browser's connection is HTTPS: TLS here, or X-Forwarded-Proto:
// https from a trusted proxy.
func IsHTTPS(r *http.Request, trusted []netip.Prefix) bool {
	if r.TLS != nil {
		return true
	}
	if len(trusted) == 0 || !strings.EqualFold(strings.TrimSpace(r.Header.Get(echo.HeaderXForwardedProto)), "https") {
		return false
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	ip = ip.Unmap()
	for _, p := range trusted {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// CSP builds the Content-Security-Policy for one nonce.
func CSP(nonce string, formActions []string) string {
	fa := "'self'"
	for _, o := range formActions {
		if o != "" {
			fa += " " + o
		}
	}
	return "default-src 'self'; script-src 'self' 'nonce-" + nonce + "'; style-src 'self'; img-src 'self' data:; " +
		"object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action " + fa
}

// SecurityHeaders sets SECURITY.md item 15's headers on every response and puts a fresh CSP
// nonce (16 random bytes, base64) in the echo context (Nonce) and the request context
// (templ.GetNonce).
func SecurityHeaders(trusted []netip.Prefix, formActions func() []string, demo bool) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			b := make([]byte, 16)
			_, _ = rand.Read(b)
			nonce := base64.StdEncoding.EncodeToString(b)
			c.Set(nonceKey, nonce)
			c.Set(demoKey, demo)
			req := c.Request()
			c.SetRequest(req.WithContext(templ.WithNonce(req.Context(), nonce)))

			var fa []string
			if formActions != nil {
				fa = formActions()
			}
			h := c.Response().Header()
			h.Set("Content-Security-Policy", CSP(nonce, fa))
			h.Set("X-Content-Type-Options", "nosniff")
			h.Set("Referrer-Policy", "same-origin")
			h.Set("X-Frame-Options", "DENY")
			h.Set("Cross-Origin-Opener-Policy", "same-origin")
			h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=(), usb=()")
			if IsHTTPS(req, trusted) {
				h.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
			}
			return next(c)
		}
	}
}

// compressible lists the static file extensions worth gzipping.
var compressible = map[string]bool{".css": true, ".js": true, ".mjs": true, ".svg": true, ".json": true, ".txt": true, ".map": true, ".html": true}

// Gzip compresses pages (text/html), JSON, and CSS/JS/SVG static files when the client accepts
// gzip. Already-compressed static files (images, fonts), health checks and metrics are skipped.
func Gzip() echo.MiddlewareFunc {
	return middleware.GzipWithConfig(middleware.GzipConfig{
		MinLength: 512,
		// Level 1 compresses a 100-row page to 16.5 kB in 0.5 ms; the default level 6 saves 5 kB
		// more but takes 1.2 ms, which was half the CPU of a list page (docs/BENCHMARKS.md).
		Level: gzip.BestSpeed,
		Skipper: func(c echo.Context) bool {
			p := c.Request().URL.Path
			switch {
			case p == "/healthz" || p == "/readyz" || p == "/metrics":
				return true
			case strings.HasPrefix(p, "/static/"):
				return !compressible[strings.ToLower(path.Ext(p))]
			}
			return false
		},
	})
}

// AccessLog logs one structured record per request: method, route template, path (never the
// query), status, bytes, duration, request id and client IP. Every user-controlled value is an
// attribute, so a "\r\n" in a path cannot split the record. An error from the chain is handed to
// the HTTPErrorHandler here, so the logged status is the one the client got.
func AccessLog(logger *slog.Logger) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			err := next(c)
			if err != nil {
				c.Error(err)
			}
			req := c.Request()
			res := c.Response()
			level := slog.LevelInfo
			if p := req.URL.Path; p == "/healthz" || p == "/readyz" {
				level = slog.LevelDebug
			}
			logger.LogAttrs(req.Context(), level, "request",
				slog.String("method", req.Method),
				slog.String("route", c.Path()),
				slog.String("path", req.URL.Path),
				slog.Int("status", res.Status),
				slog.Int64("bytes", res.Size),
				slog.Duration("duration", time.Since(start)),
				slog.String("request_id", RequestID(c)),
				slog.String("client_ip", c.RealIP()),
			)
			return nil
		}
	}
}

// Recover turns a panic into an error for the error handler (a clean 500 page) and logs the
// stack. http.ErrAbortHandler is re-raised, as net/http expects.
func Recover(logger *slog.Logger) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) (err error) {
			defer func() {
				r := recover()
				if r == nil {
					return
				}
				if r == http.ErrAbortHandler {
					panic(r)
				}
				stack := make([]byte, 8<<10)
				stack = stack[:runtime.Stack(stack, false)]
				logger.LogAttrs(c.Request().Context(), slog.LevelError, "panic",
					slog.String("request_id", RequestID(c)),
					slog.String("panic", fmt.Sprint(r)),
					slog.String("stack", string(stack)),
				)
				if e, ok := r.(error); ok {
					err = fmt.Errorf("panic: %w", e)
				} else {
					err = errors.New("panic: " + fmt.Sprint(r))
				}
			}()
			return next(c)
		}
	}
}
