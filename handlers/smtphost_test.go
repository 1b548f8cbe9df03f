package handlers_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/smtpdesk/smtpdesk/handlers"
)

// TestSecretsNameTheSMTPServer: the page that shows a new password names Mailgun's SMTP server
// and port, for the app that needs them beside it; without a known server it names none.
func TestSecretsNameTheSMTPServer(t *testing.T) {
	for _, host := range []string{"smtp.eu.mailgun.org", ""} {
		e := newEnv(t, envOptions{Settings: handlers.Settings{SMTPHost: host}})
		c := e.signIn(t, "admin")
		p := submit(t, c, "/d/example.com/new", "/d/example.com/new", map[string]string{"logins": "smtp-host-check", "mode": "generate"})
		wantStatus(t, p, http.StatusOK)
		if len(secretsOn(p)) != 1 {
			t.Fatalf("SMTPHost %q: want one password shown, got %v", host, secretsOn(p))
		}
		box := p.TestID("smtp-settings")
		if host == "" {
			if box.Length() != 0 {
				t.Errorf("with no SMTP server known, the page names one: %q", box.Text())
			}
			continue
		}
		if got := strings.TrimSpace(p.TestID("smtp-host").Text()); got != host {
			t.Errorf("SMTP server %q, want %q", got, host)
		}
		if text := strings.Join(strings.Fields(box.Text()), " "); !strings.Contains(text, "587 with STARTTLS") || !strings.Contains(text, "the password above") {
			t.Errorf("SMTP settings %q, want the port and the password's place", text)
		}
	}
}
