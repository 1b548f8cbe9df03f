// Package views holds SMTP Desk's templ layout, components and pages, and the view models the
// handlers fill for them. Templates only format what a view model holds: they never call an API
// or a database.
package views

import (
	"time"

	"github.com/a-h/templ"
)

// Page is what the layout needs on every full page.
type Page struct {
	Title         string    // the page heading, and the <title> unless DocTitle is set
	DocTitle      string    // the <title> when it should say more than Title (which login, domain, page); "" is Title
	Subtitle      string    // one line under the heading saying what the page does
	Nonce         string    // the request's CSP nonce, for the few inline elements that need one
	CSRFToken     string    // the session's CSRF token, for the forms on the page
	User          *User     // nil when signed out
	Domains       []NavItem // the domain picker: domains the user may see
	CurrentDomain string    // highlighted in the picker, "" when none
	Nav           string    // active top-bar item: "domains", "audit" or ""
	Flashes       []Flash   // shown once at the top
	RequestID     string    // shown on error pages and in the footer for support
	Demo          bool      // shows the "demo mode: simulated Mailgun and sign-in" banner
	Support       string    // who to ask for access or help (SMTPDESK_SUPPORT), "" when nobody is named
	Breadcrumbs   []NavItem // optional trail under the top bar
	Now           time.Time // render time, for relative dates
	Assets        *Assets   // the frame's stylesheet, script and icon URLs; nil: their plain /static/ names
	PostAnswer    bool      // answers a form sent with POST: the script makes its history entry a GET of its address
	// AnswerURL, with PostAnswer, is the address the history entry takes instead of the form's,
	// for a page whose form address no longer leads where the page does (a login just deleted).
	AnswerURL string
}

// User is the signed-in person as the top bar shows them.
type User struct {
	Name    string
	Email   string
	IsAdmin bool
}

// NavItem is a link with a label.
type NavItem struct {
	Label string
	URL   string
	Note  string // e.g. the user's role on a domain
}

// Flash is a one-time message after a redirect. It never carries a secret.
type Flash struct {
	Kind    string // "success", "error", "warning", "info"
	Message string
}

// ErrorVM is the friendly error page.
type ErrorVM struct {
	Page
	Status     int
	Heading    string // e.g. "You don't have access to this domain"
	Message    string // what went wrong, in plain words, never internal details
	Hint       string // what to do next
	RetryAfter string // e.g. "in 30 seconds", "" when not relevant
	SignInURL  string // where a "Sign in" button leads; "" shows none
	// Next is the page to go to from here when it is not the domain list, such as the domain
	// whose page the hint names ("Open acme.example to see the logins it has"); nil shows none.
	Next *Link
	// KeepsDraft: the page answers a form refused before anything was done (the session had
	// ended, the form had expired); it says whether what was typed into it is kept (the browser
	// script keeps a create form's logins in the tab, and says so).
	KeepsDraft bool
}

// NoAccessVM is shown to a signed-in user the policy grants nothing.
type NoAccessVM struct {
	Page
	Email  string
	Issuer string
	Groups []string
	// GroupsProblem says why the provider's groups claim could not be read, when it could not
	// (auth.User.GroupsProblem).
	GroupsProblem string
	// EmailUnverified: the provider does not mark the e-mail verified, so the policy's rules by
	// e-mail address (and self-service) do not apply to it.
	EmailUnverified bool
}

// SignedOutVM is the page after sign-out, and the sign-in landing page.
type SignedOutVM struct {
	Page
	Next       string // where to go after signing in
	SignInURL  string
	JustSigned bool // true right after sign-out
}

// HomeVM lists the domains the user may see.
type HomeVM struct {
	Page
	Query      string      // the domain search box
	Rows       []DomainRow // the page shown
	Total      int         // domains visible before the search
	Matching   int         // domains the search keeps, on every page
	Pager      Pager
	Paged      bool // show the pager
	LastUsed   string
	ShowSearch bool
	ExportURL  string // the CSV of the listed domains' logins
	// ExportRotateURL is the CSV of the listed domains' logins to rotate (password older than
	// AgeDays days).
	ExportRotateURL string
	AgeDays         int
	// Own is the user's own SMTP login when self-service is all they may do with it (a
	// shortcut to resetting its password), nil otherwise.
	Own *OwnLogin
}

// OwnLogin is a user's own SMTP login on the home page.
type OwnLogin struct {
	Login    string
	ResetURL string // "" when the domain does not have the login: the card says so instead
	Domain   string
}

// DomainRow is one domain on the home page.
type DomainRow struct {
	Name        string
	State       string // Mailgun's state: active, unverified, disabled
	Role        string // the user's role there: viewer, operator, owner, admin
	Logins      int
	LoginsKnown bool // false when the count could not be fetched
	URL         string
}

// Perms says which controls the domain page shows. The server checks again on every request.
type Perms struct {
	Create    bool
	Reset     bool
	Delete    bool
	DeleteAll bool
	System    bool   // may create system credentials
	SelfLogin string // the one login the user may reset through self-service, "" when none
}

// CredentialsVM is the domain page: one page of a domain's SMTP credentials.
type CredentialsVM struct {
	Page
	Domain       string
	Role         string
	Can          Perms
	Rows         []CredentialRow
	Pager        Pager
	Filter       string // login substring; when set, Rows are the matches across the whole domain
	FilterCount  int    // matches found across the domain (of the filter, of Rotate, or both)
	Rotate       bool   // only the logins whose password is older than AgeDays ("To rotate"), across the domain
	AllURL       string // the page with every login (keeping the filter and page size)
	RotateURL    string // the page with only the logins to rotate
	AgeDays      int    // the "consider rotating" threshold
	CreateURL    string
	DeleteAllURL string
	AuditURL     string
	OwnResetURL  string // the reset of the user's own login, when self-service is all they may do here
	ExportURL    string // the CSV of the logins the page shows across the domain (Filter, Rotate)
	// FilterOnlyCount is, when the "To rotate" view of a filter is empty, how many logins the
	// filter matches (0 otherwise): none of them is due for rotation.
	FilterOnlyCount int
	// LoginURL is the path under which a login's pages live, "/d/example.com/logins/": a row
	// links to LoginURL + url.PathEscape(login) + "/reset" and + "/delete" (the delete
	// confirmation page, whose form posts back to the same URL; with JavaScript the list page
	// confirms in a dialog that posts there directly). Empty: no reset or delete links.
	LoginURL string
	// LoginHistoryURL begins the link to a login's audit trail, "/audit?domain=example.com&login=",
	// which each row ends with url.QueryEscape(login). Empty: no history links.
	LoginHistoryURL string
	// Back is the list view shown (page, page size, filter, rotate): the table names it
	// (data-view, which the script puts in the address when the page shown is not the one asked
	// for) and the delete dialog's form carries it, so that the list after a delete is this one.
	Back string
	// FormToken is the delete dialog's one-time token, once for the page: the dialog posts it
	// to the delete link of the row it was opened from, so that the same row's delete sent twice
	// (a double click, the POST sent again) deletes once.
	FormToken string
}

// partial reports whether the list shows only some of the domain's logins (a filter's matches,
// the logins to rotate): the page then says which, and "Delete all…" that it deletes every one.
func (vm CredentialsVM) partial() bool { return vm.Filter != "" || vm.Rotate }

// CredentialRow is one SMTP login on the domain page. Its links are built from the page's
// LoginURL and LoginHistoryURL, so that a 100-row page does not carry 300 URL strings.
type CredentialRow struct {
	Login     string
	Mailbox   string
	CreatedAt time.Time
	System    bool
	Old       bool      // its password is older than the rotation threshold
	ResetAt   time.Time // when SMTP Desk last reset its password; zero when unknown
	CanReset  bool
	CanDelete bool
	// Changed marks a login the list was opened to show as just changed (its ?changed=, from a
	// passwords page's "Done" link): its row alone carries data-changed, which the page's style
	// highlights and its script scrolls to and focuses.
	Changed bool
}

// Pager describes one page of a paged list and builds the links around it.
type Pager struct {
	Page       int // 1-based
	PerPage    int
	Total      int
	TotalPages int
	From, To   int   // 1-based positions shown, "From–To of Total"
	Sizes      []int // the page sizes offered: 25, 50, 100, 500
	// URL returns the link to page p at page size n, keeping the other query parameters.
	URL func(p, n int) string
}

// CreateVM is the create-credentials form.
type CreateVM struct {
	Page
	FormToken  string // sent back with the form, so that sending it twice creates nothing twice
	Domain     string
	Logins     string // the textarea, kept on error
	Mode       string // "generate" (default) or "manual"
	System     bool
	CanSystem  bool
	Errors     map[string]string // field name → message: "logins", "password", "password2"
	LineErrors []LineError
	// LinesRefused says the line errors are Mailgun's refusal (a login that exists), not the
	// form's: the batch was sent, and nothing was created.
	LinesRefused bool
	// Retype says a password was chosen and typed: the form comes back with its fields empty,
	// and says so.
	Retype    bool
	Upstream  *UpstreamError
	ActionURL string
	CancelURL string
	// Back is the list view the form was opened from (its page, page size, filter), sent back
	// with the form so that the page after it returns there; "" when unknown.
	Back string
}

// LineError names one invalid line of the logins textarea.
type LineError struct {
	Line    int
	Text    string
	Problem string
}

// UpstreamError is Mailgun's answer in plain words, shown next to the form.
type UpstreamError struct {
	Heading    string
	Message    string
	RetryAfter string
	Unknown    bool   // the outcome is unknown (the amber panel)
	Wait       bool   // a rate limit: nothing went wrong, the user waits (the sky-blue panel)
	RequestID  string // shown on a line of its own, to copy, when the message asks to quote it
	CheckURL   string // the list to re-check, when it shows the outcome ("" for a reset's)
	Home       bool   // Mailgun no longer has the domain: a link home instead of to its list
}

// SecretsVM is the page that shows generated passwords once. It is served Cache-Control: no-store.
type SecretsVM struct {
	Page
	Domain  string
	Action  string   // "created" or "reset"
	Secrets []Secret // what now exists
	Failed  []Failed // what does not exist (partial failure)
	Unknown []string // logins whose outcome is unknown
	// NoPassword lists logins Mailgun says it created or changed without sending the generated
	// password back: they exist with a password nobody knows.
	NoPassword []Link
	// BackURL is the "Done" link: the list, naming the logins that now exist (?changed=) so
	// that it opens where they are and shows them.
	BackURL string
	// SMTPHost is Mailgun's SMTP server, named beside the passwords for the apps to be set up
	// with them; "" names none.
	SMTPHost string
}

// Link is a labelled link.
type Link struct {
	Label string
	URL   templ.SafeURL
}

// Secret is one login and its password. Password is "" when the user chose it.
type Secret struct {
	Login    string
	Password string
}

// Failed is a login that was not created or changed, and why.
type Failed struct {
	Login  string
	Reason string
}

// ResetVM is the reset-password form.
type ResetVM struct {
	Page
	FormToken string // sent back with the form, so that sending it twice resets nothing twice
	Domain    string
	Login     string
	Mode      string // "generate" or "manual"
	Retype    bool   // as CreateVM's
	Errors    map[string]string
	Upstream  *UpstreamError
	ActionURL string
	CancelURL string
	Self      bool   // self-service reset of the user's own login
	Back      string // as CreateVM's
}

// DeleteVM is the confirmation before deleting one login.
type DeleteVM struct {
	Page
	FormToken string // sent back with the form, so that sending it twice deletes nothing twice
	Domain    string
	Login     string
	System    bool // a system login: Mailgun refuses to delete it, so there is no form
	Sent      bool // the form was already sent (Upstream says so): the page leads to the list, asking nothing again
	Upstream  *UpstreamError
	ActionURL string
	CancelURL string
	Back      string // the list view the page was opened from, where the delete and Cancel lead
}

// DoneVM answers a change that was made when the message saying so could not be kept for the
// list the change leads back to (SMTP Desk's database did not answer, the session ended
// meanwhile): the redirect would land on the database's 503 page, which reads as if the change
// had failed, or on the sign-in page, which says nothing of it. The message is in
// Page.Flashes, as the list would have shown it.
type DoneVM struct {
	Page
	Notice   *UpstreamError // why the list is not shown, and the request id
	NextURL  string         // the list
	NextText string         // "Back to acme.example"
}

// DeleteAllVM is the guarded page before deleting every login of a domain.
type DeleteAllVM struct {
	Page
	FormToken  string // sent back with the form, so that sending it twice deletes nothing twice
	Domain     string
	Count      int      // logins that will be deleted (system logins excluded)
	SystemKept []string // system logins that stay
	Preview    []string // the first few logins that will go
	Rest       []string // the ones after the preview, up to a bound, behind "and N more"
	More       int      // how many more beyond the preview (Rest and those beyond it)
	Confirm    string   // what the user typed, kept on error
	// Listed stands for the logins the page names (all of them, not only the preview); the form
	// sends it back, and the delete goes ahead only while Mailgun's list still matches it.
	Listed    string
	Sent      bool // the form was already sent (Upstream says so): the page leads to the list, naming no logins
	Errors    map[string]string
	Upstream  *UpstreamError
	ActionURL string
	CancelURL string
	Back      string // the list view the page was opened from, where Cancel leads
}

// AuditVM is the audit trail page.
type AuditVM struct {
	Page
	Filter   AuditFilter
	Problems []string // filter values not applied, or that cannot match, one sentence each
	Rows     []AuditRow
	NextURL  string // older entries, "" when none
	NewerURL string // the page of entries just newer than these, "" when none (the first page)
	FirstURL string // back to the newest, "" when on the first page
	CSVURL   string
	JSONLURL string
	Domains  []string // choices for the domain filter
	Actions  []string
	Outcomes []string
	Login    string // when showing one credential's history
	// VerifyURL is the hash-chain check, for administrators; "" for everyone else.
	VerifyURL string
	// Scope says which entries the page and its exports show a user who is not an administrator
	// (those of the domains they may view, no sign-ins); "" for an administrator, who sees all.
	Scope string
	// ScopeMore says what only administrators see (entries naming no domain, the integrity
	// check), under a disclosure after Scope.
	ScopeMore string

	// DateErrors are the date fields' own errors, by field ("from", "to"), shown under the field,
	// which is marked invalid and described by it. DatesReversed: the from date is after the to
	// date, one error (under "from") that marks and describes both fields.
	DateErrors    map[string]string
	DatesReversed bool

	// Zone is the IANA name of the time zone the date filters are days of, "" for UTC. ZoneAuto:
	// no zone was given and no date is set, so the page's script may put the viewer's own in
	// the form (a link that set dates without one keeps reading them as UTC days, as its labels
	// say).
	Zone     string
	ZoneAuto bool
}

// AuditVerifyVM is the result of checking the audit trail's hash chain.
type AuditVerifyVM struct {
	Page
	Checked  int64  // rows checked (entries and their completion rows)
	BrokenAt int64  // the first row that does not match; 0 when the chain is intact
	Reason   string // why BrokenAt does not match
	HeadID   int64  // the newest row when intact, to note down: it shows rows cut from the end
	HeadHash string
	OldestID int64     // the oldest row when intact: it may move on only as retention allows
	OldestAt time.Time // when the oldest row was written
	Trimmed  bool      // retention removed the rows before OldestID
	At       time.Time
	Took     time.Duration
}

// AuditFilter is the audit page's filter form.
type AuditFilter struct {
	Domain  string
	Actor   string
	Action  string
	Outcome string
	From    string // yyyy-mm-dd
	To      string
	Login   string
}

// AuditRow is one audit entry.
type AuditRow struct {
	ID              int64
	Time            time.Time
	Actor           string // name <email>
	ActorEmail      string
	ActorIssuer     string
	ActorSubject    string // the provider's id of the actor: shown when it sends neither name nor e-mail
	ActionKey       string // e.g. "credential.create"; the page names it in plain words
	Domain          string
	Logins          []string
	Outcome         string // ok, failed, unknown, pending, denied
	UpstreamStatus  int
	UpstreamMessage string
	RequestID       string
	ClientIP        string
	Detail          string
}
