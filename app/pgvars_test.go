package app

import (
	"os"
	"slices"
	"strings"
	"testing"
)

// TestPgVarsSetNamesOnlyDriverVariables (a review helper's): the unusable-settings error says "in DATABASE_URL
// or in the PostgreSQL variable that sets it (set here: …)". pgVarsSet names every variable whose
// name begins with PG, so a container's PGID (linuxserver.io images' group id, beside PUID) or
// PGDATA (the postgres image's data directory), which pgx never reads, and a PGSSLMODE set to ""
// (which pgx ignores) are named as where the setting came from.
func TestPgVarsSetNamesOnlyDriverVariables(t *testing.T) {
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "PG") {
			t.Setenv(name, "")
			os.Unsetenv(name)
		}
	}
	t.Setenv("PGID", "1000")
	t.Setenv("PGDATA", "/var/lib/postgresql/data")
	t.Setenv("PGSSLMODE", "")
	t.Setenv("PGCONNECT_TIMEOUT", "abc")
	got := pgVarsSet()
	if !slices.Equal(got, []string{"PGCONNECT_TIMEOUT"}) {
		t.Errorf("pgVarsSet() = %q, want only the variable pgx reads: [PGCONNECT_TIMEOUT]", got)
	}
}
