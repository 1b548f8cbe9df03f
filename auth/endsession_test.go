package auth_test

import "testing"

// TestEndSessionEndpoint: the provider's end_session_endpoint is exposed after discovery (the app
// adds its origin to the CSP's form-action, SECURITY.md item 10), and is "" when there is none.
func TestEndSessionEndpoint(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	if got, want := h.auth.EndSessionEndpoint(), h.idp.Issuer()+"/end_session"; got != want {
		t.Errorf("EndSessionEndpoint = %q, want %q", got, want)
	}
	if got := newHarness(t, harnessOpts{noEndSess: true}).auth.EndSessionEndpoint(); got != "" {
		t.Errorf("EndSessionEndpoint without one = %q, want \"\"", got)
	}
}
