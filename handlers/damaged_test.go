package handlers_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smtpdesk/smtpdesk/handlers"
	"github.com/smtpdesk/smtpdesk/internal/testflow"
	"github.com/smtpdesk/smtpdesk/internal/testsqlite"
	"github.com/smtpdesk/smtpdesk/store"
)

// TestDamagedSQLiteFileSaysSo: a SQLite file damaged inside, past its header (a disk fault, a copy
// taken mid-write), lets the server start, and a request that reads the damaged part (here the
// sessions table, at sign-in) fails. Its page says the database is damaged and that the file needs
// restoring, without "Try again", and the log names SQLite's error. It was the generic "Something
// went wrong … Try again" page, which sent users into retrying what cannot work.
func TestDamagedSQLiteFileSaysSo(t *testing.T) {
	path := filepath.Join(t.TempDir(), "smtpdesk.db")
	db, err := store.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil { // the last close checkpoints the WAL into the file
		t.Fatal(err)
	}
	testsqlite.DamageTable(t, path, "sessions")

	e := newEnv(t, envOptions{DatabaseURL: path})
	// A ping reads nothing of the file: the damage is unseen until a request reads the part.
	wantReady(t, e.URL, http.StatusOK, "ok")
	c, err := testflow.New(e.URL)
	if err != nil {
		t.Fatal(err)
	}
	// The sessions table cannot be written: the sign-in makes no session and ends on the error page.
	p, err := c.SignIn(context.Background(), "admin")
	if !errors.Is(err, testflow.ErrNoSession) {
		t.Fatalf("SignIn = %v, want testflow.ErrNoSession", err)
	}
	wantStatus(t, p, http.StatusInternalServerError)
	if got := p.TestID("error-heading").Text(); got != "SMTP Desk's database is damaged" {
		t.Errorf("heading = %q, want it to say the database is damaged", got)
	}
	if got := p.TestID("error-hint").Text(); !strings.Contains(got, "restored from a backup") {
		t.Errorf("hint = %q, want it to say the file needs restoring", got)
	}
	if got := p.TestID("next-link").Text(); strings.Contains(got, "Try again") {
		t.Errorf("the page offers %q, which cannot help", got)
	}
	if !strings.Contains(e.Logs.String(), "malformed") {
		t.Errorf("the log does not name SQLite's error:\n%s", e.Logs.String())
	}
	// Once a request has met the damage, /readyz says so (it answered 200 "ok", since its ping
	// reads no table), and goes on saying so: the file stays damaged until it is restored.
	for range 2 {
		wantReady(t, e.URL, http.StatusServiceUnavailable, "damaged")
	}
}

// wantReady checks that base's /readyz answers status with database state db.
func wantReady(t *testing.T, base string, status int, db string) {
	t.Helper()
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var rep handlers.ReadyReport
	if err := json.NewDecoder(resp.Body).Decode(&rep); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != status || rep.Database != db {
		t.Errorf("/readyz = %d, database %q; want %d, %q", resp.StatusCode, rep.Database, status, db)
	}
}
