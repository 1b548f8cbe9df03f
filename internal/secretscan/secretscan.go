// Package secretscan lets the test suite leave its secrets, log output and database files in one
// directory, so that a scan after the whole suite (cmd/secretscan, run by scripts/test.sh) can
// prove that no generated password, API key or session id ever reached a log or the database
// (SECURITY.md item 18).
//
// It is test-only code: the directory comes from the environment variable SMTPDESK_SECRET_SCAN_DIR,
// and every function is a no-op when that variable is unset, so tests run the same without it.
//
// Layout of the directory:
//
//	secrets-<pid>.txt             one secret a line: kind TAB value
//	logs-<pid>-<test>.log         a test's application log output
//	db-<pid>-<test>-<rand>-<file> a copy of a test's SQLite file (and its -wal, -shm)
//
// Every file that is not a secrets file is scanned for every secret.
package secretscan

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// EnvDir is the environment variable that names the scan directory.
const EnvDir = "SMTPDESK_SECRET_SCAN_DIR"

// SecretsPrefix and SecretsSuffix frame the names of the files that hold secrets; every other
// file in the directory is scanned.
const (
	SecretsPrefix = "secrets-"
	SecretsSuffix = ".txt"
)

// Dir returns the scan directory, "" when SMTPDESK_SECRET_SCAN_DIR is unset (then nothing is
// recorded).
func Dir() string { return os.Getenv(EnvDir) }

// Record appends a secret (kind names it, e.g. "Mailgun API key"; value is the secret itself) to
// this process's secrets file. It is a no-op when Dir is "" or value is empty. Values with a line
// break cannot be stored in the line format and are reported on stderr instead. Its signature
// fits sandbox.WithSecretSink. Safe for concurrent use.
func Record(kind, value string) {
	dir := Dir()
	if dir == "" || value == "" {
		return
	}
	if strings.ContainsAny(value, "\r\n") {
		fmt.Fprintf(os.Stderr, "secretscan: a %s with a line break cannot be recorded\n", kind)
		return
	}
	kind = strings.NewReplacer("\t", " ", "\n", " ", "\r", " ").Replace(kind)
	name := filepath.Join(dir, fmt.Sprintf("%s%d%s", SecretsPrefix, os.Getpid(), SecretsSuffix))
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		fmt.Fprintf(os.Stderr, "secretscan: record a %s: %v\n", kind, err)
		return
	}
	// One write of one line: O_APPEND keeps concurrent writers' lines whole.
	if _, err := f.WriteString(kind + "\t" + value + "\n"); err != nil {
		fmt.Fprintf(os.Stderr, "secretscan: record a %s: %v\n", kind, err)
	}
	if err := f.Close(); err != nil {
		fmt.Fprintf(os.Stderr, "secretscan: record a %s: %v\n", kind, err)
	}
}

// LogWriter returns a writer for an application logger that writes to w (may be nil) and, when
// Dir is set, also appends to logs-<pid>-<test>.log in the scan directory; the file is closed when
// the test ends. Without a scan directory it returns w itself (io.Discard when w is nil). Safe
// for concurrent use when w is.
func LogWriter(t testing.TB, w io.Writer) io.Writer {
	t.Helper()
	if w == nil {
		w = io.Discard
	}
	dir := Dir()
	if dir == "" {
		return w
	}
	name := filepath.Join(dir, fmt.Sprintf("logs-%d-%s.log", os.Getpid(), fileSafe(t.Name())))
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatalf("secretscan: open the log copy: %v", err)
	}
	lf := &logFile{f: f}
	t.Cleanup(lf.close)
	return &tee{w: w, f: lf}
}

// logFile is a log copy that ignores writes once the test has ended (a goroutine may log late).
type logFile struct {
	mu     sync.Mutex
	f      *os.File
	closed bool
}

func (l *logFile) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return len(p), nil
	}
	return l.f.Write(p)
}

func (l *logFile) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	_ = l.f.Close()
}

// tee writes to the harness's writer and the log copy; the copy's errors never fail a log call.
type tee struct {
	w io.Writer
	f *logFile
}

func (t *tee) Write(p []byte) (int, error) {
	_, _ = t.f.Write(p)
	return t.w.Write(p)
}

// KeepDB copies each SQLite file in paths, with its -wal and -shm files when they exist, into the
// scan directory when the test ends (call it before registering the cleanup that closes the
// database, so the copy is taken after the close). A no-op when Dir is "".
func KeepDB(t testing.TB, paths ...string) {
	t.Helper()
	dir := Dir()
	if dir == "" {
		return
	}
	t.Cleanup(func() {
		for _, p := range paths {
			for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
				src := p + suffix
				pattern := fmt.Sprintf("db-%d-%s-*-%s", os.Getpid(), fileSafe(t.Name()), filepath.Base(src))
				if err := copyFile(src, dir, pattern); err != nil {
					t.Errorf("secretscan: keep %s: %v", src, err)
				}
			}
		}
	})
}

// copyFile copies src to a new file in dir named after pattern (see os.CreateTemp); a missing
// src is no error.
func copyFile(src, dir, pattern string) error {
	in, err := os.Open(src)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	defer in.Close()
	out, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return fmt.Errorf("create copy: %w", err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy: %w", err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("close copy: %w", err)
	}
	return nil
}

// fileSafe turns a test name into a file name part.
func fileSafe(name string) string {
	b := []byte(name)
	for i, c := range b {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.':
		default:
			b[i] = '_'
		}
	}
	if len(b) > 120 {
		b = b[:120]
	}
	return string(b)
}
