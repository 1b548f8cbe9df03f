package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

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
