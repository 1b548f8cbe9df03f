package security_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/smtpdesk/smtpdesk/auth"
	"github.com/smtpdesk/smtpdesk/internal/testpg"
	"github.com/smtpdesk/smtpdesk/mailgun/sandbox"
	"github.com/smtpdesk/smtpdesk/store"
)

// onReplica is the header set of a same-origin form post answered by the named replica.
func onReplica(name string) http.Header {
	return http.Header{"Sec-Fetch-Site": {"same-origin"}, replicaHeader: {name}}
}

// TestReplicasShareSessionsAndForms: two replicas on one PostgreSQL database, as README's
// "Several replicas" sets them up. A session made on A works on B; signing out on A, or
// revoking the user's sessions (web sessions revoke), ends it on both at once; a create form
// sent to both at the same moment acts once; actions spread over both keep the audit chain
// intact.
func TestReplicasShareSessionsAndForms(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{DatabaseURL: testpg.Schema(t), ActionsPerMinute: 1000})
	b := e.Replica("B")
	ctx := ctxT(t)
	// live: whether the session cookie ck is signed in on the replica (a fresh browser sends it):
	// a 200, or signed out by a redirect to sign-in; anything else (a 500) fails the test, as
	// signedOut does, instead of counting as signed out.
	live := func(ck, replica string) bool {
		t.Helper()
		resp, _ := raw(t, e.client(), http.MethodGet, "/", nil, http.Header{replicaHeader: {replica}, "Cookie": {auth.CookieName + "=" + ck}})
		if resp.StatusCode == http.StatusOK {
			return true
		}
		if resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), auth.LoginPath) {
			t.Fatalf("GET / on %s with a session cookie = %d to %q, want 200 or a redirect to sign-in", replica, resp.StatusCode, resp.Header.Get("Location"))
		}
		return false
	}

	c := e.signIn("admin") // on A
	ck := e.sessionCookie(c).Value
	if !live(ck, "B") {
		t.Fatal("a session made on A is signed out on B")
	}
	resp, _ := raw(t, c, http.MethodPost, auth.LogoutPath, url.Values{"_csrf": {csrf(t, c)}}, onReplica("A"))
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-out on A = %d", resp.StatusCode)
	}
	if live(ck, "B") {
		t.Error("signed out on A, the session still works on B")
	}

	c = e.signIn("admin")
	ck = e.sessionCookie(c).Value
	if !live(ck, "A") || !live(ck, "B") {
		t.Fatal("a new session is not signed in on both replicas")
	}
	if n, err := b.DB().DeleteSessionsMatching(ctx, auth.SessionsOf("ada@smtpdesk.example")); err != nil || n != 1 {
		t.Fatalf("revoke = %d, %v; want 1 session", n, err)
	}
	for _, r := range []string{"A", "B"} {
		if live(ck, r) {
			t.Errorf("a revoked session still works on %s", r)
		}
	}

	c = e.signIn("admin")
	form := get(t, c, "/d/acme.example/new")
	token, _ := form.Find(`input[name="_form"]`).Attr("value")
	sent := url.Values{"_csrf": {form.CSRF()}, "_form": {token}, "logins": {"twice"}, "mode": {"generate"}}
	e.Sandbox.ResetCalls()
	var wg sync.WaitGroup
	status := map[string]int{}
	var mu sync.Mutex
	for _, r := range []string{"A", "B"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, _ := raw(t, c, http.MethodPost, "/d/acme.example/new", sent, onReplica(r))
			mu.Lock()
			status[r] = resp.StatusCode
			mu.Unlock()
		}()
	}
	wg.Wait()
	if n := len(e.calls(sandbox.RouteCreate)); n != 1 || status["A"]+status["B"] != http.StatusOK+http.StatusConflict {
		t.Errorf("one form sent to A and B: %d creates, answers %v; want 1 create, a 200 and a 409", n, status)
	}

	const actions = 40
	for i := range actions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, _ := raw(t, c, http.MethodPost, "/d/acme.example/new",
				url.Values{"_csrf": {form.CSRF()}, "logins": {fmt.Sprintf("c%02d", i)}, "mode": {"generate"}}, onReplica([]string{"A", "B"}[i%2]))
			if resp.StatusCode != http.StatusOK {
				t.Errorf("create c%02d: %d", i, resp.StatusCode)
			}
		}()
	}
	wg.Wait()
	if got := len(e.audit(store.AuditFilter{Action: "credential.create", Outcome: "ok"})); got != actions+1 {
		t.Errorf("%d creates recorded ok, want %d", got, actions+1)
	}
	rep, err := b.DB().VerifyAudit(ctx)
	if err != nil || rep.BrokenAt != 0 {
		t.Errorf("VerifyAudit = %+v, %v; want intact", rep, err)
	}
}

// TestReplicaDeleteAllConfirmsTheCurrentList: the delete-all page, where an owner confirms what
// will go, counts the logins Mailgun has now, not what this replica read a few seconds ago.
// Logins made through another replica since then are deleted too, so a count taken from the
// list cache asked the owner to confirm "Delete 12 logins" and deleted 14.
func TestReplicaDeleteAllConfirmsTheCurrentList(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{DatabaseURL: testpg.Schema(t), ActionsPerMinute: 1000})
	e.Replica("B")
	c := e.signIn("admin")
	const path = "/d/acme.example/delete-all"
	count := func() string {
		t.Helper()
		p := get(t, c, path) // on A
		if p.Status != http.StatusOK {
			t.Fatalf("GET %s = %d", path, p.Status)
		}
		return strings.Join(strings.Fields(p.TestID("delete-all-count").Text()), " ")
	}
	if got, want := count(), "Delete 12 SMTP logins from acme.example?"; got != want {
		t.Fatalf("before: %q, want %q", got, want)
	}
	resp, _ := raw(t, c, http.MethodPost, "/d/acme.example/new",
		url.Values{"_csrf": {csrf(t, c)}, "logins": {"late1\nlate2"}, "mode": {"generate"}}, onReplica("B"))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("create through B = %d", resp.StatusCode)
	}
	if got, want := count(), "Delete 14 SMTP logins from acme.example?"; got != want {
		t.Errorf("after B created two: %q, want %q", got, want)
	}
}
