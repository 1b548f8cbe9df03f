package handlers

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/smtpdesk/smtpdesk/audit"
	"github.com/smtpdesk/smtpdesk/mailgun"
	"github.com/smtpdesk/smtpdesk/store"
)

// The way back to the list after a create or a reset: the passwords page's "Done" link (and the
// redirect after a manual reset) go to the list view the form was opened from, naming the logins
// that changed (?changed=, never a password). The list then opens at the page that holds the
// first of them, when that is cheap to know, and marks their rows; the page's script scrolls to
// the first, focuses it and says so to screen readers.

// changedParam is the domain page's query parameter naming a login just changed (repeated for
// several).
const changedParam = "changed"

// changedEntryParam is the domain page's query parameter naming the audit entry of the change
// the way back comes from: its own later changes of the logins are said too (a second reset in
// another tab replaced the password the first one's page showed).
const changedEntryParam = "entry"

// maxChanged is the most logins one list address names as just changed: a create of more names
// its first ones, which keeps the address well within what proxies accept (a login may be some
// 300 bytes).
const maxChanged = 10

// listView returns the address of the domain's list view that ref names (a same-host Referer,
// or a form's back field): the domain page with its page, per_page, q and rotate, checked and
// encoded again; "" when ref is anything else. The result is built here, so it is always a path
// on this site, whatever ref held.
func listView(ref, host, domain string) string {
	if ref == "" {
		return ""
	}
	u, err := url.Parse(ref)
	if err != nil || u.Opaque != "" || u.User != nil || !strings.EqualFold(u.Path, "/d/"+domain) {
		return ""
	}
	// A Referer is absolute (http or https, on this host); the form's back field is a path.
	if (u.Scheme != "" || u.Host != "") && (u.Scheme != "http" && u.Scheme != "https" || u.Host != host) {
		return ""
	}
	q := u.Query()
	// ParsePaging puts the default in place of a value it cannot use.
	p := ParsePaging(q)
	return viewURL(domain, p, q.Has("per_page"), filterText(q.Get("q")), q.Get("rotate") == "1")
}

// viewURL is the address of the domain's list view at paging p (page only past the first,
// per_page only when the view names it), filtered by filter and the rotate toggle; its query is
// what url.Values.Encode makes of the same values. The list page builds the one its delete
// dialog leads back to on every view, so it is appended in one buffer.
func viewURL(domain string, p Paging, perPageSet bool, filter string, rotate bool) string {
	b := make([]byte, 0, 96)
	b = append(b, domainURL(domain)...)
	sep := byte('?')
	if p.Page > 1 {
		b = append(b, sep)
		b = strconv.AppendInt(append(b, "page="...), int64(p.Page), 10)
		sep = '&'
	}
	if perPageSet {
		b = append(b, sep)
		b = strconv.AppendInt(append(b, "per_page="...), int64(p.PerPage), 10)
		sep = '&'
	}
	if filter != "" {
		b = append(b, sep)
		b = append(append(b, "q="...), url.QueryEscape(filter)...)
		sep = '&'
	}
	if rotate {
		b = append(append(b, sep), "rotate=1"...)
	}
	return string(b)
}

// refererView is the list view the request's Referer names ("" when it names none): the view a
// form page (create, reset, delete, delete all) was opened from.
func refererView(c echo.Context, domain string) string {
	return listView(c.Request().Referer(), browserHost(c), domain)
}

// wayBack is the list view a form's POST goes back to (a listView; "" for the domain page): its
// back field when the form sent one, else its Referer, which is the list view itself when the
// form is on the list page (the delete dialog of a page rendered without a back field).
func wayBack(c echo.Context, params url.Values, domain string) string {
	if params.Has("back") {
		return listView(params.Get("back"), browserHost(c), domain)
	}
	return refererView(c, domain)
}

// doneURL is the list to go back to after logins changed: back (a listView; the domain page
// when "") naming up to maxChanged of them, and the change's audit entry.
func doneURL(back, domain string, logins []string, entry int64) string {
	if back == "" {
		back = domainURL(domain)
	}
	v := url.Values{}
	for _, l := range logins[:min(len(logins), maxChanged)] {
		v.Add(changedParam, l)
	}
	if entry > 0 {
		v.Set(changedEntryParam, strconv.FormatInt(entry, 10))
	}
	return withQuery(back, v)
}

// changedEntry reads the domain page's ?entry= (changedEntryParam): 0 when there is none.
func changedEntry(q url.Values) int64 {
	id, err := strconv.ParseInt(q.Get(changedEntryParam), 10, 64)
	if err != nil || id < 0 {
		return 0
	}
	return id
}

// withQuery adds v to the address u, after the query u has; u as it is when v is empty.
func withQuery(u string, v url.Values) string {
	if len(v) == 0 {
		return u
	}
	sep := "?"
	if strings.Contains(u, "?") {
		sep = "&"
	}
	return u + sep + v.Encode()
}

// changedLogins reads the domain page's ?changed= (at most maxChanged of them) as a set of
// lower-case logins; nil when there is none.
func changedLogins(q url.Values) map[string]bool {
	var set map[string]bool
	for _, l := range q[changedParam] {
		if len(set) == maxChanged {
			break
		}
		if l = strings.TrimSpace(l); l != "" {
			if set == nil {
				set = map[string]bool{}
			}
			set[strings.ToLower(l)] = true
		}
	}
	return set
}

// firstChanged is the index of the first of items whose login is in changed, or -1.
func firstChanged(items []mailgun.Credential, changed map[string]bool) int {
	if len(changed) == 0 {
		return -1
	}
	for i, cr := range items {
		if changed[strings.ToLower(cr.Login)] {
			return i
		}
	}
	return -1
}

// hiddenChanged says, when the logins just changed are all left out of the filtered or "To
// rotate" view the form came from (a login created from a list filtered by another name, a
// password reset that took its login out of "To rotate"), which and why: the way back showed the
// list without them and without a word. Only logins of the domain (all) are named, never the
// address's text. "" when one of them is shown, or none is the domain's.
func hiddenChanged(all, shown []mailgun.Credential, changed map[string]bool, filter string, rotate bool) string {
	if len(changed) == 0 || firstChanged(shown, changed) >= 0 {
		return ""
	}
	var hidden []string
	for _, cr := range all {
		if changed[strings.ToLower(cr.Login)] {
			hidden = append(hidden, cr.Login)
		}
	}
	if len(hidden) == 0 {
		return ""
	}
	what, it := hidden[0]+" is", "it"
	if len(hidden) > 1 {
		what, it = fmt.Sprintf("The %d logins just changed are", len(hidden)), "them"
	}
	if filter != "" && !loginMatches(hidden[0], strings.ToLower(filter)) {
		return fmt.Sprintf("%s not in this list: the filter “%s” leaves %s out. Clear the filter to see %s.", what, filter, it, it)
	}
	if rotate {
		return what + " not in this list: a password set now is not due for rotation."
	}
	return ""
}

// changedSince says, for each login the way back names as just changed (changed), when another
// user changed it again after the viewer's own change (their newest create or reset of it that
// Mailgun did not refuse) had finished: a reset (the password the viewer's change gave it,
// generated or typed, no longer works), a delete or a delete all naming it, a create of it
// anew. all, when not nil, is the domain's whole list: a login missing from it that a delete
// all of the domain ended after the viewer's change began is said gone with it too, as the
// delete all's entry names only the logins listed before it (a login created while it ran is
// not one of them). Resets that overlapped the viewer's are not said here: the passwords page
// already warned of them. Before, the way back greeted the
// viewer with "Password changed." while the password on the page they just left had been
// replaced by a colleague's reset a moment later, and the list and the trail said nothing of it
// on that page. The trail not answering says nothing. entry, when not 0, is the audit entry of
// the change the way back comes from (changedEntryParam): that change is the viewer's, and the
// viewer's own later ones count too (a reset again, here or in another tab); without it the
// viewer's newest change is theirs, and their own are not counted.
func (h *CredentialPages) changedSince(ctx context.Context, sc *scope, changed map[string]bool, all []mailgun.Credential, entry int64) []string {
	logins := make([]string, 0, len(changed))
	for l := range changed {
		logins = append(logins, l)
	}
	slices.Sort(logins)
	var notes []string
	var deleteAll *store.AuditEntry // the domain's newest delete all, read once
	deleteAllRead := false
	for _, login := range logins {
		es, err := h.auditLog.ListAudit(ctx, store.AuditFilter{Domain: sc.domain, Login: login, Limit: 20})
		if err != nil {
			return notes
		}
		viewers := func(e store.AuditEntry) bool {
			return sc.madeBy(e) && !refused(e) &&
				(e.Action == audit.ActionCredentialCreate || e.Action == audit.ActionCredentialReset)
		}
		mine := -1
		if entry > 0 {
			mine = slices.IndexFunc(es, func(e store.AuditEntry) bool { return e.ID == entry && viewers(e) })
		}
		named := mine >= 0 // the way back names the viewer's change: their later ones count
		if !named {
			mine = slices.IndexFunc(es, viewers)
		}
		if mine < 0 {
			continue
		}
		yours := es[mine]
		if yours.CompletedAt == nil {
			continue
		}
		name := loginName(login, all)
		var note string
		// all says whether the login is still there, when it was read.
		present := slices.ContainsFunc(all, func(cr mailgun.Credential) bool { return strings.EqualFold(cr.Login, login) })
		// The newest change since: a reset or a create begun once the viewer's had finished (one
		// that overlapped it was warned of on the passwords page); a delete that finished after
		// the viewer's change began, even one begun before it, as both succeeding means Mailgun
		// deleted the login after the viewer's change (which would have found it gone), unless
		// the list still has the login.
		// A reset or a create anew of a login the list read whole no longer has is not its newest
		// news ("use the newer one" of a login that is gone): a delete is, found further on or by
		// the delete all check below (one that began before the reset, or the user's own on an
		// address that names no change), or nothing is said.
		gone := all != nil && !present
		for i, e := range es {
			if i == mine || e.Outcome != audit.OutcomeOK {
				continue
			}
			own := sc.madeBy(e)
			if own && !named {
				continue
			}
			when := entryEnd(e).UTC().Format(trailTime)
			switch after := !e.Time.Before(*yours.CompletedAt) && !gone; {
			case e.Action == audit.ActionCredentialReset && after && own:
				note = fmt.Sprintf("You reset the password of %s again later, on %s: the password set before that no longer works. Use the newer one, or reset it again.", name, when)
			case e.Action == audit.ActionCredentialReset && after:
				note = fmt.Sprintf("%s reset the password of %s again on %s, after your change: the password your change gave it no longer works. Ask them for the new one, or reset it again.", actorName(e), name, when)
			case e.Action == audit.ActionCredentialCreate && after && own:
				note = fmt.Sprintf("You created %s anew later, on %s: the password set before that no longer works.", name, when)
			case e.Action == audit.ActionCredentialCreate && after: // deleted, then made again
				note = fmt.Sprintf("%s created %s anew on %s, after your change: the password your change gave it no longer works.", actorName(e), name, when)
			case (e.Action == audit.ActionCredentialDelete || e.Action == audit.ActionCredentialDeleteAll) &&
				!entryEnd(e).Before(yours.Time) && !present:
				switch {
				case own && e.Action == audit.ActionCredentialDeleteAll:
					// In the words of the delete all check below, said here: an older change of
					// the login (the user's own reset, a colleague's) must not take its place.
					note = deletedAllNote(name, sc.domain, sc.nameOf(e), when)
				case own:
					note = fmt.Sprintf("You deleted %s on %s, after your change: the login no longer works.", name, when)
				default:
					note = fmt.Sprintf("%s deleted %s on %s, after your change: the login no longer works.", actorName(e), name, when)
				}
			}
			if note != "" {
				break
			}
		}
		if note == "" && all != nil && !present {
			if !deleteAllRead {
				deleteAllRead = true
				if da, err := h.auditLog.ListAudit(ctx, store.AuditFilter{Domain: sc.domain, Action: audit.ActionCredentialDeleteAll, Limit: 1}); err == nil && len(da) > 0 {
					deleteAll = &da[0]
				}
			}
			if e := deleteAll; e != nil && e.Outcome == audit.OutcomeOK && !entryEnd(*e).Before(yours.Time) {
				note = deletedAllNote(name, sc.domain, sc.nameOf(*e), entryEnd(*e).UTC().Format(trailTime))
			}
		}
		if note != "" {
			notes = append(notes, note)
		}
	}
	return notes
}

// deletedAllNote is changedSince's note for a login gone with a delete all of domain by who, at when.
func deletedAllNote(name, domain, who, when string) string {
	return fmt.Sprintf("%s is no longer in %s: %s deleted all of its logins on %s, while or after you changed it: the login no longer works.", name, domain, who, when)
}

// entryEnd is when the audit entry e's action finished: its completion, or its time for one
// not completed.
func entryEnd(e store.AuditEntry) time.Time {
	if e.CompletedAt != nil {
		return *e.CompletedAt
	}
	return e.Time
}

// loginName is login (lower case) as the domain's list all writes it, when it has it.
func loginName(login string, all []mailgun.Credential) string {
	if i := slices.IndexFunc(all, func(cr mailgun.Credential) bool { return strings.EqualFold(cr.Login, login) }); i >= 0 {
		return all[i].Login
	}
	return login
}
