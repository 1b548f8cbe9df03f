package handlers

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"github.com/smtpdesk/smtpdesk/audit"
	"github.com/smtpdesk/smtpdesk/auth"
	"github.com/smtpdesk/smtpdesk/mailgun"
	"github.com/smtpdesk/smtpdesk/policy"
	"github.com/smtpdesk/smtpdesk/store"
	"github.com/smtpdesk/smtpdesk/views"
)

// sameAsOld is the reset error users see for Mailgun's "New password cannot be the same as old
// password." answer.
const sameAsOld = "The new password is the same as the current one. Choose a different password."

// resetVM is the reset form for the list view back ("" when unknown), which its Cancel and the
// page after it return to.
func (h *CredentialPages) resetVM(c echo.Context, sc *scope, back string) views.ResetVM {
	return views.ResetVM{
		Page:      h.subPage(c, sc, "Reset password", "Reset password", "Give "+sc.login+" a new SMTP password.", back),
		FormToken: newFormToken(),
		Domain:    sc.domain,
		Login:     sc.login,
		Mode:      "generate",
		Errors:    map[string]string{},
		ActionURL: loginURL(sc.domain, sc.login, "reset"),
		CancelURL: cmp.Or(back, domainURL(sc.domain)),
		Self:      sc.self,
		Back:      back,
	}
}

// ResetForm shows the reset-password form.
func (h *CredentialPages) ResetForm(c echo.Context) error {
	sc, err := h.authorizeChange(c, policy.ActReset, true)
	if sc == nil {
		return err
	}
	if unknown, err := h.unknownLogin(c, sc); unknown {
		return err
	}
	return Render(c, http.StatusOK, views.Reset(h.resetVM(c, sc, refererView(c, sc.domain))))
}

// Reset changes a login's password: a generated one is shown once on the secrets page, a
// manual one ends in a redirect to the list with a flash.
func (h *CredentialPages) Reset(c echo.Context) error {
	sc, err := h.authorizeChange(c, policy.ActReset, true)
	if sc == nil {
		return err
	}
	ctx := c.Request().Context()
	params, err := bodyForm(c.Request())
	if err != nil {
		return err
	}
	f := ParseResetForm(params)
	token := formToken(params)
	back := wayBack(c, params, sc.domain)
	// The form, for the answers that show it again; built only for them, since the page takes
	// the session's flashes, which belong to the page after a success. It has a new form token,
	// except when it goes back for a fix: nothing was sent then.
	form := func() views.ResetVM {
		vm := h.resetVM(c, sc, back)
		vm.Mode = f.Mode
		vm.Retype = f.Password != ""
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
		// Which kind of password the first sending asked for is not known here (the form may have
		// been switched before it was sent again): the words fit both.
		vm.Upstream = alreadySent(checkURL(sc.domain, []string{sc.login}), "the password was not changed twice. "+
			"If the first sending asked for a generated password, it was shown only once; if it had one typed, that is the password now. "+
			"If you are not sure, reset the password again here.")
		return Render(c, http.StatusConflict, views.Reset(vm))
	}

	pending, refused := h.begin(c, sc, "credential.reset", resetDetail(f.Mode, sc.self), []string{sc.login})
	if pending == nil {
		h.releaseForm(c, token) // nothing was sent: the same form may be sent again
		vm := form()
		vm.Upstream = refused
		return Render(c, http.StatusServiceUnavailable, views.Reset(vm))
	}
	res, err := h.mg.ChangePassword(ctx, sc.domain, sc.login, f.Password)
	if err == nil && f.Mode != "manual" && res.Password == "" {
		// Changed, to a password nobody was shown (the page says "No password received"): the
		// trail says so, as a create's does.
		pending.Note = "Changed without a password sent back: " + sc.login + "."
	}
	auditErr := h.complete(c, pending, err)
	if err != nil && changedNothing(err) {
		h.releaseForm(c, token)
	}
	if err != nil {
		h.logUpstream(ctx, "reset password", err, "domain", sc.domain, "login", sc.login)
		vm := form()
		k, me := classify(err)
		switch {
		case k == upRefused && me != nil && strings.Contains(strings.ToLower(me.Message), "same as old"):
			vm.Errors["password"] = sameAsOld
		case k == upNotFound && domainNotFound(me):
			// The domain is gone from Mailgun, not just the login: the 404 the form's own page
			// gives for a domain Mailgun does not know.
			return h.listError(c, sc, err)
		case k == upNotFound && mailgun.LoginGone(me):
			// Not the form again: sending it can only fail the same way. The page its own link
			// gives for a login the domain does not have, saying that nothing changed.
			// Who deleted it, when the trail knows, as the form's own address says now: the
			// entry before this reset's.
			h.lists.Invalidate(sc.domain)
			gone := " (someone may have deleted it),"
			if who, ok := h.whoDeleted(ctx, sc, pending.ID()); ok {
				gone = ": " + who + ","
			}
			return h.errorPageNext(c, http.StatusNotFound, "Login not found",
				fmt.Sprintf("%s no longer exists in %s%s so no password was changed.", sc.login, sc.domain, gone),
				"Open "+sc.domain+" to see the logins it has.", 0, domainLink(sc))
		default:
			vm.Upstream = upstreamError(c, err, failureText{
				whether: "the password changed",
				maybe:   "the password may have changed",
				next:    "Reset it again to get a password you know.",
			})
			if outcomeUnknown(err) {
				// Mailgun may have changed the password (to a generated one nobody was shown).
				// The panel offers no look at the list, which does not show a password's change
				// (nor does the list need reading again).
				vm.Upstream.Unknown = true
			}
		}
		return Render(c, upstreamStatus(err), views.Reset(vm))
	}
	h.lists.Invalidate(sc.domain)
	h.pwSets.Forget(sc.domain) // the audit trail now holds this reset: the login is no longer old
	overlap := h.otherReset(ctx, sc, pending.ID())
	deleting := h.deletedMeanwhile(ctx, sc, pending.ID(), []string{sc.login})

	// The list the form came from, showing this login (never its password).
	done := doneURL(back, sc.domain, []string{sc.login}, pending.ID())
	if f.Mode == "manual" {
		kind, msg := "success", fmt.Sprintf("Password for %s changed.", sc.login)
		switch {
		case overlap != "":
			kind, msg = "warning", fmt.Sprintf("Password for %s changed, but %s", sc.login, overlap)
		case deleting != "":
			kind, msg = "warning", fmt.Sprintf("Password for %s changed, but %s", sc.login, deletingNote(deleting, sc.login))
		}
		return h.flashRedirect(c, sc, kind, msg, "Password changed", done, auditErr)
	}
	if res.Password != "" {
		// The list the passwords page's "Done" leads to says so, that page view alone.
		done = withFlash(done, h.flashFor(c, domainURL(sc.domain), "success", fmt.Sprintf("Password for %s changed.", sc.login)))
	}
	out := views.SecretsVM{
		SMTPHost: h.set.SMTPHost,
		Page:     h.subPage(c, sc, "Reset password", "Save this password now", "Mailgun generated a new password for "+sc.login+".", done),
		Domain:   sc.domain,
		Action:   "reset",
		BackURL:  done,
	}
	if res.Password != "" {
		out.Secrets = []views.Secret{{Login: sc.login, Password: res.Password}}
	} else {
		// Mailgun said it changed the password but sent none back: nobody knows it now.
		h.log.WarnContext(ctx, "reset password: no generated password in the answer", "domain", sc.domain, "login", sc.login)
		out.NoPassword = []views.Link{resetLink(sc.domain, sc.login)}
		out.Title, out.Subtitle = "No password received", "Mailgun changed the password without sending it back."
	}
	if overlap != "" && len(out.Secrets) > 0 {
		out.Flashes = append(out.Flashes, views.Flash{Kind: "warning", Message: "This password may not be the login's: " + overlap})
	}
	if deleting != "" {
		out.Flashes = append(out.Flashes, views.Flash{Kind: "warning", Message: upperFirst(deletingNote(deleting, sc.login))})
	}
	noStore(c)
	return Render(c, http.StatusOK, views.Secrets(out))
}

// resetOverlapWindow is how far back a reset still in flight (pending) is looked for: longer than
// a Mailgun call's deadline with its retries, so that an entry left pending by a crash long ago
// is not taken for one.
const resetOverlapWindow = 5 * time.Minute

// ranSince reports whether the action of the audit entry e ran at a moment at or after began
// (the start of another action): begun since, or begun before and not finished by then (or left
// pending less than resetOverlapWindow before it).
func ranSince(e store.AuditEntry, began time.Time) bool {
	return !e.Time.Before(began) ||
		(e.CompletedAt == nil && began.Sub(e.Time) < resetOverlapWindow) ||
		(e.CompletedAt != nil && !e.CompletedAt.Before(began))
}

// otherActor names who made the audit entry e of an action that ran at the same moment as
// the user's own: "you (in another tab or window)" for the user.
func otherActor(sc *scope, e store.AuditEntry) string {
	if sc.madeBy(e) {
		return "you (in another tab or window)"
	}
	return actorName(e)
}

// otherReset says, for the reset whose audit entry is self (just completed), whether another
// reset of the same login ran at the same time, in another tab or by another user: one begun
// while this one ran, or begun before it and not finished when it began (not one Mailgun
// refused, nor one the policy refused). Mailgun keeps whichever password it set last, which
// neither page can tell, so the password this page shows (or the one typed) may already be
// replaced: it returns what to say,
// "" when there was none. Before, both pages said "Save this password now", and one of the two
// passwords never worked. The trail not answering says nothing.
func (h *CredentialPages) otherReset(ctx context.Context, sc *scope, self int64) string {
	es, began, ok := h.aroundOwnEntry(ctx, store.AuditFilter{Domain: sc.domain, Login: sc.login, Limit: 20}, self)
	if !ok {
		return ""
	}
	for _, e := range es {
		if e.ID == self || e.Action != audit.ActionCredentialReset || refused(e) {
			continue
		}
		if !ranSince(e, began) {
			continue
		}
		by := otherActor(sc, e)
		return fmt.Sprintf("%s reset it at the same moment, and Mailgun keeps whichever password it set last. "+
			"Check that this one works, or reset it again once the other reset is done.", by)
	}
	return ""
}

// aroundOwnEntry reads the newest entries of the trail matching f, which should hold the
// action's own entry, self, and when that began; ok is false when the trail does not answer (or
// does not hold self), and then nothing can be said. When more entries than f reads were written
// while the action ran (a busy login or domain), self is not among the newest: the entries read
// are then those next to self, the ones begun right after it and the ones before it, still
// running when it began. Before, nothing was said then, however many of those entries were
// another user's change.
func (h *CredentialPages) aroundOwnEntry(ctx context.Context, f store.AuditFilter, self int64) (es []store.AuditEntry, began time.Time, ok bool) {
	es, err := h.auditLog.ListAudit(ctx, f)
	if err != nil {
		return nil, time.Time{}, false
	}
	isSelf := func(e store.AuditEntry) bool { return e.ID == self }
	if !slices.ContainsFunc(es, isSelf) {
		newer, older := f, f
		newer.After, older.Before = self, self+1
		after, err := h.auditLog.ListAudit(ctx, newer)
		if err != nil {
			return nil, time.Time{}, false
		}
		before, err := h.auditLog.ListAudit(ctx, older)
		if err != nil {
			return nil, time.Time{}, false
		}
		es = append(after, before...)
	}
	i := slices.IndexFunc(es, isSelf)
	if i < 0 {
		return nil, time.Time{}, false
	}
	return es, es[i].Time, true
}

// The detail of a reset's or a create's audit entry: whether the user had Mailgun generate the
// password or typed one, which a reviewer asks about (a typed password may be reused elsewhere).
// The password itself is never recorded.
const (
	aboutGeneratedPassword  = "Asked for a generated password."
	aboutGeneratedPasswords = "Asked for generated passwords."
	aboutTypedPassword      = "Asked for the password typed in the form."
	aboutSelfService        = "Self-service: the user's own login."
)

// resetDetail is a reset's audit detail: the password asked for, and whether self-service allowed it.
func resetDetail(mode string, self bool) string {
	about := aboutGeneratedPassword
	if mode == "manual" {
		about = aboutTypedPassword
	}
	if self {
		// Allowed by self-service, not by a role: a reviewer who sees a domain's viewer reset a
		// password can tell the user's own login from a role the policy should not give.
		about += " " + aboutSelfService
	}
	return about
}

// resetLink is a login with the link to reset its password.
func resetLink(domain, login string) views.Link {
	return views.Link{Label: login, URL: templ.SafeURL(loginURL(domain, login, "reset"))}
}

// flashRedirect leads to next, a list view of sc.domain, with msg for it to show, after a change
// that was made. When the message cannot be kept (SMTP Desk's database not answering, most
// likely), the list would not open either: the redirect would land on the database's 503 page,
// which reads as if the change had failed. The message is then shown on a page of its own
// (views.Done, titled title), which says why the list is not shown and links to it, and what the
// audit trail shows of the change: auditErr is its completion's error (site.complete).
func (h *CredentialPages) flashRedirect(c echo.Context, sc *scope, kind, msg, title, next string, auditErr error) error {
	// For that page view alone (?flash=), as a passwords page's Done: kept for the next page, it
	// was shown by whatever page that was, the audit trail or another tab's, and the list's error
	// page, when Mailgun could not list it, said nothing of the change.
	id, err := auth.AddFlashFor(c, domainURL(sc.domain), kind, msg)
	if err == nil {
		return c.Redirect(http.StatusSeeOther, withFlash(next, id))
	}
	h.log.WarnContext(c.Request().Context(), "flash: the change is shown on a page of its own", "err", err)
	// Without the session's flashes (pageBase): clearing them would be another write waiting for
	// the database that just failed; those of earlier requests stay for the next page.
	p := h.frame(c, pageBase(c, title), "", "domains", sc.domain)
	p.Breadcrumbs = subCrumbs(sc.domain, next, title)
	// A reload or Back onto this page opens the list, not the form's address again: the delete
	// page of a login that is gone (a 404), or a reset form for a change already made.
	p.AnswerURL = next
	p.Flashes = append(p.Flashes, views.Flash{Kind: kind, Message: msg})
	notice := &views.UpstreamError{Wait: true, RequestID: RequestID(c)}
	switch {
	case errors.Is(err, store.ErrUnavailable):
		// "Open the list again", not "try again": the change was made, and trying it again is
		// the one thing not to do.
		notice.Heading = "The list cannot be shown now"
		notice.Message = "SMTP Desk's database did not answer, so this message is shown here instead of on the list. " +
			"The list and other pages may not open until the database answers: open the list again in a moment."
	case errors.Is(err, auth.ErrSessionNotFound):
		// Signed out meanwhile: the database answered, and the list asks to sign in again.
		notice.Heading = "You were signed out"
		notice.Message = "Your session ended while the change was being made (signed out in another tab, " +
			"or by an administrator), so this message is shown here instead of on the list: sign in again to see the list."
	default:
		notice.Heading = "This message is shown here instead of on the list"
		notice.Message = "SMTP Desk could not keep it in your session to show it with the list. The list is a click away."
	}
	switch {
	case audit.IsLate(auditErr):
		notice.Message += " Until the database answers, the audit trail shows this change as pending: SMTP Desk records its outcome then."
	case auditErr != nil:
		notice.Message += " The audit trail could not record its outcome either: it shows this change as pending, outcome unknown."
	}
	return Render(c, http.StatusOK, views.Done(views.DoneVM{
		Page:     p,
		Notice:   notice,
		NextURL:  next,
		NextText: "Back to " + sc.domain,
	}))
}

// flashFor is flash for a message about the page at path only (auth.AddFlashFor): the list a
// passwords page's "Done" goes back to, not a page the user goes to instead.
func (s *site) flashFor(c echo.Context, path, kind, msg string) (id string) {
	id, err := auth.AddFlashFor(c, path, kind, msg)
	if err != nil {
		s.log.WarnContext(c.Request().Context(), "flash", "err", err)
		return ""
	}
	return id
}

// withFlash adds to u (a page's address) the flash message id its page is to show
// (auth.FlashParam), when there is one.
func withFlash(u, id string) string {
	if id == "" {
		return u
	}
	return withQuery(u, url.Values{auth.FlashParam: {id}})
}

// deletedMeanwhile says, for the create or reset whose audit entry is self (just completed) and
// names logins, whether a delete of one of them, or a delete all of the domain, ran at the same
// moment (in another tab or by another user; ranSince, as otherReset counts it): Mailgun may
// have deleted the login just after making it or setting its password, and the passwords page
// said "Save this password now" for a login that was gone a moment later. A delete all's entry
// names only the logins listed before it, so it counts for any login. It returns who did what
// ("Olga Owner is deleting every login of acme.example at the same moment"), "" when none ran;
// the trail not answering says nothing.
func (h *CredentialPages) deletedMeanwhile(ctx context.Context, sc *scope, self int64, logins []string) string {
	es, began, ok := h.aroundOwnEntry(ctx, store.AuditFilter{Domain: sc.domain, Limit: 50}, self)
	if !ok {
		return ""
	}
	for _, e := range es {
		if e.ID == self || refused(e) {
			continue
		}
		var what string
		switch e.Action {
		case audit.ActionCredentialDeleteAll:
			what = "every login of " + sc.domain
		case audit.ActionCredentialDelete:
			j := slices.IndexFunc(logins, func(l string) bool {
				return slices.ContainsFunc(e.Logins, func(n string) bool { return strings.EqualFold(n, l) })
			})
			if j < 0 {
				continue
			}
			what = logins[j]
		default:
			continue
		}
		if !ranSince(e, began) {
			continue
		}
		by := otherActor(sc, e)
		did := "deleted"
		switch e.Outcome {
		case audit.OutcomePending:
			did = "are deleting"
			if !sc.madeBy(e) {
				did = "is deleting"
			}
		case audit.OutcomeUnknown:
			did = "may have deleted"
		}
		return fmt.Sprintf("%s %s %s at the same moment", by, did, what)
	}
	return ""
}

// deletingNote is what a passwords page (or a typed password's flash, after "but") says of a
// delete that ran at the same moment as the change of logins (deletedMeanwhile's answer).
func deletingNote(deleting string, logins ...string) string {
	it, these := "it", "this password"
	if len(logins) > 1 {
		it, these = "them", "these passwords"
	}
	return fmt.Sprintf("%s, so Mailgun may have deleted %s right after this change. Check the list before using %s.", deleting, it, these)
}

// upperFirst is s with its first letter in upper case: a sentence that begins with a name or
// with "you".
func upperFirst(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[n:]
}
