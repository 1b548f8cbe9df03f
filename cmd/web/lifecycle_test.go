package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/smtpdesk/smtpdesk/app"
	"github.com/smtpdesk/smtpdesk/internal/testlog"
)

// serverEnv is a complete configuration for the server on listen, with a SQLite file of the
// test's own and the identity provider and Mailgun down (which does not stop a start).
func serverEnv(t *testing.T, listen string) map[string]string {
	t.Helper()
	return map[string]string{
		"SMTPDESK_LISTEN":    listen,
		"SMTPDESK_BASE_URL":  "http://127.0.0.1:8080",
		"MAILGUN_API_KEY":    "key-test",
		"MAILGUN_BASE_URL":   "http://127.0.0.1:1",
		"OIDC_ISSUER":        "http://127.0.0.1:1",
		"OIDC_CLIENT_ID":     "smtp-desk",
		"OIDC_CLIENT_SECRET": "s3cret",
		"SESSION_KEYS":       "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
		"POLICY_FILE":        "../../demoidp/demo-policy.yaml",
		"DATABASE_URL":       filepath.Join(t.TempDir(), "smtpdesk.db"),
		"LOG_FORMAT":         "text",
	}
}

// takenAddr returns a loopback address a listener of the test's holds until the test ends.
func takenAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().String()
}

// TestReadyOnlyOnceListening: "SMTP Desk ready" is logged once every listener is open, so a
// port already taken (SMTPDESK_LISTEN's, METRICS_ADDR's) fails the start without a line saying
// it was ready just before; it was logged when the app was wired, before either listener opened.
// A start that succeeds logs it with the address it listens on, and that address answers.
func TestReadyOnlyOnceListening(t *testing.T) {
	const ready = `msg="SMTP Desk ready"`
	for _, tc := range []struct {
		name string
		args []string
		env  func(t *testing.T) map[string]string
		want string
	}{
		{"SMTPDESK_LISTEN taken", nil, func(t *testing.T) map[string]string {
			return serverEnv(t, takenAddr(t))
		}, "listen on 127.0.0.1:"},
		{"METRICS_ADDR taken", nil, func(t *testing.T) map[string]string {
			env := serverEnv(t, freeAddr(t))
			env["METRICS_ADDR"] = takenAddr(t)
			return env
		}, "listen on METRICS_ADDR 127.0.0.1:"},
		{"demo, METRICS_ADDR taken", []string{"-demo", "-addr", "127.0.0.1:0", "-data", ""}, func(t *testing.T) map[string]string {
			return map[string]string{"METRICS_ADDR": takenAddr(t)}
		}, "listen on METRICS_ADDR 127.0.0.1:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := slices.Clone(tc.args)
			if len(args) > 0 {
				args[len(args)-1] = t.TempDir()
			}
			var out testlog.Buffer
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			err := run(ctx, args, envOf(tc.env(t)), &out)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("run = %v, want an error saying %q", err, tc.want)
			}
			if strings.Contains(out.String(), ready) {
				t.Errorf("the log says ready, then the start failed (%v):\n%s", err, out.String())
			}
		})
	}

	t.Run("started", func(t *testing.T) {
		addr := freeAddr(t)
		var out testlog.Buffer
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- run(ctx, nil, envOf(serverEnv(t, addr)), &out) }()
		defer func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("run after cancel: %v", err)
			}
		}()
		for deadline := time.Now().Add(30 * time.Second); !strings.Contains(out.String(), ready); time.Sleep(10 * time.Millisecond) {
			select {
			case err := <-done:
				done <- err
				t.Fatalf("run returned before it was ready: %v\n%s", err, out.String())
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("no ready line within 30 s:\n%s", out.String())
			}
		}
		if !strings.Contains(out.String(), ready+" addr="+addr+" ") {
			t.Errorf("the ready line does not name the address %s:\n%s", addr, out.String())
		}
		resp, err := http.Get("http://" + addr + "/healthz")
		if err != nil {
			t.Fatalf("GET /healthz once ready: %v", err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET /healthz once ready = %d", resp.StatusCode)
		}
	})
}

// TestSignalDuringStartUpIsNamed: a SIGINT or SIGTERM while the server waits for its database
// ends the start with that said, not with the connection it cut off ("failed to receive message:
// context canceled; check that the server runs and accepts connections…"), which sent the
// operator to check a database that was fine.
func TestSignalDuringStartUpIsNamed(t *testing.T) {
	db, accepted := silentPostgres(t)
	env := serverEnv(t, freeAddr(t))
	env["DATABASE_URL"] = "postgres://smtpdesk@" + db.Addr().String() + "/smtpdesk?sslmode=disable&connect_timeout=60"
	// As signal.NotifyContext in main ends it.
	ctx, cancel := context.WithCancelCause(context.Background())
	done := make(chan error, 1)
	var out testlog.Buffer
	go func() { done <- run(ctx, nil, envOf(env), &out) }()
	select {
	case c := <-accepted:
		defer c.Close()
	case err := <-done:
		t.Fatalf("run ended before it reached its database: %v\n%s", err, out.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("run did not reach its database\n%s", out.String())
	}
	cancel(errors.New("interrupt signal received"))
	var err error
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("run did not return 30 s after the signal")
	}
	if err == nil || err.Error() != "stopped during start-up (interrupt signal received)" {
		t.Errorf("run interrupted during start-up = %v, want \"stopped during start-up (interrupt signal received)\"", err)
	}
}

// TestSecondSignalEndsShutdownAtOnce: a second SIGINT (Ctrl+C again) or SIGTERM while the
// server waits for requests in flight ends the process at once, saying so; the second was
// swallowed, and the operator had to wait out ShutdownTimeout or kill the process. The test runs
// main in a child process (the test binary again, told by SMTPDESK_TEST_MAIN to call main) and
// keeps a request in flight with a connection that sent only part of its header. A demo without
// -data still removes its temporary data directory (its deferred Close, which removes it, does
// not run then: the directory stayed behind).
func TestSecondSignalEndsShutdownAtOnce(t *testing.T) {
	if os.Getenv("SMTPDESK_TEST_MAIN") == "1" {
		os.Args = []string{"web", "-demo", "-addr", "127.0.0.1:0"}
		if dir := os.Getenv("SMTPDESK_TEST_DATA"); dir != "" {
			os.Args = append(os.Args, "-data", dir)
		}
		main()
		return
	}
	for _, tc := range []struct {
		sig     syscall.Signal
		tempDir bool // no -data: the demo makes a temporary data directory in TMPDIR
	}{{syscall.SIGINT, false}, {syscall.SIGTERM, false}, {syscall.SIGINT, true}} {
		sig := tc.sig
		name := sig.String()
		if tc.tempDir {
			name += " without -data"
		}
		t.Run(name, func(t *testing.T) {
			env := "SMTPDESK_TEST_DATA=" + t.TempDir()
			tmp := t.TempDir()
			if tc.tempDir {
				env = "TMPDIR=" + tmp
			}
			cmd, exited, out, addr := startDemoChild(t, "TestSecondSignalEndsShutdownAtOnce", env)
			made, err := filepath.Glob(filepath.Join(tmp, "smtpdesk-demo-*"))
			if err != nil || tc.tempDir && len(made) != 1 {
				t.Fatalf("the demo's data directories in TMPDIR: %q, %v; want one", made, err)
			}
			// Part of a request's header: the connection is active, and shutdown waits for it
			// (up to ReadHeaderTimeout, 10 s, when the server gives up on the rest).
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: "+addr+"\r\n"); err != nil {
				t.Fatal(err)
			}
			time.Sleep(200 * time.Millisecond) // for the server to read it
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			// Shutdown has begun once the listener refuses new connections; the process still
			// waits for the request in flight.
			for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
				probe, err := net.DialTimeout("tcp", addr, time.Second)
				if err != nil {
					break
				}
				probe.Close()
				if time.Now().After(deadline) {
					t.Fatalf("the listener still accepts 5 s after the first signal\n%s", out.String())
				}
			}
			select {
			case err := <-exited:
				t.Fatalf("the process ended with a request in flight, before the second signal: %v\n%s", err, out.String())
			default:
			}
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-exited:
				var ee *exec.ExitError
				if !errors.As(err, &ee) || ee.ExitCode() != 1 {
					t.Errorf("after the second signal the process ended with %v, want exit status 1", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("the process still runs 5 s after the second signal\n%s", out.String())
			}
			if want := "smtp-desk: " + sig.String() + " again: stopping now, without waiting for the requests in flight"; !strings.Contains(out.String(), want) {
				t.Errorf("output lacks %q:\n%s", want, out.String())
			}
			for _, dir := range made {
				if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("after the second signal the demo's temporary data directory %s is still there (%v)", dir, err)
				}
			}
		})
	}
}

// TestPortTakenSaysWhatToDo: a port another program holds (8080 often is, and the demo's first
// run meets it) stops the start with what to set instead, the next port as the example, not
// with the system's words alone ("bind: address already in use").
func TestPortTakenSaysWhatToDo(t *testing.T) {
	const taken = "bind: address already in use; another program listens on that port: stop it, or "
	for _, tc := range []struct {
		name string
		args func(addr string) []string
		env  func(addr string) map[string]string
		want string // with %s for the next port's address
	}{
		{"demo", func(addr string) []string { return []string{"-demo", "-addr", addr, "-data", t.TempDir()} },
			func(string) map[string]string { return nil },
			"pick another with -addr (e.g. -addr %s)"},
		{"SMTPDESK_LISTEN", func(string) []string { return nil },
			func(addr string) map[string]string { return serverEnv(t, addr) },
			"set SMTPDESK_LISTEN to another (e.g. SMTPDESK_LISTEN=%s)"},
		{"-addr", func(addr string) []string { return []string{"-addr", addr} },
			func(string) map[string]string { return serverEnv(t, ":8080") },
			"pick another with -addr (e.g. -addr %s)"},
		{"METRICS_ADDR", func(string) []string { return nil },
			func(addr string) map[string]string {
				env := serverEnv(t, freeAddr(t))
				env["METRICS_ADDR"] = addr
				return env
			},
			"set METRICS_ADDR to another (e.g. METRICS_ADDR=%s)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := takenAddr(t)
			host, port, _ := net.SplitHostPort(addr)
			p, _ := strconv.Atoi(port)
			want := taken + fmt.Sprintf(tc.want, net.JoinHostPort(host, strconv.Itoa(p+1)))
			err := run(context.Background(), tc.args(addr), envOf(tc.env(addr)), io.Discard)
			if err == nil || !strings.HasSuffix(err.Error(), want) {
				t.Errorf("run = %v, want an error ending %q", err, want)
			}
		})
	}
}

// TestShutdownSaysWhatItWaitsFor: when the signal comes, the log says that requests in flight
// have up to the grace period and that a second signal ends them now (the process was silent
// for up to 15 s); when the grace period ends with a request still running, the error says it
// was cut off, where it read "shutdown: context deadline exceeded".
func TestShutdownSaysWhatItWaitsFor(t *testing.T) {
	cause := make(chan error, 1)
	out, _, err := serveOneCutOff(t, func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
		cause <- context.Cause(r.Context())
	}, 300*time.Millisecond)
	if want := "shutdown: requests still in flight after 300ms were cut off"; err == nil || err.Error() != want {
		t.Errorf("serve = %v, want %q", err, want)
	}
	// The request was told why, so that it is logged as cut off by the server (503), not as
	// left by its client (499).
	select {
	case got := <-cause:
		if !errors.Is(got, app.ErrServerStopping) {
			t.Errorf("the cut-off request's context ended with %v, want app.ErrServerStopping", got)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the request in flight did not end 30 s after the shutdown cut it off")
	}
	if want := `msg="stopping: no new connections; requests in flight have up to 300ms (a second SIGINT or SIGTERM ends them now)"`; !strings.Contains(out.String(), want) {
		t.Errorf("log lacks %s:\n%s", want, out.String())
	}
}

// TestDemoCleansUpWhenItsSurroundingsGo: the demo stops cleanly, exits with status 0 and removes
// its temporary data directory however its terminal ends it, and does not leave its port held.
//   - The terminal closes: that sends SIGHUP (twice here: a second hang-up during shutdown must
//     not end it before it cleans up). The demo reloaded its policy instead and went on running
//     with no terminal, holding its port, and the newcomer's next "go run ./cmd/web -demo" found
//     8080 taken.
//   - Its output was piped ("go run ./cmd/web -demo | tee demo.log") and the reader is gone before
//     the demo stops, as when Ctrl+C ends both: the demo was killed by SIGPIPE at its first log
//     line after that, before it removed its directory.
//
// Each case runs main in a child process (the test binary again, told by SMTPDESK_TEST_MAIN to
// call main), with TMPDIR its own and its output through a pipe the test reads.
func TestDemoCleansUpWhenItsSurroundingsGo(t *testing.T) {
	if os.Getenv("SMTPDESK_TEST_MAIN") == "1" {
		os.Args = []string{"web", "-demo", "-addr", "127.0.0.1:0"}
		main()
		return
	}
	for _, tc := range []struct {
		name string
		end  func(t *testing.T, demo *os.Process, output *os.File)
	}{
		{"the terminal closes", func(t *testing.T, demo *os.Process, _ *os.File) {
			for range 2 {
				if err := demo.Signal(syscall.SIGHUP); err != nil {
					t.Fatal(err)
				}
			}
		}},
		{"the output's reader is gone, then Ctrl+C", func(t *testing.T, demo *os.Process, output *os.File) {
			if err := output.Close(); err != nil {
				t.Fatal(err)
			}
			if err := demo.Signal(syscall.SIGINT); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tmp := t.TempDir()
			cmd, exited, out, addr := startDemoChild(t, "TestDemoCleansUpWhenItsSurroundingsGo", "TMPDIR="+tmp)
			dirs, err := filepath.Glob(filepath.Join(tmp, "smtpdesk-demo-*"))
			if err != nil || len(dirs) != 1 {
				t.Fatalf("the demo's data directories in TMPDIR: %q, %v; want one", dirs, err)
			}
			tc.end(t, cmd.Process, out.reader)
			select {
			case err := <-exited:
				if err != nil {
					t.Errorf("the demo ended with %v, want exit status 0\n%s", err, out.String())
				}
			case <-time.After(20 * time.Second):
				t.Fatalf("the demo still runs 20 s later\n%s", out.String())
			}
			if _, err := os.Stat(dirs[0]); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the demo's data directory %s is still there after it stopped: %v", dirs[0], err)
			}
			if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
				c.Close()
				t.Errorf("something still listens on the demo's address %s", addr)
			}
		})
	}
}

// demoOutput is a demo child's output: what it wrote so far, and the pipe it comes through.
type demoOutput struct {
	testlog.Buffer
	reader *os.File // the read end: closing it leaves the child's writes no reader
}

// startDemoChild runs main with "-demo -addr 127.0.0.1:0" in a child process (the test binary
// again, running test, told by SMTPDESK_TEST_MAIN to call main), with env added to its
// environment and its stdout and stderr through a pipe the test reads, and waits for the end of
// its banner. It returns the child, the result of its Wait (sent once the output is all read),
// its output and its address; the child is killed when the test ends while it runs.
func startDemoChild(t *testing.T, test string, env ...string) (*exec.Cmd, <-chan error, *demoOutput, string) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$")
	cmd.Env = append(append(os.Environ(), "SMTPDESK_TEST_MAIN=1"), env...)
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close() // the child holds the write end now
	out := &demoOutput{reader: r}
	copied := make(chan struct{})
	go func() {
		_, _ = io.Copy(&out.Buffer, r)
		close(copied)
	}()
	// The child's last words may still be in the pipe when Wait returns (it does not wait for
	// a reader of an *os.File): the result comes once they are read too, so that a test reading
	// the output after the exit finds them. The child's end closes as it exits, which ends the
	// copy; the bound is for a reader a test closed early or a write end someone else holds.
	exited := make(chan error, 1)
	go func() {
		err := cmd.Wait()
		select {
		case <-copied:
		case <-time.After(5 * time.Second):
		}
		exited <- err
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-exited
		}
		r.Close()
	})
	// The banner ends with "… to stop." and a line of "=": waiting for it means the demo
	// serves and has written its start, so that a test closing the reader does not cut it.
	re := regexp.MustCompile(`SMTP Desk demo is running: http://(127\.0\.0\.1:\d+)(?s:.*)to stop\.\n`)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			return cmd, exited, out, m[1]
		}
		select {
		case err := <-exited:
			t.Fatalf("the demo ended before it ran: %v\n%s", err, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no demo banner within 30 s:\n%s", out.String())
		}
	}
}

// TestShutdownWaitsForCutOffRequests: once the grace period ends, serve waits (up to CutOffWait)
// for the requests it cut off to return before the caller closes the database: told why, a
// change's request records its audit entry's outcome then ("unknown") and logs itself. serve
// returned at once, so the entry met "sql: database is closed" and stayed pending, and the
// request's warning and access log line were never written. A request that does not return is
// waited for CutOffWait only, and the log says what that leaves.
func TestShutdownWaitsForCutOffRequests(t *testing.T) {
	for _, tc := range []struct {
		name    string
		forever bool
	}{{"returns", false}, {"never returns", true}} {
		t.Run(tc.name, func(t *testing.T) {
			finished := make(chan struct{})
			never := make(chan struct{})
			defer close(never)
			out, took, _ := serveOneCutOff(t, func(w http.ResponseWriter, r *http.Request) {
				<-r.Context().Done()
				if tc.forever {
					<-never
				}
				time.Sleep(300 * time.Millisecond) // the audit entry's completion, written after the cut
				close(finished)
			}, 200*time.Millisecond)
			if tc.forever {
				if took > CutOffWait+10*time.Second {
					t.Errorf("serve returned %v after the context ended, want about the grace period and CutOffWait", took)
				}
				if want := "requests cut off still running " + CutOffWait.String() + " later"; !strings.Contains(out.String(), want) {
					t.Errorf("log lacks %q:\n%s", want, out.String())
				}
				return
			}
			select {
			case <-finished:
			default:
				t.Error("serve returned before the request it cut off had finished: the caller then closes the database under it")
			}
		})
	}
}

// serveOneCutOff runs serve with grace period grace around h, sends h one request, ends serve's
// context once h has it, and returns serve's log, how long serve took to return after that, and
// its error.
func serveOneCutOff(t *testing.T, h http.HandlerFunc, grace time.Duration) (*testlog.Buffer, time.Duration, error) {
	t.Helper()
	started := make(chan struct{})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		h(w, r)
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	out := new(testlog.Buffer)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- serve(ctx, srv, ln, grace, slog.New(slog.NewTextHandler(out, nil))) }()
	go func() {
		if resp, err := http.Get("http://" + ln.Addr().String() + "/slow"); err == nil {
			resp.Body.Close()
		}
	}()
	<-started
	cancel()
	begun := time.Now()
	select {
	case err = <-served:
		return out, time.Since(begun), err
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not return 30 s after the context ended")
		return nil, 0, nil
	}
}
