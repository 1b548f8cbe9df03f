package handlers_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestHandlerLogsCarryTheRequestID: a warning a handler logs with the request's context (here
// "access denied") carries the request id the answer shows, so an operator can go from a
// user's quoted id to the cause; the access log line has it once.
func TestHandlerLogsCarryTheRequestID(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.signIn(t, "operator")
	p := get(t, c, "/d/acme.example/delete-all")
	wantStatus(t, p, http.StatusForbidden)
	id := p.Header.Get("X-Request-ID")
	if id == "" {
		t.Fatal("no X-Request-ID on the answer")
	}
	var denied, access int
	for _, line := range e.Logs.Lines() {
		if !strings.Contains(line, id) {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		switch rec["msg"] {
		case "access denied":
			denied++
		case "request":
			access++
			if n := strings.Count(line, `"request_id"`); n != 1 {
				t.Errorf("access log line has request_id %d times: %s", n, line)
			}
		}
		if rec["request_id"] != id {
			t.Errorf("line mentions the id but its request_id is %v: %s", rec["request_id"], line)
		}
	}
	if denied != 1 || access != 1 {
		t.Errorf("lines with the request id: %d \"access denied\", %d \"request\"; want 1 each\n%s", denied, access, e.Logs.String())
	}
}
