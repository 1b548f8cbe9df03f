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

func TestURIFile(t *testing.T) {
	for _, tc := range []struct {
		dsn  string
		want string
		ok   bool
	}{
		{"file:x.db", "x.db", true},
		{"file:x.db?mode=ro&_pragma=busy_timeout(5000)", "x.db", true},
		{"file:/data/x.db", "/data/x.db", true},
		{"file:///data/x.db", "/data/x.db", true},
		{"file://localhost/data/x.db", "/data/x.db", true},
		{"file:///data/my%20logins.db", "/data/my logins.db", true},
		{"file:my%20logins.db", "my logins.db", true},
		{"file://example.com/data/x.db", "", false},
		{"file::memory:", "", false},
		{"file:x.db?mode=memory", "", false},
		{"file:/x.db?vfs=memdb", "", false},
		{"file:", "", false},
		{"x.db", "", false},
		{"postgres://u@h/db", "", false},
	} {
		got, ok := uriFile(tc.dsn)
		if got != tc.want || ok != tc.ok {
			t.Errorf("uriFile(%q) = %q, %v; want %q, %v", tc.dsn, got, ok, tc.want, tc.ok)
		}
	}
}
