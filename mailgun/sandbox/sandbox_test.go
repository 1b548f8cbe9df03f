package sandbox_test

import (
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smtpdesk/smtpdesk/mailgun/sandbox"
)

// specForms are the three ways a client may name alice@example.com in a path.
var specForms = []struct{ name, path string }{
	{"local part", "alice"},
	{"raw @", "alice@example.com"},
	{"escaped %40", "alice%40example.com"},
}

func TestAuthRequiredOnEveryRoute(t *testing.T) {
	_, base := newSeeded(t)
	routes := []struct{ method, path string }{
		{"GET", "/v3/domains/example.com/credentials"},
		{"POST", "/v3/domains/example.com/credentials"},
		{"DELETE", "/v3/domains/example.com/credentials"},
		{"PUT", "/v3/domains/example.com/credentials/user001"},
		{"DELETE", "/v3/domains/example.com/credentials/user001"},
		{"PUT", "/v3/example.com/mailboxes/user001"},
		{"GET", "/v4/domains"},
	}
	auths := []struct{ name, user, key string }{
		{"none", "", ""},
		{"wrong key", "api", "key-wrong"},
		{"wrong user", "admin", testKey},
		{"empty key", "api", ""},
	}
	for _, rt := range routes {
		for _, a := range auths {
			t.Run(rt.method+" "+rt.path+" "+a.name, func(t *testing.T) {
				res := callAuth(t, base, rt.method, rt.path, form("login", "zed", "password", "secret1"), urlencoded, a.user, a.key)
				if got, want := res.status, http.StatusUnauthorized; got != want {
					t.Fatalf("status = %d, want %d", got, want)
				}
				if got, want := string(res.raw), "Forbidden"; got != want {
					t.Fatalf("body = %q, want %q", got, want)
				}
			})
		}
	}
}

func TestEmptyKeyNeverAuthorizes(t *testing.T) {
	s := sandbox.New("")
	req, _ := http.NewRequest("GET", "/v4/domains", nil)
	req.SetBasicAuth("api", "")
	rw := httptest.NewRecorder()
	s.ServeHTTP(rw, req)
	if got, want := rw.Code, http.StatusUnauthorized; got != want {
		t.Fatalf("status = %d, want %d", got, want)
	}
}

func TestListCredentials(t *testing.T) {
	_, base := newSeeded(t)
	tests := []struct {
		name       string
		query      string
		wantStatus int
		wantMsg    string
		wantFirst  string
		wantLen    int
	}{
		{"defaults", "", 200, "", "postmaster@example.com", 100},
		{"skip and limit", "?skip=1&limit=3", 200, "", "user001@example.com", 3},
		{"last page", "?skip=250&limit=100", 200, "", "user250@example.com", 1},
		{"past the end", "?skip=5000", 200, "", "", 0},
		{"limit 1000", "?limit=1000", 200, "", "postmaster@example.com", 251},
		{"limit over 1000", "?limit=1001", 400, "Limit parameter can't be larger than 1000", "", 0},
		{"limit too large for an int", "?limit=99999999999999999999", 400, "Limit parameter can't be larger than 1000", "", 0},
		{"negative limit", "?limit=-1", 400, "Invalid limit parameter: must be a non-negative integer", "", 0},
		// MAILGUN-API.md line 22: "can't be larger than 1000" is the answer to a limit over 1000;
		// a negative limit too large for an int is not one.
		{"negative limit too large for an int", "?limit=-99999999999999999999", 400, "Invalid limit parameter: must be a non-negative integer", "", 0},
		{"non-numeric limit", "?limit=ten", 400, "Invalid limit parameter: must be a non-negative integer", "", 0},
		{"negative skip", "?skip=-5", 400, "Invalid skip parameter: must be a non-negative integer", "", 0},
		{"non-numeric skip", "?skip=x", 400, "Invalid skip parameter: must be a non-negative integer", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := call(t, base, "GET", "/v3/domains/example.com/credentials"+tt.query, nil, "")
			res.want(t, tt.wantStatus, tt.wantMsg)
			if tt.wantStatus != 200 {
				return
			}
			logins := res.itemLogins(t)
			if got, want := len(logins), tt.wantLen; got != want {
				t.Fatalf("len(items) = %d, want %d", got, want)
			}
			if got, want := res.totalCount(t), 251; got != want {
				t.Fatalf("total_count = %d, want %d", got, want)
			}
			if tt.wantLen > 0 && logins[0] != tt.wantFirst {
				t.Fatalf("first = %q, want %q", logins[0], tt.wantFirst)
			}
		})
	}
}

func TestListItemShape(t *testing.T) {
	s, base := newSandbox(t)
	newDomain(t, s, "example.com", "alice", "")
	res := call(t, base, "GET", "/v3/domains/example.com/credentials?skip=1", nil, "")
	res.want(t, 200, "")
	want := `{"items":[{"login":"alice@example.com","mailbox":"alice@example.com","created_at":"Wed, 04 Mar 2026 10:20:30 +0000","size_bytes":null}],"total_count":2}`
	if got := string(res.raw); got != want {
		t.Fatalf("body =\n%s\nwant\n%s", got, want)
	}
	if got, want := res.header.Get("Content-Type"), "application/json"; got != want {
		t.Fatalf("Content-Type = %q, want %q", got, want)
	}
}

func TestUnknownDomainIs404(t *testing.T) {
	_, base := newSeeded(t)
	routes := []struct{ method, path string }{
		{"GET", "/v3/domains/nope.example/credentials"},
		{"POST", "/v3/domains/nope.example/credentials"},
		{"DELETE", "/v3/domains/nope.example/credentials"},
		{"PUT", "/v3/domains/nope.example/credentials/alice"},
		{"DELETE", "/v3/domains/nope.example/credentials/alice"},
		{"PUT", "/v3/nope.example/mailboxes/alice"},
	}
	for _, rt := range routes {
		t.Run(rt.method+" "+rt.path, func(t *testing.T) {
			res := call(t, base, rt.method, rt.path, form("login", "alice", "password", "secret1"), urlencoded)
			res.want(t, http.StatusNotFound, "Domain not found")
		})
	}
}

func TestCreate(t *testing.T) {
	for _, enc := range encodings {
		t.Run(string(enc), func(t *testing.T) {
			tests := []struct {
				name          string
				form          url.Values
				wantMsg       string
				wantGenerated []string // logins whose password was generated
				wantGiven     map[string]string
			}{
				{
					name:      "one login with password",
					form:      form("login", "alice", "password", "s3cret-1"),
					wantMsg:   "Created 1 credentials pair(s)",
					wantGiven: map[string]string{"alice@example.com": "s3cret-1"},
				},
				{
					name:          "generated password",
					form:          form("login", "alice"),
					wantMsg:       "Created 1 credentials pair(s)",
					wantGenerated: []string{"alice@example.com"},
				},
				{
					name:      "full address",
					form:      form("login", "alice@example.com", "password", "s3cret-1"),
					wantMsg:   "Created 1 credentials pair(s)",
					wantGiven: map[string]string{"alice@example.com": "s3cret-1"},
				},
				{
					name:      "full address with upper-case domain",
					form:      form("login", "alice@EXAMPLE.com", "password", "s3cret-1"),
					wantMsg:   "Created 1 credentials pair(s)",
					wantGiven: map[string]string{"alice@example.com": "s3cret-1"},
				},
				{
					name:          "repeated logins, passwords paired by position",
					form:          form("login", "alice", "login", "bob", "login", "carol", "password", "alice-pw", "password", "bob-pw"),
					wantMsg:       "Created 3 credentials pair(s)",
					wantGiven:     map[string]string{"alice@example.com": "alice-pw", "bob@example.com": "bob-pw"},
					wantGenerated: []string{"carol@example.com"},
				},
				{
					name:          "mailbox replaces login",
					form:          form("mailbox", "alice@example.com", "mailbox", "bob"),
					wantMsg:       "Created 2 credentials pair(s)",
					wantGenerated: []string{"alice@example.com", "bob@example.com"},
				},
				{
					name:      "password lengths 5 and 32",
					form:      form("login", "alice", "login", "bob", "password", "12345", "password", strings.Repeat("x", 32)),
					wantMsg:   "Created 2 credentials pair(s)",
					wantGiven: map[string]string{"alice@example.com": "12345", "bob@example.com": strings.Repeat("x", 32)},
				},
				{
					// Characters, not bytes: five é are ten bytes, thirty-two are sixty-four.
					name:      "password lengths in characters",
					form:      form("login", "alice", "login", "bob", "password", "ééééé", "password", strings.Repeat("é", 32)),
					wantMsg:   "Created 2 credentials pair(s)",
					wantGiven: map[string]string{"alice@example.com": "ééééé", "bob@example.com": strings.Repeat("é", 32)},
				},
				{
					name:      "system flag",
					form:      form("login", "alice", "password", "s3cret-1", "system", "true"),
					wantMsg:   "Created 1 credentials pair(s)",
					wantGiven: map[string]string{"alice@example.com": "s3cret-1"},
				},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					s, base := newSandbox(t)
					newDomain(t, s, "example.com")
					res := call(t, base, "POST", "/v3/domains/example.com/credentials", tt.form, enc)
					res.want(t, 200, tt.wantMsg)
					if len(tt.wantGenerated) == 0 {
						if got, want := res.keys(), []string{"message"}; !slices.Equal(got, want) {
							t.Fatalf("keys = %v, want %v", got, want)
						}
					} else {
						if got, want := res.keys(), []string{"credentials", "message", "note"}; !slices.Equal(got, want) {
							t.Fatalf("keys = %v, want %v", got, want)
						}
						gen := res.generated(t)
						if got, want := len(gen), len(tt.wantGenerated); got != want {
							t.Fatalf("generated %d passwords, want %d: %v", got, want, gen)
						}
						for _, login := range tt.wantGenerated {
							checkGenerated(t, gen[login])
							if !s.CheckPassword("example.com", login, gen[login]) {
								t.Fatalf("generated password of %s does not work", login)
							}
						}
					}
					for login, pw := range tt.wantGiven {
						if !s.CheckPassword("example.com", login, pw) {
							t.Fatalf("given password of %s does not work", login)
						}
					}
				})
			}
		})
	}
}

// checkGenerated asserts the shape of a generated password: 16-20 letters and digits.
func checkGenerated(t *testing.T, pw string) {
	t.Helper()
	if !regexp.MustCompile(`^[A-Za-z0-9]{16,20}$`).MatchString(pw) {
		t.Fatalf("generated password %q: want 16-20 letters and digits", pw)
	}
}

func TestCreateErrorsCreateNothing(t *testing.T) {
	for _, enc := range encodings {
		t.Run(string(enc), func(t *testing.T) {
			tests := []struct {
				name    string
				form    url.Values
				wantMsg string
			}{
				{"no fields", url.Values{}, "Parameter 'login' is missing"},
				{"empty login", form("login", ""), "Parameter 'login' is missing"},
				{"password only", form("password", "s3cret-1"), "Parameter 'login' is missing"},
				{"one of two logins empty", form("login", "zed", "login", ""), "Login cannot be empty"},
				{"empty password", form("login", "zed", "password", ""), "Password cannot be empty"},
				{"password too short", form("login", "zed", "password", "1234"), "Password length must be between 5 and 32 characters"},
				{"password too long", form("login", "zed", "password", strings.Repeat("x", 33)), "Password length must be between 5 and 32 characters"},
				{"password too long in characters", form("login", "zed", "password", strings.Repeat("é", 33)), "Password length must be between 5 and 32 characters"},
				{"more passwords than logins", form("login", "zed", "password", "s3cret-1", "password", "s3cret-2"), "Got 2 passwords for 1 logins: passwords pair with logins by position"},
				{"existing login", form("login", "zed", "login", "alice"), "Credentials for alice@example.com already exist"},
				{"existing login as address", form("login", "zed", "login", "Alice@example.com"), "Credentials for Alice@example.com already exist"},
				{"duplicate within request", form("login", "zed", "login", "zed@example.com"), "Credentials for zed@example.com already exist"},
				{"other domain", form("login", "zed", "login", "yan@other.example"), "Login yan@other.example is not in domain example.com"},
				{"two @", form("login", "a@b@example.com"), `Invalid login: "a@b@example.com" has more than one '@'`},
				{"slash in login", form("login", "a/b"), `Invalid login: "a/b" contains a forbidden character`},
				{"bad system value", form("login", "zed", "system", "maybe"), `Invalid value for parameter 'system': "maybe"`},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					s, base := newSandbox(t)
					newDomain(t, s, "example.com", "alice", "")
					before := s.Logins("example.com")
					res := call(t, base, "POST", "/v3/domains/example.com/credentials", tt.form, enc)
					res.want(t, http.StatusBadRequest, tt.wantMsg)
					if got := s.Logins("example.com"); !slices.Equal(got, before) {
						t.Fatalf("logins after a failed create = %v, want %v", got, before)
					}
				})
			}
		})
	}
}

func TestCreateBodyOnlyNotQuery(t *testing.T) {
	s, base := newSandbox(t)
	newDomain(t, s, "example.com")
	res := call(t, base, "POST", "/v3/domains/example.com/credentials?login=alice&password=s3cret-1", nil, "")
	res.want(t, http.StatusBadRequest, "Parameter 'login' is missing")
}

func TestCreateUnsupportedContentType(t *testing.T) {
	s, base := newSandbox(t)
	newDomain(t, s, "example.com")
	if got, want := rawStatus(t, base, "POST", "/v3/domains/example.com/credentials", "application/json", `{"login":"alice"}`), http.StatusBadRequest; got != want {
		t.Fatalf("status = %d, want %d", got, want)
	}
}

func TestChangePassword(t *testing.T) {
	routes := []struct{ name, prefix string }{
		{"credentials route", "/v3/domains/example.com/credentials/"},
		{"mailboxes route", "/v3/example.com/mailboxes/"},
	}
	for _, rt := range routes {
		for _, sf := range specForms {
			for _, enc := range encodings {
				t.Run(rt.name+"/"+sf.name+"/"+string(enc), func(t *testing.T) {
					s, base := newSandbox(t)
					newDomain(t, s, "example.com", "alice", "old-pass", "bob", "bob-pass")
					path := rt.prefix + sf.path

					res := call(t, base, "PUT", path, form("password", "new-pass"), enc)
					res.want(t, 200, "Password changed")
					if got, want := res.keys(), []string{"message"}; !slices.Equal(got, want) {
						t.Fatalf("keys = %v, want %v", got, want)
					}
					if !s.CheckPassword("example.com", "alice", "new-pass") || s.CheckPassword("example.com", "alice", "old-pass") {
						t.Fatal("given password not applied")
					}

					res = call(t, base, "PUT", path, form("password", "new-pass"), enc)
					res.want(t, http.StatusBadRequest, "New password cannot be the same as old password.")

					res = call(t, base, "PUT", path, url.Values{}, enc)
					res.want(t, 200, "Password changed")
					if got, want := res.keys(), []string{"credentials", "message", "note"}; !slices.Equal(got, want) {
						t.Fatalf("keys = %v, want %v", got, want)
					}
					gen := res.generated(t)
					if got, want := len(gen), 1; got != want {
						t.Fatalf("len(credentials) = %d, want %d", got, want)
					}
					checkGenerated(t, gen["alice@example.com"])
					if !s.CheckPassword("example.com", "alice@example.com", gen["alice@example.com"]) {
						t.Fatal("generated password does not work")
					}
					if !s.CheckPassword("example.com", "bob", "bob-pass") {
						t.Fatal("bob's password changed too")
					}
				})
			}
		}
	}
}

func TestChangePasswordWithoutBody(t *testing.T) {
	s, base := newSandbox(t)
	newDomain(t, s, "example.com", "alice", "old-pass")
	res := call(t, base, "PUT", "/v3/example.com/mailboxes/alice", nil, "")
	res.want(t, 200, "Password changed")
	if got, want := res.keys(), []string{"credentials", "message", "note"}; !slices.Equal(got, want) {
		t.Fatalf("keys = %v, want %v", got, want)
	}
}

func TestChangePasswordErrors(t *testing.T) {
	tests := []struct {
		name       string
		path       string
		form       url.Values
		wantStatus int
		wantMsg    string
	}{
		{"unknown login", "/v3/domains/example.com/credentials/zed", form("password", "new-pass"), 404, "Credentials not found"},
		{"unknown login, mailboxes", "/v3/example.com/mailboxes/zed%40example.com", form("password", "new-pass"), 404, "Credentials not found"},
		{"login of another domain", "/v3/domains/example.com/credentials/carol@other.example", form("password", "new-pass"), 404, "Credentials not found"},
		{"same address, other domain path", "/v3/domains/other.example/credentials/alice@example.com", form("password", "new-pass"), 404, "Credentials not found"},
		{"empty password", "/v3/domains/example.com/credentials/alice", form("password", ""), 400, "Password cannot be empty"},
		{"short password", "/v3/example.com/mailboxes/alice", form("password", "abcd"), 400, "Password length must be between 5 and 32 characters"},
		{"long password", "/v3/example.com/mailboxes/alice", form("password", strings.Repeat("a", 33)), 400, "Password length must be between 5 and 32 characters"},
		{"two passwords", "/v3/example.com/mailboxes/alice", form("password", "abcdef", "password", "ghijkl"), 400, "Parameter 'password' must be given once"},
	}
	for _, enc := range encodings {
		for _, tt := range tests {
			t.Run(string(enc)+"/"+tt.name, func(t *testing.T) {
				s, base := newSandbox(t)
				newDomain(t, s, "example.com", "alice", "old-pass")
				newDomain(t, s, "other.example", "carol", "carol-pass")
				res := call(t, base, "PUT", tt.path, tt.form, enc)
				res.want(t, tt.wantStatus, tt.wantMsg)
				if !s.CheckPassword("example.com", "alice", "old-pass") {
					t.Fatal("a failed change changed the password")
				}
			})
		}
	}
}

// A body the sandbox cannot read is refused, not taken for an omitted password: MAILGUN-API.md
// lines 14-15 (bodies are multipart/form-data or urlencoded) and line 45 (only an omitted password
// is generated). Answering 200 with a generated password would change a password the caller
// meant to set.
func TestChangePasswordUnreadableBodyChangesNothing(t *testing.T) {
	for _, ct := range []string{"application/json", "text/plain"} {
		for _, path := range []string{"/v3/domains/example.com/credentials/alice", "/v3/example.com/mailboxes/alice"} {
			t.Run(ct+" "+path, func(t *testing.T) {
				s, base := newSandbox(t)
				newDomain(t, s, "example.com", "alice", "old-pass")
				body := `{"password":"new-pass"}`
				if ct == "text/plain" {
					body = "password=new-pass"
				}
				if got, want := rawStatus(t, base, "PUT", path, ct, body), http.StatusBadRequest; got != want {
					t.Fatalf("status = %d, want %d", got, want)
				}
				if !s.CheckPassword("example.com", "alice", "old-pass") {
					t.Fatal("an unreadable body changed the password")
				}
			})
		}
	}
}

// A login created with upper-case letters in its local part is stored as local@domain
// (MAILGUN-API.md line 35) and is found again by that spec, as the local part or the full
// address, raw or escaped (line 17), on both password routes (lines 44-53) and by the delete
// (line 56).
func TestMixedCaseLoginFoundBySpec(t *testing.T) {
	s, base := newSandbox(t)
	newDomain(t, s, "example.com")
	call(t, base, "POST", "/v3/domains/example.com/credentials", form("login", "Alice", "password", "first-pw"), urlencoded).
		want(t, 200, "Created 1 credentials pair(s)")
	res := call(t, base, "GET", "/v3/domains/example.com/credentials?skip=1", nil, "")
	res.want(t, 200, "")
	if got, want := res.itemLogins(t), []string{"Alice@example.com"}; !slices.Equal(got, want) {
		t.Fatalf("logins = %v, want %v", got, want)
	}

	call(t, base, "PUT", "/v3/domains/example.com/credentials/Alice", form("password", "second-pw"), urlencoded).
		want(t, 200, "Password changed")
	if !s.CheckPassword("example.com", "Alice@example.com", "second-pw") {
		t.Fatal("given password not applied")
	}
	res = call(t, base, "PUT", "/v3/example.com/mailboxes/Alice%40example.com", nil, "")
	res.want(t, 200, "Password changed")
	gen := res.generated(t)
	if got, want := slices.Collect(maps.Keys(gen)), []string{"Alice@example.com"}; !slices.Equal(got, want) {
		t.Fatalf("credentials keyed by %v, want %v", got, want)
	}
	if !s.CheckPassword("example.com", "Alice@example.com", gen["Alice@example.com"]) {
		t.Fatal("generated password does not work")
	}

	res = call(t, base, "DELETE", "/v3/domains/example.com/credentials/Alice@example.com", nil, "")
	res.want(t, 200, "Credentials have been deleted")
	if got, want := string(res.raw), `{"message":"Credentials have been deleted","spec":"Alice@example.com"}`; got != want {
		t.Fatalf("body = %s, want %s", got, want)
	}
	if got, want := s.Logins("example.com"), []string{"postmaster@example.com"}; !slices.Equal(got, want) {
		t.Fatalf("logins = %v, want %v", got, want)
	}
}

func TestDeleteOne(t *testing.T) {
	for _, sf := range specForms {
		t.Run(sf.name, func(t *testing.T) {
			s, base := newSandbox(t)
			newDomain(t, s, "example.com", "alice", "", "bob", "")
			res := call(t, base, "DELETE", "/v3/domains/example.com/credentials/"+sf.path, nil, "")
			res.want(t, 200, "Credentials have been deleted")
			if got, want := string(res.raw), `{"message":"Credentials have been deleted","spec":"alice@example.com"}`; got != want {
				t.Fatalf("body = %s, want %s", got, want)
			}
			if got, want := s.Logins("example.com"), []string{"postmaster@example.com", "bob@example.com"}; !slices.Equal(got, want) {
				t.Fatalf("logins = %v, want %v", got, want)
			}
			res = call(t, base, "DELETE", "/v3/domains/example.com/credentials/"+sf.path, nil, "")
			res.want(t, http.StatusNotFound, "Credentials not found")
		})
	}
}

func TestDeleteSystemRefused(t *testing.T) {
	for _, spec := range []string{"postmaster", "postmaster@example.com", "postmaster%40example.com"} {
		t.Run(spec, func(t *testing.T) {
			s, base := newSandbox(t)
			newDomain(t, s, "example.com")
			res := call(t, base, "DELETE", "/v3/domains/example.com/credentials/"+spec, nil, "")
			res.want(t, http.StatusBadRequest, "Cannot delete system mailbox: postmaster@example.com")
			if got, want := s.Logins("example.com"), []string{"postmaster@example.com"}; !slices.Equal(got, want) {
				t.Fatalf("logins = %v, want %v", got, want)
			}
		})
	}
}

func TestCreatedSystemLoginIsKept(t *testing.T) {
	s, base := newSandbox(t)
	newDomain(t, s, "example.com", "alice", "")
	call(t, base, "POST", "/v3/domains/example.com/credentials", form("login", "ops", "system", "yes"), multipartE).want(t, 200, "")
	call(t, base, "DELETE", "/v3/domains/example.com/credentials/ops", nil, "").
		want(t, http.StatusBadRequest, "Cannot delete system mailbox: ops@example.com")
	res := call(t, base, "DELETE", "/v3/domains/example.com/credentials", nil, "")
	res.want(t, 200, "All domain credentials have been deleted")
	if got, want := s.Logins("example.com"), []string{"postmaster@example.com", "ops@example.com"}; !slices.Equal(got, want) {
		t.Fatalf("logins = %v, want %v", got, want)
	}
}

func TestDeleteAll(t *testing.T) {
	s, base := newSeeded(t)
	res := call(t, base, "DELETE", "/v3/domains/example.com/credentials", nil, "")
	res.want(t, 200, "All domain credentials have been deleted")
	if got, want := string(res.raw), `{"message":"All domain credentials have been deleted","count":250}`; got != want {
		t.Fatalf("body = %s, want %s", got, want)
	}
	if got, want := s.Logins("example.com"), []string{"postmaster@example.com"}; !slices.Equal(got, want) {
		t.Fatalf("logins = %v, want %v", got, want)
	}
	if got, want := len(s.Logins("acme.example")), 13; got != want {
		t.Fatalf("acme.example logins = %d, want %d (other domains untouched)", got, want)
	}
	// The freed logins can be created again.
	call(t, base, "POST", "/v3/domains/example.com/credentials", form("login", "user001"), urlencoded).want(t, 200, "Created 1 credentials pair(s)")
	res = call(t, base, "DELETE", "/v3/domains/example.com/credentials", nil, "")
	if got, want := string(res.raw), `{"message":"All domain credentials have been deleted","count":1}`; got != want {
		t.Fatalf("body = %s, want %s", got, want)
	}
}

func TestEscapedPaths(t *testing.T) {
	s, base := newSandbox(t)
	newDomain(t, s, "example.com", "alice", "")
	tests := []struct {
		name       string
		method     string
		path       string
		wantStatus int
	}{
		{"escaped slash stays one segment", "DELETE", "/v3/domains/example.com/credentials/alice%2Fx", 404},
		{"empty spec is not the collection", "DELETE", "/v3/domains/example.com/credentials/", 404},
		{"extra segment", "DELETE", "/v3/domains/example.com/credentials/alice/x", 404},
		{"unknown route", "GET", "/v3/domains/example.com/bounces", 404},
		{"wrong method", "PATCH", "/v3/domains/example.com/credentials/alice", 405},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := call(t, base, tt.method, tt.path, nil, "")
			if got := res.status; got != tt.wantStatus {
				t.Fatalf("status = %d, want %d (body %s)", got, tt.wantStatus, res.raw)
			}
			if got, want := s.Logins("example.com"), []string{"postmaster@example.com", "alice@example.com"}; !slices.Equal(got, want) {
				t.Fatalf("logins = %v, want %v", got, want)
			}
		})
	}
}

func TestListDomains(t *testing.T) {
	_, base := newSeeded(t)
	all := []string{"acme.example", "empty.example", "example.com", "newsletter.example.org"}
	tests := []struct {
		name       string
		query      string
		wantStatus int
		wantMsg    string
		wantNames  []string
		wantTotal  int
	}{
		{"all, by name", "", 200, "", all, 4},
		{"sort name:asc", "?sort=name:asc", 200, "", all, 4},
		{"sort name:desc", "?sort=name:desc", 200, "", []string{"newsletter.example.org", "example.com", "empty.example", "acme.example"}, 4},
		{"limit and skip", "?limit=2&skip=1", 200, "", []string{"empty.example", "example.com"}, 4},
		{"search substring, any case", "?search=EXAMPLE.", 200, "", []string{"example.com", "newsletter.example.org"}, 2},
		{"search narrow", "?search=news", 200, "", []string{"newsletter.example.org"}, 1},
		{"state active", "?state=active", 200, "", all, 4},
		{"state disabled", "?state=disabled", 200, "", []string{}, 0},
		{"bad state", "?state=odd", 400, "Invalid state parameter: use active, unverified or disabled", nil, 0},
		{"bad sort", "?sort=age", 400, "Invalid sort parameter: use name, name:asc or name:desc", nil, 0},
		{"limit over 1000", "?limit=1001", 400, "Limit parameter can't be larger than 1000", nil, 0},
		{"limit too large for an int", "?limit=99999999999999999999", 400, "Limit parameter can't be larger than 1000", nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := call(t, base, "GET", "/v4/domains"+tt.query, nil, "")
			res.want(t, tt.wantStatus, tt.wantMsg)
			if tt.wantStatus != 200 {
				return
			}
			if got := res.itemLogins(t); !slices.Equal(got, tt.wantNames) {
				t.Fatalf("names = %v, want %v", got, tt.wantNames)
			}
			if got := res.totalCount(t); got != tt.wantTotal {
				t.Fatalf("total_count = %d, want %d", got, tt.wantTotal)
			}
		})
	}
}

func TestDomainItemShape(t *testing.T) {
	_, base := newSeeded(t)
	res := call(t, base, "GET", "/v4/domains?search=empty", nil, "")
	res.want(t, 200, "")
	item := res.json["items"].([]any)[0].(map[string]any)
	for key, want := range map[string]string{"name": "empty.example", "state": "active", "type": "custom", "created_at": "Fri, 12 Dec 2025 00:00:00 +0000"} {
		if got := item[key]; got != want {
			t.Errorf("%s = %v, want %q", key, got, want)
		}
	}
	if id, _ := item["id"].(string); !regexp.MustCompile(`^[0-9a-f]{24}$`).MatchString(id) {
		t.Errorf("id = %q, want 24 hex digits", id)
	}
}

func TestSeed(t *testing.T) {
	a := sandbox.New(testKey, sandbox.WithDefaultSeed())
	b := sandbox.New(testKey, sandbox.WithDefaultSeed())
	if got, want := a.Domains(), []string{"acme.example", "empty.example", "example.com", "newsletter.example.org"}; !slices.Equal(got, want) {
		t.Fatalf("domains = %v, want %v", got, want)
	}
	counts := map[string]int{"example.com": 251, "acme.example": 13, "newsletter.example.org": 4, "empty.example": 1}
	for d, want := range counts {
		logins := a.Logins(d)
		if got := len(logins); got != want {
			t.Errorf("%s: %d logins, want %d", d, got, want)
		}
		if got, want := logins[0], "postmaster@"+d; got != want {
			t.Errorf("%s: first login = %q, want %q", d, got, want)
		}
		if !slices.Equal(logins, b.Logins(d)) {
			t.Errorf("%s: seed is not deterministic", d)
		}
	}
	for _, login := range []string{"user001@example.com", "user250@example.com", "omar@acme.example", "news@newsletter.example.org", "digest@newsletter.example.org", "alerts@newsletter.example.org"} {
		d := login[strings.IndexByte(login, '@')+1:]
		if !slices.Contains(a.Logins(d), login) {
			t.Errorf("seed lacks %s", login)
		}
	}
}

func TestSeedDates(t *testing.T) {
	later := time.Date(2031, time.June, 15, 9, 30, 0, 0, time.UTC)
	for _, tt := range []struct {
		name string
		opts []sandbox.Option
		base time.Time
	}{
		{"default base", nil, sandbox.SeedBase()},
		{"WithSeedBase", []sandbox.Option{sandbox.WithSeedBase(later)}, later},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, base := newSandbox(t, append([]sandbox.Option{sandbox.WithDefaultSeed()}, tt.opts...)...)
			var got []time.Time
			var logins []string
			for skip := 0; skip < 251; skip += 100 {
				res := call(t, base, "GET", fmt.Sprintf("/v3/domains/example.com/credentials?skip=%d", skip), nil, "")
				for _, it := range res.json["items"].([]any) {
					item := it.(map[string]any)
					ts, err := time.Parse("Mon, 02 Jan 2006 15:04:05 -0700", item["created_at"].(string))
					if err != nil {
						t.Fatalf("created_at: %v", err)
					}
					got = append(got, ts)
					logins = append(logins, item["login"].(string))
				}
			}
			if len(logins) != 251 || logins[1] != "user001@example.com" || logins[250] != "user250@example.com" {
				t.Fatalf("logins = %d, from %q to %q; want postmaster@ and user001..user250", len(logins), logins[1], logins[len(logins)-1])
			}
			if !slices.IsSortedFunc(got, func(a, b time.Time) int { return a.Compare(b) }) {
				t.Fatal("created_at is not ascending in list order")
			}
			oldest, newest := tt.base.Sub(got[1]), tt.base.Sub(got[len(got)-1])
			if oldest < 2*365*24*time.Hour || oldest > 3*366*24*time.Hour {
				t.Errorf("user001 is %v older than the base, want about three years", oldest)
			}
			if newest < 0 || newest > 14*24*time.Hour {
				t.Errorf("user250 is %v older than the base, want a few days", newest)
			}
		})
	}
}

func TestCallsRecordNoSecrets(t *testing.T) {
	s, base := newSandbox(t)
	newDomain(t, s, "example.com", "alice", "old-pass")
	call(t, base, "POST", "/v3/domains/example.com/credentials", form("login", "bob", "password", "bob-secret"), urlencoded)
	call(t, base, "PUT", "/v3/example.com/mailboxes/alice%40example.com", form("password", "alice-secret"), multipartE)
	callAuth(t, base, "GET", "/v4/domains", nil, "", "api", "wrong")
	call(t, base, "GET", "/nowhere", nil, "")
	got := s.Calls()
	want := []sandbox.Call{
		{Method: "POST", Path: "/v3/domains/example.com/credentials", Route: "create", Domain: "example.com", Status: 200},
		{Method: "PUT", Path: "/v3/example.com/mailboxes/alice@example.com", Route: "update_mailbox", Domain: "example.com", Spec: "alice@example.com", Status: 200},
		{Method: "GET", Path: "/v4/domains", Route: "domains", Status: 401},
		{Method: "GET", Path: "/nowhere", Status: 404},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("calls =\n%+v\nwant\n%+v", got, want)
	}
	if dump := fmt.Sprintf("%+v", got); strings.Contains(dump, "secret") || strings.Contains(dump, testKey) {
		t.Fatalf("call log holds a secret: %s", dump)
	}
	s.ResetCalls()
	if got := s.Calls(); len(got) != 0 {
		t.Fatalf("calls after reset = %v", got)
	}
}

func TestAddHelpers(t *testing.T) {
	s := sandbox.New(testKey, sandbox.WithClock(func() time.Time { return testNow }))
	if err := s.AddDomain("example.com"); err != nil {
		t.Fatal(err)
	}
	if err := s.AddDomain("example.com"); err == nil {
		t.Fatal("AddDomain twice: want an error")
	}
	if err := s.AddDomain("bad/name"); err == nil {
		t.Fatal("AddDomain(bad/name): want an error")
	}
	if err := s.AddCredential("nope.example", "a", "", testNow); err == nil {
		t.Fatal("AddCredential on unknown domain: want an error")
	}
	if err := s.AddCredential("example.com", "a", "abc", testNow); err == nil {
		t.Fatal("AddCredential with a short password: want an error")
	}
	if err := s.AddCredential("example.com", "a", "abcdef", testNow); err != nil {
		t.Fatal(err)
	}
	if err := s.AddCredential("example.com", "a@example.com", "abcdef", testNow); err == nil {
		t.Fatal("AddCredential twice: want an error")
	}
	if err := s.AddGeneratedLogins("example.com", 3); err != nil {
		t.Fatal(err)
	}
	if got, want := s.Logins("example.com"), []string{"postmaster@example.com", "a@example.com", "gen000001@example.com", "gen000002@example.com", "gen000003@example.com"}; !slices.Equal(got, want) {
		t.Fatalf("logins = %v, want %v", got, want)
	}
	if s.CheckPassword("example.com", "a", "abcdeg") || !s.CheckPassword("example.com", "a", "abcdef") {
		t.Fatal("CheckPassword disagrees with the stored password")
	}
	if s.CheckPassword("nope.example", "a", "abcdef") || s.CheckPassword("example.com", "zz", "abcdef") {
		t.Fatal("CheckPassword true for an unknown domain or login")
	}
	if got := s.Logins("nope.example"); got != nil {
		t.Fatalf("Logins(unknown) = %v, want nil", got)
	}
}

func TestConcurrentUse(t *testing.T) {
	s, base := newSeeded(t)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 10 {
				login := fmt.Sprintf("w%d-%d", w, i)
				res := call(t, base, "POST", "/v3/domains/acme.example/credentials", form("login", login), urlencoded)
				if res.status != 200 {
					t.Errorf("create %s: %d %s", login, res.status, res.raw)
					return
				}
				call(t, base, "GET", "/v3/domains/acme.example/credentials?limit=5&skip=3", nil, "")
				call(t, base, "PUT", "/v3/acme.example/mailboxes/"+login, nil, "")
				if res := call(t, base, "DELETE", "/v3/domains/acme.example/credentials/"+login, nil, ""); res.status != 200 {
					t.Errorf("delete %s: %d", login, res.status)
				}
				_ = s.CheckPassword("acme.example", login, "whatever")
				_ = s.Calls()
			}
		})
	}
	wg.Wait()
	if got, want := len(s.Logins("acme.example")), 13; got != want {
		t.Fatalf("acme.example logins = %d, want %d", got, want)
	}
}
