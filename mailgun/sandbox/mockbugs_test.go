package sandbox_test

// One test per point where mailgun-go's mock server is wrong (see the end of
// shared/MAILGUN-API.md); each shows that the sandbox answers as Mailgun does.

import (
	"net/http"
	"slices"
	"testing"

	"github.com/smtpdesk/smtpdesk/mailgun/sandbox"
)

// threeLogins returns a sandbox whose example.com holds alice, bob and carol (plus postmaster).
func threeLogins(t *testing.T) (*sandbox.Server, string) {
	t.Helper()
	s, base := newSandbox(t)
	newDomain(t, s, "example.com", "alice", "alice-pw", "bob", "bob-pw", "carol", "carol-pw")
	return s, base
}

func TestMockBugLimitTwoOfThreeReturnsTwo(t *testing.T) {
	_, base := threeLogins(t)
	res := call(t, base, "GET", "/v3/domains/example.com/credentials?skip=1&limit=2", nil, "")
	res.want(t, 200, "")
	if got, want := res.itemLogins(t), []string{"alice@example.com", "bob@example.com"}; !slices.Equal(got, want) {
		t.Fatalf("items = %v, want %v", got, want)
	}
}

func TestMockBugTotalCountIsDomainTotal(t *testing.T) {
	_, base := threeLogins(t)
	res := call(t, base, "GET", "/v3/domains/example.com/credentials?limit=2", nil, "")
	if got, want := len(res.itemLogins(t)), 2; got != want {
		t.Fatalf("page length = %d, want %d", got, want)
	}
	if got, want := res.totalCount(t), 4; got != want {
		t.Fatalf("total_count = %d, want %d (the domain total, not the page length)", got, want)
	}
}

func TestMockBugDeleteRemovesOnlyThatLogin(t *testing.T) {
	s, base := threeLogins(t)
	call(t, base, "DELETE", "/v3/domains/example.com/credentials/bob", nil, "").want(t, 200, "Credentials have been deleted")
	if got, want := s.Logins("example.com"), []string{"postmaster@example.com", "alice@example.com", "carol@example.com"}; !slices.Equal(got, want) {
		t.Fatalf("logins = %v, want %v", got, want)
	}
	if !s.CheckPassword("example.com", "alice", "alice-pw") || !s.CheckPassword("example.com", "carol", "carol-pw") {
		t.Fatal("other logins lost their passwords")
	}
}

func TestMockBugDeleteUnknownIs404(t *testing.T) {
	s, base := threeLogins(t)
	call(t, base, "DELETE", "/v3/domains/example.com/credentials/dave", nil, "").want(t, http.StatusNotFound, "Credentials not found")
	if got, want := len(s.Logins("example.com")), 4; got != want {
		t.Fatalf("logins = %d, want %d", got, want)
	}
}

func TestMockBugDuplicateCreateIs400AndCreatesNothing(t *testing.T) {
	s, base := threeLogins(t)
	for _, enc := range encodings {
		res := call(t, base, "POST", "/v3/domains/example.com/credentials", form("login", "dave", "login", "bob", "password", "dave-pw", "password", "new-bob-pw"), enc)
		res.want(t, http.StatusBadRequest, "Credentials for bob@example.com already exist")
		if got, want := len(s.Logins("example.com")), 4; got != want {
			t.Fatalf("%s: logins = %d, want %d (dave must not be created)", enc, got, want)
		}
		if !s.CheckPassword("example.com", "bob", "bob-pw") {
			t.Fatalf("%s: bob's password changed", enc)
		}
	}
}

func TestMockBugAuthRequired(t *testing.T) {
	s, base := threeLogins(t)
	res := callAuth(t, base, "DELETE", "/v3/domains/example.com/credentials", nil, "", "", "")
	if got, want := res.status, http.StatusUnauthorized; got != want {
		t.Fatalf("status = %d, want %d", got, want)
	}
	if got, want := len(s.Logins("example.com")), 4; got != want {
		t.Fatalf("logins = %d, want %d", got, want)
	}
}

func TestMockBugDomainScoping(t *testing.T) {
	s, base := threeLogins(t)
	newDomain(t, s, "other.example")
	res := call(t, base, "GET", "/v3/domains/other.example/credentials", nil, "")
	if got, want := res.itemLogins(t), []string{"postmaster@other.example"}; !slices.Equal(got, want) {
		t.Fatalf("other.example items = %v, want %v", got, want)
	}
	for _, spec := range []string{"alice", "alice@example.com", "alice%40example.com"} {
		call(t, base, "DELETE", "/v3/domains/other.example/credentials/"+spec, nil, "").want(t, http.StatusNotFound, "Credentials not found")
		call(t, base, "PUT", "/v3/other.example/mailboxes/"+spec, form("password", "hijacked"), urlencoded).want(t, http.StatusNotFound, "Credentials not found")
	}
	call(t, base, "DELETE", "/v3/domains/other.example/credentials", nil, "").want(t, 200, "All domain credentials have been deleted")
	if got, want := len(s.Logins("example.com")), 4; got != want {
		t.Fatalf("example.com logins = %d, want %d", got, want)
	}
	if !s.CheckPassword("example.com", "alice", "alice-pw") {
		t.Fatal("alice's password changed through another domain")
	}
	// The same local part may exist in both domains independently.
	call(t, base, "POST", "/v3/domains/other.example/credentials", form("login", "alice", "password", "other-pw"), urlencoded).want(t, 200, "Created 1 credentials pair(s)")
	if !s.CheckPassword("other.example", "alice", "other-pw") || !s.CheckPassword("example.com", "alice", "alice-pw") {
		t.Fatal("same local part in two domains is not independent")
	}
}
