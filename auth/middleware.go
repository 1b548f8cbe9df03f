package auth

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gorilla/sessions"
	"github.com/labstack/echo/v4"
)

// Session value keys.
const (
	keyUser    = "user"
	keyCSRF    = "csrf"
	keyIDToken = "id_token"
	keyFlashes = "flashes"
	keyPrefs   = "prefs"
)

const ctxKey = "smtpdesk.auth.session"

// ErrNoSession is returned by AddFlash and SetPref when nobody is signed in.
var ErrNoSession = errors.New("auth: no session")

// Flash is a one-time message shown after a redirect. It never carries a secret.
type Flash struct {
	Kind    string `json:"k"` // "success", "error", "warning", "info"
	Message string `json:"m"`
	// For, when set, is the path the message is about (a domain's page, "/d/acme.example"): the
	// next page shows it only if it is that page or one below it, and drops it otherwise.
	For string `json:"f,omitempty"`
	// ID, when set, ties the message to the one page view whose address carries it as
	// ?flash= (FlashParam, AddFlashFor): other pages, another tab's among them, neither show
	// it nor take it.
	ID string `json:"i,omitempty"`
}

// FlashParam is the query parameter naming the message a page is to show (Flash.ID).
const FlashParam = "flash"

// reqSession is the request's session, cached in the echo context.
type reqSession struct {
	auth *Auth
	sess *sessions.Session
	user *User
}

// load returns the request's session, loading it on first use.
func (a *Auth) load(c echo.Context) (*reqSession, error) {
	if rs, ok := c.Get(ctxKey).(*reqSession); ok {
		return rs, nil
	}
	sess, stale, err := a.store.load(c.Request())
	if err != nil {
		return nil, err
	}
	if stale {
		a.store.clearCookie(c.Response())
	}
	rs := &reqSession{auth: a, sess: sess}
	if sess.ID != "" {
		var u User
		if value(sess, keyUser, &u) && u.Subject != "" {
			if t, ok := sess.Values[metaCreated].(time.Time); ok {
				u.SessionCreated = t
			}
			rs.user = &u
		}
	}
	c.Set(ctxKey, rs)
	return rs, nil
}

// Session loads the session (if any) and the signed-in user into the echo context, and records
// activity for the idle timeout at most once a minute (the record's last-seen time only: its data
// may have changed since this request read it). Requests for which sessionless reports
// true (static files, health checks: handlers.Sessionless) get no session: a browser's cookie
// would otherwise cost each of them a database query, and while the database does not answer,
// the stylesheet and script of the page that says so would fail with it and leave that page
// unstyled.
func (a *Auth) Session(sessionless func(echo.Context) bool) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if sessionless != nil && sessionless(c) {
				return next(c)
			}
			rs, err := a.load(c)
			if err != nil {
				return err
			}
			if rs.sess.ID != "" {
				if t, ok := rs.sess.Values[metaLastSeen].(time.Time); ok && a.cfg.Now().Sub(t) < a.lastSeenEvery() {
					return next(c)
				}
				err := a.store.touch(c.Request(), rs.sess)
				switch {
				case errors.Is(err, ErrSessionNotFound):
					// The record vanished (signed out elsewhere, swept): treat as signed out.
					a.log.DebugContext(c.Request().Context(), "session touch: the session is gone", "err", err)
					rs.sess, rs.user = a.store.fresh(), nil
					a.store.clearCookie(c.Response())
				case err != nil:
					// The record was read a moment ago; only the activity time was not written,
					// and the next request tries again. Clearing the cookie would sign the user
					// out for good over a passing database failure.
					a.log.WarnContext(c.Request().Context(), "session touch failed", "err", err)
				}
			}
			return next(c)
		}
	}
}

// AfterChange is middleware for the routes that change something (the forms' POSTs): their
// answer sets a cookie to a new random value, which means nothing and is never read. Chromium
// keeps pages served Cache-Control: no-store in its back/forward cache as long as no cookie
// changed, and Back shows them as they were: the page's script reloads a page restored so
// (pageshow), but without it, Back after a delete showed the list with the deleted login in it,
// its Reset and Delete links working, and one step more the delete's confirmation page. A
// cookie changed evicts them, as signing out does.
func (a *Auth) AfterChange(next echo.HandlerFunc) echo.HandlerFunc {
	name := InsecureChangedCookie
	if a.cfg.SecureCookies {
		name = ChangedCookieName
	}
	return func(c echo.Context) error {
		c.Response().Before(func() {
			http.SetCookie(c.Response(), &http.Cookie{Name: name, Value: rand.Text(), Path: "/",
				Secure: a.cfg.SecureCookies, HttpOnly: true, SameSite: http.SameSiteLaxMode})
		})
		return next(c)
	}
}

// lastSeenEvery is how often activity is written under the configured idle timeout.
func (a *Auth) lastSeenEvery() time.Duration {
	return lastSeenEvery(a.cfg.IdleTimeout)
}

// lastSeenEvery is how often activity is written under the idle timeout idle: a minute, or a
// tenth of idle when that is shorter (with a minute against a 30 s timeout, a user active every
// 20 s was signed out).
func lastSeenEvery(idle time.Duration) time.Duration {
	return min(lastSeenWriteInterval, idle/10)
}

// IdleLimit is how old a session's recorded activity may grow before the session has ended, for
// the idle timeout idle: idle, and lastSeenEvery more. Activity is written at most that often, so
// the record may be that much older than the last request; counted from the record alone, a
// session ended up to a minute before idle had passed since the last request (a form opened 59 s
// after the last write and sent 29m30s later met "signed out" under a 30-minute timeout). Counted
// so, it ends after idle without a request, and at most lastSeenEvery later. The session store,
// the sweep of ended sessions and the count of active ones all go by it.
func IdleLimit(idle time.Duration) time.Duration {
	if idle <= 0 {
		return idle
	}
	return idle + lastSeenEvery(idle)
}

// RequireUser lets signed-in users through. Others are sent to sign in (GET and HEAD, with the
// current path in next) or answered 401.
func (a *Auth) RequireUser() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			rs, err := a.load(c)
			if err != nil {
				return err
			}
			if rs.user != nil {
				return next(c)
			}
			m := c.Request().Method
			if m == http.MethodGet || m == http.MethodHead {
				c.Response().Header().Set("Cache-Control", "no-store")
				return c.Redirect(http.StatusFound, LoginPath+"?next="+url.QueryEscape(SafeNext(c.Request().URL.RequestURI())))
			}
			return sessionEnded(http.StatusUnauthorized)
		}
	}
}

// ErrSessionEnded is inside the error answering a request that needs a session and came without
// a live one, a form sent after its session ended above all; nothing was done. The error page
// offers to sign in again and come back.
var ErrSessionEnded = errors.New("auth: no live session")

// ErrFormUnreadable is inside the error answering a form whose body cannot be read (ReadForm);
// nothing was done.
var ErrFormUnreadable = errors.New("auth: the form's body cannot be read")

// ErrNotAForm is inside the error answering a request whose body is not a form (ReadForm): a
// JSON or plain-text body, or one sent without a type. Go's form parser reads such a body as no
// fields at all, so a change sent that way was answered as if a field had been left empty
// ("enter at least one login") or its token had expired; nothing was done.
var ErrNotAForm = errors.New("auth: the body is not a form")

// FormTypes are the body types ReadForm reads, those a page's form sends, as an Accept-Post
// header lists them.
const FormTypes = "application/x-www-form-urlencoded, multipart/form-data"

// maxFormMemory is how much of a multipart body ReadForm keeps in memory (Go's and echo's
// default); the body limit middleware has bounded the body far below it.
const maxFormMemory = 32 << 20

// ReadForm parses a request's form body, urlencoded or multipart, into r.PostForm, and says when
// it cannot be read. Go's parsers keep the fields before the first they cannot read and drop the
// rest, and Request.PostFormValue does not say so: a form read that way is one other than the one
// sent ("mode=%ZZ" read as no choice at all). A body over the body limit's bound is the limit's
// 413; a body of another type (or of none) is a 415 wrapping ErrNotAForm, as Go reads it as no
// fields; anything else that cannot be read is a 400 wrapping ErrFormUnreadable. An empty body
// reads as no fields, whatever its type: there is nothing in it to drop (a sign-out sent by a
// script with the token in its header).
func ReadForm(r *http.Request) error {
	ct := r.Header.Get(echo.HeaderContentType)
	// Lower-cased, without its parameters. An error in a form type's parameters is ParseForm's
	// to find again and report (a 400).
	mediaType, _, _ := mime.ParseMediaType(ct)
	var err error
	switch {
	case mediaType == "multipart/form-data" && r.ContentLength != 0:
		// Not when the body is known to be empty: the multipart parser finds no closing
		// boundary in it, and such a body is an empty form, as it is of any other type.
		err = r.ParseMultipartForm(maxFormMemory)
	case mediaType == "application/x-www-form-urlencoded" || !formBody(r):
		// Not ParseMultipartForm: for a body that is not multipart, it answers ErrNotMultipart
		// and drops ParseForm's error.
		err = r.ParseForm()
	default:
		return echo.NewHTTPError(http.StatusUnsupportedMediaType, "This address takes a form sent from SMTP Desk's pages; nothing was changed.").
			SetInternal(fmt.Errorf("%w: Content-Type %q", ErrNotAForm, clip(ct, 100)))
	}
	if err == nil {
		return nil
	}
	if he, ok := errors.AsType[*echo.HTTPError](err); ok {
		return he // the body limit's 413
	}
	return echo.NewHTTPError(http.StatusBadRequest, "The form could not be read.").
		SetInternal(fmt.Errorf("%w: %w", ErrFormUnreadable, err))
}

// formBody reports whether r has a body that Go's parser would read as a form, were it one: a
// POST, PUT or PATCH with a body that is not known to be empty (a chunked one may be).
func formBody(r *http.Request) bool {
	switch r.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch:
		return r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0
	}
	return false
}

// ErrFormExpired is inside the error answering a form whose CSRF token is not the session's (the
// session was replaced, by signing in again in another tab, say); nothing was done.
var ErrFormExpired = errors.New("auth: the form's CSRF token is not the session's")

// ErrCrossSite is the internal error of a state-changing request that the browser says another
// site sent (Sec-Fetch-Site: cross-site): refused (403) whoever is signed in, nothing done.
var ErrCrossSite = errors.New("auth: a state-changing request sent from another site")

// sessionEnded is the error for a request that needs a session and has none: status 401, or 403
// where the CSRF check finds no session.
func sessionEnded(status int) error {
	return echo.NewHTTPError(status, "Your session has ended. Sign in again to continue.").SetInternal(ErrSessionEnded)
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions || m == http.MethodTrace
}

// CSRF refuses state-changing requests (any method but GET, HEAD, OPTIONS, TRACE) that come
// cross-site (Sec-Fetch-Site: cross-site) or lack the session's token in the form field _csrf or
// the X-CSRF-Token header, and a signed-in user's whose body is not a form or cannot be read
// (ReadForm: 415, 413 or 400), whatever the token. Signed-out users have no token, so their
// unsafe requests are refused, except POST /auth/logout, which is then a harmless no-op.
func (a *Auth) CSRF() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			if safeMethod(r.Method) {
				return next(c)
			}
			if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
				return echo.NewHTTPError(http.StatusForbidden, "This request came from another site and was refused.").SetInternal(ErrCrossSite)
			}
			rs, err := a.load(c)
			if err != nil {
				return err
			}
			var want string
			if rs.sess.ID == "" || !value(rs.sess, keyCSRF, &want) || want == "" {
				if r.URL.Path == LogoutPath {
					return next(c)
				}
				return sessionEnded(http.StatusForbidden)
			}
			// The body is read whatever the token is and wherever it comes from: one that is not
			// a form, or cannot be read, is refused here, before anything acts on it. With the
			// token in the header it used to go unread here, and a sign-out or the audit trail's
			// check, which read no field of it, acted on a JSON body.
			if err := ReadForm(r); err != nil {
				return err
			}
			got := r.Header.Get("X-CSRF-Token")
			if got == "" {
				// From the body only: a token in a URL would be one that pages, logs and
				// Referer headers can carry, and SMTP Desk never puts it there.
				got = r.PostForm.Get("_csrf")
			}
			if got, ok := unmaskToken(got); !ok || !equalConst(got, want) {
				return echo.NewHTTPError(http.StatusForbidden, "This form has expired. Reload the page and try again.").SetInternal(ErrFormExpired)
			}
			return next(c)
		}
	}
}

func fromContext(c echo.Context) *reqSession {
	rs, _ := c.Get(ctxKey).(*reqSession)
	return rs
}

// UserFrom returns the signed-in user, nil when signed out (or when the Session middleware did
// not run).
func UserFrom(c echo.Context) *User {
	if rs := fromContext(c); rs != nil {
		return rs.user
	}
	return nil
}

// CSRFToken returns the session's CSRF token for a form ("" when signed out), masked afresh on
// every call: a random pad and the token XOR the pad, base64url. Pages are compressed and some
// reflect what the request asked for (a filter), so a secret that stood in every page byte for
// byte could be read from the compressed sizes (BREACH); a masked token differs in every page.
// CSRF unmasks what a form sends back.
func CSRFToken(c echo.Context) string {
	rs := fromContext(c)
	if rs == nil || rs.sess.ID == "" {
		return ""
	}
	var t string
	if !value(rs.sess, keyCSRF, &t) || t == "" {
		return ""
	}
	return maskToken(t)
}

// maskToken returns base64url(pad ‖ token XOR pad) with a random pad as long as the token.
func maskToken(token string) string {
	n := len(token)
	b := make([]byte, 2*n)
	_, _ = rand.Read(b[:n]) // crypto/rand.Read never fails on supported platforms
	for i := range n {
		b[n+i] = token[i] ^ b[i]
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// unmaskToken reverses maskToken; ok is false for anything maskToken cannot have made.
func unmaskToken(s string) (token string, ok bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) == 0 || len(b)%2 != 0 {
		return "", false
	}
	n := len(b) / 2
	for i := range n {
		b[n+i] ^= b[i]
	}
	return string(b[n:]), true
}

// modify changes the session's values and saves them without losing what another request of
// the session saved meanwhile (SessionStore.Modify): change may run more than once, and reports
// whether there is anything to write.
func (rs *reqSession) modify(c echo.Context, change func(values map[any]any) bool) error {
	return rs.auth.store.Modify(c.Request(), c.Response(), rs.sess, change)
}

func signedIn(c echo.Context) (*reqSession, error) {
	rs := fromContext(c)
	if rs == nil || rs.sess.ID == "" || rs.user == nil {
		return nil, ErrNoSession
	}
	return rs, nil
}

// AddFlash stores a one-time message in the server-side session, shown on the next page.
func AddFlash(c echo.Context, kind, msg string) error {
	return addFlash(c, Flash{Kind: kind, Message: msg})
}

// AddFlashFor stores a one-time message about the page at path (and the pages below it), shown
// by the page whose address names it with ?flash=id (FlashParam): the link a page gives for it
// ("Done, back to the list"). Any other page leaves it be: another domain's page or the audit
// trail the user goes to instead, and another tab's view of the same list, which had taken the
// message of a reset it did not make (and the tab that made it then showed none).
func AddFlashFor(c echo.Context, path, kind, msg string) (id string, err error) {
	id = rand.Text()[:16]
	return id, addFlash(c, Flash{Kind: kind, Message: msg, For: path, ID: id})
}

func addFlash(c echo.Context, f Flash) error {
	rs, err := signedIn(c)
	if err != nil {
		return err
	}
	return rs.modify(c, func(values map[any]any) bool {
		var fs []Flash
		value(rs.sess, keyFlashes, &fs)
		if len(fs) >= 10 {
			fs = fs[len(fs)-9:]
		}
		values[keyFlashes] = append(fs, f)
		return true
	})
}

// Flashes returns and clears the session's flash messages: all of them, except those for
// another page (AddFlashFor), which stay for the page they name. A HEAD request gets none and
// clears none: its answer has no body, so no one would see them.
func Flashes(c echo.Context) []Flash {
	return takeFlashes(c, false)
}

// AddressedFlashes returns and clears only the flash message this page view's address names
// (?flash=, AddFlashFor), leaving the others for the next page: for an error page, which must
// not swallow them, but is the only page that can show a message made for this view (the list
// after a change, when Mailgun could not list it).
func AddressedFlashes(c echo.Context) []Flash {
	if c.QueryParam(FlashParam) == "" {
		return nil
	}
	return takeFlashes(c, true)
}

// takeFlashes is Flashes, or AddressedFlashes when addressedOnly is set.
func takeFlashes(c echo.Context, addressedOnly bool) []Flash {
	if c.Request().Method == http.MethodHead {
		return nil
	}
	rs, err := signedIn(c)
	if err != nil {
		return nil
	}
	var fs []Flash
	if !value(rs.sess, keyFlashes, &fs) || len(fs) == 0 {
		return nil
	}
	// Taken as the record holds them when they are cleared: a flash another request left since
	// this one read the session is shown here, not cleared unseen.
	here, asked := c.Request().URL.Path, c.QueryParam(FlashParam)
	var shown []Flash
	err = rs.modify(c, func(values map[any]any) bool {
		fs, shown = nil, nil
		if !value(rs.sess, keyFlashes, &fs) || len(fs) == 0 {
			return false // another request took them
		}
		var kept []Flash
		for _, f := range fs {
			forHere := f.For == "" || here == f.For || strings.HasPrefix(here, f.For+"/")
			switch {
			case f.ID != "" && (f.ID != asked || !forHere):
				kept = append(kept, f) // another page view's (AddFlashFor)
			case addressedOnly && f.ID == "":
				kept = append(kept, f) // the next page's
			case forHere:
				shown = append(shown, f)
			}
		}
		if len(kept) == len(fs) {
			return false
		}
		if len(kept) == 0 {
			delete(values, keyFlashes)
		} else {
			values[keyFlashes] = kept
		}
		return true
	})
	if err != nil {
		rs.auth.log.WarnContext(c.Request().Context(), "clearing flashes failed", "err", err)
	}
	return shown
}

// SetPref stores a small per-session preference (e.g. the last domain used).
func SetPref(c echo.Context, key, val string) error {
	rs, err := signedIn(c)
	if err != nil {
		return err
	}
	var tooMany bool
	err = rs.modify(c, func(values map[any]any) bool {
		prefs := map[string]string{}
		value(rs.sess, keyPrefs, &prefs)
		if prefs[key] == val {
			return false // already set, by this session before or by another request since
		}
		if tooMany = len(prefs) >= 32 && prefs[key] == ""; tooMany {
			return false
		}
		prefs[key] = val
		values[keyPrefs] = prefs
		return true
	})
	if tooMany {
		return fmt.Errorf("auth: too many preferences")
	}
	return err
}

// Pref returns a preference set with SetPref, "" when unset or signed out.
func Pref(c echo.Context, key string) string {
	rs, err := signedIn(c)
	if err != nil {
		return ""
	}
	prefs := map[string]string{}
	value(rs.sess, keyPrefs, &prefs)
	return prefs[key]
}

func (a *Auth) record(c echo.Context, e AuthEvent) {
	if a.events == nil {
		return
	}
	r := c.Request()
	e.RequestID = requestID(c)
	e.UserAgent = clip(r.UserAgent(), 512)
	e.ClientIP = a.clientIP(c)
	if err := a.events.RecordAuthEvent(r.Context(), e); err != nil {
		a.log.Error("recording auth event failed", "action", e.Action, "err", err, "request_id", e.RequestID)
	}
}

func requestID(c echo.Context) string {
	if id := c.Response().Header().Get(echo.HeaderXRequestID); id != "" {
		return id
	}
	return clip(c.Request().Header.Get(echo.HeaderXRequestID), 128)
}
