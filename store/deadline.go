package store

import (
	"context"
	"errors"
	"net"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// DefaultTimeout is the deadline of each database operation made on a request's behalf (a
// session read or write, an audit entry, a form token, a page of the audit trail) when Open is
// not given WithTimeout and the caller's context has none sooner. It is SQLite's busy timeout
// (sqliteParams), so a write waiting for another process's lock may wait as long as before.
const DefaultTimeout = 10 * time.Second

// DefaultConnectTimeout bounds opening a PostgreSQL connection (TCP, TLS and start-up) when the
// URL sets no connect_timeout.
const DefaultConnectTimeout = 5 * time.Second

// ErrUnavailable is matched (errors.Is) by the error of an operation that the database did not
// answer in time, or for which it could not be reached. When a deadline ended the operation (the
// store's own or the caller's), the error matches context.DeadlineExceeded too.
var ErrUnavailable = errors.New("store: the database is not answering")

// unavailableError marks an operation's error as ErrUnavailable.
type unavailableError struct {
	err      error
	deadline bool // a deadline ended the operation
}

func (e *unavailableError) Error() string { return "the database is not answering: " + e.err.Error() }

func (e *unavailableError) Unwrap() error { return e.err }

func (e *unavailableError) Is(target error) bool {
	return target == ErrUnavailable || (e.deadline && target == context.DeadlineExceeded)
}

// Option configures Open.
type Option func(*DB)

// WithTimeout sets the deadline of each operation made on a request's behalf (DefaultTimeout
// unless set); a caller's context whose deadline is sooner keeps it. d <= 0 sets none: the
// operations then end only with the caller's context. Tests shorten it.
func WithTimeout(d time.Duration) Option {
	return func(db *DB) { db.timeout = d }
}

// op runs one database operation made on a request's behalf with the store's deadline, and marks
// its error ErrUnavailable when a deadline ended it or the database could not be reached. Every
// such method runs its statements, and reads their rows, inside fn. None runs once the SQLite
// file is no longer at its path (checkFile).
//
// Work that grows with the size of the data runs under the caller's context alone: migrations
// (Open; one may wait for another replica's), VerifyAudit (one snapshot over the whole trail,
// `web audit verify` and the administrators' check), DeleteAuditBefore (retention in the
// background, whose first run may read a long prefix). EachAudit bounds each of its batches, not
// the export, which may take as long as the browser takes to download it.
func (db *DB) op(ctx context.Context, fn func(ctx context.Context) error) error {
	if err := db.checkFile(); err != nil {
		return err
	}
	if db.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, db.timeout)
		defer cancel()
	}
	err := fn(ctx)
	if err != nil {
		db.noteLost(err)
		if Damaged(err) {
			db.damaged.CompareAndSwap(nil, &err)
		}
	}
	return unavailable(ctx, err)
}

// unavailable marks err ErrUnavailable when ctx's deadline has passed, whatever words the driver's
// error has for it, when err is a failure to reach PostgreSQL (refused, timed out, no route; not a
// refusal the server gave, such as a wrong password or no such database), when PostgreSQL ended
// the connection or takes none for now (serverEnded: a restart, a failover) or the connection was
// cut while its answer was awaited (connEnded: a failover to another host), or when SQLite's busy
// timeout ran out, another process holding its write lock: DefaultTimeout is as long, so either
// may end the wait first.
func unavailable(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return &unavailableError{err: err, deadline: true}
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	if errors.As(err, &ce) && errors.As(err, &ne) {
		return &unavailableError{err: err, deadline: errors.Is(err, context.DeadlineExceeded)}
	}
	if serverEnded(err) || connEnded(err) {
		return &unavailableError{err: err}
	}
	if ctx.Err() == nil && serverTimedOut(err) {
		return &unavailableError{err: err}
	}
	if sqliteBusy(err) {
		return &unavailableError{err: err}
	}
	return err
}

// sqliteCode is err's SQLite result code without its extended part (SQLITE_BUSY for
// SQLITE_BUSY_SNAPSHOT, say), or -1 when err is not SQLite's.
func sqliteCode(err error) int {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return -1
	}
	return se.Code() & 0xff
}

// sqliteBusy reports whether err is SQLite's SQLITE_BUSY: another connection holds the lock it
// needed.
func sqliteBusy(err error) bool { return sqliteCode(err) == sqlite3.SQLITE_BUSY }

// Locked reports whether err is SQLite's word that another connection held the lock it needed
// past the busy timeout (SQLITE_BUSY): another process writing the file (an SMTP Desk applying
// migrations, a backup tool), not a problem of the file's directory or permissions.
func Locked(err error) bool { return sqliteBusy(err) }

// Damaged reports whether err is SQLite's word that the file is not a database (SQLITE_NOTADB: a
// file of another kind, or damaged where SQLite looks first) or that it is damaged
// (SQLITE_CORRUPT): the file's directory and permissions are fine, and trying again changes
// nothing.
func Damaged(err error) bool {
	switch sqliteCode(err) {
	case sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT:
		return true
	}
	return false
}

// serverTimedOut reports whether err is PostgreSQL's word that a wait of its own ran out: 55P03
// (lock_not_available: lock_timeout, set for the role or the database, passed while another
// transaction held a lock) or 57014 (query_canceled: statement_timeout passed). Either is the
// database not answering in time, as SQLite's busy timeout is. pgx also reports a statement it
// cancelled for its context as 57014, which unavailable leaves to the context's error.
func serverTimedOut(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "55P03" || pe.Code == "57014")
}

// serverEnded reports whether err is PostgreSQL's word that it ended the connection or takes none
// for now: 57P01 (admin_shutdown: a shutdown or restart, or pg_terminate_backend, as a failover
// tool uses), 57P02 (crash_shutdown: another server process crashed and the server restarts) or
// 57P03 (cannot_connect_now: the server is starting up or shutting down). A connection of the pool
// that the server ended since its last use answers its next statement so; the server is then
// back, or soon will be. So is 53300 (too_many_connections: the server's max_connections, or the
// role's or the database's CONNECTION LIMIT, reached, as replicas each keeping their idle
// connections reach it), given to a new connection: it is taken once another one closes. So is
// 55000 given to a new connection (object_not_in_prerequisite_state: the database does not take
// connections for now, ALTER DATABASE … ALLOW_CONNECTIONS false during maintenance); the same
// code on a statement means many other things, none of which passes.
func serverEnded(err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return false
	}
	switch pe.Code {
	case "57P01", "57P02", "57P03", "53300":
		return true
	case "55000":
		var ce *pgconn.ConnectError
		return errors.As(err, &ce)
	}
	return false
}
