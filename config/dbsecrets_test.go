package config_test

import (
	"slices"
	"testing"

	"github.com/smtpdesk/smtpdesk/config"
)

// TestDatabaseSecretsAsWrittenAndDecoded: DatabaseSecrets names each password of a PostgreSQL
// DATABASE_URL (the user's, and every query parameter whose name holds "password") both as
// written in the URL and decoded, since a driver's or a library's error may quote either; the
// caller (app.hideSecrets) hides only what this list names.
func TestDatabaseSecretsAsWrittenAndDecoded(t *testing.T) {
	cfg := config.Config{DatabaseURL: config.Secret("postgres://smtpdesk:s3cret%2Fpw@db.example:5432/smtpdesk?SSLPassword=k%40y%21&sslmode=require")}
	got := cfg.DatabaseSecrets()
	for _, want := range []string{"s3cret%2Fpw", "s3cret/pw", "k%40y%21", "k@y!"} {
		if !slices.Contains(got, want) {
			t.Errorf("DatabaseSecrets() = %q, missing %q", got, want)
		}
	}
	if got := (config.Config{DatabaseURL: config.Secret("/var/lib/smtpdesk/smtpdesk.db")}).DatabaseSecrets(); len(got) != 0 {
		t.Errorf("DatabaseSecrets() of a SQLite path = %q, want none", got)
	}
}
