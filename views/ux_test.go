package views

import (
	"strings"
	"testing"

	"github.com/a-h/templ"
)

// TestPasswordFieldsTakeLongPasswords: a chosen password longer than the limit must reach the
// server, which refuses it and says how many characters were typed; a maxlength would cut a
// pasted password short without a word, and the login would get another password.
func TestPasswordFieldsTakeLongPasswords(t *testing.T) {
	for name, c := range map[string]templ.Component{"create": Create(sampleCreate()), "reset": Reset(sampleReset())} {
		t.Run(name, func(t *testing.T) {
			doc, _ := render(t, c)
			pw := doc.Find(`input[type="password"]`)
			if pw.Length() != 2 {
				t.Fatalf("password inputs: got %d, want 2", pw.Length())
			}
			for i := range pw.Nodes {
				if v, ok := pw.Eq(i).Attr("maxlength"); ok {
					t.Errorf("password input %q has maxlength=%q", pw.Eq(i).AttrOr("name", ""), v)
				}
			}
			if got := testid(doc, "password-input").AttrOr("minlength", ""); got != "5" {
				t.Errorf("password minlength: got %q, want 5", got)
			}
			if hint := doc.Find("#f-password-hint").Text(); !strings.Contains(hint, "5 to 32 characters") {
				t.Errorf("password hint %q does not give the limits", hint)
			}
		})
	}
}
