package main

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smtpdesk/smtpdesk/internal/testlog"
	"github.com/smtpdesk/smtpdesk/internal/testpg"
	"github.com/smtpdesk/smtpdesk/store"
)

// TestUpgradeSaysWhatItMigrates: on a database an older SMTP Desk left (here the schema of
// migration 0002, as versions of early December had it), "web migrate" and the server say which
// migrations they are about to apply, that 0003 goes through each row of the audit trail and how many
// rows that is, before they do it; the server then logs that they are applied. Both said nothing
// until done: on a trail of a million entries, two minutes of a start that answered nothing,
// health checks included, which an operator or an orchestrator stopped, undoing it. A new
// database's start says none of it.
func TestUpgradeSaysWhatItMigrates(t *testing.T) {
	for _, dialect := range []string{store.DialectSQLite, store.DialectPostgres} {
		t.Run(dialect, func(t *testing.T) {
			ctx := context.Background()
			dsn, driver := filepath.Join(t.TempDir(), "smtpdesk.db"), "sqlite"
			if dialect == store.DialectPostgres {
				dsn, driver = testpg.Schema(t), "pgx"
			}
			appendTwoSignIns(t, dsn)
			// Back to how the older version left it. A connection of its own each time: a SQLite
			// connection that read the schema before "web migrate" changed it looks columns up
			// in the schema it read (DROP COLUMN fails with "no such column").
			rollBack := func() {
				t.Helper()
				raw, err := sql.Open(driver, dsn)
				if err != nil {
					t.Fatal(err)
				}
				defer raw.Close()
				for _, q := range []string{"ALTER TABLE audit_log DROP COLUMN actor_fold", "DROP TABLE used_forms",
					"DROP INDEX audit_entry_domain_acted", "DROP INDEX audit_entry_domain_action", "DROP TABLE audit_retained",
					"ALTER TABLE audit_anchor DROP COLUMN retained",
					"DELETE FROM schema_migrations WHERE version > 2"} {
					if _, err := raw.ExecContext(ctx, q); err != nil {
						t.Fatalf("%s: %v", q, err)
					}
				}
			}
			const notice = "applying 5 migrations (0003_fold_audit_actors.sql, 0004_used_forms.sql, 0005_audit_acted_domains.sql, " +
				"0006_audit_domain_action.sql, 0007_audit_retained.sql); 0003_fold_audit_actors.sql goes through each of the audit trail's 2 rows, which " +
				"takes minutes on a trail of millions; stopping now undoes them all, and the next start applies them again"

			rollBack()
			var out testlog.Buffer
			if err := run(ctx, []string{"migrate"}, envOf(map[string]string{"DATABASE_URL": dsn}), &out); err != nil {
				t.Fatalf("web migrate: %v\n%s", err, out.String())
			}
			if want := notice + "\napplied 0003_fold_audit_actors.sql, 0004_used_forms.sql, 0005_audit_acted_domains.sql, " +
				"0006_audit_domain_action.sql, 0007_audit_retained.sql; the schema is at version 7 (0007_audit_retained.sql)\n"; out.String() != want {
				t.Errorf("web migrate printed\n%q\nwant\n%q", out.String(), want)
			}

			rollBack()
			log := startServer(t, dsn)
			for _, want := range []string{
				`level=INFO msg="database: ` + notice + `"`,
				`level=INFO msg="database: migrations applied" migrations="0003_fold_audit_actors.sql, 0004_used_forms.sql, 0005_audit_acted_domains.sql, 0006_audit_domain_action.sql, 0007_audit_retained.sql" took=`,
			} {
				if !strings.Contains(log, want) {
					t.Errorf("the server's log lacks %q:\n%s", want, log)
				}
			}
			if strings.Index(log, "database: applying") > strings.Index(log, "database: migrations applied") {
				t.Errorf("the log says what it applies after it is done:\n%s", log)
			}

			fresh := filepath.Join(t.TempDir(), "new.db")
			if dialect == store.DialectPostgres {
				fresh = testpg.Schema(t)
			}
			if log := startServer(t, fresh); strings.Contains(log, "database: ") {
				t.Errorf("a new database's start logs its migrations:\n%s", log)
			}
		})
	}
}

// startServer runs the server on dsn until it is ready, stops it, and returns its log.
func startServer(t *testing.T, dsn string) string {
	t.Helper()
	env := serverEnv(t, freeAddr(t))
	env["DATABASE_URL"] = dsn
	var out testlog.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, nil, envOf(env), &out) }()
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(out.String(), `msg="SMTP Desk ready"`); time.Sleep(10 * time.Millisecond) {
		select {
		case err := <-done:
			t.Fatalf("run returned before it was ready: %v\n%s", err, out.String())
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			<-done
			t.Fatalf("no ready line within 30 s:\n%s", out.String())
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("run after cancel: %v", err)
	}
	return out.String()
}
