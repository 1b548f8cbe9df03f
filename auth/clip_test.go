package auth_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/smtpdesk/smtpdesk/auth"
)

// What the trail keeps of the provider's free text is cut to a length on a character boundary:
// cut inside a character, the entry held invalid UTF-8 (stored as U+FFFD).
func TestRefusedSignInDetailIsCutOnACharacter(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	b := h.browser()
	authz, err := url.Parse(b.startLogin("/"))
	if err != nil {
		t.Fatal(err)
	}
	desc := strings.Repeat("a", 199) + "é and more" // 'é' spans bytes 199 and 200 of 200 kept
	q := url.Values{"state": {authz.Query().Get("state")}, "error": {"access_denied"}, "error_description": {desc}}
	if pg := b.get(auth.CallbackPath + "?" + q.Encode()); pg.resp.StatusCode != http.StatusForbidden {
		t.Fatalf("callback with access_denied = %d, want 403", pg.resp.StatusCode)
	}
	ev := h.events.last(auth.ActionSignInRefused)
	if !strings.Contains(ev.Detail, "access_denied") {
		t.Fatalf("refusal detail = %q, want the provider's code", ev.Detail)
	}
	if !utf8.ValidString(ev.Detail) {
		t.Errorf("refusal detail is not valid UTF-8: %q", ev.Detail)
	}
}
