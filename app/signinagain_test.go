package app

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/smtpdesk/smtpdesk/internal/testflow"
)

// TestRefusedSignInWhileSignedInSaysSo (after a review helper's): signed in as Ada, a newcomer
// goes Back to the demo's persona chooser and picks Rita, the natural way to switch persona. The
// sign-in's state was used up, so the callback is refused, and the session stays Ada's: the page
// said "You are not signed in" under a top bar naming her. It now says who is still signed in and
// how to change it, and signing in again does.
func TestRefusedSignInWhileSignedInSaysSo(t *testing.T) {
	d := startDemo(t, DemoOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := testflow.New(d.URL)
	if err != nil {
		t.Fatal(err)
	}
	chooser, err := c.Get(ctx, "/auth/login")
	if err != nil {
		t.Fatal(err)
	}
	choose := func(persona string) *testflow.Page {
		t.Helper()
		vals := url.Values{}
		sel := chooser.TestID("persona-" + persona).Closest("form").Find("input")
		for i := range sel.Length() {
			in := sel.Eq(i)
			vals.Add(in.AttrOr("name", ""), in.AttrOr("value", ""))
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, chooser.URL.String(), strings.NewReader(vals.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		p, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	if p := choose("admin"); p.Status != http.StatusOK || !strings.Contains(p.Text(), "Ada Admin") {
		t.Fatalf("sign-in as Ada: %d at %s", p.Status, p.URL)
	}
	p := choose("reviewer") // Back, then another persona
	if p.Status != http.StatusBadRequest || !strings.Contains(p.Text(), "Sign-in did not complete") {
		t.Fatalf("the used-up sign-in: %d %q, want 400 and Sign-in did not complete", p.Status, p.Text())
	}
	if text := p.Text(); strings.Contains(text, "not signed in") || !strings.Contains(text, "You are still signed in as Ada Admin. To sign in as someone else, sign in again.") {
		t.Errorf("the refused sign-in's page says %q; want it to say Ada is still signed in and how to switch", text)
	}
	if home, err := c.Get(ctx, "/"); err != nil || home.Status != http.StatusOK || !strings.Contains(home.Text(), "Ada Admin") {
		t.Fatalf("home after the refused sign-in: %v %v, want Ada still signed in", home, err)
	}
	// Signing in again is how to switch.
	if p, err := c.SignIn(ctx, "reviewer"); err != nil || p.Status != http.StatusOK || strings.Contains(p.Text(), "Ada Admin") || !strings.Contains(p.Text(), "Rita") {
		t.Errorf("signing in again as Rita: %v %v", p, err)
	}
}
