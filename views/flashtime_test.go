package views

import (
	"strings"
	"testing"
)

// TestFlashTimeIsLocalised: a flash's time written in TrailTimeLayout becomes a <time> element the
// page's script puts in the viewer's zone (data-local="at"), with the UTC text inside for a
// browser without the script; the rest of the message is escaped as before, and text that only
// looks like such a time stays text.
func TestFlashTimeIsLocalised(t *testing.T) {
	const at = `<time datetime="2026-12-06T04:07Z" title="2026-12-06 04:07 UTC" data-local="at">` +
		`<span class="whitespace-nowrap" data-local-day>2026-12-06</span> at <span class="whitespace-nowrap" data-local-clock>04:07 UTC</span></time>`
	for _, tt := range []struct{ name, msg, want string }{
		{"a time in a sentence", "Olga <Owner> reset it again on 2026-12-06 at 04:07 UTC, after your change.",
			"Olga &lt;Owner&gt; reset it again on " + at + ", after your change."},
		{"two times", "2026-12-06 at 04:07 UTC & 2026-12-06 at 04:07 UTC",
			at + " &amp; " + at},
		{"no time", "Password for bob@acme.example changed.", "Password for bob@acme.example changed."},
		{"UTC alone, at the start", " UTC now", " UTC now"},
		{"not a time of day", "on 2026-12-06 at 25:07 UTC", "on 2026-12-06 at 25:07 UTC"},
		{"a longer number before it", "12026-12-06 at 04:07 UTC", "12026-12-06 at 04:07 UTC"},
		{"an exact time, not a sentence's", "at 2026-12-06 04:07:00 UTC", "at 2026-12-06 04:07:00 UTC"},
	} {
		got := string(appendFlashes(nil, []Flash{{Kind: "warning", Message: tt.msg}}))
		if want := `data-testid="flash-warning">` + tt.want + `</p>`; !strings.Contains(got, want) {
			t.Errorf("%s: %q\nwant it to hold %q", tt.name, got, want)
		}
	}
}
