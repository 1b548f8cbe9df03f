package handlers

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"github.com/smtpdesk/smtpdesk/auth"
	"github.com/smtpdesk/smtpdesk/policy"
	"github.com/smtpdesk/smtpdesk/views"
)

// sameAsOld is the reset error users see for Mailgun's "New password cannot be the same as old
// password." answer.
const sameAsOld = "The new password is the same as the current one. Choose a different password."

func (h *CredentialPages) resetVM(c echo.Context, sc *scope) views.ResetVM {
	return views.ResetVM{
		Page:      h.page(c, "Reset password", "Give "+sc.login+" a new SMTP password.", "domains", sc.domain),
		FormToken: newFormToken(),
		Domain:    sc.domain,
		Login:     sc.login,
		Mode:      "generate",
		Errors:    map[string]string{},
		ActionURL: loginURL(sc.domain, sc.login, "reset"),
		CancelURL: domainURL(sc.domain),
		Self:      sc.self,
	}
}

// ResetForm shows the reset-password form.
func (h *CredentialPages) ResetForm(c echo.Context) error {
	sc, err := h.authorize(c, policy.ActReset, true)
	if sc == nil {
		return err
	}
	if unknown, err := h.unknownLogin(c, sc); unknown {
		return err
	}
	return Render(c, http.StatusOK, views.Reset(h.resetVM(c, sc)))
}

// Reset changes a login's password: a generated one is shown once on the secrets page, a
// manual one ends in a redirect to the list with a flash.
func (h *CredentialPages) Reset(c echo.Context) error {
	sc, err := h.authorize(c, policy.ActReset, true)
	if sc == nil {
		return err
	}
	ctx := c.Request().Context()
	params, err := c.FormParams()
	if err != nil {
		return h.badRequest(c, "The form could not be read", err)
	}
	f := ParseResetForm(params)
	token := formToken(params)
	// The form, for the answers that show it again; built only for them, since the page takes
	// the session's flashes, which belong to the page after a success. It has a new form token,
	// except when it goes back for a fix: nothing was sent then.
	form := func() views.ResetVM {
		vm := h.resetVM(c, sc)
		vm.Mode = f.Mode
		return vm
	}
	if len(f.Errors) > 0 {
		// A form that goes back for a fix costs no action from the rate limit.
		vm := form()
		vm.Errors = f.Errors
		if token != "" {
			vm.FormToken = token
		}
		return Render(c, http.StatusBadRequest, views.Reset(vm))
	}
	if ok, wait := h.allow(c, sc); !ok {
		vm := form()
		vm.Upstream = h.slowDown(c, wait)
		return Render(c, http.StatusTooManyRequests, views.Reset(vm))
	}
	if !h.firstSending(c, token) {
		vm := form()
		vm.Upstream = &views.UpstreamError{Heading: "This form was already sent", Unknown: true,
			CheckURL: checkURL(sc.domain, []string{sc.login}),
			Message: "SMTP Desk did not send it to Mailgun again, so the password was not changed twice. " +
				"A generated password is shown only once: if you did not save it, reset the password again here."}
		return Render(c, http.StatusConflict, views.Reset(vm))
	}

	pending, err := h.begin(c, sc, "credential.reset", []string{sc.login})
	if pending == nil {
		h.releaseForm(c, token) // nothing was sent
		return err
	}
	res, err := h.mg.ChangePassword(ctx, sc.domain, sc.login, f.Password)
	h.complete(c, pending, err)
	if err != nil && changedNothing(err) {
		h.releaseForm(c, token)
	}
	if err != nil {
		h.log.WarnContext(ctx, "reset password", "domain", sc.domain, "login", sc.login, "err", err)
		vm := form()
		k, me := classify(err)
		switch {
		case k == upRefused && me != nil && strings.Contains(strings.ToLower(me.Message), "same as old"):
			vm.Errors["password"] = sameAsOld
		case k == upNotFound:
			h.lists.Invalidate(sc.domain)
			vm.Upstream = &views.UpstreamError{Heading: "Login not found",
				Message: fmt.Sprintf("%s no longer exists in %s (someone may have deleted it).", sc.login, sc.domain)}
		default:
			vm.Upstream = upstreamError(c, err, failureText{
				server:   "Mailgun failed to change the password; nothing was changed. Try again.",
				noAnswer: "Mailgun did not answer, so SMTP Desk cannot tell whether the password changed. Reset it again to get a password you know.",
			})
		}
		return Render(c, upstreamStatus(err), views.Reset(vm))
	}
	h.lists.Invalidate(sc.domain)
	h.pwSets.Forget(sc.domain) // the audit trail now holds this reset: the login is no longer old

	if f.Mode == "manual" {
		h.flash(c, "success", fmt.Sprintf("Password for %s changed.", sc.login))
		return c.Redirect(http.StatusSeeOther, domainURL(sc.domain))
	}
	out := views.SecretsVM{
		Page:    h.page(c, "Save this password now", "It will not be shown again.", "domains", sc.domain),
		Domain:  sc.domain,
		Action:  "reset",
		BackURL: domainURL(sc.domain),
	}
	if res.Password != "" {
		out.Secrets = []views.Secret{{Login: sc.login, Password: res.Password}}
		// For the list the page's "Done" goes back to; not for a page the user goes to instead.
		if err := auth.AddFlashFor(c, domainURL(sc.domain), "success", fmt.Sprintf("Password for %s changed.", sc.login)); err != nil {
			h.log.WarnContext(ctx, "flash", "err", err)
		}
	} else {
		// Mailgun said it changed the password but sent none back: nobody knows it now.
		h.log.WarnContext(ctx, "reset password: no generated password in the answer", "domain", sc.domain, "login", sc.login)
		out.NoPassword = []views.Link{resetLink(sc.domain, sc.login)}
		out.Title, out.Subtitle = "No password received", "Mailgun changed the password without sending it back."
	}
	noStore(c)
	return Render(c, http.StatusOK, views.Secrets(out))
}

// resetLink is a login with the link to reset its password.
func resetLink(domain, login string) views.Link {
	return views.Link{Label: login, URL: templ.SafeURL(loginURL(domain, login, "reset"))}
}

// flash adds a one-time message for the next page; a failure only costs the message.
func (s *site) flash(c echo.Context, kind, msg string) {
	if err := auth.AddFlash(c, kind, msg); err != nil {
		s.log.WarnContext(c.Request().Context(), "flash", "err", err)
	}
}

// formTokenField is the form field carrying a create or reset form's one-time token.
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
// refusal, or input never sent. An unknown outcome (no answer, a 5xx on a create) is not.
func changedNothing(err error) bool {
	k, _ := classify(err)
	return k == upRefused || k == upNotFound || k == upInvalid || k == upAuth || k == upRateLimited
}
