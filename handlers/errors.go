package handlers

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"github.com/smtpdesk/smtpdesk/audit"
	"github.com/smtpdesk/smtpdesk/auth"
	"github.com/smtpdesk/smtpdesk/mailgun"
	"github.com/smtpdesk/smtpdesk/store"
	"github.com/smtpdesk/smtpdesk/views"
)

// What every page says of Mailgun's 429: the error pages (classifyError, a list's listError)
// and a change's panel (upstreamError) alike.
const (
	mailgunRateLimited = "Mailgun is rate-limiting SMTP Desk"
	mailgunSlowDown    = "Mailgun asked SMTP Desk to slow down."
)

// StatusClientClosedRequest is the status the access log and the metrics give a request whose
// client left before any answer was sent (nginx's 499, "client closed request"). It is never
// sent: there is nobody to send it to.
const StatusClientClosedRequest = 499

// ErrServerStopping is the cause of a request's context when the server cut it off: it was still
// running when the shutdown's grace period ended. The server (cmd/web) cancels its requests'
// base context with it before it closes their connections, so that such a request is logged as
// cut off by the server (503), not as one its client left (499), and a change it cut off is
// recorded so in the audit trail (it is audit.ErrServerStopping).
var ErrServerStopping = audit.ErrServerStopping

// userError is what the user is told about an error, and what the log gets.
type userError struct {
	status     int
	heading    string
	message    string
	hint       string
	retryAfter time.Duration
	signIn     bool
	// comeBack: the sign-in button returns to the page the request came from (its same-site
	// Referer) or, for a GET, to the page itself.
	comeBack bool
	// keepsDraft: a form sent then was refused before anything was done (the session had
	// ended, the form had expired), so the page says whether what was typed is kept: the
	// browser script keeps a form's typed logins in the tab (a data-draft form) and fills them in
	// when the form is shown again.
	keepsDraft bool
	// acceptPost, when set, is the Accept-Post header of the answer (registered with IANA, from
	// the W3C's Linked Data Platform): the body types the address takes, for a client that sent
	// another and got a 415.
	acceptPost string
	// again: the cause may pass (Mailgun or the database down or slow, a rate limit), so a page
	// that only reads is worth loading again: its error page offers "Try again".
	again bool
	// hintForChanges: the hint is about a change ("Nothing was changed."), and a page that only
	// reads (GET, HEAD) goes without it.
	hintForChanges bool
}

// statusDefaults gives each status its friendly page.
func statusDefaults(status int) userError {
	p := userError{status: status, again: status >= 500 || status == http.StatusTooManyRequests}
	switch status {
	case http.StatusBadRequest:
		p.heading, p.message, p.hint = "Bad request", "SMTP Desk could not understand that request.", "Go back, check what you entered and try again."
	case http.StatusUnauthorized:
		p.heading, p.message, p.hint, p.signIn = "Please sign in", "You need to sign in to see this page.", "Sign in with your company account.", true
	case http.StatusForbidden:
		p.heading, p.message, p.hint = "You don't have access", "Your account is not allowed to do this.", "If you think you should have access, ask your administrator."
	case http.StatusNotFound:
		p.heading, p.message, p.hint = "Page not found", "There is nothing at this address.", "Check the address, or start again from the domain list."
	case http.StatusMethodNotAllowed:
		p.heading, p.message, p.hint = "Not allowed", "This page does not accept that kind of request.", "Start again from the domain list."
	case http.StatusRequestEntityTooLarge:
		p.heading, p.message, p.hint = "Request too large", "What you sent is larger than SMTP Desk accepts, so nothing was changed.",
			"Your browser's Back button returns to the form as you filled it in: send less from there. A create takes at most 100 logins at a time, one a line."
	case http.StatusTooManyRequests:
		p.heading, p.message, p.hint = "Too many requests", "Too many requests in a short time.", "Wait a moment, then try again."
	case http.StatusBadGateway:
		p.heading, p.message, p.hint = "Mailgun is unavailable", "Mailgun did not give a usable answer.", "Try again in a few minutes. If it keeps happening, tell your administrator and quote the request ID."
	case http.StatusServiceUnavailable:
		p.heading, p.message, p.hint = "Service unavailable", "SMTP Desk cannot serve this right now.", "Try again in a few minutes."
	case http.StatusGatewayTimeout:
		p.heading, p.message, p.hint = "Mailgun did not answer in time", "Mailgun took too long to answer.", "Check the list before trying again: a change may or may not have been made."
	default:
		if status >= 500 {
			p.heading, p.message, p.hint = "Something went wrong", "SMTP Desk hit an unexpected error.", "Try again. If it keeps happening, tell your administrator and quote the request ID."
		} else {
			p.heading, p.message, p.hint = http.StatusText(status), "SMTP Desk could not complete that request.", "Go back and try again."
		}
	}
	return p
}

// classifyError maps an error to what the user sees. Upstream and internal detail stay in the log.
func classifyError(err error) userError {
	var (
		he *echo.HTTPError
		me *mailgun.Error
		te *mailgun.TransportError
		ou *mailgun.OutcomeUnknownError
		uc *unknownChange
	)
	switch {
	case errors.Is(err, auth.ErrSessionEnded) && errors.As(err, &he):
		p := statusDefaults(he.Code)
		p.heading = "Your session has ended"
		p.message = "Nothing was changed: you had been signed out when this request arrived (after a while without activity, at the session's time limit, or by signing out)."
		p.hint = "Sign in again to come back to this page."
		p.signIn, p.comeBack, p.keepsDraft = true, true, true
		return p
	case errors.Is(err, auth.ErrFormExpired) && errors.As(err, &he):
		p := statusDefaults(he.Code)
		p.heading = "This form has expired"
		p.message = "Nothing was changed: the form came from an earlier sign-in, in this tab or another."
		p.hint = "Go back, reload the page and send the form again."
		p.keepsDraft = true
		return p
	case errors.Is(err, auth.ErrFormUnreadable) && errors.As(err, &he):
		// The parser's words ("invalid URL escape", "unexpected EOF") stay in the log.
		p := statusDefaults(he.Code)
		p.heading = "The form could not be read"
		p.message = "Nothing was changed: what the form sent could not be read."
		p.hint = "Go back, reload the page and send the form again."
		p.keepsDraft = true
		return p
	case errors.Is(err, auth.ErrCrossSite) && errors.As(err, &he):
		// Not "You don't have access … ask your administrator": access is not what is missing,
		// and the administrator cannot help; SMTP Desk's own page can.
		p := statusDefaults(he.Code)
		p.heading = "Sent from another site"
		p.message = "This request reached SMTP Desk from another website, so it was refused and nothing was changed."
		p.hint = "To make a change, open SMTP Desk and use its own pages."
		return p
	case errors.Is(err, auth.ErrNotAForm) && errors.As(err, &he):
		// A page's form never sends this (a script does): no draft to keep, no form to reopen.
		p := statusDefaults(he.Code)
		p.heading = "Not a form"
		p.message = "This address takes a form sent from SMTP Desk's pages; nothing was changed."
		p.hint = "Open the page in SMTP Desk and send its form from there."
		p.acceptPost = auth.FormTypes
		return p
	case errors.As(err, &uc), errors.As(err, &ou) && ou.Refusal != nil:
		// Before *mailgun.Error, which finds the (earlier) attempt's 5xx: that attempt's words
		// ("Mailgun is unavailable, try again") would hide that the change may have been made.
		return unknownChangeError(err)
	case errors.As(err, &me):
		switch {
		case me.StatusCode == http.StatusNotFound && me.Endpoint != "" && !strings.Contains(me.Endpoint, "{domain}"):
			// A call that names no domain or login (the domain list) answered 404: the address
			// SMTP Desk asks is wrong (MAILGUN_BASE_URL, a proxy in front of Mailgun), not the
			// user's, and the page is right where it is.
			p := statusDefaults(http.StatusBadGateway)
			p.message = "Mailgun answered that the address SMTP Desk asked for its domain list does not exist."
			p.hint = "Tell your administrator and quote the request ID below: MAILGUN_BASE_URL, or a proxy in front of Mailgun, may be wrong."
			p.again = false
			return p
		case me.StatusCode == http.StatusNotFound:
			p := statusDefaults(http.StatusNotFound)
			p.heading, p.message = "Not found in Mailgun", "Mailgun has no such domain or login."
			return p
		case me.StatusCode == http.StatusTooManyRequests:
			p := statusDefaults(http.StatusTooManyRequests)
			p.heading, p.message = mailgunRateLimited, mailgunSlowDown
			p.retryAfter = me.RetryAfter
			if p.retryAfter > 0 {
				// The page says how long to wait (Retry-After's words): not "a moment" as well;
				// a page that only reads changes nothing anyway (ErrorHandler drops the hint).
				p.hint, p.hintForChanges = "Nothing was changed.", true
			}
			return p
		case me.StatusCode == http.StatusUnauthorized || me.StatusCode == http.StatusForbidden:
			p := statusDefaults(http.StatusBadGateway)
			p.heading, p.message, p.hint = "Mailgun refused SMTP Desk's key", "SMTP Desk's Mailgun key was refused; tell your administrator.", "Quote the request ID below."
			p.again = false // until the administrator changes the key
			return p
		case me.StatusCode >= 500:
			p := statusDefaults(http.StatusBadGateway)
			if me.RetryAfter > 0 {
				// Mailgun said when to come back (a 503's Retry-After): the page says that wait,
				// not "a few minutes".
				p.retryAfter = me.RetryAfter
				p.hint = "If it keeps happening, tell your administrator and quote the request ID."
			}
			return p
		default:
			p := statusDefaults(http.StatusBadGateway)
			p.heading, p.message = "Mailgun refused the request", "Mailgun did not accept what SMTP Desk sent."
			p.hint = "Tell your administrator and quote the request ID below."
			p.again = false // the same request gets the same answer
			return p
		}
	case store.Damaged(err):
		// SQLite's file is damaged inside (its header was sound, so the server started): every
		// request that reads the damaged part fails so, and trying again changes nothing.
		p := statusDefaults(http.StatusInternalServerError)
		p.heading = "SMTP Desk's database is damaged"
		p.message = "The file SMTP Desk keeps its sessions and audit trail in is damaged, so this request was not completed."
		p.hint = "Tell your administrator and quote the request ID below: the file needs to be restored from a backup."
		p.again = false
		return p
	case errors.Is(err, store.ErrUnavailable):
		// Before the deadline below, which the store's error matches too: the page is about the
		// database, not Mailgun. Which request failed is in the log, with the request id.
		p := statusDefaults(http.StatusServiceUnavailable)
		p.heading = "The database is not answering"
		p.message = "SMTP Desk's database did not answer in time, so this request was not completed."
		p.hint = "Try again in a minute. If it keeps happening, tell your administrator and quote the request ID below."
		return p
	case errors.As(err, &te) && te.Timeout(), errors.Is(err, context.DeadlineExceeded):
		return statusDefaults(http.StatusGatewayTimeout)
	case te != nil, errors.Is(err, mailgun.ErrBadResponse):
		return statusDefaults(http.StatusBadGateway)
	case errors.Is(err, auth.ErrSignInRefused) && errors.As(err, &he):
		// The message is auth's: what went wrong, without the provider's own text.
		p := statusDefaults(he.Code)
		p.heading, p.signIn = "Sign-in did not complete", true
		if msg, ok := he.Message.(string); ok && msg != "" {
			p.message = msg
		}
		p.hint = "You are not signed in. Sign in again to start over."
		if he.Code == http.StatusForbidden {
			// The provider said no: a cancelled sign-in starts over, a refused user is refused again.
			p.hint = "If you cancelled, sign in again. Otherwise ask your administrator to give you access to SMTP Desk at your identity provider."
		}
		return p
	case errors.Is(err, auth.ErrSignInUnavailable):
		p := statusDefaults(http.StatusServiceUnavailable)
		p.heading = "Sign-in is unavailable"
		p.message = "SMTP Desk cannot reach your company's identity provider right now, so nobody can sign in."
		p.hint = "Try again in a minute. If it lasts, tell your administrator and quote the request ID below."
		return p
	case errors.Is(err, mailgun.ErrInvalidInput):
		p := statusDefaults(http.StatusBadRequest)
		p.message = "That domain or login name is not valid."
		return p
	case errors.Is(err, ErrTooManyLogins):
		p := statusDefaults(http.StatusServiceUnavailable)
		p.heading = "Too many logins to read at once"
		p.message = fmt.Sprintf("This domain reports more than %s logins, more than SMTP Desk reads in one go, which this page needs (a filter, the logins to rotate, an export, delete all).", views.Number(MaxAllLogins))
		p.hint = "Page through the domain's list instead; if the count cannot be right, tell your administrator and quote the request ID."
		p.again = false // the domain will not shrink by reloading
		return p
	case errors.Is(err, ErrListMoved):
		p := statusDefaults(http.StatusServiceUnavailable)
		p.heading = "The logins kept changing"
		p.message = "Logins of this domain were created or deleted while SMTP Desk read them, several times over, so it could not put together a list that leaves none out."
		p.hint = "Reload the page in a moment."
		return p
	case errors.As(err, &he):
		p := statusDefaults(he.Code)
		// Handler-written messages for 4xx are meant for users; echo's own generic ones and
		// anything on a 5xx are not shown.
		if msg, ok := he.Message.(string); ok && he.Code < 500 && msg != "" && msg != http.StatusText(he.Code) && !strings.HasPrefix(msg, "missing ") && !strings.HasPrefix(msg, "invalid ") {
			p.message = msg
		}
		return p
	}
	return statusDefaults(http.StatusInternalServerError)
}

// unknownChange is the error of a change whose outcome is unknown (outcomeUnknown: Mailgun's 5xx
// or no answer, also when a retry was then refused) whose own page could not be drawn: delete-all
// reads the list again to draw itself, and Mailgun failed that read too (list). The error page
// then says what the form's panel would (unknownChangeError), not the list's error, which reads
// as if nothing had been changed although the logins may be gone.
type unknownChange struct {
	change error       // the change's error, which Unwrap returns
	list   error       // what reading the list again got: for the log
	text   failureText // what the change's panel says it cannot tell
}

func (u *unknownChange) Error() string {
	return fmt.Sprintf("%v (then reading the list: %v)", u.change, u.list)
}

func (u *unknownChange) Unwrap() error { return u.change }

// unknownChangeError is the error page of a change whose outcome is unknown: one whose retry
// Mailgun refused (a *mailgun.OutcomeUnknownError in err), or an *unknownChange. It has the words
// and the status of the form's panel (retryRefused, upstreamStatus): what SMTP Desk cannot tell,
// what Mailgun said to a retry it refused, and what to do, with a refused key to be fixed first
// and, when Mailgun no longer has the domain, another picked on the home page. No "Try again": it
// would not say what the first attempt did.
func unknownChangeError(err error) userError {
	p := statusDefaults(upstreamStatus(err))
	// errors.As finds the attempt whose outcome is unknown, never a retry's refusal
	// (mailgun.OutcomeUnknownError.Unwrap).
	text := failureText{whether: "the change was made"}
	if uc, ok := errors.AsType[*unknownChange](err); ok {
		text = uc.text
	}
	p.heading, p.message = text.says(err)
	p.hint = "Check the list once Mailgun answers, before trying again. If this keeps happening, tell your administrator and quote the request ID below."
	if ou, ok := errors.AsType[*mailgun.OutcomeUnknownError](err); ok && ou.Refusal != nil {
		fact, key := retryRefusalFact(ou.Refusal)
		p.message += " " + fact
		switch {
		case key:
			p.heading = "SMTP Desk could not sign in to Mailgun"
			p.hint = keyFirst + " Then check the list before trying again."
		case domainNotFound(ou.Refusal):
			p.hint = domainGone
		}
	}
	p.again = false
	return p
}

// retryText says when to try again: "in 30 seconds", "in 2 minutes", "in 3 hours", "in 5 days".
func retryText(d time.Duration) string {
	if d <= 0 {
		return ""
	}
	s := int(math.Ceil(d.Seconds()))
	if s < 120 {
		if s == 1 {
			return "in 1 second"
		}
		return fmt.Sprintf("in %d seconds", s)
	}
	if m := (s + 59) / 60; m < 120 {
		return fmt.Sprintf("in %d minutes", m)
	}
	// A wait of hours or days (a Retry-After date far ahead) in units a person reads.
	if h := (s + 3599) / 3600; h < 48 {
		return fmt.Sprintf("in %d hours", h)
	}
	return fmt.Sprintf("in %d days", (s+86399)/86400)
}

// ErrorHandler is echo's HTTPErrorHandler: it maps errors to statuses and friendly pages (or
// JSON for clients that want it), logs 5xx at Error and 4xx at Warn with the request id and the
// detail, and never shows internal or upstream detail to the user (SECURITY.md item 19).
func ErrorHandler(logger *slog.Logger) echo.HTTPErrorHandler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return func(err error, c echo.Context) {
		req := c.Request()
		rid := RequestID(c)
		if errors.Is(err, context.Canceled) && errors.Is(context.Cause(req.Context()), ErrServerStopping) {
			logger.LogAttrs(req.Context(), slog.LevelWarn, "request cut off: the server is stopping and its grace period ended",
				slog.String("request_id", rid), slog.String("path", req.URL.Path))
			if res := c.Response(); !res.Committed {
				// Its connection is closed next, so nothing arrives; the access log and the
				// metrics read the status: the server's doing, not the client's (499).
				res.Status = http.StatusServiceUnavailable
			}
			return
		}
		if errors.Is(err, context.Canceled) && req.Context().Err() != nil {
			logger.LogAttrs(req.Context(), slog.LevelInfo, "request canceled by the client",
				slog.String("request_id", rid), slog.String("path", req.URL.Path))
			if res := c.Response(); !res.Committed {
				// Nothing is sent (nobody is there to read it), but the access log and the
				// metrics read the status here: left alone, it is echo's 200, and a request
				// that got no answer would count as one answered.
				res.Status = StatusClientClosedRequest
			}
			return
		}
		p := classifyError(err)
		if p.hintForChanges && (req.Method == http.MethodGet || req.Method == http.MethodHead) {
			p.hint = ""
		}
		_, retried := errors.AsType[*mailgun.OutcomeUnknownError](err)
		_, unknown := errors.AsType[*unknownChange](err)
		if changed := retried || unknown; p.status == http.StatusGatewayTimeout && (req.Method == http.MethodGet || req.Method == http.MethodHead) && !changed {
			// A page that only reads sent Mailgun no change: its timeout has nothing to check. (A
			// change whose outcome is unknown keeps its words: it is a change, whatever the method.)
			p.message = "Mailgun took too long to answer. Nothing was changed."
			p.hint = "Reload the page in a moment. If it keeps happening, tell your administrator and quote the request ID."
		}
		level := slog.LevelWarn
		if p.status >= 500 {
			level = slog.LevelError
		}
		logger.LogAttrs(req.Context(), level, "request failed",
			slog.Int("status", p.status),
			slog.String("method", req.Method),
			slog.String("path", req.URL.Path),
			slog.String("request_id", rid),
			slog.String("error", err.Error()),
		)
		if c.Response().Committed {
			return
		}
		h := c.Response().Header()
		if p.acceptPost != "" {
			h.Set("Accept-Post", p.acceptPost)
		}
		if p.retryAfter > 0 {
			h.Set("Retry-After", strconv.Itoa(int(math.Ceil(p.retryAfter.Seconds()))))
		}
		// No error answer is stored, signed in or not. A signed-in user's error page names them
		// and carries the sign-out form's CSRF token (and the signed-in routes' own middleware,
		// uncached, has not run for a refusal made before routing, such as the CSRF check's). A
		// public one is about this moment too, and 404 and 405 are cacheable by default (RFC 9111
		// 4.2.2). A static file's 404, answered during a rolling deploy by an instance that does
		// not have that build's file, went out with no Cache-Control: a CDN that keeps such a 404
		// for minutes (Cloudflare's default for a .css) would then serve every page of the new
		// build unstyled once the deploy was over. A 405 or 429 is over a moment later as well.
		h.Set(echo.HeaderCacheControl, "no-store")
		if req.Method == http.MethodHead {
			_ = c.NoContent(p.status)
			return
		}
		msg := p.message
		if rt := retryText(p.retryAfter); rt != "" {
			msg += " Try again " + rt + "."
		}
		if wantsJSON(req) {
			if jerr := c.JSON(p.status, map[string]string{"error": msg, "request_id": rid}); jerr != nil {
				logger.LogAttrs(req.Context(), slog.LevelError, "write error response", slog.String("request_id", rid), slog.String("error", jerr.Error()))
			}
			return
		}
		vm := views.ErrorVM{
			Page:       pageBase(c, p.heading),
			Status:     p.status,
			Heading:    p.heading,
			Message:    p.message,
			Hint:       p.hint,
			RetryAfter: retryText(p.retryAfter),
		}
		if s, ok := c.Get(siteKey).(*site); ok {
			s.frameError(c, &vm.Page)
		}
		if u := vm.User; u != nil && errors.Is(err, auth.ErrSignInRefused) {
			// A refused sign-in leaves the session it came in with as it was (the browser's Back
			// to the provider's page and another account chosen: its state was used up), so the
			// page must not say "You are not signed in" under a top bar naming the user.
			still := "You are still signed in."
			if who := cmp.Or(strings.TrimSpace(u.Name), strings.TrimSpace(u.Email)); who != "" {
				still = "You are still signed in as " + who + "."
			}
			vm.Hint = still + " To sign in as someone else, sign in again."
			if p.status == http.StatusForbidden {
				vm.Hint = still + " " + p.hint
			}
		}
		if p.again && !p.signIn && req.Method == http.MethodGet {
			// The page itself, loaded again; beside "Back to domains", which would leave it (and
			// on the domain list, led to the same failing page).
			vm.Next = &views.Link{Label: "Try again", URL: templ.SafeURL(auth.SafeNext(req.URL.RequestURI()))}
			if req.URL.Path == auth.CallbackPath {
				// A sign-in's way back from the provider is good once: its state was used up as it
				// arrived, so loading it again ended on "Sign-in did not complete". A new sign-in
				// is what trying again means here.
				vm.Next = &views.Link{Label: "Sign in again", URL: auth.LoginPath}
			}
		}
		if p.status == http.StatusRequestEntityTooLarge && req.Method == http.MethodPost {
			// The form that was too large, when the request says which (its same-site Referer),
			// for a browser whose Back button does not return to it.
			if back := returnPath(c); back != "/" {
				vm.Next = &views.Link{Label: "Open the form again", URL: templ.SafeURL(back)}
			}
		}
		if p.keepsDraft && req.Method == http.MethodPost {
			vm.KeepsDraft = true
			if back := returnPath(c); back != "/" && !p.signIn {
				// The form again (a fresh token), which the kept logins fill in.
				vm.Next = &views.Link{Label: "Open the form again", URL: templ.SafeURL(back)}
				vm.Hint = "Open the form again and send it."
			}
		}
		if p.signIn {
			vm.SignInURL = auth.LoginPath
			if p.comeBack {
				vm.SignInURL += "?next=" + url.QueryEscape(returnPath(c))
			}
		}
		if rerr := Render(c, p.status, views.ErrorPage(vm)); rerr != nil {
			logger.LogAttrs(req.Context(), slog.LevelError, "render error page", slog.String("request_id", rid), slog.String("error", rerr.Error()))
			if !c.Response().Committed {
				_ = c.String(p.status, p.heading+"\n"+msg+"\nRequest ID: "+rid+"\n")
			}
		}
	}
}

// returnPath is where signing in again after c's request failed should lead: for a GET, its own
// address; otherwise the page it came from when its Referer is on this site (the page holding
// the form that was sent; on the host the browser addressed, browserHost), else the start page.
// auth.SafeNext keeps it a path on this site.
func returnPath(c echo.Context) string {
	req := c.Request()
	if req.Method == http.MethodGet {
		return auth.SafeNext(req.URL.RequestURI())
	}
	if ref, err := url.Parse(req.Referer()); err == nil && ref.Host != "" && ref.Host == browserHost(c) {
		return auth.SafeNext(ref.RequestURI())
	}
	return "/"
}

// wantsJSON reports whether the client asked for JSON and not HTML.
func wantsJSON(r *http.Request) bool {
	accept := r.Header.Get(echo.HeaderAccept)
	return strings.Contains(accept, echo.MIMEApplicationJSON) && !strings.Contains(accept, echo.MIMETextHTML)
}
