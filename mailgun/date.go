package mailgun

import (
	"fmt"
	"strings"
	"time"
)

// parseCreatedAt parses a Mailgun timestamp and returns it in UTC. It accepts RFC 2822 with
// a numeric zone ("Wed, 08 Mar 2023 23:34:57 +0000"), the older "GMT"/"UTC" form, and
// RFC 3339 as a fallback. Other zone names are refused: Go would read them as UTC silently.
func parseCreatedAt(s string) (time.Time, error) {
	// Layouts of Mailgun's created_at: RFC 2822 with a numeric zone (current responses), with
	// a zone name such as "GMT" (older responses), with or without a leading zero on the day
	// and with or without the weekday.
	numericZoneLayouts := [...]string{
		"Mon, 02 Jan 2006 15:04:05 -0700",
		"Mon, 2 Jan 2006 15:04:05 -0700",
		"02 Jan 2006 15:04:05 -0700",
		"2 Jan 2006 15:04:05 -0700",
	}
	namedZoneLayouts := [...]string{
		"Mon, 02 Jan 2006 15:04:05 MST",
		"Mon, 2 Jan 2006 15:04:05 MST",
		"02 Jan 2006 15:04:05 MST",
		"2 Jan 2006 15:04:05 MST",
	}
	s = strings.TrimSpace(s)
	for _, layout := range numericZoneLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	if i := strings.LastIndexByte(s, ' '); i > 0 {
		switch s[i+1:] {
		case "GMT", "UTC", "UT", "Z":
			// Normalise so one layout with "MST" reads all of them as zero offset.
			norm := s[:i] + " UTC"
			for _, layout := range namedZoneLayouts {
				if t, err := time.Parse(layout, norm); err == nil {
					return t.UTC(), nil
				}
			}
		}
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	return time.Time{}, fmt.Errorf("%w: timestamp is not in RFC 2822 or RFC 3339 form", ErrBadResponse)
}

// parseOptionalTime is parseCreatedAt with "" meaning the zero time.
func parseOptionalTime(s string) (time.Time, error) {
	if strings.TrimSpace(s) == "" {
		return time.Time{}, nil
	}
	return parseCreatedAt(s)
}
