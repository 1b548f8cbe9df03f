package handlers_test

import (
	"database/sql"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/smtpdesk/smtpdesk/internal/testpg"
	"github.com/smtpdesk/smtpdesk/store"
)

// TestDatabaseNotAnswering: while another connection holds a lock on the sessions table, a
// signed-in page view's session lookup runs into the store's deadline, and the user gets the 503
// page that says the database is not answering, with the request id, instead of a page that
// never comes or a 500; the log has it at Error. Once the lock is gone the session works again.
func TestDatabaseNotAnswering(t *testing.T) {
	dsn := testpg.Schema(t)
	// Short for the test, long against any query the sign-in makes.
	e := newEnv(t, envOptions{DatabaseURL: dsn, StoreOptions: []store.Option{store.WithTimeout(3 * time.Second)}})
	c := e.signIn(t, "admin")

	other, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	tx, err := other.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.Exec("LOCK TABLE sessions IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}

	p := get(t, c, "/")
	wantStatus(t, p, http.StatusServiceUnavailable)
	if got := p.TestID("error-heading").Text(); got != "The database is not answering" {
		t.Errorf("heading = %q", got)
	}
	if got := p.TestID("error-hint").Text(); !strings.Contains(got, "Try again in a minute") {
		t.Errorf("hint = %q, want it to say when to try again", got)
	}
	id := p.Header.Get("X-Request-ID")
	if got := p.TestID("request-id").Text(); id == "" || got != id {
		t.Errorf("page request id = %q, header %q", got, id)
	}
	var logged bool
	for _, line := range e.Logs.Lines() {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil || rec["msg"] != "request failed" || rec["request_id"] != id {
			continue
		}
		logged = true
		if rec["level"] != "ERROR" || rec["status"] != float64(http.StatusServiceUnavailable) {
			t.Errorf("logged at %v with status %v, want ERROR and 503: %s", rec["level"], rec["status"], line)
		}
		if msg, _ := rec["error"].(string); !strings.Contains(msg, "the database is not answering") {
			t.Errorf("logged error %q does not say what failed", msg)
		}
	}
	if !logged {
		t.Errorf("no \"request failed\" record with request id %s:\n%s", id, e.Logs.String())
	}

	// The page's stylesheet and script come without the session, so the page that says the
	// database is not answering is not left unstyled by it.
	var assets []string
	p.Find(`link[rel="stylesheet"], script[src]`).Each(func(_ int, s *goquery.Selection) {
		if u, ok := s.Attr("href"); ok {
			assets = append(assets, u)
		} else if u, ok := s.Attr("src"); ok {
			assets = append(assets, u)
		}
	})
	if len(assets) < 2 {
		t.Fatalf("the 503 page links %q, want its stylesheet and script", assets)
	}
	for _, u := range assets {
		if a := get(t, c, u); a.Status != http.StatusOK {
			t.Errorf("GET %s while the database does not answer: %d, want 200", u, a.Status)
		}
	}

	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, get(t, c, "/"), http.StatusOK)
}
