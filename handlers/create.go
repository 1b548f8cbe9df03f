package handlers

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/smtpdesk/smtpdesk/audit"
	"github.com/smtpdesk/smtpdesk/mailgun"
	"github.com/smtpdesk/smtpdesk/policy"
	"github.com/smtpdesk/smtpdesk/store"
	"github.com/smtpdesk/smtpdesk/views"
)

// createVM is the create form for the list view back ("" when unknown), which its Cancel and
// the page after it return to.
func (h *CredentialPages) createVM(c echo.Context, sc *scope, back string) views.CreateVM {
	return views.CreateVM{
		Page:      h.subPage(c, sc, "New SMTP logins", "New SMTP logins", "Create one or more SMTP logins in "+sc.domain+".", back),
		FormToken: newFormToken(),
		Domain:    sc.domain,
		Mode:      "generate",
		CanSystem: sc.can(policy.ActSystem),
		Errors:    map[string]string{},
		ActionURL: domainURL(sc.domain) + "/new",
		CancelURL: cmp.Or(back, domainURL(sc.domain)),
		Back:      back,
	}
}

// NewForm shows the create form.
func (h *CredentialPages) NewForm(c echo.Context) error {
	sc, err := h.authorizeChange(c, policy.ActCreate, false)
	if sc == nil {
		return err
	}
	if unknown, err := h.unknownDomain(c, sc); unknown {
		return err
	}
	return Render(c, http.StatusOK, views.Create(h.createVM(c, sc, refererView(c, sc.domain))))
}

// Create creates the logins typed in the form with one Mailgun call and shows the generated
// passwords once. It is the one POST that answers with a page instead of a redirect, so the
// passwords never enter a URL, a cookie or a flash.
func (h *CredentialPages) Create(c echo.Context) error {
	sc, err := h.authorizeChange(c, policy.ActCreate, false)
	if sc == nil {
		return err
	}
	ctx := c.Request().Context()
	params, err := bodyForm(c.Request())
	if err != nil {
		return err
	}
	f := ParseCreateForm(sc.domain, params)
	token := formToken(params)
	back := wayBack(c, params, sc.domain)
	if f.System && !sc.can(policy.ActSystem) {
		return h.deny(c, sc, policy.ActSystem)
	}
	// The form as typed, for the answers that show it again. It is built only for them: the
	// page takes the session's flashes, which belong to the page after a success.
	form := func() views.CreateVM {
		vm := h.createVM(c, sc, back)
		vm.Logins, vm.Mode, vm.System = f.Raw, f.Mode, f.System
		vm.Retype = f.Password != ""
		return vm
	}
	if !f.OK() {
		// A form that goes back for a fix costs no action from the rate limit, and keeps its
		// token: nothing was sent.
		vm := form()
		vm.Errors, vm.LineErrors = f.Errors, f.LineErrors
		if token != "" {
			vm.FormToken = token
		}
		return Render(c, http.StatusBadRequest, views.Create(vm))
	}
	if ok, wait := h.allow(c, sc); !ok {
		// The form comes back as typed (up to 100 logins), with the refusal above it.
		vm := form()
		vm.Upstream = h.slowDown(c, wait)
		return Render(c, http.StatusTooManyRequests, views.Create(vm))
	}
	if !h.firstSending(c, token) {
		vm := form()
		// Which kind of password the first sending asked for is not known here (the form may have
		// been switched before it was sent again): the words fit both.
		vm.Upstream = alreadySent(checkURL(sc.domain, f.Logins), "nothing was created twice. Check the list for the logins it created. "+
			"Generated passwords are shown only once (reset a login's password to get a new one); a typed one is the password the logins have.")
		return Render(c, http.StatusConflict, views.Create(vm))
	}

	pending, refused := h.begin(c, sc, "credential.create", createDetail(f.System, f.Mode, len(f.Logins)), f.Logins)
	if pending == nil {
		h.releaseForm(c, token) // nothing was sent: the same form may be sent again
		vm := form()
		vm.Upstream = refused
		return Render(c, http.StatusServiceUnavailable, views.Create(vm))
	}
	req := &mailgun.CreateCredentialsRequest{Logins: f.Logins, System: f.System}
	if f.Mode == "manual" {
		for range f.Logins {
			req.Passwords = append(req.Passwords, f.Password)
		}
	}
	res, err := h.mg.CreateCredentials(ctx, sc.domain, req)
	if err != nil {
		h.complete(c, pending, err)
	}
	if err != nil && changedNothing(err) {
		h.releaseForm(c, token)
	}
	if err != nil {
		h.logUpstream(ctx, "create credentials", err, "domain", sc.domain, "logins", len(f.Logins))
		ue := upstreamError(c, err, createFailure(len(f.Logins)))
		if outcomeUnknown(err) {
			// The POST may have reached Mailgun: it is never retried, and the list is re-read.
			h.lists.Invalidate(sc.domain)
			markUnknown(ue, err, checkURL(sc.domain, f.Logins))
		}
		vm := form()
		vm.Upstream = ue
		if k, me := classify(err); k == upRefused && me != nil && strings.Contains(strings.ToLower(me.Message), "already exist") {
			// Mailgun created none of them: say which lines it refused, in place of the panel.
			// It names only the first login it found; the domain's list names the others, so
			// that a form with several comes back once, not once for each.
			vm.LineErrors = mergeLineErrors(f.namedIn(me.Message, loginExists), h.existingLogins(ctx, sc.domain, &f))
			h.madeUnseen(ctx, sc, &f, pending.ID(), vm.LineErrors)
			if len(vm.LineErrors) > 0 {
				vm.LinesRefused, vm.Upstream = true, nil
			}
		}
		return Render(c, upstreamStatus(err), views.Create(vm))
	}
	h.lists.Invalidate(sc.domain)

	out := views.SecretsVM{
		SMTPHost: h.set.SMTPHost,
		Domain:   sc.domain,
		Action:   "created",
	}
	generated := map[string]string{}
	for login, pw := range res.Passwords {
		generated[strings.ToLower(login)] = pw
	}
	var missing []string
	if f.Mode == "manual" {
		if n, ok := createdCount(res.Message); ok && n < len(f.Logins) {
			missing = f.Logins
		} else {
			for _, l := range f.Logins {
				out.Secrets = append(out.Secrets, views.Secret{Login: l})
			}
		}
	} else {
		for _, l := range f.Logins {
			if pw, ok := generated[strings.ToLower(l)]; ok && pw != "" {
				out.Secrets = append(out.Secrets, views.Secret{Login: l, Password: pw})
			} else {
				missing = append(missing, l)
			}
		}
	}
	if len(missing) > 0 {
		h.recheck(c, sc, f.Mode == "manual", missing, &out)
	}
	// The entry is completed once the page knows what Mailgun made: it names every login asked
	// for, so it says which of them Mailgun did not create, did not confirm, or made without a
	// password, as the page does.
	pending.Note = createdNote(out)
	// Mailgun answered, but none of the logins asked for exists (the list read again has none
	// of them): nothing was created, as the page says ("No logins created"), and the entry is
	// failed, not ok. A create that made some of them is ok, with the note naming the others.
	pending.NotDone = len(out.Failed) > 0 && len(out.Secrets)+len(out.NoPassword)+len(out.Unknown) == 0
	h.complete(c, pending, nil)
	if f.System {
		// The trail now says these are system logins: the list marks them so at once.
		h.pwSets.Forget(sc.domain)
	}
	// The list the form came from, showing the logins that now exist (never a password).
	var made []string
	for _, s := range out.Secrets {
		made = append(made, s.Login)
	}
	for _, l := range out.NoPassword {
		made = append(made, l.Label)
	}
	out.BackURL = doneURL(back, sc.domain, made, pending.ID())
	if len(out.Secrets) > 0 {
		// Every login made counts, those Mailgun sent no password for too: the list's message
		// said "Created 1 login" after a create that made two. The list "Done" leads to says
		// so, that page view alone.
		out.BackURL = withFlash(out.BackURL, h.flashFor(c, domainURL(sc.domain), "success", fmt.Sprintf("Created %s in %s.", plural(len(made), "login"), sc.domain)))
	}
	title, subtitle := createdHeading(out)
	out.Page = h.subPage(c, sc, "New SMTP logins", title, subtitle, out.BackURL)
	if len(made) > 0 {
		if deleting := h.deletedMeanwhile(ctx, sc, pending.ID(), made); deleting != "" {
			out.Flashes = append(out.Flashes, views.Flash{Kind: "warning", Message: upperFirst(deletingNote(deleting, made...))})
		}
	}
	noStore(c)
	return Render(c, http.StatusOK, views.Secrets(out))
}

// createFailure is what create says when Mailgun failed or did not answer for n logins: the POST
// is never retried, but Mailgun may have created them before its error or before its answer was
// lost, and the list tells.
func createFailure(n int) failureText {
	text := failureText{whether: "the logins were created", maybe: "the logins may have been created", next: "Check the list before trying again."}
	if n == 1 {
		text.whether, text.maybe = "the login was created", "the login may have been created"
	}
	return text
}

// loginExists is the line error of a login the domain has already.
const loginExists = "already exists in this domain. Pick another name, or reset its password."

// existingLogins returns a line error for each of the form's logins that the domain has, as its
// list says (the kept one, read again before it says so: it may be older than a delete made
// through another replica or Mailgun's own panel). A domain above loginCheckLimit logins, or a
// list that cannot be read, gives none.
func (h *CredentialPages) existingLogins(ctx context.Context, domain string, f *CreateForm) []views.LineError {
	find := func() []views.LineError {
		all, ok := h.checkableList(ctx, domain)
		if !ok {
			return nil
		}
		have := make(map[string]bool, len(all))
		for _, cr := range all {
			have[strings.ToLower(cr.Login)] = true
		}
		var out []views.LineError
		for i, l := range f.Logins {
			if have[strings.ToLower(l)] {
				out = append(out, views.LineError{Line: f.Lines[i], Text: clip(l, 80), Problem: loginExists})
			}
		}
		return out
	}
	if len(find()) == 0 {
		return nil
	}
	h.lists.Invalidate(domain)
	return find()
}

// madeUnseen says, on each line of lines (loginExists) whose login the audit trail's newest
// entry about it that may have changed something (not this create's own, skip, nor one that
// failed) shows as a create whose outcome is unknown, that
// that create most likely made it and that nobody was shown its password: the form sent again
// after "Mailgun did not answer" read "Pick another name", which hid that the first sending had
// made the login, with a password nobody knows. The trail not answering says nothing more.
func (h *CredentialPages) madeUnseen(ctx context.Context, sc *scope, f *CreateForm, skip int64, lines []views.LineError) {
	for j, le := range lines {
		i := slices.Index(f.Lines, le.Line)
		if i < 0 {
			continue
		}
		es, err := h.auditLog.ListAudit(ctx, store.AuditFilter{Domain: sc.domain, Login: f.Logins[i], Limit: 10})
		if err != nil {
			continue
		}
		// Past the entries that changed nothing (this one, another sending refused as this one
		// was, a refusal of access), to the newest that may have.
		es = slices.DeleteFunc(es, func(e store.AuditEntry) bool {
			return e.ID == skip || refused(e)
		})
		if len(es) == 0 || es[0].Action != audit.ActionCredentialCreate || es[0].Outcome != audit.OutcomeUnknown {
			continue
		}
		e := es[0]
		by := actorName(e) + "'s create"
		if sc.madeBy(e) {
			by = "your create"
		}
		lines[j].Problem = fmt.Sprintf("already exists in this domain: %s of it on %s got no answer from Mailgun, "+
			"which most likely made it then, and nobody was shown its password. Reset its password to get one.",
			by, e.Time.UTC().Format(trailTime))
	}
}

// mergeLineErrors is a and b, one error per line, in line order.
func mergeLineErrors(a, b []views.LineError) []views.LineError {
	out := slices.Clone(a)
	for _, le := range b {
		if !slices.ContainsFunc(out, func(o views.LineError) bool { return o.Line == le.Line }) {
			out = append(out, le)
		}
	}
	slices.SortFunc(out, func(x, y views.LineError) int { return x.Line - y.Line })
	return out
}

// recheck reads the list again to say truthfully which of the logins Mailgun did not confirm
// exist now.
func (h *CredentialPages) recheck(c echo.Context, sc *scope, manual bool, logins []string, out *views.SecretsVM) {
	all, err := h.lists.All(c.Request().Context(), sc.domain)
	if err != nil {
		h.log.WarnContext(c.Request().Context(), "create: re-check list", "domain", sc.domain, "err", err)
		out.Unknown = append(out.Unknown, logins...)
		return
	}
	exists := map[string]bool{}
	for _, cr := range all {
		exists[strings.ToLower(cr.Login)] = true
	}
	for _, l := range logins {
		switch {
		case !exists[strings.ToLower(l)]:
			out.Failed = append(out.Failed, views.Failed{Login: l, Reason: "Mailgun did not create it; it is not in the domain's list."})
		case manual:
			out.Secrets = append(out.Secrets, views.Secret{Login: l})
		default:
			// It exists but Mailgun sent no password for it; resetting it is the way to get one.
			out.NoPassword = append(out.NoPassword, resetLink(sc.domain, l))
		}
	}
}

// createdNote is the audit note of a create that Mailgun answered: "" when every login asked for
// exists with its password shown or chosen, else which ones do not (out.Failed), may not
// (out.Unknown) or have a password nobody was shown (out.NoPassword).
func createdNote(out views.SecretsVM) string {
	var parts []string
	if len(out.Failed) > 0 {
		logins := make([]string, len(out.Failed))
		for i, f := range out.Failed {
			logins[i] = f.Login
		}
		parts = append(parts, "Mailgun did not create "+strings.Join(logins, ", ")+".")
	}
	if len(out.Unknown) > 0 {
		parts = append(parts, "Not confirmed (the list could not be read): "+strings.Join(out.Unknown, ", ")+".")
	}
	if len(out.NoPassword) > 0 {
		logins := make([]string, len(out.NoPassword))
		for i, l := range out.NoPassword {
			logins[i] = l.Label
		}
		parts = append(parts, "Created without a password sent back: "+strings.Join(logins, ", ")+".")
	}
	return strings.Join(parts, " ")
}

// createdCount reads N from Mailgun's "Created N credentials pair(s)".
func createdCount(msg string) (int, bool) {
	fields := strings.Fields(msg)
	for i := 0; i+1 < len(fields); i++ {
		if strings.EqualFold(fields[i], "created") {
			n, err := strconv.Atoi(fields[i+1])
			return n, err == nil
		}
	}
	return 0, false
}

// checkURL is the list link offered when an outcome is unknown: filtered to the login when
// there is one.
func checkURL(domain string, logins []string) string {
	if len(logins) == 1 {
		local, _, _ := strings.Cut(logins[0], "@")
		return domainURL(domain) + "?" + url.Values{"q": {local}}.Encode()
	}
	return domainURL(domain)
}

// noStore keeps a page that shows a secret out of every cache.
func noStore(c echo.Context) {
	hd := c.Response().Header()
	hd.Set("Cache-Control", "no-store")
	hd.Set("Pragma", "no-cache")
}

// plural counts a noun: "1 login", "2 logins", "3 entries".
func plural(n int, word string) string {
	switch {
	case n == 1:
		return "1 " + word
	case strings.HasSuffix(word, "ry"):
		return fmt.Sprintf("%d %sies", n, strings.TrimSuffix(word, "y"))
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// createdHeading is the title and subtitle of the page after a create, by what it shows:
// passwords to save (one or several), logins with the password the user chose, or none of those.
func createdHeading(out views.SecretsVM) (title, subtitle string) {
	switch n := generatedCount(out.Secrets); {
	// The panel below says they will not be shown again; the subtitle says whose they are.
	case n == 1:
		return "Save this password now", "Mailgun generated it for the new login in " + out.Domain + "."
	case n > 1:
		return "Save these passwords now", "Mailgun generated them for the new logins in " + out.Domain + "."
	case len(out.Secrets) == 1:
		return "Login created", "It uses the password you chose."
	case len(out.Secrets) > 1:
		return "Logins created", "They use the password you chose."
	case len(out.NoPassword) == 1:
		return "No password received", "Mailgun created the login without sending its password back."
	case len(out.NoPassword) > 1:
		return "No passwords received", "Mailgun created the logins without sending their passwords back."
	case len(out.Unknown) == 1:
		return "Check the list", "Mailgun did not say whether the login was created."
	case len(out.Unknown) > 1:
		return "Check the list", "Mailgun did not say whether the logins were created."
	case len(out.Failed) == 1:
		// What happened; the panel below says what to do.
		return "No logins created", "Mailgun answered, but did not create the login."
	default:
		return "No logins created", "Mailgun answered, but did not create any of the logins."
	}
}

// generatedCount counts the secrets with a password to show.
func generatedCount(secrets []views.Secret) int {
	n := 0
	for _, s := range secrets {
		if s.Password != "" {
			n++
		}
	}
	return n
}

// createDetail is the detail of a create's audit entry, written with its pending entry so that it
// says so whatever Mailgun answers and even if the completion is lost: system logins first
// (aboutSystemLogins, which the trail's reading of system logins matches: a system login outlives
// delete all), then whether the passwords (of n logins) were generated or typed, as a reset's
// entry says.
func createDetail(system bool, mode string, n int) string {
	about := aboutGeneratedPasswords
	if n == 1 {
		about = aboutGeneratedPassword
	}
	if mode == "manual" {
		about = aboutTypedPassword
	}
	if system {
		return aboutSystemLogins + " " + about
	}
	return about
}
