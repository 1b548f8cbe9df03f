package secretscan

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRecordLogWriterKeepDB: with a scan directory, secrets, log lines and database copies land
// in it under the documented names.
func TestRecordLogWriterKeepDB(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(EnvDir, dir)
	if got := Dir(); got != dir {
		t.Fatalf("Dir() = %q, want %q", got, dir)
	}
	Record("api key", "key-abc")
	Record("password", "")           // empty: ignored
	Record("password", "two\nlines") // cannot be stored: ignored
	Record("kind\twith tab", "pw-1")

	dbDir := t.TempDir()
	db := filepath.Join(dbDir, "smtpdesk.db")
	for _, f := range []string{db, db + "-wal"} {
		if err := os.WriteFile(f, []byte("content of "+filepath.Base(f)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var harness strings.Builder
	t.Run("sub/test", func(t *testing.T) {
		w := LogWriter(t, &harness)
		fmt.Fprintln(w, "line one")
		KeepDB(t, db)
	})

	b, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("secrets-%d.txt", os.Getpid())))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), "api key\tkey-abc\nkind with tab\tpw-1\n"; got != want {
		t.Errorf("secrets file = %q, want %q", got, want)
	}
	if got, want := harness.String(), "line one\n"; got != want {
		t.Errorf("harness writer got %q, want %q", got, want)
	}
	b, err = os.ReadFile(filepath.Join(dir, fmt.Sprintf("logs-%d-TestRecordLogWriterKeepDB_sub_test.log", os.Getpid())))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), "line one\n"; got != want {
		t.Errorf("log copy = %q, want %q", got, want)
	}
	for _, base := range []string{"smtpdesk.db", "smtpdesk.db-wal"} {
		m, _ := filepath.Glob(filepath.Join(dir, fmt.Sprintf("db-%d-TestRecordLogWriterKeepDB_sub_test-*-%s", os.Getpid(), base)))
		if len(m) != 1 {
			t.Fatalf("copies of %s: %v, want one", base, m)
		}
		b, _ := os.ReadFile(m[0])
		if got, want := string(b), "content of "+base; got != want {
			t.Errorf("copy of %s = %q, want %q", base, got, want)
		}
	}
}

// TestNoDir: without a scan directory nothing is written and the harness writer is returned.
func TestNoDir(t *testing.T) {
	t.Setenv(EnvDir, "")
	var harness strings.Builder
	if w := LogWriter(t, &harness); w != &harness {
		t.Errorf("LogWriter without a directory = %T, want the harness writer itself", w)
	}
	Record("api key", "key-abc") // must not panic or write anywhere
	KeepDB(t, "/nonexistent/smtpdesk.db")
}
