package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smtpdesk/smtpdesk/mailgun/sandbox"
)

// newControlServer serves a control wrapper around an empty sandbox with one domain.
func newControlServer(t *testing.T) (*httptest.Server, *sandbox.Server) {
	t.Helper()
	s := sandbox.New("k")
	if err := s.AddDomain("mix.example"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(&control{s: s, key: "k"})
	t.Cleanup(srv.Close)
	return srv, s
}

// call sends an authenticated request with an optional form or JSON body.
func call(t *testing.T, method, u, body, contentType string) (*http.Response, error) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("api", "k")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := http.DefaultClient.Do(req)
	if err == nil {
		res.Body.Close()
	}
	return res, err
}

func setMix(t *testing.T, base, body string, wantStatus int) {
	t.Helper()
	res, err := call(t, http.MethodPost, base+"/_sandbox/faults", body, "application/json")
	if err != nil {
		t.Fatal(err)
	}
	if got := res.StatusCode; got != wantStatus {
		t.Fatalf("POST /_sandbox/faults %s: status = %d, want %d", body, got, wantStatus)
	}
}

func TestFaultMixKinds(t *testing.T) {
	form := url.Values{"login": {"alice"}}.Encode()
	const formType = "application/x-www-form-urlencoded"
	tests := []struct {
		kind       string
		wantStatus int // 0: no answer
		wantRetry  string
		applied    bool // the create took effect
	}{
		{"500", 500, "", false},
		{"503", 503, "2", false},
		{"429", 429, "2", false},
		{"drop", 0, "", false},
		{"drop_after_apply", 0, "", true},
		{"slow", 200, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			srv, s := newControlServer(t)
			setMix(t, srv.URL, `{"rate":1,"kinds":["`+tt.kind+`"],"retry_after":"1500ms","slow_latency":"1ms"}`, http.StatusNoContent)
			res, err := call(t, http.MethodPost, srv.URL+"/v3/domains/mix.example/credentials", form, formType)
			switch {
			case tt.wantStatus == 0 && err == nil:
				t.Fatalf("status = %d, want no answer", res.StatusCode)
			case tt.wantStatus != 0 && err != nil:
				t.Fatalf("err = %v, want status %d", err, tt.wantStatus)
			case tt.wantStatus != 0:
				if got := res.StatusCode; got != tt.wantStatus {
					t.Fatalf("status = %d, want %d", got, tt.wantStatus)
				}
				if got := res.Header.Get("Retry-After"); got != tt.wantRetry {
					t.Fatalf("Retry-After = %q, want %q", got, tt.wantRetry)
				}
			}
			if got := slices.Contains(s.Logins("mix.example"), "alice@mix.example"); got != tt.applied {
				t.Fatalf("applied = %v, want %v", got, tt.applied)
			}
			var snap mixJSON
			getJSON(t, srv.URL+"/_sandbox/faults", &snap)
			if got, want := snap.Injected[tt.kind], int64(1); got != want {
				t.Fatalf("injected[%s] = %d, want %d", tt.kind, got, want)
			}
		})
	}
}

func TestFaultMixOffAndWrongKey(t *testing.T) {
	srv, _ := newControlServer(t)
	setMix(t, srv.URL, `{"rate":1,"kinds":["500"]}`, http.StatusNoContent)
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v4/domains", nil)
	req.SetBasicAuth("api", "wrong")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if got, want := res.StatusCode, http.StatusUnauthorized; got != want {
		t.Fatalf("wrong key under a 100%% mix: status = %d, want %d (no fault for unauthorized calls)", got, want)
	}
	setMix(t, srv.URL, `{"rate":0}`, http.StatusNoContent)
	res, err = call(t, http.MethodGet, srv.URL+"/v4/domains", "", "")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := res.StatusCode, http.StatusOK; got != want {
		t.Fatalf("after rate 0: status = %d, want %d", got, want)
	}
}

func TestFaultMixRejects(t *testing.T) {
	srv, _ := newControlServer(t)
	for _, body := range []string{
		`{"rate":1.5}`, `{"rate":-0.1}`, `{"rate":0.1,"kinds":["teapot"]}`,
		`{"rate":0.1,"retry_after":"soon"}`, `{"rate":0.1,"slow_latency":"2m"}`, `{"rate":0.1,"extra":1}`, `not json`,
		``, `{"rate":0.5} {"rate":0}`,
	} {
		setMix(t, srv.URL, body, http.StatusBadRequest)
	}
}

// TestParseMixSaysWhatToSend checks that a body that is not one JSON object (none at all, or
// two) is refused with an example of what to send.
func TestParseMixSaysWhatToSend(t *testing.T) {
	for _, body := range []string{``, `{"rate":0.5} {"rate":0}`} {
		if _, err := parseMix(strings.NewReader(body)); err == nil || !strings.Contains(err.Error(), `e.g. {"rate":0.1}`) {
			t.Errorf("parseMix(%q) = %v, want an error with an example body", body, err)
		}
	}
}

func TestLoginsAndDomains(t *testing.T) {
	srv, s := newControlServer(t)
	res, err := call(t, http.MethodPost, srv.URL+"/_sandbox/domains?name=soak.example", "", "")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := res.StatusCode, http.StatusCreated; got != want {
		t.Fatalf("add domain: status = %d, want %d", got, want)
	}
	res, _ = call(t, http.MethodPost, srv.URL+"/_sandbox/domains?name=soak.example", "", "")
	if got, want := res.StatusCode, http.StatusConflict; got != want {
		t.Fatalf("add it again: status = %d, want %d", got, want)
	}
	if err := s.AddCredential("soak.example", "bob@soak.example", "secret-pw", time.Now()); err != nil {
		t.Fatal(err)
	}
	var body loginsBody
	getJSON(t, srv.URL+"/_sandbox/logins?domain=soak.example", &body)
	if got, want := body.Domain, "soak.example"; got != want {
		t.Errorf("domain = %q, want %q", got, want)
	}
	if got, want := body.Logins, []string{"postmaster@soak.example", "bob@soak.example"}; !slices.Equal(got, want) {
		t.Fatalf("logins = %v, want %v", got, want)
	}
	res, _ = call(t, http.MethodGet, srv.URL+"/_sandbox/logins?domain=nope.example", "", "")
	if got, want := res.StatusCode, http.StatusNotFound; got != want {
		t.Fatalf("unknown domain: status = %d, want %d", got, want)
	}
}

func getJSON(t *testing.T, u string, v any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.SetBasicAuth("api", "k")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d", u, res.StatusCode)
	}
	if err := json.NewDecoder(res.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

// A create under the slow fault whose client gives up during the latency is not applied: the
// client was told nothing, so applying it would leave a login nobody knows the password of.
func TestFaultMixSlowNotAppliedAfterClientLeft(t *testing.T) {
	srv, s := newControlServer(t)
	// Long enough that only a call the sandbox failed to end early could finish it.
	setMix(t, srv.URL, `{"rate":1,"kinds":["slow"],"slow_latency":"30s"}`, http.StatusNoContent)
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	form := url.Values{"login": {"alice"}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/v3/domains/mix.example/credentials", strings.NewReader(form))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("api", "k")
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if res, err := http.DefaultClient.Do(req); err == nil {
		res.Body.Close()
		t.Fatalf("status = %d, want the client to give up first", res.StatusCode)
	}
	srv.Close() // waits for the handler: it returns once it notices the client left
	if slices.Contains(s.Logins("mix.example"), "alice@mix.example") {
		t.Fatal("the create was applied after its client left")
	}
}

// A create over the API's 1 MiB body limit under drop_after_apply is refused as it is without a
// fault, not applied from a body cut at the limit (which parses as a shorter, valid form).
func TestFaultMixDropAfterApplyOversizedBody(t *testing.T) {
	srv, s := newControlServer(t)
	setMix(t, srv.URL, `{"rate":1,"kinds":["drop_after_apply"]}`, http.StatusNoContent)
	form := url.Values{"login": {"alice"}, "pad": {strings.Repeat("x", 1<<20)}}.Encode()
	if res, err := call(t, http.MethodPost, srv.URL+"/v3/domains/mix.example/credentials", form, "application/x-www-form-urlencoded"); err == nil {
		t.Fatalf("status = %d, want the connection dropped", res.StatusCode)
	}
	srv.Close() // waits for the handler
	if slices.Contains(s.Logins("mix.example"), "alice@mix.example") {
		t.Fatal("an oversized create was applied from its truncated body")
	}
}

// TestControlEndpoints pins each control endpoint's method, status and JSON type: a wrong method
// is 405 and changes nothing, an unknown control path is 404, a bad domain name is 400.
func TestControlEndpoints(t *testing.T) {
	tests := []struct {
		method, path string
		wantStatus   int
		wantType     string
	}{
		{http.MethodGet, "/_sandbox/stats", http.StatusOK, "application/json"},
		{http.MethodPost, "/_sandbox/stats", http.StatusMethodNotAllowed, ""},
		{http.MethodGet, "/_sandbox/latency?d=1s", http.StatusMethodNotAllowed, ""},
		{http.MethodGet, "/_sandbox/faults", http.StatusOK, "application/json"},
		{http.MethodPut, "/_sandbox/faults", http.StatusMethodNotAllowed, ""},
		{http.MethodGet, "/_sandbox/logins?domain=mix.example", http.StatusOK, "application/json"},
		{http.MethodPost, "/_sandbox/logins?domain=mix.example", http.StatusMethodNotAllowed, ""},
		{http.MethodGet, "/_sandbox/domains?name=new.example", http.StatusMethodNotAllowed, ""},
		{http.MethodPost, "/_sandbox/domains?name=", http.StatusBadRequest, ""},
		{http.MethodGet, "/_sandbox/nope", http.StatusNotFound, ""},
	}
	srv, s := newControlServer(t)
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			res, err := call(t, tt.method, srv.URL+tt.path, "", "")
			if err != nil {
				t.Fatal(err)
			}
			if got, want := res.StatusCode, tt.wantStatus; got != want {
				t.Errorf("status = %d, want %d", got, want)
			}
			if got, want := res.Header.Get("Content-Type"), tt.wantType; want != "" && got != want {
				t.Errorf("Content-Type = %q, want %q", got, want)
			}
		})
	}
	if got := s.CurrentFaults().Latency; got != 0 {
		t.Errorf("latency = %v after a GET of /_sandbox/latency, want 0", got)
	}
	if s.Logins("new.example") != nil {
		t.Error("a GET of /_sandbox/domains added the domain")
	}
}

// TestControlNeedsTheAPIUser: the control endpoints need user "api" and the key, as the API
// does, and a refusal asks for Basic auth.
func TestControlNeedsTheAPIUser(t *testing.T) {
	srv, _ := newControlServer(t)
	for _, tt := range []struct{ name, user, pass string }{
		{"another user with the key", "admin", "k"},
		{"api with a wrong key", "api", "wrong"},
		{"no credentials", "", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, srv.URL+"/_sandbox/stats", nil)
			if tt.user != "" {
				req.SetBasicAuth(tt.user, tt.pass)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if got, want := res.StatusCode, http.StatusUnauthorized; got != want {
				t.Errorf("status = %d, want %d", got, want)
			}
			if got, want := res.Header.Get("Www-Authenticate"), `Basic realm="MG API"`; got != want {
				t.Errorf("Www-Authenticate = %q, want %q", got, want)
			}
		})
	}
}

// TestControlLatency: POST /_sandbox/latency takes 0s to 1m, and replaces only the latency: the
// other faults in force stay.
func TestControlLatency(t *testing.T) {
	srv, s := newControlServer(t)
	s.SetFaults(sandbox.Faults{Rate: 1, Status: http.StatusServiceUnavailable, Routes: []string{sandbox.RouteDomains}})
	for _, tt := range []struct {
		d          string
		wantStatus int
	}{
		{"1m", http.StatusNoContent},
		{"-1s", http.StatusBadRequest},
		{"1m1s", http.StatusBadRequest},
	} {
		res, err := call(t, http.MethodPost, srv.URL+"/_sandbox/latency?d="+tt.d, "", "")
		if err != nil {
			t.Fatal(err)
		}
		if got, want := res.StatusCode, tt.wantStatus; got != want {
			t.Errorf("d=%s: status = %d, want %d", tt.d, got, want)
		}
	}
	f := s.CurrentFaults()
	if got, want := f.Latency, time.Minute; got != want {
		t.Errorf("latency = %v, want %v", got, want)
	}
	if f.Rate != 1 || f.Status != http.StatusServiceUnavailable || !slices.Equal(f.Routes, []string{sandbox.RouteDomains}) {
		t.Errorf("faults = %+v, want the 503 fault on domains kept", f)
	}
}

// TestStatsCountsListCallsOnly: list_requests counts only GETs of a domain's credentials; every
// other API call counts in requests alone.
func TestStatsCountsListCallsOnly(t *testing.T) {
	srv, _ := newControlServer(t)
	form := url.Values{"login": {"bob"}}.Encode()
	for _, c := range []struct{ method, path, body, contentType string }{
		{http.MethodPost, "/v3/domains/mix.example/credentials", form, "application/x-www-form-urlencoded"},
		{http.MethodGet, "/v3/domains/mix.example/credentials", "", ""},
		{http.MethodGet, "/v3/domains/mix.example/credentials/bob@mix.example", "", ""},
		{http.MethodDelete, "/v3/domains/mix.example/credentials", "", ""},
	} {
		if _, err := call(t, c.method, srv.URL+c.path, c.body, c.contentType); err != nil {
			t.Fatal(err)
		}
	}
	var got stats
	getJSON(t, srv.URL+"/_sandbox/stats", &got)
	if want := (stats{Requests: 4, ListRequests: 1}); got != want {
		t.Errorf("stats = %+v, want %+v", got, want)
	}
}

// TestFaultMixDefaults: a mix given only a rate uses every kind, a 1s Retry-After and a 500ms
// slow latency, and GET /_sandbox/faults shows each in its own field.
func TestFaultMixDefaults(t *testing.T) {
	srv, _ := newControlServer(t)
	setMix(t, srv.URL, `{"rate":0.25}`, http.StatusNoContent)
	var got mixJSON
	getJSON(t, srv.URL+"/_sandbox/faults", &got)
	if got.Rate != 0.25 || !slices.Equal(got.Kinds, mixKinds()) || got.RetryAfter != "1s" || got.SlowLatency != "500ms" {
		t.Errorf("mix = %+v, want rate 0.25, every kind, retry_after 1s, slow_latency 500ms", got)
	}
	setMix(t, srv.URL, `{"rate":1,"kinds":["429"]}`, http.StatusNoContent)
	res, err := call(t, http.MethodGet, srv.URL+"/v4/domains", "", "")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := res.Header.Get("Retry-After"), "1"; got != want {
		t.Errorf("Retry-After = %q, want %q", got, want)
	}
}

// TestFaultMixDurationLimits: retry_after and slow_latency may be 0s to 1m, both ends included.
func TestFaultMixDurationLimits(t *testing.T) {
	srv, _ := newControlServer(t)
	for _, tt := range []struct {
		body       string
		wantStatus int
	}{
		{`{"rate":0.1,"retry_after":"1m","slow_latency":"0s"}`, http.StatusNoContent},
		{`{"rate":0.1,"retry_after":"0s","slow_latency":"1m"}`, http.StatusNoContent},
		{`{"rate":0.1,"retry_after":"-1s"}`, http.StatusBadRequest},
		{`{"rate":0.1,"slow_latency":"-1ms"}`, http.StatusBadRequest},
	} {
		setMix(t, srv.URL, tt.body, tt.wantStatus)
	}
}

// TestFaultMixBodyLimit: a mix body over 64 KiB is refused, even one that would parse.
func TestFaultMixBodyLimit(t *testing.T) {
	srv, _ := newControlServer(t)
	body := `{"rate":0.1,"kinds":[` + strings.Repeat(`"500",`, maxMixBody/6) + `"500"]}`
	setMix(t, srv.URL, body, http.StatusBadRequest)
}

// TestFaultMixPick: a call fails when its first draw is below the rate (not at it), and the
// second draw picks the kind uniformly, the last one included.
func TestFaultMixPick(t *testing.T) {
	tests := []struct {
		name  string
		draws []float64
		want  string
	}{
		{"draw at the rate", []float64{0.5}, ""},
		{"first kind", []float64{0.49, 0}, kind500},
		{"middle kind", []float64{0, 0.5}, kindDrop},
		{"last kind", []float64{0, 0.99}, kindSlow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			draws := tt.draws
			m := &mixState{chance: func() float64 {
				d := draws[0]
				draws = draws[1:]
				return d
			}}
			m.mix.Store(&faultMix{Rate: 0.5, Kinds: mixKinds()})
			got, _ := m.pick()
			if got != tt.want {
				t.Errorf("pick = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestFaultAnswersAsMailgun: an injected status answers in Mailgun's error shape, a JSON
// {"message": …} that a client shows.
func TestFaultAnswersAsMailgun(t *testing.T) {
	srv, _ := newControlServer(t)
	setMix(t, srv.URL, `{"rate":1,"kinds":["500"]}`, http.StatusNoContent)
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v4/domains", nil)
	req.SetBasicAuth("api", "k")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if got, want := res.Header.Get("Content-Type"), "application/json"; got != want {
		t.Errorf("Content-Type = %q, want %q", got, want)
	}
	var body map[string]string
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if got, want := body["message"], "Injected failure: Internal Server Error"; got != want {
		t.Errorf("message = %q, want %q", got, want)
	}
}
