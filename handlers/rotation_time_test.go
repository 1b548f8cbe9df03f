package handlers_test

import (
	"bytes"
	"encoding/csv"
	"net/http"
	"testing"
	"time"

	"github.com/smtpdesk/smtpdesk/handlers"
)

// TestRotationMarkFollowsTheServersTimeZone: README promises "consider rotating" for logins
// whose password is older than AGE_WARNING_DAYS, and the CSV gives the ages in whole days of 24
// hours. The cutoff is now.AddDate(0, 0, -N) in the server's local zone (time.Now is in
// time.Local, TZ=Europe/Berlin for a server in Germany), so when a DST change lies between the
// cutoff and now, the threshold is N days plus or minus one hour: a login 179 days 23h30m old is
// marked (the CSV saying age 179, consider_rotating yes), and one 180 days 0h30m old is not.
func TestRotationMarkFollowsTheServersTimeZone(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	const n = 180
	cases := []struct {
		name string
		now  time.Time     // the server's clock, in its local zone
		age  time.Duration // the login's age
		want string        // consider_rotating: older than n days of 24 h?
	}{
		{"summer, 179 days 23h30m old", time.Date(2026, 8, 1, 12, 0, 0, 0, berlin), n*24*time.Hour - 30*time.Minute, "no"},
		{"winter, 180 days 0h30m old", time.Date(2026, 1, 15, 12, 0, 0, 0, berlin), n*24*time.Hour + 30*time.Minute, "yes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envOptions{Settings: handlers.Settings{AgeWarningDays: n},
				Now: func() time.Time { return tc.now }})
			created := tc.now.Add(-tc.age).UTC().Truncate(time.Second)
			if err := e.SB.AddCredential("example.com", "dst-age@example.com", "Dst-age-password-1", created); err != nil {
				t.Fatal(err)
			}
			c := e.signIn(t, "reviewer")
			p := get(t, c, "/d/example.com/export.csv")
			wantStatus(t, p, http.StatusOK)
			rows, err := csv.NewReader(bytes.NewReader(p.Body)).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, r := range rows {
				if r[1] != "dst-age@example.com" {
					continue
				}
				found = true
				if r[6] != tc.want {
					t.Errorf("AGE_WARNING_DAYS=%d, server in Europe/Berlin at %s: row %q: consider_rotating = %s with age_days %s (%s old), want %s",
						n, tc.now.Format(time.RFC3339), r, r[6], r[4], tc.age, tc.want)
				}
			}
			if !found {
				t.Fatalf("login not exported: %q", rows)
			}
		})
	}
}
