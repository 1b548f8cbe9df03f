package main

import (
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/smtpdesk/smtpdesk/mailgun"
	"github.com/smtpdesk/smtpdesk/mailgun/sandbox"
)

// TestFloorProxy checks that the floor proxy answers a dashboard URL with exactly what the
// sandbox's list answers for that page, and refuses what it cannot map.
func TestFloorProxy(t *testing.T) {
	sb := sandbox.New("key-floor")
	if err := sb.AddDomain("big1.example"); err != nil {
		t.Fatal(err)
	}
	if err := sb.AddGeneratedLogins("big1.example", 250); err != nil {
		t.Fatal(err)
	}
	up := httptest.NewServer(sb)
	defer up.Close()
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte("api:key-floor"))
	proxy := httptest.NewServer(newFloorProxy(up.URL+"/", auth, mailgun.NewHTTPClient()))
	defer proxy.Close()

	get := func(url, auth string) (int, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(b)
	}

	wantCode, want := get(up.URL+"/v3/domains/big1.example/credentials?skip=100&limit=100", auth)
	if wantCode != http.StatusOK || len(want) < 1000 {
		t.Fatalf("sandbox answered %d with %d bytes; the test needs a full page", wantCode, len(want))
	}
	if code, got := get(proxy.URL+"/d/big1.example?page=2&per_page=100", ""); code != http.StatusOK || got != want {
		t.Fatalf("proxy answered %d with %d bytes, want 200 and the sandbox's page 2 (%d bytes)", code, len(got), len(want))
	}
	if code, _ := get(proxy.URL+"/healthz", ""); code != http.StatusOK {
		t.Errorf("/healthz = %d, want 200", code)
	}
	// The upstream's own refusal comes back as it is.
	if code, _ := get(proxy.URL+"/d/nosuch.example?page=1&per_page=100", ""); code != http.StatusNotFound {
		t.Errorf("unknown domain = %d, want the sandbox's 404", code)
	}
	for _, path := range []string{
		"/d/big1.example?page=0&per_page=100",
		"/d/big1.example?page=x&per_page=100",
		"/d/big1.example?page=1&per_page=1001",
		"/d/big1.example?page=1",
	} {
		if code, _ := get(proxy.URL+path, ""); code != http.StatusBadRequest {
			t.Errorf("GET %s = %d, want 400", path, code)
		}
	}
	for _, path := range []string{"/", "/d/", "/d/big1.example/logins/x", "/other"} {
		if code, _ := get(proxy.URL+path, ""); code != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", path, code)
		}
	}

	// Only GET: the proxy is a reference for the page view, nothing else.
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, proxy.URL+"/d/big1.example?page=1&per_page=100", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST = %d, want 405", resp.StatusCode)
	}

	up.Close()
	if code, _ := get(proxy.URL+"/d/big1.example?page=1&per_page=100", ""); code != http.StatusBadGateway {
		t.Errorf("upstream down = %d, want 502", code)
	}
}

func TestIsFloorProxy(t *testing.T) {
	if ok, rest := isFloorProxy([]string{floorProxyArg, "-addr", "x"}); !ok || len(rest) != 2 {
		t.Errorf("isFloorProxy(%s -addr x) = %v, %q", floorProxyArg, ok, rest)
	}
	for _, args := range [][]string{nil, {"-duration", "5s"}, {"-out", floorProxyArg}} {
		if ok, _ := isFloorProxy(args); ok {
			t.Errorf("isFloorProxy(%q) = true", args)
		}
	}
}
