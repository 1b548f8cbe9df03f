package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// createdAtLayout is RFC 2822 with a numeric zone, as Mailgun writes created_at today.
const createdAtLayout = "Mon, 02 Jan 2006 15:04:05 -0700"

// Default and maximum page sizes for both list routes.
const (
	defaultLimit = 100
	maxLimit     = 1000
)

// generatedNote is the note that accompanies passwords Mailgun generated.
const generatedNote = "Passwords were generated for these credentials. They are shown only once: store them now."

type messageBody struct {
	Message string `json:"message"`
}

type credentialItem struct {
	Login     string  `json:"login"`
	Mailbox   string  `json:"mailbox"`
	CreatedAt string  `json:"created_at"`
	SizeBytes *string `json:"size_bytes"`
}

type listBody struct {
	Items      []credentialItem `json:"items"`
	TotalCount int              `json:"total_count"`
}

// passwordBody is the answer of create and of both password changes; note and credentials are
// only present when passwords were generated.
type passwordBody struct {
	Message     string            `json:"message"`
	Note        string            `json:"note,omitempty"`
	Credentials map[string]string `json:"credentials,omitempty"`
}

type deleteBody struct {
	Message string `json:"message"`
	Spec    string `json:"spec"`
}

type deleteAllBody struct {
	Message string `json:"message"`
	Count   int    `json:"count"`
}

type domainItem struct {
	CreatedAt        string `json:"created_at"`
	ID               string `json:"id"`
	IsDisabled       bool   `json:"is_disabled"`
	Name             string `json:"name"`
	RequireTLS       bool   `json:"require_tls"`
	SkipVerification bool   `json:"skip_verification"`
	SMTPLogin        string `json:"smtp_login"`
	SpamAction       string `json:"spam_action"`
	State            string `json:"state"`
	Type             string `json:"type"`
	WebPrefix        string `json:"web_prefix"`
	WebScheme        string `json:"web_scheme"`
	Wildcard         bool   `json:"wildcard"`
}

type domainListBody struct {
	TotalCount int          `json:"total_count"`
	Items      []domainItem `json:"items"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Every body above marshals; this is a programming error.
		http.Error(w, "sandbox: encode response: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func writeMessage(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, messageBody{Message: msg})
}

// writeStoreError answers a lookup error: 404 with Mailgun's text.
func writeStoreError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, ErrDomainNotFound), errors.Is(err, ErrCredentialNotFound):
		writeMessage(w, http.StatusNotFound, err.Error())
	default:
		writeMessage(w, http.StatusInternalServerError, "Internal Server Error")
	}
}

// parseBody reads a multipart or urlencoded body (never the query string, so passwords cannot
// travel in URLs). A request without a Content-Type has no fields.
func parseBody(r *http.Request) (url.Values, error) {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return url.Values{}, nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return nil, fmt.Errorf("Invalid Content-Type header")
	}
	switch mt {
	case "multipart/form-data":
		if err := r.ParseMultipartForm(maxBodyBytes); err != nil {
			return nil, fmt.Errorf("Invalid multipart body")
		}
	case "application/x-www-form-urlencoded":
		if err := r.ParseForm(); err != nil {
			return nil, fmt.Errorf("Invalid form body")
		}
	default:
		return nil, fmt.Errorf("Unsupported Content-Type %s: send multipart/form-data or application/x-www-form-urlencoded", mt)
	}
	return r.PostForm, nil
}

// parseBool reads Mailgun's boolean form values; "" is false.
func parseBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "", "false", "no", "0", "off":
		return false, nil
	case "true", "yes", "1", "on":
		return true, nil
	}
	return false, fmt.Errorf("Invalid value for parameter 'system': %q", s)
}

// pageParams reads skip and limit from the query.
func pageParams(q url.Values) (skip, limit int, err error) {
	skip, limit = 0, defaultLimit
	if v := q.Get("skip"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return 0, 0, errors.New("Invalid skip parameter: must be a non-negative integer")
		}
		skip = n
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if errors.Is(err, strconv.ErrRange) && !strings.HasPrefix(v, "-") {
			n, err = maxLimit+1, nil // a whole number too large for an int is larger than 1000 too
		}
		if err != nil || n < 0 {
			return 0, 0, errors.New("Invalid limit parameter: must be a non-negative integer")
		}
		if n > maxLimit {
			return 0, 0, errors.New("Limit parameter can't be larger than 1000")
		}
		if n > 0 {
			limit = n
		}
	}
	return skip, limit, nil
}

// window returns the [lo, hi) bounds of a page over total items.
func window(total, skip, limit int) (lo, hi int) {
	lo = min(skip, total)
	hi = lo + min(limit, total-lo)
	return lo, hi
}

func formatTime(t time.Time) string { return t.UTC().Format(createdAtLayout) }

// handleList answers GET /v3/domains/{domain}/credentials in O(page size).
func (s *Server) handleList(w http.ResponseWriter, r *http.Request) {
	skip, limit, err := pageParams(r.URL.Query())
	if err != nil {
		writeMessage(w, http.StatusBadRequest, err.Error())
		return
	}
	s.mu.RLock()
	d, err := s.lookupDomain(r.PathValue("domain"))
	if err != nil {
		s.mu.RUnlock()
		writeStoreError(w, err)
		return
	}
	total := len(d.creds)
	lo, hi := window(total, skip, limit)
	body := listBody{Items: make([]credentialItem, 0, hi-lo), TotalCount: total}
	for _, c := range d.creds[lo:hi] {
		body.Items = append(body.Items, credentialItem{Login: c.login, Mailbox: c.login, CreatedAt: formatTime(c.createdAt)})
	}
	s.mu.RUnlock()
	writeJSON(w, http.StatusOK, body)
}

// handleCreate answers POST /v3/domains/{domain}/credentials. Every login of the request is
// checked before any is created, so a failing request creates nothing.
func (s *Server) handleCreate(w http.ResponseWriter, r *http.Request) {
	form, err := parseBody(r)
	if err != nil {
		writeMessage(w, http.StatusBadRequest, err.Error())
		return
	}
	// mailbox may replace login; when both are sent they form one list, logins first, and
	// passwords pair with that list by position.
	logins := slices.Concat(form["login"], form["mailbox"])
	if !slices.ContainsFunc(logins, func(l string) bool { return l != "" }) {
		writeMessage(w, http.StatusBadRequest, "Parameter 'login' is missing")
		return
	}
	passwords := form["password"]
	for _, p := range passwords {
		s.secret(SecretGivenPassword, p)
	}
	if len(passwords) > len(logins) {
		writeMessage(w, http.StatusBadRequest,
			fmt.Sprintf("Got %d passwords for %d logins: passwords pair with logins by position", len(passwords), len(logins)))
		return
	}
	for _, p := range passwords {
		if err := checkPasswordRule(p); err != nil {
			writeMessage(w, http.StatusBadRequest, err.Error())
			return
		}
	}
	system, err := parseBool(form.Get("system"))
	if err != nil {
		writeMessage(w, http.StatusBadRequest, err.Error())
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := s.lookupDomain(r.PathValue("domain"))
	if err != nil {
		writeStoreError(w, err)
		return
	}
	full := make([]string, len(logins))
	seen := make(map[string]bool, len(logins))
	for i, l := range logins {
		if l == "" {
			writeMessage(w, http.StatusBadRequest, "Login cannot be empty")
			return
		}
		f, err := d.fullLogin(l)
		if err != nil {
			writeMessage(w, http.StatusBadRequest, err.Error())
			return
		}
		key := strings.ToLower(f)
		if _, ok := d.index[key]; ok || seen[key] {
			writeMessage(w, http.StatusBadRequest, fmt.Sprintf("Credentials for %s already exist", f))
			return
		}
		seen[key] = true
		full[i] = f
	}

	now := s.now()
	generated := make(map[string]string)
	for i, f := range full {
		c := s.newCredentialLocked(f, now)
		c.system = system
		if i < len(passwords) {
			c.setPassword(passwords[i])
		} else {
			p := generatePassword()
			c.setPassword(p)
			s.secret(SecretGeneratedPassword, p)
			generated[f] = p
		}
		d.append(c)
	}
	body := passwordBody{Message: fmt.Sprintf("Created %d credentials pair(s)", len(full))}
	if len(generated) > 0 {
		body.Note, body.Credentials = generatedNote, generated
	}
	writeJSON(w, http.StatusOK, body)
}

// handleUpdate answers both password changes: PUT /v3/domains/{domain}/credentials/{spec} and
// the older PUT /v3/{domain}/mailboxes/{spec}.
func (s *Server) handleUpdate(w http.ResponseWriter, r *http.Request) {
	form, err := parseBody(r)
	if err != nil {
		writeMessage(w, http.StatusBadRequest, err.Error())
		return
	}
	pw, given := form["password"]
	for _, p := range pw {
		s.secret(SecretGivenPassword, p)
	}
	if len(pw) > 1 {
		writeMessage(w, http.StatusBadRequest, "Parameter 'password' must be given once")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := s.lookupDomain(r.PathValue("domain"))
	if err != nil {
		writeStoreError(w, err)
		return
	}
	c, err := d.find(r.PathValue("spec"))
	if err != nil {
		writeStoreError(w, err)
		return
	}
	if !given {
		p := generatePassword()
		c.setPassword(p)
		s.secret(SecretGeneratedPassword, p)
		writeJSON(w, http.StatusOK, passwordBody{
			Message:     "Password changed",
			Note:        generatedNote,
			Credentials: map[string]string{c.login: p},
		})
		return
	}
	if err := checkPasswordRule(pw[0]); err != nil {
		writeMessage(w, http.StatusBadRequest, err.Error())
		return
	}
	if c.passwordIs(pw[0]) {
		writeMessage(w, http.StatusBadRequest, "New password cannot be the same as old password.")
		return
	}
	c.setPassword(pw[0])
	writeJSON(w, http.StatusOK, passwordBody{Message: "Password changed"})
}

// handleDelete answers DELETE /v3/domains/{domain}/credentials/{spec}.
func (s *Server) handleDelete(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := s.lookupDomain(r.PathValue("domain"))
	if err != nil {
		writeStoreError(w, err)
		return
	}
	c, err := d.find(r.PathValue("spec"))
	if err != nil {
		writeStoreError(w, err)
		return
	}
	if c.system {
		writeMessage(w, http.StatusBadRequest, "Cannot delete system mailbox: "+c.login)
		return
	}
	d.remove(c)
	writeJSON(w, http.StatusOK, deleteBody{Message: "Credentials have been deleted", Spec: c.login})
}

// handleDeleteAll answers DELETE /v3/domains/{domain}/credentials: every login but the system
// ones goes.
func (s *Server) handleDeleteAll(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := s.lookupDomain(r.PathValue("domain"))
	if err != nil {
		writeStoreError(w, err)
		return
	}
	kept := d.creds[:0]
	count := 0
	for _, c := range d.creds {
		if c.system {
			kept = append(kept, c)
			continue
		}
		delete(d.index, strings.ToLower(c.login))
		count++
	}
	clear(d.creds[len(kept):]) // let the deleted credentials be collected
	d.creds = kept
	writeJSON(w, http.StatusOK, deleteAllBody{Message: "All domain credentials have been deleted", Count: count})
}

// handleDomains answers GET /v4/domains with limit, skip, search (substring, case-insensitive),
// state and sort (name, name:asc, name:desc).
func (s *Server) handleDomains(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	skip, limit, err := pageParams(q)
	if err != nil {
		writeMessage(w, http.StatusBadRequest, err.Error())
		return
	}
	state := q.Get("state")
	switch state {
	case "", "active", "unverified", "disabled":
	default:
		writeMessage(w, http.StatusBadRequest, "Invalid state parameter: use active, unverified or disabled")
		return
	}
	desc := false
	switch q.Get("sort") {
	case "", "name", "name:asc":
	case "name:desc":
		desc = true
	default:
		writeMessage(w, http.StatusBadRequest, "Invalid sort parameter: use name, name:asc or name:desc")
		return
	}
	search := strings.ToLower(q.Get("search"))

	s.mu.RLock()
	matched := make([]*domain, 0, len(s.domains))
	for _, d := range s.domains {
		// Every sandbox domain is active.
		if (state == "" || state == "active") && strings.Contains(d.name, search) {
			matched = append(matched, d)
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(matched, func(a, b *domain) int { return strings.Compare(a.name, b.name) })
	if desc {
		slices.Reverse(matched)
	}
	lo, hi := window(len(matched), skip, limit)
	body := domainListBody{TotalCount: len(matched), Items: make([]domainItem, 0, hi-lo)}
	for _, d := range matched[lo:hi] {
		body.Items = append(body.Items, domainItem{
			CreatedAt:  formatTime(d.createdAt),
			ID:         d.id,
			Name:       d.name,
			SMTPLogin:  "postmaster@" + d.name,
			SpamAction: "disabled",
			State:      "active",
			Type:       "custom",
			WebPrefix:  "email",
			WebScheme:  "https",
		})
	}
	writeJSON(w, http.StatusOK, body)
}
