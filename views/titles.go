package views

import "strconv"

// A page's <title> names what the page is about (the login, the domain, the page of a list), so
// that several tabs of SMTP Desk can be told apart; the heading on the page says less, as the
// breadcrumbs and the domain picker around it say the rest. The page templates set it from their
// view models, through titled.

// docTitle is the <title> of p, before " · SMTP Desk".
func docTitle(p *Page) string {
	if p.DocTitle != "" {
		return p.DocTitle
	}
	return p.Title
}

// titled returns p with its <title> made of p.Title followed by the non-empty parts, joined by
// " · ". A handler's own DocTitle stays.
func titled(p Page, parts ...string) Page {
	if p.DocTitle != "" || p.Title == "" {
		return p
	}
	t := p.Title
	for _, s := range parts {
		if s != "" && s != p.Title {
			t += " · " + s
		}
	}
	p.DocTitle = t
	return p
}

// titledCredentials is the domain page titled: "acme.example · page 2", with the filter and
// the "to rotate" view when they apply.
func titledCredentials(vm CredentialsVM) Page {
	var parts []string
	if vm.Rotate {
		parts = append(parts, "to rotate")
	}
	if vm.Filter != "" {
		parts = append(parts, "“"+vm.Filter+"”")
	}
	if vm.Pager.Page > 1 {
		parts = append(parts, "page "+strconv.Itoa(vm.Pager.Page))
	}
	return titled(vm.Page, parts...)
}

// titledHome is the domain list titled by its search and its page: "Domains · “acme” · page 2".
func titledHome(vm HomeVM) Page {
	var parts []string
	if vm.Query != "" {
		parts = append(parts, "“"+vm.Query+"”")
	}
	if vm.Pager.Page > 1 {
		parts = append(parts, "page "+strconv.Itoa(vm.Pager.Page))
	}
	return titled(vm.Page, parts...)
}

// titledAudit is the audit trail titled by what it is filtered to (one login's history, one
// domain's; then the actor, the action, the outcome and the dates applied), and whether it shows
// older entries: "Audit trail · acme.example · by “alice” · Reset password · Failed".
func titledAudit(vm AuditVM) Page {
	var parts []string
	switch {
	case vm.Login != "":
		parts = append(parts, vm.Login)
	case vm.Filter.Login != "":
		parts = append(parts, vm.Filter.Login)
	case vm.Filter.Domain != "":
		parts = append(parts, vm.Filter.Domain)
	}
	f := vm.Filter
	if f.Actor != "" {
		parts = append(parts, "by “"+f.Actor+"”")
	}
	if f.Action != "" {
		parts = append(parts, actionLabel(f.Action))
	}
	if f.Outcome != "" {
		parts = append(parts, outcomeLabel(f.Outcome))
	}
	if f.From != "" && errOf(vm.DateErrors, "from") == "" {
		parts = append(parts, "from "+f.From)
	}
	if f.To != "" && errOf(vm.DateErrors, "to") == "" {
		parts = append(parts, "to "+f.To)
	}
	if vm.FirstURL != "" {
		parts = append(parts, "older entries")
	}
	return titled(vm.Page, parts...)
}

// titledSecrets is the page after a create or reset titled by the one login reset, or the domain.
func titledSecrets(vm SecretsVM) Page {
	if vm.Action == "reset" {
		var logins []string
		for _, s := range vm.Secrets {
			logins = append(logins, s.Login)
		}
		for _, l := range vm.NoPassword {
			logins = append(logins, l.Label)
		}
		if len(logins) == 1 {
			return titled(vm.Page, logins[0])
		}
	}
	return titled(vm.Page, vm.Domain)
}

// titledLogin is a page about one login, titled "Reset bob@acme.example" or "Delete
// bob@acme.example" (the heading says "Reset password", "Delete SMTP login").
func titledLogin(p Page, verb, login string) Page {
	if p.DocTitle == "" && p.Title != "" && login != "" {
		p.DocTitle = verb + " " + login
	}
	return p
}
