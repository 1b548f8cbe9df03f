package mailgun

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// ListOptions pages a list call. Zero values leave Mailgun's defaults (skip 0, limit 100).
type ListOptions struct {
	Skip  int // items to skip, ≥ 0
	Limit int // page size, 0..MaxLimit (0 = Mailgun's default of 100)
}

// Credential is one SMTP login.
type Credential struct {
	Login     string    // full login, "local@domain"
	Mailbox   string    // usually the same as Login
	CreatedAt time.Time // in UTC; zero when Mailgun sent none
	SizeBytes *string   // Mailgun's size_bytes: a string, or nil when null
}

// CredentialList is one page of a domain's credentials.
type CredentialList struct {
	Items []Credential
	// TotalCount is the number of credentials on the domain, not the page length.
	TotalCount int
}

// credentialWire is a credential as Mailgun sends it.
type credentialWire struct {
	Login     string    `json:"login"`
	Mailbox   string    `json:"mailbox"`
	CreatedAt string    `json:"created_at"`
	SizeBytes wireBytes `json:"size_bytes"`
}

// wireBytes is size_bytes as it arrives: decoded in place (no json.RawMessage copy and second
// Unmarshal per item), with anything that is not a string, a number or null kept as a fault for
// credential to report with the item's index.
type wireBytes struct {
	val *string
	bad bool
}

// UnmarshalJSON reads a string, a number or null.
func (w *wireBytes) UnmarshalJSON(raw []byte) error {
	w.val, w.bad = nil, false
	switch {
	case string(raw) == "null":
	case len(raw) >= 2 && raw[0] == '"' && !bytes.ContainsAny(raw[1:len(raw)-1], `"\`) && utf8.Valid(raw):
		s := string(raw[1 : len(raw)-1]) // a plain string: no escapes to undo
		w.val = &s
	default:
		v, err := parseSizeBytes(raw)
		w.val, w.bad = v, err != nil
	}
	return nil
}

// ListCredentials returns one page of a domain's SMTP credentials
// (GET /v3/domains/{domain}/credentials).
func (c *Client) ListCredentials(ctx context.Context, domain string, opts *ListOptions) (*CredentialList, error) {
	p, err := credentialsPath(domain)
	if err != nil {
		return nil, err
	}
	var o ListOptions
	if opts != nil {
		o = *opts
	}
	q, err := pageQuery(o.Skip, o.Limit)
	if err != nil {
		return nil, err
	}
	var (
		wire credentialPage
		list *CredentialList
	)
	cl := &call{route: routeListCredentials, path: p, query: q}
	cl.check = func() (err error) {
		list, err = wire.checked(domain, o.Limit)
		return err
	}
	if err := c.do(ctx, cl, &wire); err != nil {
		return nil, err
	}
	return list, nil
}

// checked is the page as decoded, refused (ErrBadResponse) when it is not a page of limit
// credentials of domain.
func (p *credentialPage) checked(domain string, limit int) (*CredentialList, error) {
	list, err := p.list()
	if err != nil {
		return nil, err
	}
	if list.TotalCount < 0 {
		// Callers size slices and maps by it: a negative count is a broken answer, not a list.
		return nil, fmt.Errorf("mailgun: %s: %w: negative total_count", routeListCredentials, ErrBadResponse)
	}
	if err := checkPageLength(routeListCredentials, len(list.Items), limit); err != nil {
		return nil, err
	}
	for i := range list.Items {
		if list.Items[i].Login == "" {
			// An item without a login (null, {}) is no credential: it would be a blank row
			// whose actions name nothing.
			return nil, fmt.Errorf("mailgun: %s: %w: item %d has no login", routeListCredentials, ErrBadResponse, i)
		}
		if !loginOf(list.Items[i].Login, domain) {
			// A login of another domain (or none) would be a row of this domain's whose Reset
			// and Delete name a login it does not have, and a line of its export.
			return nil, fmt.Errorf("mailgun: %s: %w: item %d is not a login of the domain", routeListCredentials, ErrBadResponse, i)
		}
	}
	return list, nil
}

// loginOf reports whether login is an address of domain: a local part, one "@", then the domain
// in any letter case, as Mailgun names every login of a domain (and as ValidateSpec takes it).
func loginOf(login, domain string) bool {
	local, d, ok := strings.Cut(login, "@")
	return ok && local != "" && !strings.Contains(d, "@") && strings.EqualFold(d, domain)
}

// checkPageLength refuses a page with more items than were asked for (limit, or MaxLimit when
// the call left Mailgun's default): a page is at most limit long, and callers page by it. An
// answer of 100,000 tiny items to limit=1000 would otherwise be rendered as one page, or held
// a thousand times over while a whole domain is read.
func checkPageLength(r route, n, limit int) error {
	if limit <= 0 {
		limit = MaxLimit
	}
	if n > limit {
		return fmt.Errorf("mailgun: %s: %w: %d items for limit %d", r, ErrBadResponse, n, limit)
	}
	return nil
}

// list is the page as decoded: the fast path's, or else encoding/json's, checked.
func (p *credentialPage) list() (*CredentialList, error) {
	if p.fast != nil {
		return p.fast, nil
	}
	if p.Items == nil || p.TotalCount == nil {
		// A 200 that is not a list page (null, {}, a proxy's message) is not an empty domain.
		return nil, fmt.Errorf("mailgun: %s: %w: no items or total_count", routeListCredentials, ErrBadResponse)
	}
	list := &CredentialList{Items: make([]Credential, 0, len(p.Items)), TotalCount: *p.TotalCount}
	for i, w := range p.Items {
		cr, err := w.credential()
		if err != nil {
			return nil, fmt.Errorf("mailgun: %s: item %d: %w", routeListCredentials, i, err)
		}
		list.Items = append(list.Items, cr)
	}
	return list, nil
}

func (w credentialWire) credential() (Credential, error) {
	created, err := parseOptionalTime(w.CreatedAt)
	if err != nil {
		return Credential{}, fmt.Errorf("created_at: %w", err)
	}
	if w.SizeBytes.bad {
		return Credential{}, errBadSizeBytes
	}
	return Credential{Login: w.Login, Mailbox: w.Mailbox, CreatedAt: created, SizeBytes: w.SizeBytes.val}, nil
}

// parseSizeBytes reads size_bytes: a string, null (or absent), or, leniently, a number.
func parseSizeBytes(raw json.RawMessage) (*string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return &s, nil
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err == nil {
		s := n.String()
		return &s, nil
	}
	return nil, errBadSizeBytes
}

var errBadSizeBytes = fmt.Errorf("%w: size_bytes is neither a string, a number nor null", ErrBadResponse)

// pageQuery encodes skip and limit, sending only non-zero values.
func pageQuery(skip, limit int) (url.Values, error) {
	switch {
	case skip < 0:
		return nil, fmt.Errorf("%w: skip must not be negative, got %d", ErrInvalidInput, skip)
	case limit < 0 || limit > MaxLimit:
		return nil, fmt.Errorf("%w: limit must be between 0 and %d, got %d", ErrInvalidInput, MaxLimit, limit)
	}
	q := url.Values{}
	if skip > 0 {
		q.Set("skip", strconv.Itoa(skip))
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	return q, nil
}

// CreateCredentialsRequest creates one or more SMTP logins. Logins and Mailboxes may each be
// a local part ("alice") or a full address in the domain; Mailgun stores "local@domain".
// Passwords, when given, pair by position with Logins followed by Mailboxes; logins without a
// paired password get one generated by Mailgun.
type CreateCredentialsRequest struct {
	Logins    []string
	Mailboxes []string
	Passwords []string
	System    bool // create system credentials
}

// CreateResult is Mailgun's answer to a create.
type CreateResult struct {
	Message string // e.g. "Created 1 credentials pair(s)"
	Note    string // Mailgun's note about generated passwords, if any
	// Passwords holds the passwords Mailgun generated, keyed by full login; nil when it
	// generated none. They are shown once: never log or store them.
	Passwords map[string]string
}

// passwordAnswer is the JSON shape of create and change-password answers.
type passwordAnswer struct {
	Message     string            `json:"message"`
	Note        string            `json:"note"`
	Credentials map[string]string `json:"credentials"`
}

// CreateCredentials creates SMTP logins (POST /v3/domains/{domain}/credentials). It is sent
// exactly once: on a *TransportError, a 5xx or a deadline the outcome is unknown and the
// caller should re-check the list rather than repeat the call.
func (c *Client) CreateCredentials(ctx context.Context, domain string, req *CreateCredentialsRequest) (*CreateResult, error) {
	p, err := credentialsPath(domain)
	if err != nil {
		return nil, err
	}
	if req == nil || len(req.Logins)+len(req.Mailboxes) == 0 {
		return nil, fmt.Errorf("%w: no logins or mailboxes to create", ErrInvalidInput)
	}
	form := url.Values{}
	for i, l := range req.Logins {
		if err := validateLogin(fmt.Sprintf("login %d", i+1), l); err != nil {
			return nil, err
		}
		form.Add("login", l)
	}
	for i, m := range req.Mailboxes {
		if err := validateLogin(fmt.Sprintf("mailbox %d", i+1), m); err != nil {
			return nil, err
		}
		form.Add("mailbox", m)
	}
	if n, m := len(req.Passwords), len(req.Logins)+len(req.Mailboxes); n > m {
		return nil, fmt.Errorf("%w: %d passwords for %d logins", ErrInvalidInput, n, m)
	}
	for i, pw := range req.Passwords {
		if pw == "" {
			return nil, fmt.Errorf("%w: password %d is empty (leave Passwords out to have Mailgun generate them)", ErrInvalidInput, i+1)
		}
		form.Add("password", pw)
	}
	if req.System {
		form.Set("system", "true")
	}
	var ans passwordAnswer
	cl := &call{route: routeCreateCredentials, path: p, form: form, secrets: req.Passwords,
		check: func() error { return answered(routeCreateCredentials, ans.Message) }}
	if err := c.do(ctx, cl, &ans); err != nil {
		return nil, err
	}
	res := &CreateResult{Message: ans.Message, Note: ans.Note}
	if len(ans.Credentials) > 0 {
		res.Passwords = ans.Credentials
	}
	return res, nil
}

// PasswordResult is Mailgun's answer to a password change.
type PasswordResult struct {
	Message string // e.g. "Password changed"
	Note    string // Mailgun's note about a generated password, if any
	Login   string // the full login, "local@domain"
	// Password is the password Mailgun generated; "" when the caller supplied one, or when the
	// answer held none for this login. It is shown once: never log or store it.
	Password string
}

// ChangePassword sets a login's password (PUT /v3/domains/{domain}/credentials/{spec}).
// spec is a local part or a full address; password "" lets Mailgun generate one, which comes
// back in PasswordResult.Password.
func (c *Client) ChangePassword(ctx context.Context, domain, spec, password string) (*PasswordResult, error) {
	p, err := credentialPath(domain, spec)
	if err != nil {
		return nil, err
	}
	return c.changePassword(ctx, routeChangePassword, p, domain, spec, password)
}

// ChangeMailboxPassword is ChangePassword on Mailgun's older route
// (PUT /v3/{domain}/mailboxes/{spec}).
func (c *Client) ChangeMailboxPassword(ctx context.Context, domain, spec, password string) (*PasswordResult, error) {
	p, err := mailboxPath(domain, spec)
	if err != nil {
		return nil, err
	}
	return c.changePassword(ctx, routeChangeMailbox, p, domain, spec, password)
}

func (c *Client) changePassword(ctx context.Context, r route, path, domain, spec, password string) (*PasswordResult, error) {
	form := url.Values{}
	var ans passwordAnswer
	cl := &call{route: r, path: path, form: form, check: func() error { return answered(r, ans.Message) }}
	if password != "" {
		form.Set("password", password)
		cl.secrets = []string{password}
		// A retry of a PUT whose first attempt did land is refused as "the same as the old
		// password": the login already has the requested password, so the change is done.
		cl.doneAfterUnknown = func(e *Error) bool {
			return e.StatusCode == http.StatusBadRequest &&
				strings.Contains(strings.ToLower(e.Message), "same as old password")
		}
	}
	err := c.do(ctx, cl, &ans)
	login := fullLogin(spec, domain)
	switch {
	case errors.Is(err, errDoneEarlier):
		return &PasswordResult{Message: "Password changed", Login: login}, nil
	case err != nil:
		return nil, err
	}
	res := &PasswordResult{Message: ans.Message, Note: ans.Note, Login: login}
	if password == "" {
		if pw, ok := ans.Credentials[login]; ok {
			res.Password = pw
		} else {
			// Keyed by a spelling of the login we did not predict (case, say): take it. A
			// password keyed by another login is not this login's, whatever else the answer
			// holds: it would be shown as this one's, and the outcome is as if none came back.
			for l, pw := range ans.Credentials {
				if strings.EqualFold(l, login) {
					res.Login, res.Password = l, pw
					break
				}
			}
		}
	}
	return res, nil
}

// fullLogin turns a spec into "local@domain".
func fullLogin(spec, domain string) string {
	if strings.Contains(spec, "@") {
		return spec
	}
	return spec + "@" + domain
}

// DeleteResult is Mailgun's answer to deleting one login.
type DeleteResult struct {
	Message string // "Credentials have been deleted"
	Spec    string // the deleted login
}

// DeleteCredential deletes one login (DELETE /v3/domains/{domain}/credentials/{spec}).
// When an attempt whose outcome was unknown (5xx, no answer) is retried and the retry finds
// the login gone (404 "Credentials not found"), the delete counts as done: the result has Spec
// set to the full login. Any other refusal of the retry, a 404 "Domain not found" or a proxy's
// 404 page among them, ends in an *OutcomeUnknownError: the login may be gone or not.
func (c *Client) DeleteCredential(ctx context.Context, domain, spec string) (*DeleteResult, error) {
	p, err := credentialPath(domain, spec)
	if err != nil {
		return nil, err
	}
	var ans struct {
		Message string `json:"message"`
		Spec    string `json:"spec"`
	}
	cl := &call{route: routeDeleteCredential, path: p, doneAfterUnknown: LoginGone,
		check: func() error { return answered(routeDeleteCredential, ans.Message) }}
	err = c.do(ctx, cl, &ans)
	switch {
	case errors.Is(err, errDoneEarlier):
		return &DeleteResult{Message: "Credentials have been deleted", Spec: fullLogin(spec, domain)}, nil
	case err != nil:
		return nil, err
	}
	if ans.Spec == "" {
		ans.Spec = fullLogin(spec, domain)
	}
	return &DeleteResult{Message: ans.Message, Spec: ans.Spec}, nil
}

// LoginGone says whether e is Mailgun's word that the login is not there: its 404 "Credentials
// not found" (matched as the PUT's "same as old password" is). A retried DELETE refused so
// counts as done. A 404 "Domain not found" does not say the login is gone (the domain was
// removed, or an earlier attempt never reached it), and neither does a 404 without Mailgun's
// message (a proxy's page, whose HTML newError drops): the login may well be there still.
func LoginGone(e *Error) bool {
	return e != nil && e.StatusCode == http.StatusNotFound &&
		strings.Contains(strings.ToLower(e.Message), "credentials not found")
}

// DeleteAllResult is Mailgun's answer to deleting all of a domain's logins.
type DeleteAllResult struct {
	Message string // "All domain credentials have been deleted"
	Count   int    // logins deleted (system logins are kept)
	// CountIncomplete is set when the answer came from a retry after an attempt whose outcome
	// was unknown (a 5xx, no answer): that attempt may have deleted logins too, which Count, the
	// last attempt's count, leaves out. How many were deleted in all is then unknown.
	CountIncomplete bool
}

// DeleteAllCredentials deletes every non-system login of a domain
// (DELETE /v3/domains/{domain}/credentials). When the call is retried, Count is what the
// last attempt deleted, and CountIncomplete says whether an earlier attempt may have deleted
// more.
func (c *Client) DeleteAllCredentials(ctx context.Context, domain string) (*DeleteAllResult, error) {
	p, err := credentialsPath(domain)
	if err != nil {
		return nil, err
	}
	var ans struct {
		Message string `json:"message"`
		Count   *int   `json:"count"`
	}
	cl := &call{route: routeDeleteAll, path: p, check: func() error {
		if err := answered(routeDeleteAll, ans.Message); err != nil {
			return err
		}
		if ans.Count == nil || *ans.Count < 0 {
			return fmt.Errorf("mailgun: %s: %w: no count of the logins deleted", routeDeleteAll, ErrBadResponse)
		}
		return nil
	}}
	if err := c.do(ctx, cl, &ans); err != nil {
		return nil, err
	}
	return &DeleteAllResult{Message: ans.Message, Count: *ans.Count, CountIncomplete: cl.afterUnknown}, nil
}

// answered checks that a change's 2xx answer is Mailgun's: every one carries a "message"
// (Mailgun's reference marks it required). A 2xx without one (null, {}, a proxy's or a gateway's
// JSON of its own) says nothing about the change, so its outcome is unknown: ErrBadResponse, as
// for an answer that is not JSON, and never a success that the audit trail and the page would
// then report.
func answered(r route, message string) error {
	if message == "" {
		return fmt.Errorf("mailgun: %s: %w: no message in the answer", r, ErrBadResponse)
	}
	return nil
}

// credentialPage is a list answer as Mailgun sends it. It decodes itself (fastDecoder): the
// common shape — the four known item fields, strings without escapes, created_at in RFC 2822 —
// is read by hand in one pass with two allocations for all the logins of the page; anything else
// (an escape, an unknown or repeated field, a null where a string belongs, an odd timestamp,
// invalid JSON) makes the fast path give up, and the body goes through encoding/json exactly as
// before, with the same results and errors.
type credentialPage struct {
	Items      []credentialWire `json:"items"`
	TotalCount *int             `json:"total_count"`
	// fast is the page when the fast path read it.
	fast *CredentialList
}

// decodeFast implements fastDecoder.
func (p *credentialPage) decodeFast(b []byte) bool {
	l, ok := parseCredentialPage(b)
	if ok {
		p.fast = l
	}
	return ok
}

// listParser reads one list answer; ok turns false at the first thing it does not handle.
type listParser struct {
	b  []byte
	i  int
	ok bool
}

func (p *listParser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// want consumes byte c after white space.
func (p *listParser) want(c byte) {
	p.ws()
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return
	}
	p.ok = false
}

// peek says whether the next byte after white space is c, consuming it if so.
func (p *listParser) peek(c byte) bool {
	p.ws()
	if p.ok && p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

// str reads a string without escapes or control characters, in valid UTF-8, and returns its
// bytes (a slice of the body).
func (p *listParser) str() []byte {
	p.want('"')
	if !p.ok {
		return nil
	}
	start, ascii := p.i, true
	for ; p.i < len(p.b); p.i++ {
		c := p.b[p.i]
		switch {
		case c == '"':
			s := p.b[start:p.i]
			p.i++
			if !ascii && !utf8.Valid(s) {
				p.ok = false // encoding/json would replace the bad bytes
			}
			return s
		case c < 0x20, c == '\\':
			p.ok = false
			return nil
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	p.ok = false
	return nil
}

// number reads a JSON number and returns its text.
func (p *listParser) number() []byte {
	p.ws()
	start := p.i
	digits := func() int {
		n := 0
		for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
			p.i++
			n++
		}
		return n
	}
	if p.i < len(p.b) && p.b[p.i] == '-' {
		p.i++
	}
	first := p.i
	if n := digits(); n == 0 || (n > 1 && p.b[first] == '0') {
		p.ok = false
		return nil
	}
	if p.i < len(p.b) && p.b[p.i] == '.' {
		p.i++
		if digits() == 0 {
			p.ok = false
			return nil
		}
	}
	if p.i < len(p.b) && (p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		p.i++
		if p.i < len(p.b) && (p.b[p.i] == '+' || p.b[p.i] == '-') {
			p.i++
		}
		if digits() == 0 {
			p.ok = false
			return nil
		}
	}
	return p.b[start:p.i]
}

// literal consumes word (such as null) if it is next.
func (p *listParser) literal(word string) bool {
	p.ws()
	if bytes.HasPrefix(p.b[p.i:], []byte(word)) {
		p.i += len(word)
		return true
	}
	return false
}

// object reads the JSON object that comes next: for each member it reads the key and the colon
// and calls member, which reads the value and returns false to give up. It reports whether the
// whole object was read.
func (p *listParser) object(member func(key []byte) bool) bool {
	p.want('{')
	for first := true; p.ok && !p.peek('}'); first = false {
		if !first {
			p.want(',')
		}
		key := p.str()
		p.want(':')
		if !p.ok || !member(key) {
			return false
		}
	}
	return p.ok
}

// parseCredentialPage is the fast path of credentialPage: the list, or ok false when the
// body needs encoding/json.
func parseCredentialPage(b []byte) (list *CredentialList, ok bool) {
	p := &listParser{b: b, ok: true}
	var (
		items                []fastItem
		arena                []byte
		total                int
		seenItems, seenTotal bool
	)
	ok = p.object(func(key []byte) bool {
		switch string(key) {
		case "total_count":
			if seenTotal {
				return false
			}
			seenTotal = true
			n := p.number()
			if !p.ok {
				return false
			}
			v, err := strconv.ParseInt(string(n), 10, 0)
			if err != nil {
				return false
			}
			total = int(v)
		case "items":
			if seenItems {
				return false
			}
			seenItems = true
			p.want('[')
			// An item takes at least ~90 bytes ("login", "mailbox", "created_at" and
			// "size_bytes" with their values); counting the items first cost more than the rest
			// of the parse.
			items = make([]fastItem, 0, len(b)/90+1)
			arena = make([]byte, 0, len(b)/3)
			for firstItem := true; p.ok && !p.peek(']'); firstItem = false {
				if !firstItem {
					p.want(',')
				}
				it, ok := parseCredentialItem(p, &arena)
				if !ok {
					return false
				}
				items = append(items, it)
			}
		default:
			return false // unknown, or a case-insensitive match that encoding/json would take
		}
		return true
	})
	p.ws()
	if !ok || !p.ok || p.i != len(b) || !seenItems || !seenTotal {
		return nil, false // a missing field is for encoding/json's path to refuse
	}
	all := string(arena)
	list = &CredentialList{Items: make([]Credential, len(items)), TotalCount: total}
	for i, it := range items {
		list.Items[i] = Credential{Login: all[it.login.lo:it.login.hi], Mailbox: all[it.mailbox.lo:it.mailbox.hi],
			CreatedAt: it.created, SizeBytes: it.size}
	}
	return list, true
}

// span is a piece of the arena a page's logins are gathered in.
type span struct{ lo, hi int }

// fastItem is one item as parseCredentialItem reads it: the login and mailbox as spans of the
// arena.
type fastItem struct {
	login, mailbox span
	created        time.Time
	size           *string
}

// parseCredentialItem reads one item object, appending its login (and its mailbox when that
// differs) to the arena.
func parseCredentialItem(p *listParser, arena *[]byte) (fastItem, bool) {
	var (
		it                         fastItem
		login, mailbox, created    []byte
		seenL, seenM, seenC, seenS bool
	)
	ok := p.object(func(key []byte) bool {
		seen := &seenS
		switch string(key) {
		case "login":
			seen, login = &seenL, p.str()
		case "mailbox":
			seen, mailbox = &seenM, p.str()
		case "created_at":
			seen, created = &seenC, p.str()
		case "size_bytes":
			switch {
			case p.literal("null"):
			case p.i < len(p.b) && p.b[p.i] == '"':
				s := string(p.str())
				it.size = &s
			default:
				s := string(p.number())
				it.size = &s
			}
		default:
			return false
		}
		if *seen || !p.ok {
			return false
		}
		*seen = true
		return true
	})
	if !ok {
		return it, false
	}
	if len(created) > 0 {
		t, ok := parseRFC2822(created)
		if !ok {
			return it, false
		}
		it.created = t
	}
	a := *arena
	it.login = span{len(a), len(a) + len(login)}
	a = append(a, login...)
	if bytes.Equal(mailbox, login) {
		it.mailbox = it.login
	} else {
		it.mailbox = span{len(a), len(a) + len(mailbox)}
		a = append(a, mailbox...)
	}
	*arena = a
	return it, true
}

// parseRFC2822 reads created_at in the two forms Mailgun writes, "Wed, 08 Mar 2023 23:34:57
// +0000" and "Wed, 08 Mar 2023 23:34:57 GMT" (or UTC), to the same UTC time parseCreatedAt
// gives; anything else (other layouts, surrounding white space, out-of-range fields) is false,
// for parseCreatedAt to decide.
func parseRFC2822(s []byte) (time.Time, bool) {
	if len(s) != len("Mon, 02 Jan 2006 15:04:05 -0700") && len(s) != len("Mon, 02 Jan 2006 15:04:05 GMT") {
		return time.Time{}, false
	}
	num := func(lo, hi int) int {
		n := 0
		for _, c := range s[lo:hi] {
			if c < '0' || c > '9' {
				return -1
			}
			n = n*10 + int(c-'0')
		}
		return n
	}
	const weekdays = "SunMonTueWedThuFriSat"
	const months = "JanFebMarAprMayJunJulAugSepOctNovDec"
	wd := bytes.Index([]byte(weekdays), s[:3])
	mi := bytes.Index([]byte(months), s[8:11])
	if wd < 0 || wd%3 != 0 || mi < 0 || mi%3 != 0 || string(s[3:5]) != ", " || s[7] != ' ' || s[11] != ' ' ||
		s[16] != ' ' || s[19] != ':' || s[22] != ':' || s[25] != ' ' {
		return time.Time{}, false
	}
	month := time.Month(mi/3 + 1)
	day, year, hour, minute, sec := num(5, 7), num(12, 16), num(17, 19), num(20, 22), num(23, 25)
	if day < 1 || year < 0 || hour < 0 || hour > 23 || minute < 0 || minute > 59 || sec < 0 || sec > 59 {
		return time.Time{}, false
	}
	offset := 0
	switch zone := s[26:]; {
	case len(zone) == 3:
		if string(zone) != "GMT" && string(zone) != "UTC" {
			return time.Time{}, false
		}
	case zone[0] == '+' || zone[0] == '-':
		oh, om := num(27, 29), num(29, 31)
		if oh < 0 || oh > 23 || om < 0 || om > 59 {
			return time.Time{}, false
		}
		offset = oh*3600 + om*60
		if zone[0] == '-' {
			offset = -offset
		}
	default:
		return time.Time{}, false
	}
	t := time.Date(year, month, day, hour, minute, sec, 0, time.UTC)
	if t.Day() != day {
		return time.Time{}, false // past the end of the month
	}
	return t.Add(-time.Duration(offset) * time.Second), true
}
