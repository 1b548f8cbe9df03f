package app

import (
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/smtpdesk/smtpdesk/mailgun/sandbox"
)

// TestCloseWaitsForThePolicyDomainsCheck: the comparison of the policy's domains with Mailgun's
// that a reload starts is background work like the janitor's: Close ends it and waits for it, and
// a reload after Close (a SIGHUP while the server stops) starts none. It ran on its own, so it
// could log, and call Mailgun, after Close had closed the database.
func TestCloseWaitsForThePolicyDomainsCheck(t *testing.T) {
	d := startDemo(t, DemoOptions{})
	<-d.App.PolicyDomainsChecked()
	hold := make(chan struct{})
	defer close(hold)
	d.Sandbox.SetFaults(sandbox.Faults{Routes: []string{sandbox.RouteDomains}, Hold: hold})
	before := domainCalls(d)
	if err := d.App.ReloadPolicy(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(time.Minute); domainCalls(d) == before; {
		if time.Now().After(deadline) {
			t.Fatal("the check after the reload did not ask Mailgun within a minute")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := d.App.Close(); err != nil {
		t.Fatal(err)
	}
	if n := checksRunning(); n != 0 {
		t.Errorf("%d policy domain checks still running after Close", n)
	}
	if err := d.App.ReloadPolicy(); err != nil {
		t.Fatal(err)
	}
	if n := checksRunning(); n != 0 {
		t.Errorf("a reload after Close started %d policy domain checks", n)
	}
}

func domainCalls(d *Demo) int {
	n := 0
	for _, c := range d.Sandbox.Calls() {
		if c.Route == sandbox.RouteDomains {
			n++
		}
	}
	return n
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
