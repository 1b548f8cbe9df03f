package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// SessionRecord is the server side of a sign-in session. ID is the raw
// session id carried (signed) in the cookie; the database keeps only its
// SHA-256, so a copy of the database cannot be replayed as cookies.
type SessionRecord struct {
	ID        string
	Data      []byte
	CreatedAt time.Time
	LastSeen  time.Time
	ExpiresAt time.Time
}

// hashSessionID is the stored key of a session: hex(SHA-256(id)).
func hashSessionID(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}

// CreateSession stores a new session record under sha256(rec.ID).
func (db *DB) CreateSession(ctx context.Context, rec SessionRecord) error {
	if rec.ID == "" {
		return errors.New("store: create session: empty id")
	}
	if rec.CreatedAt.IsZero() || rec.LastSeen.IsZero() || rec.ExpiresAt.IsZero() {
		return errors.New("store: create session: created, last-seen and expiry times are required")
	}
	data := rec.Data
	if data == nil {
		data = []byte{}
	}
	_, err := db.exec(ctx, `INSERT INTO sessions (id_hash, data, created_at, last_seen, expires_at)
		VALUES (?, ?, ?, ?, ?)`,
		hashSessionID(rec.ID), data, nanos(rec.CreatedAt), nanos(rec.LastSeen), nanos(rec.ExpiresAt))
	if err != nil {
		return fmt.Errorf("store: create session: %w", err)
	}
	return nil
}

// The session queries prepared by (*DB).prepare.
const (
	sqlGetSession    = `SELECT data, created_at, last_seen, expires_at FROM sessions WHERE id_hash = ?`
	sqlUpdateSession = `UPDATE sessions SET data = ?, last_seen = ? WHERE id_hash = ? AND data = ?`
	sqlTouchSession  = `UPDATE sessions SET last_seen = ? WHERE id_hash = ?`
)

// GetSession returns the session record for the raw id, or ErrNotFound. It
// does not judge expiry: the caller compares the times with its clock.
func (db *DB) GetSession(ctx context.Context, id string) (SessionRecord, error) {
	rec := SessionRecord{ID: id}
	var created, seen, expires int64
	err := db.op(ctx, func(ctx context.Context) error {
		return db.read(ctx, func() error {
			return db.getSession.QueryRowContext(ctx, hashSessionID(id)).Scan(&rec.Data, &created, &seen, &expires)
		})
	})
	if errors.Is(err, sql.ErrNoRows) {
		return SessionRecord{}, fmt.Errorf("store: get session: %w", ErrNotFound)
	}
	if err != nil {
		return SessionRecord{}, fmt.Errorf("store: get session: %w", err)
	}
	rec.CreatedAt, rec.LastSeen, rec.ExpiresAt = fromNanos(created), fromNanos(seen), fromNanos(expires)
	return rec, nil
}

// ErrChanged is UpdateSession's answer when the session's data are no longer those the caller
// read: another request of the same session saved since.
var ErrChanged = errors.New("store: the session's data changed since they were read")

// UpdateSession replaces a session's data and last-seen time, if its data are still old (what
// the caller read, or last wrote): a compare and swap, so that two requests of one session that
// each change it (a flash message from one tab, a preference from another) cannot write over
// each other unseen. It returns ErrChanged when the data are no longer old (read the record
// again and redo the change), and ErrNotFound when the session no longer exists (logged out or
// expired and swept), so the caller treats the request as signed out.
func (db *DB) UpdateSession(ctx context.Context, id string, old, data []byte, lastSeen time.Time) error {
	if data == nil {
		data = []byte{}
	}
	if old == nil {
		old = []byte{} // the column is NOT NULL: a record made with no data holds an empty value
	}
	res, err := db.execStmt(ctx, db.updateSession, data, nanos(lastSeen), hashSessionID(id), old)
	if err != nil {
		return fmt.Errorf("store: update session: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("store: update session: %w", err)
	}
	if n > 0 {
		return nil
	}
	var one int
	err = db.op(ctx, func(ctx context.Context) error {
		return db.read(ctx, func() error {
			return db.sql.QueryRowContext(ctx, db.rebind(`SELECT 1 FROM sessions WHERE id_hash = ?`), hashSessionID(id)).Scan(&one)
		})
	})
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("store: update session: %w", ErrNotFound)
	case err != nil:
		return fmt.Errorf("store: update session: %w", err)
	}
	return fmt.Errorf("store: update session: %w", ErrChanged)
}

// TouchSession sets a session's last-seen time and leaves its data alone: the activity write
// of a page view, which must not put back data another request of the same session saved since
// this one read it (a flash message). It returns ErrNotFound when the session no longer exists.
func (db *DB) TouchSession(ctx context.Context, id string, lastSeen time.Time) error {
	res, err := db.execStmt(ctx, db.touchSession, nanos(lastSeen), hashSessionID(id))
	if err != nil {
		return fmt.Errorf("store: touch session: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("store: touch session: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("store: touch session: %w", ErrNotFound)
	}
	return nil
}

// DeleteSession removes a session record. Deleting an unknown id is not an
// error.
func (db *DB) DeleteSession(ctx context.Context, id string) error {
	if _, err := db.exec(ctx, `DELETE FROM sessions WHERE id_hash = ?`, hashSessionID(id)); err != nil {
		return fmt.Errorf("store: delete session: %w", err)
	}
	return nil
}

// DeleteSessionsMatching deletes every session whose data match reports true (the sessions of one
// user, say: the caller knows the data's format) and returns how many it deleted. It reads the
// records first and then deletes the matching ones by key, so a session that signs in meanwhile
// stays; run it again to catch it.
//
// The read and each delete have the store's deadline of their own (op).
func (db *DB) DeleteSessionsMatching(ctx context.Context, match func(data []byte) bool) (int64, error) {
	var doomed []string
	err := db.op(ctx, func(ctx context.Context) error {
		rows, err := db.query(ctx, `SELECT id_hash, data FROM sessions`)
		if err != nil {
			return err
		}
		for rows.Next() {
			var key string
			var data []byte
			if err := rows.Scan(&key, &data); err != nil {
				rows.Close()
				return err
			}
			if match(data) {
				doomed = append(doomed, key)
			}
		}
		return errors.Join(rows.Err(), rows.Close())
	})
	if err != nil {
		return 0, fmt.Errorf("store: read sessions: %w", err)
	}
	var n int64
	for _, key := range doomed {
		res, err := db.exec(ctx, `DELETE FROM sessions WHERE id_hash = ?`, key)
		if err != nil {
			return n, fmt.Errorf("store: delete session: %w", err)
		}
		if k, err := res.RowsAffected(); err == nil {
			n += k
		}
	}
	return n, nil
}

// DeleteExpiredSessions deletes sessions past their absolute expiry
// (expires_at <= now) or idle for idle or longer (last_seen <= now-idle;
// idle <= 0 disables the idle rule). It returns how many it deleted.
func (db *DB) DeleteExpiredSessions(ctx context.Context, now time.Time, idle time.Duration) (int64, error) {
	q, args := `DELETE FROM sessions WHERE expires_at <= ?`, []any{nanos(now)}
	if idle > 0 {
		q += ` OR last_seen <= ?`
		args = append(args, nanos(now.Add(-idle)))
	}
	res, err := db.exec(ctx, q, args...)
	if err != nil {
		return 0, fmt.Errorf("store: delete expired sessions: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("store: delete expired sessions: %w", err)
	}
	return n, nil
}

// CountActiveSessions counts sessions that DeleteExpiredSessions(now, idle)
// would keep.
func (db *DB) CountActiveSessions(ctx context.Context, now time.Time, idle time.Duration) (int64, error) {
	q, args := `SELECT COUNT(*) FROM sessions WHERE expires_at > ?`, []any{nanos(now)}
	if idle > 0 {
		q += ` AND last_seen > ?`
		args = append(args, nanos(now.Add(-idle)))
	}
	var n int64
	if err := db.op(ctx, func(ctx context.Context) error {
		return db.read(ctx, func() error { return db.sql.QueryRowContext(ctx, db.rebind(q), args...).Scan(&n) })
	}); err != nil {
		return 0, fmt.Errorf("store: count active sessions: %w", err)
	}
	return n, nil
}
