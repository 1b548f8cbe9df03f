package handlers_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/smtpdesk/smtpdesk/mailgun/sandbox"
)

// TestDeleteAllNamesLoginsCreatedMeanwhile: a login created (through another replica, or
// Mailgun's own panel) after Mailgun deleted every login but before delete all read the list
// again is still listed when the flash is written. The flash names it as still listed, to be
// deleted on its own, not as kept: "late@… kept" told the owner that delete all spares it, as it
// spares postmaster. The flash is a warning: the list is not what delete all leaves.
func TestDeleteAllNamesLoginsCreatedMeanwhile(t *testing.T) {
	e := newEnv(t, envOptions{})
	owner := e.signIn(t, "owner")
	const all = "/d/acme.example/delete-all"
	confirm := get(t, owner, all)
	wantStatus(t, confirm, http.StatusOK)

	holdDelete := make(chan struct{})
	e.SB.SetFaults(sandbox.Faults{Routes: []string{sandbox.RouteDeleteAll}, Hold: holdDelete})
	defer e.SB.SetFaults(sandbox.Faults{})
	done := make(chan error, 1)
	var flash, kind string
	go func() {
		p, err := owner.Post(t.Context(), all, url.Values{"confirm": {"acme.example"},
			"_csrf": {confirm.CSRF()}, "_form": {confirm.Find(`input[name="_form"]`).AttrOr("value", "")},
			"listed": {confirm.Find(`input[name="listed"]`).AttrOr("value", "")}})
		if err == nil {
			if p.Status != http.StatusOK {
				err = fmt.Errorf("delete all answered %d: %.300s", p.Status, p.Text())
			}
			flash = strings.Join(strings.Fields(p.TestID("flash").Text()), " ")
			kind = p.TestID("flash").AttrOr("data-kind", "")
		}
		done <- err
	}()
	e.waitCalls(t, sandbox.RouteDeleteAll, 1)
	lists := len(e.callsTo(sandbox.RouteList, ""))
	// The list read after the delete waits while late@ is created.
	holdList := make(chan struct{})
	e.SB.SetFaults(sandbox.Faults{Routes: []string{sandbox.RouteList}, Hold: holdList})
	close(holdDelete)
	e.waitCalls(t, sandbox.RouteList, lists+1)
	e.SB.SetFaults(sandbox.Faults{})
	if err := e.SB.AddCredential("acme.example", "late", "", time.Now()); err != nil {
		t.Fatal(err)
	}
	close(holdList)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(flash, "late@acme.example is still listed") || !strings.Contains(flash, "Delete it on its own") {
		t.Errorf("flash = %q, want late@acme.example named as still listed, to delete on its own", flash)
	}
	if kind != "warning" {
		t.Errorf("flash kind = %q, want warning", kind)
	}
	if strings.Contains(flash, "late@acme.example kept") {
		t.Errorf("flash = %q calls late@acme.example kept", flash)
	}
}
