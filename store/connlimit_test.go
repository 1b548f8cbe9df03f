package store

import (
	"context"
	"errors"
	"net/url"
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
