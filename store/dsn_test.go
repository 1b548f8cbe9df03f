package store

import "testing"

func TestSQLiteFile(t *testing.T) {
	for _, tc := range []struct {
		dsn  string
		want string
		ok   bool
	}{
		{"smtpdesk.db", "smtpdesk.db", true},
		{"/var/lib/smtp-desk/smtpdesk.db", "/var/lib/smtp-desk/smtpdesk.db", true},
		{"sqlite:/data/x.db", "/data/x.db", true},
		{"sqlite:///data/x.db", "/data/x.db", true},
		{"postgres://u@h:5432/db", "", false},
		{"postgresql://u@h/db", "", false},
		{"file:x.db?mode=ro", "", false},
		{":memory:", "", false},
		{"sqlite::memory:", "", false},
		{"x.db?cache=shared", "", false}, // Open refuses it
		{"", "", false},
		{"sqlite:", "", false},
	} {
		got, ok := SQLiteFile(tc.dsn)
		if got != tc.want || ok != tc.ok {
			t.Errorf("SQLiteFile(%q) = %q, %v; want %q, %v", tc.dsn, got, ok, tc.want, tc.ok)
		}
	}
}
