package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestWayBackWarningTimeInTheViewersZone: the warning on the way back to the list after a reset
// that another user then reset again gave that reset's time in UTC ("on 2026-12-06 at 04:07
// UTC"), where the list and the trail give times in the viewer's zone. The page's script puts it
// in the viewer's zone now, to the minute as written and naming the zone, and keeps the UTC time
// in its title. India's zone is half an hour off UTC: no UTC time reads as its time.
func TestWayBackWarningTimeInTheViewersZone(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	const domain, login = "acme.example", "bob@acme.example"
	mine, theirs := srv.tab("wayback-zone-mine"), srv.tab("wayback-zone-theirs")
	mine.do("emulate a viewer in India", viewerZone("Asia/Kolkata", "en-US"))
	mine.signIn("operator")
	theirs.signIn("admin")
	for _, tb := range []*tab{mine, theirs} {
		tb.wantStatus("list", tb.open("/d/"+domain), http.StatusOK)
		tb.wait(rowLogin(login))
		resetFromRow(tb, srv, domain, login)
	}
	mine.wantStatus("Done", mine.click(testid("done-link")), http.StatusOK)
	mine.wait(rowSel)
	sel := testid("flash-warning") + " time[datetime]"
	if got := mine.count(sel); got != 1 {
		t.Fatalf("the way back's warning %q has %d times, want one", mine.text(testid("flash-warning")), got)
	}
	mine.look("warned-in-india")
	machine := mine.attrs(sel, "datetime")[0]
	at, err := time.Parse("2006-01-02T15:04Z07:00", machine)
	if err != nil {
		t.Fatalf("the warning's time %q: %v", machine, err)
	}
	local := at.In(time.FixedZone("IST", 5*3600+30*60))
	want := local.Format("Jan 2, 2006") + " at " + local.Format("03:04 PM") + " GMT+5:30"
	if got := mine.text(sel); got != want {
		t.Errorf("the warning's time reads %q, want %q (%s in India)", got, want, machine)
	}
	if warning := mine.text(testid("flash-warning")); !strings.Contains(warning, "again on "+want+", after your change") {
		t.Errorf("the warning reads %q, want the time in its sentence", warning)
	}
	if got, want := mine.attrs(sel, "title")[0], at.UTC().Format("2006-01-02 15:04 UTC"); got != want {
		t.Errorf("the warning's time on hover is %q, want the UTC time %q", got, want)
	}
}
