package views

import (
	"fmt"
	"net/url"
	"time"

	"github.com/smtpdesk/smtpdesk/static"
)

// Sample view models, realistic enough for the tests and for the preview screenshots.

var sampleNow = time.Date(2026, 3, 14, 15, 4, 5, 0, time.UTC)

func samplePage(title, subtitle string) Page {
	return Page{
		Title:     title,
		Subtitle:  subtitle,
		Nonce:     "n0nce",
		CSRFToken: "csrf-token-123",
		User:      &User{Name: "Ada Lovelace", Email: "ada@corp.example", IsAdmin: false},
		Domains: []NavItem{
			{Label: "acme.example", URL: "/domains/acme.example", Note: "operator"},
			{Label: "empty.example", URL: "/domains/empty.example", Note: "viewer"},
			{Label: "example.com", URL: "/domains/example.com", Note: "owner"},
			{Label: "newsletter.example.org", URL: "/domains/newsletter.example.org", Note: "viewer"},
		},
		RequestID: "req-7f3a9c21b4",
		Demo:      true,
		Now:       sampleNow,
		Assets:    NewAssets(static.URL),
	}
}

func samplePager(page, perPage, total int, base string, extra url.Values) Pager {
	pages := (total + perPage - 1) / perPage
	from := (page-1)*perPage + 1
	to := min(page*perPage, total)
	return Pager{
		Page: page, PerPage: perPage, Total: total, TotalPages: pages, From: from, To: to,
		Sizes: []int{25, 50, 100, 500},
		URL: func(p, n int) string {
			q := url.Values{}
			for k, v := range extra {
				q[k] = v
			}
			q.Set("page", fmt.Sprint(p))
			q.Set("per_page", fmt.Sprint(n))
			return base + "?" + q.Encode()
		},
	}
}

func sampleHome() HomeVM {
	p := samplePage("Domains", "The Mailgun domains you can manage, with their SMTP logins and your role.")
	p.Nav = "domains"
	p.Flashes = []Flash{{Kind: "success", Message: "Signed in as ada@corp.example."}}
	return HomeVM{
		Page:       p,
		Total:      4,
		Matching:   4,
		LastUsed:   "example.com",
		ShowSearch: true,
		Rows: []DomainRow{
			{Name: "acme.example", State: "active", Role: "operator", Logins: 12, LoginsKnown: true, URL: "/domains/acme.example"},
			{Name: "empty.example", State: "unverified", Role: "viewer", Logins: 1, LoginsKnown: true, URL: "/domains/empty.example"},
			{Name: "example.com", State: "active", Role: "owner", Logins: 2431, LoginsKnown: true, URL: "/domains/example.com"},
			{Name: "newsletter.example.org", State: "disabled", Role: "viewer", LoginsKnown: false, URL: "/domains/newsletter.example.org"},
		},
	}
}

func sampleCredentials() CredentialsVM {
	p := samplePage("example.com", "SMTP logins apps use to send mail through Mailgun for this domain.")
	p.CurrentDomain = "example.com"
	p.Breadcrumbs = []NavItem{{Label: "Domains", URL: "/"}, {Label: "example.com", URL: "/domains/example.com"}}
	p.Flashes = []Flash{{Kind: "success", Message: "Deleted old-app@example.com from example.com."}}
	rows := []CredentialRow{{
		Login: "postmaster@example.com", Mailbox: "postmaster@example.com", CreatedAt: sampleNow.AddDate(-3, 0, 0),
		System: true, Old: true, CanReset: true, CanDelete: true,
	}}
	names := []string{"alice", "billing-app", "crm-sync", "deploy-bot", "helpdesk", "invoices", "marketing-2024", "monitoring", "newsletter", "noreply", "orders", "password-reset"}
	for i, n := range names {
		login := n + "@example.com"
		rows = append(rows, CredentialRow{
			Login: login, Mailbox: login, CreatedAt: sampleNow.Add(-time.Duration(i*i*97+3) * time.Hour),
			Old: i > 9, CanReset: true, CanDelete: true,
		})
	}
	return CredentialsVM{
		Page:            p,
		Domain:          "example.com",
		Role:            "owner",
		Can:             Perms{Create: true, Reset: true, Delete: true, DeleteAll: true, System: true},
		Rows:            rows,
		Pager:           samplePager(3, 100, 2431, "/domains/example.com", nil),
		AgeDays:         365,
		CreateURL:       "/domains/example.com/new",
		DeleteAllURL:    "/domains/example.com/delete-all",
		AuditURL:        "/audit?domain=example.com",
		LoginURL:        "/d/example.com/logins/",
		LoginHistoryURL: "/audit?domain=example.com&login=",
	}
}

func sampleCredentialsFiltered() CredentialsVM {
	vm := sampleCredentials()
	vm.Page.Flashes = nil
	vm.Filter = "app"
	vm.Rows = vm.Rows[2:3]
	vm.FilterCount = 1
	vm.Pager = samplePager(1, 100, 1, "/domains/example.com", url.Values{"q": {"app"}})
	return vm
}

func sampleCredentialsViewer() CredentialsVM {
	vm := sampleCredentials()
	vm.Page.Flashes = nil
	vm.Role = "viewer"
	vm.Can = Perms{}
	for i := range vm.Rows {
		vm.Rows[i].CanReset, vm.Rows[i].CanDelete = false, false
	}
	return vm
}

func sampleCredentialsEmpty() CredentialsVM {
	vm := sampleCredentials()
	vm.Page.Flashes = nil
	vm.Rows = nil
	vm.Pager = samplePager(1, 100, 0, "/domains/empty.example", nil)
	return vm
}

func sampleCredentialsEmptyViewer() CredentialsVM {
	vm := sampleCredentialsEmpty()
	vm.Role = "viewer"
	vm.Can = Perms{}
	return vm
}

func sampleCreate() CreateVM {
	p := samplePage("New SMTP logins", "Create one or more logins on example.com. Passwords are shown once, on the next page.")
	p.CurrentDomain = "example.com"
	p.Breadcrumbs = []NavItem{{Label: "Domains", URL: "/"}, {Label: "example.com", URL: "/domains/example.com"}, {Label: "New SMTP logins"}}
	return CreateVM{
		Page:      p,
		Domain:    "example.com",
		Logins:    "alice\nbob smith\nbilling-app@example.com\ncarol@other.example",
		Mode:      "manual",
		CanSystem: true,
		Errors:    map[string]string{"password2": "The two passwords don't match."},
		LineErrors: []LineError{
			{Line: 2, Text: "bob smith", Problem: "contains a space"},
			{Line: 4, Text: "carol@other.example", Problem: "belongs to another domain (other.example)"},
		},
		Upstream:  &UpstreamError{Heading: "Mailgun is rate limiting requests", Message: "Too many requests were sent to Mailgun in a short time. Nothing was created.", RetryAfter: "in 30 seconds"},
		ActionURL: "/domains/example.com/new",
		CancelURL: "/domains/example.com",
	}
}

func sampleSecrets() SecretsVM {
	p := samplePage("Logins created", "example.com: 3 of 5 logins were created.")
	p.CurrentDomain = "example.com"
	return SecretsVM{
		Page:   p,
		Domain: "example.com",
		Action: "created",
		Secrets: []Secret{
			{Login: "alice@example.com", Password: "q7Vx-2mLp-9sKd-4TzR"},
			{Login: "billing-app@example.com", Password: "Hn3w-Ye8c-Pq5b-Lm2J"},
			{Login: "crm-sync@example.com", Password: ""},
		},
		Failed:     []Failed{{Login: "helpdesk@example.com", Reason: "a login with this name already exists"}},
		Unknown:    []string{"orders@example.com"},
		NoPassword: []Link{{Label: "relay@example.com", URL: "/d/example.com/logins/relay@example.com/reset"}},
		BackURL:    "/domains/example.com",
	}
}

func sampleReset() ResetVM {
	p := samplePage("Reset password", "Give alice@example.com a new password. Apps using the old one stop working.")
	p.CurrentDomain = "example.com"
	p.Breadcrumbs = []NavItem{{Label: "Domains", URL: "/"}, {Label: "example.com", URL: "/domains/example.com"}, {Label: "Reset password"}}
	return ResetVM{
		Page:      p,
		Domain:    "example.com",
		Login:     "alice@example.com",
		Mode:      "generate",
		Upstream:  &UpstreamError{Heading: "Mailgun did not answer", Message: "Mailgun did not answer in time; nothing was changed. Try again in a moment."},
		ActionURL: "/domains/example.com/credentials/alice/reset",
		CancelURL: "/domains/example.com",
	}
}

func sampleDelete() DeleteVM {
	p := samplePage("Delete SMTP login", "Remove one login from example.com.")
	p.CurrentDomain = "example.com"
	p.Breadcrumbs = []NavItem{{Label: "Domains", URL: "/"}, {Label: "example.com", URL: "/domains/example.com"}, {Label: "Delete login"}}
	return DeleteVM{
		Page:      p,
		Domain:    "example.com",
		Login:     "alice@example.com",
		ActionURL: "/domains/example.com/credentials/alice/delete",
		CancelURL: "/domains/example.com",
	}
}

func sampleDone() DoneVM {
	p := samplePage("Login deleted", "")
	p.CurrentDomain = "example.com"
	p.Breadcrumbs = []NavItem{{Label: "Domains", URL: "/"}, {Label: "example.com", URL: "/domains/example.com"}, {Label: "Login deleted"}}
	p.Flashes = []Flash{{Kind: "success", Message: "Deleted alice@example.com."}}
	return DoneVM{
		Page: p,
		Notice: &UpstreamError{Wait: true, RequestID: "0123456789abcdef0123456789abcdef",
			Heading: "The list cannot be shown now", Message: "SMTP Desk's database did not answer."},
		NextURL:  "/domains/example.com",
		NextText: "Back to example.com",
	}
}

func sampleDeleteAll() DeleteAllVM {
	p := samplePage("Delete all SMTP logins", "Remove every login of example.com except its system logins.")
	p.CurrentDomain = "example.com"
	p.Breadcrumbs = []NavItem{{Label: "Domains", URL: "/"}, {Label: "example.com", URL: "/domains/example.com"}, {Label: "Delete all"}}
	return DeleteAllVM{
		Page:       p,
		Domain:     "example.com",
		Count:      2430,
		SystemKept: []string{"postmaster@example.com"},
		Preview:    []string{"alice@example.com", "billing-app@example.com", "crm-sync@example.com", "deploy-bot@example.com", "helpdesk@example.com", "invoices@example.com", "marketing-2024@example.com", "monitoring@example.com", "newsletter@example.com", "noreply@example.com"},
		More:       2420,
		Confirm:    "example",
		Errors:     map[string]string{"confirm": "Type example.com exactly to confirm."},
		ActionURL:  "/domains/example.com/delete-all",
		CancelURL:  "/domains/example.com",
	}
}

func sampleAudit() AuditVM {
	p := samplePage("Audit trail", "Who changed which SMTP login, when, and with what outcome. Newest first.")
	p.Nav = "audit"
	rows := []AuditRow{
		{ID: 912, Time: sampleNow.Add(-4 * time.Minute), Actor: "Ada Lovelace <ada@corp.example>", ActorEmail: "ada@corp.example", ActionKey: "credential.create", Domain: "example.com", Logins: []string{"alice@example.com", "billing-app@example.com"}, Outcome: "ok", UpstreamStatus: 200, RequestID: "req-1a2b3c"},
		{ID: 911, Time: sampleNow.Add(-26 * time.Minute), Actor: "Grace Hopper <grace@corp.example>", ActorEmail: "grace@corp.example", ActionKey: "credential.reset", Domain: "acme.example", Logins: []string{"deploy-bot@acme.example"}, Outcome: "failed", UpstreamStatus: 400, UpstreamMessage: "Password is the same as the old one", RequestID: "req-9f8e7d"},
		{ID: 910, Time: sampleNow.Add(-3 * time.Hour), Actor: "Ada Lovelace <ada@corp.example>", ActorEmail: "ada@corp.example", ActionKey: "credential.create", Domain: "example.com", Logins: []string{"orders@example.com"}, Outcome: "unknown", RequestID: "req-55aa01", Detail: "Mailgun did not answer in time"},
		{ID: 909, Time: sampleNow.Add(-27 * time.Hour), Actor: "Linus <linus@corp.example>", ActorEmail: "linus@corp.example", ActionKey: "credential.delete_all", Domain: "newsletter.example.org", Logins: []string{"a@newsletter.example.org", "b@newsletter.example.org", "c@newsletter.example.org", "d@newsletter.example.org", "e@newsletter.example.org", "f@newsletter.example.org", "g@newsletter.example.org"}, Outcome: "ok", UpstreamStatus: 200, RequestID: "req-77bc12"},
		{ID: 908, Time: sampleNow.Add(-50 * time.Hour), Actor: "Mallory <mallory@corp.example>", ActorEmail: "mallory@corp.example", ActionKey: "access.denied", Domain: "example.com", Outcome: "denied", RequestID: "req-0d0e0f"},
		{ID: 907, Time: sampleNow.Add(-80 * time.Hour), Actor: "Ada Lovelace <ada@corp.example>", ActorEmail: "ada@corp.example", ActionKey: "credential.delete", Domain: "example.com", Logins: []string{"old-app@example.com"}, Outcome: "pending", RequestID: "req-33cc44"},
		{ID: 906, Time: sampleNow.Add(-81 * time.Hour), Actor: "Ada Lovelace <ada@corp.example>", ActorEmail: "ada@corp.example", ActionKey: "auth.sign_in", Outcome: "ok", RequestID: "req-12ab34"},
	}
	return AuditVM{
		Page:     p,
		Filter:   AuditFilter{Domain: "", Outcome: ""},
		Rows:     rows,
		NextURL:  "/audit?before=906",
		FirstURL: "/audit",
		CSVURL:   "/audit/export.csv",
		JSONLURL: "/audit/export.jsonl",
		Domains:  []string{"acme.example", "empty.example", "example.com", "newsletter.example.org"},
		Actions:  []string{"credential.create", "credential.reset", "credential.delete", "credential.delete_all", "auth.sign_in", "auth.sign_out", "access.denied"},
		Outcomes: []string{"ok", "failed", "unknown", "pending", "denied"},
	}
}

func sampleAuditEmpty() AuditVM {
	vm := sampleAudit()
	vm.Rows = nil
	vm.NextURL, vm.FirstURL = "", ""
	vm.Filter = AuditFilter{Domain: "example.com", Outcome: "failed"}
	return vm
}

func sampleError(status int) ErrorVM {
	p := samplePage("Error", "")
	vm := ErrorVM{Page: p, Status: status}
	switch status {
	case 404:
		vm.Page.Title = "Not found"
		vm.Heading = "Page not found"
		vm.Message = "There is no SMTP login bob@example.com on example.com."
		vm.Hint = "It may have been deleted. Go back to the domain's list."
	case 429:
		vm.Page.Title = "Too many requests"
		vm.Heading = "Too many requests"
		vm.Message = "You've made many changes in a short time."
		vm.RetryAfter = "in 30 seconds"
	case 401:
		vm.Page.Title = "Signed out"
		vm.Heading = "Your session has ended"
		vm.Page.User = nil
		vm.Message = "Your session has expired."
		vm.SignInURL = "/auth/login"
	default:
		vm.Page.Title = "Mailgun is unavailable"
		vm.Heading = "Mailgun is unavailable"
		vm.Message = "Mailgun did not answer; nothing was changed."
		vm.Hint = "Try again in a minute. If it keeps happening, check Mailgun's status page."
	}
	return vm
}

func sampleNoAccess() NoAccessVM {
	p := samplePage("No access", "")
	p.Domains = nil
	return NoAccessVM{Page: p, Email: "newhire@corp.example", Issuer: "https://login.corp.example", Groups: []string{"engineering", "everyone", "vpn-users"}}
}

func sampleSignedOut() SignedOutVM {
	p := samplePage("Signed out", "")
	p.User = nil
	p.Domains = nil
	return SignedOutVM{Page: p, SignInURL: "/auth/login", Next: "/domains/example.com", JustSigned: true}
}
