package handlers_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestCreateFormSaysSystemLoginsCannotBeDeleted (by a review helper): the create form's "System login" box is a
// choice that cannot be undone: Mailgun refuses to delete a system login, and SMTP Desk then
// offers no Delete on its row and a delete page that says "Mailgun does not allow deleting it".
// The box's hint said only that system logins "survive delete all", so an owner who ticks it
// (to keep a login out of a delete all, say) learns afterwards that the login can never be
// removed.
func TestCreateFormSaysSystemLoginsCannotBeDeleted(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	c := e.signIn(t, "owner")

	form := get(t, c, "/d/acme.example/new")
	wantStatus(t, form, http.StatusOK)
	hint := strings.Join(strings.Fields(form.Find("#f-system-hint").Text()), " ")

	// What ticking it leads to.
	wantStatus(t, submit(t, c, "/d/acme.example/new", "/d/acme.example/new", map[string]string{"logins": "relay", "system": "on"}), http.StatusOK)
	del := get(t, c, "/d/acme.example/logins/relay@acme.example/delete")
	wantStatus(t, del, http.StatusOK)
	if !strings.Contains(del.Text(), "does not allow deleting it") {
		t.Fatalf("the delete page of a system login just created does not refuse: %.400s", del.Text())
	}

	lower := strings.ToLower(hint)
	if !strings.Contains(lower, "cannot be deleted") && !strings.Contains(lower, "not allow deleting") && !strings.Contains(lower, "can't be deleted") {
		t.Errorf("the create form's System login hint is %q: it does not say that a system login cannot be deleted afterwards (its delete page says %q)",
			hint, "Mailgun does not allow deleting it")
	}
}
