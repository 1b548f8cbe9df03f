package mailgun_test

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/smtpdesk/smtpdesk/mailgun"
)

func TestListCredentialsRequestAndDecoding(t *testing.T) {
	body := `{"items":[
		{"login":"alice@example.com","mailbox":"alice@example.com","created_at":"Wed, 08 Mar 2023 23:34:57 +0000","size_bytes":null,"extra":{"x":1}},
		{"login":"bob@example.com","mailbox":"bob@example.com","created_at":"Tue, 07 Mar 2023 10:00:00 GMT","size_bytes":"1024"},
		{"login":"carol@example.com","mailbox":"carol@example.com","created_at":"Mon, 06 Mar 2023 01:02:03 +0200"}
	],"total_count":250,"paging":{}}`
	f := newFake(t, reply{body: body})
	c, _ := newClient(t, f, mailgun.WithUserAgent("smtpdesk-test/1"))

	got, err := c.ListCredentials(context.Background(), "example.com", &mailgun.ListOptions{Skip: 100, Limit: 50})
	if err != nil {
		t.Fatalf("ListCredentials: %v", err)
	}
	req := onlyRequest(t, f)
	if req.Method != http.MethodGet || req.EscapedPath != "/v3/domains/example.com/credentials" {
		t.Errorf("request = %s %s, want GET /v3/domains/example.com/credentials", req.Method, req.EscapedPath)
	}
	if !req.HasAuth || req.User != "api" || req.Pass != testKey {
		t.Errorf("basic auth = %q/%q (present %v), want api/<key>", req.User, req.Pass, req.HasAuth)
	}
	if req.Query.Get("skip") != "100" || req.Query.Get("limit") != "50" {
		t.Errorf("query = %v, want skip=100 limit=50", req.Query)
	}
	if req.UserAgent != "smtpdesk-test/1" {
		t.Errorf("User-Agent = %q", req.UserAgent)
	}

	size := "1024"
	want := &mailgun.CredentialList{TotalCount: 250, Items: []mailgun.Credential{
		{Login: "alice@example.com", Mailbox: "alice@example.com", CreatedAt: time.Date(2023, 3, 8, 23, 34, 57, 0, time.UTC)},
		{Login: "bob@example.com", Mailbox: "bob@example.com", CreatedAt: time.Date(2023, 3, 7, 10, 0, 0, 0, time.UTC), SizeBytes: &size},
		{Login: "carol@example.com", Mailbox: "carol@example.com", CreatedAt: time.Date(2023, 3, 5, 23, 2, 3, 0, time.UTC)},
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ListCredentials =\n%+v\nwant\n%+v", got, want)
	}
}

func TestListCredentialsQueryDefaults(t *testing.T) {
	f := newFake(t, reply{body: `{"items":[],"total_count":0}`})
	c, _ := newClient(t, f)
	got, err := c.ListCredentials(context.Background(), "example.com", nil)
	if err != nil {
		t.Fatalf("ListCredentials: %v", err)
	}
	if len(got.Items) != 0 || got.TotalCount != 0 {
		t.Errorf("got %+v, want empty", got)
	}
	if q := onlyRequest(t, f).Query; len(q) != 0 {
		t.Errorf("query = %v, want none (Mailgun's defaults)", q)
	}
}

func TestListCredentialsRejectsBadOptions(t *testing.T) {
	tests := []struct {
		name string
		opts mailgun.ListOptions
	}{
		{"negative skip", mailgun.ListOptions{Skip: -1}},
		{"negative limit", mailgun.ListOptions{Limit: -1}},
		{"limit over max", mailgun.ListOptions{Limit: mailgun.MaxLimit + 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, reply{body: `{}`})
			c, _ := newClient(t, f)
			_, err := c.ListCredentials(context.Background(), "example.com", &tt.opts)
			if !errors.Is(err, mailgun.ErrInvalidInput) {
				t.Errorf("err = %v, want ErrInvalidInput", err)
			}
			if n := len(f.requests()); n != 0 {
				t.Errorf("server saw %d requests, want 0", n)
			}
		})
	}
}

func TestListCredentialsBadTimestamp(t *testing.T) {
	f := newFake(t, reply{body: `{"items":[{"login":"a@example.com","created_at":"yesterday"}],"total_count":1}`})
	c, _ := newClient(t, f)
	_, err := c.ListCredentials(context.Background(), "example.com", nil)
	if !errors.Is(err, mailgun.ErrBadResponse) {
		t.Errorf("err = %v, want ErrBadResponse", err)
	}
}

func TestCreateCredentialsRequestShape(t *testing.T) {
	tests := []struct {
		name     string
		req      mailgun.CreateCredentialsRequest
		wantForm map[string][]string
	}{
		{
			name:     "one login, generated",
			req:      mailgun.CreateCredentialsRequest{Logins: []string{"alice"}},
			wantForm: map[string][]string{"login": {"alice"}},
		},
		{
			name: "several logins with passwords, system",
			req: mailgun.CreateCredentialsRequest{
				Logins: []string{"alice", "bob@example.com"}, Passwords: []string{"secret-one", "secret-two"}, System: true,
			},
			wantForm: map[string][]string{
				"login": {"alice", "bob@example.com"}, "password": {"secret-one", "secret-two"}, "system": {"true"},
			},
		},
		{
			name:     "mailboxes",
			req:      mailgun.CreateCredentialsRequest{Mailboxes: []string{"m1", "m2"}},
			wantForm: map[string][]string{"mailbox": {"m1", "m2"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, reply{body: `{"message":"Created 1 credentials pair(s)"}`})
			c, _ := newClient(t, f)
			got, err := c.CreateCredentials(context.Background(), "example.com", &tt.req)
			if err != nil {
				t.Fatalf("CreateCredentials: %v", err)
			}
			if got.Message != "Created 1 credentials pair(s)" || got.Passwords != nil {
				t.Errorf("result = %+v", got)
			}
			req := onlyRequest(t, f)
			if req.Method != http.MethodPost || req.EscapedPath != "/v3/domains/example.com/credentials" {
				t.Errorf("request = %s %s", req.Method, req.EscapedPath)
			}
			if req.ContentType != "application/x-www-form-urlencoded" {
				t.Errorf("Content-Type = %q", req.ContentType)
			}
			if !reflect.DeepEqual(map[string][]string(req.Form), tt.wantForm) {
				t.Errorf("form = %v, want %v", req.Form, tt.wantForm)
			}
		})
	}
}

func TestCreateCredentialsGeneratedPasswords(t *testing.T) {
	f := newFake(t, reply{body: `{"message":"Created 2 credentials pair(s)","note":"Passwords are shown once",
		"credentials":{"alice@example.com":"gen-pw-1","bob@example.com":"gen-pw-2"}}`})
	c, _ := newClient(t, f)
	got, err := c.CreateCredentials(context.Background(), "example.com", &mailgun.CreateCredentialsRequest{Logins: []string{"alice", "bob"}})
	if err != nil {
		t.Fatalf("CreateCredentials: %v", err)
	}
	want := &mailgun.CreateResult{
		Message:   "Created 2 credentials pair(s)",
		Note:      "Passwords are shown once",
		Passwords: map[string]string{"alice@example.com": "gen-pw-1", "bob@example.com": "gen-pw-2"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

// TestCreateCredentialsEmptyPasswordsIsNil: an answer whose "credentials" is empty generated
// no passwords, and CreateResult.Passwords is nil, as documented.
func TestCreateCredentialsEmptyPasswordsIsNil(t *testing.T) {
	f := newFake(t, reply{body: `{"message":"Created 1 credentials pair(s)","credentials":{}}`})
	c, _ := newClient(t, f)
	got, err := c.CreateCredentials(context.Background(), "example.com", &mailgun.CreateCredentialsRequest{Logins: []string{"alice"}, Passwords: []string{"alice-pw-1"}})
	if err != nil {
		t.Fatalf("CreateCredentials: %v", err)
	}
	if got.Passwords != nil {
		t.Errorf("Passwords = %#v, want nil", got.Passwords)
	}
}

// TestCreateMailboxesWithPasswords: passwords pair with Logins followed by Mailboxes, so a
// create of mailboxes alone takes one password per mailbox (against the sandbox, which stores
// them).
func TestCreateMailboxesWithPasswords(t *testing.T) {
	c, sb := newSandboxClient(t)
	req := &mailgun.CreateCredentialsRequest{Mailboxes: []string{"mb-one", "mb-two@example.com"}, Passwords: []string{"mb-one-pw", "mb-two-pw"}}
	got, err := c.CreateCredentials(context.Background(), "example.com", req)
	if err != nil {
		t.Fatalf("CreateCredentials: %v", err)
	}
	if got.Passwords != nil {
		t.Errorf("Passwords = %v, want nil (none generated)", got.Passwords)
	}
	for login, pw := range map[string]string{"mb-one@example.com": "mb-one-pw", "mb-two@example.com": "mb-two-pw"} {
		if !sb.CheckPassword("example.com", login, pw) {
			t.Errorf("CheckPassword(%s, %s) = false, want true", login, pw)
		}
	}
}

func TestCreateCredentialsValidation(t *testing.T) {
	tests := []struct {
		name string
		req  *mailgun.CreateCredentialsRequest
	}{
		{"nil request", nil},
		{"no logins", &mailgun.CreateCredentialsRequest{}},
		{"too many passwords", &mailgun.CreateCredentialsRequest{Logins: []string{"a"}, Passwords: []string{"p1-xxxx", "p2-xxxx"}}},
		{"empty password", &mailgun.CreateCredentialsRequest{Logins: []string{"a"}, Passwords: []string{""}}},
		{"login with newline", &mailgun.CreateCredentialsRequest{Logins: []string{"a\r\nb"}}},
		{"two @ in mailbox", &mailgun.CreateCredentialsRequest{Mailboxes: []string{"a@b@c"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, reply{body: `{}`})
			c, _ := newClient(t, f)
			_, err := c.CreateCredentials(context.Background(), "example.com", tt.req)
			if !errors.Is(err, mailgun.ErrInvalidInput) {
				t.Errorf("err = %v, want ErrInvalidInput", err)
			}
			if n := len(f.requests()); n != 0 {
				t.Errorf("server saw %d requests, want 0", n)
			}
		})
	}
}

func TestChangePassword(t *testing.T) {
	type call func(c *mailgun.Client, domain, spec, pw string) (*mailgun.PasswordResult, error)
	change := func(c *mailgun.Client, d, s, p string) (*mailgun.PasswordResult, error) {
		return c.ChangePassword(context.Background(), d, s, p)
	}
	mailbox := func(c *mailgun.Client, d, s, p string) (*mailgun.PasswordResult, error) {
		return c.ChangeMailboxPassword(context.Background(), d, s, p)
	}
	tests := []struct {
		name     string
		call     call
		spec, pw string
		body     string
		wantPath string
		wantForm map[string][]string
		want     *mailgun.PasswordResult
	}{
		{
			name: "given password", call: change, spec: "alice", pw: "n3w-secret",
			body:     `{"message":"Password changed"}`,
			wantPath: "/v3/domains/example.com/credentials/alice",
			wantForm: map[string][]string{"password": {"n3w-secret"}},
			want:     &mailgun.PasswordResult{Message: "Password changed", Login: "alice@example.com"},
		},
		{
			name: "generated password", call: change, spec: "alice@example.com",
			body:     `{"message":"Password changed","note":"shown once","credentials":{"alice@example.com":"g3n3rated"}}`,
			wantPath: "/v3/domains/example.com/credentials/alice@example.com",
			wantForm: map[string][]string{},
			want:     &mailgun.PasswordResult{Message: "Password changed", Note: "shown once", Login: "alice@example.com", Password: "g3n3rated"},
		},
		{
			name: "mailbox route generated", call: mailbox, spec: "bob",
			body:     `{"message":"Password changed","note":"shown once","credentials":{"bob@example.com":"g3n3rated-2"}}`,
			wantPath: "/v3/example.com/mailboxes/bob",
			wantForm: map[string][]string{},
			want:     &mailgun.PasswordResult{Message: "Password changed", Note: "shown once", Login: "bob@example.com", Password: "g3n3rated-2"},
		},
		{
			name: "mailbox route given", call: mailbox, spec: "bob@example.com", pw: "n3w-secret",
			body:     `{"message":"Password changed"}`,
			wantPath: "/v3/example.com/mailboxes/bob@example.com",
			wantForm: map[string][]string{"password": {"n3w-secret"}},
			want:     &mailgun.PasswordResult{Message: "Password changed", Login: "bob@example.com"},
		},
		{
			name: "spec needing escapes", call: change, spec: "a%c?d#e",
			body:     `{"message":"Password changed","credentials":{"a%c?d#e@example.com":"pw-xyz"}}`,
			wantPath: "/v3/domains/example.com/credentials/a%25c%3Fd%23e",
			wantForm: map[string][]string{},
			want:     &mailgun.PasswordResult{Message: "Password changed", Login: "a%c?d#e@example.com", Password: "pw-xyz"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, reply{body: tt.body})
			c, _ := newClient(t, f)
			got, err := tt.call(c, "example.com", tt.spec, tt.pw)
			if err != nil {
				t.Fatalf("change: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
			req := onlyRequest(t, f)
			if req.Method != http.MethodPut || req.EscapedPath != tt.wantPath {
				t.Errorf("request = %s %s, want PUT %s", req.Method, req.EscapedPath, tt.wantPath)
			}
			if !reflect.DeepEqual(map[string][]string(req.Form), tt.wantForm) {
				t.Errorf("form = %v, want %v", req.Form, tt.wantForm)
			}
		})
	}
}

func TestDeleteCredential(t *testing.T) {
	f := newFake(t, reply{body: `{"message":"Credentials have been deleted","spec":"alice@example.com"}`})
	c, _ := newClient(t, f)
	got, err := c.DeleteCredential(context.Background(), "example.com", "alice@example.com")
	if err != nil {
		t.Fatalf("DeleteCredential: %v", err)
	}
	if want := (&mailgun.DeleteResult{Message: "Credentials have been deleted", Spec: "alice@example.com"}); !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	req := onlyRequest(t, f)
	if req.Method != http.MethodDelete || req.EscapedPath != "/v3/domains/example.com/credentials/alice@example.com" {
		t.Errorf("request = %s %s", req.Method, req.EscapedPath)
	}
}

// TestDeleteCredentialAnswerWithoutSpec: an answer without "spec" still names the login
// deleted, in full.
func TestDeleteCredentialAnswerWithoutSpec(t *testing.T) {
	f := newFake(t, reply{body: `{"message":"Credentials have been deleted"}`})
	c, _ := newClient(t, f)
	got, err := c.DeleteCredential(context.Background(), "example.com", "alice")
	if err != nil {
		t.Fatalf("DeleteCredential: %v", err)
	}
	if want := (&mailgun.DeleteResult{Message: "Credentials have been deleted", Spec: "alice@example.com"}); !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestDeleteAllCredentials(t *testing.T) {
	f := newFake(t, reply{body: `{"message":"All domain credentials have been deleted","count":2}`})
	c, _ := newClient(t, f)
	got, err := c.DeleteAllCredentials(context.Background(), "example.com")
	if err != nil {
		t.Fatalf("DeleteAllCredentials: %v", err)
	}
	if want := (&mailgun.DeleteAllResult{Message: "All domain credentials have been deleted", Count: 2}); !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	req := onlyRequest(t, f)
	if req.Method != http.MethodDelete || req.EscapedPath != "/v3/domains/example.com/credentials" {
		t.Errorf("request = %s %s", req.Method, req.EscapedPath)
	}
}

// A single-credential call with a bad spec sends nothing, so it can never reach the
// collection URL (SECURITY.md item 16).
func TestSingleCredentialCallsRejectBadSpecs(t *testing.T) {
	specs := []string{"", ".", "..", "a/b", `a\b`, "a@b@c", "a\nb", "a\x7f", "@example.com", "alice@", strings.Repeat("a", 256)}
	for _, spec := range specs {
		f := newFake(t, reply{body: `{"message":"ok"}`})
		c, _ := newClient(t, f)
		ctx := context.Background()
		calls := map[string]func() error{
			"delete":  func() error { _, err := c.DeleteCredential(ctx, "example.com", spec); return err },
			"change":  func() error { _, err := c.ChangePassword(ctx, "example.com", spec, "pw-12345"); return err },
			"mailbox": func() error { _, err := c.ChangeMailboxPassword(ctx, "example.com", spec, ""); return err },
		}
		for name, fn := range calls {
			if err := fn(); !errors.Is(err, mailgun.ErrInvalidInput) {
				t.Errorf("%s(%q): err = %v, want ErrInvalidInput", name, spec, err)
			}
		}
		if n := len(f.requests()); n != 0 {
			t.Errorf("spec %q: server saw %d requests, want 0", spec, n)
		}
	}
}

// TestChangePasswordTakesOnlyItsOwnLoginsPassword: a generated password comes back keyed by the
// login. One keyed by another spelling of it (case) is the login's; one keyed by another login is
// not, and was taken as the login's (the reset page showed it under the login's name, so the
// user configured a password that does not work). It is now left out, as when Mailgun sends none.
func TestChangePasswordTakesOnlyItsOwnLoginsPassword(t *testing.T) {
	tests := []struct {
		name        string
		credentials string
		want        mailgun.PasswordResult
	}{
		{"another spelling", `{"Alice@Example.com":"g3n3rated"}`, mailgun.PasswordResult{Login: "Alice@Example.com", Password: "g3n3rated"}},
		{"another spelling among others", `{"bob@example.com":"not-hers-1","ALICE@example.com":"g3n3rated"}`, mailgun.PasswordResult{Login: "ALICE@example.com", Password: "g3n3rated"}},
		{"another login", `{"bob@example.com":"not-hers-1"}`, mailgun.PasswordResult{Login: "alice@example.com"}},
		{"another login in another domain", `{"alice@example.org":"not-hers-1"}`, mailgun.PasswordResult{Login: "alice@example.com"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, reply{body: `{"message":"Password changed","credentials":` + tt.credentials + `}`})
			c, _ := newClient(t, f)
			got, err := c.ChangePassword(context.Background(), "example.com", "alice", "")
			if err != nil {
				t.Fatalf("ChangePassword: %v", err)
			}
			tt.want.Message = "Password changed"
			if *got != tt.want {
				t.Errorf("result = %+v, want %+v", *got, tt.want)
			}
		})
	}
}
