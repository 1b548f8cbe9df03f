package sandbox_test

import (
	"net/http"
	"slices"
	"sync"
	"testing"

	"github.com/smtpdesk/smtpdesk/mailgun/sandbox"
)

// sink collects what a secret sink is told.
type sink struct {
	mu  sync.Mutex
	got map[string][]string // kind → values
}

func (s *sink) record(kind, value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.got == nil {
		s.got = map[string][]string{}
	}
	s.got[kind] = append(s.got[kind], value)
}

func (s *sink) has(kind, value string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Contains(s.got[kind], value)
}

// TestSecretSink: the sink hears the API key, every generated password handed out and every
// password given (even a rejected one).
func TestSecretSink(t *testing.T) {
	var k sink
	s, base := newSandbox(t, sandbox.WithSecretSink(k.record))
	newDomain(t, s, "sink.example", "old", "old-password-1")
	if !k.has(sandbox.SecretAPIKey, testKey) {
		t.Error("the API key was not reported")
	}
	if !k.has(sandbox.SecretGivenPassword, "old-password-1") {
		t.Error("the password given to AddCredential was not reported")
	}

	r := call(t, base, http.MethodPost, "/v3/domains/sink.example/credentials", form("login", "a", "login", "b", "password", "given-pw-1"), urlencoded)
	r.want(t, http.StatusOK, "")
	gen := r.generated(t)
	if len(gen) != 1 {
		t.Fatalf("generated = %v, want one password", gen)
	}
	for _, p := range gen {
		if !k.has(sandbox.SecretGeneratedPassword, p) {
			t.Error("the password generated on create was not reported")
		}
	}
	if !k.has(sandbox.SecretGivenPassword, "given-pw-1") {
		t.Error("the password given on create was not reported")
	}

	r = call(t, base, http.MethodPut, "/v3/domains/sink.example/credentials/a", nil, urlencoded)
	r.want(t, http.StatusOK, "Password changed")
	for _, p := range r.generated(t) {
		if !k.has(sandbox.SecretGeneratedPassword, p) {
			t.Error("the password generated on reset was not reported")
		}
	}
	r = call(t, base, http.MethodPut, "/v3/domains/sink.example/credentials/a", form("password", "abc"), urlencoded)
	r.want(t, http.StatusBadRequest, "")
	if !k.has(sandbox.SecretGivenPassword, "abc") {
		t.Error("a rejected given password was not reported")
	}
}

// TestSetSecretSink: a sink installed after New hears the API key at once, then new passwords.
func TestSetSecretSink(t *testing.T) {
	s, base := newSandbox(t)
	newDomain(t, s, "late.example")
	var k sink
	s.SetSecretSink(k.record)
	if !k.has(sandbox.SecretAPIKey, testKey) {
		t.Error("the API key was not reported by SetSecretSink")
	}
	r := call(t, base, http.MethodPost, "/v3/domains/late.example/credentials", form("login", "x", "password", "late-pw-1"), urlencoded)
	r.want(t, http.StatusOK, "")
	if !k.has(sandbox.SecretGivenPassword, "late-pw-1") {
		t.Error("the given password was not reported")
	}
	s.SetSecretSink(nil)
	call(t, base, http.MethodPost, "/v3/domains/late.example/credentials", form("login", "y", "password", "after-removal"), urlencoded)
	if k.has(sandbox.SecretGivenPassword, "after-removal") {
		t.Error("a removed sink was still called")
	}
}
