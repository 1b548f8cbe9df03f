// Package testsqlite damages SQLite files on purpose, for the tests of what SMTP Desk does with
// a file it can open but not read (store's and handlers' tests).
package testsqlite

import (
	"database/sql"
	"os"
	"strings"
	"testing"

	_ "modernc.org/sqlite" // the "sqlite" driver, the one store uses
)

// DamageTable overwrites the root page of table in the SQLite file at path with bytes SQLite
// cannot read, leaving the file's header (its first page) as it was: the file still opens and
// pings, and any statement that reads table fails with SQLITE_CORRUPT. The file must not be open
// for writing (close the database first, so that its WAL is checkpointed into the file).
func DamageTable(t testing.TB, path, table string) {
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
