package store

import (
	"context"
	"database/sql"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/smtpdesk/smtpdesk/internal/testpg"
)

// TestPostgresTooManyConnectionsIsUnavailable: a new connection that PostgreSQL refuses because
// too many are open (53300: max_connections, or the role's CONNECTION LIMIT, reached, as the idle
// connections of several replicas do) is the database not answering for now: the 503 page, and an
// audit write tried again. It was an error of its own: the page said "Something went wrong" and
// an action's completion was not tried again, leaving its entry pending.
func TestPostgresTooManyConnectionsIsUnavailable(t *testing.T) {
	ctx := context.Background()
	dsn := newPostgresSchema(t)
	owner := openTest(t, dsn) // creates the tables
	limited := testpg.ReadWriteRole(t, dsn)
	u, err := url.Parse(limited)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := owner.sql.ExecContext(ctx, "ALTER ROLE "+u.User.Username()+" CONNECTION LIMIT 1"); err != nil {
		t.Fatal(err)
	}
	db := openTest(t, limited)
	// The role's one connection, held: the next operation needs a new one.
	conn, err := db.sql.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	err = db.Ping(ctx)
	if err == nil {
		t.Fatal("Ping opened a second connection under a CONNECTION LIMIT of 1")
	}
	if !errors.Is(err, ErrUnavailable) {
		t.Errorf("Ping with every allowed connection open: %v; want ErrUnavailable", err)
	}
	if _, err := db.GetSession(ctx, "raw-session-id-0123456789abcdef"); !errors.Is(err, ErrUnavailable) {
		t.Errorf("GetSession with every allowed connection open: %v; want ErrUnavailable", err)
	}
}

// TestPostgresDatabaseNotTakingConnectionsIsUnavailable: a database that takes no connections for
// now (ALTER DATABASE … ALLOW_CONNECTIONS false, during maintenance; 55000 to a new connection)
// is the database not answering: the 503 page, an audit write tried again. It was a 500
// "Something went wrong".
func TestPostgresDatabaseNotTakingConnectionsIsUnavailable(t *testing.T) {
	ctx := context.Background()
	dsn := testpg.Database(t, "")
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	name := strings.TrimPrefix(u.Path, "/")
	admin := openTest(t, newPostgresSchema(t)) // another database, to alter this one from
	t.Cleanup(func() {                         // before the database is dropped (cleanups run last first)
		_, _ = admin.sql.ExecContext(ctx, "ALTER DATABASE "+name+" ALLOW_CONNECTIONS true")
	})
	db := openTest(t, dsn)
	// The pool's connection, held: the next operation needs a new one, which the database refuses.
	conn, err := db.sql.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := admin.sql.ExecContext(ctx, "ALTER DATABASE "+name+" ALLOW_CONNECTIONS false"); err != nil {
		t.Fatal(err)
	}
	err = db.Ping(ctx)
	if err == nil {
		t.Fatal("Ping opened a new connection to a database that allows none")
	}
	if !errors.Is(err, ErrUnavailable) {
		t.Errorf("Ping of a database that takes no connections: %v; want ErrUnavailable", err)
	}
	if _, err := db.GetSession(ctx, "raw-session-id-0123456789abcdef"); !errors.Is(err, ErrUnavailable) {
		t.Errorf("GetSession of a database that takes no connections: %v; want ErrUnavailable", err)
	}
	// A statement's 55000 is not the database's state: it stays an error of its own.
	var tx *sql.Tx
	if tx, err = conn.BeginTx(ctx, nil); err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "CREATE TEMPORARY SEQUENCE never_used"); err != nil {
		t.Fatal(err)
	}
	_, err = tx.ExecContext(ctx, "SELECT currval('never_used')")
	if err == nil || errors.Is(unavailable(ctx, err), ErrUnavailable) {
		t.Errorf("currval before nextval (55000 on a statement) = %v; want an error that is not ErrUnavailable", err)
	}
}
