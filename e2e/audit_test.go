package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// viewerZone emulates the viewer's time zone (an IANA name) and locale for every later document
// of this tab.
func viewerZone(zone, locale string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		if _, err := chromedp.Call(ctx, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: zone}); err != nil {
			return err
		}
		_, err := chromedp.Call(ctx, emulation.SetLocaleOverride, emulation.SetLocaleOverrideParams{Locale: locale})
		return err
	})
}

// TestAuditTimesInTheViewersZone: the audit trail wrote each entry's exact time in UTC, where
// every other page gives times in the viewer's zone (DESIGN: "times in the viewer's time zone
// with the exact timestamp on hover"). It is still written in UTC by the server, and the page's
// script puts it in the viewer's zone, to the second and naming the zone, with the exact
// timestamp in its title. India's zone is half an hour off UTC: no UTC time reads as its time.
func TestAuditTimesInTheViewersZone(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	tb := srv.tab("audit-times")
	tb.do("emulate a viewer in India", viewerZone("Asia/Kolkata", "en-US"))
	tb.signIn("admin") // an entry of its own: the sign-in
	tb.wantStatus("audit trail", tb.open("/audit"), http.StatusOK)
	sel := testid("audit-row") + " " + testid("audit-time")
	tb.wait(sel)
	tb.look("audit-times")
	machine := tb.attrs(sel, "datetime")[0]
	wantDay, wantClock := inIndia(t, machine)
	if got, want := tb.texts(sel)[0], wantDay+" "+wantClock; got != want {
		t.Errorf("the entry's time reads %q, want %q (its time %s in India)", got, want, machine)
	}
	// Two lines, the day above the time of day, so that the column stays narrow.
	if got := tb.count(sel + " [data-local-clock]"); got == 0 {
		t.Error("the entry's time of day is not on a line of its own")
	}
	if got := tb.attrs(sel, "title")[0]; !strings.Contains(got, wantClock) || !strings.Contains(got, wantDay) {
		t.Errorf("the entry's exact timestamp on hover is %q, want %s %s", got, wantDay, wantClock)
	}
}

// TestAuditDatesAreTheViewersDays: the date filters are days in the viewer's zone, which the
// page's script puts in the form and the labels name; a viewer in India filtering the day of an
// entry finds it there (the days were UTC days, so an entry before 05:30 in India fell on the
// previous day's filter).
func TestAuditDatesAreTheViewersDays(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	tb := srv.tab("audit-zone")
	tb.do("emulate a viewer in India", viewerZone("Asia/Kolkata", "en-US"))
	tb.signIn("admin") // an entry of its own: the sign-in
	tb.wantStatus("audit trail", tb.open("/audit"), http.StatusOK)
	sel := testid("audit-row") + " " + testid("audit-time")
	tb.wait(sel)
	// Chromium names India's zone by its older name, Asia/Calcutta, as ICU does; the server
	// reads either.
	zone := query[string](tb, "the browser's time zone, from", "body", `() => Intl.DateTimeFormat().resolvedOptions().timeZone`)
	if zone != "Asia/Kolkata" && zone != "Asia/Calcutta" {
		t.Fatalf("the browser's time zone is %q, not India's", zone)
	}
	if got := tb.value(testid("filter-tz")); got != zone {
		t.Errorf("the form's time zone is %q, want the viewer's, %s", got, zone)
	}
	if got := tb.texts(`label[for="a-from"], label[for="a-to"]`); len(got) != 2 || !strings.Contains(got[0], "("+zone+")") || !strings.Contains(got[1], "("+zone+")") {
		t.Errorf("the date labels read %q, want them to name %s", got, zone)
	}
	at, err := time.Parse(time.RFC3339, tb.attrs(sel, "datetime")[0])
	if err != nil {
		t.Fatal(err)
	}
	day := at.In(time.FixedZone("IST", 5*3600+30*60)).Format(time.DateOnly)
	query[bool](tb, "set the dates of", "#a-from, #a-to", fmt.Sprintf(`els => { els.forEach(e => e.value = %q); return true; }`, day))
	tb.wantStatus("apply", tb.click(`form:has(#a-from) button[type="submit"]`), http.StatusOK)
	tb.wait(sel)
	tb.look("audit-zone")
	if u, err := url.Parse(tb.url()); err != nil || u.Query().Get("tz") != zone || u.Query().Get("from") != day {
		t.Errorf("the filter's address is %s, want from=%s and tz=%s", tb.url(), day, zone)
	}
	if got := tb.count(testid("audit-row")); got == 0 {
		t.Errorf("no entry on %s in India, the day of the sign-in at %s", day, at)
	}
	if got := tb.texts(`label[for="a-from"]`); !strings.Contains(got[0], "("+zone+")") {
		t.Errorf("after applying, the from label reads %q", got[0])
	}
}

// inIndia is a time element's datetime (machine, RFC 3339) as the page's script writes it for
// a viewer in India with the en-US locale (viewerZone("Asia/Kolkata", "en-US")): the day, and the
// time of day to the second with the zone named.
func inIndia(t *testing.T, machine string) (day, clock string) {
	t.Helper()
	at, err := time.Parse(time.RFC3339, machine)
	if err != nil {
		t.Fatalf("the time's datetime %q: %v", machine, err)
	}
	local := at.In(time.FixedZone("IST", 5*3600+30*60))
	return local.Format("Jan 2, 2006"), local.Format("03:04:05 PM") + " GMT+5:30"
}

// TestAuditCheckTimesInTheViewersZone: the integrity check's page gave the time of the check
// and of the oldest row in UTC only, beside a trail whose rows are in the viewer's zone: a
// reviewer comparing the oldest row with the trail's entries read two zones. Both are in the
// viewer's zone now, as the rows' times are (UTC stays in the title until the script runs, and
// as the text without it).
func TestAuditCheckTimesInTheViewersZone(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	tb := srv.tab("audit-check-times")
	tb.do("emulate a viewer in India", viewerZone("Asia/Kolkata", "en-US"))
	tb.signIn("admin") // the sign-in's entry is the oldest row
	tb.wantStatus("audit trail", tb.open("/audit"), http.StatusOK)
	tb.wantStatus("check integrity", tb.click(testid("verify-link")), http.StatusOK)
	tb.wait(testid("verify-intact"))
	tb.look("audit-check-times")
	// The page's two times, found as the page had them before (the oldest row's in its line, the
	// check's as the other), so that the test reads the same elements either way.
	sel := "main time[datetime]"
	if got := tb.count(testid("verify-oldest") + " time[datetime]"); got != 1 || tb.count(sel) != 2 {
		t.Fatalf("%d times on the page, %d of them the oldest row's; want the check's and the oldest row's", tb.count(sel), got)
	}
	machines, texts, titles := tb.attrs(sel, "datetime"), tb.texts(sel), tb.attrs(sel, "title")
	for i, machine := range machines {
		wantDay, wantClock := inIndia(t, machine)
		if got, want := texts[i], wantDay+" "+wantClock; got != want {
			t.Errorf("time %d reads %q, want %q (its time %s in India)", i+1, got, want, machine)
		}
		if got := titles[i]; !strings.Contains(got, wantClock) || !strings.Contains(got, wantDay) {
			t.Errorf("time %d's exact timestamp on hover is %q, want %s %s", i+1, got, wantDay, wantClock)
		}
	}
}

// TestAuditReversedDatesAnsweredByEither: a from date after the to date is one error of both date
// fields, under "from", which marks them both invalid and describes both. Changing either date
// answers it: the error is hidden, and neither field is marked invalid nor described by it (the
// script hid an error only when its own field, "from", changed, and left "to" marked invalid).
func TestAuditReversedDatesAnsweredByEither(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	tb := srv.tab("audit-dates")
	tb.signIn("admin")
	tb.wantStatus("audit trail", tb.open("/audit?from=2026-02-01&to=2026-01-01"), http.StatusOK)
	tb.wait("#a-from-error")
	tb.look("audit-dates-reversed")
	for _, id := range []string{"a-from", "a-to"} {
		if got := tb.ax("#" + id).Description; !strings.Contains(got, "After the to date") {
			t.Errorf("#%s is described as %q, want the error of the dates", id, got)
		}
	}
	tb.do("focus the to date", chromedp.Focus(chromedp.CSS("#a-to")))
	tb.do("change its day", keyPress("ArrowUp", "ArrowUp", 38))
	if !tb.has("#a-from-error[hidden]") {
		t.Error("the error stays shown after the to date changed")
	}
	for _, id := range []string{"a-from", "a-to"} {
		if got := tb.attrs("#"+id, "aria-invalid"); got[0] != "" {
			t.Errorf("#%s is still aria-invalid=%q", id, got[0])
		}
		if got := tb.attrs("#"+id, "aria-describedby"); got[0] != "" {
			t.Errorf("#%s is still described by %q", id, got[0])
		}
	}
}
