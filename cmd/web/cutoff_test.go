package main

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smtpdesk/smtpdesk/app"
	"github.com/smtpdesk/smtpdesk/audit"
	"github.com/smtpdesk/smtpdesk/internal/testflow"
	"github.com/smtpdesk/smtpdesk/internal/testlog"
	"github.com/smtpdesk/smtpdesk/mailgun/sandbox"
	"github.com/smtpdesk/smtpdesk/store"
)

// TestShutdownCutOffIsAuditedAsSuch: a create that Mailgun is still holding when the shutdown's
// grace period ends is recorded as cut off by the shutdown (outcome unknown), where the trail
// read as if the connection to Mailgun had failed or the request had been canceled. A create
// whose browser leaves while Mailgun holds it still reads as before. Both go through the real
// server (serve), middleware and handlers.
func TestShutdownCutOffIsAuditedAsSuch(t *testing.T) {
	d, err := app.StartDemo(context.Background(), app.DemoOptions{Addr: "127.0.0.1:0", DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	c, err := testflow.New(d.URL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.SignIn(context.Background(), "admin"); err != nil {
		t.Fatal(err)
	}

	// create sends a create of login to base (the demo's own server, or serve's: the session
	// cookie is the browser's for both) while Mailgun holds it, and returns once Mailgun has it.
	create := func(ctx context.Context, base, login string) <-chan struct{} {
		t.Helper()
		form, err := c.Get(context.Background(), "/d/acme.example/new")
		if err != nil || form.CSRF() == "" {
			t.Fatalf("create form: %v", err)
		}
		d.Sandbox.ResetCalls()
		body := url.Values{"_csrf": {form.CSRF()}, "logins": {login}, "mode": {"generate"}}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/d/acme.example/new", strings.NewReader(body.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		sent := make(chan struct{})
		go func() {
			defer close(sent)
			if resp, err := c.HTTP.Do(req); err == nil {
				resp.Body.Close()
			}
		}()
		for !slices.ContainsFunc(d.Sandbox.Calls(), func(c sandbox.Call) bool { return c.Route == sandbox.RouteCreate }) {
			select {
			case <-sent:
				t.Fatal("the create was answered before it reached Mailgun")
			default:
				runtime.Gosched()
			}
		}
		return sent
	}
	// entry waits for the create entry of login to be completed, and returns it.
	entry := func(login string) store.AuditEntry {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			got, err := d.App.DB().ListAudit(context.Background(), store.AuditFilter{Action: audit.ActionCredentialCreate, Login: login, Limit: 1})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) == 1 && got[0].Outcome != store.OutcomePending {
				return got[0]
			}
		}
		t.Fatalf("the create of %s was not completed in the audit trail", login)
		return store.AuditEntry{}
	}
	hold := make(chan struct{})
	defer close(hold)
	d.Sandbox.SetFaults(sandbox.Faults{Routes: []string{sandbox.RouteCreate}, Hold: hold})

	// The server is stopped while Mailgun holds the create: its grace period ends with it
	// still running.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	logs := &testlog.Buffer{}
	logger := slog.New(slog.NewTextHandler(logs, nil))
	serveCtx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() {
		served <- serve(serveCtx, app.NewServer(d.App.Handler(), logger), ln, 100*time.Millisecond, logger)
	}()
	sent := create(context.Background(), "http://"+ln.Addr().String(), "cut-by-shutdown")
	stop()
	if err := <-served; err == nil || !strings.Contains(err.Error(), "cut off") {
		t.Errorf("serve = %v, want the requests cut off", err)
	}
	<-sent
	if got := entry("cut-by-shutdown@acme.example"); got.Outcome != store.OutcomeUnknown || got.UpstreamMessage != "cut off: the server was shutting down" {
		t.Errorf("a create cut off by the shutdown is recorded %s %q, want unknown, cut off by the shutdown", got.Outcome, got.UpstreamMessage)
	}

	// The browser leaves while Mailgun holds the create.
	ctx, leave := context.WithCancel(context.Background())
	sent = create(ctx, d.URL, "left-by-browser")
	leave()
	<-sent
	if got := entry("left-by-browser@acme.example"); got.Outcome != store.OutcomeUnknown || got.UpstreamMessage != "no answer from Mailgun (connection failed or dropped)" {
		t.Errorf("a create its browser left is recorded %s %q, want unknown, as before", got.Outcome, got.UpstreamMessage)
	}
}
