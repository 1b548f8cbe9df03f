package auth_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/securecookie"
	"github.com/smtpdesk/smtpdesk/auth"
)

// anyRepo answers every lookup with a live session record, so the only thing standing between
// a cookie value and a session is the cookie's signature.
type anyRepo struct{ gets atomic.Int64 }

func (r *anyRepo) CreateSession(context.Context, auth.SessionRecord) error { return nil }
func (r *anyRepo) GetSession(_ context.Context, id string) (auth.SessionRecord, error) {
	r.gets.Add(1)
	now := time.Now()
	return auth.SessionRecord{ID: id, Data: []byte(`{"user":{"Subject":"x"}}`), CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(time.Hour)}, nil
}
func (r *anyRepo) UpdateSession(context.Context, string, []byte, []byte, time.Time) error {
	return nil
}
func (r *anyRepo) TouchSession(context.Context, string, time.Time) error { return nil }
func (r *anyRepo) DeleteSession(context.Context, string) error           { return nil }

// FuzzCookieValue: the session store's decode path, given any cookie value not signed with the
// app's keys, never panics, never errors, never looks a session up and never yields one.
func FuzzCookieValue(f *testing.F) {
	keys := testKeys(1)
	// Seeds: well-formed cookies signed with other keys, and truncated or altered ones.
	other := securecookie.CodecsFromPairs(testKeys(9)...)
	for _, id := range []string{"", "a", "session-id", string(make([]byte, 300))} {
		if v, err := securecookie.EncodeMulti(auth.CookieName, id, other...); err == nil {
			f.Add(v)
			f.Add(v[:len(v)/2])
			f.Add(v + "=")
		}
	}
	f.Add("")
	f.Add("MTcwMDAwMDAwMHxhYmN8ZGVm")
	f.Add("||||")
	f.Add("\x00\xff")
	f.Add("%00%2F..")

	repo := &anyRepo{}
	st, err := auth.NewSessionStore(repo, auth.Config{
		IssuerURL: "https://idp.example", ClientID: "c", RedirectURL: "https://app.example/auth/callback",
		SessionKeys: keys, SecureCookies: true,
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, value string) {
		if strings.ContainsAny(value, "\r\n\x00") {
			return // cannot arrive in a header
		}
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Header.Set("Cookie", auth.CookieName+"="+value)
		before := repo.gets.Load()
		sess, err := st.New(req, auth.CookieName)
		if err != nil {
			t.Fatalf("New(%q) error: %v", value, err)
		}
		if sess.ID != "" || !sess.IsNew || len(sess.Values) != 0 {
			t.Fatalf("New(%q) yielded a session: id %q, new %v, values %v", value, sess.ID, sess.IsNew, sess.Values)
		}
		if repo.gets.Load() != before {
			t.Fatalf("New(%q) looked a session up: the value decoded", value)
		}
	})
}
