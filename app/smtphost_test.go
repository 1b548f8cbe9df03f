package app

import (
	"testing"

	"github.com/smtpdesk/smtpdesk/config"
)

// TestSMTPHost: the SMTP server named beside a new password follows MAILGUN_REGION, is unknown
// behind MAILGUN_BASE_URL, and is the US one in the demo.
func TestSMTPHost(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  config.Config
		want string
	}{
		{"us", config.Config{Mailgun: config.Mailgun{Region: "us"}}, "smtp.mailgun.org"},
		{"region unset", config.Config{}, "smtp.mailgun.org"},
		{"eu", config.Config{Mailgun: config.Mailgun{Region: "eu"}}, "smtp.eu.mailgun.org"},
		{"another API", config.Config{Mailgun: config.Mailgun{BaseURL: "https://mailgun-proxy.corp.example"}}, ""},
		{"demo", config.Config{Demo: true, Mailgun: config.Mailgun{BaseURL: "http://127.0.0.1:8025"}}, "smtp.mailgun.org"},
	} {
		if got := smtpHost(tc.cfg); got != tc.want {
			t.Errorf("%s: smtpHost = %q, want %q", tc.name, got, tc.want)
		}
	}
}
