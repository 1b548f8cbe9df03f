package secretscan

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFileSafe pins how a test name becomes a file name part: letters, digits, '-', '_' and '.'
// stay, anything else becomes '_', and the result is cut to 120 bytes.
func TestFileSafe(t *testing.T) {
	tests := []struct{ name, want string }{
		{"TestA/sub test#1", "TestA_sub_test_1"},
		{"az-AZ_09.x", "az-AZ_09.x"},
		{"é*?", "____"},
		{strings.Repeat("a", 119) + "/b", strings.Repeat("a", 119) + "_"},
		{strings.Repeat("x", 300), strings.Repeat("x", 120)},
	}
	for _, tc := range tests {
		if got := fileSafe(tc.name); got != tc.want {
			t.Errorf("fileSafe(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestLogWriterCopy pins the log copy: a nil harness writer works, a test name too long for a
// file name still gets a copy, two writers in one test append to the same copy, and a write after
// the test has ended is ignored.
func TestLogWriterCopy(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(EnvDir, dir)
	long := "L" + strings.Repeat("x", 299)
	var late []io.Writer
	t.Run(long, func(t *testing.T) {
		w1 := LogWriter(t, nil)
		fmt.Fprintln(w1, "first")
		w2 := LogWriter(t, nil)
		fmt.Fprintln(w2, "second")
		late = append(late, w1, w2)
	})
	for _, w := range late {
		if _, err := fmt.Fprintln(w, "late"); err != nil {
			t.Errorf("a write after the test ended: %v", err)
		}
	}
	name := fmt.Sprintf("logs-%d-%s.log", os.Getpid(), fileSafe(t.Name()+"/"+long))
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), "first\nsecond\n"; got != want {
		t.Errorf("log copy = %q, want %q", got, want)
	}
}

// TestKeepDBAllFiles pins the database copies: every path given, each with its -wal, -shm and
// -journal files, copied when the test ends (so writes after the KeepDB call are in the copy).
func TestKeepDBAllFiles(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(EnvDir, dir)
	src := t.TempDir()
	dbs := []string{filepath.Join(src, "one.db"), filepath.Join(src, "two.db")}
	t.Run("keep", func(t *testing.T) {
		KeepDB(t, dbs...)
		for _, db := range dbs {
			for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
				f := db + suffix
				if err := os.WriteFile(f, []byte("content of "+filepath.Base(f)), 0o600); err != nil {
					t.Fatal(err)
				}
			}
		}
	})
	for _, db := range dbs {
		for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
			base := filepath.Base(db + suffix)
			m, _ := filepath.Glob(filepath.Join(dir, fmt.Sprintf("db-%d-TestKeepDBAllFiles_keep-*-%s", os.Getpid(), base)))
			if len(m) != 1 {
				t.Errorf("copies of %s: %v, want one", base, m)
				continue
			}
			b, _ := os.ReadFile(m[0])
			if got, want := string(b), "content of "+base; got != want {
				t.Errorf("copy of %s = %q, want %q", base, got, want)
			}
		}
	}
}

// recordTB records the errors and cleanups of a testing.TB, so that a test can check that a
// failure is reported without failing itself.
type recordTB struct {
	testing.TB
	errs     []string
	cleanups []func()
}

func (r *recordTB) Helper()          {}
func (r *recordTB) Cleanup(f func()) { r.cleanups = append(r.cleanups, f) }
func (r *recordTB) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

// TestKeepDBReportsCopyErrors pins that a database file that cannot be opened or copied fails the
// test (the scan would otherwise miss it), while a missing file is no error.
func TestKeepDBReportsCopyErrors(t *testing.T) {
	t.Setenv(EnvDir, t.TempDir())
	src := t.TempDir()
	plain := filepath.Join(src, "plain")
	if err := os.WriteFile(plain, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		path     string
		wantErrs int
	}{
		{"missing", filepath.Join(src, "missing.db"), 0},
		{"a directory cannot be copied", src, 1},
		{"a path through a file cannot be opened", filepath.Join(plain, "x.db"), 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recordTB{TB: t}
			KeepDB(rec, tc.path)
			for i := len(rec.cleanups) - 1; i >= 0; i-- {
				rec.cleanups[i]()
			}
			if got := len(rec.errs); got != tc.wantErrs {
				t.Errorf("errors %q, want %d", rec.errs, tc.wantErrs)
			}
		})
	}
}
