package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smtpdesk/smtpdesk/internal/testmain"
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
		{"address without a port", []string{"-key", "k", "-addr", "127.0.0.1"}, `-addr "127.0.0.1": want host:port`},
		{"every interface", []string{"-key", "k", "-addr", ":8025"}, "loopback IP only"},
		{"every IPv4 interface", []string{"-key", "k", "-addr", "0.0.0.0:8025"}, "loopback IP only"},
		{"every IPv6 interface", []string{"-key", "k", "-addr", "[::]:8025"}, "loopback IP only"},
		{"another host", []string{"-key", "k", "-addr", "192.0.2.10:8025"}, "loopback IP only"},
		{"a name", []string{"-key", "k", "-addr", "localhost:8025"}, "loopback IP only"},
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

// TestParseFlagsRanges pins the edges of the flags' ranges and how the list flags are split:
// a status from 400 to 599, no negative duration, -big-size from 0 to 5,000,000, and list
// entries trimmed with empty ones skipped.
func TestParseFlagsRanges(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantErr    string
		wantBig    []string
		wantRoutes []string
	}{
		{"status 400", []string{"-fault-rate", "1", "-fault-status", "400"}, "", nil, nil},
		{"status 599", []string{"-fault-rate", "1", "-fault-status", "599"}, "", nil, nil},
		{"status 399", []string{"-fault-rate", "1", "-fault-status", "399"}, "-fault-status 399", nil, nil},
		{"status 600", []string{"-fault-rate", "1", "-fault-status", "600"}, "-fault-status 600", nil, nil},
		{"negative latency", []string{"-latency", "-1s"}, "must not be negative", nil, nil},
		{"negative retry-after", []string{"-fault-rate", "1", "-fault-status", "429", "-retry-after", "-1s"}, "must not be negative", nil, nil},
		{"big size 0", []string{"-big-size", "0"}, "", nil, nil},
		{"big size at the limit", []string{"-big-size", "5000000"}, "", nil, nil},
		{"big size over the limit", []string{"-big-size", "5000001"}, "-big-size 5000001", nil, nil},
		{"big domains trimmed, empty ones skipped", []string{"-big-domain", " a.example,,b.example ,"}, "", []string{"a.example", "b.example"}, nil},
		{"routes trimmed", []string{"-fault-rate", "1", "-drop", "-fault-routes", "list, domains"}, "", nil, []string{"list", "domains"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseFlags(append([]string{"-key", "k"}, tt.args...), io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseFlags = %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseFlags = %v, want nil", err)
			}
			if got, want := c.bigDomains, tt.wantBig; !slices.Equal(got, want) {
				t.Errorf("big domains = %q, want %q", got, want)
			}
			if got, want := c.faults.Routes, tt.wantRoutes; !slices.Equal(got, want) {
				t.Errorf("routes = %q, want %q", got, want)
			}
		})
	}
}

// TestRunSaysWhatItServes: run's start-up lines name the big domains with their size and the
// faults in force, and it says when it has stopped.
func TestRunSaysWhatItServes(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := run(ctx, []string{"-addr", "127.0.0.1:0", "-key", "k", "-seed=false", "-big-domain", "big.example", "-big-size", "3", "-latency", "5ms"}, pw)
		pw.Close()
		done <- err
	}()
	lines := bufio.NewReader(pr)
	first, err := lines.ReadString('\n')
	if err != nil || !strings.Contains(first, "listening on http://127.0.0.1:") {
		t.Fatalf("first line %q (%v), want the listen URL", first, err)
	}
	cancel()
	rest, _ := io.ReadAll(lines)
	if err := <-done; err != nil {
		t.Fatalf("run = %v, want nil after cancel", err)
	}
	for _, want := range []string{"big domains big.example with 3 generated logins each\n", "faults: {", "Latency:5ms", "mailgun sandbox stopped\n"} {
		if !strings.Contains(string(rest), want) {
			t.Errorf("output after the listen line lacks %q:\n%s", want, rest)
		}
	}
}

// TestRunShutdownEndsInjectedLatency: a call waiting out -latency when the sandbox is stopped
// ends then, and run still stops cleanly (nil), not after the shutdown's grace period.
func TestRunShutdownEndsInjectedLatency(t *testing.T) {
	base, stop := startRun(t, "-addr", "127.0.0.1:0", "-key", "k", "-latency", "1m", "-control")
	callDone := make(chan error, 1)
	go func() {
		req, _ := http.NewRequest("GET", base+"/v4/domains", nil)
		req.SetBasicAuth("api", "k")
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			res.Body.Close()
		}
		callDone <- err
	}()
	// The control counts the call once it has arrived.
	for deadline := time.Now().Add(10 * time.Second); ; {
		if getBody(t, "GET", base+"/_sandbox/stats", "k", 200) == `{"requests":1,"list_requests":0,"latency_ms":60000}` {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the call never arrived")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := stop(); err != nil {
		t.Fatalf("run = %v, want nil: the call in its latency should end at shutdown", err)
	}
	<-callDone
}

// TestMainExitStatus: main exits 0 after -help and 2 with its error on stderr for a wrong flag;
// each runs in a child process (internal/testmain).
func TestMainExitStatus(t *testing.T) {
	if testmain.Child("mailgun-sandbox") {
		main()
		return
	}
	testmain.Check(t,
		testmain.Want{Args: "-help", Code: 0, StdoutHas: "Usage:\n  go run ./cmd/mailgun-sandbox"},
		testmain.Want{Args: "-bogus", Code: 2, Stderr: "mailgun-sandbox: flag provided but not defined: -bogus\n"},
		testmain.Want{Args: "-key k -fault-rate 2", Code: 2, Stderr: "mailgun-sandbox: -fault-rate 2: must be between 0 and 1\n"},
	)
}
