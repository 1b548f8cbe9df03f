package handlers_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"net/http"
	"testing"
	"time"

	"github.com/smtpdesk/smtpdesk/handlers"
	"github.com/smtpdesk/smtpdesk/mailgun/sandbox"
	"github.com/smtpdesk/smtpdesk/store"
)

// slowAuditLog hands each entry of EachAudit on after a pause every 100 entries: a trail long
// enough, or a database slow enough, that its export takes longer than the server's write
// timeout.
type slowAuditLog struct {
	handlers.AuditLog
	pause time.Duration
}

func (s slowAuditLog) EachAudit(ctx context.Context, f store.AuditFilter, fn func(store.AuditEntry) error) error {
	n := 0
	return s.AuditLog.EachAudit(ctx, f, func(e store.AuditEntry) error {
		if n++; n%100 == 0 {
			time.Sleep(s.pause)
		}
		return fn(e)
	})
}

// TestDownloadsOutliveTheWriteTimeout: the server's write timeout (app.WriteTimeout, 90 s)
// bounds a page, counted from the request; a download that is still moving must not be cut by
// it, or a large trail's export, or the logins of many domains, could never be downloaded
// whole: the browser reported a failed download after 90 s however fast it read.
func TestDownloadsOutliveTheWriteTimeout(t *testing.T) {
	const writeTimeout = 400 * time.Millisecond

	t.Run("audit exports", func(t *testing.T) {
		e := newEnv(t, envOptions{WriteTimeout: writeTimeout, AuditLog: func(l handlers.AuditLog) handlers.AuditLog {
			return slowAuditLog{AuditLog: l, pause: 100 * time.Millisecond} // 1 s in all for 1,000 entries
		}})
		seedAudit(t, e, 1000, "acme.example", "credential.create", "a@acme.example")
		c := e.signIn(t, "operator")
		for _, path := range []string{"/audit/export.csv?domain=acme.example", "/audit/export.jsonl?domain=acme.example"} {
			p, err := c.Get(context.Background(), path)
			if err != nil {
				t.Fatalf("%s: %v (the download was cut)", path, err)
			}
			wantStatus(t, p, http.StatusOK)
			lines := bytes.Count(p.Body, []byte("\n"))
			want := 1000
			if path == "/audit/export.csv?domain=acme.example" {
				want++ // the header
			}
			if lines != want {
				t.Errorf("%s: %d lines, want %d", path, lines, want)
			}
		}
	})

	t.Run("every domain's logins", func(t *testing.T) {
		e := newEnv(t, envOptions{WriteTimeout: writeTimeout})
		// Each list call a quarter of a second: the four domains' lists take longer than the
		// write timeout.
		e.SB.SetFaults(sandbox.Faults{Routes: []string{sandbox.RouteList}, Latency: 250 * time.Millisecond})
		c := e.signIn(t, "admin")
		p, err := c.Get(context.Background(), "/export.csv")
		if err != nil {
			t.Fatalf("/export.csv: %v (the download was cut)", err)
		}
		wantStatus(t, p, http.StatusOK)
		records, err := csv.NewReader(bytes.NewReader(p.Body)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		want := 1 // the header
		for _, d := range e.SB.Domains() {
			want += len(e.SB.Logins(d))
		}
		if len(records) != want {
			t.Errorf("%d records, want %d (the header and every login of %v)", len(records), want, e.SB.Domains())
		}
	})
}
