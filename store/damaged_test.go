package store

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
	damageTable(t, path, "sessions")

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

// damageTable overwrites the root page of table in the SQLite file at path with bytes SQLite
// cannot read, leaving the file's header (its first page) as it was.
func damageTable(t *testing.T, path, table string) {
	t.Helper()
	raw, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	var pageSize, root int64
	if err := raw.QueryRow("PRAGMA page_size").Scan(&pageSize); err != nil {
		t.Fatal(err)
	}
	if err := raw.QueryRow("SELECT rootpage FROM sqlite_master WHERE type = 'table' AND name = ?", table).Scan(&root); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	if root < 2 {
		t.Fatalf("%s's root page is %d: damaging it would damage the header", table, root)
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt([]byte(strings.Repeat("\xff", int(pageSize))), (root-1)*pageSize); err != nil {
		t.Fatal(err)
	}
}
