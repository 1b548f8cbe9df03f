package sandbox_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smtpdesk/smtpdesk/mailgun/sandbox"
)

func lastCall(t *testing.T, s *sandbox.Server) sandbox.Call {
	t.Helper()
	calls := s.Calls()
	if len(calls) == 0 {
		t.Fatal("no call recorded")
	}
	return calls[len(calls)-1]
}

func TestFaultStatus(t *testing.T) {
	tests := []struct {
		name           string
		faults         sandbox.Faults
		wantStatus     int
		wantMsg        string
		wantRetryAfter string
	}{
		{"429 with Retry-After rounded up", sandbox.Faults{Rate: 1, Status: 429, RetryAfter: 1500 * time.Millisecond}, 429, "Too Many Requests", "2"},
		{"429 without Retry-After", sandbox.Faults{Rate: 1, Status: 429}, 429, "Too Many Requests", ""},
		{"500", sandbox.Faults{Rate: 1, Status: 500, RetryAfter: time.Second}, 500, "Internal Server Error", ""},
		{"503 with Retry-After", sandbox.Faults{Rate: 1, Status: 503, RetryAfter: 3 * time.Second}, 503, "Service Unavailable", "3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, base := newSeeded(t)
			s.SetFaults(tt.faults)
			res := call(t, base, "GET", "/v3/domains/example.com/credentials", nil, "")
			res.want(t, tt.wantStatus, tt.wantMsg)
			if got := res.header.Get("Retry-After"); got != tt.wantRetryAfter {
				t.Fatalf("Retry-After = %q, want %q", got, tt.wantRetryAfter)
			}
			if got, want := lastCall(t, s), (sandbox.Call{Method: "GET", Path: "/v3/domains/example.com/credentials", Route: "list", Domain: "example.com", Status: tt.wantStatus, Fault: "status"}); got != want {
				t.Fatalf("call = %+v, want %+v", got, want)
			}
		})
	}
}

func TestFaultRoutesFilter(t *testing.T) {
	s, base := newSeeded(t)
	s.SetFaults(sandbox.Faults{Routes: []string{sandbox.RouteCreate, sandbox.RouteDomains}, Rate: 1, Status: 503})
	call(t, base, "GET", "/v3/domains/example.com/credentials", nil, "").want(t, 200, "")
	call(t, base, "POST", "/v3/domains/example.com/credentials", form("login", "zed"), urlencoded).want(t, 503, "")
	call(t, base, "GET", "/v4/domains", nil, "").want(t, 503, "")
	if slices.Contains(s.Logins("example.com"), "zed@example.com") {
		t.Fatal("a failed create (without AfterApply) created the login")
	}
	s.SetFaults(sandbox.Faults{})
	call(t, base, "GET", "/v4/domains", nil, "").want(t, 200, "")
}

func TestFaultRate(t *testing.T) {
	tests := []struct {
		name     string
		rate     float64
		chance   float64
		wantFail bool
	}{
		{"chance under rate fails", 0.5, 0.3, true},
		{"chance over rate passes", 0.5, 0.7, false},
		{"rate 0 never fails", 0, 0, false},
		{"rate 1 always fails", 1, 0.999, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, base := newSandbox(t, sandbox.WithDefaultSeed(), sandbox.WithFaultChooser(func() float64 { return tt.chance }))
			s.SetFaults(sandbox.Faults{Rate: tt.rate, Status: 500})
			res := call(t, base, "GET", "/v4/domains", nil, "")
			if got := res.status == 500; got != tt.wantFail {
				t.Fatalf("failed = %v, want %v (status %d)", got, tt.wantFail, res.status)
			}
		})
	}
}

func TestFaultDrop(t *testing.T) {
	s, base := newSeeded(t)
	s.SetFaults(sandbox.Faults{Rate: 1, Drop: true})
	client := &http.Client{Transport: &http.Transport{}}
	req, _ := http.NewRequest("DELETE", base+"/v3/domains/example.com/credentials/user001", nil)
	req.SetBasicAuth("api", testKey)
	res, err := client.Do(req)
	if err == nil {
		res.Body.Close()
		t.Fatalf("want a transport error, got status %d", res.StatusCode)
	}
	if got := lastCall(t, s); got.Status != 0 || got.Fault != "drop" || got.Route != "delete" {
		t.Fatalf("call = %+v, want status 0, fault drop, route delete", got)
	}
	if !slices.Contains(s.Logins("example.com"), "user001@example.com") {
		t.Fatal("a dropped delete (without AfterApply) deleted the login")
	}
}

func TestFaultMalformed(t *testing.T) {
	s, base := newSeeded(t)
	s.SetFaults(sandbox.Faults{Rate: 1, Malformed: true})
	req, _ := http.NewRequest("GET", base+"/v3/domains/example.com/credentials", nil)
	req.SetBasicAuth("api", testKey)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if got, want := res.StatusCode, 200; got != want {
		t.Fatalf("status = %d, want %d", got, want)
	}
	var v map[string]any
	if err := json.NewDecoder(res.Body).Decode(&v); err == nil {
		t.Fatalf("body decoded as JSON: %v", v)
	}
	if got := lastCall(t, s).Fault; got != "malformed" {
		t.Fatalf("fault = %q, want malformed", got)
	}
}

func TestFaultAfterApply(t *testing.T) {
	s, base := newSeeded(t)
	s.SetFaults(sandbox.Faults{Rate: 1, Status: 503, AfterApply: true})

	call(t, base, "POST", "/v3/domains/example.com/credentials", form("login", "zed", "password", "zed-pass"), multipartE).want(t, 503, "")
	if !s.CheckPassword("example.com", "zed", "zed-pass") {
		t.Fatal("create with AfterApply did not apply")
	}
	call(t, base, "PUT", "/v3/domains/example.com/credentials/zed", form("password", "zed-pass2"), urlencoded).want(t, 503, "")
	if !s.CheckPassword("example.com", "zed", "zed-pass2") {
		t.Fatal("update with AfterApply did not apply")
	}
	call(t, base, "PUT", "/v3/example.com/mailboxes/zed", form("password", "zed-pass3"), urlencoded).want(t, 503, "")
	if !s.CheckPassword("example.com", "zed", "zed-pass3") {
		t.Fatal("update_mailbox with AfterApply did not apply")
	}
	call(t, base, "DELETE", "/v3/domains/example.com/credentials/zed", nil, "").want(t, 503, "")
	if slices.Contains(s.Logins("example.com"), "zed@example.com") {
		t.Fatal("delete with AfterApply did not apply")
	}
	call(t, base, "DELETE", "/v3/domains/newsletter.example.org/credentials", nil, "").want(t, 503, "")
	if got, want := s.Logins("newsletter.example.org"), []string{"postmaster@newsletter.example.org"}; !slices.Equal(got, want) {
		t.Fatalf("delete_all with AfterApply: logins = %v, want %v", got, want)
	}
	// Reads just fail.
	call(t, base, "GET", "/v3/domains/example.com/credentials", nil, "").want(t, 503, "")

	// AfterApply with a dropped connection: applied, and the caller hears nothing.
	s.SetFaults(sandbox.Faults{Rate: 1, Drop: true, AfterApply: true})
	req, _ := http.NewRequest("DELETE", base+"/v3/domains/example.com/credentials/user002", nil)
	req.SetBasicAuth("api", testKey)
	if res, err := (&http.Client{Transport: &http.Transport{}}).Do(req); err == nil {
		res.Body.Close()
		t.Fatalf("want a transport error, got %d", res.StatusCode)
	}
	if slices.Contains(s.Logins("example.com"), "user002@example.com") {
		t.Fatal("dropped delete with AfterApply did not apply")
	}
}

func TestFaultLatencyEndsWhenClientLeaves(t *testing.T) {
	s := sandbox.New(testKey, sandbox.WithDefaultSeed())
	// An hour of latency: the test only finishes because the handler returns when the
	// request's context is done.
	s.SetFaults(sandbox.Faults{Latency: time.Hour, Rate: 1, Status: 500})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := httptest.NewRequestWithContext(ctx, "GET", "/v4/domains", nil)
	req.SetBasicAuth("api", testKey)
	rw := httptest.NewRecorder()
	s.ServeHTTP(rw, req)
	if got := rw.Body.Len(); got != 0 {
		t.Fatalf("answered %d bytes to a client that left", got)
	}
	if got := lastCall(t, s); got.Status != 0 || got.Route != "domains" {
		t.Fatalf("call = %+v, want status 0 on route domains", got)
	}
}

func TestFaultLatencyWithoutFailure(t *testing.T) {
	s := sandbox.New(testKey, sandbox.WithDefaultSeed())
	s.SetFaults(sandbox.Faults{Latency: time.Millisecond})
	req := httptest.NewRequest("GET", "/v4/domains", nil)
	req.SetBasicAuth("api", testKey)
	rw := httptest.NewRecorder()
	s.ServeHTTP(rw, req)
	if got, want := rw.Code, 200; got != want {
		t.Fatalf("status = %d, want %d", got, want)
	}
}

// TestFaultHold: a held call answers only once the hold is released, and a client that leaves
// ends its wait.
func TestFaultHold(t *testing.T) {
	s := sandbox.New(testKey, sandbox.WithDefaultSeed())
	hold := make(chan struct{})
	s.SetFaults(sandbox.Faults{Routes: []string{sandbox.RouteDomains}, Hold: hold})
	serve := func(ctx context.Context) *httptest.ResponseRecorder {
		req := httptest.NewRequestWithContext(ctx, "GET", "/v4/domains", nil)
		req.SetBasicAuth("api", testKey)
		rw := httptest.NewRecorder()
		s.ServeHTTP(rw, req)
		return rw
	}
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	if rw := serve(gone); rw.Body.Len() != 0 {
		t.Fatalf("answered %d bytes to a client that left", rw.Body.Len())
	}
	answered := make(chan *httptest.ResponseRecorder, 1)
	go func() { answered <- serve(context.Background()) }()
	// Nothing answers it meanwhile. (Only a broken hold can fail this look; a slow machine can
	// make it miss a broken hold, not fail a working one.)
	select {
	case rw := <-answered:
		t.Fatalf("a held call answered %d before the release", rw.Code)
	case <-time.After(50 * time.Millisecond):
	}
	close(hold)
	if rw := <-answered; rw.Code != http.StatusOK {
		t.Fatalf("after the release: status %d, want 200", rw.Code)
	}
}

// TestFaultLatencyOversizedBody: a body over the limit is refused the same way with latency
// injected as without (it used to get an empty 200, which a client reads as success).
func TestFaultLatencyOversizedBody(t *testing.T) {
	s := sandbox.New(testKey, sandbox.WithDefaultSeed())
	body := "login=alice&password=" + strings.Repeat("x", 1<<20)
	for _, latency := range []time.Duration{0, time.Millisecond} {
		s.SetFaults(sandbox.Faults{Latency: latency})
		req := httptest.NewRequest("POST", "/v3/domains/example.com/credentials", strings.NewReader(body))
		req.SetBasicAuth("api", testKey)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rw := httptest.NewRecorder()
		s.ServeHTTP(rw, req)
		if rw.Code != http.StatusBadRequest || !strings.Contains(rw.Body.String(), `"message"`) {
			t.Errorf("latency %v: %d %q, want 400 with a JSON message", latency, rw.Code, rw.Body.String())
		}
	}
}

func TestCurrentFaultsIsACopy(t *testing.T) {
	s := sandbox.New(testKey)
	routes := []string{"list"}
	s.SetFaults(sandbox.Faults{Routes: routes, Rate: 1, Status: 500})
	routes[0] = "create"
	f := s.CurrentFaults()
	if got, want := f.Routes, []string{"list"}; !slices.Equal(got, want) {
		t.Fatalf("routes = %v, want %v", got, want)
	}
	s.SetFaults(sandbox.Faults{})
	if got := s.CurrentFaults(); got.Status != 0 || got.Rate != 0 {
		t.Fatalf("faults after reset = %+v", got)
	}
}

// A POST waiting out injected latency must end when its client gives up; otherwise the server
// cannot shut down until the latency has passed.
func TestFaultLatencyEndsWhenAPostClientLeaves(t *testing.T) {
	s := sandbox.New("key", sandbox.WithDefaultSeed())
	s.SetFaults(sandbox.Faults{Latency: time.Hour})
	srv := httptest.NewServer(s)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/v3/domains/example.com/credentials",
		strings.NewReader("login=late&password=secret123"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("api", "key")
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatal("the request answered despite an hour of latency")
	}
	closed := make(chan struct{})
	go func() { srv.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(30 * time.Second):
		t.Fatal("the server is still serving the abandoned POST: its latency did not end with the client")
	}
	if slices.Contains(s.Logins("example.com"), "late@example.com") {
		t.Error("the abandoned POST created its login")
	}
}

// TestFaultThen: a call that fails under faults with Then hands over to Then before it is
// answered, so the next call (a client's retry) meets Then: here a delete applied and answered
// 503, then a 401 as from a key revoked meanwhile, then (Then's own Then) no faults at all. A
// call that does not fail (another route) leaves the faults as they are.
func TestFaultThen(t *testing.T) {
	s, base := newSeeded(t)
	s.SetFaults(sandbox.Faults{Routes: []string{sandbox.RouteDelete}, Rate: 1, Status: 503, AfterApply: true,
		Then: &sandbox.Faults{Rate: 1, Status: http.StatusUnauthorized, Message: "Invalid private key", Then: &sandbox.Faults{}}})

	call(t, base, "GET", "/v3/domains/example.com/credentials", nil, "").want(t, 200, "")
	if got := s.CurrentFaults(); got.Status != 503 || got.Then == nil {
		t.Fatalf("faults after a call that did not fail = %+v, want the 503 still", got)
	}
	call(t, base, "DELETE", "/v3/domains/example.com/credentials/user001", nil, "").want(t, 503, "Service Unavailable")
	if slices.Contains(s.Logins("example.com"), "user001@example.com") {
		t.Fatal("the delete that failed after applying did not apply")
	}
	// Then has no Routes: every route fails now, with the given message.
	call(t, base, "DELETE", "/v3/domains/example.com/credentials/user001", nil, "").want(t, 401, "Invalid private key")
	if got := s.CurrentFaults(); got.Status != 0 || got.Rate != 0 || got.Then != nil {
		t.Fatalf("faults after Then's failure = %+v, want none", got)
	}
	call(t, base, "DELETE", "/v3/domains/example.com/credentials/user001", nil, "").want(t, 404, "Credentials not found")
}

// TestFaultThenIsACopy: the faults the caller passed, and those CurrentFaults returns, are not
// the ones the server swaps in.
func TestFaultThenIsACopy(t *testing.T) {
	s, base := newSeeded(t)
	then := &sandbox.Faults{Rate: 1, Status: 404, Message: "Domain not found"}
	s.SetFaults(sandbox.Faults{Rate: 1, Status: 500, Then: then})
	then.Status = 400
	s.CurrentFaults().Then.Status = 409
	call(t, base, "GET", "/v4/domains", nil, "").want(t, 500, "")
	call(t, base, "GET", "/v4/domains", nil, "").want(t, 404, "Domain not found")
}
