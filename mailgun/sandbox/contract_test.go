package sandbox_test

// Contract tests: the real client (package mailgun) against the sandbox over real HTTP, for
// every route and error path. The client sends urlencoded bodies; multipart bodies are covered
// by the raw HTTP tests in sandbox_test.go.

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smtpdesk/smtpdesk/mailgun"
	"github.com/smtpdesk/smtpdesk/mailgun/sandbox"
)

// newClient returns a client for the sandbox at base, with quick retries.
func newClient(t *testing.T, base string, opts ...mailgun.Option) *mailgun.Client {
	t.Helper()
	all := append([]mailgun.Option{
		mailgun.WithBaseURL(base),
		mailgun.WithRetry(mailgun.RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond}),
	}, opts...)
	c, err := mailgun.NewClient(testKey, all...)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return c
}

// wantAPIError asserts err is a *mailgun.Error with the status sentinel and message.
func wantAPIError(t *testing.T, err error, sentinel error, status int, msg string) {
	t.Helper()
	var e *mailgun.Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v (%T), want *mailgun.Error", err, err)
	}
	if !errors.Is(err, sentinel) {
		t.Fatalf("err = %v, want errors.Is %v", err, sentinel)
	}
	if e.StatusCode != status || (msg != "" && e.Message != msg) {
		t.Fatalf("error = %d %q, want %d %q", e.StatusCode, e.Message, status, msg)
	}
}

// refused asserts a create was refused, by the client's validation or by the sandbox's 400,
// and that nothing was created.
func refused(t *testing.T, err error, s *sandbox.Server, before []string) {
	t.Helper()
	if !errors.Is(err, mailgun.ErrBadRequest) && !errors.Is(err, mailgun.ErrInvalidInput) {
		t.Fatalf("err = %v, want ErrBadRequest or ErrInvalidInput", err)
	}
	if got := s.Logins("example.com"); !slices.Equal(got, before) {
		t.Fatalf("logins = %v, want %v", got, before)
	}
}

func TestContractListCredentials(t *testing.T) {
	s, base := newSandbox(t)
	newDomain(t, s, "example.com", "alice", "", "bob", "", "carol", "")
	c := newClient(t, base)
	ctx := context.Background()

	list, err := c.ListCredentials(ctx, "example.com", &mailgun.ListOptions{Skip: 1, Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := list.TotalCount, 4; got != want {
		t.Fatalf("TotalCount = %d, want %d", got, want)
	}
	want := []mailgun.Credential{
		{Login: "alice@example.com", Mailbox: "alice@example.com", CreatedAt: testNow},
		{Login: "bob@example.com", Mailbox: "bob@example.com", CreatedAt: testNow},
	}
	if got := list.Items; !slices.EqualFunc(got, want, func(a, b mailgun.Credential) bool {
		return a.Login == b.Login && a.Mailbox == b.Mailbox && a.CreatedAt.Equal(b.CreatedAt) && a.SizeBytes == nil
	}) {
		t.Fatalf("items = %+v, want %+v", got, want)
	}

	list, err = c.ListCredentials(ctx, "example.com", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(list.Items), 4; got != want {
		t.Fatalf("default page: %d items, want %d", got, want)
	}

	_, err = c.ListCredentials(ctx, "nope.example", nil)
	wantAPIError(t, err, mailgun.ErrNotFound, 404, "Domain not found")

	_, err = c.ListCredentials(ctx, "example.com", &mailgun.ListOptions{Limit: 1001})
	if !errors.Is(err, mailgun.ErrInvalidInput) && !errors.Is(err, mailgun.ErrBadRequest) {
		t.Fatalf("limit 1001: err = %v, want ErrInvalidInput or ErrBadRequest", err)
	}
}

func TestContractListSeededPages(t *testing.T) {
	_, base := newSeeded(t)
	c := newClient(t, base)
	var all []string
	for skip := 0; ; skip += 100 {
		page, err := c.ListCredentials(context.Background(), "example.com", &mailgun.ListOptions{Skip: skip, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		if page.TotalCount != 251 {
			t.Fatalf("TotalCount = %d, want 251", page.TotalCount)
		}
		for _, it := range page.Items {
			all = append(all, it.Login)
		}
		if len(page.Items) < 100 {
			break
		}
	}
	if got, want := len(all), 251; got != want {
		t.Fatalf("paged %d logins, want %d", got, want)
	}
}

func TestContractUnauthorized(t *testing.T) {
	_, base := newSeeded(t)
	c, err := mailgun.NewClient("key-wrong", mailgun.WithBaseURL(base), mailgun.WithRetry(mailgun.RetryPolicy{MaxAttempts: 1}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.ListDomains(context.Background(), nil)
	wantAPIError(t, err, mailgun.ErrUnauthorized, 401, "Forbidden")
	_, err = c.DeleteAllCredentials(context.Background(), "example.com")
	wantAPIError(t, err, mailgun.ErrUnauthorized, 401, "Forbidden")
}

func TestContractCreate(t *testing.T) {
	ctx := context.Background()
	t.Run("given passwords", func(t *testing.T) {
		s, base := newSandbox(t)
		newDomain(t, s, "example.com")
		res, err := newClient(t, base).CreateCredentials(ctx, "example.com", &mailgun.CreateCredentialsRequest{
			Logins: []string{"alice", "bob@example.com"}, Passwords: []string{"alice-pw", "bob-pw"},
		})
		if err != nil {
			t.Fatal(err)
		}
		if res.Message != "Created 2 credentials pair(s)" || res.Passwords != nil || res.Note != "" {
			t.Fatalf("result = %+v", res)
		}
		if !s.CheckPassword("example.com", "alice", "alice-pw") || !s.CheckPassword("example.com", "bob", "bob-pw") {
			t.Fatal("given passwords do not work")
		}
	})
	t.Run("generated passwords work", func(t *testing.T) {
		s, base := newSandbox(t)
		newDomain(t, s, "example.com")
		res, err := newClient(t, base).CreateCredentials(ctx, "example.com", &mailgun.CreateCredentialsRequest{
			Logins: []string{"alice"}, Mailboxes: []string{"bob@example.com", "carol"}, Passwords: []string{"alice-pw"},
		})
		if err != nil {
			t.Fatal(err)
		}
		if res.Message != "Created 3 credentials pair(s)" || res.Note == "" {
			t.Fatalf("result = %+v", res)
		}
		if got, want := len(res.Passwords), 2; got != want {
			t.Fatalf("%d generated passwords, want %d", got, want)
		}
		for _, login := range []string{"bob@example.com", "carol@example.com"} {
			if !s.CheckPassword("example.com", login, res.Passwords[login]) {
				t.Fatalf("generated password of %s does not work", login)
			}
		}
		if !s.CheckPassword("example.com", "alice", "alice-pw") {
			t.Fatal("given password does not work")
		}
	})
	t.Run("system", func(t *testing.T) {
		s, base := newSandbox(t)
		newDomain(t, s, "example.com")
		c := newClient(t, base)
		if _, err := c.CreateCredentials(ctx, "example.com", &mailgun.CreateCredentialsRequest{Logins: []string{"ops"}, System: true}); err != nil {
			t.Fatal(err)
		}
		_, err := c.DeleteCredential(ctx, "example.com", "ops")
		wantAPIError(t, err, mailgun.ErrBadRequest, 400, "Cannot delete system mailbox: ops@example.com")
	})
}

func TestContractCreateErrors(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		req  *mailgun.CreateCredentialsRequest
		msg  string // the sandbox's message when the request reaches it; "" = either side may refuse
	}{
		{"duplicate", &mailgun.CreateCredentialsRequest{Logins: []string{"zed", "alice"}}, "Credentials for alice@example.com already exist"},
		{"duplicate in request", &mailgun.CreateCredentialsRequest{Logins: []string{"zed"}, Mailboxes: []string{"zed@example.com"}}, "Credentials for zed@example.com already exist"},
		{"other domain", &mailgun.CreateCredentialsRequest{Logins: []string{"zed@other.example"}}, ""},
		{"short password", &mailgun.CreateCredentialsRequest{Logins: []string{"zed"}, Passwords: []string{"1234"}}, ""},
		{"long password", &mailgun.CreateCredentialsRequest{Logins: []string{"zed"}, Passwords: []string{strings.Repeat("p", 33)}}, ""},
		{"empty password", &mailgun.CreateCredentialsRequest{Logins: []string{"zed"}, Passwords: []string{""}}, ""},
		{"no login", &mailgun.CreateCredentialsRequest{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, base := newSandbox(t)
			newDomain(t, s, "example.com", "alice", "alice-pw")
			before := s.Logins("example.com")
			_, err := newClient(t, base).CreateCredentials(ctx, "example.com", tt.req)
			refused(t, err, s, before)
			if tt.msg != "" {
				wantAPIError(t, err, mailgun.ErrBadRequest, 400, tt.msg)
			}
		})
	}
	t.Run("unknown domain", func(t *testing.T) {
		_, base := newSandbox(t)
		_, err := newClient(t, base).CreateCredentials(ctx, "nope.example", &mailgun.CreateCredentialsRequest{Logins: []string{"zed"}})
		wantAPIError(t, err, mailgun.ErrNotFound, 404, "Domain not found")
	})
}

func TestContractChangePassword(t *testing.T) {
	ctx := context.Background()
	type changeFunc func(c *mailgun.Client, ctx context.Context, domain, spec, pw string) (*mailgun.PasswordResult, error)
	routes := []struct {
		name   string
		change changeFunc
	}{
		{"credentials route", (*mailgun.Client).ChangePassword},
		{"mailboxes route", (*mailgun.Client).ChangeMailboxPassword},
	}
	for _, rt := range routes {
		for _, spec := range []string{"alice", "alice@example.com"} {
			t.Run(rt.name+"/"+spec, func(t *testing.T) {
				s, base := newSandbox(t)
				newDomain(t, s, "example.com", "alice", "old-pass")
				c := newClient(t, base)

				res, err := rt.change(c, ctx, "example.com", spec, "new-pass")
				if err != nil {
					t.Fatal(err)
				}
				if res.Message != "Password changed" || res.Password != "" || res.Login != "alice@example.com" {
					t.Fatalf("result = %+v", res)
				}
				if !s.CheckPassword("example.com", "alice", "new-pass") {
					t.Fatal("given password does not work")
				}

				res, err = rt.change(c, ctx, "example.com", spec, "")
				if err != nil {
					t.Fatal(err)
				}
				if res.Message != "Password changed" || res.Note == "" || res.Login != "alice@example.com" {
					t.Fatalf("result = %+v", res)
				}
				checkGenerated(t, res.Password)
				if !s.CheckPassword("example.com", "alice", res.Password) {
					t.Fatal("generated password does not work")
				}

				_, err = rt.change(c, ctx, "example.com", spec, res.Password)
				wantAPIError(t, err, mailgun.ErrBadRequest, 400, "New password cannot be the same as old password.")

				_, err = rt.change(c, ctx, "example.com", "zed", "zed-pass")
				wantAPIError(t, err, mailgun.ErrNotFound, 404, "Credentials not found")

				_, err = rt.change(c, ctx, "nope.example", spec, "zed-pass")
				wantAPIError(t, err, mailgun.ErrNotFound, 404, "Domain not found")

				_, err = rt.change(c, ctx, "example.com", spec, "abc")
				if !errors.Is(err, mailgun.ErrBadRequest) && !errors.Is(err, mailgun.ErrInvalidInput) {
					t.Fatalf("short password: err = %v", err)
				}
			})
		}
	}
}

func TestContractDelete(t *testing.T) {
	ctx := context.Background()
	for _, spec := range []string{"alice", "alice@example.com"} {
		t.Run(spec, func(t *testing.T) {
			s, base := newSandbox(t)
			newDomain(t, s, "example.com", "alice", "", "bob", "")
			c := newClient(t, base)
			res, err := c.DeleteCredential(ctx, "example.com", spec)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := *res, (mailgun.DeleteResult{Message: "Credentials have been deleted", Spec: "alice@example.com"}); got != want {
				t.Fatalf("result = %+v, want %+v", got, want)
			}
			if got, want := s.Logins("example.com"), []string{"postmaster@example.com", "bob@example.com"}; !slices.Equal(got, want) {
				t.Fatalf("logins = %v, want %v", got, want)
			}
			_, err = c.DeleteCredential(ctx, "example.com", spec)
			wantAPIError(t, err, mailgun.ErrNotFound, 404, "Credentials not found")
			_, err = c.DeleteCredential(ctx, "example.com", "postmaster")
			wantAPIError(t, err, mailgun.ErrBadRequest, 400, "Cannot delete system mailbox: postmaster@example.com")
			_, err = c.DeleteCredential(ctx, "nope.example", "bob")
			wantAPIError(t, err, mailgun.ErrNotFound, 404, "Domain not found")
			_, err = c.DeleteCredential(ctx, "example.com", "bob@other.example")
			wantAPIError(t, err, mailgun.ErrNotFound, 404, "Credentials not found")
		})
	}
}

func TestContractDeleteAll(t *testing.T) {
	s, base := newSeeded(t)
	c := newClient(t, base)
	res, err := c.DeleteAllCredentials(context.Background(), "acme.example")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := *res, (mailgun.DeleteAllResult{Message: "All domain credentials have been deleted", Count: 12}); got != want {
		t.Fatalf("result = %+v, want %+v", got, want)
	}
	if got, want := s.Logins("acme.example"), []string{"postmaster@acme.example"}; !slices.Equal(got, want) {
		t.Fatalf("logins = %v, want %v", got, want)
	}
	_, err = c.DeleteAllCredentials(context.Background(), "nope.example")
	wantAPIError(t, err, mailgun.ErrNotFound, 404, "Domain not found")
}

func TestContractListDomains(t *testing.T) {
	_, base := newSeeded(t)
	c := newClient(t, base)
	ctx := context.Background()
	tests := []struct {
		name      string
		opts      *mailgun.DomainListOptions
		wantNames []string
		wantTotal int
	}{
		{"all", nil, []string{"acme.example", "empty.example", "example.com", "newsletter.example.org"}, 4},
		{"page", &mailgun.DomainListOptions{Skip: 1, Limit: 2}, []string{"empty.example", "example.com"}, 4},
		{"search", &mailgun.DomainListOptions{Search: "acme"}, []string{"acme.example"}, 1},
		{"state", &mailgun.DomainListOptions{State: "unverified"}, nil, 0},
		{"sort desc", &mailgun.DomainListOptions{Sort: "name:desc", Limit: 2}, []string{"newsletter.example.org", "example.com"}, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			list, err := c.ListDomains(ctx, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, d := range list.Items {
				names = append(names, d.Name)
				if d.State != "active" || d.Type != "custom" || len(d.ID) != 24 || d.CreatedAt.IsZero() || !d.CreatedAt.Before(sandbox.SeedBase()) {
					t.Errorf("domain = %+v", d)
				}
			}
			if !slices.Equal(names, tt.wantNames) || list.TotalCount != tt.wantTotal {
				t.Fatalf("names = %v (total %d), want %v (total %d)", names, list.TotalCount, tt.wantNames, tt.wantTotal)
			}
		})
	}
}

func TestContractFaults(t *testing.T) {
	ctx := context.Background()
	t.Run("429 with Retry-After", func(t *testing.T) {
		s, base := newSeeded(t)
		s.SetFaults(sandbox.Faults{Rate: 1, Status: 429, RetryAfter: 7 * time.Second})
		_, err := newClient(t, base, mailgun.WithRetry(mailgun.RetryPolicy{MaxAttempts: 1})).ListDomains(ctx, nil)
		wantAPIError(t, err, mailgun.ErrRateLimited, 429, "")
		var e *mailgun.Error
		errors.As(err, &e)
		if got, want := e.RetryAfter, 7*time.Second; got != want {
			t.Fatalf("RetryAfter = %v, want %v", got, want)
		}
	})
	t.Run("GET retried after 503", func(t *testing.T) {
		s, base := newSandbox(t, sandbox.WithDefaultSeed(), sandbox.WithFaultChooser(sandbox.Draws(0, 0.9)))
		s.SetFaults(sandbox.Faults{Rate: 0.5, Status: 503})
		list, err := newClient(t, base).ListCredentials(ctx, "acme.example", nil)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := list.TotalCount, 13; got != want {
			t.Fatalf("TotalCount = %d, want %d", got, want)
		}
		if got, want := len(s.Calls()), 2; got != want {
			t.Fatalf("%d calls, want %d (one failure, one retry)", got, want)
		}
	})
	t.Run("POST sent once under 503", func(t *testing.T) {
		s, base := newSeeded(t)
		s.SetFaults(sandbox.Faults{Rate: 1, Status: 503})
		_, err := newClient(t, base).CreateCredentials(ctx, "example.com", &mailgun.CreateCredentialsRequest{Logins: []string{"zed"}})
		wantAPIError(t, err, mailgun.ErrServer, 503, "Service Unavailable")
		if got, want := len(s.Calls()), 1; got != want {
			t.Fatalf("%d calls, want %d", got, want)
		}
	})
	t.Run("500", func(t *testing.T) {
		s, base := newSeeded(t)
		s.SetFaults(sandbox.Faults{Rate: 1, Status: 500, Routes: []string{sandbox.RouteDeleteAll}})
		_, err := newClient(t, base).DeleteAllCredentials(ctx, "example.com")
		wantAPIError(t, err, mailgun.ErrServer, 500, "Internal Server Error")
		if got, want := len(s.Calls()), 3; got != want {
			t.Fatalf("%d calls, want %d (DELETE is retried)", got, want)
		}
	})
	t.Run("dropped connection", func(t *testing.T) {
		s, base := newSeeded(t)
		s.SetFaults(sandbox.Faults{Rate: 1, Drop: true})
		_, err := newClient(t, base, mailgun.WithRetry(mailgun.RetryPolicy{MaxAttempts: 1})).ListDomains(ctx, nil)
		var te *mailgun.TransportError
		if !errors.As(err, &te) {
			t.Fatalf("err = %v (%T), want *mailgun.TransportError", err, err)
		}
	})
	t.Run("malformed JSON", func(t *testing.T) {
		s, base := newSeeded(t)
		s.SetFaults(sandbox.Faults{Rate: 1, Malformed: true})
		_, err := newClient(t, base).ListCredentials(ctx, "example.com", nil)
		if !errors.Is(err, mailgun.ErrBadResponse) {
			t.Fatalf("err = %v, want ErrBadResponse", err)
		}
	})
	t.Run("latency past the deadline", func(t *testing.T) {
		s, base := newSeeded(t)
		s.SetFaults(sandbox.Faults{Latency: time.Hour})
		_, err := newClient(t, base, mailgun.WithTimeout(50*time.Millisecond)).ListDomains(ctx, nil)
		var te *mailgun.TransportError
		if !(errors.As(err, &te) && te.Timeout()) && !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v (%T), want a timeout", err, err)
		}
	})
	t.Run("create applied then 503: outcome unknown", func(t *testing.T) {
		s, base := newSeeded(t)
		s.SetFaults(sandbox.Faults{Rate: 1, Status: 503, AfterApply: true})
		_, err := newClient(t, base).CreateCredentials(ctx, "example.com", &mailgun.CreateCredentialsRequest{Logins: []string{"zed"}})
		wantAPIError(t, err, mailgun.ErrServer, 503, "")
		if !slices.Contains(s.Logins("example.com"), "zed@example.com") {
			t.Fatal("the create was not applied")
		}
	})
	t.Run("delete applied then 503, retry finds 404: done", func(t *testing.T) {
		s, base := newSandbox(t, sandbox.WithDefaultSeed(), sandbox.WithFaultChooser(sandbox.Draws(0, 0.9)))
		s.SetFaults(sandbox.Faults{Rate: 0.5, Status: 503, AfterApply: true})
		res, err := newClient(t, base).DeleteCredential(ctx, "example.com", "user007")
		if err != nil {
			t.Fatal(err)
		}
		if got, want := res.Spec, "user007@example.com"; got != want {
			t.Fatalf("Spec = %q, want %q", got, want)
		}
		if slices.Contains(s.Logins("example.com"), "user007@example.com") {
			t.Fatal("login still there")
		}
		calls := s.Calls()
		if got, want := []int{calls[0].Status, calls[1].Status}, []int{503, 404}; len(calls) != 2 || !slices.Equal(got, want) {
			t.Fatalf("calls = %+v, want a 503 then a 404", calls)
		}
	})
	t.Run("delete all applied then 503, retry counts 0: count incomplete", func(t *testing.T) {
		s, base := newSandbox(t, sandbox.WithDefaultSeed(), sandbox.WithFaultChooser(sandbox.Draws(0, 0.9)))
		s.SetFaults(sandbox.Faults{Rate: 0.5, Status: 503, AfterApply: true})
		res, err := newClient(t, base).DeleteAllCredentials(ctx, "acme.example")
		if err != nil {
			t.Fatal(err)
		}
		if want := (mailgun.DeleteAllResult{Message: "All domain credentials have been deleted", Count: 0, CountIncomplete: true}); *res != want {
			t.Fatalf("result = %+v, want %+v (12 logins went in the first attempt)", *res, want)
		}
		if got := s.Logins("acme.example"); !slices.Equal(got, []string{"postmaster@acme.example"}) {
			t.Fatalf("logins = %v", got)
		}
	})
	t.Run("reset applied then dropped, retry is 'same password': done", func(t *testing.T) {
		s, base := newSandbox(t, sandbox.WithFaultChooser(sandbox.Draws(0, 0.9)))
		newDomain(t, s, "example.com", "alice", "old-pass")
		s.SetFaults(sandbox.Faults{Rate: 0.5, Drop: true, AfterApply: true})
		res, err := newClient(t, base).ChangePassword(ctx, "example.com", "alice", "new-pass")
		if err != nil {
			t.Fatal(err)
		}
		if res.Login != "alice@example.com" || !s.CheckPassword("example.com", "alice", "new-pass") {
			t.Fatalf("result = %+v", res)
		}
	})
}

// TestContractOwnHTTPClientDoesNotFollowRedirects: a client given its own *http.Client, which
// follows redirects as http.Client does by default, still returns a 3xx as an *Error. Following
// a 301 turned a create into a GET of the same path: the list's 200 read as a create that
// succeeded, and nothing was made.
func TestContractOwnHTTPClientDoesNotFollowRedirects(t *testing.T) {
	s, base := newSandbox(t)
	newDomain(t, s, "example.com")
	// A front that has moved the API from /old to the root, as a proxy or a renamed host does.
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, base+strings.TrimPrefix(r.URL.Path, "/old"), http.StatusMovedPermanently)
	}))
	t.Cleanup(front.Close)
	own := &http.Client{}
	c := newClient(t, front.URL+"/old", mailgun.WithHTTPClient(own))

	res, err := c.CreateCredentials(context.Background(), "example.com", &mailgun.CreateCredentialsRequest{Logins: []string{"alice"}})
	var e *mailgun.Error
	if !errors.As(err, &e) || e.StatusCode != http.StatusMovedPermanently {
		t.Fatalf("CreateCredentials = %+v, %v; want the 301 as *mailgun.Error", res, err)
	}
	if got := s.Logins("example.com"); slices.Contains(got, "alice@example.com") {
		t.Fatalf("logins = %v: the create reached the sandbox", got)
	}
	for _, call := range s.Calls() {
		t.Errorf("the sandbox saw %s %s", call.Method, call.Path)
	}
	if own.CheckRedirect != nil {
		t.Error("WithHTTPClient changed the caller's *http.Client")
	}
}
