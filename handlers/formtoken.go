package handlers

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"net/url"

	"github.com/labstack/echo/v4"

	"github.com/smtpdesk/smtpdesk/views"
)

// The create, reset, delete and delete-all forms, and the domain page's delete dialog, carry a
// one-time token, so that a form sent again (a reload of the page its POST answered, the back
// button, a double click) does not act again (FormTokens).

// formTokenField is the form field carrying a form's one-time token.
const formTokenField = "_form"

// newFormToken is a form's one-time token: 32 random bytes, base64url (43 characters).
func newFormToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return base64.RawURLEncoding.EncodeToString(b)
}

// formToken is the one-time token params carry, or "" when none of newFormToken's shape does
// (a form from before tokens, or a client that sends none): such a form is not told apart
// from a sending of it, and nothing else is stored for it.
func formToken(params url.Values) string {
	t := params.Get(formTokenField)
	if len(t) != 43 {
		return ""
	}
	for i := 0; i < len(t); i++ {
		if c := t[i]; !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return ""
		}
	}
	return t
}

// firstSending records that the form carrying token is acted on now, and reports false when it
// already was: the action must not run twice. A form without a token, or a failure to record
// it (logged), lets the action go ahead.
func (s *site) firstSending(c echo.Context, token string) bool {
	if token == "" || s.forms == nil {
		return true
	}
	first, err := s.forms.UseFormToken(c.Request().Context(), token, s.now())
	if err != nil {
		s.log.WarnContext(c.Request().Context(), "form token: record", "err", err)
		return true
	}
	return first
}

// releaseForm forgets the form's token after an attempt that changed nothing (refused before or
// by Mailgun), so that sending the form again is a new attempt, not "already sent".
func (s *site) releaseForm(c echo.Context, token string) {
	if token == "" || s.forms == nil {
		return
	}
	if err := s.forms.ReleaseFormToken(context.WithoutCancel(c.Request().Context()), token); err != nil {
		s.log.WarnContext(c.Request().Context(), "form token: release", "err", err)
	}
}

// changedNothing reports whether a Mailgun call's error says for sure that nothing changed: a
// refusal, or a call never sent (input refused first, or the request over before it began). An
// unknown outcome (no answer, or Mailgun's 5xx on any change: outcomeUnknown) is not, and keeps
// the form's token spent.
func changedNothing(err error) bool {
	k, _ := classify(err)
	return k == upRefused || k == upNotFound || k == upInvalid || k == upNotSent || k == upAuth || k == upRateLimited
}

// alreadySent is the refusal shown with a form sent again: what was not done twice (undone), and
// where to look.
func alreadySent(check, undone string) *views.UpstreamError {
	return &views.UpstreamError{Heading: "This form was already sent", Unknown: true, CheckURL: check,
		Message: "SMTP Desk did not send it to Mailgun again, so " + undone}
}
