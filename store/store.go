// Package store is SMTP Desk's database: a SQLite file by default or
// PostgreSQL, with embedded migrations, session records and the audit trail
// (an append-only hash chain). Both dialects share the same database/sql code;
// they differ only in placeholders, a few column types and how writers to the
// audit chain serialize.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"net"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	// The "pgx" database/sql driver (and OpenDB, for OpenReadOnly's settings).
	"github.com/jackc/pgx/v5/stdlib"
	// The "sqlite" database/sql driver.
	_ "modernc.org/sqlite"
)

// Dialect names returned by (*DB).Dialect.
const (
	DialectSQLite   = "sqlite"
	DialectPostgres = "postgres"
)

// ErrNotFound is returned when a session record or audit entry does not exist.
var ErrNotFound = errors.New("store: not found")

// ErrSettings is wrapped by Open's error when the PostgreSQL settings (the URL, or a PG*
// environment variable the driver reads, such as PGSSLMODE) cannot be read or used: a misspelt
// sslmode, an sslrootcert file that is not there. Nothing was sent to a server.
var ErrSettings = errors.New("the PostgreSQL settings cannot be used")

// Advisory lock classes (first key of pg_advisory_xact_lock(int4, int4)); the
// second key is hashtext(current_schema()), so separate schemas do not block
// each other.
const (
	lockMigrate = 0x736d7401
	lockAudit   = 0x736d7402
)

// sqliteParams are appended to every SQLite DSN: WAL so readers never block
// the writer, a busy timeout for writers in other processes, and immediate
// write transactions so the audit chain's read-last-then-insert serializes.
// synchronous(FULL) syncs the WAL at every commit: under WAL, NORMAL survives
// a crash of the app but can lose the last commits to a power cut or an OS
// crash, and one of those can be the audit entry of a change Mailgun has
// already made. It costs an audited action (two commits) about 0.4 ms
// (docs/BENCHMARKS.md), and sessions write at most once a minute each.
const sqliteParams = "_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)" +
	"&_pragma=foreign_keys(1)&_pragma=synchronous(FULL)&_txlock=immediate"

// sqliteReadOnlyParams are OpenReadOnly's instead: no journal_mode, which would write the file's
// header when it is not WAL yet, and query_only, under which SQLite refuses every change.
const sqliteReadOnlyParams = "_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=query_only(1)"

//go:embed migrations
var migrationFS embed.FS

// DB is a handle on the app's database. It is safe for concurrent use.
type DB struct {
	sql     *sql.DB
	dialect string
	// wsem serializes this process's SQLite writers so they queue in Go rather
	// than in SQLite's busy handler; nil on PostgreSQL.
	wsem chan struct{}
	// Prepared statements for the queries of every page view (see prepare).
	getSession, updateSession, touchSession *sql.Stmt
	// applied are the migrations Open applied (Applied).
	applied []string
	// notice is WithMigrationNotice's function; nil for none.
	notice func(MigrationNotice)
	// timeout is each request's operation's deadline (op); 0 = none.
	timeout time.Duration
	// file is the SQLite file open opened, by a plain path or a file: URI (uriFile), and fileID
	// what os.Stat said of it then; both are unset for PostgreSQL, an in-memory database and a
	// URI naming another VFS. checkFile compares them before each operation.
	file   string
	fileID os.FileInfo
	// lostAt is when an operation last met a pooled PostgreSQL connection that the server had
	// ended or that was cut (noteLost); nil until one does. shouldPing reads it.
	lostAt atomic.Pointer[time.Time]
	// damaged is the first error of an operation that found the SQLite file damaged (Damaged);
	// nil until one does. Ping answers it: a file damaged further in than a ping reads stays
	// damaged until it is restored, which a restart follows.
	damaged atomic.Pointer[error]
}

// maxIdleConns is how many connections stay open between requests (and, for PostgreSQL, the most
// that are open at once).
const maxIdleConns = 20

// Open opens the database named by dsn and applies pending migrations; a database that records
// migrations this binary does not know (a newer SMTP Desk migrated it) is refused with a
// *SchemaError naming them, unchanged.
// A "postgres://" or "postgresql://" URL selects PostgreSQL (pgx); a plain
// path, "sqlite:path" or a "file:" URI selects SQLite. An empty dsn is an
// error: the config package supplies the default path. A PostgreSQL URL
// without connect_timeout gets DefaultConnectTimeout.
func Open(ctx context.Context, dsn string, opts ...Option) (*DB, error) {
	return open(ctx, dsn, false, opts...)
}

// OpenReadOnly opens the database named by dsn for commands that only read (web audit verify):
// it applies no migration, so a role that may only SELECT can use it, and a check cannot change
// the schema. Instead it compares the migrations the database records with this binary's and
// fails with a *SchemaError when any is pending or the database records one this binary does not
// have (a newer SMTP Desk migrated it). Its connections refuse writes (PostgreSQL's
// default_transaction_read_only, SQLite's query_only), and a SQLite file that does not exist is
// an error rather than a new empty database.
func OpenReadOnly(ctx context.Context, dsn string, opts ...Option) (*DB, error) {
	return open(ctx, dsn, true, opts...)
}

// open is Open, or OpenReadOnly when readOnly is set.
func open(ctx context.Context, dsn string, readOnly bool, opts ...Option) (*DB, error) {
	dialect, driver, source, err := parseDSN(dsn, readOnly)
	if err != nil {
		return nil, err
	}
	db := &DB{dialect: dialect, timeout: DefaultTimeout}
	var sqlDB *sql.DB
	switch {
	case dialect == DialectPostgres:
		cfg, cerr := pgConfig(source)
		if cerr != nil {
			return nil, fmt.Errorf("store: open %s: %w", dialect, cerr)
		}
		if readOnly {
			// Sessions start with default_transaction_read_only on: the server refuses every
			// write in them (a role may still SET it off, so this guards against mistakes, not
			// the role: that is the role's grants' job).
			cfg.RuntimeParams["default_transaction_read_only"] = "on"
		}
		sqlDB = stdlib.OpenDB(*cfg, stdlib.OptionShouldPing(db.shouldPing))
	case readOnly:
		if path, ok := SQLiteFile(dsn); ok {
			// SQLite creates a missing file on open; a plain path cannot say "mode=rw".
			if _, err := os.Stat(path); err != nil {
				return nil, fmt.Errorf("store: no SQLite database at %q: %w", path, err)
			}
		}
		sqlDB, err = sql.Open(driver, source)
	default:
		sqlDB, err = sql.Open(driver, source)
	}
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", dialect, err)
	}
	db.sql = sqlDB
	for _, o := range opts {
		o(db)
	}
	// Keep as many idle connections as a busy moment uses. database/sql keeps only 2 by default,
	// so under concurrent requests every session lookup beyond the second opened a connection
	// (for SQLite: open the file, set the pragmas, prepare the statements again) and closed it
	// afterwards; the load test's profile showed it. Idle connections are closed after a while.
	// Nor may more be open than stay idle: a burst of more concurrent lookups than that waits a
	// few microseconds for a connection instead of opening one that is closed again when given
	// back (the load test's 50 users made a SQLite dashboard open and close 847 connections).
	sqlDB.SetMaxIdleConns(maxIdleConns)
	sqlDB.SetMaxOpenConns(maxIdleConns)
	sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	if dialect == DialectSQLite {
		db.wsem = make(chan struct{}, 1)
		if strings.Contains(source, ":memory:") || strings.Contains(source, "mode=memory") {
			// Every connection would get its own empty in-memory database.
			sqlDB.SetMaxOpenConns(1)
		}
	}
	if err := db.firstPing(ctx); err != nil {
		sqlDB.Close()
		return nil, err
	}
	file, ok := SQLiteFile(dsn)
	if !ok {
		file, ok = uriFile(dsn)
	}
	if ok {
		// The ping opened (or created) the file: this is the one the connections use.
		if fi, err := os.Stat(file); err == nil {
			db.file, db.fileID = file, fi
		}
	}
	if dialect == DialectPostgres {
		if err := db.checkPostgres(ctx, !readOnly); err != nil {
			sqlDB.Close()
			return nil, err
		}
	}
	if readOnly {
		err = db.CheckSchema(ctx)
	} else {
		err = db.migrate(ctx)
	}
	if err != nil {
		sqlDB.Close()
		return nil, err
	}
	if err := db.prepare(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// EncodingError is Open's error for a PostgreSQL database whose encoding is not UTF8.
type EncodingError struct {
	Database string // its name
	Encoding string // its server_encoding: SQL_ASCII, LATIN1, ...
}

func (e *EncodingError) Error() string {
	return fmt.Sprintf("store: the PostgreSQL database %q is encoded in %s, and SMTP Desk needs UTF8 to keep "+
		"logins and names in any language as they are written; create a UTF8 database (CREATE DATABASE %s "+
		"ENCODING 'UTF8' TEMPLATE template0, adding LOCALE 'C.UTF-8' if the server's locale is not a UTF-8 one) "+
		"and point the database URL at it", e.Database, e.Encoding, pgx.Identifier{e.Database}.Sanitize())
}

// SearchPathError is Open's and OpenReadOnly's error for a PostgreSQL role that may use no schema
// its search_path names: none of them exists, or the role lacks USAGE on them. PostgreSQL then
// answers current_schema() with NULL, and every table SMTP Desk names is "missing".
type SearchPathError struct {
	Role       string // current_user
	SearchPath string // its search_path setting
}

func (e *SearchPathError) Error() string {
	return fmt.Sprintf("store: the PostgreSQL role %s may use no schema on its search_path (%s): the schema is missing, "+
		"or this role lacks USAGE on it; grant it (GRANT USAGE ON SCHEMA <SMTP Desk's schema> TO %s), or name SMTP Desk's "+
		"schema in DATABASE_URL's search_path parameter", pgx.Identifier{e.Role}.Sanitize(), e.SearchPath, pgx.Identifier{e.Role}.Sanitize())
}

// checkPostgres reads, in one query, what start-up must know of a PostgreSQL database and role.
// It refuses (*SearchPathError) a role that may use no schema of its search_path: a server role
// granted its tables' privileges but not USAGE on their schema failed its first statement, the
// migration lock (keyed by current_schema()), with a NULL scan error worded as a connection
// problem, and the read-only check said only that no schema was found. With encoding set, it also
// refuses (*EncodingError) a database whose encoding is not UTF8: pgx talks UTF8 to the server,
// which converts to the database's encoding, so a LATIN1 database refuses a name in Greek, and a
// SQL_ASCII one stores the bytes without checking them, and compares and folds them as bytes.
// OpenReadOnly does not ask that, so that a trail written there before can still be verified.
func (db *DB) checkPostgres(ctx context.Context, encoding bool) error {
	var schema sql.NullString
	var path, role, name, enc string
	err := db.op(ctx, func(ctx context.Context) error {
		return db.sql.QueryRowContext(ctx, "SELECT current_schema(), current_setting('search_path'), current_user, "+
			"current_database(), current_setting('server_encoding')").Scan(&schema, &path, &role, &name, &enc)
	})
	switch {
	case err != nil:
		return fmt.Errorf("store: read the role's schema and the database's encoding: %w", err)
	case !schema.Valid:
		return &SearchPathError{Role: role, SearchPath: path}
	case encoding && enc != "UTF8":
		return &EncodingError{Database: name, Encoding: enc}
	}
	return nil
}

// prepare prepares the session queries that run on every page view, so SQLite does not parse
// them again each time (database/sql prepares them once per connection).
func (db *DB) prepare(ctx context.Context) error {
	return db.op(ctx, func(ctx context.Context) error {
		var err error
		if db.getSession, err = db.sql.PrepareContext(ctx, db.rebind(sqlGetSession)); err != nil {
			return fmt.Errorf("store: prepare get session: %w", err)
		}
		if db.updateSession, err = db.sql.PrepareContext(ctx, db.rebind(sqlUpdateSession)); err != nil {
			return fmt.Errorf("store: prepare update session: %w", err)
		}
		if db.touchSession, err = db.sql.PrepareContext(ctx, db.rebind(sqlTouchSession)); err != nil {
			return fmt.Errorf("store: prepare touch session: %w", err)
		}
		return nil
	})
}

// pgConfig parses a PostgreSQL URL as pgx does, and sets DefaultConnectTimeout when the URL sets
// no connect_timeout (nor PGCONNECT_TIMEOUT, which pgx reads). Without it, opening a connection to
// a server that does not answer waited until the operating system gave up on the TCP connection,
// minutes later, at start-up and in every request that needed a new connection. The URL's
// connect_timeout, or else PGCONNECT_TIMEOUT's, 0 (no limit) included, is kept.
func pgConfig(dsn string) (*pgx.ConnConfig, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSettings, err)
	}
	if _, env := os.LookupEnv("PGCONNECT_TIMEOUT"); cfg.ConnectTimeout == 0 && !env && !hasURIParam(dsn, "connect_timeout") {
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	return cfg, nil
}

// parseDSN picks the dialect and builds the driver's data source name: for SQLite, with
// sqliteParams, or sqliteReadOnlyParams when readOnly is set.
func parseDSN(dsn string, readOnly bool) (dialect, driver, source string, err error) {
	params := sqliteParams
	if readOnly {
		params = sqliteReadOnlyParams
	}
	switch {
	case dsn == "":
		return "", "", "", errors.New("store: empty database DSN (want a SQLite path or a postgres:// URL)")
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return DialectPostgres, "pgx", dsn, nil
	case strings.HasPrefix(dsn, "file:"):
		sep := "?"
		if strings.Contains(dsn, "?") {
			sep = "&"
		}
		if readOnly && !hasURIParam(dsn, "mode") {
			// SQLite's "open, but do not create": a URI naming no file is an error here too.
			params = "mode=rw&" + params
		}
		return DialectSQLite, "sqlite", dsn + sep + params, nil
	}
	p := sqliteFile(dsn)
	if p == "" {
		return "", "", "", errors.New("store: empty SQLite path in DSN")
	}
	if strings.Contains(p, "?") {
		return "", "", "", errors.New("store: SQLite path contains '?': use a file: URI to pass parameters")
	}
	return DialectSQLite, "sqlite", p + "?" + params, nil
}

// hasURIParam says whether a URI's query (a SQLite file: URI's, a PostgreSQL URL's) has the
// parameter name.
func hasURIParam(uri, name string) bool {
	_, query, ok := strings.Cut(uri, "?")
	if !ok {
		return false
	}
	for kv := range strings.SplitSeq(query, "&") {
		if k, _, _ := strings.Cut(kv, "="); k == name {
			return true
		}
	}
	return false
}

// sqliteFile is the path in a plain SQLite DSN: the DSN itself, or what follows "sqlite://" or
// "sqlite:".
func sqliteFile(dsn string) string {
	if rest, ok := strings.CutPrefix(dsn, "sqlite://"); ok {
		return rest
	}
	if rest, ok := strings.CutPrefix(dsn, "sqlite:"); ok {
		return rest
	}
	return dsn
}

// SQLiteFile returns the file a DSN names when Open would take it as a plain SQLite path; ok is
// false for a postgres:// URL, a file: URI, an in-memory database and a DSN Open refuses.
func SQLiteFile(dsn string) (path string, ok bool) {
	dialect, _, _, err := parseDSN(dsn, false)
	if err != nil || dialect != DialectSQLite || strings.HasPrefix(dsn, "file:") {
		return "", false
	}
	p := sqliteFile(dsn)
	if strings.Contains(p, ":memory:") {
		return "", false
	}
	return p, true
}

// uriFile returns the file a SQLite file: URI names (https://sqlite.org/uri.html): its path,
// percent-decoded, after an empty or "localhost" authority. ok is false for anything else: not
// a file: URI, an in-memory database (":memory:", mode=memory), another VFS (vfs=), or another
// host.
func uriFile(dsn string) (file string, ok bool) {
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme != "file" || (u.Host != "" && u.Host != "localhost") {
		return "", false
	}
	q := u.Query()
	if q.Get("mode") == "memory" || q.Has("vfs") {
		return "", false
	}
	file = u.Path
	if u.Opaque != "" { // file:relative/x.db, which url.Parse leaves escaped
		if file, err = url.PathUnescape(u.Opaque); err != nil {
			return "", false
		}
	}
	if file == "" || file == ":memory:" {
		return "", false
	}
	return file, true
}

// Close closes the database.
func (db *DB) Close() error {
	for _, st := range []*sql.Stmt{db.getSession, db.updateSession, db.touchSession} {
		if st != nil {
			_ = st.Close() // closing the database below closes them anyway
		}
	}
	if err := db.sql.Close(); err != nil {
		return fmt.Errorf("store: close: %w", err)
	}
	return nil
}

// FileGoneError is the error of every operation (op), retention's and the check's too, once the
// SQLite file Open opened is no longer at its path: removed, or replaced by another file (a
// backup copied over it, a volume mounted again). The connections already open keep reading
// and writing the old file, so the trail went on, with /readyz saying ready, into a removed
// file that was gone at the next restart, or into one no longer at the path, while each
// connection opened later took the file now there. Nothing is read or written any more, so no
// change to Mailgun is made that its audit entry would not survive (the entry cannot be written
// first).
type FileGoneError struct {
	Path     string
	Replaced bool // another file is at the path now
}

func (e *FileGoneError) Error() string {
	if e.Replaced {
		return fmt.Sprintf("the SQLite file %q was replaced by another file after SMTP Desk opened it, so SMTP Desk reads and writes neither: "+
			"restart SMTP Desk to use the file now at that path", e.Path)
	}
	return fmt.Sprintf("the SQLite file %q was removed after SMTP Desk opened it, so SMTP Desk reads and writes nothing more: "+
		"put the file back, from a backup or, while SMTP Desk still runs, from its open copy (on Linux, the %q entries of ls -l /proc/%d/fd, with its -wal file), then restart SMTP Desk",
		e.Path, filepath.Base(e.Path), os.Getpid())
}

// checkFile returns a *FileGoneError when the SQLite file Open opened is no longer at its path.
// Another failure to look (a directory this user may no longer search) is left to SQLite.
func (db *DB) checkFile() error {
	if db.fileID == nil {
		return nil
	}
	fi, err := os.Stat(db.file)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return &FileGoneError{Path: db.file}
	case err == nil && !os.SameFile(fi, db.fileID):
		return &FileGoneError{Path: db.file, Replaced: true}
	}
	return nil
}

// Ping checks that the database answers, and fails with the first damage an earlier operation met
// (Damaged reports it so): a ping reads nothing of the file, so it answered while every page that
// read the damaged part failed.
func (db *DB) Ping(ctx context.Context) error {
	if d := db.damaged.Load(); d != nil {
		return fmt.Errorf("store: ping %s: an earlier operation found the file damaged: %w", db.dialect, *d)
	}
	if err := db.op(ctx, db.sql.PingContext); err != nil {
		return fmt.Errorf("store: ping %s: %w", db.dialect, err)
	}
	return nil
}

// firstPing is Open's Ping. A new SQLite connection switches a file not yet in WAL mode to it
// (sqliteParams), which writes the file's header; while another connection does so (replicas
// starting together on a fresh file), SQLite answers SQLITE_BUSY at once, not after its busy
// timeout, since waiting could deadlock: the switch holds a read lock while it asks for the write
// lock. Once the file is in WAL mode a new connection has nothing to write, so Open tries again,
// within the store's deadline, where it failed ("database is locked").
func (db *DB) firstPing(ctx context.Context) error {
	if db.dialect != DialectSQLite {
		return db.Ping(ctx)
	}
	if db.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, db.timeout)
		defer cancel()
	}
	for {
		err := db.Ping(ctx)
		if !sqliteBusy(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// appTables are the tables SMTP Desk reads and writes, each with a column CheckWritable updates
// (to itself); TestAppTablesAreTheMigrations holds the list to the migrations.
var appTables = []struct{ name, column string }{
	{"sessions", "last_seen"},
	{"audit_log", "id"},
	{"audit_logins", "login"},
	{"audit_anchor", "hash"},
	{"used_forms", "used_at"},
	{"audit_retained", "time"},
}

// CheckWritable reports whether the database takes writes, with writes that change nothing. A
// SQLite file this user may not write, or a PostgreSQL standby or read-only role, opens and
// answers reads, pings included; only a sign-in's session or an audit entry then failed. On
// PostgreSQL it also asks each table for each of the privileges SMTP Desk uses on it (SELECT,
// INSERT, UPDATE, DELETE): a role granted them before a migration added a table (0007's
// audit_retained) started, said it was ready, and then failed every domain page's password ages,
// every integrity check and every retention run.
func (db *DB) CheckWritable(ctx context.Context) error {
	if _, err := db.exec(ctx, `DELETE FROM sessions WHERE 1 = 0`); err != nil {
		return fmt.Errorf("store: write to %s: %w", db.dialect, err)
	}
	if db.dialect != DialectPostgres {
		return nil // a SQLite file is written whole or not at all
	}
	for _, t := range appTables {
		for _, q := range []string{
			"INSERT INTO " + t.name + " SELECT * FROM " + t.name + " WHERE 1 = 0", // INSERT, SELECT
			"UPDATE " + t.name + " SET " + t.column + " = " + t.column + " WHERE 1 = 0",
			"DELETE FROM " + t.name + " WHERE 1 = 0",
		} {
			if _, err := db.exec(ctx, q); err != nil {
				return fmt.Errorf("store: write to table %s (%s): %w", t.name, strings.Fields(q)[0], err)
			}
		}
	}
	return nil
}

// Dialect reports "sqlite" or "postgres".
func (db *DB) Dialect() string { return db.dialect }

// rebind turns '?' placeholders into PostgreSQL's $1, $2, ... The queries in
// this package never contain a literal '?'.
func (db *DB) rebind(q string) string {
	if db.dialect != DialectPostgres || !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 8)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

// acquireWrite takes this process's SQLite write slot (no-op on PostgreSQL).
func (db *DB) acquireWrite(ctx context.Context) (release func(), err error) {
	if db.wsem == nil {
		return func() {}, nil
	}
	select {
	case db.wsem <- struct{}{}:
		return func() { <-db.wsem }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// exec runs one write statement, as one operation with the store's deadline (op).
func (db *DB) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return db.write(ctx, func(ctx context.Context) (sql.Result, error) {
		return db.sql.ExecContext(ctx, db.rebind(q), args...)
	})
}

// execStmt is exec for a statement prepared in prepare.
func (db *DB) execStmt(ctx context.Context, st *sql.Stmt, args ...any) (sql.Result, error) {
	return db.write(ctx, func(ctx context.Context) (sql.Result, error) { return st.ExecContext(ctx, args...) })
}

// write runs one write under the write lock, with the store's deadline on both the wait for the
// lock and the write (op). On PostgreSQL the statement is its own transaction at the server's
// default isolation: where that is REPEATABLE READ or SERIALIZABLE (default_transaction_isolation,
// set for the server or the role), a concurrent write of the same row fails it with a
// serialization failure, where READ COMMITTED would have waited and answered. The statement was
// rolled back, so it is sent again (up to writeAttempts in all), and then sees the other write:
// a form sent twice at once is told "not first", a session saved over another is ErrChanged.
func (db *DB) write(ctx context.Context, run func(context.Context) (sql.Result, error)) (res sql.Result, err error) {
	err = db.op(ctx, func(ctx context.Context) error {
		release, err := db.acquireWrite(ctx)
		if err != nil {
			return err
		}
		defer release()
		res, err = run(ctx)
		for try := 1; try < writeAttempts && serializationFailure(err) && ctx.Err() == nil; try++ {
			res, err = run(ctx)
		}
		return err
	})
	return res, err
}

// writeAttempts bounds how often write sends a statement that failed to serialize.
const writeAttempts = 3

// serializationFailure reports whether err is PostgreSQL's 40001 (serialization_failure) or
// 40P01 (deadlock_detected): the statement's transaction was rolled back, and sending it again
// is safe.
func serializationFailure(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}

// tx is a write transaction with the dialect's placeholders.
type tx struct {
	db *DB
	tx *sql.Tx
}

func (t *tx) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return t.tx.ExecContext(ctx, t.db.rebind(q), args...)
}

func (t *tx) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	return t.tx.QueryRowContext(ctx, t.db.rebind(q), args...)
}

// writeTx runs fn in a write transaction. On SQLite the transaction begins
// IMMEDIATE (DSN _txlock), so it holds the database's write lock from the
// start; on PostgreSQL fn takes the advisory locks it needs, in a READ COMMITTED
// transaction whatever the server's default: what fn reads after the lock must
// include what the lock's previous holder committed, and a REPEATABLE READ or
// SERIALIZABLE transaction (default_transaction_isolation, set for the server
// or the role) would read from a snapshot taken before the lock was granted.
func (db *DB) writeTx(ctx context.Context, fn func(t *tx) error) error {
	release, err := db.acquireWrite(ctx)
	if err != nil {
		return err
	}
	defer release()
	var opts *sql.TxOptions
	if db.dialect == DialectPostgres {
		opts = &sql.TxOptions{Isolation: sql.LevelReadCommitted}
	}
	sqlTx, err := db.begin(ctx, opts)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(&tx{db: db, tx: sqlTx}); err != nil {
		_ = sqlTx.Rollback()
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return &commitError{err: err}
	}
	return nil
}

// commitError is writeTx's error when COMMIT failed: fn's writes were sent, and may have been
// committed when the answer was lost (LostAnswerError).
type commitError struct{ err error }

func (e *commitError) Error() string { return "commit: " + e.err.Error() }

func (e *commitError) Unwrap() error { return e.err }

// begin starts a transaction. A pooled PostgreSQL connection that the server ended since its last
// use (a restart, a failover, pg_terminate_backend: every connection it had) answers BEGIN with
// the server's goodbye or as closed, and database/sql, which tries a query again on another
// connection then, does not do so for BEGIN: the first action after a restart was refused ("could
// not be recorded"), and its completion, when the restart fell during the Mailgun call, was lost.
// BEGIN has done nothing then, so begin tries again, on the next connection (database/sql drops
// the ended one), up to as many times as the pool holds connections.
func (db *DB) begin(ctx context.Context, opts *sql.TxOptions) (*sql.Tx, error) {
	for tries := 0; ; tries++ {
		sqlTx, err := db.sql.BeginTx(ctx, opts)
		if err == nil || tries == maxIdleConns || ctx.Err() != nil || !db.noteLost(err) {
			return sqlTx, err
		}
	}
}

// read runs the query of a read-only operation: query sends the statement and returns the first
// row or the query's error (QueryContext, or QueryRowContext and Scan). On PostgreSQL, when that
// fails because the connection it was sent on had been ended by the server or cut (connEnded), it
// runs query once more, on another connection, within the same deadline. database/sql does not:
// the driver (pgx's stdlib) has it try another connection only when nothing was sent, and a
// connection that was used less than a second ago is reused without a ping, so after a restart
// or a failover every busy connection of the pool failed its next statement, and a session lookup
// on each failed a page view with the 503 page. A read changes nothing, so it can be sent again;
// a write cannot (the server may have run it before the connection ended), and reads only: the
// rows after the first are read after read returns, and are never read twice.
//
// noteLost has the pool ping each connection last used before then when it is next taken, so the
// second try does not meet another of the ended connections; the ping costs a round trip only
// then, not in the normal case.
func (db *DB) read(ctx context.Context, query func() error) error {
	err := query()
	if err == nil || db.dialect != DialectPostgres || ctx.Err() != nil || !db.noteLost(err) {
		return err
	}
	return query()
}

// query is a read-only QueryContext, run again once as read says. Only the query and its first row
// are; an error while reading the rows after it is returned as it is.
func (db *DB) query(ctx context.Context, q string, args ...any) (rows *sql.Rows, err error) {
	err = db.read(ctx, func() error {
		rows, err = db.sql.QueryContext(ctx, q, args...)
		return err
	})
	return rows, err
}

// noteLost reports whether err says that a PostgreSQL connection was ended by the server or cut
// (connEnded), and when it does notes the time: every connection of the pool last used before
// then may be ended too (a restart or a failover ends all of them), and shouldPing has each
// pinged before its next use.
func (db *DB) noteLost(err error) bool {
	if db.dialect != DialectPostgres || !connEnded(err) {
		return false
	}
	now := time.Now()
	db.lostAt.Store(&now)
	return true
}

// shouldPing is the check pgx's stdlib runs before it hands out a pooled connection again
// (stdlib.OptionShouldPing): a ping when the connection was idle for more than a second, as pgx
// does by default, or when it was last handed out before an operation found a connection ended
// or cut (noteLost). A connection that fails the ping is dropped, and database/sql takes another
// or opens one. In the normal case it reads one pointer: no round trip.
func (db *DB) shouldPing(_ context.Context, p stdlib.ShouldPingParams) bool {
	if p.IdleDuration > time.Second {
		return true
	}
	lost := db.lostAt.Load()
	return lost != nil && !time.Now().Add(-p.IdleDuration).After(*lost)
}

// connEnded reports whether err says that the PostgreSQL connection a statement was given to had
// been ended by the server (serverEnded) or cut: closed before anything was sent on it, or closed
// or reset while the statement's answer was awaited (an EOF where the answer should be). It is
// false when a new connection could not be opened, when the statement failed, and when a deadline
// or a cancellation ended it. pgx (from v5.13.0) no longer calls a connection found closed while
// the answer was awaited safe to retry, since the statement may have run, but still names it
// pgconn.ErrConnClosed: the connection is ended all the same, and the callers retry only BEGIN
// and reads, which change nothing.
func connEnded(err error) bool {
	var ce *pgconn.ConnectError
	if err == nil || errors.As(err, &ce) || pgconn.Timeout(err) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return false
	}
	if serverEnded(err) || pgconn.SafeToRetry(err) || errors.Is(err, pgconn.ErrConnClosed) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && !ne.Timeout()
}

// pgLock takes a transaction-scoped advisory lock of the given class, scoped
// to the current schema. No-op on SQLite, where the IMMEDIATE transaction
// already holds the write lock.
func (t *tx) pgLock(ctx context.Context, class int) error {
	if t.db.dialect != DialectPostgres {
		return nil
	}
	if _, err := t.exec(ctx, "SELECT pg_advisory_xact_lock(?, hashtext(current_schema()))", class); err != nil {
		return fmt.Errorf("advisory lock: %w", err)
	}
	return nil
}

type migration struct {
	version int
	name    string
	sql     string
	step    func(context.Context, *tx) error // run after sql; from migrationSteps
}

// migrationSteps are the migrations done in Go, after their file's SQL (if any), keyed by the
// file's name: what SQL cannot do alike in both dialects. Each needs its file, which gives it
// its version and its place in the order.
var migrationSteps = map[string]func(context.Context, *tx) error{
	"0002_fold_audit_logins.sql": foldAuditLogins,
	"0003_fold_audit_actors.sql": foldAuditActors,
}

// migrations lists the embedded migrations of this dialect in order.
func (db *DB) migrations() ([]migration, error) {
	dir := path.Join("migrations", db.dialect)
	entries, err := fs.ReadDir(migrationFS, dir)
	if err != nil {
		return nil, fmt.Errorf("store: read migrations: %w", err)
	}
	var ms []migration
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".sql") {
			continue
		}
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("store: migration %q: name must start with a positive number and '_'", name)
		}
		body, err := fs.ReadFile(migrationFS, path.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("store: read migration %s: %w", name, err)
		}
		ms = append(ms, migration{version: v, name: name, sql: string(body), step: migrationSteps[name]})
	}
	for name := range migrationSteps {
		if !slices.ContainsFunc(ms, func(m migration) bool { return m.name == name }) {
			return nil, fmt.Errorf("store: migration step %s has no file in %s", name, dir)
		}
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	return ms, nil
}

// migrate applies pending migrations in one transaction. On PostgreSQL an
// advisory lock makes concurrent Opens (several replicas starting) wait for
// each other; on SQLite the IMMEDIATE transaction does.
func (db *DB) migrate(ctx context.Context) error {
	ms, err := db.migrations()
	if err != nil {
		return err
	}
	err = db.writeTx(ctx, func(t *tx) error {
		if err := t.migrateLock(ctx); err != nil {
			return err
		}
		// Created only when missing: CREATE TABLE IF NOT EXISTS needs the right to create in the
		// schema even when the table is there, and a server run by a role that may only read
		// and write (its migrations applied by "web migrate" as another) could not start.
		var exists int
		if err := t.queryRow(ctx, t.db.migrationsTableExists()).Scan(&exists); err != nil {
			return fmt.Errorf("read schema version: %w", err)
		}
		if exists == 0 {
			if _, err := t.exec(ctx, `CREATE TABLE schema_migrations (
				version    INTEGER NOT NULL PRIMARY KEY,
				name       TEXT    NOT NULL,
				applied_at BIGINT  NOT NULL)`); err != nil {
				return fmt.Errorf("create schema_migrations: %w", err)
			}
		}
		var current int
		if err := t.queryRow(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&current); err != nil {
			return fmt.Errorf("read schema version: %w", err)
		}
		if current > ms[len(ms)-1].version {
			// A newer SMTP Desk migrated the database. This binary would write rows without what
			// the newer migrations added (an audit column the newer integrity check reads, say),
			// and that check would then report them as changed: refuse, as OpenReadOnly does.
			unknown, err := t.migrationsAfter(ctx, ms[len(ms)-1].version)
			if err != nil {
				return err
			}
			return &SchemaError{Dialect: db.dialect, Unknown: unknown}
		}
		if err := t.noticePending(ctx, ms, current); err != nil {
			return err
		}
		for _, m := range ms {
			if m.version <= current {
				continue
			}
			if hasStatements(m.sql) {
				if _, err := t.exec(ctx, m.sql); err != nil {
					return fmt.Errorf("apply %s: %w", m.name, err)
				}
			}
			if m.step != nil {
				if err := m.step(ctx, t); err != nil {
					return fmt.Errorf("apply %s: %w", m.name, err)
				}
			}
			if _, err := t.exec(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
				m.version, m.name, time.Now().UnixNano()); err != nil {
				return fmt.Errorf("record %s: %w", m.name, err)
			}
			db.applied = append(db.applied, m.name)
		}
		return nil
	})
	if err != nil {
		db.applied = nil
		if _, ok := errors.AsType[*SchemaError](err); ok {
			return err
		}
		return fmt.Errorf("store: migrate %s: %w", db.dialect, err)
	}
	return nil
}

// migrateLock takes the migration lock: on PostgreSQL an advisory lock, for which a replica that
// starts while another applies migrations waits, first telling WithMigrationNotice's function so
// (the other's migrations may take minutes, and it would otherwise wait in silence). On SQLite
// the IMMEDIATE transaction holds the lock already.
func (t *tx) migrateLock(ctx context.Context) error {
	if t.db.dialect != DialectPostgres {
		return nil
	}
	var got bool
	if err := t.queryRow(ctx, "SELECT pg_try_advisory_xact_lock(?, hashtext(current_schema()))", lockMigrate).Scan(&got); err != nil {
		return fmt.Errorf("advisory lock: %w", err)
	}
	if got {
		return nil
	}
	t.db.notify(MigrationNotice{Waiting: true})
	return t.pgLock(ctx, lockMigrate)
}

// noticePending tells WithMigrationNotice's function which migrations are about to be applied to
// a database that has a schema already (current > 0): an upgrade, whose migrations may rewrite
// a trail of millions of rows. A new database gets no notice: its tables are empty.
func (t *tx) noticePending(ctx context.Context, ms []migration, current int) error {
	if t.db.notice == nil || current == 0 {
		return nil
	}
	var n MigrationNotice
	for _, m := range ms {
		if m.version > current {
			n.Pending = append(n.Pending, m.name)
			if m.step != nil {
				n.Rewrite = append(n.Rewrite, m.name)
			}
		}
	}
	if len(n.Pending) == 0 {
		return nil
	}
	if len(n.Rewrite) > 0 {
		if err := t.queryRow(ctx, "SELECT COUNT(*) FROM audit_log").Scan(&n.AuditRows); err != nil {
			return fmt.Errorf("count audit rows: %w", err)
		}
	}
	t.db.notify(n)
	return nil
}

// notify calls WithMigrationNotice's function, if any.
func (db *DB) notify(n MigrationNotice) {
	if db.notice != nil {
		db.notice(n)
	}
}

// migrationsAfter names the migrations the database records after version, oldest first.
func (t *tx) migrationsAfter(ctx context.Context, version int) ([]string, error) {
	rows, err := t.tx.QueryContext(ctx, t.db.rebind("SELECT name FROM schema_migrations WHERE version > ? ORDER BY version"), version)
	if err != nil {
		return nil, fmt.Errorf("read schema version: %w", err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, fmt.Errorf("read schema version: %w", err)
		}
		names = append(names, name)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read schema version: %w", err)
	}
	return names, nil
}

// hasStatements says whether a migration's SQL has more than blank lines and "--" comments.
func hasStatements(sql string) bool {
	for line := range strings.Lines(sql) {
		if l := strings.TrimSpace(line); l != "" && !strings.HasPrefix(l, "--") {
			return true
		}
	}
	return false
}

// nanos stores a time as UTC unix nanoseconds.
// A time before 1678 or after 2262 (a date filter's typo, say) is held to the nearest one int64
// nanoseconds can hold, where t.UnixNano would wrap around and select nothing.
func nanos(t time.Time) int64 {
	switch {
	case t.Before(minNanos):
		return math.MinInt64
	case t.After(maxNanos):
		return math.MaxInt64
	}
	return t.UnixNano()
}

// minNanos and maxNanos are the first and last times nanos can hold exactly.
var minNanos, maxNanos = time.Unix(0, math.MinInt64), time.Unix(0, math.MaxInt64)

// fromNanos reads a stored time back as UTC.
func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }
