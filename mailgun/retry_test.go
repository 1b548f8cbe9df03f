package mailgun_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smtpdesk/smtpdesk/mailgun"
)

const okList = `{"items":[],"total_count":0}`

func listCall(c *mailgun.Client) error {
	_, err := c.ListCredentials(context.Background(), "example.com", nil)
	return err
}

func TestRetryCountsAndBackoff(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name      string
		policy    mailgun.RetryPolicy
		replies   []reply
		call      func(c *mailgun.Client) error
		wantReqs  int
		wantWaits []time.Duration
		wantIs    error // nil = success
	}{
		{
			name:     "GET 503 then 200",
			replies:  []reply{{status: 503}, {status: 503}, {body: okList}},
			call:     listCall,
			wantReqs: 3, wantWaits: []time.Duration{200 * ms, 400 * ms},
		},
		{
			name:     "GET 500 every time gives up after 3",
			replies:  []reply{{status: 500, body: `{"message":"boom"}`}},
			call:     listCall,
			wantReqs: 3, wantWaits: []time.Duration{200 * ms, 400 * ms}, wantIs: mailgun.ErrServer,
		},
		{
			name:     "GET 429 without hints uses backoff",
			replies:  []reply{{status: 429}, {body: okList}},
			call:     listCall,
			wantReqs: 2, wantWaits: []time.Duration{200 * ms},
		},
		{
			name:     "GET dropped connection then 200",
			replies:  []reply{{drop: true}, {body: okList}},
			call:     listCall,
			wantReqs: 2, wantWaits: []time.Duration{200 * ms},
		},
		{
			name:     "backoff is capped by MaxDelay",
			policy:   mailgun.RetryPolicy{MaxAttempts: 6, BaseDelay: 200 * ms, MaxDelay: time.Second},
			replies:  []reply{{status: 502}},
			call:     listCall,
			wantReqs: 6, wantWaits: []time.Duration{200 * ms, 400 * ms, 800 * ms, time.Second, time.Second}, wantIs: mailgun.ErrServer,
		},
		{
			// BaseDelay·2^36 overflows int64: the doubling must not turn into no wait at all.
			name:     "backoff stays capped when the doubling overflows",
			policy:   mailgun.RetryPolicy{MaxAttempts: 40, BaseDelay: 200 * ms, MaxDelay: time.Second},
			replies:  []reply{{status: 502}},
			call:     listCall,
			wantReqs: 40, wantWaits: append([]time.Duration{200 * ms, 400 * ms, 800 * ms}, slices.Repeat([]time.Duration{time.Second}, 36)...), wantIs: mailgun.ErrServer,
		},
		{
			name:     "MaxAttempts 1 means no retry",
			policy:   mailgun.RetryPolicy{MaxAttempts: 1},
			replies:  []reply{{status: 503}},
			call:     listCall,
			wantReqs: 1, wantIs: mailgun.ErrServer,
		},
		{
			name:     "400 is not retried",
			replies:  []reply{{status: 400, body: `{"message":"no"}`}},
			call:     listCall,
			wantReqs: 1, wantIs: mailgun.ErrBadRequest,
		},
		{
			name:     "404 is not retried",
			replies:  []reply{{status: 404, body: `{"message":"Domain not found"}`}},
			call:     listCall,
			wantReqs: 1, wantIs: mailgun.ErrNotFound,
		},
		{
			name:    "POST is sent exactly once under 503",
			replies: []reply{{status: 503}, {body: `{"message":"Created 1 credentials pair(s)"}`}},
			call: func(c *mailgun.Client) error {
				_, err := c.CreateCredentials(context.Background(), "example.com", &mailgun.CreateCredentialsRequest{Logins: []string{"a"}})
				return err
			},
			wantReqs: 1, wantIs: mailgun.ErrServer,
		},
		{
			name:    "POST is sent exactly once under 429",
			replies: []reply{{status: 429, header: map[string]string{"Retry-After": "1"}}, {body: `{"message":"Created 1 credentials pair(s)"}`}},
			call: func(c *mailgun.Client) error {
				_, err := c.CreateCredentials(context.Background(), "example.com", &mailgun.CreateCredentialsRequest{Logins: []string{"a"}})
				return err
			},
			wantReqs: 1, wantIs: mailgun.ErrRateLimited,
		},
		{
			name:    "PUT 500 then 200",
			replies: []reply{{status: 500}, {body: `{"message":"Password changed"}`}},
			call: func(c *mailgun.Client) error {
				_, err := c.ChangePassword(context.Background(), "example.com", "alice", "new-pass-1")
				return err
			},
			wantReqs: 2, wantWaits: []time.Duration{200 * ms},
		},
		{
			name:    "PUT retried after 502 finds the password already set",
			replies: []reply{{status: 502}, {status: 400, body: `{"message":"New password cannot be the same as old password."}`}},
			call: func(c *mailgun.Client) error {
				_, err := c.ChangePassword(context.Background(), "example.com", "alice", "new-pass-1")
				return err
			},
			wantReqs: 2, wantWaits: []time.Duration{200 * ms},
		},
		{
			name:    "PUT same password on the first attempt is an error",
			replies: []reply{{status: 400, body: `{"message":"New password cannot be the same as old password."}`}},
			call: func(c *mailgun.Client) error {
				_, err := c.ChangePassword(context.Background(), "example.com", "alice", "new-pass-1")
				return err
			},
			wantReqs: 1, wantIs: mailgun.ErrBadRequest,
		},
		{
			name:    "DELETE all 503 then 200",
			replies: []reply{{status: 503}, {body: `{"message":"All domain credentials have been deleted","count":0}`}},
			call: func(c *mailgun.Client) error {
				_, err := c.DeleteAllCredentials(context.Background(), "example.com")
				return err
			},
			wantReqs: 2, wantWaits: []time.Duration{200 * ms},
		},
		{
			name:    "DELETE one after 429 then 404 is not found (429 means nothing was done)",
			replies: []reply{{status: 429}, {status: 404, body: `{"message":"Credentials not found"}`}},
			call: func(c *mailgun.Client) error {
				_, err := c.DeleteCredential(context.Background(), "example.com", "alice")
				return err
			},
			wantReqs: 2, wantWaits: []time.Duration{200 * ms}, wantIs: mailgun.ErrNotFound,
		},
		{
			name:    "DELETE one 404 on the first attempt is not found",
			replies: []reply{{status: 404, body: `{"message":"Credentials not found"}`}},
			call: func(c *mailgun.Client) error {
				_, err := c.DeleteCredential(context.Background(), "example.com", "alice")
				return err
			},
			wantReqs: 1, wantIs: mailgun.ErrNotFound,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, tt.replies...)
			c, s := newClient(t, f, mailgun.WithRetry(tt.policy))
			err := tt.call(c)
			switch {
			case tt.wantIs == nil && err != nil:
				t.Fatalf("err = %v, want success", err)
			case tt.wantIs != nil && !errors.Is(err, tt.wantIs):
				t.Fatalf("err = %v, want %v", err, tt.wantIs)
			}
			if got := len(f.requests()); got != tt.wantReqs {
				t.Errorf("requests = %d, want %d", got, tt.wantReqs)
			}
			if got := s.got(); !reflect.DeepEqual(got, tt.wantWaits) && len(got)+len(tt.wantWaits) > 0 {
				t.Errorf("waits = %v, want %v", got, tt.wantWaits)
			}
		})
	}
}

// SECURITY.md item 22: a DELETE retried after an unknown outcome that then finds the login
// gone counts as done.
func TestDeleteRetriedAfterUnknownOutcomeThen404IsDone(t *testing.T) {
	// A 200 whose body breaks off is an unknown outcome too, though the status says done:
	// the retry's 404 must not turn the delete into a failure.
	cut200 := reply{cut: true, body: `{"message":"Cred`}
	for _, first := range []reply{{status: 503}, {status: 500}, {drop: true}, cut200} {
		f := newFake(t, first, reply{status: 404, body: `{"message":"Credentials not found"}`})
		c, _ := newClient(t, f)
		got, err := c.DeleteCredential(context.Background(), "example.com", "alice")
		if err != nil {
			t.Fatalf("first reply %+v: err = %v, want success", first, err)
		}
		if got.Spec != "alice@example.com" || got.Message == "" {
			t.Errorf("result = %+v, want Spec alice@example.com and a message", got)
		}
		reqs := f.requests()
		if len(reqs) != 2 {
			t.Fatalf("requests = %d, want 2", len(reqs))
		}
		for _, r := range reqs {
			if r.Method != http.MethodDelete || r.EscapedPath != "/v3/domains/example.com/credentials/alice" {
				t.Errorf("request = %s %s", r.Method, r.EscapedPath)
			}
		}
	}
}

// TestChangePasswordRetriedAfterACutAnswerIsDone: the PUT's first answer is a 200 whose body
// breaks off, and the retry is refused as the same password as before, which says the first
// attempt landed.
func TestChangePasswordRetriedAfterACutAnswerIsDone(t *testing.T) {
	f := newFake(t, reply{cut: true, body: `{"message":"Pass`},
		reply{status: 400, body: `{"message":"New password cannot be the same as old password."}`})
	c, _ := newClient(t, f)
	if _, err := c.ChangePassword(context.Background(), "example.com", "alice", "s3cret-passw0rd"); err != nil {
		t.Fatalf("err = %v, want success", err)
	}
	if got := len(f.requests()); got != 2 {
		t.Errorf("requests = %d, want 2", got)
	}
}

// TestRetryDoesNotKeepAnEarlierAttemptsAnswer: a reset's first answer arrives whole, with a
// generated password, but its connection breaks before the body's end, so the PUT is retried;
// the retry's answer carries no password. The login now has the retry's password, not the
// first one: the result must not report the first attempt's password (nor its note).
func TestRetryDoesNotKeepAnEarlierAttemptsAnswer(t *testing.T) {
	f := newFake(t,
		reply{cut: true, body: `{"message":"Password changed","note":"generated","credentials":{"alice@example.com":"first-attempt-pw1"}}`},
		reply{body: `{"message":"Password changed"}`})
	c, _ := newClient(t, f)
	got, err := c.ChangePassword(context.Background(), "example.com", "alice", "")
	if err != nil {
		t.Fatalf("ChangePassword: %v", err)
	}
	if got := len(f.requests()); got != 2 {
		t.Fatalf("requests = %d, want 2", got)
	}
	if got.Password != "" || got.Note != "" {
		t.Errorf("result = Password %q, Note %q; want both empty (the first attempt's answer was not the outcome)", got.Password, got.Note)
	}
}

// TestServerErrorIgnoresRateLimitWindow: X-RateLimit-Reset (and retry-seconds) say when a
// 429's wait ends; on a 503 they are not a wait, and the retry backs off as usual instead of
// waiting out the rate-limit window (past the deadline, so not at all). Retry-After still
// counts on a 503.
func TestServerErrorIgnoresRateLimitWindow(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	reset := strconv.FormatInt(now.Add(time.Hour).Unix(), 10)
	for _, tt := range []struct {
		name     string
		first    reply
		wantWait time.Duration
	}{
		{"X-RateLimit-Reset", reply{status: 503, header: map[string]string{"X-RateLimit-Reset": reset}}, 200 * time.Millisecond},
		{"retry-seconds", reply{status: 503, body: `{"message":"busy","retry-seconds":3600}`}, 200 * time.Millisecond},
		{"Retry-After", reply{status: 503, header: map[string]string{"Retry-After": "3"}}, 3 * time.Second},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, tt.first, reply{body: okList})
			c, s := newClient(t, f)
			mailgun.SetTestHooks(c, nil, func() time.Time { return now }, nil)
			if err := listCall(c); err != nil {
				t.Fatalf("ListCredentials: %v", err)
			}
			if got, want := s.got(), []time.Duration{tt.wantWait}; !reflect.DeepEqual(got, want) {
				t.Errorf("waits = %v, want %v", got, want)
			}
		})
	}
}

func TestRetryHonoursServerHints(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	tests := []struct {
		name     string
		header   map[string]string
		body     string
		wantWait time.Duration
	}{
		{"Retry-After seconds", map[string]string{"Retry-After": "3"}, "", 3 * time.Second},
		{"Retry-After HTTP date", map[string]string{"Retry-After": now.Add(5 * time.Second).UTC().Format(http.TimeFormat)}, "", 5 * time.Second},
		{"X-RateLimit-Reset", map[string]string{"X-RateLimit-Reset": strconv.FormatInt(now.Add(7*time.Second).Unix(), 10)}, "", 7 * time.Second},
		{"Retry-After wins over X-RateLimit-Reset", map[string]string{"Retry-After": "2", "X-RateLimit-Reset": strconv.FormatInt(now.Add(9*time.Second).Unix(), 10)}, "", 2 * time.Second},
		{"retry-seconds in the body", nil, `{"retry-seconds": 4}`, 4 * time.Second},
		{"reset in the past falls back to backoff", map[string]string{"X-RateLimit-Reset": strconv.FormatInt(now.Add(-time.Minute).Unix(), 10)}, "", 200 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, reply{status: 429, header: tt.header, body: tt.body}, reply{body: okList})
			c, s := newClient(t, f, mailgun.WithTimeout(time.Minute))
			mailgun.SetTestHooks(c, nil, func() time.Time { return now }, nil)
			if err := listCall(c); err != nil {
				t.Fatalf("ListCredentials: %v", err)
			}
			if got, want := s.got(), []time.Duration{tt.wantWait}; !reflect.DeepEqual(got, want) {
				t.Errorf("waits = %v, want %v", got, want)
			}
			if got := len(f.requests()); got != 2 {
				t.Errorf("requests = %d, want 2", got)
			}
		})
	}
}

// TestRetryBackoffIsJittered: a backoff wait is drawn from [0, the capped exponential wait]
// ("full jitter"), so that clients that failed together do not retry together. The jitter source
// is asked for the range and its answer is the wait: here it picks the middle of the range, the
// top (the other tests' pick) and the bottom.
func TestRetryBackoffIsJittered(t *testing.T) {
	ms := time.Millisecond
	for _, tt := range []struct {
		name string
		pick func(n int64) int64
		want []time.Duration
	}{
		{"middle", func(n int64) int64 { return n / 2 }, []time.Duration{100 * ms, 200 * ms}},
		{"bottom", func(int64) int64 { return 0 }, []time.Duration{0, 0}},
	} {
		f := newFake(t, reply{status: 503}, reply{status: 503}, reply{body: okList})
		c, s := newClient(t, f)
		var asked []int64
		mailgun.SetTestHooks(c, nil, nil, func(n int64) int64 { asked = append(asked, n); return tt.pick(n) })
		if err := listCall(c); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if want := []int64{int64(200*ms) + 1, int64(400*ms) + 1}; !reflect.DeepEqual(asked, want) {
			t.Errorf("%s: jitter asked for %v, want %v", tt.name, asked, want)
		}
		if got := s.got(); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: waits = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestRetryHintTooLongIsNotAShortWait: a hint of more seconds than a time.Duration holds
// (1e11 s is some 3,000 years) is clamped, so it is a wait past the deadline, not taken, and
// never one that overflowed to a negative or short wait and retried at once.
func TestRetryHintTooLongIsNotAShortWait(t *testing.T) {
	for _, hdr := range []map[string]string{{"Retry-After": "100000000000"}, {"Retry-After": "1e300"}} {
		f := newFake(t, reply{status: 429, header: hdr}, reply{body: okList})
		c, s := newClient(t, f, mailgun.WithTimeout(time.Minute))
		var me *mailgun.Error
		if err := listCall(c); !errors.As(err, &me) || me.StatusCode != http.StatusTooManyRequests || me.RetryAfter < 24*time.Hour {
			t.Errorf("Retry-After %s: err = %v, want the 429 with its long wait", hdr["Retry-After"], err)
		}
		if got := len(f.requests()); got != 1 || len(s.got()) != 0 {
			t.Errorf("Retry-After %s: %d requests after waits %v, want 1 and no wait", hdr["Retry-After"], got, s.got())
		}
	}
}

// SECURITY.md item 21/22: a wait that would pass the deadline is not taken; Mailgun's
// answer comes back at once with its RetryAfter.
func TestRetryNeverWaitsPastTheDeadline(t *testing.T) {
	tests := []struct {
		name string
		opts []mailgun.Option
		ctx  func() (context.Context, context.CancelFunc)
	}{
		{"client timeout", []mailgun.Option{mailgun.WithTimeout(5 * time.Second)}, func() (context.Context, context.CancelFunc) {
			return context.WithCancel(context.Background())
		}},
		{"context deadline", nil, func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 5*time.Second)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, reply{status: 429, header: map[string]string{"Retry-After": "30"}}, reply{body: okList})
			c, s := newClient(t, f, tt.opts...)
			ctx, cancel := tt.ctx()
			defer cancel()
			_, err := c.ListCredentials(ctx, "example.com", nil)
			var apiErr *mailgun.Error
			if !errors.As(err, &apiErr) || apiErr.StatusCode != 429 || apiErr.RetryAfter != 30*time.Second {
				t.Fatalf("err = %v, want *Error 429 with RetryAfter 30s", err)
			}
			if got := s.got(); len(got) != 0 {
				t.Errorf("waits = %v, want none", got)
			}
			if got := len(f.requests()); got != 1 {
				t.Errorf("requests = %d, want 1", got)
			}
		})
	}
}

// TestRetryWaitEndingAtTheDeadline: a wait that would end at the deadline itself leaves the
// retry no time, and is not taken; one that ends a nanosecond before is.
func TestRetryWaitEndingAtTheDeadline(t *testing.T) {
	for _, tt := range []struct {
		name      string
		before    time.Duration // how long before the deadline the wait (200ms) would end
		wantWaits int
	}{
		{"ends at the deadline", 0, 0},
		{"ends just before the deadline", time.Nanosecond, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, reply{status: 503}, reply{body: okList})
			c, s := newClient(t, f)
			dl := time.Now().Add(5 * time.Second)
			mailgun.SetTestHooks(c, nil, func() time.Time { return dl.Add(-200*time.Millisecond - tt.before) }, nil)
			ctx, cancel := context.WithDeadline(context.Background(), dl)
			defer cancel()
			_, err := c.ListCredentials(ctx, "example.com", nil)
			if got := s.got(); len(got) != tt.wantWaits {
				t.Errorf("waits = %v, want %d", got, tt.wantWaits)
			}
			if wantErr := tt.wantWaits == 0; (err != nil) != wantErr {
				t.Errorf("err = %v, want an error: %v", err, wantErr)
			}
		})
	}
}

func TestCancelDuringBackoffStops(t *testing.T) {
	f := newFake(t, reply{status: 503})
	c, _ := newClient(t, f)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	mailgun.SetTestHooks(c, func(ctx context.Context, d time.Duration) error {
		cancel()
		return ctx.Err()
	}, nil, nil)
	_, err := c.ListCredentials(ctx, "example.com", nil)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if !errors.Is(err, mailgun.ErrServer) {
		t.Errorf("err = %v, want the last attempt's 503 still reachable", err)
	}
	if got := len(f.requests()); got != 1 {
		t.Errorf("requests = %d, want 1", got)
	}
}

// TestCancelWithCauseDuringBackoffKeepsTheCause: a call whose context is canceled with a cause
// (the server's shutdown cutting its requests off) while it waits to retry ends in an error
// that still says why, besides context.Canceled and the last attempt's answer: the cause was
// dropped, and the audit trail read the cut-off as a canceled request.
func TestCancelWithCauseDuringBackoffKeepsTheCause(t *testing.T) {
	f := newFake(t, reply{status: 503})
	c, _ := newClient(t, f)
	why := errors.New("the server is stopping")
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	mailgun.SetTestHooks(c, func(ctx context.Context, d time.Duration) error {
		cancel(why)
		return ctx.Err()
	}, nil, nil)
	_, err := c.ListCredentials(ctx, "example.com", nil)
	if !errors.Is(err, why) || !errors.Is(err, context.Canceled) || !errors.Is(err, mailgun.ErrServer) {
		t.Errorf("err = %v, want the cause, context.Canceled and the last attempt's 503", err)
	}
}

func TestHangingUpstreamTimesOut(t *testing.T) {
	// The deadline is short, so it may pass before the request reaches the server on a loaded
	// machine; the call then proves nothing about retries, and the next round doubles it.
	for timeout := 50 * time.Millisecond; ; timeout *= 2 {
		var calls atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			<-r.Context().Done()
		}))
		c, err := mailgun.NewClient(testKey, mailgun.WithBaseURL(srv.URL), mailgun.WithTimeout(timeout))
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.ListCredentials(context.Background(), "example.com", nil)
		srv.Close() // waits for the handlers: calls is final
		var te *mailgun.TransportError
		if !errors.As(err, &te) || !te.Timeout() {
			t.Fatalf("err = %v, want *TransportError with Timeout()", err)
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v, want errors.Is DeadlineExceeded", err)
		}
		if n := calls.Load(); n != 0 || timeout >= 30*time.Second {
			if n != 1 {
				t.Errorf("calls = %d, want 1 (no retry once the deadline has passed)", n)
			}
			return
		}
	}
}

func TestObserverSeesEveryAttempt(t *testing.T) {
	f := newFake(t, reply{status: 503}, reply{drop: true}, reply{body: `{"message":"Credentials have been deleted","spec":"alice@example.com"}`})
	var got []mailgun.CallInfo
	c, _ := newClient(t, f, mailgun.WithObserver(func(ci mailgun.CallInfo) { got = append(got, ci) }))
	if _, err := c.DeleteCredential(context.Background(), "example.com", "alice"); err != nil {
		t.Fatalf("DeleteCredential: %v", err)
	}
	if len(got) != 3 {
		t.Fatalf("observer calls = %d, want 3", len(got))
	}
	wantStatus := []int{503, 0, 200}
	for i, ci := range got {
		if ci.Endpoint != "DELETE /v3/domains/{domain}/credentials/{spec}" || ci.Method != "DELETE" {
			t.Errorf("call %d: Endpoint, Method = %q, %q", i, ci.Endpoint, ci.Method)
		}
		if ci.Attempt != i+1 || ci.Status != wantStatus[i] {
			t.Errorf("call %d: Attempt, Status = %d, %d; want %d, %d", i, ci.Attempt, ci.Status, i+1, wantStatus[i])
		}
		if (ci.Err == nil) != (i == 2) {
			t.Errorf("call %d: Err = %v", i, ci.Err)
		}
	}
}

// TestObserverTellsACallerWhoGaveUp: a call whose caller's context has already ended is not
// sent and reaches no observer (a whole-domain read's later pages, after one page failed, were
// each counted as an attempt Mailgun did not answer); an attempt the caller gives up waiting for
// is reported Canceled; one that Mailgun does not answer within the client's own timeout is not.
func TestObserverTellsACallerWhoGaveUp(t *testing.T) {
	var reached atomic.Int32
	arrived := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		arrived <- struct{}{}
		<-r.Context().Done() // Mailgun is slow: no answer before the client goes
	}))
	t.Cleanup(srv.Close)
	observed := func(timeout time.Duration, ctx context.Context) ([]mailgun.CallInfo, error) {
		var got []mailgun.CallInfo
		var mu sync.Mutex
		c, err := mailgun.NewClient(testKey, mailgun.WithBaseURL(srv.URL), mailgun.WithTimeout(timeout),
			mailgun.WithRetry(mailgun.RetryPolicy{MaxAttempts: 1}),
			mailgun.WithObserver(func(ci mailgun.CallInfo) { mu.Lock(); got = append(got, ci); mu.Unlock() }))
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.ListCredentials(ctx, "example.com", nil)
		mu.Lock()
		defer mu.Unlock()
		return got, err
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	got, err := observed(time.Minute, ctx)
	if !errors.Is(err, context.Canceled) || len(got) != 0 || reached.Load() != 0 {
		t.Errorf("already canceled: err %v, observed %+v, requests sent %d; want context.Canceled, none, none", err, got, reached.Load())
	}

	ctx, cancel = context.WithCancel(context.Background())
	go func() { <-arrived; cancel() }()
	got, err = observed(time.Minute, ctx)
	if !errors.Is(err, context.Canceled) || len(got) != 1 || !got[0].Canceled || got[0].Status != 0 {
		t.Errorf("given up: err %v, observed %+v; want context.Canceled and one attempt, Canceled", err, got)
	}

	go func() { <-arrived }()
	got, err = observed(50*time.Millisecond, context.Background())
	if err == nil || len(got) != 1 || got[0].Canceled || got[0].Status != 0 {
		t.Errorf("timed out: err %v, observed %+v; want an error and one attempt, no answer, not Canceled", err, got)
	}
}

// TestObserverCutAnswerHasNoStatus: an attempt whose 200 broke off mid-body got no answer, as
// Observer's Status says (0), whether its body was being decoded into a value (a list, a
// change) or only read: counting it as a 200 made a failed attempt a success in the metrics.
func TestObserverCutAnswerHasNoStatus(t *testing.T) {
	for _, tt := range []struct {
		name string
		call func(c *mailgun.Client) error
		cut  string
		ok   string
	}{
		{"GET list, decoded", func(c *mailgun.Client) error {
			_, err := c.ListCredentials(context.Background(), "example.com", nil)
			return err
		}, `{"total_count":1,"items":[{"log`, `{"total_count":0,"items":[]}`},
		{"DELETE, decoded", func(c *mailgun.Client) error {
			_, err := c.DeleteCredential(context.Background(), "example.com", "alice")
			return err
		}, `{"message":"Cred`, `{"message":"Credentials have been deleted","spec":"alice@example.com"}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, reply{cut: true, body: tt.cut}, reply{body: tt.ok})
			var got []mailgun.CallInfo
			c, _ := newClient(t, f, mailgun.WithObserver(func(ci mailgun.CallInfo) { got = append(got, ci) }))
			if err := tt.call(c); err != nil {
				t.Fatalf("call: %v", err)
			}
			if len(got) != 2 || got[0].Status != 0 || got[0].Err == nil || got[1].Status != 200 {
				t.Errorf("observed %+v; want a cut attempt with status 0 and an error, then a 200", got)
			}
		})
	}
}

// TestObserverSeesUnreadableAnswer: a 2xx whose body is not Mailgun's answer (not JSON, or
// JSON without the fields the call needs) reaches the observer with its error, ErrBadResponse,
// for every call: the metrics count it apart from the 200s, as the user is told the answer was
// unreadable. The fields were checked after the observer had seen a success.
func TestObserverSeesUnreadableAnswer(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name string
		body string
		call func(c *mailgun.Client) error
	}{
		{"list, not JSON", `<html>Welcome</html>`, func(c *mailgun.Client) error {
			_, err := c.ListCredentials(ctx, "example.com", nil)
			return err
		}},
		{"list", `{}`, func(c *mailgun.Client) error {
			_, err := c.ListCredentials(ctx, "example.com", nil)
			return err
		}},
		{"list, an item without a login", `{"total_count":1,"items":[{"mailbox":"x"}]}`, func(c *mailgun.Client) error {
			_, err := c.ListCredentials(ctx, "example.com", nil)
			return err
		}},
		{"domains", `{"message":"OK"}`, func(c *mailgun.Client) error {
			_, err := c.ListDomains(ctx, nil)
			return err
		}},
		{"create", `{}`, func(c *mailgun.Client) error {
			_, err := c.CreateCredentials(ctx, "example.com", &mailgun.CreateCredentialsRequest{Logins: []string{"alice"}})
			return err
		}},
		{"change password", `{}`, func(c *mailgun.Client) error {
			_, err := c.ChangePassword(ctx, "example.com", "alice", "")
			return err
		}},
		{"change mailbox password", `{}`, func(c *mailgun.Client) error {
			_, err := c.ChangeMailboxPassword(ctx, "example.com", "alice", "")
			return err
		}},
		{"delete", `{}`, func(c *mailgun.Client) error {
			_, err := c.DeleteCredential(ctx, "example.com", "alice")
			return err
		}},
		{"delete all, no count", `{"message":"All domain credentials have been deleted"}`, func(c *mailgun.Client) error {
			_, err := c.DeleteAllCredentials(ctx, "example.com")
			return err
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, reply{body: tt.body})
			var got []mailgun.CallInfo
			c, _ := newClient(t, f, mailgun.WithObserver(func(ci mailgun.CallInfo) { got = append(got, ci) }))
			if err := tt.call(c); !errors.Is(err, mailgun.ErrBadResponse) {
				t.Fatalf("call: %v, want ErrBadResponse", err)
			}
			if len(got) != 1 || got[0].Status != 200 || !errors.Is(got[0].Err, mailgun.ErrBadResponse) {
				t.Errorf("observed %+v; want one attempt, status 200, with ErrBadResponse", got)
			}
		})
	}
}

// TestRetryRefusedAfterNoAnswerIsUnknown: a PUT or DELETE whose attempt got no answer may have
// been applied, and a retry refused for now (429, 5xx) says nothing about that attempt: the
// call's outcome is still unknown, and it must not end in a *Error that callers (the pages,
// the audit trail) read as "Mailgun answered: nothing was changed". A GET keeps Mailgun's
// answer. A retry answered 404 does not say what the unanswered attempt did either (a PUT's
// login may have been deleted since): errors.As finds that attempt's *TransportError, never a
// *Error (see also TestRetryRefusedAfterAnUnknownOutcome).
func TestRetryRefusedAfterNoAnswerIsUnknown(t *testing.T) {
	ctx := context.Background()
	put := func(c *mailgun.Client) error {
		_, err := c.ChangePassword(ctx, "example.com", "alice", "")
		return err
	}
	del := func(c *mailgun.Client) error {
		_, err := c.DeleteCredential(ctx, "example.com", "alice")
		return err
	}
	delAll := func(c *mailgun.Client) error {
		_, err := c.DeleteAllCredentials(ctx, "example.com")
		return err
	}
	tooLong := reply{status: 429, header: map[string]string{"Retry-After": "3600"}, body: `{"message":"Too many requests"}`}
	cut := reply{cut: true, body: `{"message":"Pass`}
	for _, tt := range []struct {
		name    string
		call    func(c *mailgun.Client) error
		replies []reply
		unknown bool
		wantIs  error // when not unknown
	}{
		{"DELETE drop then 503s", del, []reply{{drop: true}, {status: 503}}, true, nil},
		{"DELETE 503, drop, 503", del, []reply{{status: 503}, {drop: true}, {status: 503}}, true, nil},
		{"DELETE drop then a 429 past the deadline", del, []reply{{drop: true}, tooLong}, true, nil},
		{"DELETE all drop then 502s", delAll, []reply{{drop: true}, {status: 502}}, true, nil},
		{"PUT cut answer then 500s", put, []reply{cut, {status: 500}}, true, nil},
		{"PUT drop then 404", put, []reply{{drop: true}, {status: 404, body: `{"message":"Credentials not found"}`}}, true, nil},
		{"DELETE 503s only", del, []reply{{status: 503}}, false, mailgun.ErrServer},
		{"GET drop then 503s", listCall, []reply{{drop: true}, {status: 503}}, false, mailgun.ErrServer},
		// A 5xx may come after Mailgun did the work too: a last 429 does not make it "nothing
		// changed", so the call ends in the 5xx, which callers read as an unknown outcome.
		{"DELETE 503 then a 429 past the deadline", del, []reply{{status: 503}, tooLong}, false, mailgun.ErrServer},
		{"PUT 500 then a 429 past the deadline", put, []reply{{status: 500}, tooLong}, false, mailgun.ErrServer},
		{"GET 503 then a 429 past the deadline", listCall, []reply{{status: 503}, tooLong}, false, mailgun.ErrRateLimited},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, tt.replies...)
			c, _ := newClient(t, f)
			err := tt.call(c)
			var apiErr *mailgun.Error
			var te *mailgun.TransportError
			if !tt.unknown {
				if !errors.Is(err, tt.wantIs) {
					t.Fatalf("err = %v, want %v", err, tt.wantIs)
				}
				return
			}
			if errors.As(err, &apiErr) || !errors.As(err, &te) {
				t.Fatalf("err = %v (%T), want a *TransportError (outcome unknown), not a *Error", err, err)
			}
			if te.Method != f.requests()[0].Method || te.Timeout() {
				t.Errorf("TransportError = %+v", te)
			}
			if !strings.Contains(err.Error(), "HTTP ") {
				t.Errorf("err = %q, want the retry's status in it for the log", err)
			}
		})
	}
}

// TestCancelAfterNoAnswerIsUnknown: the caller gives up while a DELETE backs off after a dropped
// attempt and a 503: the dropped attempt may have deleted the login, so the error must not
// read as the 503 (Mailgun's answer, nothing changed).
func TestCancelAfterNoAnswerIsUnknown(t *testing.T) {
	f := newFake(t, reply{drop: true}, reply{status: 503})
	c, _ := newClient(t, f)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sleeps := 0
	mailgun.SetTestHooks(c, func(ctx context.Context, d time.Duration) error {
		if sleeps++; sleeps == 2 {
			cancel()
		}
		return ctx.Err()
	}, nil, nil)
	_, err := c.DeleteCredential(ctx, "example.com", "alice")
	var apiErr *mailgun.Error
	var te *mailgun.TransportError
	if !errors.Is(err, context.Canceled) || errors.As(err, &apiErr) || !errors.As(err, &te) {
		t.Fatalf("err = %v, want context.Canceled with a *TransportError and no *Error", err)
	}
	if got := len(f.requests()); got != 2 {
		t.Errorf("requests = %d, want 2", got)
	}
}

// TestRetryHintOfADateIsBoundedToo: a wait asked for as an HTTP date, or (429) as
// X-RateLimit-Reset, is bounded as one asked for in seconds (a year): a date in the year 9999
// came back as 292 years, which the pages turned into "try again in 106752 days" and a
// Retry-After of as many seconds to the browser.
func TestRetryHintOfADateIsBoundedToo(t *testing.T) {
	for _, hdr := range []map[string]string{
		{"Retry-After": "Fri, 31 Dec 9999 23:59:59 GMT"},
		{"X-RateLimit-Reset": "9000000000"}, // the year 2255
	} {
		f := newFake(t, reply{status: 429, header: hdr}, reply{body: okList})
		c, _ := newClient(t, f, mailgun.WithTimeout(time.Minute))
		var me *mailgun.Error
		err := listCall(c)
		if !errors.As(err, &me) {
			t.Fatalf("%v: err = %v, want the 429", hdr, err)
		}
		if me.RetryAfter < 24*time.Hour || me.RetryAfter > 365*24*time.Hour {
			t.Errorf("%v: RetryAfter %v, want a long wait of at most a year", hdr, me.RetryAfter)
		}
	}
}
