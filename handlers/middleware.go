package handlers

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"path"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/a-h/templ"
	"github.com/klauspost/compress/gzip"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

// Echo context keys set by the middleware.
const (
	nonceKey = "smtpdesk.csp_nonce"
	demoKey  = "smtpdesk.demo"
	// supportKey holds MiddlewareConfig.Support, when set.
	supportKey = "smtpdesk.support"
	siteKey    = "smtpdesk.site" // the *site of a signed-in page, for its error page's navigation
	// browserHostKey holds the host the browser addressed (ForwardedHost's rule) when there are
	// trusted proxies; the Host header is that host otherwise.
	browserHostKey = "smtpdesk.browser_host"
)

// DefaultBodyLimit caps request bodies: the largest form (many logins at once) fits well within it.
const DefaultBodyLimit = "64K"

// CreateBodyLimit caps the create form's body instead: a paste of far more than its 100 logins
// (a whole export's column, 54 KB for 1,800 addresses) was a bare 413 page that lost the text;
// under this limit the form comes back with the paste in it and says how many lines it takes.
// It applies to signed-in users only: CSRF refuses a signed-out POST before reading its body.
const CreateBodyLimit = "1M"

// createPath is the create form's route, the one whose body CreateBodyLimit bounds.
const createPath = "/d/:domain/new"

// MiddlewareConfig configures the middleware Use installs.
type MiddlewareConfig struct {
	// Logger receives the access log and panics. Required.
	Logger *slog.Logger
	// TrustedProxies are the peers whose X-Forwarded-For and X-Forwarded-Proto are believed (and
	// X-Forwarded-Host, which the app hands auth through ForwardedHost).
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
	// Support names who users should ask for access or help (config.Config.Support), for the
	// pages that send them to someone; "" names nobody.
	Support string
	// OnUncompressed, when set, is called for each answer sent uncompressed because no gzip
	// writer came free in time (for a metric).
	OnUncompressed func()
	// NoGzip leaves every answer uncompressed, for a proxy in front that compresses.
	NoGzip bool
	// Metrics, when set, counts and times every request (metrics.Metrics.Middleware). It runs
	// inside the access log and outside Recover and the body limit, so that a request whose
	// handler panics (500) or whose body is too large (413, refused before any handler) is
	// counted with the status it was sent, as the access log logs it.
	Metrics echo.MiddlewareFunc
	// Session, when set, loads the signed-in user (auth.Auth.Session) ahead of the body limits,
	// so that the page refusing a body too large (413) is framed for its user as the other error
	// pages are (it read as signed out: no user menu, no domain picker). It needs no body; the
	// CSRF check, which reads the form, comes after Use.
	Session echo.MiddlewareFunc
}

// Use installs SMTP Desk's middleware on e, outermost first: request id, the answer's own write
// deadline (answerDeadline), security headers (with
// the CSP nonce), gzip (unless NoGzip), access log (which also hands errors to
// e.HTTPErrorHandler, so the log sees the final status), metrics (when set), recover, the
// redirect of a page's address typed with a trailing "/" (trailingSlash), the 405 of a public
// route's wrong method, the session (when set), and last the body limits. It also sets
// e.IPExtractor from the trusted proxies.
func Use(e *echo.Echo, cfg MiddlewareConfig) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.BodyLimit == "" {
		cfg.BodyLimit = DefaultBodyLimit
	}
	e.IPExtractor = IPExtractor(cfg.TrustedProxies)
	e.Use(RequestIDMiddleware(), answerDeadline, SecurityHeaders(cfg.TrustedProxies, cfg.FormActions, cfg.Demo))
	if len(cfg.TrustedProxies) > 0 {
		// Behind a proxy that passes the browser's host in X-Forwarded-Host, the Host header is
		// the proxy's name for SMTP Desk: a same-site Referer (the list view a form was opened
		// from, the form a failed POST came from) is on the browser's host.
		forwardedHost := ForwardedHost(cfg.TrustedProxies)
		e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
			return func(c echo.Context) error {
				c.Set(browserHostKey, forwardedHost(c.Request()))
				return next(c)
			}
		})
	}
	if cfg.Support != "" {
		e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
			return func(c echo.Context) error {
				c.Set(supportKey, cfg.Support)
				return next(c)
			}
		})
	}
	if !cfg.NoGzip {
		e.Use(Gzip(cfg.OnUncompressed))
	}
	e.Use(AccessLog(cfg.Logger))
	if cfg.Metrics != nil {
		e.Use(cfg.Metrics)
	}
	e.Use(Recover(cfg.Logger),
		trailingSlash,
		// Ahead of the session and CSRF: a wrong method on a public route is 405 to all.
		refusePublicMethods)
	if cfg.Session != nil {
		e.Use(cfg.Session)
	}
	// The create form's POST has its own limit (CreateBodyLimit). Both are set here, ahead of
	// the CSRF middleware the app adds after Use (CSRF reads the form's token from the body);
	// Use's middleware runs after routing, so the route's template is known.
	isCreate := func(c echo.Context) bool { return c.Path() == createPath && c.Request().Method == http.MethodPost }
	e.Use(middleware.BodyLimitWithConfig(middleware.BodyLimitConfig{Limit: cfg.BodyLimit, Skipper: isCreate}),
		middleware.BodyLimitWithConfig(middleware.BodyLimitConfig{Limit: CreateBodyLimit,
			Skipper: func(c echo.Context) bool { return !isCreate(c) }}))
}

// AnswerWriteTimeout is how long an answer has to be written, counted from its first byte.
const AnswerWriteTimeout = time.Minute

// answerDeadline moves the connection's write deadline to AnswerWriteTimeout after the answer's
// first byte, however long the handler took to make it. The server's WriteTimeout counts from
// the request, and it does not stop the handler: a delete-all whose whole-domain read and
// Mailgun calls took longer than that deleted the logins, recorded it, and then had its answer
// cut, so the browser showed a dropped connection for a change that was made; a whole-domain
// read's 504 came after it too. The deadline still bounds how long a slow reader holds the
// connection, and a streamed download moves it on as it goes (downloadWriter). It runs outside
// gzip, so that it holds the server's own writer.
func answerDeadline(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		res := c.Response()
		w := res.Writer
		res.Before(func() { _ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(AnswerWriteTimeout)) })
		return next(c)
	}
}

// IPExtractor returns the client-IP rule: with no trusted proxies the socket peer; otherwise the
// nearest X-Forwarded-For entry that is not a trusted proxy, believed only when the socket peer
// is one (SECURITY.md item 17). Loopback and private ranges are not trusted unless configured.
//
// The entries are read from the nearest hop outwards, each written by the trusted hop after it.
// An entry may carry a port ("203.0.113.9:41234", "[2001:db8::9]:41234"), as some proxies write
// it (Azure Application Gateway does): echo's own rule took such an entry for garbage and gave
// the socket peer, so every user behind the proxy had its address, one sign-in budget and one
// IP in the audit trail. An entry that is no address at all ("unknown", an obfuscated "_hidden")
// gives the trusted hop that wrote it, the nearest address known. When every hop is trusted, the
// farthest one is the client.
func IPExtractor(trusted []netip.Prefix) echo.IPExtractor {
	direct := echo.ExtractIPDirect()
	if len(trusted) == 0 {
		return direct
	}
	isTrusted := func(a netip.Addr) bool { // a as forwardedHop gives it: unmapped, no zone
		for _, p := range trusted {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	return func(r *http.Request) string {
		peerIP := direct(r)
		peer, ok := forwardedHop(peerIP)
		if !ok || !isTrusted(peer) {
			return peerIP
		}
		xff := r.Header.Values(echo.HeaderXForwardedFor)
		if len(xff) == 0 {
			return peerIP
		}
		hops := strings.Split(strings.Join(xff, ","), ",")
		last := peer
		for i := len(hops) - 1; i >= 0; i-- {
			a, ok := forwardedHop(hops[i])
			if !ok {
				return last.String()
			}
			if !isTrusted(a) {
				return a.String()
			}
			last = a
		}
		return last.String()
	}
}

// forwardedHop reads one X-Forwarded-For entry: an address, bracketed or not, with or without a
// port. The address comes back without IPv4 mapping and without a zone (an IPv6 zone is any
// text, and no part of a client's address in the audit trail or the access log).
func forwardedHop(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	a, err := netip.ParseAddr(s)
	if err != nil {
		ap, perr := netip.ParseAddrPort(s)
		a, err = ap.Addr(), perr
	}
	if err != nil && len(s) > 2 && s[0] == '[' && s[len(s)-1] == ']' {
		a, err = netip.ParseAddr(s[1 : len(s)-1])
	}
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap().WithZone(""), true
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
		RequestIDHandler: func(c echo.Context, id string) {
			// In the request's context too, for LogRequestIDs: what a handler logs with it
			// carries the id the error page and the access log show.
			r := c.Request()
			c.SetRequest(r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id)))
		},
	})
}

// requestIDKey is the context key of the request id.
type requestIDKey struct{}

// LogRequestIDs wraps h so that a record logged with a request's context (logger.WarnContext(
// c.Request().Context(), …)) carries the request's id as request_id, unless it has one already.
func LogRequestIDs(h slog.Handler) slog.Handler { return requestIDLog{h} }

type requestIDLog struct{ slog.Handler }

func (h requestIDLog) Handle(ctx context.Context, r slog.Record) error {
	if id, _ := ctx.Value(requestIDKey{}).(string); id != "" {
		has := false
		r.Attrs(func(a slog.Attr) bool {
			has = a.Key == "request_id"
			return !has
		})
		if !has {
			r.AddAttrs(slog.String("request_id", id))
		}
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestIDLog) WithAttrs(as []slog.Attr) slog.Handler {
	return requestIDLog{h.Handler.WithAttrs(as)}
}

func (h requestIDLog) WithGroup(name string) slog.Handler {
	return requestIDLog{h.Handler.WithGroup(name)}
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

// browserHost is the host the browser addressed: X-Forwarded-Host from a trusted proxy (see
// ForwardedHost), else the Host header.
func browserHost(c echo.Context) string {
	if h, ok := c.Get(browserHostKey).(string); ok {
		return h
	}
	return c.Request().Host
}

// supportOf is who the pages send users to for access or help, "" when nobody is named.
func supportOf(c echo.Context) string {
	s, _ := c.Get(supportKey).(string)
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
	return fromTrustedPeer(r, trusted)
}

// ForwardedHost returns the rule for the host the browser addressed (auth.Config.RequestHost):
// the first X-Forwarded-Host entry when the socket peer is a trusted proxy and sent one (the
// host the outermost proxy was asked for), else the Host header. Whatever a client sends, the
// answer only decides whether a sign-in is first sent to the base URL (never where to).
func ForwardedHost(trusted []netip.Prefix) func(*http.Request) string {
	return func(r *http.Request) string {
		if len(trusted) == 0 {
			return r.Host
		}
		xfh := r.Header.Get("X-Forwarded-Host")
		first, _, _ := strings.Cut(xfh, ",")
		if first = strings.TrimSpace(first); first == "" || !fromTrustedPeer(r, trusted) {
			return r.Host
		}
		return first
	}
}

// fromTrustedPeer reports whether r's socket peer is in one of the trusted ranges.
func fromTrustedPeer(r *http.Request, trusted []netip.Prefix) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	// Without its zone (a link-local peer, "fe80::1%eth0"), as IPExtractor reads the peer: a
	// prefix never contains an address with one.
	ip = ip.Unmap().WithZone("")
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

// gzipMinLength is the smallest body worth compressing: below it the gzip header and trailer
// (18 bytes) and the CPU buy nothing.
const gzipMinLength = 512

// Gzip compresses pages (text/html), JSON, and CSS/JS/SVG static files when the client accepts
// gzip, at gzip.BestSpeed. Already-compressed static files (images, fonts), health checks and
// metrics are skipped; HEAD requests, 204/304 answers and bodies under 512 bytes go out as they
// are. Every response that could have been compressed says Vary: Accept-Encoding.
//
// A gzip.Writer (about 0.8 MB of compressor state at level 1) is taken from a pool only at the
// first body write and returned when the handler ends, so a request waiting on Mailgun holds
// none: live writers track the requests being written, not the requests in flight. The
// compressed answer goes out through a 32 KiB buffer pooled with the writer, so a page reaches
// the connection in one write (or a few) instead of dozens of small ones.
//
// At most 4×GOMAXPROCS answers are compressed at once; others wait for a writer. Compressing is
// pure CPU, so more at a time only adds writers (and RSS), not throughput: without the bound, 50
// users on cached pages kept ~50 writers live. A page holds its writer for well under a
// millisecond, but a stream (an audit export) holds one for as long as its client takes to read
// it; so an answer waits at most writerWait for a writer and then goes out uncompressed, rather
// than every page queueing behind a few slow downloads.
//
// onUncompressed, when not nil, is called for each answer sent uncompressed that way.
func Gzip(onUncompressed func()) echo.MiddlewareFunc {
	g := newGzipper(gzip.BestSpeed, gzipMinLength, max(4, 4*runtime.GOMAXPROCS(0)))
	g.onSkip = onUncompressed
	return g.middleware
}

// gzipper is one Gzip middleware: its writer pool, the bound on writers in use, and a count
// of writers taken (for tests).
type gzipper struct {
	level     int
	minLength int
	wait      time.Duration // the longest an answer waits for a writer
	pool      sync.Pool
	slots     chan struct{} // one per writer in use
	taken     atomic.Int64  // writers taken from the pool and not yet returned
	onSkip    func()        // called for each answer sent uncompressed for want of a writer
}

// writerWait is how long an answer waits for a free gzip writer before it goes out uncompressed.
const writerWait = 100 * time.Millisecond

// errNoWriter says that no gzip writer came free within the wait.
var errNoWriter = errors.New("gzip: no writer free")

func newGzipper(level, minLength, maxWriters int) *gzipper {
	g := &gzipper{level: level, minLength: minLength, wait: writerWait, slots: make(chan struct{}, maxWriters)}
	g.pool.New = func() any {
		// klauspost/compress at level 1 gives the same size as compress/gzip's level 1 in under a
		// third of the time (a 100-row page: 0.12 ms instead of 0.40 ms; docs/BENCHMARKS.md),
		// and gzip was the largest share of a page view's CPU.
		w, err := gzip.NewWriterLevel(io.Discard, g.level)
		if err != nil {
			w = gzip.NewWriter(io.Discard) // only for a bad level, which newGzipper never gets
		}
		return &gzipSink{zw: w, bw: bufio.NewWriterSize(io.Discard, gzipBufferSize)}
	}
	return g
}

// gzipBufferSize is the buffer between the compressor and the response: the compressor emits
// its output in many writes of a few hundred bytes, and a whole compressed page (~12 kB for
// 100 rows) then reaches net/http in one write instead of dozens.
const gzipBufferSize = 32 << 10

// gzipSink is a pooled compressor and the buffer it writes into.
type gzipSink struct {
	zw *gzip.Writer
	bw *bufio.Writer
}

// get takes a writer aimed at dst, waiting for a free slot at most g.wait (errNoWriter) and
// not past the end of ctx.
func (g *gzipper) get(ctx context.Context, dst io.Writer) (*gzipSink, error) {
	select {
	case g.slots <- struct{}{}:
	default:
		t := time.NewTimer(g.wait)
		defer t.Stop()
		select {
		case g.slots <- struct{}{}:
		case <-t.C:
			if g.onSkip != nil {
				g.onSkip()
			}
			return nil, errNoWriter
		case <-ctx.Done():
			return nil, fmt.Errorf("gzip: waiting for a writer: %w", ctx.Err())
		}
	}
	s := g.pool.Get().(*gzipSink)
	s.bw.Reset(dst)
	s.zw.Reset(s.bw)
	g.taken.Add(1)
	return s, nil
}

func (g *gzipper) put(s *gzipSink) {
	s.bw.Reset(io.Discard) // drop the reference to the response writer
	s.zw.Reset(s.bw)
	g.taken.Add(-1)
	g.pool.Put(s)
	<-g.slots
}

// skip reports whether a request's answer is never compressed.
func (g *gzipper) skip(r *http.Request) bool {
	p := r.URL.Path
	switch {
	case healthPath(p) || p == "/metrics":
		return true
	case strings.HasPrefix(p, "/static/"):
		return !compressible[strings.ToLower(path.Ext(p))]
	}
	return false
}

func (g *gzipper) middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		if g.skip(req) {
			return next(c)
		}
		res := c.Response()
		res.Header().Add(echo.HeaderVary, echo.HeaderAcceptEncoding)
		if req.Method == http.MethodHead || !acceptsGzip(req.Header.Get(echo.HeaderAcceptEncoding)) {
			return next(c)
		}
		gw := &gzipResponseWriter{ResponseWriter: res.Writer, g: g, ctx: req.Context()}
		res.Writer = gw
		defer func() {
			if r := recover(); r != nil {
				// A handler that panics (http.ErrAbortHandler: a download that failed half-way)
				// must not have its answer finished here: closing the stream, and setting its
				// length while it fits the buffer, would send a short file as a whole one.
				gw.abandon()
				res.Writer = gw.ResponseWriter
				panic(r)
			}
			gw.finish()
			res.Writer = gw.ResponseWriter
		}()
		return next(c)
	}
}

// acceptsGzip reports whether an Accept-Encoding header allows gzip (or *) with a non-zero q.
func acceptsGzip(h string) bool {
	for h != "" {
		var part string
		part, h, _ = strings.Cut(h, ",")
		name, params, _ := strings.Cut(part, ";")
		name = strings.TrimSpace(name)
		if !strings.EqualFold(name, "gzip") && name != "*" {
			continue
		}
		q := strings.TrimSpace(params)
		if v, ok := strings.CutPrefix(strings.ReplaceAll(q, " ", ""), "q="); ok {
			if strings.Trim(v, "0.") == "" {
				return false // q=0: explicitly refused
			}
		}
		return true
	}
	return false
}

// gzipResponseWriter holds the status back until the first body bytes show whether the answer
// is worth compressing, then either compresses through a pooled gzip.Writer or passes through.
type gzipResponseWriter struct {
	http.ResponseWriter
	g   *gzipper
	ctx context.Context // the request's: a wait for a writer ends with it

	status  int    // held back until decided
	buf     []byte // body bytes held back while undecided (fewer than minLength)
	decided bool
	sink    *gzipSink // set when compressing
	// statusSent says the held-back status went out with the first compressed bytes.
	statusSent bool
}

// compressedOut is where a gzipResponseWriter's compressed bytes go: the response, after the
// status the handler set.
type compressedOut struct{ w *gzipResponseWriter }

func (o compressedOut) Write(p []byte) (int, error) {
	o.w.sendStatus()
	return o.w.ResponseWriter.Write(p)
}

// sendStatus sends the held-back status of a compressed answer, once.
func (w *gzipResponseWriter) sendStatus() {
	if !w.statusSent {
		w.statusSent = true
		w.ResponseWriter.WriteHeader(w.status)
	}
}

// WriteHeader holds the status back; bodiless statuses go out at once, uncompressed.
func (w *gzipResponseWriter) WriteHeader(code int) {
	if w.decided || w.status != 0 {
		return
	}
	w.status = code
	if code < http.StatusOK || code == http.StatusNoContent || code == http.StatusNotModified || code == http.StatusPartialContent {
		w.passThrough()
	}
}

// Write buffers until minLength bytes are known, then decides once.
func (w *gzipResponseWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if w.decided {
		if w.sink != nil {
			return w.sink.zw.Write(b)
		}
		return w.ResponseWriter.Write(b)
	}
	if len(w.buf)+len(b) < w.g.minLength {
		w.buf = append(w.buf, b...)
		return len(b), nil
	}
	if err := w.startGzip(); err != nil {
		return 0, err
	}
	if !w.decided {
		return 0, w.ctx.Err()
	}
	if w.sink == nil {
		return w.ResponseWriter.Write(b)
	}
	return w.sink.zw.Write(b)
}

// startGzip decides for compression (unless the handler already encoded the body) and writes
// what was held back.
func (w *gzipResponseWriter) startGzip() error {
	h := w.Header()
	if h.Get(echo.HeaderContentEncoding) != "" || h.Get("Content-Range") != "" {
		return w.sendUncompressed()
	}
	sink, err := w.g.get(w.ctx, compressedOut{w})
	if errors.Is(err, errNoWriter) {
		return w.sendUncompressed()
	}
	if err != nil {
		return err // the client is gone
	}
	w.decided = true
	h.Del(echo.HeaderContentLength)
	h.Set(echo.HeaderContentEncoding, "gzip")
	weakenETag(h)
	// The status goes out with the first compressed bytes (compressedOut): a page that
	// compresses into the sink's buffer whole is sent with its Content-Length, in one piece
	// instead of as chunks.
	w.sink = sink
	if len(w.buf) > 0 {
		_, err := w.sink.zw.Write(w.buf)
		w.buf = nil
		return err
	}
	return nil
}

// weakenETag makes a strong ETag weak. A strong ETag names one representation's exact bytes
// (RFC 9110 8.8.3) and the compressed bytes are another, so a compressed answer carries the tag
// weak, as nginx does: a cache never takes the one for the other. (A handler whose 304 must
// carry its 200's tag, as the 304 cannot know whether that 200 was compressed, sends it weak
// itself: serveStatic.)
func weakenETag(h http.Header) {
	if et := h.Get("ETag"); et != "" && !strings.HasPrefix(et, "W/") {
		h.Set("ETag", "W/"+et)
	}
}

// sendUncompressed decides against compression and sends the status and what was held back.
func (w *gzipResponseWriter) sendUncompressed() error {
	w.passThrough()
	if len(w.buf) > 0 {
		_, err := w.ResponseWriter.Write(w.buf)
		w.buf = nil
		return err
	}
	return nil
}

// passThrough decides against compression and sends the status.
func (w *gzipResponseWriter) passThrough() {
	w.decided = true
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.ResponseWriter.WriteHeader(w.status)
}

// Flush commits to compression (a flushed answer is a stream) and flushes it to the client.
func (w *gzipResponseWriter) Flush() {
	if !w.decided {
		if w.status == 0 {
			w.status = http.StatusOK
		}
		_ = w.startGzip()
	}
	if w.sink != nil {
		_ = w.sink.zw.Flush()
		_ = w.sink.bw.Flush()
		w.sendStatus() // even when nothing was compressed yet
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *gzipResponseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// abandon gives the compressor back without ending its stream or sending what it holds.
func (w *gzipResponseWriter) abandon() {
	if w.sink != nil {
		w.g.put(w.sink)
		w.sink = nil
	}
}

// finish ends the answer: a short body goes out as it is, a compressed one gets its trailer and
// the gzip.Writer goes back to the pool.
func (w *gzipResponseWriter) finish() {
	switch {
	case w.sink != nil:
		if w.sink.zw.Close() == nil {
			if !w.statusSent {
				w.Header().Set(echo.HeaderContentLength, strconv.Itoa(w.sink.bw.Buffered()))
			}
			_ = w.sink.bw.Flush()
		}
		w.sendStatus() // a failed compressor still answers with the status it was given
		w.g.put(w.sink)
		w.sink = nil
	case !w.decided && w.status != 0:
		w.passThrough()
		if len(w.buf) > 0 {
			_, _ = w.ResponseWriter.Write(w.buf)
			w.buf = nil
		}
	}
}

// AccessLog logs one structured record per request: method, route template, path (never the
// query), status, bytes, duration, request id and client IP. Every user-controlled value is an
// attribute, so a "\r\n" in a path cannot split the record. An error from the chain is handed to
// the HTTPErrorHandler here, so the logged status is the one the client got. A download aborted
// half-way (http.ErrAbortHandler, which Recover passes on to net/http) is logged as it unwinds,
// with status 500, or 499 when its client had left.
func AccessLog(logger *slog.Logger) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			defer func() {
				if r := recover(); r != nil {
					status := http.StatusInternalServerError
					if ctx := c.Request().Context(); ctx.Err() != nil && context.Cause(ctx) == context.Canceled {
						// Its client left (a shutdown cutting it off gives a cause of its own).
						status = StatusClientClosedRequest
					}
					logRequest(logger, c, status, start)
					panic(r)
				}
			}()
			if err := next(c); err != nil {
				c.Error(err)
			}
			logRequest(logger, c, c.Response().Status, start)
			return nil
		}
	}
}

// logRequest writes AccessLog's record of one request answered with status.
func logRequest(logger *slog.Logger, c echo.Context, status int, start time.Time) {
	req := c.Request()
	level := slog.LevelInfo
	// Health checks and metrics scrapes come every few seconds from monitors: a line each would
	// bury the users' requests. A scrape that is refused (a wrong token) is worth a line.
	if healthPath(req.URL.Path) || req.URL.Path == MetricsPath && status == http.StatusOK {
		level = slog.LevelDebug
	}
	logger.LogAttrs(req.Context(), level, "request",
		slog.String("method", req.Method),
		slog.String("route", c.Path()),
		slog.String("path", req.URL.Path),
		slog.Int("status", status),
		slog.Int64("bytes", c.Response().Size),
		slog.Duration("duration", time.Since(start)),
		slog.String("request_id", RequestID(c)),
		slog.String("client_ip", c.RealIP()),
	)
}

// Recover turns a panic into an error for the error handler (a clean 500 page) and logs the
// stack. http.ErrAbortHandler is re-raised, as net/http expects; so is any panic once the answer
// has begun (as http.ErrAbortHandler: the answer is cut off, never ended as if whole).
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
				if c.Response().Committed {
					// Too late for an error page (a download's first rows have gone out): abort
					// the answer, as the exports do when they fail half-way, so that a short file
					// is never taken for a whole one. Outer middleware logs and counts it 500.
					panic(http.ErrAbortHandler)
				}
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
