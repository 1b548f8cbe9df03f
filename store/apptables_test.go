package store

import (
	"io/fs"
	"maps"
	"regexp"
	"slices"
	"testing"
)

// TestAppTablesAreTheMigrations: CheckWritable asks every table the migrations create.
func TestAppTablesAreTheMigrations(t *testing.T) {
	for _, dialect := range []string{"sqlite", "postgres"} {
		made := map[string]bool{}
		files, err := fs.Glob(migrationFS, "migrations/"+dialect+"/*.sql")
		if err != nil || len(files) == 0 {
			t.Fatalf("%s migrations: %v %v", dialect, files, err)
		}
		for _, f := range files {
			b, err := fs.ReadFile(migrationFS, f)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range regexp.MustCompile(`(?i)CREATE TABLE (\w+)`).FindAllStringSubmatch(string(b), -1) {
				made[m[1]] = true
			}
		}
		delete(made, "schema_migrations")
		got := map[string]bool{}
		for _, tb := range appTables {
			got[tb.name] = true
		}
		if !maps.Equal(made, got) {
			t.Errorf("%s: the migrations create %v, CheckWritable asks %v", dialect, slices.Sorted(maps.Keys(made)), slices.Sorted(maps.Keys(got)))
		}
	}
}
