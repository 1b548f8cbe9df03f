package mailgun_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/smtpdesk/smtpdesk/mailgun"
	"github.com/smtpdesk/smtpdesk/mailgun/sandbox"
)

// newSandboxClient returns a client for a seeded sandbox, over HTTP, with waits between
// attempts that return at once.
func newSandboxClient(t *testing.T) (*mailgun.Client, *sandbox.Server) {
	t.Helper()
	sb := sandbox.New(testKey, sandbox.WithDefaultSeed())
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	c, err := mailgun.NewClient(testKey, mailgun.WithBaseURL(srv.URL))
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	mailgun.SetTestHooks(c, func(ctx context.Context, _ time.Duration) error { return ctx.Err() }, nil, nil)
	return c, sb
}

// TestRetryRefusedAfterAnUnknownOutcome: a PUT or DELETE whose first attempt's outcome is
// unknown (a 503 or a dropped connection, after the sandbox applied the change or before) is
// retried, and the retry is refused: the key revoked meanwhile (401, 403), the domain gone (404
// "Domain not found"), a proxy's 404, or, for a PUT, the login gone. None of these says what the
// first attempt did, so the call ends in an *OutcomeUnknownError that keeps the refusal (the page
// can still say the key was refused) and unwraps to the first attempt's error, never to the
// refusal that callers would read as "nothing was changed". Only a retried DELETE's 404
// "Credentials not found" and a retried PUT's "same as old password" settle the call as done;
// a refusal with no attempt of unknown outcome before it, and a GET's, stay as they are.
func TestRetryRefusedAfterAnUnknownOutcome(t *testing.T) {
	ctx := context.Background()
	del := func(c *mailgun.Client) error {
		_, err := c.DeleteCredential(ctx, "example.com", "user001")
		return err
	}
	delAll := func(c *mailgun.Client) error {
		_, err := c.DeleteAllCredentials(ctx, "acme.example")
		return err
	}
	putGiven := func(c *mailgun.Client) error {
		_, err := c.ChangePassword(ctx, "example.com", "user001", "Given-passw0rd-1")
		return err
	}
	putGenerated := func(c *mailgun.Client) error {
		_, err := c.ChangeMailboxPassword(ctx, "example.com", "user001", "")
		return err
	}
	list := func(c *mailgun.Client) error {
		_, err := c.ListCredentials(ctx, "example.com", nil)
		return err
	}
	refused := func(status int, msg string) *sandbox.Faults {
		return &sandbox.Faults{Rate: 1, Status: status, Message: msg, Then: &sandbox.Faults{}}
	}
	none := &sandbox.Faults{} // the retry is answered as the store has it
	server := func(applied bool, then *sandbox.Faults) sandbox.Faults {
		return sandbox.Faults{Rate: 1, Status: http.StatusServiceUnavailable, AfterApply: applied, Then: then}
	}
	drop := func(applied bool, then *sandbox.Faults) sandbox.Faults {
		return sandbox.Faults{Rate: 1, Drop: true, AfterApply: applied, Then: then}
	}
	const (
		done    = iota // success: the retry's answer says the first attempt did it
		unknown        // *OutcomeUnknownError
		plain          // the refusal's own *Error
	)
	for _, tt := range []struct {
		name       string
		call       func(*mailgun.Client) error
		faults     sandbox.Faults
		want       int
		wantStatus int  // the refusal's
		noAnswer   bool // the first attempt got no answer (else a 503)
	}{
		// A DELETE: only the sandbox's own "Credentials not found" says the login is gone.
		{"DELETE 503 after applying, then Credentials not found", del, server(true, none), done, 0, false},
		{"DELETE dropped after applying, then Credentials not found", del, drop(true, none), done, 0, true},
		{"DELETE 503 after applying, then Domain not found", del, server(true, refused(404, "Domain not found")), unknown, 404, false},
		{"DELETE 503, then a proxy's 404", del, server(false, refused(404, "")), unknown, 404, false},
		{"DELETE dropped after applying, then 401", del, drop(true, refused(401, "Forbidden")), unknown, 401, true},
		{"DELETE 503, then 403", del, server(false, refused(403, "")), unknown, 403, false},
		{"DELETE 503 after applying, then 400", del, server(true, refused(400, "Bad Request")), unknown, 400, false},
		{"DELETE all 503 after applying, then 401", delAll, server(true, refused(401, "Invalid private key")), unknown, 401, false},
		// A PUT: "same as old password" says a given password was set; a 404 says only that the
		// login is not there now, not what the first attempt did.
		{"PUT 503 after applying, then same as old password", putGiven, server(true, none), done, 0, false},
		{"PUT 503 after applying, then 401", putGiven, server(true, refused(401, "Forbidden")), unknown, 401, false},
		{"PUT dropped after applying, then 403", putGenerated, drop(true, refused(403, "")), unknown, 403, true},
		{"PUT dropped, then Credentials not found", putGenerated, drop(false, refused(404, "Credentials not found")), unknown, 404, true},
		// No attempt of unknown outcome before the refusal: it is Mailgun's answer to the call.
		{"DELETE 401", del, sandbox.Faults{Rate: 1, Status: 401}, plain, 401, false},
		{"DELETE Domain not found", del, sandbox.Faults{Rate: 1, Status: 404, Message: "Domain not found"}, plain, 404, false},
		{"PUT 403", putGiven, sandbox.Faults{Rate: 1, Status: 403}, plain, 403, false},
		// A GET changes nothing: its last answer is the answer.
		{"GET 503, then 401", list, server(false, refused(401, "")), plain, 401, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, sb := newSandboxClient(t)
			sb.SetFaults(tt.faults)
			err := tt.call(c)
			switch tt.want {
			case done:
				if err != nil {
					t.Fatalf("err = %v, want success (the retry's answer says the first attempt did it)", err)
				}
			case plain:
				var me *mailgun.Error
				if _, is := errors.AsType[*mailgun.OutcomeUnknownError](err); is || !errors.As(err, &me) || me.StatusCode != tt.wantStatus {
					t.Fatalf("err = %v (%T), want the HTTP %d answer as it is", err, err, tt.wantStatus)
				}
			case unknown:
				ou, ok := errors.AsType[*mailgun.OutcomeUnknownError](err)
				if !ok {
					t.Fatalf("err = %v (%T), want an *OutcomeUnknownError", err, err)
				}
				if ou.Refusal == nil || ou.Refusal.StatusCode != tt.wantStatus {
					t.Errorf("Refusal = %+v, want HTTP %d", ou.Refusal, tt.wantStatus)
				}
				// What callers find through errors.As and errors.Is is the attempt whose outcome
				// is unknown, never the refusal (read as "nothing was changed").
				te, isTransport := errors.AsType[*mailgun.TransportError](err)
				me, isAPI := errors.AsType[*mailgun.Error](err)
				switch {
				case tt.noAnswer && (!isTransport || isAPI || te.Method != ou.Refusal.Method):
					t.Errorf("errors.As finds %v / %v, want the first attempt's *TransportError only", te, me)
				case !tt.noAnswer && (isTransport || !isAPI || me.StatusCode != http.StatusServiceUnavailable):
					t.Errorf("errors.As finds %v / %v, want the first attempt's 503 only", te, me)
				}
				for _, refusal := range []error{mailgun.ErrNotFound, mailgun.ErrUnauthorized, mailgun.ErrBadRequest} {
					if errors.Is(err, refusal) {
						t.Errorf("errors.Is(err, %v) = true: callers would read a refusal", refusal)
					}
				}
				if msg := err.Error(); !strings.Contains(msg, "outcome unknown") || !strings.Contains(msg, "HTTP "+strconv.Itoa(tt.wantStatus)) {
					t.Errorf("err = %q, want it to say the outcome is unknown and the refusal's status", msg)
				}
				earlier := "an earlier attempt was answered HTTP 503"
				if tt.noAnswer {
					earlier = "an earlier attempt got no answer"
				}
				if msg := err.Error(); !strings.Contains(msg, earlier) {
					t.Errorf("err = %q, want it to say %q", msg, earlier)
				}
			}
			if tt.want != plain {
				if n := len(sb.Calls()); n != 2 {
					t.Errorf("the sandbox saw %d calls, want 2 (the first attempt and one retry)", n)
				}
			}
		})
	}
}

// TestRetriedDeleteNotFoundMessages: after an attempt whose outcome is unknown, a DELETE's
// retry answered 404 counts as done only when Mailgun says the credentials are not found
// (however it capitalises it); "Domain not found", a 404 without Mailgun's message (a proxy's
// HTML page, an empty body) and any other text leave the outcome unknown.
func TestRetriedDeleteNotFoundMessages(t *testing.T) {
	for _, tt := range []struct {
		body string
		done bool
	}{
		{`{"message":"Credentials not found"}`, true},
		{`{"message":"credentials NOT FOUND"}`, true},
		{`{"message":"Domain not found"}`, false},
		{`<html><body><h1>404 Not Found</h1></body></html>`, false},
		{``, false},
		{`{"message":"Not Found"}`, false},
		{`{"message":"Mailbox not found"}`, false},
	} {
		t.Run(tt.body, func(t *testing.T) {
			f := newFake(t, reply{status: 503}, reply{status: 404, body: tt.body})
			c, _ := newClient(t, f)
			got, err := c.DeleteCredential(context.Background(), "example.com", "alice")
			if tt.done {
				if err != nil || got.Spec != "alice@example.com" {
					t.Fatalf("DeleteCredential = %+v, %v; want it done", got, err)
				}
				return
			}
			ou, ok := errors.AsType[*mailgun.OutcomeUnknownError](err)
			if !ok || ou.Refusal.StatusCode != http.StatusNotFound || errors.Is(err, mailgun.ErrNotFound) || !errors.Is(err, mailgun.ErrServer) {
				t.Fatalf("err = %v (%T), want an *OutcomeUnknownError after the 503, keeping the 404 as its refusal", err, err)
			}
			if got := len(f.requests()); got != 2 {
				t.Errorf("requests = %d, want 2", got)
			}
		})
	}
}

// TestRetryRateLimitedAfterAnUnknownOutcome: a PUT or DELETE whose retries are refused for now
// (429) ends in the attempt that may have done the work, as that attempt's own error and not an
// *OutcomeUnknownError: after no answer, its *TransportError; after 5xx answers, the first 5xx,
// not the 429 (which callers read as "nothing was changed").
func TestRetryRateLimitedAfterAnUnknownOutcome(t *testing.T) {
	t.Run("no answer, then 429", func(t *testing.T) {
		c, sb := newSandboxClient(t)
		sb.SetFaults(sandbox.Faults{Rate: 1, Drop: true, AfterApply: true, Then: &sandbox.Faults{Rate: 1, Status: http.StatusTooManyRequests}})
		_, err := c.DeleteCredential(context.Background(), "example.com", "user001")
		te, ok := err.(*mailgun.TransportError)
		if !ok {
			t.Fatalf("err = %v (%T), want the first attempt's *TransportError itself", err, err)
		}
		if !strings.Contains(te.Error(), "a retry was answered HTTP 429") {
			t.Errorf("err = %q, want it to name the retry's 429", te)
		}
	})
	t.Run("503, 500, then 429", func(t *testing.T) {
		f := newFake(t, reply{status: 503}, reply{status: 500}, reply{status: 429})
		c, _ := newClient(t, f)
		_, err := c.ChangePassword(context.Background(), "example.com", "alice", "new-pass-1")
		me, ok := err.(*mailgun.Error)
		if !ok || me.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("err = %v (%T), want the first 5xx (503) as an *Error", err, err)
		}
		if got := len(f.requests()); got != 3 {
			t.Errorf("requests = %d, want 3", got)
		}
	})
}

// TestRetriedPutSameAsOldMessages: after a 5xx, a PUT's retry refused as "the same as old
// password" counts as done only for a 400, however Mailgun capitalises it.
func TestRetriedPutSameAsOldMessages(t *testing.T) {
	for _, tt := range []struct {
		status int
		body   string
		done   bool
	}{
		{400, `{"message":"New password cannot be the same as old password."}`, true},
		{400, `{"message":"NEW PASSWORD CANNOT BE THE SAME AS OLD PASSWORD"}`, true},
		{404, `{"message":"Credentials not found: same as old password"}`, false},
		{400, `{"message":"Password too short"}`, false},
	} {
		t.Run(tt.body, func(t *testing.T) {
			f := newFake(t, reply{status: 502}, reply{status: tt.status, body: tt.body})
			c, _ := newClient(t, f)
			got, err := c.ChangePassword(context.Background(), "example.com", "alice", "new-pass-1")
			if tt.done {
				if err != nil || got.Login != "alice@example.com" {
					t.Fatalf("ChangePassword = %+v, %v; want it done", got, err)
				}
				return
			}
			ou, ok := errors.AsType[*mailgun.OutcomeUnknownError](err)
			if !ok || ou.Refusal.StatusCode != tt.status {
				t.Fatalf("err = %v (%T), want an *OutcomeUnknownError refused HTTP %d", err, err, tt.status)
			}
		})
	}
}

// TestDeleteAllCountIncomplete: a delete-all that succeeds on a retry after an attempt that
// applied and then failed says its count may leave logins out; one on its first attempt says not.
func TestDeleteAllCountIncomplete(t *testing.T) {
	for _, tt := range []struct {
		name   string
		faults sandbox.Faults
		want   bool
	}{
		{"first attempt", sandbox.Faults{}, false},
		{"retry after a 503 that applied", sandbox.Faults{Rate: 1, Status: http.StatusServiceUnavailable, AfterApply: true, Then: &sandbox.Faults{}}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, sb := newSandboxClient(t)
			sb.SetFaults(tt.faults)
			got, err := c.DeleteAllCredentials(context.Background(), "example.com")
			if err != nil {
				t.Fatalf("DeleteAllCredentials: %v", err)
			}
			if got.CountIncomplete != tt.want {
				t.Errorf("CountIncomplete = %v, want %v (Count %d)", got.CountIncomplete, tt.want, got.Count)
			}
		})
	}
}

// TestOutcomeUnknownErrorHidesSecrets: the error's text names the refusal as Mailgun's *Error
// does, redacted: a password the refusal quotes does not reach the log through it.
func TestOutcomeUnknownErrorHidesSecrets(t *testing.T) {
	const pw = "Secret-passw0rd-9"
	f := newFake(t, reply{drop: true}, reply{status: 400, body: `{"message":"bad password ` + pw + ` for key ` + testKey + `"}`})
	c, _ := newClient(t, f)
	_, err := c.ChangePassword(context.Background(), "example.com", "alice", pw)
	if _, ok := errors.AsType[*mailgun.OutcomeUnknownError](err); !ok {
		t.Fatalf("err = %v (%T), want an *OutcomeUnknownError", err, err)
	}
	if msg := err.Error(); strings.Contains(msg, pw) || strings.Contains(msg, testKey) || !strings.Contains(msg, "[redacted]") {
		t.Errorf("err = %q, want the password and the key redacted", msg)
	}
	if got := len(f.requests()); got != 2 {
		t.Errorf("requests = %d, want 2", got)
	}
}
