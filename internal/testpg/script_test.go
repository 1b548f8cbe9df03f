package testpg

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestScriptUsesTheConfiguredPostgres: scripts/test.sh, which this package's DefaultURL and
// messages send developers to, looks for the PostgreSQL that SMTPDESK_TEST_POSTGRES names and
// honours SMTPDESK_SKIP_POSTGRES=1, as Schema does. It used to probe 127.0.0.1:5432 whatever
// was set, so a server elsewhere (a container on another port) made it install and start a local
// one, or, without root, stop with "set SMTPDESK_TEST_POSTGRES", which was set. The script runs
// with every command it would change the machine with replaced by a stub that records the call.
func TestScriptUsesTheConfiguredPostgres(t *testing.T) {
	const elsewhere = "postgres://postgres@127.0.0.1:5433/test?sslmode=disable"
	for _, tc := range []struct {
		name     string
		env      []string
		up       bool // whether the stub PostgreSQL on port 5433 answers
		wantExit int
		wantOut  []string
	}{
		{"another server, up", []string{"SMTPDESK_TEST_POSTGRES=" + elsewhere}, true, 0, nil},
		{"another server, down", []string{"SMTPDESK_TEST_POSTGRES=" + elsewhere}, false, 1,
			[]string{"SMTPDESK_TEST_POSTGRES names does not answer", "SMTPDESK_SKIP_POSTGRES=1"}},
		{"skipped", []string{"SMTPDESK_TEST_POSTGRES=", "SMTPDESK_SKIP_POSTGRES=1"}, false, 0,
			[]string{"PostgreSQL tests skipped (SMTPDESK_SKIP_POSTGRES=1)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, b, exit := runScript(t, tc.env, tc.up)
			if exit != tc.wantExit {
				t.Errorf("exit %d, want %d\n%s\ncalls:\n%s", exit, tc.wantExit, out, b)
			}
			for _, want := range tc.wantOut {
				if !strings.Contains(string(out), want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
			for _, line := range strings.Split(string(b), "\n") {
				if strings.HasPrefix(line, "pg_ctlcluster ") || strings.Contains(line, "postgresql") || strings.Contains(line, "5432") {
					t.Errorf("the script reached for a local PostgreSQL: %q\ncalls:\n%s", line, b)
				}
			}
		})
	}
}

// TestScriptHonoursChromiumPath: with CHROMIUM_PATH set, as the browser tests honour it, the
// script neither installs Debian's Chromium nor stays silent when that path is not a program.
func TestScriptHonoursChromiumPath(t *testing.T) {
	out, calls, _ := runScript(t, []string{"CHROMIUM_PATH=/nonexistent/chromium", "SMTPDESK_SKIP_POSTGRES=1"}, false)
	if !strings.Contains(string(out), "WARNING: CHROMIUM_PATH=/nonexistent/chromium is not an executable") {
		t.Errorf("no warning about CHROMIUM_PATH:\n%s", out)
	}
	if strings.Contains(string(calls), "chromium") {
		t.Errorf("the script reached for Debian's Chromium although CHROMIUM_PATH is set:\n%s", calls)
	}
}

// TestScriptWaitsOnlyForAServerItStarted: with no PostgreSQL answering and none it could start
// (no cluster on a fresh machine, or a developer without root or sudo), the script goes on at
// once, to the install or to its error. It waited 30 s for a server nothing had started, twice
// when it could not install one either: a minute after "starting PostgreSQL" with nothing said.
func TestScriptWaitsOnlyForAServerItStarted(t *testing.T) {
	out, calls, exit := runScript(t, []string{"SMTPDESK_TEST_POSTGRES=", "PG_CTLCLUSTER_STUB_EXIT=1"}, false)
	if exit != 1 || !strings.Contains(string(out), "ERROR: no PostgreSQL answers on 127.0.0.1:5432") {
		t.Errorf("exit %d, want 1 and the error saying no PostgreSQL answers:\n%s", exit, out)
	}
	if n := strings.Count("\n"+string(calls), "\nsleep "); n > 0 {
		t.Errorf("the script slept %d times waiting for a PostgreSQL nothing started\ncalls:\n%s", n, calls)
	}
}

// TestScriptInstallsACompilerForRace: on a machine without a C compiler (a fresh Debian with Go
// from go.dev), Go turns cgo off, and "go test -race" needs it: the suite ended, after vet and
// staticcheck, with "go: -race requires cgo; enable cgo by setting CGO_ENABLED=1", 0 packages
// passed and a secret scan that found nothing to scan. The script installs gcc first, as it
// installs Chromium, and leaves a machine that has one alone.
func TestScriptInstallsACompilerForRace(t *testing.T) {
	for _, cgo := range []string{"0", "1"} {
		t.Run("CGO_ENABLED="+cgo, func(t *testing.T) {
			out, calls, _ := runScript(t, []string{"SMTPDESK_SKIP_POSTGRES=1", "GO_STUB_CGO=" + cgo, "CGO_ENABLED="}, false)
			installs := strings.Contains(string(calls), "apt-get install -y -qq gcc libc6-dev")
			if want := cgo == "0"; installs != want {
				t.Errorf("go env CGO_ENABLED = %s: installs gcc %v, want %v\n%s\ncalls:\n%s", cgo, installs, want, out, calls)
			}
		})
	}
	// CGO_ENABLED=0 set by hand is not a missing compiler: the script says to unset it.
	out, calls, exit := runScript(t, []string{"SMTPDESK_SKIP_POSTGRES=1", "GO_STUB_CGO=0", "CGO_ENABLED=0"}, false)
	if exit != 1 || !strings.Contains(string(out), "CGO_ENABLED=0 is set") || strings.Contains(string(calls), "gcc") {
		t.Errorf("with CGO_ENABLED=0: exit %d, want 1 and no install; output:\n%s\ncalls:\n%s", exit, out, calls)
	}
}

// runScript runs scripts/test.sh with env added and every command it would change the machine
// with replaced by a stub that records the call; up says whether the stub PostgreSQL on port
// 5433 answers. It returns the output, the calls recorded and the exit status.
func runScript(t *testing.T, env []string, up bool) (out, calls []byte, exit int) {
	t.Helper()
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatal("scripts/test.sh needs bash, which is not on PATH")
	}
	script, err := filepath.Abs("../../scripts/test.sh")
	if err != nil {
		t.Fatal(err)
	}
	stubs := t.TempDir()
	callLog := filepath.Join(t.TempDir(), "calls")
	record := "#!/bin/sh\necho \"$(basename \"$0\") $*\" >> " + callLog + "\n"
	for _, name := range []string{"apt-get", "su", "npm", "gofmt", "git", "sleep", "sed", "createdb"} {
		writeStub(t, stubs, name, record+"exit 0\n")
	}
	// GO_STUB_CGO is what "go env CGO_ENABLED" answers: 0 as on a machine without a C compiler.
	writeStub(t, stubs, "go", record+"[ \"$*\" = \"env CGO_ENABLED\" ] && echo \"${GO_STUB_CGO:-1}\"\nexit 0\n")
	// PG_CTLCLUSTER_STUB_EXIT=1: starting the cluster fails (no right to, without root or sudo).
	writeStub(t, stubs, "pg_ctlcluster", record+"exit ${PG_CTLCLUSTER_STUB_EXIT:-0}\n")
	writeStub(t, stubs, "sudo", record+"[ \"$1\" = -n ] && shift\nexec \"$@\"\n")
	answer := "exit 1\n"
	if up {
		answer = "case \"$*\" in *:5433/*) exit 0;; esac\nexit 1\n"
	}
	writeStub(t, stubs, "pg_isready", record+answer)
	writeStub(t, stubs, "psql", record+answer)

	cmd := exec.Command(bash, script)
	cmd.Env = append(os.Environ(), "PATH="+stubs+string(os.PathListSeparator)+os.Getenv("PATH"), "SMTPDESK_SKIP_POSTGRES=", "CHROMIUM_PATH=")
	cmd.Env = append(cmd.Env, env...)
	out, err = cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		exit = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	calls, _ = os.ReadFile(callLog)
	return out, calls, exit
}

func writeStub(t *testing.T, dir, name, body string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
}
