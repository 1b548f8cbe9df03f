package handlers

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/smtpdesk/smtpdesk/mailgun"
	"github.com/smtpdesk/smtpdesk/policy"
	"github.com/smtpdesk/smtpdesk/views"
)

// previewSize is how many logins the delete-all page lists by name; restSize how many more it
// names behind "and N more", so that the owner can read what goes before confirming.
const (
	previewSize = 10
	restSize    = 990
)

// deleteFailure is what delete says when Mailgun failed or did not answer. DELETE is retried by
// the client, and a retried DELETE that Mailgun answers "Credentials not found" counts as done;
// but a 5xx after the retries, like no answer at all (also when a retry was then refused, its key
// or its domain: upRetryRefused), may come after Mailgun deleted the login: it may be gone or
// not, and the list tells.
var deleteFailure = failureText{
	whether: "it was deleted",
	maybe:   "the login may be gone",
	next:    "Check the list before trying again.",
}

// deleteAllFailure is deleteFailure for delete-all.
var deleteAllFailure = failureText{
	whether: "the logins were deleted",
	maybe:   "the logins may be gone",
	next:    "Check the list before trying again.",
}

// deleteVM is the confirmation page of deleting sc.login, opened from the list view back (""
// when unknown), where its Cancel and the delete lead. A system login gets the reason it cannot
// be deleted instead of a form.
func (h *CredentialPages) deleteVM(c echo.Context, sc *scope, back string) views.DeleteVM {
	vm := views.DeleteVM{
		Page:      h.subPage(c, sc, "Delete SMTP login", "Delete SMTP login", "Delete "+sc.login+" from "+sc.domain+".", back),
		FormToken: newFormToken(),
		Domain:    sc.domain,
		Login:     sc.login,
		ActionURL: loginURL(sc.domain, sc.login, "delete"),
		CancelURL: cmp.Or(back, domainURL(sc.domain)),
		Back:      back,
	}
	if h.systemLogin(c.Request().Context(), sc) {
		vm.System, vm.FormToken = true, ""
		vm.Upstream = systemRefusal(sc.login)
	}
	return vm
}

// systemLogin says whether sc.login is a system login (rotation.isSystem): postmaster, or one the
// audit trail says SMTP Desk created as one, when the domain's list shows it created then. A
// domain over loginCheckLimit logins, or a list that cannot be read, leaves postmaster the only
// one known here: Mailgun still refuses to delete the others, and the page says so.
func (h *CredentialPages) systemLogin(ctx context.Context, sc *scope) bool {
	if IsSystemLogin(sc.login) {
		return true
	}
	rot := h.rotation(ctx, sc.domain)
	if _, ok := rot.system[strings.ToLower(sc.login)]; !ok {
		return false
	}
	all, ok := h.checkableList(ctx, sc.domain)
	if !ok {
		return false
	}
	i := slices.IndexFunc(all, func(cr mailgun.Credential) bool { return strings.EqualFold(cr.Login, sc.login) })
	return i >= 0 && rot.isSystem(all[i])
}

func systemRefusal(login string) *views.UpstreamError {
	return &views.UpstreamError{Heading: "System login",
		Message: fmt.Sprintf("%s is a system login of the domain; Mailgun does not allow deleting it.", login)}
}

// DeleteForm asks for confirmation before deleting one login.
func (h *CredentialPages) DeleteForm(c echo.Context) error {
	sc, err := h.authorizeChange(c, policy.ActDelete, true)
	if sc == nil {
		return err
	}
	if unknown, err := h.unknownLogin(c, sc); unknown {
		return err
	}
	return Render(c, http.StatusOK, views.Delete(h.deleteVM(c, sc, refererView(c, sc.domain))))
}

// Delete deletes one login and goes back to the list view it was asked from: the confirmation
// page's or the list dialog's back field, else the Referer (see wayBack).
func (h *CredentialPages) Delete(c echo.Context) error {
	sc, err := h.authorizeChange(c, policy.ActDelete, true)
	if sc == nil {
		return err
	}
	params, err := bodyForm(c.Request())
	if err != nil {
		return err
	}
	back := wayBack(c, params, sc.domain)
	// The page is built only on the answers that show it: it takes the session's flashes, which
	// belong to the list this action redirects to.
	if h.systemLogin(c.Request().Context(), sc) {
		return Render(c, http.StatusBadRequest, views.Delete(h.deleteVM(c, sc, back)))
	}
	if ok, err := h.limit(c, sc); !ok {
		return err
	}
	key := deleteKey(formToken(params), sc)
	if !h.firstSending(c, key) {
		vm := h.deleteVM(c, sc, back)
		vm.Sent, vm.FormToken = true, ""
		vm.Upstream = alreadySent(checkURL(sc.domain, []string{sc.login}), "nothing was deleted twice. "+
			"Check the list to see whether "+sc.login+" is gone.")
		return Render(c, http.StatusConflict, views.Delete(vm))
	}
	ctx := c.Request().Context()
	pending, refused := h.begin(c, sc, "credential.delete", "", []string{sc.login})
	if pending == nil {
		h.releaseForm(c, key) // nothing was sent: the same form may be sent again
		vm := h.deleteVM(c, sc, back)
		vm.Upstream = refused
		return Render(c, http.StatusServiceUnavailable, views.Delete(vm))
	}
	_, err = h.mg.DeleteCredential(ctx, sc.domain, sc.login)
	auditErr := h.complete(c, pending, err)
	if err != nil && changedNothing(err) {
		h.releaseForm(c, key)
	}
	// Also after a failure: after a 5xx or without an answer the login may be gone, and the
	// page asks the user to check the list, which must then be Mailgun's and not the cached one.
	h.lists.Invalidate(sc.domain)
	if err != nil {
		h.logUpstream(ctx, "delete credential", err, "domain", sc.domain, "login", sc.login)
		k, me := classify(err)
		switch {
		case k == upNotFound && domainNotFound(me):
			// Mailgun does not know the domain (removed since the page was drawn): the login is
			// not "already gone", and the list the redirect would lead to is this same 404.
			return h.listError(c, sc, err)
		case k == upNotFound && mailgun.LoginGone(me):
			// Who deleted it, when the trail knows: the entry before this delete's. "Already
			// gone" alone left an owner wondering whether a colleague, a script or Mailgun did it.
			gone := fmt.Sprintf("%s was already gone from %s.", sc.login, sc.domain)
			if who, ok := h.whoDeleted(ctx, sc, pending.ID()); ok {
				gone = fmt.Sprintf("%s was already gone from %s: %s.", sc.login, sc.domain, who)
			}
			return h.flashRedirect(c, sc, "info", gone, "Already gone", h.afterDelete(ctx, sc, back), auditErr)
		case k == upRefused && me != nil && strings.Contains(strings.ToLower(me.Message), "system"):
			vm := h.deleteVM(c, sc, back)
			vm.Upstream = systemRefusal(sc.login)
			return Render(c, http.StatusBadRequest, views.Delete(vm))
		}
		vm := h.deleteVM(c, sc, back)
		vm.Upstream = upstreamError(c, err, deleteFailure)
		if outcomeUnknown(err) {
			markUnknown(vm.Upstream, err, checkURL(sc.domain, []string{sc.login}))
		}
		return Render(c, upstreamStatus(err), views.Delete(vm))
	}
	return h.flashRedirect(c, sc, "success", fmt.Sprintf("Deleted %s.", sc.login), "Login deleted", h.afterDelete(ctx, sc, back), auditErr)
}

// deleteKey is what a delete of sc.login spends of the form's one-time token ("" without one).
// The domain page has one token for all its rows, in the dialog, which posts it to the row's
// delete link: spent for that login only, so that the page shown again (the back button after a
// delete) still deletes another row, while the same row's delete sent twice deletes once.
func deleteKey(token string, sc *scope) string {
	if token == "" {
		return ""
	}
	return token + " delete " + sc.domain + " " + sc.login
}

// afterDelete is where a delete from the list view back leads: that view (the domain page when
// back is ""), at its new last page when the delete emptied the page it was on (its only login,
// on the last page). The list would show the last page too, but under a note that the page
// asked for does not exist, which the user did not ask for. The read is the one the list then
// shows, kept by the list cache; a read that fails leaves the view as it is, and the list says
// what went wrong.
func (h *CredentialPages) afterDelete(ctx context.Context, sc *scope, back string) string {
	if back == "" {
		return domainURL(sc.domain)
	}
	u, err := url.Parse(back)
	if err != nil {
		return back
	}
	q := u.Query()
	p := ParsePaging(q)
	if p.Page == 1 {
		return back
	}
	filter, rotate := q.Get("q"), q.Get("rotate") == "1"
	var total int
	if filter == "" && !rotate {
		list, err := h.lists.Page(ctx, sc.domain, p.Skip(), p.PerPage)
		if err != nil || len(list.Items) > 0 {
			return back
		}
		total = list.TotalCount
	} else {
		all, err := h.lists.All(ctx, sc.domain)
		if err != nil {
			return back
		}
		total = len(selectLogins(all, filter, rotate, h.rotation(ctx, sc.domain)))
	}
	if last := LastPage(total, p.PerPage); p.Page > last {
		return viewURL(sc.domain, Paging{Page: last, PerPage: p.PerPage}, q.Has("per_page"), filter, rotate)
	}
	return back
}

// deleteAllVM counts what delete-all would remove: every login but the system ones. back is the
// list view the page was opened from ("" when unknown), where its Cancel leads; the delete itself
// leads to the domain's first page, as the view's pages are gone with their logins.
func (h *CredentialPages) deleteAllVM(c echo.Context, sc *scope, back string) (views.DeleteAllVM, error) {
	vm := h.deleteAllPage(c, sc, back)
	// The page asks the owner to confirm what goes, and Mailgun deletes every login it has then:
	// the count must be Mailgun's now, not a list this instance kept from a few seconds ago, which
	// misses logins made since through another replica (or Mailgun's own panel).
	h.lists.Invalidate(sc.domain)
	ctx := c.Request().Context()
	all, err := h.lists.All(ctx, sc.domain)
	if err != nil {
		return vm, err
	}
	rot := h.rotation(ctx, sc.domain)
	listDeleteAll(&vm, all, rot)
	if rot.unread { // the system logins it keeps may be missing from the page
		vm.Flashes = append(vm.Flashes, views.Flash{Kind: "warning", Message: agesUnreadNote})
	}
	return vm, nil
}

// deleteAllPage is the delete-all page before the list is read into it (listDeleteAll).
func (h *CredentialPages) deleteAllPage(c echo.Context, sc *scope, back string) views.DeleteAllVM {
	return views.DeleteAllVM{
		Page:      h.subPage(c, sc, "Delete all SMTP logins", "Delete all SMTP logins", "Delete every SMTP login of "+sc.domain+" except its system logins.", back),
		FormToken: newFormToken(),
		Domain:    sc.domain,
		Errors:    map[string]string{},
		ActionURL: domainURL(sc.domain) + "/delete-all",
		CancelURL: cmp.Or(back, domainURL(sc.domain)),
		Back:      back,
	}
}

// listDeleteAll fills in what the delete-all page names from the domain's list all, whose
// system logins rot knows.
func listDeleteAll(vm *views.DeleteAllVM, all []mailgun.Credential, rot rotation) {
	for _, cr := range all {
		if rot.isSystem(cr) {
			vm.SystemKept = append(vm.SystemKept, cr.Login)
			continue
		}
		vm.Count++
		switch {
		case len(vm.Preview) < previewSize:
			vm.Preview = append(vm.Preview, cr.Login)
		case len(vm.Rest) < restSize:
			vm.Rest = append(vm.Rest, cr.Login)
		}
	}
	vm.More = vm.Count - len(vm.Preview)
	vm.Listed = listedDigest(deletable(all, rot))
}

// deletable is the logins of all that delete-all removes: every one but the system logins.
func deletable(all []mailgun.Credential, rot rotation) []string {
	logins := make([]string, 0, len(all))
	for _, cr := range all {
		if !rot.isSystem(cr) {
			logins = append(logins, cr.Login)
		}
	}
	return logins
}

// listedDigest stands for the set of logins a delete-all page names (SHA-256 of the sorted
// names, base64url): the form carries it back, so that the delete removes the logins the owner
// confirmed and not others made (or some deleted) since the page was drawn.
func listedDigest(logins []string) string {
	sorted := slices.Clone(logins)
	for i, l := range sorted {
		sorted[i] = strings.ToLower(l)
	}
	slices.Sort(sorted)
	sum := sha256.Sum256([]byte(strings.Join(sorted, "\n")))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// DeleteAllForm is the guarded page before deleting every login of a domain (owners only).
func (h *CredentialPages) DeleteAllForm(c echo.Context) error {
	sc, err := h.authorizeChange(c, policy.ActDeleteAll, false)
	if sc == nil {
		return err
	}
	vm, err := h.deleteAllVM(c, sc, refererView(c, sc.domain))
	if err != nil {
		return h.listError(c, sc, err)
	}
	return Render(c, http.StatusOK, views.DeleteAll(vm))
}

// DeleteAll deletes every login of the domain once the user has typed the domain's name.
func (h *CredentialPages) DeleteAll(c echo.Context) error {
	sc, err := h.authorizeChange(c, policy.ActDeleteAll, false)
	if sc == nil {
		return err
	}
	ctx := c.Request().Context()
	params, err := bodyForm(c.Request())
	if err != nil {
		return err
	}
	// For the page shown again: its Cancel still leads to the list view it was opened from.
	back := wayBack(c, params, sc.domain)
	// Exactly the domain's name, as the page's script requires before it enables the button,
	// which also ignores the spaces around it and the characters that take no room (a byte
	// order mark or a zero-width space pasted with it: the field shows exactly the name).
	confirm := filterText(params.Get("confirm"))
	token := formToken(params)
	if confirm != sc.domain {
		vm, err := h.deleteAllVM(c, sc, back)
		if err != nil {
			return h.listError(c, sc, err)
		}
		vm.Confirm = clip(confirm, 300)
		vm.Errors["confirm"] = fmt.Sprintf("Type %s exactly to confirm.", sc.domain)
		if token != "" {
			vm.FormToken = token // nothing was sent
		}
		return Render(c, http.StatusBadRequest, views.DeleteAll(vm))
	}
	// The form sent again (a double click, the back button, a browser sending the POST again)
	// is told so before the list is read: the list check below would pass while the first
	// sending's delete is still on its way, and Mailgun would delete twice, the second time
	// logins made in between that nobody saw on this page.
	if !h.firstSending(c, token) {
		vm := h.deleteAllPage(c, sc, back)
		vm.Sent, vm.FormToken, vm.CancelURL = true, "", domainURL(sc.domain)
		vm.Upstream = alreadySent(domainURL(sc.domain), "nothing was deleted twice. Check the list to see which logins are left.")
		return Render(c, http.StatusConflict, views.DeleteAll(vm))
	}
	// Until the delete is sent, every way out changed nothing: the token is released, and the
	// same form sent again is a new attempt, not "already sent".
	sent := false
	defer func() {
		if !sent {
			h.releaseForm(c, token)
		}
	}()
	// The entry names every login the delete is meant to remove (all but the system ones, as
	// Mailgun lists them now, not as this instance kept them), so that each login's history
	// shows who deleted it. A list that cannot be read stops here, before any change.
	h.lists.Invalidate(sc.domain)
	all, err := h.lists.All(ctx, sc.domain)
	if err != nil {
		return h.listError(c, sc, err)
	}
	rot := h.rotation(ctx, sc.domain)
	logins := deletable(all, rot)
	// The owner confirmed the logins the page named. When the list is no longer those (logins
	// made or deleted elsewhere since, through another replica or Mailgun's own panel; or a
	// form without the one-time token sent again after it deleted them), nothing is
	// deleted: the page names the list as it is now, to be confirmed again. A form without the
	// field (a client that sends none) is not checked, as a form without a one-time token is not.
	if listed := params.Get("listed"); listed != "" && listed != listedDigest(logins) {
		vm := h.deleteAllPage(c, sc, back)
		listDeleteAll(&vm, all, rot)
		vm.Confirm = confirm
		vm.Upstream = &views.UpstreamError{Heading: "The logins have changed",
			Message: fmt.Sprintf("Logins of %s were created or deleted since this page was opened, so nothing was deleted. The page now shows what delete all would remove; check it before confirming again.", sc.domain)}
		return Render(c, http.StatusConflict, views.DeleteAll(vm))
	}
	// Spent only now: a confirmation sent back for a fix, or a list that could not be read,
	// changed nothing and costs no action, as a create or reset form sent back does not.
	if ok, err := h.limit(c, sc); !ok {
		return err
	}
	pending, refused := h.begin(c, sc, "credential.delete_all", "", logins)
	if pending == nil { // nothing was sent: the deferred release lets the same form be sent again
		vm := h.deleteAllPage(c, sc, back)
		listDeleteAll(&vm, all, rot)
		vm.Confirm = confirm
		vm.Upstream = refused
		return Render(c, http.StatusServiceUnavailable, views.DeleteAll(vm))
	}
	sent = true
	res, err := h.mg.DeleteAllCredentials(ctx, sc.domain)
	if err != nil && changedNothing(err) {
		h.releaseForm(c, token)
	}
	deleted := ""
	if err == nil {
		deleted = plural(res.Count, "login")
		pending.Note = fmt.Sprintf("Mailgun deleted %s.", deleted)
		if res.Count != len(logins) {
			// Logins made or deleted elsewhere since the list was read: the entry's names are
			// the list's, and the reviewer is told they are not the count.
			pending.Note += fmt.Sprintf(" This entry names the %s listed just before.", plural(len(logins), "login"))
		}
		if res.CountIncomplete {
			// An earlier attempt whose answer was lost may have deleted them; the retry's
			// count (often 0) is not how many went.
			deleted = "the logins"
			pending.Note = fmt.Sprintf("Mailgun deleted the logins; how many is unknown (an earlier attempt's answer was lost; the retry counted %d).", res.Count)
		}
	}
	auditErr := h.complete(c, pending, err)
	h.lists.Invalidate(sc.domain)
	if err != nil {
		h.logUpstream(ctx, "delete all credentials", err, "domain", sc.domain)
		vm, lerr := h.deleteAllVM(c, sc, back)
		if lerr != nil && outcomeUnknown(err) {
			// The list cannot be read again either (Mailgun still failing, or the key it refused
			// on the retry still refused): the error page says what the delete's panel would (the
			// logins may be gone, and what Mailgun said to a retry), not only that the list failed.
			return fmt.Errorf("delete all credentials of %s: %w", sc.domain, &unknownChange{change: err, list: lerr, text: deleteAllFailure})
		}
		if lerr != nil {
			return h.listError(c, sc, lerr)
		}
		vm.Confirm = confirm
		vm.Upstream = upstreamError(c, err, deleteAllFailure)
		if outcomeUnknown(err) {
			markUnknown(vm.Upstream, err, domainURL(sc.domain))
		}
		return Render(c, upstreamStatus(err), views.DeleteAll(vm))
	}
	msg, kind := fmt.Sprintf("Deleted %s from %s.", deleted, sc.domain), "success"
	// Read the first page again to say truthfully what stayed; it is also the page the
	// redirect shows, so this costs no extra call.
	if left, err := h.lists.Page(ctx, sc.domain, 0, DefaultPerPage); err == nil && len(left.Items) > 0 {
		msg, kind = deletedAllLeft(msg, deleted, left, rot)
	}
	// The domain's first page, not back: whatever page or filter it was, only the system logins
	// are left, and this page is the one the flash describes.
	return h.flashRedirect(c, sc, kind, msg, "Logins deleted", domainURL(sc.domain), auditErr)
}

// deletedAllLeft is delete-all's flash when left, the domain's first page read after it, still
// lists logins (done is the flash for none). The system logins are kept; any other login was
// created while the delete was on its way (through another replica or Mailgun's own panel) or
// left by Mailgun, and is named apart: calling it kept told the owner that delete all spares it.
// Logins beyond the first page, unread, are counted with the group named last. The flash is a
// warning when another login is named (the list is not what delete all leaves), a success
// otherwise.
func deletedAllLeft(done, deleted string, left *mailgun.CredentialList, rot rotation) (msg, kind string) {
	var kept, other []string
	for _, cr := range left.Items {
		if rot.isSystem(cr) {
			kept = append(kept, cr.Login)
		} else {
			other = append(other, cr.Login)
		}
	}
	unread := max(left.TotalCount-len(left.Items), 0)
	msg, kind = done, "success"
	if len(kept) > 0 {
		more := 0
		if len(other) == 0 {
			more = unread
		}
		msg = fmt.Sprintf("Deleted %s; %s kept.", deleted, namesAnd(kept, more))
	}
	if len(other) > 0 {
		const why = "created while the delete was on its way, or left by Mailgun."
		if names := namesAnd(other, unread); len(other)+unread == 1 {
			msg += " " + names + " is still listed: " + why + " Delete it on its own if it should go."
		} else {
			msg += " " + names + " are still listed: " + why + " Delete them on their own if they should go."
		}
		kind = "warning"
	}
	return msg, kind
}

// namesAnd names up to three of names, and how many more there are beyond them and more others.
func namesAnd(names []string, more int) string {
	shown := names[:min(3, len(names))]
	out := strings.Join(shown, ", ")
	if n := len(names) - len(shown) + more; n > 0 {
		out += fmt.Sprintf(" and %d more", n)
	}
	return out
}
