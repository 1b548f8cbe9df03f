package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// startRun runs the command in the background and returns its base URL and a stop function
// that returns run's error.
func startRun(t *testing.T, args ...string) (string, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := run(ctx, args, pw)
		pw.CloseWithError(io.EOF)
		done <- err
	}()
	urlRe := regexp.MustCompile(`listening on (http://\S+)`)
	lines := bufio.NewScanner(pr)
	var base string
	for lines.Scan() {
		if m := urlRe.FindStringSubmatch(lines.Text()); m != nil {
			base = m[1]
			break
		}
	}
	if base == "" {
		cancel()
		t.Fatalf("no listen URL printed; run: %v", <-done)
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }() // keep the writer unblocked
	stop := func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(10 * time.Second):
			t.Fatal("run did not return after cancel")
			return nil
		}
	}
	t.Cleanup(func() { cancel() })
	return base, stop
}

func get(t *testing.T, url, key string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.SetBasicAuth("api", key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res
}

func TestRunServesAndShutsDown(t *testing.T) {
	base, stop := startRun(t, "-addr", "127.0.0.1:0", "-key", "key-cmd-test")
	if got, want := get(t, base+"/v3/domains/example.com/credentials?limit=2", "key-cmd-test").StatusCode, 200; got != want {
		t.Fatalf("status = %d, want %d", got, want)
	}
	if got, want := get(t, base+"/v4/domains", "wrong").StatusCode, 401; got != want {
		t.Fatalf("wrong key: status = %d, want %d", got, want)
	}
	if err := stop(); err != nil {
		t.Fatalf("run = %v, want nil after cancel", err)
	}
}

func TestRunFaultFlags(t *testing.T) {
	base, stop := startRun(t, "-addr", "127.0.0.1:0", "-key", "k", "-fault-rate", "1", "-fault-status", "429",
		"-retry-after", "2s", "-fault-routes", "domains")
	res := get(t, base+"/v4/domains", "k")
	if got, want := res.StatusCode, 429; got != want {
		t.Fatalf("status = %d, want %d", got, want)
	}
	if got, want := res.Header.Get("Retry-After"), "2"; got != want {
		t.Fatalf("Retry-After = %q, want %q", got, want)
	}
	if got, want := get(t, base+"/v3/domains/example.com/credentials", "k").StatusCode, 200; got != want {
		t.Fatalf("list status = %d, want %d (not in -fault-routes)", got, want)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

func TestRunWithoutSeed(t *testing.T) {
	base, stop := startRun(t, "-addr", "127.0.0.1:0", "-key", "k", "-seed=false")
	if got, want := get(t, base+"/v3/domains/example.com/credentials", "k").StatusCode, 404; got != want {
		t.Fatalf("status = %d, want %d", got, want)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

func TestRunFlagErrors(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"missing key", []string{}, "-key is required"},
		{"rate over 1", []string{"-key", "k", "-fault-rate", "1.5"}, "-fault-rate 1.5"},
		{"rate not a number", []string{"-key", "k", "-fault-rate", "NaN", "-drop"}, "-fault-rate NaN"},
		{"bad status", []string{"-key", "k", "-fault-status", "200"}, "-fault-status 200"},
		{"unknown route", []string{"-key", "k", "-fault-routes", "list,bounces"}, `unknown route "bounces"`},
		{"fault without rate", []string{"-key", "k", "-drop"}, "need -fault-rate above 0"},
		{"rate without fault", []string{"-key", "k", "-fault-rate", "0.5"}, "-fault-rate and -after-apply need a fault"},
		{"stray argument", []string{"-key", "k", "extra"}, "unexpected arguments"},
		{"unknown flag", []string{"-nope"}, "flag provided but not defined"},
		{"invalid address", []string{"-key", "k", "-addr", "127.0.0.1:-1"}, "listen"},
		{"big size negative", []string{"-key", "k", "-big-size", "-1"}, "-big-size -1"},
		{"big domain invalid", []string{"-key", "k", "-addr", "127.0.0.1:0", "-big-domain", "not a domain"}, "-big-domain not a domain"},
		{"big domain already seeded", []string{"-key", "k", "-addr", "127.0.0.1:0", "-big-domain", "example.com"}, "-big-domain example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			err := run(context.Background(), tt.args, &out)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("run = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

// TestParseFlagsRefusesIgnoredFaults checks that fault flags the sandbox would silently ignore
// are refused: it fails a call one way, sends Retry-After only with a 429 or 503, and applies
// -after-apply only to a failing call. parseFlags is called directly, as run would serve.
func TestParseFlagsRefusesIgnoredFaults(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"drop and malformed", []string{"-key", "k", "-fault-rate", "1", "-drop", "-malformed"}, "give one of them"},
		{"status and drop", []string{"-key", "k", "-fault-rate", "1", "-fault-status", "500", "-drop"}, "give one of them"},
		{"retry-after with a 500", []string{"-key", "k", "-fault-rate", "1", "-fault-status", "500", "-retry-after", "2s"}, "-retry-after is sent only"},
		{"retry-after with drop", []string{"-key", "k", "-fault-rate", "1", "-drop", "-retry-after", "2s"}, "-retry-after is sent only"},
		{"after-apply without fault", []string{"-key", "k", "-after-apply"}, "-fault-rate and -after-apply need a fault"},
		{"one fault with Retry-After is fine", []string{"-key", "k", "-fault-rate", "1", "-fault-status", "503", "-retry-after", "2s", "-after-apply"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseFlags(tt.args, io.Discard)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("parseFlags = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("parseFlags = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestHelpDocumentsFlags(t *testing.T) {
	var out strings.Builder
	err := run(context.Background(), []string{"-help"}, &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("run(-help) = %v, want flag.ErrHelp", err)
	}
	for _, want := range []string{"curl", "-addr", "-key", "-seed", "-latency", "-fault-rate", "-fault-status", "-retry-after", "-drop", "-malformed", "-fault-routes", "update_mailbox", "-big-domain", "-big-size", "-control", "/_sandbox/stats"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("help lacks %q:\n%s", want, out.String())
		}
	}
}

func TestRunBigDomainAndControl(t *testing.T) {
	base, stop := startRun(t, "-addr", "127.0.0.1:0", "-key", "k", "-big-domain", "big.example, huge.example", "-big-size", "250", "-control")
	for _, d := range []string{"big.example", "huge.example"} {
		res := get(t, base+"/v3/domains/"+d+"/credentials?skip=200&limit=100", "k")
		if got, want := res.StatusCode, 200; got != want {
			t.Fatalf("%s: status = %d, want %d", d, got, want)
		}
	}
	if got, want := get(t, base+"/_sandbox/stats", "wrong").StatusCode, 401; got != want {
		t.Fatalf("stats with a wrong key: status = %d, want %d", got, want)
	}
	body := getBody(t, "GET", base+"/_sandbox/stats", "k", 200)
	if got, want := body, `{"requests":2,"list_requests":2,"latency_ms":0}`; got != want {
		t.Fatalf("stats = %s, want %s", got, want)
	}
	getBody(t, "POST", base+"/_sandbox/latency?d=bad", "k", 400)
	getBody(t, "POST", base+"/_sandbox/latency?d=20ms", "k", 204)
	get(t, base+"/v4/domains", "k")
	body = getBody(t, "GET", base+"/_sandbox/stats", "k", 200)
	if got, want := body, `{"requests":3,"list_requests":2,"latency_ms":20}`; got != want {
		t.Fatalf("stats = %s, want %s", got, want)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

func TestRunWithoutControl(t *testing.T) {
	base, stop := startRun(t, "-addr", "127.0.0.1:0", "-key", "k")
	if got, want := get(t, base+"/_sandbox/stats", "k").StatusCode, 404; got != want {
		t.Fatalf("stats without -control: status = %d, want %d", got, want)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// getBody sends an authenticated request, checks the status and returns the trimmed body.
func getBody(t *testing.T, method, url, key string, wantStatus int) string {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	req.SetBasicAuth("api", key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != wantStatus {
		t.Fatalf("%s %s: status = %d, want %d (%s)", method, url, res.StatusCode, wantStatus, b)
	}
	return strings.TrimSpace(string(b))
}
