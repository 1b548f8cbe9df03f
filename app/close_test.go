package app

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestCloseWaitsForThePolicyDomainsCheck: the comparison of the policy's domains with Mailgun's
// that a reload starts is background work like the janitor's: Close ends it and waits for it, and
// a reload after Close (a SIGHUP while the server stops) starts none. It ran on its own, so it
// could log, and call Mailgun, after Close had closed the database.
//
// The check is held where Close's cancelling cannot end it, in its warning of a domain Mailgun
// lacks (the log handler holds the line): a Close that does not wait for it returns meanwhile.
// Held in its Mailgun call instead, the cancelled call ended the check within microseconds, and a
// Close that did not wait at all passed.
func TestCloseWaitsForThePolicyDomainsCheck(t *testing.T) {
	hold := newHeldLine("policy: check this")
	d := startDemo(t, DemoOptions{Logger: slog.New(hold)})
	<-d.App.PolicyDomainsChecked()
	policy := "admins:\n  groups: [smtp-admins]\nrules:\n  - domain: nowhere.example\n    role: operator\n    groups: [team-nowhere]\n"
	if err := os.WriteFile(filepath.Join(d.DataDir, "policy.yaml"), []byte(policy), 0o600); err != nil {
		t.Fatal(err)
	}
	hold.arm()
	if err := d.App.ReloadPolicy(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-hold.entered:
	case <-time.After(time.Minute):
		t.Fatal("the check after the reload did not warn of nowhere.example within a minute")
	}
	if n := checksRunning(); n != 1 {
		t.Fatalf("%d policy domain checks running while one is held, want 1 (the test's premise)", n)
	}

	closed := make(chan error, 1)
	go func() { closed <- d.App.Close() }()
	// Close cannot return while the check is held. (On a machine too slow to return within
	// this time, a Close that does not wait passes without proving anything; this cannot fail
	// wrongly.)
	select {
	case err := <-closed:
		hold.release()
		t.Fatalf("Close returned (%v) while the policy domains check was still running", err)
	case <-time.After(300 * time.Millisecond):
	}
	hold.release()
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if n := checksRunning(); n != 0 {
		t.Errorf("%d policy domain checks still running after Close", n)
	}

	if err := d.App.ReloadPolicy(); err != nil {
		t.Fatal(err)
	}
	// The reload's check goes through background (as the held one above did): once Close has
	// begun, it starts nothing.
	if d.App.background(func() {}) {
		t.Error("background work started after Close")
	}
	if n := checksRunning(); n != 0 {
		t.Errorf("a reload after Close started %d policy domain checks", n)
	}
}

// heldLine is a log handler that, once armed, holds the goroutine logging msg until released.
type heldLine struct {
	slog.Handler
	*heldState
}

type heldState struct {
	msg               string
	mu                sync.Mutex
	armed             bool
	entered, released chan struct{}
	enterOnce         sync.Once
	releaseOnce       sync.Once
}

func newHeldLine(msg string) heldLine {
	return heldLine{slog.NewTextHandler(io.Discard, nil),
		&heldState{msg: msg, entered: make(chan struct{}), released: make(chan struct{})}}
}

func (s *heldState) arm() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.armed = true
}

func (s *heldState) release() { s.releaseOnce.Do(func() { close(s.released) }) }

func (h heldLine) Handle(ctx context.Context, r slog.Record) error {
	h.mu.Lock()
	armed := h.armed
	h.mu.Unlock()
	if armed && r.Message == h.msg {
		h.enterOnce.Do(func() { close(h.entered) })
		<-h.released
	}
	return h.Handler.Handle(ctx, r)
}

func (h heldLine) WithAttrs(as []slog.Attr) slog.Handler {
	return heldLine{h.Handler.WithAttrs(as), h.heldState}
}

func (h heldLine) WithGroup(name string) slog.Handler {
	return heldLine{h.Handler.WithGroup(name), h.heldState}
}

// checksRunning counts the goroutines running checkPolicyDomains' check.
func checksRunning() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	n := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "(*App).checkPolicyDomains.func") {
			n++
		}
	}
	return n
}
