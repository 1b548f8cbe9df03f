// Package audit records who did what to which SMTP login, in two steps: a
// pending entry written before the Mailgun call (if it cannot be written the
// caller refuses the action) and its completion afterwards, classified from
// the call's error as ok, failed or unknown. It adapts the store's audit
// chain for handlers and auth.
package audit

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/smtpdesk/smtpdesk/mailgun"
	"github.com/smtpdesk/smtpdesk/store"
)

// Actions recorded by SMTP Desk.
const (
	ActionCredentialCreate    = "credential.create"
	ActionCredentialReset     = "credential.reset"
	ActionCredentialDelete    = "credential.delete"
	ActionCredentialDeleteAll = "credential.delete_all"
	ActionSignIn              = "auth.sign_in"
	ActionSignOut             = "auth.sign_out"
	ActionSignInRefused       = "auth.sign_in_refused"
	ActionAccessDenied        = "access.denied"
	ActionRetention           = "audit.retention"
	ActionVerify              = "audit.verify"
	// ActionCredentialsExport is a download of a domain's current logins (CSV): one entry per
	// domain, for the export of every domain too, as an entry names one domain. It changes
	// nothing, so it is an event (ok, or failed when the file could not be produced).
	ActionCredentialsExport = "credentials.export"
	// ActionAuditExport is a download of the audit trail (CSV or JSON Lines), its filters in the
	// detail. It names no domain, as an integrity check does: only administrators see it.
	ActionAuditExport = "audit.export"
)

// ErrServerStopping is the cause a server gives its requests' contexts when its shutdown's grace
// period ends with them still running (cmd/web cancels their base context with it before it
// closes their connections; handlers.ErrServerStopping is the same error). A change cut off so
// is recorded as such (unknown, "cut off: the server was shutting down"), not as a dropped
// connection to Mailgun or a canceled request, which read as a network fault or a user who left.
var ErrServerStopping = errors.New("the server is stopping and cut off the requests still in flight")

// Outcomes, as stored.
const (
	OutcomePending = store.OutcomePending
	OutcomeOK      = store.OutcomeOK
	OutcomeFailed  = store.OutcomeFailed
	OutcomeUnknown = store.OutcomeUnknown
	OutcomeDenied  = store.OutcomeDenied
)

// MaxMessageLen bounds the upstream message kept in an entry, in bytes.
const MaxMessageLen = 500

// completeTimeout bounds the write of a completion, which runs on a context
// detached from the request's cancellation, its attempts included.
const completeTimeout = 5 * time.Second

// eventRetry is how long after its first attempt began an event that found the database not
// answering is written again (Event); each attempt keeps the store's deadline within it.
const eventRetry = completeTimeout

// completeRetry is the first wait before a completion (or an entry) that found the database not
// answering is written again; each wait doubles, up to retryMaxWait.
const (
	completeRetry = 100 * time.Millisecond
	retryMaxWait  = time.Second
)

// lateRetry is how long a completion the database did not answer within completeTimeout is
// tried again in the background, after the request has answered: Mailgun's answer is known, and
// an entry left pending reads as "outcome unknown" for good. Its waits start at lateWait and
// double up to lateMaxWait, so that an outage of minutes costs tens of attempts, not hundreds.
const (
	lateRetry   = 10 * time.Minute
	lateWait    = time.Second
	lateMaxWait = 15 * time.Second
)

// Appender is the part of *store.DB the recorder writes to.
type Appender interface {
	AppendAudit(ctx context.Context, e store.AuditEntry) (int64, error)
	AppendAuditAgain(ctx context.Context, e store.AuditEntry, lost *store.LostAnswerError) (int64, error)
	CompleteAudit(ctx context.Context, id int64, outcome string, status int, message string, at time.Time) error
}

// Actor is who acted: the signed-in user's identity.
type Actor struct {
	Issuer, Subject, Email, Name string
}

// Meta is what the request adds: its id, the client IP (after the
// trusted-proxy rule) and the user agent.
type Meta struct {
	RequestID, ClientIP, UserAgent string
}

// Recorder writes audit entries. It is safe for concurrent use. Close it before closing its
// database: it may be writing late completions (Pending.Complete).
type Recorder struct {
	db  Appender
	now func() time.Time
	log *slog.Logger
	// completeTimeout is completeTimeout; tests shorten it.
	completeTimeout time.Duration

	mu       sync.Mutex
	closed   bool
	late     sync.WaitGroup     // the late completions being written
	lateCtx  context.Context    // ends them: canceled by Close
	lateStop context.CancelFunc //
}

// NewRecorder returns a recorder writing to db; now is the clock (time.Now
// when nil). Its late completions are logged to slog's default logger until
// SetLogger names another.
func NewRecorder(db Appender, now func() time.Time) *Recorder {
	if now == nil {
		now = time.Now
	}
	ctx, stop := context.WithCancel(context.Background())
	return &Recorder{db: db, now: now, log: slog.Default(), completeTimeout: completeTimeout, lateCtx: ctx, lateStop: stop}
}

// SetLogger sets where the late completions' outcomes are logged. Call it before the recorder
// is used.
func (r *Recorder) SetLogger(l *slog.Logger) { r.log = l }

// Close ends the late completions (Pending.Complete): it waits for them until ctx ends, then
// stops those still waiting for the database, whose entries stay pending. Completions written
// after Close are not tried again late. It is safe to call more than once.
func (r *Recorder) Close(ctx context.Context) {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	stop := context.AfterFunc(ctx, r.lateStop)
	r.late.Wait()
	stop()
	r.lateStop()
}

// writeLate goes on writing entry id's completion in the background (write, with tried true),
// for up to lateRetry or until Close. It reports false, and starts nothing, after Close.
func (r *Recorder) writeLate(id int64, write func(ctx context.Context) error) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false
	}
	r.late.Add(1)
	go func() {
		defer r.late.Done()
		ctx, cancel := context.WithTimeout(r.lateCtx, lateRetry)
		defer cancel()
		if err := write(ctx); err != nil {
			r.log.Error("audit: the outcome of an action could not be written; its entry stays pending (outcome unknown)",
				"entry", id, "err", err)
			return
		}
		r.log.Info("audit: the outcome of an action was written late, once the database answered", "entry", id)
	}()
	return true
}

// Pending is an action recorded as pending and not yet completed.
type Pending struct {
	r    *Recorder
	id   int64
	once sync.Once
	// Note, when set before Complete, is recorded as the message of a successful outcome: what
	// Mailgun's answer said was done (delete-all's count, say), which the trail would not
	// otherwise hold.
	Note string
	// NotDone, when set before Complete with a nil error, records the entry as failed, with Note
	// as its message: Mailgun answered as if it had made the change, and SMTP Desk then found it
	// not made (a create none of whose logins the list, read again, has). "ok" would call it a
	// success, against the page ("No logins created") and the trail's "failed" filter.
	NotDone bool
}

// ID is the pending entry's id.
func (p *Pending) ID() int64 { return p.id }

// Begin records a pending action (a Mailgun change: ActionCredentialCreate,
// Reset, Delete or DeleteAll) before the Mailgun call. detail is what was
// asked for that the action's name and logins do not say (a create of system
// logins), "" for nothing: it is in the entry from the start, so the entry
// says it while pending, whatever the outcome, and if the completion is never
// written. If Begin returns an error the caller must refuse the action and
// send nothing to Mailgun.
//
// The entry is written as an event is (Event): again while the database does
// not answer, until eventRetry after the first attempt, and never twice: when
// an attempt's commit was not answered, the next one takes the attempt's row if
// it was written (the action then goes ahead on it) and writes the entry
// otherwise. Unlike an event's, the write ends with ctx: a request that went
// away refuses its action. When Begin gives up after an attempt whose answer was
// lost, that attempt's row may be in the trail, pending (its id is in the
// error): the action was refused, and nothing completes it.
func (r *Recorder) Begin(ctx context.Context, a Actor, m Meta, action, domain, detail string, logins []string) (*Pending, error) {
	id, err := r.append(ctx, r.entry(a, m, action, OutcomePending, domain, detail, logins))
	if err != nil {
		return nil, fmt.Errorf("audit: begin %s: %w", action, err)
	}
	return &Pending{r: r, id: id}, nil
}

// Complete records the outcome of the action from the Mailgun call's error:
// nil is ok; a *mailgun.Error with a 4xx (Mailgun refused) or a validation
// error (mailgun.ErrInvalidInput, nothing sent) or a call whose context had
// ended before it began (mailgun.ErrNotSent) is failed; a *mailgun.Error
// with a 5xx is unknown, keeping its status and message, since Mailgun may
// have applied the change before failing (a create's POST, a reset's PUT, a
// delete's or delete-all's DELETE alike: every action begun here is a Mailgun
// change); a *mailgun.TransportError, an unreadable answer or a context
// deadline/cancellation is unknown, since Mailgun may have applied the change
// without answering; so is a *mailgun.OutcomeUnknownError (Mailgun refused a
// retry after such an attempt), keeping the refusal's status and message. A
// call cut off by a shutdown (ErrServerStopping in err, or as ctx's cause: pass
// the request's context, not one detached from it) is unknown and says so. It
// writes on a context detached from ctx's cancellation (with a short timeout),
// so an action whose request timed out still gets its outcome. Only the first
// call of a Pending writes; later calls return nil. While the database does not answer (store.ErrUnavailable:
// a restart, a failover) the write is tried again until completeTimeout, as
// Mailgun has made the change by then and the outcome would otherwise be lost;
// store.ErrAlreadyCompleted after such an attempt means that attempt's answer
// was lost, not its write. A write failure is returned (the entry then stays
// pending, read as "outcome unknown"); when the database was still not
// answering, the write goes on in the background (for up to lateRetry, until
// Recorder.Close), and the error says so (IsLate).
func (p *Pending) Complete(ctx context.Context, err error) error {
	var werr error
	p.once.Do(func() {
		if errors.Is(err, context.Canceled) && errors.Is(context.Cause(ctx), ErrServerStopping) && !errors.Is(err, ErrServerStopping) {
			// The call's error says only that its context ended (a wait between retries, say);
			// the context says why: the shutdown cut it off, not the user.
			err = fmt.Errorf("%w (%w)", err, ErrServerStopping)
		}
		outcome, status, msg := Classify(err)
		if outcome == OutcomeOK && p.Note != "" {
			msg = p.Note
		}
		if outcome == OutcomeOK && p.NotDone {
			outcome = OutcomeFailed
		}
		msg = truncate(msg, MaxMessageLen)
		if outcome == OutcomeFailed && status >= 500 {
			// Mailgun's 5xx (after the client's retries, for a PUT or DELETE) does not say
			// that nothing changed: it may come after Mailgun applied the change. The user is
			// told the outcome is unknown, and so is the trail.
			outcome = OutcomeUnknown
		}
		at := p.r.now()
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.r.completeTimeout)
		defer cancel()
		e := p.write(wctx, false, completeRetry, retryMaxWait, outcome, status, msg, at)
		if e == nil {
			return
		}
		werr = fmt.Errorf("audit: complete %d: %w", p.id, e)
		if errors.Is(e, store.ErrUnavailable) && p.r.writeLate(p.id, func(ctx context.Context) error {
			return p.write(ctx, true, lateWait, lateMaxWait, outcome, status, msg, at)
		}) {
			werr = &LateError{err: werr}
		}
	})
	return werr
}

// LateError is Complete's error when the database did not answer in time and the completion
// goes on being written in the background: the entry is pending for now, perhaps not for good.
type LateError struct{ err error }

func (e *LateError) Error() string {
	return e.err.Error() + " (tried again in the background for up to " + lateRetry.String() + ")"
}

func (e *LateError) Unwrap() error { return e.err }

// IsLate reports whether err (Complete's) says the completion is being written late.
func IsLate(err error) bool {
	_, ok := errors.AsType[*LateError](err)
	return ok
}

// write writes the completion, again and again while the database does not answer, until ctx
// ends, waiting first wait between attempts and doubling it up to maxWait. An attempt whose
// error is store.ErrUnavailable may have been written (a commit whose answer was lost):
// CompleteAudit then says store.ErrAlreadyCompleted, as no one else completes this entry; tried
// says an earlier call made such an attempt.
func (p *Pending) write(ctx context.Context, tried bool, wait, maxWait time.Duration, outcome string, status int, msg string, at time.Time) error {
	for again := tried; ; again = true {
		err := p.r.db.CompleteAudit(ctx, p.id, outcome, status, msg, at)
		switch {
		case err == nil, again && errors.Is(err, store.ErrAlreadyCompleted):
			return nil
		case !errors.Is(err, store.ErrUnavailable), !pause(ctx, &wait, maxWait):
			return err
		}
	}
}

// pause waits *wait before a write that found the database not answering is tried again, and
// doubles *wait, up to maxWait. It reports false, at once, when ctx ends first.
func pause(ctx context.Context, wait *time.Duration, maxWait time.Duration) bool {
	t := time.NewTimer(*wait)
	defer t.Stop()
	*wait = min(2**wait, maxWait)
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// Classify maps the error of a Mailgun call to an outcome, the upstream
// status and a message safe to store (never a password or key: Mailgun's
// messages arrive redacted from the client; other errors get fixed text). Any
// *mailgun.Error is failed here; Complete then reads a 5xx on a change as
// unknown. A *mailgun.OutcomeUnknownError (a retry refused after an attempt
// whose outcome is unknown) is unknown, with the refusal's status and message.
func Classify(err error) (outcome string, status int, message string) {
	var mgErr *mailgun.Error
	var trErr *mailgun.TransportError
	var ouErr *mailgun.OutcomeUnknownError
	switch {
	case err == nil:
		return OutcomeOK, 0, ""
	case errors.As(err, &ouErr) && ouErr.Refusal != nil:
		// Mailgun refused a retry (a revoked key's 401, say) after an attempt that may have made
		// the change: the refusal's status and message are kept, and do not make it failed.
		r := ouErr.Refusal
		return OutcomeUnknown, r.StatusCode, truncate(cmp.Or(r.Message, http.StatusText(r.StatusCode)), MaxMessageLen)
	case errors.As(err, &mgErr):
		return OutcomeFailed, mgErr.StatusCode, truncate(mgErr.Message, MaxMessageLen)
	case errors.Is(err, mailgun.ErrInvalidInput):
		return OutcomeFailed, 0, "invalid input: nothing was sent to Mailgun"
	case errors.Is(err, mailgun.ErrNotSent):
		// Ahead of ErrServerStopping: the request ended (its user left, the server cut it off)
		// before the call began, so nothing changed.
		return OutcomeFailed, 0, "canceled before it was sent: nothing was sent to Mailgun"
	case errors.Is(err, ErrServerStopping):
		// Ahead of the transport error: the call got no answer because the shutdown ended it.
		return OutcomeUnknown, 0, "cut off: the server was shutting down"
	case errors.As(err, &trErr):
		if trErr.Timeout() {
			return OutcomeUnknown, 0, "no answer from Mailgun in time"
		}
		return OutcomeUnknown, 0, "no answer from Mailgun (connection failed or dropped)"
	case errors.Is(err, mailgun.ErrBadResponse):
		return OutcomeUnknown, 0, "Mailgun's answer could not be read"
	case errors.Is(err, context.DeadlineExceeded):
		return OutcomeUnknown, 0, "timed out"
	case errors.Is(err, context.Canceled):
		return OutcomeUnknown, 0, "request canceled"
	default:
		return OutcomeUnknown, 0, "unexpected error"
	}
}

// Event records a one-step event (sign-in, sign-out, refused sign-in, access
// denied, retention run, integrity check, export) with its final outcome,
// naming the logins it concerns (a refused reset's or delete's login), so that
// each login's history shows it.
// The event has happened by the time it is recorded, so the write is detached
// from ctx's cancellation (the store's own deadline bounds it): a browser that
// goes away mid-request must not take the entry with it (an access.denied entry
// also carries the count of the refusals held back before it).
//
// While the database does not answer (store.ErrUnavailable: a restart, a
// failover), the write is tried again, as Complete's is, until eventRetry after
// the event: an event written once was lost to an outage of a second. An
// attempt whose commit's answer was lost (store.LostAnswerError) may have been
// written; the next one looks for its row and writes the entry only if it is
// not there (store's AppendAuditAgain), so no event is in the trail twice.
func (r *Recorder) Event(ctx context.Context, a Actor, m Meta, action, outcome, domain, detail string, logins ...string) error {
	_, err := r.append(context.WithoutCancel(ctx), r.entry(a, m, action, outcome, domain, detail, logins))
	if err != nil {
		return fmt.Errorf("audit: event %s: %w", action, err)
	}
	return nil
}

// append appends e (Begin's pending entry, Event's event) and returns its id. While the database
// does not answer (store.ErrUnavailable) it tries again, until eventRetry after the first attempt
// or ctx's end: the first attempt has ctx and the store's deadline, the later ones end with
// eventRetry too. An attempt whose commit's answer was lost (store.LostAnswerError) may have been
// written: the next one returns that attempt's id if its row is there, and appends e only if not
// (store's AppendAuditAgain), so e is never in the trail twice.
func (r *Recorder) append(ctx context.Context, e store.AuditEntry) (int64, error) {
	retry, cancel := context.WithTimeout(ctx, eventRetry)
	defer cancel()
	var lost *store.LostAnswerError
	wait := completeRetry
	for actx := ctx; ; actx = retry {
		id, err := r.db.AppendAuditAgain(actx, e, lost)
		if err == nil {
			return id, nil
		}
		if l, ok := errors.AsType[*store.LostAnswerError](err); ok {
			lost = l
		}
		if !errors.Is(err, store.ErrUnavailable) || !pause(retry, &wait, retryMaxWait) {
			return 0, err
		}
	}
}

func (r *Recorder) entry(a Actor, m Meta, action, outcome, domain, detail string, logins []string) store.AuditEntry {
	return store.AuditEntry{
		Time:        r.now().UTC(),
		ActorIssuer: a.Issuer, ActorSubject: a.Subject, ActorEmail: a.Email, ActorName: a.Name,
		Action: action, Domain: domain, Logins: logins, Outcome: outcome,
		RequestID: m.RequestID, ClientIP: m.ClientIP, UserAgent: truncate(m.UserAgent, MaxMessageLen),
		Detail: truncate(detail, 2*MaxMessageLen),
	}
}

// truncate cuts s to at most n bytes on a rune boundary, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const mark = "…"
	cut := n - len(mark)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strings.TrimRight(s[:cut], " ") + mark
}
