package main

import (
	"context"
	"io"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smtpdesk/smtpdesk/internal/testlog"
	"github.com/smtpdesk/smtpdesk/mailgun/sandbox"
)

// runUntil runs the server with env until its log holds want or 10 s pass, then stops it, and
// returns the log.
func runUntil(t *testing.T, env map[string]string, want string) string {
	t.Helper()
	return runUntilIn(t, context.Background(), env, want)
}

// runUntilIn is runUntil with run's context made from parent (an environment's list in it).
func runUntilIn(t *testing.T, parent context.Context, env map[string]string, want string) string {
	t.Helper()
	var out testlog.Buffer
	ctx, cancel := context.WithCancel(parent)
	done := make(chan error, 1)
	go func() { done <- run(ctx, nil, envOf(env), &out) }()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && !strings.Contains(out.String(), want) {
		time.Sleep(20 * time.Millisecond)
	}
	// And until it listens: a line written during start-up (a misspelt name's, before the
	// database is opened) would otherwise have the test stop it mid-start, an error of its own.
	for time.Now().Before(deadline) {
		if conn, err := net.DialTimeout("tcp", env["SMTPDESK_LISTEN"], time.Second); err == nil {
			conn.Close()
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("run: %v", err)
	}
	return out.String()
}

// TestRefusedKeyAtStartUpIsNamed (after an operator-path review's): a server started with a
// Mailgun API key Mailgun refuses (a typo, or an EU account's key against the default US region)
// said so only in an Info line about the policy ("its domains could not be compared with
// Mailgun's … HTTP 401"), which LOG_LEVEL=warn hides. It is an Error naming MAILGUN_API_KEY and
// MAILGUN_REGION, also under a policy that names no domain (admins and a "*" rule), which had
// nothing to compare and so never asked Mailgun (a docs review's finding).
func TestRefusedKeyAtStartUpIsNamed(t *testing.T) {
	mg := httptest.NewServer(sandbox.New("the-right-key", sandbox.WithDefaultSeed()))
	defer mg.Close()
	noDomain := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(noDomain, []byte("admins:\n  groups: [smtp-admins]\nrules:\n  - domain: \"*\"\n    role: viewer\n    groups: [reviewers]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, policy := range map[string]string{"the demo's policy": "", "a policy naming no domain": noDomain} {
		t.Run(name, func(t *testing.T) {
			env := serverEnv(t, freeAddr(t))
			if policy != "" {
				env["POLICY_FILE"] = policy
			}
			env["MAILGUN_BASE_URL"] = mg.URL
			env["MAILGUN_API_KEY"] = "a-wrong-key"
			env["LOG_LEVEL"] = "warn"
			log := runUntil(t, env, "MAILGUN_API_KEY")
			var line string
			for l := range strings.SplitSeq(log, "\n") {
				if strings.Contains(l, "MAILGUN_API_KEY") {
					line = l
				}
			}
			if !strings.Contains(line, "level=ERROR") || !strings.Contains(line, "MAILGUN_REGION") {
				t.Errorf("started with a key Mailgun refuses, at LOG_LEVEL=warn the log has no Error naming MAILGUN_API_KEY and MAILGUN_REGION:\n%s", log)
			}
			if strings.Contains(log, "a-wrong-key") {
				t.Error("the log holds the key")
			}
		})
	}
}

// TestUnusablePostgresSettingsAreNamed (after an operator-path review's): a DATABASE_URL the
// driver cannot use (a misspelt sslmode, such as verify_full, which the README's advice to add
// ?sslmode=verify-full invites; an sslrootcert file that is not there) or a malformed PG*
// variable the driver reads was reported with the advice for a server that does not answer
// ("check that the server runs and accepts connections from this host"), though nothing was
// sent anywhere. The error says which setting to fix.
func TestUnusablePostgresSettingsAreNamed(t *testing.T) {
	for _, tc := range []struct{ name, url, pgvar, pgval, want string }{
		{"sslmode misspelt", "postgres://smtpdesk@127.0.0.1:1/smtpdesk?sslmode=verify_full", "", "", "sslmode"},
		{"sslrootcert missing", "postgres://smtpdesk@127.0.0.1:1/smtpdesk?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem", "", "", "sslrootcert"},
		{"PGCONNECT_TIMEOUT malformed", "postgres://smtpdesk@127.0.0.1:1/smtpdesk", "PGCONNECT_TIMEOUT", "abc", "PGCONNECT_TIMEOUT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, kv := range os.Environ() { // none but the case's own (put back after the test)
				if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "PG") {
					t.Setenv(name, "")
					os.Unsetenv(name)
				}
			}
			if tc.pgvar != "" {
				t.Setenv(tc.pgvar, tc.pgval) // pgx reads the process's environment itself
			}
			err := run(context.Background(), []string{"migrate"}, envOf(map[string]string{"DATABASE_URL": tc.url}), io.Discard)
			if err == nil {
				t.Fatal("migrate succeeded")
			}
			msg := err.Error()
			if strings.Contains(msg, "check that the server runs") || !strings.Contains(msg, tc.want) || !strings.Contains(msg, "nothing was sent to the server") {
				t.Errorf("migrate = %v\nwant the setting's problem, naming %s, not the advice for a server that does not answer", err, tc.want)
			}
			if set := strings.Contains(msg, "(set here: PGCONNECT_TIMEOUT)"); set != (tc.pgvar != "") {
				t.Errorf("migrate = %v\nnames the PG* variables set: %v, want %v", err, set, tc.pgvar != "")
			}
		})
	}
}

// TestMisspeltSettingIsNamed (after an operator-path review's): a setting whose name is misspelt
// (AUDIT_RETENTON=400d for AUDIT_RETENTION) was ignored without a word, and the server started
// on the default (the trail kept forever). The log warns of it, naming the setting meant; a
// variable that is no near miss (PATH, another program's) is not named.
func TestMisspeltSettingIsNamed(t *testing.T) {
	env := serverEnv(t, freeAddr(t))
	env["LOG_LEVEL"] = "error" // an Error, as the setting meant is not in force (a review's finding)
	env["AUDIT_RETENTON"] = "400d"
	env["MAILGUN_REGOIN"] = "eu"
	env["MAILGUN_DOMAIN"] = "mg.example.com"
	log := runUntilIn(t, context.WithValue(context.Background(), environKey{}, func() []string {
		var kv []string
		for k, v := range env {
			kv = append(kv, k+"="+v)
		}
		return append(kv, "PATH=/usr/bin")
	}), env, "MAILGUN_REGOIN is")
	for _, want := range []string{
		"AUDIT_RETENTON is not a setting of SMTP Desk and is ignored; did you mean AUDIT_RETENTION?",
		"MAILGUN_REGOIN is not a setting of SMTP Desk and is ignored; did you mean MAILGUN_REGION?",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("the log lacks %q:\n%s", want, log)
		}
	}
	if strings.Contains(log, "MAILGUN_DOMAIN") || strings.Contains(log, "PATH is") {
		t.Errorf("the log names a variable that is no near miss:\n%s", log)
	}
}

// TestMisspeltSettingNamedWhenTheStartIsRefused (a docs review's finding): a required setting
// given under a misspelt name (OIDC_ISUER) was refused as missing, without a word of the name
// that was there; the refusal names it with the setting meant. And the demo's banner names one
// (RATE_LIMIT_ACTONS), where the server's log would.
func TestMisspeltSettingNamedWhenTheStartIsRefused(t *testing.T) {
	env := serverEnv(t, freeAddr(t))
	env["OIDC_ISUER"] = env["OIDC_ISSUER"]
	delete(env, "OIDC_ISSUER")
	ctx := context.WithValue(context.Background(), environKey{}, func() []string { return []string{"OIDC_ISUER=x", "PATH=/usr/bin"} })
	err := run(ctx, nil, envOf(env), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "OIDC_ISUER is not a setting of SMTP Desk and is ignored; did you mean OIDC_ISSUER?") {
		t.Errorf("run = %v; want the refusal to name OIDC_ISUER and OIDC_ISSUER", err)
	}

	var out testlog.Buffer
	ctx, cancel := context.WithCancel(context.WithValue(context.Background(), environKey{}, func() []string { return []string{"RATE_LIMIT_ACTONS=5"} }))
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-demo", "-addr", freeAddr(t), "-data", t.TempDir()}, envOf(map[string]string{"RATE_LIMIT_ACTONS": "5"}), &out)
	}()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline) && !strings.Contains(out.String(), "Ctrl+C"); {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("demo: %v", err)
	}
	if !strings.Contains(out.String(), "RATE_LIMIT_ACTONS is not a setting of SMTP Desk and is ignored; did you mean RATE_LIMIT_ACTIONS?") {
		t.Errorf("the demo's banner does not name RATE_LIMIT_ACTONS:\n%s", out.String())
	}
}
