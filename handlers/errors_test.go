package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"github.com/smtpdesk/smtpdesk/auth"
	"github.com/smtpdesk/smtpdesk/mailgun"
	"github.com/smtpdesk/smtpdesk/store"
)

// secretDetail stands for anything internal: it must reach the log and never the user.
const secretDetail = "key-SECRET-DETAIL-0123"

func TestErrorHandlerMapping(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		status     int
		heading    string // substring of the page heading
		message    string // substring of the message, "" to skip
		retryAfter string // Retry-After header, "" for none
		level      string
	}{
		{"echo 400", echo.NewHTTPError(http.StatusBadRequest, "missing csrf token "+secretDetail).SetInternal(errors.New(secretDetail)), 400, "Bad request", "", "", "WARN"},
		{"echo 401", echo.NewHTTPError(http.StatusUnauthorized), 401, "Please sign in", "", "", "WARN"},
		{"echo 403 with message", echo.NewHTTPError(http.StatusForbidden, "You can't delete logins on acme.example"), 403, "You don't have access", "You can't delete logins on acme.example", "", "WARN"},
		{"echo 404", echo.ErrNotFound, 404, "Page not found", "", "", "WARN"},
		{"mailgun 404", &mailgun.Error{StatusCode: 404, Message: "Domain not found " + secretDetail}, 404, "Not found in Mailgun", "", "", "WARN"},
		{"mailgun 429", fmt.Errorf("list: %w", &mailgun.Error{StatusCode: 429, Message: secretDetail, RetryAfter: 1500 * time.Millisecond}), 429, "rate-limiting", "", "2", "WARN"},
		{"mailgun 401", &mailgun.Error{StatusCode: 401, Message: "Forbidden " + secretDetail}, 502, "refused", "SMTP Desk's Mailgun key was refused; tell your administrator", "", "ERROR"},
		{"mailgun 403", &mailgun.Error{StatusCode: 403, Message: secretDetail}, 502, "refused", "Mailgun key was refused", "", "ERROR"},
		{"mailgun 500", &mailgun.Error{StatusCode: 500, Message: secretDetail}, 502, "Mailgun is unavailable", "", "", "ERROR"},
		{"mailgun 503", &mailgun.Error{StatusCode: 503, Message: secretDetail}, 502, "Mailgun is unavailable", "", "", "ERROR"},
		// Mailgun down for maintenance, saying for how long: the page says that wait.
		{"mailgun 503 with Retry-After", &mailgun.Error{StatusCode: 503, Message: secretDetail, RetryAfter: 20 * time.Second}, 502, "Mailgun is unavailable", "", "20", "ERROR"},
		{"mailgun 400", &mailgun.Error{StatusCode: 400, Message: secretDetail}, 502, "Mailgun refused the request", "", "", "ERROR"},
		{"bad response", fmt.Errorf("list: %w: %s", mailgun.ErrBadResponse, secretDetail), 502, "Mailgun is unavailable", "", "", "ERROR"},
		{"transport timeout", &mailgun.TransportError{Method: "GET", Endpoint: "list", Err: fmt.Errorf("%s: %w", secretDetail, context.DeadlineExceeded)}, 504, "Mailgun did not answer in time", "", "", "ERROR"},
		{"deadline", fmt.Errorf("%s: %w", secretDetail, context.DeadlineExceeded), 504, "Mailgun did not answer in time", "", "", "ERROR"},
		{"database deadline", fmt.Errorf("auth: load session: store: get session: %w (%s): %w", store.ErrUnavailable, secretDetail, context.DeadlineExceeded), 503, "The database is not answering", "did not answer in time", "", "ERROR"},
		{"database unreachable", fmt.Errorf("store: append audit: %w: connection refused %s", store.ErrUnavailable, secretDetail), 503, "The database is not answering", "did not answer in time", "", "ERROR"},
		{"transport refused", &mailgun.TransportError{Method: "GET", Endpoint: "list", Err: errors.New("dial tcp: connection refused " + secretDetail)}, 502, "Mailgun is unavailable", "", "", "ERROR"},
		{"invalid input", fmt.Errorf("%w: %s", mailgun.ErrInvalidInput, secretDetail), 400, "Bad request", "not valid", "", "WARN"},
		{"echo 503", echo.NewHTTPError(http.StatusServiceUnavailable, secretDetail), 503, "Service unavailable", "", "", "ERROR"},
		{"echo 500 message hidden", echo.NewHTTPError(http.StatusInternalServerError, secretDetail), 500, "Something went wrong", "", "", "ERROR"},
		{"plain error", errors.New("query failed: password=" + secretDetail), 500, "Something went wrong", "", "", "ERROR"},
		{"too many logins", fmt.Errorf("list all: %w: huge.example reports %s logins", ErrTooManyLogins, secretDetail), 503, "Too many logins to read at once", "more than 1,000,000 logins", "", "ERROR"},
		// A change whose retry Mailgun refused after an attempt with no answer or a 5xx: the words
		// of the form's panel, not the earlier attempt's "Mailgun is unavailable" (the change may
		// have been made), nor the refusal's own (which says nothing was).
		{"retry refused: key, after no answer", &mailgun.OutcomeUnknownError{
			Earlier: &mailgun.TransportError{Method: "DELETE", Endpoint: "delete", Err: errors.New("EOF " + secretDetail)},
			Refusal: &mailgun.Error{StatusCode: 401, Message: "Forbidden " + secretDetail}}, 502, "SMTP Desk could not sign in to Mailgun",
			"Mailgun did not answer, so SMTP Desk cannot tell whether the change was made. SMTP Desk asked again, and Mailgun refused its API key.", "", "ERROR"},
		{"retry refused: domain gone, after a 503", fmt.Errorf("delete: %w", &mailgun.OutcomeUnknownError{
			Earlier: &mailgun.Error{StatusCode: 503, Message: secretDetail},
			Refusal: &mailgun.Error{StatusCode: 404, Message: "Domain not found " + secretDetail}}), 502, "Mailgun failed",
			"Mailgun answered with an error, so SMTP Desk cannot tell whether the change was made. SMTP Desk asked again, and Mailgun refused. Mailgun has no such domain.", "", "ERROR"},
		{"retry refused: a proxy's 404, after a timeout", &mailgun.OutcomeUnknownError{
			Earlier: &mailgun.TransportError{Method: "PUT", Endpoint: "update", Err: fmt.Errorf("%s: %w", secretDetail, context.DeadlineExceeded)},
			Refusal: &mailgun.Error{StatusCode: 404, Message: secretDetail}}, 504, "Mailgun did not answer",
			"Mailgun did not answer, so SMTP Desk cannot tell whether the change was made. SMTP Desk asked again, and Mailgun refused (HTTP 404).", "", "ERROR"},
		{"sign-in refused by the provider", echo.NewHTTPError(http.StatusForbidden, "Your identity provider did not sign you in (it answered access_denied).").SetInternal(fmt.Errorf("%w: %s", auth.ErrSignInRefused, secretDetail)), 403, "Sign-in did not complete", "it answered access_denied", "", "WARN"},
		// A session also ends at its time limit (SESSION_MAX_AGE), however active its user was:
		// the page named only inactivity and signing out.
		{"session ended", echo.NewHTTPError(http.StatusUnauthorized, "Your session has ended. Sign in again to continue.").SetInternal(auth.ErrSessionEnded), 401, "Your session has ended", "at the session's time limit", "", "WARN"},
		{"sign-in callback refused", echo.NewHTTPError(http.StatusBadRequest, "Sign-in could not be completed.").SetInternal(fmt.Errorf("%w: %s", auth.ErrSignInRefused, secretDetail)), 400, "Sign-in did not complete", "could not be completed", "", "WARN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, logs := newBackboneEcho(t, MiddlewareConfig{})
			e.GET("/x", func(c echo.Context) error { return tt.err })
			rec := serve(e, httptest.NewRequest(http.MethodGet, "/x", nil))
			if rec.Code != tt.status {
				t.Errorf("status = %d, want %d", rec.Code, tt.status)
			}
			if got := rec.Header().Get("Retry-After"); got != tt.retryAfter {
				t.Errorf("Retry-After = %q, want %q", got, tt.retryAfter)
			}
			body := rec.Body.String()
			if strings.Contains(body, secretDetail) {
				t.Errorf("the page shows internal detail:\n%s", body)
			}
			doc, err := goquery.NewDocumentFromReader(strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			if got := doc.Find(`[data-testid="error-status"]`).Text(); got != fmt.Sprint(tt.status) {
				t.Errorf("page status = %q, want %d", got, tt.status)
			}
			if got := doc.Find(`[data-testid="error-heading"]`).Text(); !strings.Contains(got, tt.heading) {
				t.Errorf("heading = %q, want it to contain %q", got, tt.heading)
			}
			if got := doc.Find(`[data-testid="error-message"]`).Text(); !strings.Contains(got, tt.message) {
				t.Errorf("message = %q, want it to contain %q", got, tt.message)
			}
			rid := rec.Header().Get("X-Request-ID")
			if got := doc.Find(`[data-testid="request-id"]`).Text(); got != rid || rid == "" {
				t.Errorf("page request id = %q, header %q", got, rid)
			}
			if tt.retryAfter != "" {
				if got := doc.Find(`[data-testid="retry-after"]`).Text(); !strings.Contains(got, "in "+tt.retryAfter+" second") {
					t.Errorf("retry hint = %q, want in %s seconds", got, tt.retryAfter)
				}
				// The wait is said once, in seconds: the hint does not add "a moment".
				if got := doc.Find(`[data-testid="error-hint"]`).Text(); strings.Contains(got, "moment") {
					t.Errorf("hint = %q beside a wait of %s seconds", got, tt.retryAfter)
				}
			}
			if (tt.status == 401 || errors.Is(tt.err, auth.ErrSignInRefused)) && doc.Find(`[data-testid="sign-in"]`).Length() != 1 {
				t.Errorf("%d page has no sign-in button", tt.status)
			}
			if errors.Is(tt.err, auth.ErrSignInRefused) {
				want := "Sign in again to start over"
				if tt.status == http.StatusForbidden {
					want = "ask your administrator to give you access"
				}
				if got := doc.Find(`[data-testid="error-hint"]`).Text(); !strings.Contains(got, want) {
					t.Errorf("hint = %q, want it to say %q", got, want)
				}
			}
			// The log has the detail, the request id, and the right level.
			var found bool
			for _, r := range logRecords(t, logs) {
				if r["msg"] == "request failed" {
					found = true
					if r["level"] != tt.level {
						t.Errorf("log level = %v, want %s", r["level"], tt.level)
					}
					if r["request_id"] != rid {
						t.Errorf("log request_id = %v, want %s", r["request_id"], rid)
					}
					if strings.Contains(tt.err.Error(), secretDetail) && !strings.Contains(fmt.Sprint(r["error"]), secretDetail) {
						t.Errorf("log error = %v, want the detail", r["error"])
					}
				}
			}
			if !found {
				t.Error("the error was not logged")
			}
		})
	}
}

// TestErrorHandlerRetryRefused: the error page of a change whose retry Mailgun refused says what
// to do after what happened: with the key refused, that the administrator must fix it before
// the list can be checked; with the domain gone from Mailgun, to pick another on the home page
// (the domain's list is its 404 page); otherwise, to check the list. It offers no "Try again", which would
// not tell what the first attempt did (the table above checks the heading and the message).
func TestErrorHandlerRetryRefused(t *testing.T) {
	earlier := &mailgun.Error{StatusCode: 503, Message: "Service Unavailable"}
	for _, tt := range []struct {
		name    string
		refusal *mailgun.Error
		hint    string
	}{
		{"key", &mailgun.Error{StatusCode: 403, Message: "Forbidden"},
			"Tell your administrator, who must fix the key first, and quote the request ID below. Then check the list before trying again."},
		{"domain gone", &mailgun.Error{StatusCode: 404, Message: "Domain not found"},
			"Pick a domain from the list on the home page."},
		{"other", &mailgun.Error{StatusCode: 400, Message: "Bad request"},
			"Check the list once Mailgun answers, before trying again. If this keeps happening, tell your administrator and quote the request ID below."},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e, _ := newBackboneEcho(t, MiddlewareConfig{})
			e.GET("/x", func(c echo.Context) error {
				return &mailgun.OutcomeUnknownError{Earlier: earlier, Refusal: tt.refusal}
			})
			rec := serve(e, httptest.NewRequest(http.MethodGet, "/x", nil))
			doc, err := goquery.NewDocumentFromReader(rec.Body)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(strings.Fields(doc.Find(`[data-testid="error-hint"]`).Text()), " "); got != tt.hint {
				t.Errorf("hint = %q, want %q", got, tt.hint)
			}
			if n := doc.Find(`a:contains("Try again")`).Length(); n != 0 {
				t.Errorf("the page offers \"Try again\" (%d links)", n)
			}
		})
	}
}

func TestErrorHandlerJSON(t *testing.T) {
	e, _ := newBackboneEcho(t, MiddlewareConfig{})
	e.GET("/x", func(c echo.Context) error {
		return &mailgun.Error{StatusCode: 429, Message: secretDetail, RetryAfter: 10 * time.Second}
	})
	tests := []struct {
		accept   string
		wantJSON bool
	}{
		{"application/json", true},
		{"application/json, text/plain", true},
		{"text/html,application/xhtml+xml,application/json;q=0.9", false},
		{"", false},
	}
	for _, tt := range tests {
		req := httptest.NewRequest(http.MethodGet, "/x", nil)
		req.Header.Set("Accept", tt.accept)
		rec := serve(e, req)
		if got, want := rec.Code, 429; got != want {
			t.Errorf("%q: status %d, want %d", tt.accept, got, want)
		}
		isJSON := strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json")
		if isJSON != tt.wantJSON {
			t.Errorf("Accept %q: Content-Type %q, want JSON=%v", tt.accept, rec.Header().Get("Content-Type"), tt.wantJSON)
			continue
		}
		if !tt.wantJSON {
			continue
		}
		var body map[string]string
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatalf("body %q: %v", rec.Body, err)
		}
		if body["request_id"] != rec.Header().Get("X-Request-ID") || body["request_id"] == "" {
			t.Errorf("request_id = %q, header %q", body["request_id"], rec.Header().Get("X-Request-ID"))
		}
		if !strings.Contains(body["error"], "in 10 seconds") {
			t.Errorf("error = %q, want a retry hint", body["error"])
		}
		if strings.Contains(rec.Body.String(), secretDetail) {
			t.Error("JSON shows internal detail")
		}
	}
}

func TestErrorHandlerHEADAndCommitted(t *testing.T) {
	e, logs := newBackboneEcho(t, MiddlewareConfig{})
	e.HEAD("/x", func(c echo.Context) error { return echo.ErrForbidden })
	e.GET("/half", func(c echo.Context) error {
		_ = c.String(http.StatusOK, "partial")
		return errors.New("late failure " + secretDetail)
	})
	rec := serve(e, httptest.NewRequest(http.MethodHead, "/x", nil))
	if rec.Code != 403 || rec.Body.Len() != 0 {
		t.Errorf("HEAD: %d with %d body bytes, want 403 and none", rec.Code, rec.Body.Len())
	}
	rec = serve(e, httptest.NewRequest(http.MethodGet, "/half", nil))
	if rec.Code != 200 || rec.Body.String() != "partial" {
		t.Errorf("committed response changed: %d %q", rec.Code, rec.Body)
	}
	if !strings.Contains(logs.String(), "late failure") {
		t.Error("the error after commit was not logged")
	}
}

// failing is a component whose render fails half-way.
func failing() templ.Component {
	return templ.ComponentFunc(func(ctx context.Context, w io.Writer) error {
		_, _ = io.WriteString(w, "<p>half a page "+secretDetail)
		return errors.New("template exploded")
	})
}

func TestRenderErrorBecomesCleanPage(t *testing.T) {
	e, _ := newBackboneEcho(t, MiddlewareConfig{})
	e.GET("/broken", func(c echo.Context) error { return Render(c, http.StatusOK, failing()) })
	e.GET("/ok", func(c echo.Context) error {
		return Render(c, http.StatusCreated, templ.Raw("<p>fine</p>"))
	})
	rec := serve(e, httptest.NewRequest(http.MethodGet, "/broken", nil))
	if rec.Code != 500 {
		t.Errorf("status = %d, want 500", rec.Code)
	}
	if strings.Contains(rec.Body.String(), "half a page") {
		t.Error("half-rendered output was sent")
	}
	rec = serve(e, httptest.NewRequest(http.MethodGet, "/ok", nil))
	if rec.Code != 201 || rec.Body.String() != "<p>fine</p>" || rec.Header().Get("Content-Type") != "text/html; charset=UTF-8" {
		t.Errorf("Render: %d %q %q", rec.Code, rec.Body, rec.Header().Get("Content-Type"))
	}
}

func TestRetryText(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, ""}, {time.Second, "in 1 second"}, {1100 * time.Millisecond, "in 2 seconds"}, {90 * time.Second, "in 90 seconds"}, {5 * time.Minute, "in 5 minutes"},
		{119 * time.Minute, "in 119 minutes"}, {2 * time.Hour, "in 2 hours"}, {46*time.Hour + time.Minute, "in 47 hours"}, {47*time.Hour + time.Minute, "in 2 days"},
		{48 * time.Hour, "in 2 days"}, {365 * 24 * time.Hour, "in 365 days"}, {292 * 365 * 24 * time.Hour, "in 106580 days"},
	}
	for _, tt := range tests {
		if got := retryText(tt.d); got != tt.want {
			t.Errorf("retryText(%s) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

// TestReturnPath: signing in again after a refused request leads back to the page itself for a
// GET, to the same-site page a form came from otherwise, and never off the site.
func TestReturnPath(t *testing.T) {
	tests := []struct {
		name, method, target, referer, want string
	}{
		{"get", http.MethodGet, "/d/acme.example?page=2", "http://desk.example/", "/d/acme.example?page=2"},
		{"post from a form", http.MethodPost, "/d/acme.example/new", "http://desk.example/d/acme.example/new", "/d/acme.example/new"},
		{"post from a form with a query", http.MethodPost, "/d/acme.example/delete-all", "http://desk.example/d/acme.example/delete-all?x=1", "/d/acme.example/delete-all?x=1"},
		{"post without a referer", http.MethodPost, "/d/acme.example/new", "", "/"},
		{"post from another site", http.MethodPost, "/d/acme.example/new", "https://evil.example/d/acme.example/new", "/"},
		{"a referer that is no page here", http.MethodPost, "/d/acme.example/new", "http://desk.example//evil.example", "/"},
	}
	// Behind a trusted proxy that passes the browser's host in X-Forwarded-Host (Use keeps it as
	// the browser's host), the Host header is the proxy's name for SMTP Desk: the form's page is
	// on the browser's host.
	proxied := []struct {
		name, method, target, referer, want string
	}{
		{"behind a proxy, post from a form", http.MethodPost, "/d/acme.example/new", "http://desk.example/d/acme.example/new", "/d/acme.example/new"},
		{"behind a proxy, post from the proxy's own name", http.MethodPost, "/d/acme.example/new", "http://backend.internal:8080/d/acme.example/new", "/"},
	}
	for i, tt := range append(tests, proxied...) {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, "http://desk.example"+tt.target, nil)
			if tt.referer != "" {
				req.Header.Set("Referer", tt.referer)
			}
			c := echo.New().NewContext(req, httptest.NewRecorder())
			if i >= len(tests) {
				req.Host = "backend.internal:8080"
				c.Set(browserHostKey, "desk.example")
			}
			if got := returnPath(c); got != tt.want {
				t.Errorf("returnPath = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestErrorPageOffersTryAgain: a page that only reads (a GET) and failed for a reason that may
// pass (Mailgun or the database down or slow, a rate limit) offers "Try again", the same address
// loaded again; on the domain list itself that is the only button, since "Back to domains" would
// lead to the same place. A form's failed POST, a refusal, a missing page, and causes that
// reloading does not cure (Mailgun refusing the key, a domain too large) offer no such button.
func TestErrorPageOffersTryAgain(t *testing.T) {
	tests := []struct {
		name, method, path string
		err                error
		again              bool // "Try again" to path
		back               bool // "Back to domains"
	}{
		{"Mailgun down", http.MethodGet, "/d/acme.example?page=2&q=al", &mailgun.Error{StatusCode: 503}, true, true},
		{"Mailgun down, domain list", http.MethodGet, "/", &mailgun.Error{StatusCode: 503}, true, false},
		{"Mailgun unreachable", http.MethodGet, "/d/acme.example", &mailgun.TransportError{Method: "GET", Endpoint: "list", Err: errors.New("connection refused")}, true, true},
		{"Mailgun slow", http.MethodGet, "/d/acme.example", fmt.Errorf("list: %w", context.DeadlineExceeded), true, true},
		{"Mailgun rate limit", http.MethodGet, "/d/acme.example", &mailgun.Error{StatusCode: 429, RetryAfter: time.Second}, true, true},
		{"database", http.MethodGet, "/audit", fmt.Errorf("%w: connection refused", store.ErrUnavailable), true, true},
		{"unexpected", http.MethodGet, "/audit", errors.New("boom"), true, true},
		{"a form's POST", http.MethodPost, "/d/acme.example/new", &mailgun.Error{StatusCode: 503}, false, true},
		{"key refused", http.MethodGet, "/d/acme.example", &mailgun.Error{StatusCode: 401}, false, true},
		{"Mailgun refused the request", http.MethodGet, "/d/acme.example", &mailgun.Error{StatusCode: 400}, false, true},
		{"too many logins", http.MethodGet, "/d/huge.example?q=x", fmt.Errorf("%w: huge", ErrTooManyLogins), false, true},
		{"not found", http.MethodGet, "/nope", echo.ErrNotFound, false, true},
		{"forbidden", http.MethodGet, "/d/acme.example", echo.NewHTTPError(http.StatusForbidden), false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, _ := newBackboneEcho(t, MiddlewareConfig{})
			route := tt.path
			if i := strings.IndexByte(route, '?'); i >= 0 {
				route = route[:i]
			}
			e.Add(tt.method, route, func(c echo.Context) error { return tt.err })
			rec := serve(e, httptest.NewRequest(tt.method, tt.path, nil))
			doc, err := goquery.NewDocumentFromReader(rec.Body)
			if err != nil {
				t.Fatal(err)
			}
			next := doc.Find(`[data-testid="next-link"]`)
			switch {
			case tt.again && next.Length() != 1:
				t.Errorf("status %d: no Try again button", rec.Code)
			case tt.again:
				if got := strings.TrimSpace(next.Text()); got != "Try again" {
					t.Errorf("button label = %q, want Try again", got)
				}
				if got := next.AttrOr("href", ""); got != tt.path {
					t.Errorf("Try again leads to %q, want %q", got, tt.path)
				}
			case next.Length() != 0:
				t.Errorf("status %d: offers %q (%s), want no such button", rec.Code, strings.TrimSpace(next.Text()), next.AttrOr("href", ""))
			}
			if got := doc.Find(`[data-testid="back-link"]`).Length() == 1; got != tt.back {
				t.Errorf("Back to domains shown: %v, want %v", got, tt.back)
			}
		})
	}
}

// TestErrorHandlerCallbackOffersSignIn: an error page that offers to try again offers, on the
// provider's way back (the sign-in callback), a new sign-in instead: the callback's state is used
// up as it arrives, and "Try again" loaded it again into "Sign-in did not complete". Elsewhere
// the page is still loaded again.
func TestErrorHandlerCallbackOffersSignIn(t *testing.T) {
	unavailable := echo.NewHTTPError(http.StatusServiceUnavailable, "sign-in is unavailable").SetInternal(fmt.Errorf("%w: %s", auth.ErrSignInUnavailable, secretDetail))
	for _, tt := range []struct {
		name, path        string
		err               error
		wantLabel, wantTo string
	}{
		{"callback, provider unavailable", auth.CallbackPath + "?state=s&code=c", unavailable, "Sign in again", auth.LoginPath},
		{"callback, database not answering", auth.CallbackPath + "?state=s&code=c", fmt.Errorf("auth: start session: %w", store.ErrUnavailable), "Sign in again", auth.LoginPath},
		{"sign-in start, provider unavailable", auth.LoginPath + "?next=%2Fd%2Facme.example", unavailable, "Try again", auth.LoginPath + "?next=%2Fd%2Facme.example"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e, _ := newBackboneEcho(t, MiddlewareConfig{})
			path, _, _ := strings.Cut(tt.path, "?")
			e.GET(path, func(c echo.Context) error { return tt.err })
			rec := serve(e, httptest.NewRequest(http.MethodGet, tt.path, nil))
			doc, err := goquery.NewDocumentFromReader(rec.Body)
			if err != nil {
				t.Fatal(err)
			}
			next := doc.Find(`[data-testid="next-link"]`)
			if got := strings.TrimSpace(next.Text()); got != tt.wantLabel || next.AttrOr("href", "") != tt.wantTo {
				t.Errorf("next link %q to %q, want %q to %q", got, next.AttrOr("href", ""), tt.wantLabel, tt.wantTo)
			}
		})
	}
}
