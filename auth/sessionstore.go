package auth

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"time"

	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"

	"github.com/smtpdesk/smtpdesk/policy"
)

// Reserved Values keys holding the record's timestamps; they are filled on load and never
// serialized into the record's data.
const (
	metaCreated  = "_created"
	metaLastSeen = "_last_seen"
	// metaData is the record's data as this request last read or wrote them: what Save's
	// compare and swap expects to find (SessionRepo.UpdateSession).
	metaData = "_data"
)

// SessionStore is a gorilla/sessions Store backed by a SessionRepo. The cookie holds only the
// securecookie-encoded random session id; Values are serialized as JSON (string keys only) into
// the record. Idle and absolute expiry are enforced on load. A cookie that cannot be decoded, or
// names an unknown or expired record, yields a new empty session: the visitor is signed out.
type SessionStore struct {
	repo     SessionRepo
	codecs   []securecookie.Codec
	name     string
	secure   bool
	idle     time.Duration
	absolute time.Duration
	now      func() time.Time
}

// NewSessionStore builds the store from a validated config (see Config for the defaults).
func NewSessionStore(repo SessionRepo, cfg Config) (*SessionStore, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return newSessionStore(repo, cfg), nil
}

func newSessionStore(repo SessionRepo, cfg Config) *SessionStore {
	name := InsecureCookieName
	if cfg.SecureCookies {
		name = CookieName
	}
	return &SessionStore{
		repo:     repo,
		codecs:   codecs(cfg.SessionKeys, cfg.AbsoluteTimeout+time.Minute),
		name:     name,
		secure:   cfg.SecureCookies,
		idle:     IdleLimit(cfg.IdleTimeout),
		absolute: cfg.AbsoluteTimeout,
		now:      cfg.Now,
	}
}

func codecs(keys [][]byte, maxAge time.Duration) []securecookie.Codec {
	cs := securecookie.CodecsFromPairs(keys...)
	for _, c := range cs {
		if sc, ok := c.(*securecookie.SecureCookie); ok {
			sc.MaxAge(int(maxAge / time.Second))
			sc.SetSerializer(securecookie.JSONEncoder{})
		}
	}
	return cs
}

// CookieName returns the session cookie's name.
func (s *SessionStore) CookieName() string { return s.name }

func (s *SessionStore) options() *sessions.Options {
	// Overrides gorilla's defaults (30 days, no HttpOnly): a browser-session cookie, host-only.
	return &sessions.Options{Path: "/", HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode}
}

func (s *SessionStore) fresh() *sessions.Session {
	sess := sessions.NewSession(s, s.name)
	sess.Options = s.options()
	sess.IsNew = true
	return sess
}

// Get returns the request's session; it does not cache (the auth middleware caches per request).
func (s *SessionStore) Get(r *http.Request, name string) (*sessions.Session, error) {
	return s.New(r, name)
}

// New loads the session named by the request's cookie, or returns a new empty session when there
// is no valid one. The error is non-nil only when the repository fails.
func (s *SessionStore) New(r *http.Request, name string) (*sessions.Session, error) {
	sess, _, err := s.load(r)
	return sess, err
}

// load also reports whether the request carried a session cookie that turned out to be invalid,
// so the caller can clear it.
func (s *SessionStore) load(r *http.Request) (sess *sessions.Session, stale bool, err error) {
	sess = s.fresh()
	c, err := r.Cookie(s.name)
	if err != nil || c.Value == "" {
		return sess, false, nil
	}
	var id string
	if err := securecookie.DecodeMulti(s.name, c.Value, &id, s.codecs...); err != nil || id == "" {
		return sess, true, nil
	}
	rec, err := s.repo.GetSession(r.Context(), id)
	if errors.Is(err, ErrSessionNotFound) {
		return sess, true, nil
	}
	if err != nil {
		return sess, false, fmt.Errorf("auth: load session: %w", err)
	}
	now := s.now()
	if now.Sub(rec.LastSeen) >= s.idle || now.Sub(rec.CreatedAt) >= s.absolute ||
		(!rec.ExpiresAt.IsZero() && !now.Before(rec.ExpiresAt)) {
		if err := s.repo.DeleteSession(r.Context(), id); err != nil {
			return sess, false, fmt.Errorf("auth: delete expired session: %w", err)
		}
		return sess, true, nil
	}
	if len(rec.Data) > 0 {
		var data recordData
		if err := json.Unmarshal(rec.Data, &data); err != nil {
			// A record we cannot read is as good as no session.
			_ = s.repo.DeleteSession(r.Context(), id)
			return sess, true, nil
		}
		data.into(sess.Values)
	}
	sess.Values[metaCreated] = rec.CreatedAt
	sess.Values[metaLastSeen] = rec.LastSeen
	sess.Values[metaData] = rec.Data
	sess.ID = id
	sess.IsNew = false
	return sess, false, nil
}

// Save persists the session. A session without an id gets a new random id, a new record and a
// Set-Cookie; an existing one has its data and last-seen time updated (the cookie is unchanged),
// unless another request of the session saved since this one read it: then nothing is written
// and the error is ErrSessionChanged (Modify then starts again from the record as it is).
// Options.MaxAge < 0 deletes the record and clears the cookie.
func (s *SessionStore) Save(r *http.Request, w http.ResponseWriter, sess *sessions.Session) error {
	ctx := r.Context()
	if sess.Options != nil && sess.Options.MaxAge < 0 {
		if sess.ID != "" {
			if err := s.repo.DeleteSession(ctx, sess.ID); err != nil {
				return fmt.Errorf("auth: delete session: %w", err)
			}
		}
		s.clearCookie(w)
		sess.ID = ""
		return nil
	}
	data, err := encodeValues(sess.Values)
	if err != nil {
		return err
	}
	now := s.now()
	if sess.ID != "" {
		old, _ := sess.Values[metaData].([]byte)
		if err := s.repo.UpdateSession(ctx, sess.ID, old, data, now); err != nil {
			return fmt.Errorf("auth: update session: %w", err)
		}
		sess.Values[metaLastSeen] = now
		sess.Values[metaData] = data
		return nil
	}
	id, err := newSessionID()
	if err != nil {
		return err
	}
	encoded, err := securecookie.EncodeMulti(s.name, id, s.codecs...)
	if err != nil {
		return fmt.Errorf("auth: encode session cookie: %w", err)
	}
	rec := SessionRecord{ID: id, Data: data, CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(s.absolute)}
	if err := s.repo.CreateSession(ctx, rec); err != nil {
		return fmt.Errorf("auth: create session: %w", err)
	}
	sess.ID = id
	sess.IsNew = false
	sess.Values[metaCreated] = now
	sess.Values[metaLastSeen] = now
	sess.Values[metaData] = data
	http.SetCookie(w, sessions.NewCookie(s.name, encoded, s.options()))
	return nil
}

// modifyAttempts bounds Modify's tries: each lost one means another request of the same session
// saved in between, which takes a burst of requests far beyond what one person's tabs send.
const modifyAttempts = 5

// Modify applies change to the session's values and saves them (the session must exist). When
// another request of the same session saved in between (a flash message left by a form sent in
// another tab), Save writes nothing; Modify then reads the record again and applies change to it
// afresh, so that neither request's change is lost. change may run more than once: it must only
// read and set values, and it reports whether there is anything to write (false: the record
// already holds what it wanted, as when another request took the flashes it was to clear).
func (s *SessionStore) Modify(r *http.Request, w http.ResponseWriter, sess *sessions.Session, change func(values map[any]any) bool) error {
	for i := 1; ; i++ {
		before := maps.Clone(sess.Values)
		if !change(sess.Values) {
			return nil
		}
		err := s.Save(r, w, sess)
		if err == nil {
			return nil
		}
		if !errors.Is(err, ErrSessionChanged) || i == modifyAttempts {
			restore(sess, before)
			return err
		}
		if err := s.reload(r, sess); err != nil {
			restore(sess, before)
			return err
		}
	}
}

// restore puts back the values a Modify that failed began with: the record keeps what it had,
// and so does this request's copy, which the rest of the request reads (a flash that was not
// kept is not shown as if it had been).
func restore(sess *sessions.Session, before map[any]any) {
	clear(sess.Values)
	maps.Copy(sess.Values, before)
}

// reload replaces sess's values with those its record holds now, as load reads them.
func (s *SessionStore) reload(r *http.Request, sess *sessions.Session) error {
	rec, err := s.repo.GetSession(r.Context(), sess.ID)
	if err != nil {
		return fmt.Errorf("auth: read the session again: %w", err)
	}
	var data recordData
	if len(rec.Data) > 0 {
		if err := json.Unmarshal(rec.Data, &data); err != nil {
			return fmt.Errorf("auth: read the session again: %w", err)
		}
	}
	for k := range sess.Values {
		if k != metaCreated {
			delete(sess.Values, k)
		}
	}
	data.into(sess.Values)
	sess.Values[metaLastSeen] = rec.LastSeen
	sess.Values[metaData] = rec.Data
	return nil
}

// touch records activity for the idle timeout: the record's last-seen time, and nothing else.
// Saving the whole session instead wrote back the data as this request read it, over whatever
// another request of the same session saved meanwhile (a flash message of a form sent in another
// tab was lost). ErrSessionNotFound when the record is gone.
func (s *SessionStore) touch(r *http.Request, sess *sessions.Session) error {
	now := s.now()
	if err := s.repo.TouchSession(r.Context(), sess.ID, now); err != nil {
		return fmt.Errorf("auth: touch session: %w", err)
	}
	sess.Values[metaLastSeen] = now
	return nil
}

func (s *SessionStore) clearCookie(w http.ResponseWriter) {
	o := s.options()
	o.MaxAge = -1
	http.SetCookie(w, sessions.NewCookie(s.name, "", o))
}

func encodeValues(values map[any]any) ([]byte, error) {
	m := make(map[string]any, len(values))
	for k, v := range values {
		ks, ok := k.(string)
		if !ok {
			return nil, fmt.Errorf("auth: session value key %v is not a string", k)
		}
		if ks == metaCreated || ks == metaLastSeen || ks == metaData {
			continue
		}
		m[ks] = v
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("auth: encode session: %w", err)
	}
	return b, nil
}

// recordData is a session record's data, decoded in one pass on load. It names every key the
// auth package stores (see middleware.go); a key it does not name is dropped on load.
type recordData struct {
	User    *User             `json:"user"`
	CSRF    *string           `json:"csrf"`
	IDToken *string           `json:"id_token"`
	Flashes []Flash           `json:"flashes"`
	Prefs   map[string]string `json:"prefs"`
}

// into sets the keys present in the record as typed Values, which value reads without JSON.
func (d *recordData) into(values map[any]any) {
	if d.User != nil {
		values[keyUser] = *d.User
	}
	if d.CSRF != nil {
		values[keyCSRF] = *d.CSRF
	}
	if d.IDToken != nil {
		values[keyIDToken] = *d.IDToken
	}
	if d.Flashes != nil {
		values[keyFlashes] = d.Flashes
	}
	if d.Prefs != nil {
		values[keyPrefs] = d.Prefs
	}
}

// value reads a session value into dst. Values of dst's own type (as load sets them) are
// copied; anything else set during this request goes through JSON, as it would through the
// record.
func value(sess *sessions.Session, key string, dst any) bool {
	v, ok := sess.Values[key]
	if !ok || v == nil {
		return false
	}
	switch d := dst.(type) {
	case *string:
		if s, ok := v.(string); ok {
			*d = s
			return true
		}
	case *User:
		if u, ok := v.(User); ok {
			*d = u
			return true
		}
	case *[]Flash:
		if fs, ok := v.([]Flash); ok {
			*d = slices.Clone(fs)
			return true
		}
	case *map[string]string:
		if m, ok := v.(map[string]string); ok {
			*d = maps.Clone(m)
			return true
		}
	}
	raw, ok := v.(json.RawMessage)
	if !ok {
		b, err := json.Marshal(v)
		if err != nil {
			return false
		}
		raw = b
	}
	return json.Unmarshal(raw, dst) == nil
}

func newSessionID() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("auth: session id: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return base64.RawURLEncoding.EncodeToString(b)
}

// SessionsOf returns a test of a session record's data (store.DB.DeleteSessionsMatching) that
// holds for the sessions of the user who is who: their e-mail address (ASCII case ignored, as the
// policy compares them) or their subject at the provider. A record that does not decode is not
// theirs.
func SessionsOf(who string) func(data []byte) bool {
	return func(data []byte) bool {
		var d recordData
		if json.Unmarshal(data, &d) != nil || d.User == nil {
			return false
		}
		return (d.User.Email != "" && policy.SameEmail(d.User.Email, who)) || (d.User.Subject != "" && d.User.Subject == who)
	}
}
