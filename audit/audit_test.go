package audit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/smtpdesk/smtpdesk/internal/testclock"
	"github.com/smtpdesk/smtpdesk/internal/testlog"
	"github.com/smtpdesk/smtpdesk/internal/testpg"
	"github.com/smtpdesk/smtpdesk/mailgun"
	"github.com/smtpdesk/smtpdesk/mailgun/sandbox"
	"github.com/smtpdesk/smtpdesk/store"
)

func newClock() *testclock.Clock { return testclock.New(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)) }

func openDB(t *testing.T) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "audit.db"))
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

var (
	alice = Actor{Issuer: "https://idp.example", Subject: "alice-sub", Email: "alice@corp.example", Name: "Alice"}
	meta  = Meta{RequestID: "req-42", ClientIP: "192.0.2.7", UserAgent: "Firefox"}
)

func onlyEntry(t *testing.T, db *store.DB) store.AuditEntry {
	t.Helper()
	es, err := db.ListAudit(context.Background(), store.AuditFilter{})
	if err != nil {
		t.Fatalf("ListAudit: %v", err)
	}
	if len(es) != 1 {
		t.Fatalf("entries = %d, want 1", len(es))
	}
	return es[0]
}

func TestClassify(t *testing.T) {
	long := strings.Repeat("é", 400) // 800 bytes
	// notSent is the error of a delete whose request had ended (for cause) before the call.
	notSent := func(cause error) error {
		c, err := mailgun.NewClient("key-classify", mailgun.WithBaseURL("http://127.0.0.1:1"))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancelCause(context.Background())
		cancel(cause)
		_, err = c.DeleteCredential(ctx, "example.com", "alice")
		return err
	}
	tests := []struct {
		name        string
		err         error
		wantOutcome string
		wantStatus  int
		wantMsg     string
	}{
		{"nil", nil, OutcomeOK, 0, ""},
		{"mailgun error", &mailgun.Error{StatusCode: 400, Message: "Password too short"}, OutcomeFailed, 400, "Password too short"},
		{"wrapped mailgun error", fmt.Errorf("create: %w", &mailgun.Error{StatusCode: 503, Message: "unavailable"}), OutcomeFailed, 503, "unavailable"},
		{"validation", mailgun.ValidateSpec("a/b"), OutcomeFailed, 0, "invalid input: nothing was sent to Mailgun"},
		{"transport timeout", &mailgun.TransportError{Endpoint: "POST x", Err: context.DeadlineExceeded}, OutcomeUnknown, 0, "no answer from Mailgun in time"},
		{"transport dropped", &mailgun.TransportError{Endpoint: "POST x", Err: errors.New("EOF")}, OutcomeUnknown, 0, "no answer from Mailgun (connection failed or dropped)"},
		{"bad response", fmt.Errorf("x: %w", mailgun.ErrBadResponse), OutcomeUnknown, 0, "Mailgun's answer could not be read"},
		// A retry refused after an attempt whose outcome is unknown: not failed, whatever the
		// refusal, and with its status (the refused key) kept.
		{"retry refused after no answer", &mailgun.OutcomeUnknownError{
			Earlier: &mailgun.TransportError{Endpoint: "DELETE x", Err: errors.New("EOF")},
			Refusal: &mailgun.Error{StatusCode: 401, Message: "Forbidden"}}, OutcomeUnknown, 401, "Forbidden"},
		{"retry refused after a 503, without a message", fmt.Errorf("delete: %w", &mailgun.OutcomeUnknownError{
			Earlier: &mailgun.Error{StatusCode: 503, Message: "Service Unavailable"},
			Refusal: &mailgun.Error{StatusCode: 404}}), OutcomeUnknown, 404, "Not Found"},
		{"deadline", context.DeadlineExceeded, OutcomeUnknown, 0, "timed out"},
		{"canceled", fmt.Errorf("call: %w", context.Canceled), OutcomeUnknown, 0, "request canceled"},
		// A call whose request had ended before it began sent nothing: nothing changed.
		{"not sent, its user gone", notSent(nil), OutcomeFailed, 0, "canceled before it was sent: nothing was sent to Mailgun"},
		{"not sent, the server stopping", notSent(ErrServerStopping), OutcomeFailed, 0, "canceled before it was sent: nothing was sent to Mailgun"},
		{"cut off by the shutdown", &mailgun.TransportError{Endpoint: "POST x", Err: ErrServerStopping}, OutcomeUnknown, 0, "cut off: the server was shutting down"},
		{"other", errors.New("boom secret-ish detail"), OutcomeUnknown, 0, "unexpected error"},
		// Without a refusal it is classified by the attempt it wraps.
		{"outcome unknown without a refusal", &mailgun.OutcomeUnknownError{
			Earlier: &mailgun.TransportError{Endpoint: "DELETE x", Err: errors.New("EOF")}}, OutcomeUnknown, 0, "no answer from Mailgun (connection failed or dropped)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name == "validation" && !errors.Is(tt.err, mailgun.ErrInvalidInput) {
				t.Fatalf("ValidateSpec(\"a/b\") = %v, want an ErrInvalidInput error", tt.err)
			}
			outcome, status, msg := Classify(tt.err)
			if outcome != tt.wantOutcome || status != tt.wantStatus || msg != tt.wantMsg {
				t.Errorf("Classify = %q, %d, %q; want %q, %d, %q", outcome, status, msg, tt.wantOutcome, tt.wantStatus, tt.wantMsg)
			}
		})
	}
	t.Run("long message truncated", func(t *testing.T) {
		for _, err := range []error{
			&mailgun.Error{StatusCode: 400, Message: long},
			&mailgun.OutcomeUnknownError{Earlier: &mailgun.Error{StatusCode: 503}, Refusal: &mailgun.Error{StatusCode: 401, Message: long}},
		} {
			_, _, msg := Classify(err)
			// The cut falls inside an "é" (500-3 bytes is odd): it must move back to the rune's start.
			if len(msg) > MaxMessageLen || !utf8.ValidString(msg) || !strings.HasSuffix(msg, "…") || !strings.HasPrefix(long, strings.TrimSuffix(msg, "…")) {
				t.Errorf("%T: truncated message len %d: %q", err, len(msg), msg)
			}
		}
	})
}

// TestBeginCompleteWithSandbox drives real Mailgun calls against the sandbox
// with faults and checks the recorded outcome of each error class.
func TestBeginCompleteWithSandbox(t *testing.T) {
	const key = "key-test-0123456789"
	tests := []struct {
		name        string
		faults      sandbox.Faults
		timeout     time.Duration
		spec        string
		wantOutcome string
		wantStatus  int
	}{
		{"ok", sandbox.Faults{}, 0, "user001", OutcomeOK, 0},
		// Mailgun may have applied the PUT before its 503: the outcome is unknown.
		{"503", sandbox.Faults{Rate: 1, Status: 503}, 0, "new2", OutcomeUnknown, 503},
		{"503 after applying", sandbox.Faults{Rate: 1, Status: 503, AfterApply: true}, 0, "user002", OutcomeUnknown, 503},
		{"404", sandbox.Faults{}, 0, "ghost", OutcomeFailed, 404},
		{"dropped connection", sandbox.Faults{Rate: 1, Drop: true}, 0, "new3", OutcomeUnknown, 0},
		// The latency ends only when the client leaves, so the 500 behind it never comes.
		{"timeout", sandbox.Faults{Rate: 1, Latency: time.Hour, Status: 500}, 50 * time.Millisecond, "new4", OutcomeUnknown, 0},
		{"invalid spec", sandbox.Faults{}, 0, "bad/spec", OutcomeFailed, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sb := sandbox.New(key, sandbox.WithDefaultSeed())
			sb.SetFaults(tt.faults)
			srv := httptest.NewServer(sb)
			defer srv.Close()
			client, err := mailgun.NewClient(key, mailgun.WithBaseURL(srv.URL), mailgun.WithRetry(mailgun.RetryPolicy{MaxAttempts: 1}))
			if err != nil {
				t.Fatalf("NewClient: %v", err)
			}
			db := openDB(t)
			clk := newClock()
			rec := NewRecorder(db, clk.Now)
			p, err := rec.Begin(context.Background(), alice, meta, ActionCredentialReset, "example.com", "", []string{tt.spec + "@example.com"})
			if err != nil {
				t.Fatalf("Begin: %v", err)
			}
			if got := onlyEntry(t, db).Outcome; got != OutcomePending {
				t.Errorf("outcome before Complete = %q, want pending", got)
			}
			// The deadline starts after Begin: started before it, a slow database write (a
			// loaded machine) could use it up and fail Begin instead of the Mailgun call.
			ctx := context.Background()
			if tt.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.timeout)
				defer cancel()
			}
			_, callErr := client.ChangePassword(ctx, "example.com", tt.spec, "")
			if tt.name == "ok" && callErr != nil {
				t.Fatalf("ChangePassword: %v", callErr)
			}
			clk.Add(time.Second)
			if tt.timeout > 0 {
				<-ctx.Done()
			}
			// ctx is past its deadline here when the case has one: Complete must still write.
			if err := p.Complete(ctx, callErr); err != nil {
				t.Fatalf("Complete: %v", err)
			}
			e := onlyEntry(t, db)
			if e.Outcome != tt.wantOutcome || e.UpstreamStatus != tt.wantStatus {
				t.Errorf("entry outcome %q status %d, want %q %d (call error: %v)", e.Outcome, e.UpstreamStatus, tt.wantOutcome, tt.wantStatus, callErr)
			}
			if e.CompletedAt == nil || !e.CompletedAt.Equal(clk.Now()) {
				t.Errorf("CompletedAt = %v, want %v", e.CompletedAt, clk.Now())
			}
			if e.ActorEmail != alice.Email || e.ActorSubject != alice.Subject || e.RequestID != meta.RequestID ||
				e.ClientIP != meta.ClientIP || e.Action != ActionCredentialReset || e.Domain != "example.com" {
				t.Errorf("entry = %+v", e)
			}
			// A second Complete does not write again.
			if err := p.Complete(ctx, nil); err != nil {
				t.Errorf("second Complete: %v", err)
			}
			if got := onlyEntry(t, db).Outcome; got != tt.wantOutcome {
				t.Errorf("outcome after second Complete = %q, want %q", got, tt.wantOutcome)
			}
			if rep, err := db.VerifyAudit(context.Background()); err != nil || rep.BrokenAt != 0 {
				t.Errorf("VerifyAudit = %+v, %v", rep, err)
			}
		})
	}
}

// TestCompleteMailgunErrorsByAction: on every audited change (create, reset, delete,
// delete-all) Mailgun's 4xx is failed, and its 5xx unknown with the status and message kept: the
// change may have been applied before Mailgun failed.
func TestCompleteMailgunErrorsByAction(t *testing.T) {
	actions := []string{ActionCredentialCreate, ActionCredentialReset, ActionCredentialDelete, ActionCredentialDeleteAll}
	errs := []struct {
		err         *mailgun.Error
		wantOutcome string
	}{
		{&mailgun.Error{StatusCode: 400, Message: "Password too short"}, OutcomeFailed},
		{&mailgun.Error{StatusCode: 404, Message: "Credentials not found"}, OutcomeFailed},
		{&mailgun.Error{StatusCode: 429, Message: "Too Many Requests"}, OutcomeFailed},
		{&mailgun.Error{StatusCode: 500, Message: "Internal Server Error"}, OutcomeUnknown},
		{&mailgun.Error{StatusCode: 503, Message: "Service Unavailable"}, OutcomeUnknown},
	}
	for _, action := range actions {
		for _, tt := range errs {
			t.Run(fmt.Sprintf("%s/%d", action, tt.err.StatusCode), func(t *testing.T) {
				db := openDB(t)
				p, err := NewRecorder(db, newClock().Now).Begin(context.Background(), alice, meta, action, "example.com", "", []string{"x@example.com"})
				if err != nil {
					t.Fatal(err)
				}
				if err := p.Complete(context.Background(), fmt.Errorf("call: %w", tt.err)); err != nil {
					t.Fatalf("Complete: %v", err)
				}
				e := onlyEntry(t, db)
				if e.Outcome != tt.wantOutcome || e.UpstreamStatus != tt.err.StatusCode || e.UpstreamMessage != tt.err.Message {
					t.Errorf("entry outcome %q status %d message %q, want %q %d %q",
						e.Outcome, e.UpstreamStatus, e.UpstreamMessage, tt.wantOutcome, tt.err.StatusCode, tt.err.Message)
				}
			})
		}
	}
}

// TestBeginRecordsDetail: what was asked for that the action's name and logins do not say (a
// create of system logins) is in the entry from Begin on: while it is pending (or for good, when
// its completion is lost), and after any outcome, once, beside the completion's message, which
// does not repeat it. The chain stays intact.
func TestBeginRecordsDetail(t *testing.T) {
	const about = "Asked for as system logins."
	for _, tt := range []struct {
		name, note  string
		notDone     bool // Mailgun answered, and nothing asked for was made (Pending.NotDone)
		err         error
		want        string // the message
		wantOutcome string
	}{
		{"ok", "", false, nil, "", OutcomeOK},
		{"ok with a note", "Mailgun did not create b@example.com.", false, nil, "Mailgun did not create b@example.com.", OutcomeOK},
		// Answered as made, and none of it was: failed, never ok.
		{"not done", "Mailgun did not create x@example.com.", true, nil, "Mailgun did not create x@example.com.", OutcomeFailed},
		{"refused", "", false, &mailgun.Error{StatusCode: 400, Message: "Password too short"}, "Password too short", OutcomeFailed},
		// The note says what a success did; a refusal keeps Mailgun's own message.
		{"refused, with a note", "Mailgun deleted 3 logins.", false, &mailgun.Error{StatusCode: 400, Message: "Password too short"}, "Password too short", OutcomeFailed},
		{"no answer", "", false, &mailgun.TransportError{Method: "POST", Err: context.DeadlineExceeded}, "no answer from Mailgun in time", OutcomeUnknown},
		// NotDone says what an answered change made; it does not turn a lost answer into failed.
		{"no answer, not done", "", true, &mailgun.TransportError{Method: "POST", Err: context.DeadlineExceeded}, "no answer from Mailgun in time", OutcomeUnknown},
		// A note is bounded as Mailgun's messages are.
		{"ok with a long note", strings.Repeat("n", 600), false, nil, strings.Repeat("n", MaxMessageLen-len("…")) + "…", OutcomeOK},
	} {
		t.Run(tt.name, func(t *testing.T) {
			db := openDB(t)
			p, err := NewRecorder(db, newClock().Now).Begin(context.Background(), alice, meta, ActionCredentialCreate, "example.com", about, []string{"x@example.com"})
			if err != nil {
				t.Fatal(err)
			}
			if e := onlyEntry(t, db); e.Outcome != OutcomePending || e.Detail != about {
				t.Errorf("pending entry: outcome %q, detail %q; want pending, %q", e.Outcome, e.Detail, about)
			}
			p.Note, p.NotDone = tt.note, tt.notDone
			if err := p.Complete(context.Background(), tt.err); err != nil {
				t.Fatalf("Complete: %v", err)
			}
			e := onlyEntry(t, db)
			if e.Detail != about || e.UpstreamMessage != tt.want || e.Outcome != tt.wantOutcome {
				t.Errorf("completed entry: detail %q, message %q, outcome %q; want %q, %q, %q", e.Detail, e.UpstreamMessage, e.Outcome, about, tt.want, tt.wantOutcome)
			}
			if n := strings.Count(e.Detail+" "+e.UpstreamMessage, about); n != 1 {
				t.Errorf("the entry says %q %d times, want once", about, n)
			}
			if rep, err := db.VerifyAudit(context.Background()); err != nil || rep.BrokenAt != 0 {
				t.Errorf("VerifyAudit = %+v, %v; want intact", rep, err)
			}
		})
	}
}

func TestCompleteAfterRequestCanceled(t *testing.T) {
	db := openDB(t)
	rec := NewRecorder(db, newClock().Now)
	ctx, cancel := context.WithCancel(context.Background())
	p, err := rec.Begin(ctx, alice, meta, ActionCredentialDelete, "example.com", "", []string{"x@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := p.Complete(ctx, ctx.Err()); err != nil {
		t.Fatalf("Complete on a canceled context: %v", err)
	}
	if got := onlyEntry(t, db).Outcome; got != OutcomeUnknown {
		t.Errorf("outcome = %q, want unknown", got)
	}
}

// TestCompleteCutOffByShutdown: a change whose request context the shutdown canceled with
// ErrServerStopping is recorded as cut off by it, though the call's error says only "canceled"
// (it read "request canceled", as if its user had left); one canceled without that cause still
// reads as before, and a Mailgun answer (a 503 before the cut) keeps its status.
func TestCompleteCutOffByShutdown(t *testing.T) {
	for _, tt := range []struct {
		name       string
		cause      error
		err        error
		wantStatus int
		wantMsg    string
	}{
		{"cut off by the shutdown", ErrServerStopping, fmt.Errorf("mailgun: %w", context.Canceled), 0, "cut off: the server was shutting down"},
		{"canceled", nil, fmt.Errorf("mailgun: %w", context.Canceled), 0, "request canceled"},
		{"answered 503, then cut off", ErrServerStopping,
			fmt.Errorf("mailgun: %w (last attempt: %w)", context.Canceled, &mailgun.Error{StatusCode: 503, Message: "Service Unavailable"}), 503, "Service Unavailable"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			db := openDB(t)
			rec := NewRecorder(db, newClock().Now)
			ctx, cancel := context.WithCancelCause(context.Background())
			p, err := rec.Begin(ctx, alice, meta, ActionCredentialCreate, "example.com", "", []string{"x@example.com"})
			if err != nil {
				t.Fatal(err)
			}
			cancel(tt.cause)
			if err := p.Complete(ctx, tt.err); err != nil {
				t.Fatal(err)
			}
			if got := onlyEntry(t, db); got.Outcome != OutcomeUnknown || got.UpstreamStatus != tt.wantStatus || got.UpstreamMessage != tt.wantMsg {
				t.Errorf("entry = %s %d %q, want unknown %d %q", got.Outcome, got.UpstreamStatus, got.UpstreamMessage, tt.wantStatus, tt.wantMsg)
			}
		})
	}
}

func TestBeginFailsWhenDBUnavailable(t *testing.T) {
	db := openDB(t)
	db.Close()
	rec := NewRecorder(db, newClock().Now)
	p, err := rec.Begin(context.Background(), alice, meta, ActionCredentialCreate, "example.com", "", []string{"x@example.com"})
	if err == nil || p != nil {
		t.Fatalf("Begin on a closed database = %v, %v; want nil and an error (the action must be refused)", p, err)
	}
	if err := rec.Event(context.Background(), alice, meta, ActionSignIn, OutcomeOK, "", ""); err == nil {
		t.Errorf("Event on a closed database: got nil error")
	}
}

// TestCompleteWhileTheDatabaseRestarts: a PostgreSQL that stops answering during the Mailgun
// call (a restart, a failover: every connection ended, new ones refused) and is back within a
// second does not cost the action its outcome. Complete wrote once and gave up, so a change
// Mailgun had made stayed "pending" in the trail for good, read as "outcome unknown".
func TestCompleteWhileTheDatabaseRestarts(t *testing.T) {
	relay, dsn := testpg.WithOutage(t, testpg.Schema(t))
	db, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	rec := NewRecorder(db, newClock().Now)
	p, err := rec.Begin(context.Background(), alice, meta, ActionCredentialReset, "example.com", "", []string{"x@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	relay.Down() // during the Mailgun call
	const outage = 700 * time.Millisecond
	up := time.AfterFunc(outage, relay.Up)
	defer up.Stop()
	start := time.Now()
	if err := p.Complete(context.Background(), nil); err != nil {
		t.Fatalf("Complete across a database outage of %v: %v", outage, err)
	}
	if took := time.Since(start); took < outage || took > completeTimeout {
		t.Errorf("Complete took %v; want from the outage's end (%v) to completeTimeout (%v)", took, outage, completeTimeout)
	}
	if e := onlyEntry(t, db); e.Outcome != OutcomeOK || e.CompletedAt == nil {
		t.Errorf("entry after the outage: outcome %q, completed %v; want ok", e.Outcome, e.CompletedAt)
	}
}

// TestCompleteWrittenLateAfterALongerOutage: a database that does not answer for longer than
// completeTimeout (a failover that takes a while) no longer leaves the action's entry pending for
// good, read as "outcome unknown" though Mailgun's answer was known: Complete reports the entry
// pending for now (IsLate) and the completion is written once the database is back, with the
// outcome's time. Close waits for it. Before, the entry stayed pending after the outage.
func TestCompleteWrittenLateAfterALongerOutage(t *testing.T) {
	dsn := testpg.Schema(t)
	relay, relayed := testpg.WithOutage(t, dsn)
	db, err := store.Open(context.Background(), relayed)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	// direct reads the trail past the relay: while the relay is down, the late write cannot
	// land, so the entry read there is the one before it.
	direct, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { direct.Close() })
	clock := newClock()
	rec := NewRecorder(db, clock.Now)
	p, err := rec.Begin(context.Background(), alice, meta, ActionCredentialDelete, "example.com", "", []string{"x@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	relay.Down() // during the Mailgun call, and after completeTimeout
	clock.Add(3 * time.Second)
	at := clock.Now()
	err = p.Complete(context.Background(), nil)
	if !IsLate(err) || !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Complete with the database down throughout = %v; want a LateError matching store.ErrUnavailable", err)
	}
	if e := onlyEntry(t, direct); e.Outcome != OutcomePending {
		t.Fatalf("entry before the late write: outcome %q, want pending", e.Outcome)
	}
	relay.Up()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rec.Close(ctx)
	if ctx.Err() != nil {
		t.Fatalf("Close waited a minute for the late completion")
	}
	e := onlyEntry(t, db)
	if e.Outcome != OutcomeOK || e.CompletedAt == nil || !e.CompletedAt.Equal(at) {
		t.Errorf("entry after the outage: outcome %q, completed %v; want ok at %v", e.Outcome, e.CompletedAt, at)
	}
	intact(t, db, 2) // the entry and its completion's row
}

// TestCloseGivesUpLateCompletions: Close ends the late completions still waiting for a database
// that does not answer, when its context ends, and a completion failing after Close is not
// tried again late: the entries stay pending, and the outcome is logged.
func TestCloseGivesUpLateCompletions(t *testing.T) {
	unavailable := fmt.Errorf("store: complete audit: %w", store.ErrUnavailable)
	f := &fakeAppender{completeErr: unavailable}
	var logs testlog.Buffer
	rec := NewRecorder(f, nil)
	rec.completeTimeout = 50 * time.Millisecond
	rec.SetLogger(slog.New(slog.NewTextHandler(&logs, nil)))
	begin := func() *Pending {
		p, err := rec.Begin(context.Background(), alice, meta, ActionCredentialReset, "d.example", "", []string{"x@d.example"})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	if err := begin().Complete(context.Background(), nil); !IsLate(err) {
		t.Fatalf("Complete = %v, want a LateError", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rec.Close(ctx) // returns once the late write has stopped
	f.mu.Lock()
	n := f.completes
	f.mu.Unlock()
	if got := logs.String(); !strings.Contains(got, "stays pending") || strings.Contains(got, "written late") {
		t.Errorf("log after Close = %q; want the given-up completion logged, and not as written", got)
	}
	if err := begin().Complete(context.Background(), nil); err == nil || IsLate(err) {
		t.Errorf("Complete after Close = %v; want the write's error, not tried again late", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.completes <= n {
		t.Errorf("CompleteAudit calls %d after Close's %d; want the completion after Close tried", f.completes, n)
	}
}

// openRelayed opens a PostgreSQL schema of the test's own through a relay that can cut it.
func openRelayed(t *testing.T) (*testpg.Outage, *store.DB) {
	t.Helper()
	relay, dsn := testpg.WithOutage(t, testpg.Schema(t))
	db, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return relay, db
}

// intact fails the test unless the audit chain verifies, with n rows.
func intact(t *testing.T, db *store.DB, n int64) {
	t.Helper()
	if rep, err := db.VerifyAudit(context.Background()); err != nil || rep.BrokenAt != 0 || rep.Checked != n {
		t.Errorf("VerifyAudit = %+v, %v; want %d rows, intact", rep, err, n)
	}
}

// TestEventWhileTheDatabaseRestarts: a sign-in (any event) recorded while PostgreSQL restarts or
// fails over (every connection ended, new ones refused for 0.7 s) is in the trail, once, and the
// chain is intact. Event wrote once: the sign-in was not recorded, and the user was refused.
func TestEventWhileTheDatabaseRestarts(t *testing.T) {
	relay, db := openRelayed(t)
	rec := NewRecorder(db, newClock().Now)
	relay.Down()
	const outage = 700 * time.Millisecond
	up := time.AfterFunc(outage, relay.Up)
	defer up.Stop()
	if err := rec.Event(context.Background(), alice, meta, ActionSignIn, OutcomeOK, "", ""); err != nil {
		t.Fatalf("Event across a database outage of %v: %v", outage, err)
	}
	if e := onlyEntry(t, db); e.Action != ActionSignIn || e.ActorSubject != alice.Subject {
		t.Errorf("entry after the outage = %+v; want alice's sign-in", e)
	}
	intact(t, db, 1)
}

// commitLoss is a way the relay loses a COMMIT: the commit itself (the entry is not written) or
// only its answer (it is).
type commitLoss struct {
	name string
	lose func(*testpg.Outage)
}

// commitLosses are both commitLoss cases, for the tests of writes whose commit went unanswered.
func commitLosses() []commitLoss {
	return []commitLoss{
		{"the commit was lost, and the entry with it", (*testpg.Outage).LoseNextCommit},
		{"the commit's answer was lost, not the entry", (*testpg.Outage).LoseNextCommitAnswer},
	}
}

// TestEventWhoseCommitWasNotAnswered: an event whose COMMIT was sent and not answered (the
// connection cut meanwhile) is written again only if it was not written: once in the trail
// whether the server committed it or not, and the chain intact.
func TestEventWhoseCommitWasNotAnswered(t *testing.T) {
	for _, tc := range commitLosses() {
		t.Run(tc.name, func(t *testing.T) {
			relay, db := openRelayed(t)
			rec := NewRecorder(db, newClock().Now)
			ctx := context.Background()
			// One before it, so that the event links to a row.
			if err := rec.Event(ctx, alice, meta, ActionSignIn, OutcomeOK, "", ""); err != nil {
				t.Fatal(err)
			}
			tc.lose(relay)
			if err := rec.Event(ctx, alice, meta, ActionSignOut, OutcomeOK, "", ""); err != nil {
				t.Fatalf("Event whose commit was not answered: %v", err)
			}
			if n := relay.CommitsLost(); n != 1 {
				t.Fatalf("the relay lost %d commits, want 1", n)
			}
			es, err := db.ListAudit(ctx, store.AuditFilter{})
			if err != nil {
				t.Fatal(err)
			}
			var actions []string
			for _, e := range es {
				actions = append(actions, e.Action)
			}
			if want := []string{ActionSignOut, ActionSignIn}; !slices.Equal(actions, want) {
				t.Errorf("entries %q, want %q", actions, want)
			}
			intact(t, db, 2)
		})
	}
}

// TestBeginWhoseCommitWasNotAnswered: an action whose pending entry's COMMIT was sent and not
// answered goes ahead on one pending entry, whether the server committed it (Begin takes that
// row) or not (Begin writes it again), and that entry completes. Begin wrote once: the action
// was refused ("nothing was sent") and, when the commit had landed, its entry stayed pending for
// good, read as "outcome unknown".
func TestBeginWhoseCommitWasNotAnswered(t *testing.T) {
	for _, tc := range commitLosses() {
		t.Run(tc.name, func(t *testing.T) {
			relay, db := openRelayed(t)
			rec := NewRecorder(db, newClock().Now)
			ctx := context.Background()
			// One before it, so that the pending entry links to a row.
			if err := rec.Event(ctx, alice, meta, ActionSignIn, OutcomeOK, "", ""); err != nil {
				t.Fatal(err)
			}
			tc.lose(relay)
			p, err := rec.Begin(ctx, alice, meta, ActionCredentialReset, "example.com", "", []string{"x@example.com"})
			if err != nil {
				t.Fatalf("Begin whose commit was not answered: %v", err)
			}
			if n := relay.CommitsLost(); n != 1 {
				t.Fatalf("the relay lost %d commits, want 1", n)
			}
			onePendingCompletes(t, db, p)
		})
	}
}

// TestBeginWhileTheDatabaseRestarts: an action begun while PostgreSQL restarts or fails over
// (every connection ended, new ones refused for 0.7 s) goes ahead once it is back, on one pending
// entry that completes. Begin wrote once: the action was refused.
func TestBeginWhileTheDatabaseRestarts(t *testing.T) {
	relay, db := openRelayed(t)
	rec := NewRecorder(db, newClock().Now)
	ctx := context.Background()
	if err := rec.Event(ctx, alice, meta, ActionSignIn, OutcomeOK, "", ""); err != nil {
		t.Fatal(err)
	}
	relay.Down()
	const outage = 700 * time.Millisecond
	up := time.AfterFunc(outage, relay.Up)
	defer up.Stop()
	p, err := rec.Begin(ctx, alice, meta, ActionCredentialReset, "example.com", "", []string{"x@example.com"})
	if err != nil {
		t.Fatalf("Begin across a database outage of %v: %v", outage, err)
	}
	onePendingCompletes(t, db, p)
}

// onePendingCompletes fails the test unless the trail holds alice's sign-in and one reset, p's
// and pending, which Complete then completes, the chain intact.
func onePendingCompletes(t *testing.T, db *store.DB, p *Pending) {
	t.Helper()
	ctx := context.Background()
	es, err := db.ListAudit(ctx, store.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range es {
		got = append(got, fmt.Sprintf("%d %s %s", e.ID, e.Action, e.Outcome))
	}
	want := []string{fmt.Sprintf("%d %s %s", p.ID(), ActionCredentialReset, OutcomePending), "1 " + ActionSignIn + " " + OutcomeOK}
	if !slices.Equal(got, want) {
		t.Fatalf("entries %q, want %q", got, want)
	}
	if err := p.Complete(ctx, nil); err != nil {
		t.Fatalf("Complete: %v", err)
	}
	es, err = db.ListAudit(ctx, store.AuditFilter{Action: ActionCredentialReset})
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 1 || es[0].ID != p.ID() || es[0].Outcome != OutcomeOK || es[0].CompletedAt == nil {
		t.Errorf("resets after Complete: %+v; want entry %d, ok", es, p.ID())
	}
	intact(t, db, 3) // the sign-in, the reset and its completion's row
}

type fakeAppender struct {
	mu      sync.Mutex
	entries []store.AuditEntry
	// appendErrs, when set, are AppendAudit's answers in turn (a nil one writes the entry), then
	// appendErr's (nil: it writes); appendDeadlines are its calls' deadlines (zero for none).
	appendErrs      []error
	appendErr       error
	appendDeadlines []time.Time
	completeErr     error
	// onComplete, when set, answers CompleteAudit, ahead of completeErrs and completeErr.
	onComplete func(ctx context.Context) error
	// completeErrs, when set, are CompleteAudit's answers in turn (then completeErr's).
	completeErrs []error
	completes    int
}

func (f *fakeAppender) AppendAudit(ctx context.Context, e store.AuditEntry) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, _ := ctx.Deadline()
	f.appendDeadlines = append(f.appendDeadlines, d)
	if len(f.appendErrs) > 0 {
		err := f.appendErrs[0]
		f.appendErrs = f.appendErrs[1:]
		if err != nil {
			return 0, err
		}
	} else if f.appendErr != nil {
		return 0, f.appendErr
	}
	f.entries = append(f.entries, e)
	return int64(len(f.entries)), nil
}

func (f *fakeAppender) AppendAuditAgain(ctx context.Context, e store.AuditEntry, _ *store.LostAnswerError) (int64, error) {
	return f.AppendAudit(ctx, e)
}

func (f *fakeAppender) CompleteAudit(ctx context.Context, _ int64, _ string, _ int, _ string, _ time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.completes++
	if f.onComplete != nil {
		return f.onComplete(ctx)
	}
	if len(f.completeErrs) > 0 {
		err := f.completeErrs[0]
		f.completeErrs = f.completeErrs[1:]
		return err
	}
	return f.completeErr
}

// TestCompleteAfterALostAnswer: a completion tried again after the database did not answer
// (store.ErrUnavailable) and then found already written (store.ErrAlreadyCompleted) was written
// by the attempt whose answer was lost: Complete succeeds. The same answer to a first attempt is
// no such thing, and is reported.
func TestCompleteAfterALostAnswer(t *testing.T) {
	unavailable := fmt.Errorf("store: complete audit: %w", store.ErrUnavailable)
	already := fmt.Errorf("store: complete audit: %w", store.ErrAlreadyCompleted)
	for _, tt := range []struct {
		name      string
		errs      []error
		wantErr   error // nil for success
		wantCalls int
	}{
		{"written by the lost attempt", []error{unavailable, already}, nil, 2},
		{"written after an outage", []error{unavailable, unavailable, nil}, nil, 3},
		{"already completed at once", []error{already}, store.ErrAlreadyCompleted, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeAppender{completeErrs: tt.errs}
			p, err := NewRecorder(f, nil).Begin(context.Background(), alice, meta, ActionCredentialReset, "d.example", "", []string{"x@d.example"})
			if err != nil {
				t.Fatal(err)
			}
			err = p.Complete(context.Background(), nil)
			if tt.wantErr == nil && err != nil || tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("Complete = %v, want %v", err, tt.wantErr)
			}
			if f.completes != tt.wantCalls {
				t.Errorf("CompleteAudit called %d times, want %d", f.completes, tt.wantCalls)
			}
		})
	}
}

// TestCompleteReportsWriteFailure: a completion the database refused (not one it did not answer)
// is reported as the write's error, once: it is neither tried again nor handed to the late writes.
func TestCompleteReportsWriteFailure(t *testing.T) {
	f := &fakeAppender{completeErr: errors.New("disk full")}
	rec := NewRecorder(f, nil)
	p, err := rec.Begin(context.Background(), alice, meta, ActionCredentialCreate, "d.example", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Complete(context.Background(), nil); err == nil || !strings.Contains(err.Error(), "disk full") || IsLate(err) {
		t.Errorf("Complete = %v, want the write error, not tried again late", err)
	}
	rec.Close(context.Background())
	f.mu.Lock()
	defer f.mu.Unlock()
	if got, want := f.completes, 1; got != want {
		t.Errorf("CompleteAudit called %d times, want %d", got, want)
	}
}

func TestEvent(t *testing.T) {
	db := openDB(t)
	clk := newClock()
	rec := NewRecorder(db, clk.Now)
	if err := rec.Event(context.Background(), alice, meta, ActionAccessDenied, OutcomeDenied, "secret.example", "role viewer, needs operator"); err != nil {
		t.Fatalf("Event: %v", err)
	}
	e := onlyEntry(t, db)
	if e.Action != ActionAccessDenied || e.Outcome != OutcomeDenied || e.Domain != "secret.example" ||
		e.Detail != "role viewer, needs operator" || !e.Time.Equal(clk.Now()) || e.CompletedAt != nil {
		t.Errorf("event entry = %+v", e)
	}
}

// TestEventAfterRequestCanceled: the event has happened when it is recorded; a request whose
// browser went away (its context cancelled) still leaves its entry.
func TestEventAfterRequestCanceled(t *testing.T) {
	db := openDB(t)
	rec := NewRecorder(db, newClock().Now)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := rec.Event(ctx, alice, meta, ActionSignOut, OutcomeOK, "", ""); err != nil {
		t.Fatalf("Event on a canceled context: %v", err)
	}
	if got := onlyEntry(t, db).Action; got != ActionSignOut {
		t.Errorf("entry's action = %q, want %q", got, ActionSignOut)
	}
}

func TestRetention(t *testing.T) {
	db := openDB(t)
	clk := newClock()
	rec := NewRecorder(db, clk.Now)
	ctx := context.Background()
	for range 3 {
		p, err := rec.Begin(ctx, alice, meta, ActionCredentialCreate, "example.com", "", []string{"a@example.com"})
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Complete(ctx, nil); err != nil {
			t.Fatal(err)
		}
		clk.Add(24 * time.Hour)
	}
	// Now: day 3. Keep 36h: day 0 and day 1 are older than day 1.5.
	n, err := RetainOnce(ctx, db, 36*time.Hour, clk.Now, rec)
	if err != nil {
		t.Fatalf("RetainOnce: %v", err)
	}
	if n != 2 {
		t.Errorf("deleted %d, want 2", n)
	}
	es, err := db.ListAudit(ctx, store.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 2 || es[0].Action != ActionRetention || es[0].Outcome != OutcomeOK ||
		!strings.Contains(es[0].Detail, "deleted 2 entries") || es[1].Action != ActionCredentialCreate {
		t.Errorf("entries after retention = %+v", es)
	}
	if rep, err := db.VerifyAudit(ctx); err != nil || rep.BrokenAt != 0 {
		t.Errorf("VerifyAudit = %+v, %v", rep, err)
	}
	// A run with nothing to delete (the next hour's) leaves no entry: it is in the log only.
	clk.Add(time.Hour)
	if n, err := RetainOnce(ctx, db, 36*time.Hour, clk.Now, rec); n != 0 || err != nil {
		t.Errorf("RetainOnce with nothing old = %d, %v", n, err)
	}
	if es2, _ := db.ListAudit(ctx, store.AuditFilter{}); len(es2) != 2 {
		t.Errorf("entries after a run that deleted nothing = %d, want 2", len(es2))
	}
	// keep = 0: keep forever, nothing happens, nothing recorded.
	if n, err := RetainOnce(ctx, db, 0, clk.Now, rec); n != 0 || err != nil {
		t.Errorf("RetainOnce(keep 0) = %d, %v", n, err)
	}
	if es2, _ := db.ListAudit(ctx, store.AuditFilter{}); len(es2) != 2 {
		t.Errorf("entries after keep-forever run = %d, want 2", len(es2))
	}
}

type fakeRetainer struct {
	calls chan time.Time
	n     int64 // how many entries each call deletes
	err   error
}

func (f *fakeRetainer) DeleteAuditBefore(_ context.Context, t time.Time) (int64, error) {
	f.calls <- t
	return f.n, f.err
}

func TestRunRetention(t *testing.T) {
	t.Run("runs at start and stops with ctx", func(t *testing.T) {
		r := &fakeRetainer{calls: make(chan time.Time, 10), n: 3}
		f := &fakeAppender{}
		clk := newClock()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			RunRetention(ctx, r, time.Hour, time.Hour, clk.Now, NewRecorder(f, clk.Now), nil)
			close(done)
		}()
		if got, want := <-r.calls, clk.Now().Add(-time.Hour); !got.Equal(want) {
			t.Errorf("cutoff = %v, want %v", got, want)
		}
		cancel()
		<-done
		f.mu.Lock()
		defer f.mu.Unlock()
		if len(f.entries) != 1 || f.entries[0].Action != ActionRetention {
			t.Errorf("recorded = %+v, want one retention event", f.entries)
		}
	})
	t.Run("failure recorded as failed", func(t *testing.T) {
		r := &fakeRetainer{calls: make(chan time.Time, 1), err: errors.New("locked")}
		f := &fakeAppender{}
		_, err := RetainOnce(context.Background(), r, time.Hour, time.Now, NewRecorder(f, nil))
		if err == nil {
			t.Errorf("RetainOnce error = nil, want the delete error")
		}
		if len(f.entries) != 1 || f.entries[0].Outcome != OutcomeFailed {
			t.Errorf("recorded = %+v, want one failed retention event", f.entries)
		}
	})
	t.Run("failure after some batches counts what was deleted", func(t *testing.T) {
		// The store deletes in batches and keeps the batches done when a later one fails: the
		// trail's only record of those entries' removal is this run's entry.
		for _, deleted := range []int64{1, 2000} {
			r := &fakeRetainer{calls: make(chan time.Time, 1), n: deleted, err: errors.New("context deadline exceeded")}
			f := &fakeAppender{}
			n, err := RetainOnce(context.Background(), r, time.Hour, time.Now, NewRecorder(f, nil))
			if n != deleted || err == nil {
				t.Errorf("RetainOnce = %d, %v; want %d and the delete error", n, err, deleted)
			}
			if want := fmt.Sprintf("deleted %d entries", deleted); len(f.entries) != 1 || f.entries[0].Outcome != OutcomeFailed || !strings.Contains(f.entries[0].Detail, want) {
				t.Errorf("recorded = %+v, want one failed retention event counting the %d entries deleted", f.entries, deleted)
			}
		}
	})
	t.Run("a stop mid-run is no failure", func(t *testing.T) {
		// The process stopping (ctx cancelled) ends a long first run on a large trail: that is
		// no failure of retention. The trail still counts what was deleted, and the log has no
		// error for it.
		for _, deleted := range []int64{0, 2000} {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			r := &fakeRetainer{calls: make(chan time.Time, 1), n: deleted,
				err: fmt.Errorf("store: delete audit before: %w", context.Canceled)}
			f := &fakeAppender{}
			var logged strings.Builder
			logger := slog.New(slog.NewTextHandler(&logged, nil))
			RunRetention(ctx, r, time.Hour, time.Hour, time.Now, NewRecorder(f, nil), logger)
			if strings.Contains(logged.String(), "level=ERROR") {
				t.Errorf("deleted %d, then stopped: logged %q, want no error", deleted, logged.String())
			}
			switch {
			case deleted == 0 && len(f.entries) != 0:
				t.Errorf("nothing deleted, then stopped: recorded %+v, want nothing", f.entries)
			case deleted > 0 && (len(f.entries) != 1 || f.entries[0].Outcome != OutcomeOK ||
				!strings.Contains(f.entries[0].Detail, "deleted 2000 entries") || !strings.Contains(f.entries[0].Detail, "stopping")):
				t.Errorf("deleted %d, then stopped: recorded %+v, want one ok retention event counting them and saying it stopped", deleted, f.entries)
			}
		}
	})
	t.Run("keep forever returns at once", func(t *testing.T) {
		r := &fakeRetainer{calls: make(chan time.Time, 1)}
		RunRetention(context.Background(), r, 0, time.Hour, nil, nil, nil)
		if len(r.calls) != 0 {
			t.Errorf("DeleteAuditBefore called with keep = 0")
		}
	})
}

// TestNoPasswordInDatabase runs resets with an explicit password (one ok,
// one refused by Mailgun) and scans the database files for it.
func TestNoPasswordInDatabase(t *testing.T) {
	const key = "key-test-0123456789"
	const password = "Sup3r-Secret-Pw-4711"
	sb := sandbox.New(key, sandbox.WithDefaultSeed())
	srv := httptest.NewServer(sb)
	defer srv.Close()
	client, err := mailgun.NewClient(key, mailgun.WithBaseURL(srv.URL), mailgun.WithRetry(mailgun.RetryPolicy{MaxAttempts: 1}))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	db, err := store.Open(context.Background(), filepath.Join(dir, "scan.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rec := NewRecorder(db, nil)
	ctx := context.Background()
	for _, fault := range []sandbox.Faults{{}, {Rate: 1, Status: 400}} {
		sb.SetFaults(fault)
		p, err := rec.Begin(ctx, alice, meta, ActionCredentialReset, "example.com", "", []string{"user002@example.com"})
		if err != nil {
			t.Fatal(err)
		}
		_, callErr := client.ChangePassword(ctx, "example.com", "user002", password)
		if err := p.Complete(ctx, callErr); err != nil {
			t.Fatal(err)
		}
	}
	if es, _ := db.ListAudit(ctx, store.AuditFilter{}); len(es) != 2 {
		t.Fatalf("entries = %d, want 2", len(es))
	}
	files, _ := filepath.Glob(filepath.Join(dir, "scan.db*"))
	if len(files) == 0 {
		t.Fatal("no database files found")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), password) || strings.Contains(string(b), key) {
			t.Errorf("%s contains the password or API key", filepath.Base(f))
		}
	}
}

// TestTruncate: a text of at most n bytes is kept whole; a longer one is cut to at most n bytes,
// on a rune boundary, without the spaces before the cut, and marked.
func TestTruncate(t *testing.T) {
	for _, tt := range []struct {
		s    string
		n    int
		want string
	}{
		{"abcdefghij", 10, "abcdefghij"},
		{"abcdefghijk", 10, "abcdefg…"},
		{"abcd   efgh", 10, "abcd…"},
		{"aéééé", 7, "aé…"}, // the cut at byte 4 falls inside the second "é"
	} {
		if got := truncate(tt.s, tt.n); got != tt.want {
			t.Errorf("truncate(%q, %d) = %q, want %q", tt.s, tt.n, got, tt.want)
		}
	}
}

// TestPause: each wait doubles the next, up to the most; a context that has ended stops the wait
// at once, and no write is tried again.
func TestPause(t *testing.T) {
	wait := time.Nanosecond
	var got []time.Duration
	for range 3 {
		if !pause(context.Background(), &wait, 3*time.Nanosecond) {
			t.Fatalf("pause on a live context = false, want true")
		}
		got = append(got, wait)
	}
	if want := []time.Duration{2, 3, 3}; !slices.Equal(got, want) {
		t.Errorf("waits = %v, want %v", got, want)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	wait = time.Hour
	if pause(ctx, &wait, time.Hour) {
		t.Errorf("pause on an ended context = true, want false")
	}
}

// TestEventRecordsEveryField: an entry names the actor (issuer, subject, email, name), the
// request (id, client IP, user agent) and the logins, and bounds the user agent and the detail.
func TestEventRecordsEveryField(t *testing.T) {
	db := openDB(t)
	rec := NewRecorder(db, newClock().Now)
	m := Meta{RequestID: "req-7", ClientIP: "198.51.100.9", UserAgent: strings.Repeat("u", 2*MaxMessageLen)}
	detail := strings.Repeat("d", 3*MaxMessageLen)
	logins := []string{"a@example.com", "b@example.com"}
	if err := rec.Event(context.Background(), alice, m, ActionCredentialDelete, OutcomeFailed, "example.com", detail, logins...); err != nil {
		t.Fatalf("Event: %v", err)
	}
	e := onlyEntry(t, db)
	got := []string{e.ActorIssuer, e.ActorSubject, e.ActorEmail, e.ActorName, e.RequestID, e.ClientIP}
	want := []string{alice.Issuer, alice.Subject, alice.Email, alice.Name, m.RequestID, m.ClientIP}
	if !slices.Equal(got, want) {
		t.Errorf("actor and request = %q, want %q", got, want)
	}
	if want := strings.Repeat("u", MaxMessageLen-len("…")) + "…"; e.UserAgent != want {
		t.Errorf("user agent = %q (%d bytes), want %d bytes cut and marked", e.UserAgent, len(e.UserAgent), MaxMessageLen)
	}
	if want := strings.Repeat("d", 2*MaxMessageLen-len("…")) + "…"; e.Detail != want {
		t.Errorf("detail has %d bytes, want %d cut and marked", len(e.Detail), 2*MaxMessageLen)
	}
	if !slices.Equal(e.Logins, logins) {
		t.Errorf("logins = %q, want %q", e.Logins, logins)
	}
}

// TestLateCompletionAfterALostAnswer: a late write that finds the entry completed was preceded
// by an attempt whose answer the database did not give, which wrote it: the late write succeeds
// and logs it. It has lateRetry to do so.
func TestLateCompletionAfterALostAnswer(t *testing.T) {
	unavailable := fmt.Errorf("store: complete audit: %w", store.ErrUnavailable)
	already := fmt.Errorf("store: complete audit: %w", store.ErrAlreadyCompleted)
	var lateDeadline time.Time
	f := &fakeAppender{onComplete: func(ctx context.Context) error {
		// Complete's own attempts have rec.completeTimeout; the late ones far longer.
		if d, ok := ctx.Deadline(); ok && time.Until(d) > time.Minute {
			lateDeadline = d
			return already
		}
		return unavailable
	}}
	var logs testlog.Buffer
	rec := NewRecorder(f, nil)
	rec.completeTimeout = 50 * time.Millisecond
	rec.SetLogger(slog.New(slog.NewTextHandler(&logs, nil)))
	p, err := rec.Begin(context.Background(), alice, meta, ActionCredentialReset, "d.example", "", []string{"x@d.example"})
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	if err := p.Complete(context.Background(), nil); !IsLate(err) {
		t.Fatalf("Complete = %v, want a LateError", err)
	}
	rec.Close(context.Background())
	if got := logs.String(); !strings.Contains(got, "written late") || strings.Contains(got, "level=ERROR") {
		t.Errorf("log = %q; want the completion logged as written late, and no error", got)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if lateDeadline.Sub(before) < lateRetry {
		t.Errorf("the late write's deadline is %v after Complete began, want at least %v", lateDeadline.Sub(before), lateRetry)
	}
}

// TestAppendRetriesOnlyWhileUnavailable: an entry the database refused (not one it did not
// answer) is not written again, and Begin refuses the action with that error; one it did not
// answer is written once it answers, the first attempt with the caller's context, the next ones
// ending eventRetry after the first began.
func TestAppendRetriesOnlyWhileUnavailable(t *testing.T) {
	refused := errors.New("store: append audit: disk full")
	unavailable := fmt.Errorf("store: append audit: %w", store.ErrUnavailable)
	for _, tt := range []struct {
		name        string
		errs        []error
		wantErr     error
		wantAppends int
	}{
		{"refused", []error{refused}, refused, 1},
		{"not answered, then written", []error{unavailable, nil}, nil, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeAppender{appendErrs: tt.errs}
			before := time.Now()
			p, err := NewRecorder(f, nil).Begin(context.Background(), alice, meta, ActionCredentialReset, "d.example", "", []string{"x@d.example"})
			after := time.Now()
			if !errors.Is(err, tt.wantErr) || (err == nil) != (p != nil) {
				t.Errorf("Begin = %v, %v; want %v", p, err, tt.wantErr)
			}
			if len(f.appendDeadlines) != tt.wantAppends {
				t.Fatalf("AppendAudit called %d times, want %d", len(f.appendDeadlines), tt.wantAppends)
			}
			if d := f.appendDeadlines[0]; !d.IsZero() {
				t.Errorf("the first attempt's deadline = %v, want the caller's context's (none)", d)
			}
			for _, d := range f.appendDeadlines[1:] {
				if d.Before(before.Add(eventRetry)) || d.After(after.Add(eventRetry)) {
					t.Errorf("a later attempt's deadline = %v, want eventRetry after the first attempt (%v to %v)", d, before.Add(eventRetry), after.Add(eventRetry))
				}
			}
		})
	}
}

// TestEventGivesUpWhenTheDatabaseStaysDown: an event is written again while the database does not
// answer, until eventRetry after the first attempt, though its write does not end with the
// request's context: then it reports the outage.
func TestEventGivesUpWhenTheDatabaseStaysDown(t *testing.T) {
	f := &fakeAppender{appendErr: fmt.Errorf("store: append audit: %w", store.ErrUnavailable)}
	err := NewRecorder(f, nil).Event(context.Background(), alice, meta, ActionSignIn, OutcomeOK, "", "")
	if !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Event with the database down = %v, want store.ErrUnavailable", err)
	}
	if len(f.appendDeadlines) < 2 || len(f.entries) != 0 {
		t.Errorf("AppendAudit called %d times, %d entries written; want it tried again, nothing written", len(f.appendDeadlines), len(f.entries))
	}
}

// TestRetainOnce: what a retention run returns and records (an ok or failed entry, named for the
// retention job, counting the entries deleted, its cutoff in UTC), for each way a run ends; an
// entry it could not record fails a run that deleted, not one that failed already.
func TestRetainOnce(t *testing.T) {
	locked := errors.New("store: delete audit before: database is locked")
	stopped := fmt.Errorf("store: delete audit before: %w", context.Canceled)
	diskFull := errors.New("store: append audit: disk full")
	const cutoff = "2026-03-01T08:00:00Z" // the clock's 11:00 at UTC+2, less the hour kept
	for _, tt := range []struct {
		name      string
		ended     bool  // ctx ended (SMTP Desk stopping) during the run
		n         int64 // entries deleted
		delErr    error
		appendErr error
		noRec     bool
		wantErr   error  // matched with errors.Is; nil for none
		wantEntry string // outcome and detail; "" for no entry
	}{
		{name: "deleted some", n: 3, wantEntry: "ok deleted 3 entries older than " + cutoff},
		{name: "nothing to delete"},
		{name: "failed at once", delErr: locked, wantErr: locked,
			wantEntry: "failed deleting entries older than " + cutoff + " failed"},
		{name: "failed after a batch", n: 2, delErr: locked, wantErr: locked,
			wantEntry: "failed deleted 2 entries older than " + cutoff + ", then failed; the next run deletes the rest"},
		{name: "stopped at once", ended: true, delErr: stopped, wantErr: context.Canceled},
		{name: "stopped after a batch", ended: true, n: 4, delErr: stopped, wantErr: context.Canceled,
			wantEntry: "ok deleted 4 entries older than " + cutoff + ", then stopped as SMTP Desk was stopping; the next run deletes the rest"},
		{name: "deleted, not recorded", n: 3, appendErr: diskFull, wantErr: diskFull},
		{name: "failed, not recorded", delErr: locked, appendErr: diskFull, wantErr: locked},
		{name: "no recorder", n: 3, noRec: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			clk := testclock.New(time.Date(2026, 3, 1, 11, 0, 0, 0, time.FixedZone("UTC+2", 2*60*60)))
			f := &fakeAppender{appendErr: tt.appendErr}
			rec := NewRecorder(f, clk.Now)
			if tt.noRec {
				rec = nil
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.ended {
				cancel()
			}
			n, err := RetainOnce(ctx, &fakeRetainer{calls: make(chan time.Time, 1), n: tt.n, err: tt.delErr}, time.Hour, clk.Now, rec)
			if n != tt.n || !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Errorf("RetainOnce = %d, %v; want %d, %v", n, err, tt.n, tt.wantErr)
			}
			var got []string
			for _, e := range f.entries {
				got = append(got, e.Outcome+" "+e.Detail)
				if e.Action != ActionRetention || e.ActorIssuer != "smtpdesk" || e.ActorSubject != "retention" || e.ActorName != "retention job" {
					t.Errorf("entry %+v; want a retention entry by the retention job", e)
				}
			}
			var want []string
			if tt.wantEntry != "" {
				want = []string{tt.wantEntry}
			}
			if !slices.Equal(got, want) {
				t.Errorf("recorded %q, want %q", got, want)
			}
		})
	}
}

// TestRunRetentionDefaults: an interval of 0 means hourly and a nil clock time.Now; a nil logger
// and recorder are allowed.
func TestRunRetentionDefaults(t *testing.T) {
	r := &fakeRetainer{calls: make(chan time.Time, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // one run, then it returns
	before := time.Now()
	RunRetention(ctx, r, time.Hour, 0, nil, nil, nil)
	after := time.Now()
	if len(r.calls) != 1 {
		t.Fatalf("DeleteAuditBefore called %d times, want 1", len(r.calls))
	}
	if got := <-r.calls; got.Before(before.Add(-time.Hour)) || got.After(after.Add(-time.Hour)) {
		t.Errorf("cutoff = %v, want an hour before the run (between %v and %v)", got, before.Add(-time.Hour), after.Add(-time.Hour))
	}
}

// TestRunRetentionLogsAFailure: a run the database refused is logged as an error, and retried at
// the next interval (one that ctx ended is not an error: TestRunRetention).
func TestRunRetentionLogsAFailure(t *testing.T) {
	r := &fakeRetainer{calls: make(chan time.Time), err: errors.New("store: delete audit before: database is locked")}
	var logs testlog.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		RunRetention(ctx, r, time.Hour, time.Millisecond, nil, nil, slog.New(slog.NewTextHandler(&logs, nil)))
		close(done)
	}()
	// The second run begins after the first one's outcome was logged.
	<-r.calls
	<-r.calls
	cancel()
	for stopped := false; !stopped; {
		select {
		case <-r.calls:
		case <-done:
			stopped = true
		}
	}
	if got := logs.String(); !strings.Contains(got, `level=ERROR msg="audit retention failed"`) {
		t.Errorf("log = %q; want the failed run logged as an error", got)
	}
}
