package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestSQLiteFileRemovedOrReplaced: once the SQLite file is removed or replaced while SMTP Desk
// runs, every operation fails with a *FileGoneError naming it, the ping (/readyz) included, and
// nothing more is written. The open connections kept using the old file: an audit entry was
// "written" to a removed file, lost at the next restart, with /readyz saying ready, so the change
// it announced reached Mailgun with no entry to show for it.
//
// The file named by a file: URI is watched as one named by a plain path: a DATABASE_URL written
// as a URI (to pass SQLite parameters) went on writing a removed file.
func TestSQLiteFileRemovedOrReplaced(t *testing.T) {
	at := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	forms := []struct {
		name string
		dsn  func(path string) string
	}{
		{"path", func(path string) string { return path }},
		{"file URI", func(path string) string { return "file:" + path + "?_pragma=foreign_keys(1)" }},
		{"file URI with authority", func(path string) string { return "file://" + path }},
	}
	for _, form := range forms {
		for _, replaced := range []bool{false, true} {
			name := "removed"
			if replaced {
				name = "replaced"
			}
			t.Run(form.name+"/"+name, func(t *testing.T) {
				path := filepath.Join(t.TempDir(), "test.db")
				dsn := form.dsn(path)
				db := testDB{DB: openTest(t, dsn), dsn: dsn}
				fileRemovedOrReplaced(t, db, path, replaced, name, at)
			})
		}
	}
}

// fileRemovedOrReplaced removes the file at path, which db opened, and puts another database
// there when replaced, then checks that every operation fails with a *FileGoneError naming path.
func fileRemovedOrReplaced(t *testing.T, db testDB, path string, replaced bool, name string, at time.Time) {
	t.Helper()
	ctx := context.Background()
	mustAppend(t, db, entry(at, "ada@example.com", "auth.sign_in", "", "ok"))
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Remove(path + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
	}
	if replaced {
		// Another SMTP Desk database at the path: a backup copied over the file.
		newer := openTest(t, db.dsn)
		newer.Close()
	}

	_, err := db.AppendAudit(ctx, entry(at, "ada@example.com", "credential.reset", "acme.example", "pending", "alice@acme.example"))
	var gone *FileGoneError
	if !errors.As(err, &gone) || gone.Path != path || gone.Replaced != replaced {
		t.Fatalf("AppendAudit after the file was %s: err = %v; want a *FileGoneError for %q, Replaced %v", name, err, path, replaced)
	}
	if errors.Is(err, ErrUnavailable) {
		t.Errorf("a file gone reads as the database not answering, tried again and again: %v", err)
	}
	if err := db.Ping(ctx); !errors.As(err, &gone) {
		t.Errorf("Ping after the file was %s: %v; want a *FileGoneError (/readyz not ready)", name, err)
	}
	if _, err := db.GetSession(ctx, "raw-session-id-0123456789abcdef"); !errors.As(err, &gone) {
		t.Errorf("GetSession after the file was %s: %v; want a *FileGoneError", name, err)
	}
	// The two long jobs run outside op (no deadline): retention deleted the prefix of
	// whichever file its connection held, and the check verified it.
	if _, err := db.DeleteAuditBefore(ctx, at.Add(time.Hour)); !errors.As(err, &gone) {
		t.Errorf("DeleteAuditBefore after the file was %s: %v; want a *FileGoneError", name, err)
	}
	if _, err := db.VerifyAudit(ctx); !errors.As(err, &gone) {
		t.Errorf("VerifyAudit after the file was %s: %v; want a *FileGoneError", name, err)
	}
}
