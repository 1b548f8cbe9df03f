package store

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smtpdesk/smtpdesk/internal/testsqlite"
)

// TestDamageFoundIsKept: a SQLite file damaged past its header opens and pings, since a ping
// reads nothing of it; an operation that reads the damaged part fails with an error Damaged
// reports, and from then on Ping fails with that damage (the /readyz of every later request),
// though the ping itself still reads nothing. Both SQLite words for it count: SQLITE_CORRUPT
// (a damaged page) here.
func TestDamageFoundIsKept(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "test.db")
	db := openTest(t, path)
	if err := db.Close(); err != nil { // the last close checkpoints the WAL into the file
		t.Fatal(err)
	}
	testsqlite.DamageTable(t, path, "sessions")

	db = openTest(t, path)
	if err := db.Ping(ctx); err != nil {
		t.Fatalf("Ping before any operation met the damage: %v, want nil (a ping reads no table)", err)
	}
	err := db.CreateSession(ctx, SessionRecord{ID: "s", CreatedAt: t0, LastSeen: t0, ExpiresAt: t0.Add(time.Hour)})
	if err == nil || !Damaged(err) {
		t.Fatalf("CreateSession in a damaged table: err = %v, want one Damaged reports", err)
	}
	err = db.Ping(ctx)
	if err == nil || !Damaged(err) {
		t.Fatalf("Ping after an operation met the damage: err = %v, want the damage", err)
	}
	if !strings.Contains(err.Error(), "damaged") {
		t.Errorf("Ping's error %q does not say the file is damaged", err)
	}
}
