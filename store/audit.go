package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Audit outcomes.
const (
	OutcomePending = "pending"
	OutcomeOK      = "ok"
	OutcomeFailed  = "failed"
	OutcomeUnknown = "unknown"
	OutcomeDenied  = "denied"
)

// Row kinds in audit_log: an entry (action or event) or the completion of an
// action.
const (
	kindEntry      = "entry"
	kindCompletion = "completion"
	// actionComplete is the action of completion rows.
	actionComplete = "complete"
)

// Audit list limits.
const (
	DefaultAuditLimit = 50
	MaxAuditLimit     = 1000
)

// ErrAlreadyCompleted is returned by CompleteAudit for an entry that already
// has a completion.
var ErrAlreadyCompleted = errors.New("store: audit entry already completed")

// AuditEntry is one logical entry of the audit trail: an action (written
// pending, then completed) or a one-step event. It has no field for a
// password, key or session id, by design.
type AuditEntry struct {
	ID                                               int64
	Time                                             time.Time
	ActorIssuer, ActorSubject, ActorEmail, ActorName string
	// Action is e.g. "credential.create", "credential.reset",
	// "credential.delete", "credential.delete_all", "auth.sign_in",
	// "auth.sign_out", "auth.sign_in_refused", "access.denied",
	// "audit.retention", "audit.verify", "credentials.export", "audit.export".
	Action string
	Domain string
	Logins []string
	// Outcome is "pending", "ok", "failed", "unknown" or "denied"; for a
	// completed action, the completion's outcome.
	Outcome         string
	UpstreamStatus  int
	UpstreamMessage string
	RequestID       string
	ClientIP        string
	UserAgent       string
	Detail          string
	// CompletedAt is when the action was completed; nil while pending and
	// for events.
	CompletedAt *time.Time
}

// AuditFilter selects audit entries. Zero fields do not filter.
type AuditFilter struct {
	// Domains is an allow-list: nil allows every domain, an empty non-nil
	// slice allows none (a user who may view no domain).
	Domains []string
	// AnyDomain keeps only the entries that name a domain, leaving out those of no domain
	// (sign-ins, integrity checks, retention): the scope of a user who may view every domain,
	// which an allow-list of every domain the trail names would give too, one query parameter
	// per domain, past the databases' limits on a long trail.
	AnyDomain bool
	Domain    string // exact
	Actor     string // case-insensitive substring of the actor's email or name, or their subject exactly
	Action    string // exact
	Outcome   string // exact, on the final outcome ("pending" while not completed)
	Login     string // entries naming this login, whatever its letter case
	From      time.Time
	To        time.Time // exclusive
	// Before is the keyset cursor: only entries with ID < Before.
	Before int64
	// After is the reverse keyset cursor: only entries with ID > After. ListAudit then returns
	// the Limit entries nearest After, the page just newer than one whose newest entry is After
	// (the audit page's "Newer entries"), still newest first; EachAudit takes it as a bound only.
	After int64
	// Limit caps the entries returned: ListAudit defaults to
	// DefaultAuditLimit and caps at MaxAuditLimit; EachAudit streams every
	// match when Limit <= 0.
	Limit int
}

// VerifyReport is the result of walking the audit chain.
type VerifyReport struct {
	Checked  int64  // rows checked
	BrokenAt int64  // id of the first broken row; 0 = intact
	Reason   string // why BrokenAt is broken
	// HeadID and HeadHash are the newest row's id and hash when the chain is intact (the
	// retention anchor's when no row is left; 0 and "" for an empty trail). A chain cannot show
	// that rows were cut from its end: a head written down earlier can, since the same id must
	// keep the same hash and the head can only move forward.
	HeadID   int64
	HeadHash string
	// OldestID and OldestAt are the oldest row's id and time when the chain is intact (0 and
	// the zero time for an empty trail), and Trimmed says whether retention removed rows before
	// it. Rows cut from the start together with a forged retention anchor leave an intact chain
	// too: the oldest row can only move on as far as the retention setting allows.
	OldestID int64
	OldestAt time.Time
	Trimmed  bool
}

// auditRow is one physical row of audit_log: the hashed content.
type auditRow struct {
	id                                               int64
	kind                                             string
	time                                             int64
	actorIssuer, actorSubject, actorEmail, actorName string
	action, domain, logins, outcome                  string
	upstreamStatus                                   int64
	upstreamMessage                                  string
	requestID, clientIP, userAgent, detail           string
	refID                                            int64 // 0 = none
	prevHash                                         string
	hash                                             string // not hashed: set by appendRow
}

// hashRow computes hex(SHA-256(prev_hash || canonical content)). Each field is
// written as its decimal byte length, ':', the bytes and ';', so no two
// different rows encode the same.
func hashRow(r *auditRow) string {
	h := sha256.New()
	var buf []byte
	buf = append(buf, r.prevHash...)
	buf = append(buf, "|smtpdesk-audit-v1|"...)
	field := func(s string) {
		buf = strconv.AppendInt(buf, int64(len(s)), 10)
		buf = append(buf, ':')
		buf = append(buf, s...)
		buf = append(buf, ';')
	}
	num := func(n int64) { field(strconv.FormatInt(n, 10)) }
	num(r.id)
	field(r.kind)
	num(r.time)
	field(r.actorIssuer)
	field(r.actorSubject)
	field(r.actorEmail)
	field(r.actorName)
	field(r.action)
	field(r.domain)
	field(r.logins)
	field(r.outcome)
	num(r.upstreamStatus)
	field(r.upstreamMessage)
	field(r.requestID)
	field(r.clientIP)
	field(r.userAgent)
	field(r.detail)
	num(r.refID)
	h.Write(buf)
	return hex.EncodeToString(h.Sum(nil))
}

// encodeLogins is the stored (and hashed) form of an entry's logins.
func encodeLogins(logins []string) (string, error) {
	if len(logins) == 0 {
		return "[]", nil
	}
	b, err := json.Marshal(logins)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// chainHead returns the id and hash the next row links to: the newest row,
// else the retention anchor, else (0, ""). The caller holds the chain lock.
func (t *tx) chainHead(ctx context.Context) (int64, string, error) {
	var id int64
	var hash string
	err := t.queryRow(ctx, "SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1").Scan(&id, &hash)
	if err == nil {
		return id, hash, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return 0, "", fmt.Errorf("read chain head: %w", err)
	}
	err = t.queryRow(ctx, "SELECT last_id, hash FROM audit_anchor WHERE one = 1").Scan(&id, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, "", nil
	}
	if err != nil {
		return 0, "", fmt.Errorf("read chain anchor: %w", err)
	}
	return id, hash, nil
}

// appendRow links r to the chain head, assigns its id and inserts it. The
// caller holds the chain lock.
func (t *tx) appendRow(ctx context.Context, r *auditRow) error {
	lastID, lastHash, err := t.chainHead(ctx)
	if err != nil {
		return err
	}
	r.id, r.prevHash = lastID+1, lastHash
	hash := hashRow(r)
	r.hash = hash
	var ref any
	if r.refID != 0 {
		ref = r.refID
	}
	_, err = t.exec(ctx, `INSERT INTO audit_log (id, kind, time, actor_issuer, actor_subject, actor_email,
		actor_name, action, domain, logins, outcome, upstream_status, upstream_message, request_id, client_ip,
		user_agent, detail, ref_id, prev_hash, hash, actor_fold)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.id, r.kind, r.time, r.actorIssuer, r.actorSubject, r.actorEmail, r.actorName, r.action, r.domain,
		r.logins, r.outcome, r.upstreamStatus, r.upstreamMessage, r.requestID, r.clientIP, r.userAgent,
		r.detail, ref, r.prevHash, hash, foldActor(r.actorEmail, r.actorName))
	if err != nil {
		return fmt.Errorf("insert audit row: %w", err)
	}
	return nil
}

// loginsPerInsert is how many audit_logins rows one INSERT writes: 1,000 rows are 2,000
// parameters, within both databases' limits (SQLite 32,766, PostgreSQL 65,535).
const loginsPerInsert = 1000

// AppendAudit appends an entry to the chain (a pending action or a finished
// event) and returns its id. e.ID and e.CompletedAt are ignored.
func (db *DB) AppendAudit(ctx context.Context, e AuditEntry) (int64, error) {
	return db.AppendAuditAgain(ctx, e, nil)
}

// LostAnswerError is matched (errors.As) by AppendAudit's error when the entry was sent to be
// committed and the commit failed. Most often no answer came, the connection being ended or cut
// meanwhile (the error matches ErrUnavailable then) or a deadline passing, so the entry may have
// been written, or not. AppendAuditAgain tells.
type LostAnswerError struct {
	// ID is the id the entry has if it was written.
	ID   int64
	hash string // the row's hash: the same id with another hash is another entry
	err  error
}

func (e *LostAnswerError) Error() string {
	return fmt.Sprintf("audit entry %d may or may not have been written: %v", e.ID, e.err)
}

func (e *LostAnswerError) Unwrap() error { return e.err }

// AppendAuditAgain is AppendAudit for an entry whose earlier attempt failed with lost (a
// *LostAnswerError; nil for none): it returns the id of that attempt's row when the attempt was
// written, and appends the entry otherwise, so that an entry written again after an outage is not
// in the trail twice. It looks under the chain's lock, which the attempt's transaction held until
// it was committed or rolled back, so the attempt cannot land after the look.
func (db *DB) AppendAuditAgain(ctx context.Context, e AuditEntry, lost *LostAnswerError) (int64, error) {
	if e.Time.IsZero() || e.Action == "" || e.Outcome == "" {
		return 0, errors.New("store: append audit: time, action and outcome are required")
	}
	e = e.storable()
	logins, err := encodeLogins(e.Logins)
	if err != nil {
		return 0, fmt.Errorf("store: append audit: %w", err)
	}
	r := &auditRow{
		kind: kindEntry, time: nanos(e.Time),
		actorIssuer: e.ActorIssuer, actorSubject: e.ActorSubject, actorEmail: e.ActorEmail, actorName: e.ActorName,
		action: e.Action, domain: e.Domain, logins: logins, outcome: e.Outcome,
		upstreamStatus: int64(e.UpstreamStatus), upstreamMessage: e.UpstreamMessage,
		requestID: e.RequestID, clientIP: e.ClientIP, userAgent: e.UserAgent, detail: e.Detail,
	}
	written := false
	err = db.op(ctx, func(ctx context.Context) error {
		err := db.writeTx(ctx, func(t *tx) error {
			if err := t.pgLock(ctx, lockAudit); err != nil {
				return err
			}
			if lost != nil {
				var hash string
				err := t.queryRow(ctx, "SELECT hash FROM audit_log WHERE id = ?", lost.ID).Scan(&hash)
				if err != nil && !errors.Is(err, sql.ErrNoRows) {
					return fmt.Errorf("look for the lost attempt's row: %w", err)
				}
				if written = err == nil && hash == lost.hash; written {
					return nil
				}
			}
			if err := t.appendRow(ctx, r); err != nil {
				return err
			}
			// Many rows per statement: a delete-all names every login of a domain, and the
			// audit lock is held meanwhile.
			folded := foldLogins(e.Logins)
			for len(folded) > 0 {
				n := min(len(folded), loginsPerInsert)
				args := make([]any, 0, 2*n)
				for _, l := range folded[:n] {
					args = append(args, r.id, l)
				}
				q := "INSERT INTO audit_logins (entry_id, login) VALUES " + marks("(?, ?)", n)
				if _, err := t.exec(ctx, q, args...); err != nil {
					return fmt.Errorf("insert audit logins: %w", err)
				}
				folded = folded[n:]
			}
			return nil
		})
		if written {
			// The lost attempt's row was seen under the lock: it is in the trail, whatever
			// became of this transaction's commit, which wrote nothing. (A lost answer to it
			// named no row of its own: the next attempt appended the entry a second time.)
			return nil
		}
		if _, ok := errors.AsType[*commitError](err); ok {
			return &LostAnswerError{ID: r.id, hash: r.hash, err: err}
		}
		return err
	})
	switch {
	case err != nil:
		return 0, fmt.Errorf("store: append audit: %w", err)
	case written:
		return lost.ID, nil
	}
	return r.id, nil
}

// storable returns e with every text field as both databases can hold it (storableText). The
// entry is hashed as stored, so VerifyAudit checks what was written.
func (e AuditEntry) storable() AuditEntry {
	for _, f := range []*string{&e.ActorIssuer, &e.ActorSubject, &e.ActorEmail, &e.ActorName, &e.Action,
		&e.Domain, &e.Outcome, &e.UpstreamMessage, &e.RequestID, &e.ClientIP, &e.UserAgent, &e.Detail} {
		*f = storableText(*f)
	}
	if slices.ContainsFunc(e.Logins, func(l string) bool { return storableText(l) != l }) {
		logins := make([]string, len(e.Logins))
		for i, l := range e.Logins {
			logins[i] = storableText(l)
		}
		e.Logins = logins
	}
	return e
}

// storableText returns s with each invalid UTF-8 sequence and each NUL byte replaced by U+FFFD.
// PostgreSQL refuses both in a TEXT column (SQLite keeps them), and an entry's fields come from
// outside: a User-Agent header, the IdP's claims, a path segment, an upstream message. Refusing
// the entry would lose the record of the action, so the bytes that cannot be stored are marked
// instead.
func storableText(s string) string {
	if utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// foldLogins returns the logins as the login filter looks them up: folded by foldLogin, each
// once. The entry itself keeps them as they were written.
func foldLogins(ss []string) []string {
	seen := make(map[string]bool, len(ss))
	out := ss[:0:0]
	for _, s := range ss {
		s = foldLogin(s)
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// foldLogin is a login's key in audit_logins. Mailgun matches logins without regard to case
// (the sandbox, as Mailgun, finds Alice@acme.example when asked for alice@acme.example), so an
// action on either spelling is the same credential's history. It is folded in Go, not with
// SQL's LOWER, which folds only ASCII in SQLite.
func foldLogin(s string) string { return strings.ToLower(s) }

// CompleteAudit records the outcome of the action entry id: it appends a
// completion row (hashed, in the chain) and copies outcome, status, message
// and time into the entry's final_* columns for queries. It returns
// ErrNotFound for an unknown id and ErrAlreadyCompleted when the entry was
// completed before.
func (db *DB) CompleteAudit(ctx context.Context, id int64, outcome string, status int, message string, at time.Time) error {
	if outcome == "" || outcome == OutcomePending {
		return fmt.Errorf("store: complete audit %d: invalid outcome %q", id, outcome)
	}
	if at.IsZero() {
		return fmt.Errorf("store: complete audit %d: zero time", id)
	}
	message = storableText(message)
	err := db.op(ctx, func(ctx context.Context) error {
		return db.writeTx(ctx, func(t *tx) error {
			if err := t.pgLock(ctx, lockAudit); err != nil {
				return err
			}
			var kind string
			var completed sql.NullInt64
			err := t.queryRow(ctx, "SELECT kind, completed_at FROM audit_log WHERE id = ?", id).Scan(&kind, &completed)
			if errors.Is(err, sql.ErrNoRows) || (err == nil && kind != kindEntry) {
				return ErrNotFound
			}
			if err != nil {
				return fmt.Errorf("read entry: %w", err)
			}
			if completed.Valid {
				return ErrAlreadyCompleted
			}
			r := &auditRow{
				kind: kindCompletion, time: nanos(at), action: actionComplete, logins: "[]",
				outcome: outcome, upstreamStatus: int64(status), upstreamMessage: message, refID: id,
			}
			if err := t.appendRow(ctx, r); err != nil {
				return err
			}
			if _, err := t.exec(ctx, `UPDATE audit_log SET final_outcome = ?, final_status = ?, final_message = ?,
				completed_at = ? WHERE id = ?`, outcome, status, message, r.time, id); err != nil {
				return fmt.Errorf("update entry: %w", err)
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("store: complete audit %d: %w", id, err)
	}
	return nil
}

// The queries of LastOK and NewestOKMarked. Both read one action's entries on one domain through
// audit_entry_domain_action (migration 0006); TestDomainActionQueriesUseTheirIndex checks
// SQLite's plan.
const (
	sqlLastOK = `SELECT l.login, MAX(a.time) FROM audit_log a
		JOIN audit_logins l ON l.entry_id = a.id
		WHERE a.kind = 'entry' AND a.domain = ? AND a.action = ? AND a.final_outcome = ?
		GROUP BY l.login`
	sqlNewestOKMarked = `SELECT n.login, a.time, COALESCE(a.completed_at, a.time)
		FROM (SELECT l.login AS login, MAX(a.id) AS id FROM audit_log a
			JOIN audit_logins l ON l.entry_id = a.id
			WHERE a.kind = 'entry' AND a.domain = ? AND a.action = ? AND a.final_outcome = ?
			GROUP BY l.login) n
		JOIN audit_log a ON a.id = n.id
		WHERE a.detail = ? OR a.detail LIKE ? ESCAPE '!' OR (a.detail = '' AND a.final_message LIKE ? ESCAPE '!')`

	// The actions whose entries retention keeps the newest of, per login (sqlRetain).
	retainedReset, retainedCreate = "credential.reset", "credential.create"

	// What retention kept of removed entries (audit_retained, migration 0007), read by its
	// primary key. A kept entry of a login counts for NewestOKMarked only when the trail has no
	// newer one of it (kept entries are older than every entry left): a login created again
	// since, without the mark, is not a system login any more.
	sqlRetainedOK     = `SELECT login, time FROM audit_retained WHERE domain = ? AND action = ?`
	sqlRetainedMarked = `SELECT k.login, k.time, k.completed_at FROM audit_retained k
		WHERE k.domain = ? AND k.action = ?
		AND (k.detail = ? OR k.detail LIKE ? ESCAPE '!' OR (k.detail = '' AND k.final_message LIKE ? ESCAPE '!'))
		AND NOT EXISTS (SELECT 1 FROM audit_logins l JOIN audit_log a ON a.id = l.entry_id
			WHERE l.login = k.login AND a.kind = 'entry' AND a.domain = k.domain AND a.action = k.action AND a.final_outcome = ?)`

	// sqlRetain copies into audit_retained, for each domain and login, the newest entry of a
	// reset and of a create below an id (the part of the trail retention is about to remove)
	// that completed OK, unless audit_retained holds a newer one already: what LastOK and
	// NewestOKMarked are asked about (retainedReset, retainedCreate), nothing else. A reset keeps
	// its time alone, the newest of its entries' (LastOK reads MAX(time), and two replicas' ids
	// and times may disagree by a moment); a create keeps its newest entry's detail and message,
	// which say whether it asked for system logins.
	sqlRetain = `INSERT INTO audit_retained (domain, action, login, entry_id, time, detail, final_message, completed_at)
		SELECT a.domain, a.action, n.login, a.id, CASE WHEN a.action = '` + retainedReset + `' THEN n.t ELSE a.time END,
			CASE WHEN a.action = '` + retainedCreate + `' THEN a.detail ELSE '' END,
			CASE WHEN a.action = '` + retainedCreate + `' THEN COALESCE(a.final_message, '') ELSE '' END,
			COALESCE(a.completed_at, a.time)
		FROM (SELECT a.domain AS domain, a.action AS action, l.login AS login, MAX(a.id) AS id, MAX(a.time) AS t FROM audit_log a
			JOIN audit_logins l ON l.entry_id = a.id
			WHERE a.kind = 'entry' AND a.id >= ? AND a.id < ? AND l.entry_id >= ? AND l.entry_id < ? AND a.action IN ('` + retainedReset + `', '` + retainedCreate + `') AND a.final_outcome = ?
			GROUP BY a.domain, a.action, l.login) n
		JOIN audit_log a ON a.id = n.id
		WHERE TRUE
		ON CONFLICT (domain, action, login) DO UPDATE SET entry_id = excluded.entry_id,
			time = CASE WHEN excluded.action = '` + retainedReset + `' AND audit_retained.time > excluded.time THEN audit_retained.time ELSE excluded.time END,
			detail = excluded.detail, final_message = excluded.final_message, completed_at = excluded.completed_at
		WHERE audit_retained.entry_id < excluded.entry_id`

	// sqlForgetDeleted removes from audit_retained the logins that a delete, or a delete all,
	// below the same id removed since (completed OK, after the kept entry): nothing reads
	// what is kept of a login that is gone, and it is not kept past retention for nothing. A
	// login made again later is a new login, which its own entries speak for. It starts from
	// the batch's deletes (the rows below the id are the batch's alone, earlier ones gone), and
	// "l.entry_id < ?" lets PostgreSQL read audit_logins by its key rather than whole: each
	// batch's cost grew with the kept rows and the trail. Its parameters are the batch's bounds
	// (deleteAuditBatch), twice.
	sqlForgetDeleted = `DELETE FROM audit_retained WHERE (domain, login) IN (` + sqlBatchDeletes + `)
		AND entry_id < (SELECT MAX(a.id) FROM audit_log a JOIN audit_logins l ON l.entry_id = a.id
			WHERE a.kind = 'entry' AND a.id >= ? AND a.id < ? AND l.entry_id >= ? AND l.entry_id < ? AND a.action IN ('credential.delete', 'credential.delete_all')
				AND a.final_outcome = ? AND a.domain = audit_retained.domain AND l.login = audit_retained.login)`
	sqlBatchDeletes = `SELECT a.domain, l.login FROM audit_log a JOIN audit_logins l ON l.entry_id = a.id
		WHERE a.kind = 'entry' AND a.id >= ? AND a.id < ? AND l.entry_id >= ? AND l.entry_id < ? AND a.action IN ('credential.delete', 'credential.delete_all') AND a.final_outcome = ?`

	// sqlBatchKept is what audit_retained holds of the logins a batch's entries can change
	// (its resets, creates, deletes): the rows whose digest the batch moves the anchor's by.
	sqlBatchKept = `SELECT domain, action, login, entry_id, time, detail, final_message, completed_at FROM audit_retained
		WHERE (domain, login) IN (SELECT a.domain, l.login FROM audit_log a JOIN audit_logins l ON l.entry_id = a.id
			WHERE a.kind = 'entry' AND a.id >= ? AND a.id < ? AND l.entry_id >= ? AND l.entry_id < ? AND a.final_outcome = ?
				AND a.action IN ('` + retainedReset + `', '` + retainedCreate + `', 'credential.delete', 'credential.delete_all'))`

	// sqlAllKept is the whole of audit_retained, which VerifyAudit digests.
	sqlAllKept = `SELECT domain, action, login, entry_id, time, detail, final_message, completed_at FROM audit_retained`
)

// LastOK returns, for each login of domain that an entry of action names and that completed
// with outcome OK, the time of the newest such entry, keyed by the login as the trail keeps it
// (lower case). SMTP Desk uses it for when it last set a login's password (action
// credential.reset): Mailgun keeps no such date. Entries that retention removed count through
// what it kept of them (audit_retained).
func (db *DB) LastOK(ctx context.Context, domain, action string) (map[string]time.Time, error) {
	out := map[string]time.Time{}
	read := func(ctx context.Context, q string, args ...any) error {
		rows, err := db.query(ctx, db.rebind(q), args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var login string
			var at int64
			if err := rows.Scan(&login, &at); err != nil {
				return err
			}
			if t := fromNanos(at); t.After(out[login]) {
				out[login] = t
			}
		}
		return rows.Err()
	}
	err := db.op(ctx, func(ctx context.Context) error {
		if err := read(ctx, sqlLastOK, strings.ToLower(domain), action, OutcomeOK); err != nil {
			return err
		}
		return read(ctx, sqlRetainedOK, strings.ToLower(domain), action)
	})
	if err != nil {
		return nil, fmt.Errorf("store: last ok %s in %s: %w", action, domain, err)
	}
	return out, nil
}

// MarkedOK is when the newest successful entry of a login (NewestOKMarked) was written, and when
// its action completed.
type MarkedOK struct {
	At, Completed time.Time
}

// NewestOKMarked returns the logins of domain whose newest entry of action that completed with
// outcome OK is marked: its detail is marker, or marker followed by a space and more (a create
// of system logins goes on to say how its passwords were chosen), or, in an entry written before
// the detail held it, its completion's message begins with marker. Keyed by the login as the trail keeps it (lower
// case), with when that entry was written and completed. SMTP Desk uses it for the logins it
// created as system logins (action credential.create): Mailgun's list does not say which logins
// are. The newest entry per login is picked in the query, so that only the marked logins come
// back, however many creates the domain had. A login whose entries retention removed counts
// through what it kept of the newest (audit_retained), when the trail has no newer one.
func (db *DB) NewestOKMarked(ctx context.Context, domain, action, marker string) (map[string]MarkedOK, error) {
	out := map[string]MarkedOK{}
	read := func(ctx context.Context, q string, args ...any) error {
		rows, err := db.query(ctx, db.rebind(q), args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var login string
			var at, done int64
			if err := rows.Scan(&login, &at, &done); err != nil {
				return err
			}
			if _, newer := out[login]; !newer {
				out[login] = MarkedOK{At: fromNanos(at), Completed: fromNanos(done)}
			}
		}
		return rows.Err()
	}
	d, like := strings.ToLower(domain), escapeLike(marker)
	err := db.op(ctx, func(ctx context.Context) error {
		if err := read(ctx, sqlNewestOKMarked, d, action, OutcomeOK, marker, like+" %", like+"%"); err != nil {
			return err
		}
		return read(ctx, sqlRetainedMarked, d, action, marker, like+" %", like+"%", OutcomeOK)
	})
	if err != nil {
		return nil, fmt.Errorf("store: newest marked %s in %s: %w", action, domain, err)
	}
	return out, nil
}

// AuditDomains returns every domain that an entry of the trail other than a refusal
// (access.denied) names, sorted, without the empty domain of sign-ins and other events of no
// domain. The audit page offers them in its domain filter without asking Mailgun, whose domain
// list leaves out domains that were removed but whose history remains.
//
// A refusal names the domain of the refused URL, which any signed-in user chooses: tens of
// thousands of made-up names a day, each a step of this walk, made every view of the audit page
// slower until it ran out of the store's deadline. Those names are left out; the refusals
// themselves are not (ListAudit finds them by domain, actor or action). An entry of any other
// action on a domain is written only for a user the policy lets act on it.
//
// It walks the audit_entry_domain_acted index one domain at a time (a loose index scan), so its
// cost grows with the number of those domains, not of entries or refusals.
func (db *DB) AuditDomains(ctx context.Context) ([]string, error) {
	var out []string
	err := db.op(ctx, func(ctx context.Context) error {
		// Each step repeats the index's predicate word for word, so that both databases use it.
		rows, err := db.query(ctx, `WITH RECURSIVE d(domain) AS (
			SELECT MIN(domain) FROM audit_log WHERE kind = 'entry' AND action <> 'access.denied' AND domain > ''
			UNION ALL
			SELECT (SELECT MIN(a.domain) FROM audit_log a
				WHERE a.kind = 'entry' AND a.action <> 'access.denied' AND a.domain > d.domain)
			FROM d WHERE d.domain IS NOT NULL
		) SELECT domain FROM d WHERE domain IS NOT NULL`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var d string
			if err := rows.Scan(&d); err != nil {
				return err
			}
			out = append(out, d)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("store: audit domains: %w", err)
	}
	return out, nil
}

const entryColumns = `id, time, actor_issuer, actor_subject, actor_email, actor_name, action, domain, logins,
	outcome, upstream_status, upstream_message, request_id, client_ip, user_agent, detail,
	final_outcome, final_status, final_message, completed_at`

// auditQuery builds the SELECT for f, newest first, or oldest first when oldestFirst (the limit
// entries nearest f.After). ok is false when the filter can match nothing (an empty Domains
// allow-list).
//
// walk is set for the batches of a walk through every match (EachAudit): its date bounds are
// then written so that no database answers them from audit_entry_time, which finds a range's
// entries in time order, not by id. A page of a date range read through it sorts every entry of
// the range below its cursor to keep the newest few, which is right for one page of a short
// range, but a walk did it again for each batch, a cost that grows with the square of the
// range: an export of 90 days of a trail of 1,000,000 entries took over 2 minutes on SQLite and
// 40 s on PostgreSQL (the whole trail, 7 s and 4 s). Read by id, from the cursor down, the walk
// reads each entry once (1.1 s and 0.6 s; docs/BENCHMARKS.md), between the range's first and
// last ids (walkRange), not the whole trail around it.
func (db *DB) auditQuery(f AuditFilter, limit int, oldestFirst, walk bool) (q string, args []any, ok bool) {
	var where []string
	where = append(where, "kind = 'entry'")
	if f.Domains != nil {
		if len(f.Domains) == 0 {
			return "", nil, false
		}
		where = append(where, "domain IN ("+marks("?", len(f.Domains))+")")
		for _, d := range f.Domains {
			args = append(args, d)
		}
	}
	if f.AnyDomain {
		where = append(where, "domain <> ''")
	}
	if f.Domain != "" {
		where = append(where, "domain = ?")
		args = append(args, f.Domain)
	}
	if f.Actor != "" {
		// The subject too: the audit page names an actor whose provider sends neither e-mail nor
		// name by it.
		patterns := actorPatterns(f.Actor)
		where = append(where, "("+strings.Repeat("actor_fold LIKE ? ESCAPE '!' OR ", len(patterns))+"actor_subject = ?)")
		for _, p := range patterns {
			args = append(args, "%"+p+"%")
		}
		args = append(args, f.Actor)
	}
	if f.Action != "" {
		where = append(where, "action = ?")
		args = append(args, f.Action)
	}
	if f.Outcome != "" {
		where = append(where, "COALESCE(final_outcome, outcome) = ?")
		args = append(args, f.Outcome)
	}
	if f.Login != "" {
		where = append(where, "id IN (SELECT entry_id FROM audit_logins WHERE login = ?)")
		args = append(args, foldLogin(f.Login))
	}
	timeCol := "time"
	if walk {
		timeCol = "time + 0" // an expression: no index has it
	}
	if !f.From.IsZero() {
		where = append(where, timeCol+" >= ?")
		args = append(args, nanos(f.From))
	}
	if !f.To.IsZero() {
		where = append(where, timeCol+" < ?")
		args = append(args, nanos(f.To))
	}
	if f.Before > 0 {
		where = append(where, "id < ?")
		args = append(args, f.Before)
	}
	if f.After > 0 {
		where = append(where, "id > ?")
		args = append(args, f.After)
	}
	order := " ORDER BY id DESC"
	if oldestFirst {
		order = " ORDER BY id ASC"
	}
	q = "SELECT " + entryColumns + " FROM audit_log WHERE " + strings.Join(where, " AND ") + order
	if limit > 0 {
		q += " LIMIT " + strconv.Itoa(limit)
	}
	return db.rebind(q), args, true
}

// actorPatterns are the LIKE patterns (without their surrounding %) that find the actor filter
// text in actor_fold (foldActor: strings.ToLower). Lower-casing is not a case fold, and Greek,
// where a word's last sigma is written ς, shows it in every other name: ΜΑΡΚΟΣ lowers to μαρκοσ
// and Μαρκος to μαρκος. So each sigma of the filter is looked for in both forms: one pattern for
// each way of writing them (past maxSigmas sigmas, the rest match any one character, LIKE's _).
// The rows keep their fold, which a migration would otherwise rewrite on every row of the trail.
// The other letters with two lower-case forms are symbol variants (ϐ, ϑ, ϰ, ſ …) and old
// Cyrillic forms that names do not use, left as they are.
func actorPatterns(actor string) []string {
	// escapeLike leaves the sigmas as they are: the text is escaped once, then spelt both ways.
	rest := escapeLike(strings.ToLower(actor))
	patterns := []string{""}
	for sigmas := 1; ; sigmas++ {
		i := strings.IndexAny(rest, "σς")
		if i < 0 {
			for j := range patterns {
				patterns[j] += rest
			}
			return patterns
		}
		before := rest[:i]
		rest = rest[i+len("σ"):] // both sigmas are two bytes in UTF-8
		if sigmas > maxSigmas {
			for j := range patterns {
				patterns[j] += before + "_"
			}
			continue
		}
		n := len(patterns)
		for j := range n {
			patterns = append(patterns, patterns[j]+before+"ς")
			patterns[j] += before + "σ"
		}
	}
}

// maxSigmas bounds the sigmas actorPatterns spells both ways (2^maxSigmas patterns).
const maxSigmas = 4

// escapeLike escapes LIKE's wildcards, and the escape character itself, with '!' (the queries'
// ESCAPE '!'). Not '\': on a PostgreSQL server with standard_conforming_strings off, the literal
// '\' is a backslash escape, and each query naming it a syntax error.
func escapeLike(s string) string {
	return likeEscaper.Replace(s)
}

// likeEscaper is escapeLike's replacer, made once (a Replacer is safe for concurrent use and
// never changes).
var likeEscaper = strings.NewReplacer(`!`, `!!`, `%`, `!%`, `_`, `!_`)

func scanEntry(rows *sql.Rows) (AuditEntry, error) {
	var e AuditEntry
	var t int64
	var logins string
	var status int64
	var finalOutcome, finalMessage sql.NullString
	var finalStatus, completedAt sql.NullInt64
	err := rows.Scan(&e.ID, &t, &e.ActorIssuer, &e.ActorSubject, &e.ActorEmail, &e.ActorName, &e.Action,
		&e.Domain, &logins, &e.Outcome, &status, &e.UpstreamMessage, &e.RequestID, &e.ClientIP,
		&e.UserAgent, &e.Detail, &finalOutcome, &finalStatus, &finalMessage, &completedAt)
	if err != nil {
		return AuditEntry{}, err
	}
	e.Time = fromNanos(t)
	e.UpstreamStatus = int(status)
	if logins != "" && logins != "[]" {
		if err := json.Unmarshal([]byte(logins), &e.Logins); err != nil {
			return AuditEntry{}, fmt.Errorf("entry %d logins: %w", e.ID, err)
		}
	}
	if completedAt.Valid {
		ct := fromNanos(completedAt.Int64)
		e.CompletedAt = &ct
		e.Outcome = finalOutcome.String
		e.UpstreamStatus = int(finalStatus.Int64)
		e.UpstreamMessage = finalMessage.String
	}
	return e, nil
}

// ListAudit returns up to f.Limit entries matching f, newest first. Page on
// with f.Before = the last entry's ID (keyset pagination), and back with
// f.After = the first entry's ID: the entries nearest After, not the newest.
func (db *DB) ListAudit(ctx context.Context, f AuditFilter) ([]AuditEntry, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultAuditLimit
	}
	limit = min(limit, MaxAuditLimit)
	// Read from After upwards, so that the limit keeps the entries next to the cursor; the page
	// is then turned around, newest first as every other read.
	oldestFirst := f.After > 0
	out, err := db.readAudit(ctx, f, limit, oldestFirst, false, make([]AuditEntry, 0, min(limit, 64)))
	if err != nil {
		return nil, fmt.Errorf("store: list audit: %w", err)
	}
	if oldestFirst {
		slices.Reverse(out)
	}
	return out, nil
}

// eachAuditBatch is how many entries EachAudit reads per query.
const eachAuditBatch = 500

// EachAudit calls fn for every entry matching f, newest first (for exports).
// f.Limit <= 0 means no limit. An error from fn stops the walk and is
// returned.
//
// It reads eachAuditBatch entries per query, keyset-paged by id as ListAudit
// is, and calls fn only once a batch is read and its rows closed. fn writes
// to a browser, which may take minutes for a large trail: a query streamed
// into it would hold one of the pool's connections (and, on SQLite, a read
// transaction that keeps the WAL from being checkpointed; on PostgreSQL, a
// snapshot that holds back vacuum) for as long, so a few slow downloads would
// stall every session lookup. Each batch has the store's deadline (WithTimeout),
// the walk as a whole only ctx's. Batches are not one snapshot: an entry appended
// meanwhile is not included (its id is above the cursor), an action completed
// meanwhile may show its outcome, and one removed by retention meanwhile may
// be missing.
func (db *DB) EachAudit(ctx context.Context, f AuditFilter, fn func(AuditEntry) error) error {
	f, found, err := db.walkRange(ctx, f)
	if err != nil {
		return fmt.Errorf("store: each audit: %w", err)
	}
	if !found {
		return nil
	}
	remaining := f.Limit
	var batch []AuditEntry
	for {
		n := eachAuditBatch
		if remaining > 0 {
			n = min(n, remaining)
		}
		var err error
		if batch, err = db.readAudit(ctx, f, n, false, true, batch[:0]); err != nil {
			return fmt.Errorf("store: each audit: %w", err)
		}
		for _, e := range batch {
			if err := fn(e); err != nil {
				return fmt.Errorf("store: each audit: %w", err)
			}
		}
		if len(batch) < n {
			return nil
		}
		if remaining > 0 {
			if remaining -= len(batch); remaining == 0 {
				return nil
			}
		}
		f.Before = batch[len(batch)-1].ID
	}
}

// walkRange is f with its date range's ids as its id bounds (Before, After), for a walk that
// reads by id (auditQuery's walk): without them, its first batch read every entry newer than
// "to" and its last every one older than "from", down to the trail's first entry, each in one
// query under the store's deadline. found is false when no entry is in the range.
func (db *DB) walkRange(ctx context.Context, f AuditFilter) (_ AuditFilter, found bool, err error) {
	if f.From.IsZero() && f.To.IsZero() {
		return f, true, nil
	}
	lo, hi, found, err := db.auditIDSpan(ctx, f.From, f.To)
	if err != nil || !found {
		return f, false, err
	}
	if f.Before <= 0 || f.Before > hi {
		f.Before = hi + 1
	}
	f.After = max(f.After, lo-1)
	return f, true, nil
}

// auditIDSpan returns the smallest and the largest id of the entries whose time is in [from, to)
// (a zero bound is open), found false when there is none. SQLite reads them from the range's
// part of audit_entry_time (TestAuditWalkReadsOnlyItsRange), which holds each entry's id.
func (db *DB) auditIDSpan(ctx context.Context, from, to time.Time) (lo, hi int64, found bool, err error) {
	q, args := auditIDSpanQuery(from, to)
	var first, last sql.NullInt64
	err = db.op(ctx, func(ctx context.Context) error {
		rows, err := db.query(ctx, db.rebind(q), args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		if rows.Next() {
			if err := rows.Scan(&first, &last); err != nil {
				return err
			}
		}
		return rows.Err()
	})
	if err != nil {
		return 0, 0, false, fmt.Errorf("ids of the date range: %w", err)
	}
	return first.Int64, last.Int64, first.Valid && last.Valid, nil
}

// auditIDSpanQuery is auditIDSpan's query, with ? placeholders. Its aggregates are of an
// expression (id + 0), as the walk's date bounds are: PostgreSQL answers MIN(id) and MAX(id)
// each as the first match of a scan of audit_entry_id from its end, checking every entry's time
// on the way, so a day near the newest entries read the trail from its first entry to that day
// (0.27 s on a trail of 1,000,000 entries, where SQLite took 0.4 ms) and a range with no entry
// read the whole trail twice (0.5 s). Of an expression, both read the range's part of
// audit_entry_time (TestAuditIDSpanReadsTheRange), a cost that grows with the range's entries
// as the walk's own.
func auditIDSpanQuery(from, to time.Time) (q string, args []any) {
	q = "SELECT MIN(id + 0), MAX(id + 0) FROM audit_log WHERE kind = 'entry'"
	if !from.IsZero() {
		q += " AND time >= ?"
		args = append(args, nanos(from))
	}
	if !to.IsZero() {
		q += " AND time < ?"
		args = append(args, nanos(to))
	}
	return q, args
}

// readAudit appends up to limit entries matching f, newest first (oldest first when
// oldestFirst), to out, as one operation with the store's deadline (op); walk is auditQuery's.
// It closes its rows before returning.
func (db *DB) readAudit(ctx context.Context, f AuditFilter, limit int, oldestFirst, walk bool, out []AuditEntry) ([]AuditEntry, error) {
	q, args, ok := db.auditQuery(f, limit, oldestFirst, walk)
	if !ok {
		return out, nil
	}
	err := db.op(ctx, func(ctx context.Context) error {
		rows, err := db.query(ctx, q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			e, err := scanEntry(rows)
			if err != nil {
				return err
			}
			out = append(out, e)
		}
		return rows.Err()
	})
	return out, err
}

// VerifyAudit walks the whole chain in id order. It checks each row's hash
// over its content, each prev_hash link (the oldest kept row links to the
// retention anchor, or to "" when nothing was ever deleted), that every
// completion refers to an existing action with no other completion, and that
// each action's denormalized final_* columns match its completion row (or
// are empty when it has none). It reports the first broken row.
//
// It runs under ctx alone, without the store's deadline (WithTimeout): it reads the
// whole trail in one snapshot, which takes minutes for millions of rows.
func (db *DB) VerifyAudit(ctx context.Context) (VerifyReport, error) {
	var rep VerifyReport
	// Not an op (no deadline), but it must not report a file gone as verified.
	if err := db.checkFile(); err != nil {
		return rep, fmt.Errorf("store: verify audit: %w", err)
	}
	broken := func(id int64, reason string) {
		if rep.BrokenAt == 0 || id < rep.BrokenAt {
			rep.BrokenAt, rep.Reason = id, reason
		}
	}

	// One snapshot for the anchor, the walk and the structural checks.
	opts := &sql.TxOptions{ReadOnly: true}
	if db.dialect == DialectPostgres {
		opts.Isolation = sql.LevelRepeatableRead
	}
	snap, err := db.begin(ctx, opts)
	if err != nil {
		return rep, fmt.Errorf("store: verify audit: begin: %w", err)
	}
	defer snap.Rollback()
	if db.dialect == DialectPostgres {
		// The structural checks below read the whole trail whenever it is intact, so hash joins
		// are what they need. Without table statistics (a restored database before autovacuum's
		// first ANALYZE) PostgreSQL took the trail for a few rows and planned nested loops over
		// a scan of every completion for each entry: 2.9 s for 16,000 rows instead of 0.1 s,
		// and hours for millions.
		if _, err := snap.ExecContext(ctx, "SET LOCAL enable_nestloop = off"); err != nil {
			return rep, fmt.Errorf("store: verify audit: %w", err)
		}
	}
	var anchorID int64
	var prev, keptDigest string
	err = snap.QueryRowContext(ctx, "SELECT last_id, hash, retained FROM audit_anchor WHERE one = 1").Scan(&anchorID, &prev, &keptDigest)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return rep, fmt.Errorf("store: verify audit: read anchor: %w", err)
	}

	rows, err := snap.QueryContext(ctx, `SELECT id, kind, time, actor_issuer, actor_subject, actor_email,
		actor_name, action, domain, logins, outcome, upstream_status, upstream_message, request_id, client_ip,
		user_agent, detail, ref_id, prev_hash, hash, actor_fold FROM audit_log ORDER BY id`)
	if err != nil {
		return rep, fmt.Errorf("store: verify audit: %w", err)
	}
	defer rows.Close()
	lastID := anchorID
	for rows.Next() {
		var r auditRow
		var ref sql.NullInt64
		var hash, actorFold string
		if err := rows.Scan(&r.id, &r.kind, &r.time, &r.actorIssuer, &r.actorSubject, &r.actorEmail,
			&r.actorName, &r.action, &r.domain, &r.logins, &r.outcome, &r.upstreamStatus, &r.upstreamMessage,
			&r.requestID, &r.clientIP, &r.userAgent, &r.detail, &ref, &r.prevHash, &hash, &actorFold); err != nil {
			return rep, fmt.Errorf("store: verify audit: scan: %w", err)
		}
		r.refID = ref.Int64
		rep.Checked++
		switch {
		case r.id <= lastID:
			broken(r.id, fmt.Sprintf("id %d not after the previous row or retention anchor %d", r.id, lastID))
		case r.prevHash != prev:
			if rep.Checked == 1 {
				broken(r.id, "oldest row does not link to the retention anchor (rows removed outside retention)")
			} else {
				broken(r.id, "prev_hash does not match the previous row's hash (a row was removed, inserted or re-hashed)")
			}
		case r.id != lastID+1:
			// Ids are given one after another, and retention's anchor is the last row it
			// removed: a gap is rows removed, or an anchor that does not say where they ended.
			broken(r.id, fmt.Sprintf("id %d does not follow the previous row or retention anchor %d (rows removed outside retention)", r.id, lastID))
		case hashRow(&r) != hash:
			broken(r.id, "hash does not match the row's content (a field was changed)")
		case !kindAgrees(r.kind, ref):
			broken(r.id, "row kind and ref_id disagree")
		case actorFold == "":
			// Every row SMTP Desk writes has at least the line break between e-mail and name
			// (foldActor): an empty one is what a version from before migration 0003 writes,
			// started on the database after a newer one migrated it.
			broken(r.id, "actor search column is empty (actor_fold was changed, or the row was written by an SMTP Desk "+
				"older than migration 0003 started on this database after a newer one migrated it)")
		case actorFold != foldActor(r.actorEmail, r.actorName):
			broken(r.id, "actor search column does not match the row's actor (actor_fold was changed)")
		}
		if rep.BrokenAt != 0 {
			break // later rows cannot be broken earlier than this one
		}
		if rep.Checked == 1 {
			rep.OldestID, rep.OldestAt = r.id, fromNanos(r.time)
		}
		prev, lastID = hash, r.id
	}
	if err := rows.Err(); err != nil {
		return rep, fmt.Errorf("store: verify audit: %w", err)
	}
	rows.Close()

	// Structural checks across rows; each reports its first offender. They
	// trust only completion rows the walk verified (id below a chain break),
	// so a tampered completion is reported as itself, not as its action.
	bound := int64(math.MaxInt64)
	if rep.BrokenAt != 0 {
		bound = rep.BrokenAt
	}
	checks := []struct{ q, reason string }{
		{`SELECT c.id FROM audit_log c LEFT JOIN audit_log a ON a.id = c.ref_id
			WHERE c.kind = 'completion' AND c.id < ? AND (a.id IS NULL OR a.kind <> 'entry')
			ORDER BY c.id LIMIT 1`,
			"completion refers to a missing action"},
		{`SELECT c2.id FROM audit_log c1 JOIN audit_log c2 ON c2.ref_id = c1.ref_id AND c2.id > c1.id
			WHERE c1.ref_id IS NOT NULL AND c2.ref_id IS NOT NULL AND c2.id < ?
			ORDER BY c2.id LIMIT 1`,
			"second completion of the same action"},
		{`SELECT a.id FROM audit_log a LEFT JOIN audit_log c ON c.ref_id = a.id AND c.kind = 'completion'
			WHERE a.kind = 'entry' AND (c.id IS NULL OR c.id < ?) AND (
				(c.id IS NULL AND (a.final_outcome IS NOT NULL OR a.final_status IS NOT NULL
					OR a.final_message IS NOT NULL OR a.completed_at IS NOT NULL))
				OR (c.id IS NOT NULL AND (a.final_outcome IS DISTINCT FROM c.outcome
					OR a.final_status IS DISTINCT FROM c.upstream_status
					OR a.final_message IS DISTINCT FROM c.upstream_message
					OR a.completed_at IS DISTINCT FROM c.time)))
			ORDER BY a.id LIMIT 1`,
			"final outcome columns do not match the completion row"},
		{`SELECT id FROM audit_log WHERE kind <> 'entry' AND id < ? AND (final_outcome IS NOT NULL
			OR final_status IS NOT NULL OR final_message IS NOT NULL OR completed_at IS NOT NULL)
			ORDER BY id LIMIT 1`,
			"completion row carries final outcome columns"},
	}
	for _, c := range checks {
		var id int64
		err := snap.QueryRowContext(ctx, db.rebind(c.q), bound).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return rep, fmt.Errorf("store: verify audit: %w", err)
		}
		broken(id, c.reason)
	}
	if db.dialect == DialectSQLite {
		// A SQLite column keeps the type of the value stored in it, which the hash does not
		// cover: a text re-typed as a blob hashes the same (the same bytes) but no longer
		// equals any text in SQL, so the entry silently left every list, filter and export.
		for _, c := range sqliteTypeChecks {
			var id int64
			err := snap.QueryRowContext(ctx, c, bound).Scan(&id)
			if errors.Is(err, sql.ErrNoRows) {
				continue
			}
			if err != nil {
				return rep, fmt.Errorf("store: verify audit: %w", err)
			}
			broken(id, "a value's stored type was changed (SQLite)")
		}
	}
	id, err := checkLoginIndex(ctx, snap, db.rebind, bound)
	if err != nil {
		return rep, fmt.Errorf("store: verify audit: %w", err)
	}
	if id != 0 {
		broken(id, "login index does not match the entry's logins (audit_logins was changed)")
	}
	// What retention kept (audit_retained) is of entries it removed, all at or before the
	// anchor, and of resets and creates alone: a row naming an entry still in the trail, or
	// beyond it, or another action, was added outside retention (a forged "system login", a
	// hidden password age). The kept rows of removed entries cannot be checked against them.
	// On SQLite a value's stored type is checked too, as the trail's are (sqliteTypeChecks): a
	// domain or login re-typed as a blob reads the same bytes to the digest but matches no
	// query, so a forged row and its blob twin cancelled out, and one re-typed row was hidden.
	typed := ""
	if db.dialect == DialectSQLite {
		typed = ` OR typeof(domain) <> 'text' OR typeof(action) <> 'text' OR typeof(login) <> 'text'
			OR typeof(detail) <> 'text' OR typeof(final_message) <> 'text' OR typeof(entry_id) <> 'integer'
			OR typeof(time) <> 'integer' OR typeof(completed_at) <> 'integer'`
	}
	var kept sql.NullInt64
	err = snap.QueryRowContext(ctx, db.rebind(`SELECT MIN(entry_id) FROM audit_retained
		WHERE entry_id > ? OR action NOT IN ('`+retainedReset+`', '`+retainedCreate+`')`+typed), anchorID).Scan(&kept)
	if err != nil {
		return rep, fmt.Errorf("store: verify audit: read what retention kept: %w", err)
	}
	if kept.Valid {
		broken(max(kept.Int64, 1), fmt.Sprintf("what retention kept of removed entries (audit_retained) names entry %d, "+
			"which retention has not removed, or an action it does not keep, or a value of another type: a row added or changed outside retention", kept.Int64))
	} else if digest, err := retainedDigest(ctx, snap, sqlAllKept); err != nil {
		return rep, fmt.Errorf("store: verify audit: read what retention kept: %w", err)
	} else if digest != keptDigest {
		broken(max(anchorID, 1), "what retention kept of removed entries (audit_retained) does not match the digest "+
			"retention left with its anchor: a row was added, changed or removed outside retention")
	}
	if rep.BrokenAt == 0 {
		rep.HeadID, rep.HeadHash = lastID, prev
		rep.Trimmed = anchorID != 0
	} else {
		rep.OldestID, rep.OldestAt = 0, time.Time{}
	}
	return rep, nil
}

// kindAgrees reports whether a row's kind and ref_id go together: an entry has none, a
// completion refers to an action. (The hash reads a missing ref_id as 0, so a NULL turned into
// 0, or back, is only seen here; a 0 on an entry also held retention at the start of the
// trail, keepCompleted.)
func kindAgrees(kind string, ref sql.NullInt64) bool {
	switch kind {
	case kindEntry:
		return !ref.Valid
	case kindCompletion:
		return ref.Valid && ref.Int64 > 0
	}
	return false
}

// sqliteTypeChecks find, on SQLite, the first row below the bound (?) holding a value of
// another type than its column's: every text, integer and nullable column of the trail and of
// its login index.
var sqliteTypeChecks = []string{
	`SELECT id FROM audit_log WHERE id < ? AND NOT (
		typeof(kind) = 'text' AND typeof(time) = 'integer' AND typeof(actor_issuer) = 'text'
		AND typeof(actor_subject) = 'text' AND typeof(actor_email) = 'text'
		AND typeof(actor_name) = 'text' AND typeof(action) = 'text' AND typeof(domain) = 'text'
		AND typeof(logins) = 'text' AND typeof(outcome) = 'text'
		AND typeof(upstream_status) = 'integer' AND typeof(upstream_message) = 'text'
		AND typeof(request_id) = 'text' AND typeof(client_ip) = 'text'
		AND typeof(user_agent) = 'text' AND typeof(detail) = 'text'
		AND typeof(ref_id) IN ('integer', 'null') AND typeof(prev_hash) = 'text'
		AND typeof(hash) = 'text' AND typeof(actor_fold) = 'text'
		AND typeof(final_outcome) IN ('text', 'null') AND typeof(final_status) IN ('integer', 'null')
		AND typeof(final_message) IN ('text', 'null') AND typeof(completed_at) IN ('integer', 'null'))
		ORDER BY id LIMIT 1`,
	`SELECT entry_id FROM audit_logins WHERE entry_id < ?
		AND NOT (typeof(entry_id) = 'integer' AND typeof(login) = 'text')
		ORDER BY entry_id LIMIT 1`,
}

// checkLoginIndex compares audit_logins, which the login filter and the password ages read but
// the hash does not cover, with the logins of the entries below bound (which the walk verified):
// each entry's folded logins, no more and no fewer. It returns the first entry id that
// disagrees, or 0. (Rows left for an entry that is gone are not looked at: both readers join
// the entry, so they change nothing, and a removed entry is the chain's to report.)
func checkLoginIndex(ctx context.Context, snap *sql.Tx, rebind func(string) string, bound int64) (int64, error) {
	rows, err := snap.QueryContext(ctx, rebind(`SELECT a.id, a.logins, l.login FROM audit_log a
		LEFT JOIN audit_logins l ON l.entry_id = a.id
		WHERE a.kind = 'entry' AND a.id < ? ORDER BY a.id`), bound)
	if err != nil {
		return 0, fmt.Errorf("login index: %w", err)
	}
	defer rows.Close()
	var cur int64        // the entry whose index rows are being gathered
	var curLogins string // its hashed logins
	var got []string     // its index rows so far
	for rows.Next() {
		var id int64
		var logins string
		var login sql.NullString
		if err := rows.Scan(&id, &logins, &login); err != nil {
			return 0, fmt.Errorf("login index: %w", err)
		}
		if id != cur {
			if cur != 0 && indexDiffers(curLogins, got) {
				return cur, nil
			}
			cur, curLogins, got = id, logins, got[:0]
		}
		if login.Valid {
			got = append(got, login.String)
		}
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("login index: %w", err)
	}
	if cur != 0 && indexDiffers(curLogins, got) {
		return cur, nil
	}
	return 0, nil
}

// indexDiffers says whether an entry's index rows are not exactly its logins (stored JSON),
// folded. It sorts got.
func indexDiffers(logins string, got []string) bool {
	var want []string
	if err := json.Unmarshal([]byte(logins), &want); err != nil {
		return true
	}
	want = foldLogins(want)
	slices.Sort(want)
	slices.Sort(got)
	return !slices.Equal(want, got)
}

// retentionBatch is about how many rows (entries and completions) one retention transaction
// removes.
const retentionBatch = 2000

// DeleteAuditBefore applies retention: it deletes the oldest entries whose
// time is before t, with their completion rows, and returns how many entries
// it deleted. It only ever removes a prefix of the chain (by id), stopping at
// the first entry at or after t and keeping any action whose completion is
// kept, and it records the last removed row as the chain's anchor, so
// VerifyAudit still verifies everything kept.
//
// It removes the prefix about retentionBatch rows per transaction, each
// moving the anchor on. One transaction for the whole prefix held the audit
// lock (and, on SQLite, the database's write lock) for as long as deleting it
// took, several seconds per million rows: on the first run after
// AUDIT_RETENTION is set on a long trail, actions waited to begin, a
// completion could run out of its 5 seconds and leave its entry pending, and
// another process's writes could run out of SQLite's busy timeout. On an
// error the rows removed so far stay removed, the chain intact; the next run
// removes the rest. It runs under ctx alone, without the store's deadline
// (WithTimeout): the first batch reads the whole prefix or what is kept.
func (db *DB) DeleteAuditBefore(ctx context.Context, t time.Time) (int64, error) {
	var deleted, cut int64
	for {
		// Not an op (no deadline), but no more a writer of a file gone than an op is.
		if err := db.checkFile(); err != nil {
			return deleted, fmt.Errorf("store: delete audit before %s: %w", t.UTC().Format(time.RFC3339), err)
		}
		n, more, err := db.deleteAuditBatch(ctx, nanos(t), &cut)
		deleted += n
		if err != nil {
			return deleted, fmt.Errorf("store: delete audit before %s: %w", t.UTC().Format(time.RFC3339), err)
		}
		if !more {
			return deleted, nil
		}
	}
}

// deleteAuditBatch removes the next part of the prefix DeleteAuditBefore removes, in one
// transaction, and says whether more of it remains. *cut is the first id kept: the first batch
// finds it (it is 0 until then) and the others keep it, as finding it reads the whole prefix or
// what is kept. Rows appended meanwhile come after it; a completion among them that refers to an
// action before it holds that action, as each batch lowers its own end for such completions.
func (db *DB) deleteAuditBatch(ctx context.Context, before int64, cut *int64) (deleted int64, more bool, err error) {
	err = db.writeTx(ctx, func(tx *tx) error {
		if err := tx.pgLock(ctx, lockAudit); err != nil {
			return err
		}
		var oldest sql.NullInt64
		if err := tx.queryRow(ctx, "SELECT MIN(id) FROM audit_log").Scan(&oldest); err != nil {
			return fmt.Errorf("find oldest row: %w", err)
		}
		if !oldest.Valid {
			return nil // empty
		}
		if *cut == 0 {
			var first, last sql.NullInt64
			if err := tx.queryRow(ctx, "SELECT MIN(id) FROM audit_log WHERE kind = 'entry' AND time >= ?",
				before).Scan(&first); err != nil {
				return fmt.Errorf("find cut: %w", err)
			}
			if err := tx.queryRow(ctx, "SELECT MAX(id) FROM audit_log").Scan(&last); err != nil {
				return fmt.Errorf("find cut: %w", err)
			}
			c := last.Int64 + 1
			if first.Valid {
				c = first.Int64
			}
			var err error
			if *cut, err = tx.keepCompleted(ctx, c); err != nil {
				return err
			}
		}
		// This transaction's part: up to about retentionBatch rows, lowered to keep its
		// actions with their completions. When that leaves nothing (the oldest action's
		// completion is further on than a batch), the rest of the prefix goes at once, as no
		// batch can end before that completion.
		part, err := tx.keepCompleted(ctx, min(*cut, oldest.Int64+retentionBatch))
		if err != nil {
			return err
		}
		if part <= oldest.Int64 && part < *cut {
			if part, err = tx.keepCompleted(ctx, *cut); err != nil {
				return err
			}
		}
		var lastID int64
		var lastHash string
		err = tx.queryRow(ctx, "SELECT id, hash FROM audit_log WHERE id < ? ORDER BY id DESC LIMIT 1", part).Scan(&lastID, &lastHash)
		if errors.Is(err, sql.ErrNoRows) {
			return nil // nothing before the cut
		}
		if err != nil {
			return fmt.Errorf("read new anchor: %w", err)
		}
		if err := tx.queryRow(ctx, "SELECT COUNT(*) FROM audit_log WHERE kind = 'entry' AND id < ?", part).Scan(&deleted); err != nil {
			return fmt.Errorf("count: %w", err)
		}
		// What is kept changes by this batch's resets, creates and deletes alone: the anchor's
		// digest moves by that change (before XOR after), never recomputed from the table, so
		// that a row changed outside retention stays found by the check, not made right by the
		// next run.
		var stored string
		err = tx.queryRow(ctx, "SELECT retained FROM audit_anchor WHERE one = 1").Scan(&stored)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("read the anchor: %w", err)
		}
		// Only the rows of the logins the batch names can change: their digest before and after
		// is the change (a digest of the whole table each batch grew with it).
		// The batch's rows, between the oldest and the cut, each bound given twice (audit_log's
		// and audit_logins'): with the upper one alone, PostgreSQL, whose statistics still count
		// the rows earlier batches removed, read all of audit_logins in each batch.
		batch := []any{oldest.Int64, part, oldest.Int64, part, OutcomeOK}
		batchKept := func() (string, error) {
			return retainedDigest(ctx, tx.tx, tx.db.rebind(sqlBatchKept), batch...)
		}
		before, err := batchKept()
		if err != nil {
			return fmt.Errorf("digest what is kept: %w", err)
		}
		kept, err := tx.exec(ctx, sqlRetain, batch...)
		if err != nil {
			return fmt.Errorf("keep the newest entry of each login: %w", err)
		}
		forgot, err := tx.exec(ctx, sqlForgetDeleted, append(slices.Clone(batch), batch...)...)
		if err != nil {
			return fmt.Errorf("forget the deleted logins' kept entries: %w", err)
		}
		digest := stored
		if n1, n2 := rowsAffected(kept), rowsAffected(forgot); n1 != 0 || n2 != 0 {
			after, err := batchKept()
			if err != nil {
				return fmt.Errorf("digest what is kept: %w", err)
			}
			digest = xorDigests(stored, before, after)
		}
		if _, err := tx.exec(ctx, "DELETE FROM audit_logins WHERE entry_id < ?", part); err != nil {
			return fmt.Errorf("delete logins: %w", err)
		}
		if _, err := tx.exec(ctx, "DELETE FROM audit_log WHERE id < ?", part); err != nil {
			return fmt.Errorf("delete rows: %w", err)
		}
		if _, err := tx.exec(ctx, "DELETE FROM audit_anchor WHERE one = 1"); err != nil {
			return fmt.Errorf("replace anchor: %w", err)
		}
		if _, err := tx.exec(ctx, "INSERT INTO audit_anchor (one, last_id, hash, retained) VALUES (1, ?, ?, ?)", lastID, lastHash, digest); err != nil {
			return fmt.Errorf("replace anchor: %w", err)
		}
		more = part < *cut
		return nil
	})
	if err != nil {
		return 0, false, err
	}
	return deleted, more, nil
}

// retainedDigest is the digest (hex) of audit_retained's rows query reads (sqlAllKept, or a
// batch's sqlBatchKept): the XOR of each row's SHA-256, its
// fields length-prefixed, so that it needs no order (a database's collation may change, and an
// ORDER BY's answer with it) and no sorting of a table of many thousand rows, which each
// retention batch digests behind the audit lock; "" when the table is empty, as the anchor's
// column is before retention kept anything. The primary key keeps two rows from being the same
// and cancelling out (on SQLite with VerifyAudit's type check: a blob twin of a text key is
// another key). An XOR is linear: rows added whose hashes XOR to a change hide it, which is no
// more than someone who can write the table can do to the anchor's keyless digest anyway.
func retainedDigest(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, query string, args ...any) (string, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var acc [sha256.Size]byte
	var buf []byte
	var domain, action, login, detail, message sql.RawBytes
	var entryID, at, done int64
	n := 0
	for rows.Next() {
		if err := rows.Scan(&domain, &action, &login, &entryID, &at, &detail, &message, &done); err != nil {
			return "", err
		}
		buf = buf[:0]
		for _, f := range [][]byte{domain, action, login, detail, message} {
			buf = binary.AppendUvarint(buf, uint64(len(f)))
			buf = append(buf, f...)
		}
		buf = binary.AppendVarint(binary.AppendVarint(binary.AppendVarint(buf, entryID), at), done)
		sum := sha256.Sum256(buf)
		for i := range acc {
			acc[i] ^= sum[i]
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return "", err
	}
	if n == 0 || acc == ([sha256.Size]byte{}) {
		return "", nil
	}
	return hex.EncodeToString(acc[:]), nil
}

// rowsAffected is a statement's count of rows changed, -1 when the driver cannot say (taken
// as a change).
func rowsAffected(r sql.Result) int64 {
	n, err := r.RowsAffected()
	if err != nil {
		return -1
	}
	return n
}

// xorDigests XORs retainedDigest values ("" is zero): the stored digest moved by a change from
// before to after.
func xorDigests(ds ...string) string {
	var acc [sha256.Size]byte
	for _, d := range ds {
		b, err := hex.DecodeString(d)
		if err != nil || len(b) != len(acc) {
			continue // "" (zero); a malformed stored one stays found by the check
		}
		for i := range acc {
			acc[i] ^= b[i]
		}
	}
	if acc == ([sha256.Size]byte{}) {
		return ""
	}
	return hex.EncodeToString(acc[:])
}

// keepCompleted lowers cut (the first id kept) until no kept completion refers to a removed
// action: an action completed after the cut stays with its completion. Lowering the cut keeps
// completions (between the new and the old cut) whose actions are older still, so it repeats.
func (t *tx) keepCompleted(ctx context.Context, cut int64) (int64, error) {
	for {
		var held sql.NullInt64
		if err := t.queryRow(ctx, "SELECT MIN(ref_id) FROM audit_log WHERE kind = 'completion' AND ref_id IS NOT NULL AND ref_id < ? AND id >= ?",
			cut, cut).Scan(&held); err != nil {
			return 0, fmt.Errorf("find held actions: %w", err)
		}
		if !held.Valid || held.Int64 >= cut {
			return cut, nil
		}
		cut = held.Int64
	}
}

// foldActor is an entry's actor_fold: its e-mail and name, folded in Go (all of Unicode, the
// same on both databases), joined by a line break, which an actor filter cannot contain.
func foldActor(email, name string) string {
	return strings.ToLower(email) + "\n" + strings.ToLower(name)
}

// marks is n copies of a statement's parameter group ("?", or "(?, ?)" for a row), separated by
// commas: an IN list or a multi-row VALUES.
func marks(group string, n int) string {
	return strings.TrimSuffix(strings.Repeat(group+", ", n), ", ")
}

// foldBatch is how many rows migrations 0002 and 0003 read at a time: their memory stays the
// same whatever the trail's length (reading it all at once took 185 MB for a million entries,
// more than GOMEMLIMIT's default, and a container's memory limit could stop the migration
// every time it ran). Tests make it smaller. 0002 binds two parameters a key in one INSERT:
// 10,000, under SQLite's limit (32,766) and PostgreSQL's (65,535); a larger batch must stay so.
var foldBatch = 5000

// foldAuditActors is migration 0003: it fills actor_fold for the rows written before it, a batch
// at a time in id order. A batch's rows of one actor (most of them: a trail has far fewer
// actors than rows) are updated by one statement, not one each: on PostgreSQL each statement is
// a round trip, and a million of them took minutes on a server on the same host.
func foldAuditActors(ctx context.Context, t *tx) error {
	var ids []int64
	for after := int64(math.MinInt64); ; after = ids[len(ids)-1] {
		ids = ids[:0]
		byFold := map[string][]any{}
		var folds []string // byFold's keys, in the order met
		rows, err := t.tx.QueryContext(ctx, t.db.rebind("SELECT id, actor_email, actor_name FROM audit_log WHERE id > ? ORDER BY id LIMIT ?"), after, foldBatch)
		if err != nil {
			return fmt.Errorf("read audit actors: %w", err)
		}
		for rows.Next() {
			var id int64
			var email, name string
			if err := rows.Scan(&id, &email, &name); err != nil {
				rows.Close()
				return fmt.Errorf("read audit actors: %w", err)
			}
			ids = append(ids, id)
			fold := foldActor(email, name)
			if _, ok := byFold[fold]; !ok {
				folds = append(folds, fold)
			}
			byFold[fold] = append(byFold[fold], id)
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return fmt.Errorf("read audit actors: %w", err)
		}
		if len(ids) == 0 {
			return nil
		}
		for _, fold := range folds {
			in := byFold[fold]
			q := "UPDATE audit_log SET actor_fold = ? WHERE id IN (" + marks("?", len(in)) + ")"
			if _, err := t.exec(ctx, q, append([]any{fold}, in...)...); err != nil {
				return fmt.Errorf("fold audit actor: %w", err)
			}
		}
	}
}

// sqlFoldLoginsBatch is the read of a batch of foldAuditLogins: the keys after (entry_id, login),
// in key order. The row value is what both databases read through the primary key from that
// key on (TestFoldLoginsBatchReadsFromItsKey); spelt "entry_id > ? OR (entry_id = ? AND login
// > ?)", it had each batch scan the keys from the first, every batch before it again: on
// PostgreSQL, 0.34 s a batch halfway through two million keys.
const sqlFoldLoginsBatch = "SELECT entry_id, login FROM audit_logins WHERE (entry_id, login) > (?, ?) ORDER BY entry_id, login LIMIT ?"

// foldAuditLogins is migration 0002: audit_logins held each login as written and the login
// filter matched it exactly, so a credential's history missed the actions that named it in
// another letter case. It folds every key with foldLogin, a batch at a time in key order; an
// entry that named two spellings of one login keeps one row. A batch's keys that are not folded
// yet are replaced by two statements, not two each: on PostgreSQL each statement is a round trip,
// and two million of them took over ten minutes on a server on the same host.
func foldAuditLogins(ctx context.Context, t *tx) error {
	type key struct {
		id    int64
		login string
	}
	var batch []key
	for after := (key{id: math.MinInt64}); ; after = batch[len(batch)-1] {
		batch = batch[:0]
		// A folded key written below may sort after its spelling, and be read again in a later
		// batch: it is folded already, and left as it is.
		rows, err := t.tx.QueryContext(ctx, t.db.rebind(sqlFoldLoginsBatch), after.id, after.login, foldBatch)
		if err != nil {
			return fmt.Errorf("read audit logins: %w", err)
		}
		var spellings []any // the batch's distinct logins not folded yet
		var folded []any    // entry id and folded login of each of the batch's keys not folded yet
		seen := map[string]bool{}
		for rows.Next() {
			var k key
			if err := rows.Scan(&k.id, &k.login); err != nil {
				rows.Close()
				return fmt.Errorf("read audit logins: %w", err)
			}
			batch = append(batch, k)
			if f := foldLogin(k.login); f != k.login {
				folded = append(folded, k.id, f)
				if !seen[k.login] {
					seen[k.login] = true
					spellings = append(spellings, k.login)
				}
			}
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return fmt.Errorf("read audit logins: %w", err)
		}
		if len(batch) == 0 {
			return nil
		}
		if len(spellings) == 0 {
			continue
		}
		// The batch's keys are those after the previous batch's last and up to its own last:
		// of them, those spelt as one of spellings, which are the ones not folded (a folded key
		// is spelt as no such login).
		last := batch[len(batch)-1]
		args := append([]any{after.id, after.login, last.id, last.login}, spellings...)
		if _, err := t.exec(ctx, "DELETE FROM audit_logins WHERE (entry_id, login) > (?, ?) AND (entry_id, login) <= (?, ?)"+
			" AND login IN ("+marks("?", len(spellings))+")", args...); err != nil {
			return fmt.Errorf("fold audit logins: %w", err)
		}
		if _, err := t.exec(ctx, "INSERT INTO audit_logins (entry_id, login) VALUES "+marks("(?, ?)", len(folded)/2)+
			" ON CONFLICT (entry_id, login) DO NOTHING", folded...); err != nil {
			return fmt.Errorf("fold audit logins: %w", err)
		}
	}
}
