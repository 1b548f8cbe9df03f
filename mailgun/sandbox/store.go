package sandbox

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Password length rule, as Mailgun documents it (in characters).
const (
	minPasswordLen = 5
	maxPasswordLen = 32
)

// Errors the store reports; the handlers map them to Mailgun's answers.
var (
	// ErrDomainNotFound means the domain does not exist in the sandbox.
	ErrDomainNotFound = errors.New("Domain not found")
	// ErrCredentialNotFound means the login does not exist in the domain.
	ErrCredentialNotFound = errors.New("Credentials not found")
	// ErrDomainExists means AddDomain was called twice for the same name.
	ErrDomainExists = errors.New("sandbox: domain already exists")
)

// domain is one Mailgun domain and its credentials. creds is kept in creation order so that a
// page is a slice of it (O(page size)); index finds a login in O(1).
type domain struct {
	name      string
	id        string
	createdAt time.Time
	creds     []*credential          // creation order (ascending seq); postmaster first
	index     map[string]*credential // keyed by lower-case full login
}

// credential is one SMTP login. Only a salted SHA-256 of the password is kept.
type credential struct {
	login     string // local@domain
	system    bool
	createdAt time.Time
	seq       uint64
	salt      [16]byte
	hash      [32]byte
}

func hashPassword(salt [16]byte, password string) [32]byte {
	h := sha256.New()
	h.Write(salt[:])
	h.Write([]byte(password))
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out
}

// setPassword stores a fresh salt and the hash of password.
func (c *credential) setPassword(password string) {
	_, _ = rand.Read(c.salt[:]) // crypto/rand.Read never fails (Go 1.24+)
	c.hash = hashPassword(c.salt, password)
}

// setUnknownPassword gives the credential a password nobody knows: a random hash.
func (c *credential) setUnknownPassword() {
	_, _ = rand.Read(c.salt[:])
	_, _ = rand.Read(c.hash[:])
}

func (c *credential) passwordIs(password string) bool {
	h := hashPassword(c.salt, password)
	return subtle.ConstantTimeCompare(h[:], c.hash[:]) == 1
}

// domainID derives a stable 24-hex-digit id (Mailgun's ids look like this) from the name.
func domainID(name string) string {
	sum := sha256.Sum256([]byte("domain:" + name))
	return hex.EncodeToString(sum[:12])
}

// lookupDomain finds a domain by name; the caller holds s.mu.
func (s *Server) lookupDomain(name string) (*domain, error) {
	d, ok := s.domains[strings.ToLower(name)]
	if !ok {
		return nil, ErrDomainNotFound
	}
	return d, nil
}

// addDomainLocked creates a domain with its postmaster@ system login; the caller holds s.mu.
func (s *Server) addDomainLocked(name string, createdAt time.Time) (*domain, error) {
	if err := validateDomainName(name); err != nil {
		return nil, err
	}
	key := strings.ToLower(name)
	if _, ok := s.domains[key]; ok {
		return nil, fmt.Errorf("add domain %q: %w", name, ErrDomainExists)
	}
	d := &domain{name: key, id: domainID(key), createdAt: createdAt.UTC(), index: make(map[string]*credential)}
	s.domains[key] = d
	pm := s.newCredentialLocked("postmaster@"+key, createdAt)
	pm.system = true
	pm.setUnknownPassword()
	d.append(pm)
	return d, nil
}

func (s *Server) newCredentialLocked(login string, createdAt time.Time) *credential {
	s.seq++
	return &credential{login: login, createdAt: createdAt.UTC(), seq: s.seq}
}

func (d *domain) append(c *credential) {
	d.creds = append(d.creds, c)
	d.index[strings.ToLower(c.login)] = c
}

// remove deletes c from the domain in O(log n) to find it plus one memmove.
func (d *domain) remove(c *credential) {
	i := sort.Search(len(d.creds), func(i int) bool { return d.creds[i].seq >= c.seq })
	if i < len(d.creds) && d.creds[i] == c {
		d.creds = slices.Delete(d.creds, i, i+1)
	}
	delete(d.index, strings.ToLower(c.login))
}

// find resolves a spec (local part or full address) to a credential of the domain.
func (d *domain) find(spec string) (*credential, error) {
	login, err := d.fullLogin(spec)
	if err != nil {
		return nil, ErrCredentialNotFound
	}
	c, ok := d.index[strings.ToLower(login)]
	if !ok {
		return nil, ErrCredentialNotFound
	}
	return c, nil
}

// fullLogin turns a login or spec (local part or full address) into local@domain, refusing an
// address in another domain and malformed local parts.
func (d *domain) fullLogin(s string) (string, error) {
	local := s
	if i := strings.IndexByte(s, '@'); i >= 0 {
		local = s[:i]
		dom := s[i+1:]
		if strings.Contains(dom, "@") {
			return "", fmt.Errorf("Invalid login: %q has more than one '@'", s)
		}
		if !strings.EqualFold(dom, d.name) {
			return "", fmt.Errorf("Login %s is not in domain %s", s, d.name)
		}
	}
	if err := validateLocal(local); err != nil {
		return "", err
	}
	return local + "@" + d.name, nil
}

func validateLocal(local string) error {
	switch {
	case local == "":
		return errors.New("Invalid login: the local part is empty")
	case len(local) > 64:
		return fmt.Errorf("Invalid login: the local part is longer than 64 bytes")
	case !utf8.ValidString(local):
		return errors.New("Invalid login: not valid UTF-8")
	}
	for _, r := range local {
		if unicode.IsControl(r) || unicode.IsSpace(r) || r == '/' || r == '\\' {
			return fmt.Errorf("Invalid login: %q contains a forbidden character", local)
		}
	}
	return nil
}

func validateDomainName(name string) error {
	if name == "" || len(name) > 253 {
		return errors.New("sandbox: domain name must be 1 to 253 characters")
	}
	for _, r := range name {
		if !(r == '.' || r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return fmt.Errorf("sandbox: domain name %q contains %q", name, r)
		}
	}
	return nil
}

// checkPasswordRule applies Mailgun's 5-32 characters rule.
func checkPasswordRule(p string) error {
	if p == "" {
		return errors.New("Password cannot be empty")
	}
	if n := utf8.RuneCountInString(p); n < minPasswordLen || n > maxPasswordLen {
		return fmt.Errorf("Password length must be between %d and %d characters", minPasswordLen, maxPasswordLen)
	}
	return nil
}

const passwordAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// generatePassword returns 16 to 20 letters and digits from crypto/rand, with at least one
// upper-case letter, one lower-case letter and one digit.
func generatePassword() string {
	var buf [64]byte
	for {
		_, _ = rand.Read(buf[:])
		n := 16 + int(buf[0])%5
		out := make([]byte, 0, n)
		for _, b := range buf[1:] {
			// 248 = 4*62: rejecting larger bytes keeps the choice uniform.
			if b >= 248 {
				continue
			}
			out = append(out, passwordAlphabet[int(b)%len(passwordAlphabet)])
			if len(out) == n {
				break
			}
		}
		p := string(out)
		if len(out) == n && strings.ContainsAny(p, passwordAlphabet[:26]) &&
			strings.ContainsAny(p, passwordAlphabet[26:52]) && strings.ContainsAny(p, passwordAlphabet[52:]) {
			return p
		}
	}
}

// AddDomain adds a domain with its system login postmaster@name, created now.
func (s *Server) AddDomain(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, err := s.addDomainLocked(name, s.now())
	return err
}

// AddCredential adds a login (local part or full address) to an existing domain. An empty
// password gives the login a random password nobody knows; otherwise the 5-32 rule applies.
func (s *Server) AddCredential(domainName, login, password string, createdAt time.Time) error {
	s.secret(SecretGivenPassword, password)
	if password != "" {
		if err := checkPasswordRule(password); err != nil {
			return fmt.Errorf("sandbox: add credential: %w", err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := s.lookupDomain(domainName)
	if err != nil {
		return fmt.Errorf("sandbox: add credential: %w", err)
	}
	full, err := d.fullLogin(login)
	if err != nil {
		return fmt.Errorf("sandbox: add credential: %w", err)
	}
	if _, ok := d.index[strings.ToLower(full)]; ok {
		return fmt.Errorf("sandbox: add credential: Credentials for %s already exist", full)
	}
	c := s.newCredentialLocked(full, createdAt)
	if password == "" {
		c.setUnknownPassword()
	} else {
		c.setPassword(password)
	}
	d.append(c)
	return nil
}

// AddGeneratedLogins adds n logins named genNNNNNN@domain with passwords nobody knows, created
// one second apart ending now. It is meant for large-domain tests and benchmarks.
func (s *Server) AddGeneratedLogins(domainName string, n int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := s.lookupDomain(domainName)
	if err != nil {
		return fmt.Errorf("sandbox: add generated logins: %w", err)
	}
	now := s.now()
	next := 1
	for i := range n {
		var login string
		for {
			login = fmt.Sprintf("gen%06d@%s", next, d.name)
			next++
			if _, ok := d.index[login]; !ok {
				break
			}
		}
		c := s.newCredentialLocked(login, now.Add(time.Duration(i-n+1)*time.Second))
		c.setUnknownPassword()
		d.append(c)
	}
	return nil
}

// CheckPassword reports whether password is the current password of login (a local part or a
// full address) in the domain. It is for tests: "the password shown to the user really works".
func (s *Server) CheckPassword(domainName, login, password string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	d, err := s.lookupDomain(domainName)
	if err != nil {
		return false
	}
	c, err := d.find(login)
	if err != nil {
		return false
	}
	return c.passwordIs(password)
}

// Logins returns the domain's current logins (full addresses) in list order, or nil for an
// unknown domain.
func (s *Server) Logins(domainName string) []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	d, err := s.lookupDomain(domainName)
	if err != nil {
		return nil
	}
	out := make([]string, len(d.creds))
	for i, c := range d.creds {
		out[i] = c.login
	}
	return out
}

// Domains returns the names of the sandbox's domains, sorted.
func (s *Server) Domains() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]string, 0, len(s.domains))
	for name := range s.domains {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}
