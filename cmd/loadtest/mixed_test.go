package main

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestIsMixed(t *testing.T) {
	tests := []struct {
		args     []string
		want     bool
		wantRest []string
	}{
		{nil, false, nil},
		{[]string{"-duration", "5s"}, false, []string{"-duration", "5s"}},
		{[]string{"-mixed"}, true, nil},
		{[]string{"-users", "3", "--mixed", "-duration", "5s"}, true, []string{"-users", "3", "-duration", "5s"}},
		{[]string{"-mixed=true"}, true, nil},
		{[]string{"--mixed=true", "-users", "3"}, true, []string{"-users", "3"}},
	}
	for _, tt := range tests {
		got, rest := isMixed(tt.args)
		if got != tt.want || !slices.Equal(rest, tt.wantRest) {
			t.Errorf("isMixed(%q) = %v, %q; want %v, %q", tt.args, got, rest, tt.want, tt.wantRest)
		}
	}
}

func TestParseMixedFlags(t *testing.T) {
	o, err := parseMixedFlags(nil, &strings.Builder{})
	if err != nil {
		t.Fatal(err)
	}
	if o.users != 50 || o.faultRate != 0.1 || o.duration.Seconds() != 60 {
		t.Fatalf("defaults = %d users, rate %v, %v; want 50, 0.1, 60s", o.users, o.faultRate, o.duration)
	}
	for _, args := range [][]string{
		{"-users", "0"}, {"-users", "201"}, {"-fault-rate", "1.5"}, {"-fault-rate", "NaN"}, {"-duration", "0s"},
		{"-settle", "20s", "-settle-max", "10s"}, {"-browse-size", "5"}, {"extra"}, {"-bin-dir", ""}, {"-actions-per-minute", "0"},
	} {
		if _, err := parseMixedFlags(args, &strings.Builder{}); err == nil {
			t.Errorf("parseMixedFlags(%q): no error", args)
		}
	}
}

func rec(action, outcome string, status int, logins ...string) auditRecord {
	return auditRecord{Action: "credential." + action, Domain: soakDomain, Outcome: outcome, UpstreamStatus: status, Logins: logins}
}

func TestReconcile(t *testing.T) {
	base := []string{"postmaster@soak.example"}
	tests := []struct {
		name           string
		trail          []auditRecord
		final          []string
		created        map[string]int
		deleted        map[string]int
		wantMissing    []string
		wantUnexpected []string
		wantUnmention  []string
		wantClient     int
		wantEither     int
	}{
		{name: "created and kept",
			trail: []auditRecord{rec("create", "ok", 0, "a@soak.example")}, final: []string{"postmaster@soak.example", "a@soak.example"}},
		{name: "created ok but missing",
			trail: []auditRecord{rec("create", "ok", 0, "a@soak.example")}, wantMissing: []string{"a@soak.example"}},
		{name: "deleted ok but still there",
			trail: []auditRecord{rec("create", "ok", 0, "a@soak.example"), rec("delete", "ok", 0, "a@soak.example")},
			final: []string{"a@soak.example"}, wantUnexpected: []string{"a@soak.example"}},
		{name: "delete found it gone",
			trail: []auditRecord{rec("create", "ok", 0, "a@soak.example"), rec("delete", "failed", 404, "a@soak.example")}},
		{name: "failed delete keeps it",
			trail:       []auditRecord{rec("create", "ok", 0, "a@soak.example"), rec("delete", "failed", 503, "a@soak.example")},
			wantMissing: []string{"a@soak.example"}},
		{name: "unknown create either way",
			trail: []auditRecord{rec("create", "unknown", 0, "a@soak.example"), rec("create", "pending", 0, "b@soak.example")},
			final: []string{"a@soak.example"}, wantEither: 2},
		{name: "unknown delete either way",
			trail: []auditRecord{rec("create", "ok", 0, "a@soak.example"), rec("delete", "unknown", 0, "a@soak.example")}, wantEither: 1},
		{name: "failed create must be gone",
			trail: []auditRecord{rec("create", "failed", 429, "a@soak.example")},
			final: []string{"a@soak.example"}, wantUnexpected: []string{"a@soak.example"}},
		{name: "not in the trail", final: []string{"postmaster@soak.example", "x@soak.example"}, wantUnmention: []string{"x@soak.example"}},
		{name: "case of the address does not matter",
			trail: []auditRecord{rec("create", "ok", 0, "A@Soak.Example")}, final: []string{"a@soak.example"}},
		{name: "user told created, trail says unknown",
			trail:   []auditRecord{rec("create", "unknown", 0, "a@soak.example")},
			created: map[string]int{"a@soak.example": 200}, wantClient: 1, wantEither: 1},
		{name: "user shown an error, trail says ok",
			trail:   []auditRecord{rec("create", "ok", 0, "a@soak.example")},
			final:   []string{"a@soak.example"},
			created: map[string]int{"a@soak.example": 502}, wantClient: 1},
		{name: "user redirected after delete, trail says failed 503",
			trail:   []auditRecord{rec("create", "ok", 0, "a@soak.example"), rec("delete", "failed", 503, "a@soak.example")},
			final:   []string{"a@soak.example"},
			deleted: map[string]int{"a@soak.example": 303}, wantClient: 1},
		{name: "created ok, then a retry with an unknown outcome",
			trail:       []auditRecord{rec("create", "ok", 0, "a@soak.example"), rec("create", "unknown", 0, "a@soak.example")},
			wantMissing: []string{"a@soak.example"}},
		{name: "user told to slow down by Mailgun, trail says ok",
			trail:   []auditRecord{rec("create", "ok", 0, "a@soak.example")},
			final:   []string{"a@soak.example"},
			created: map[string]int{"a@soak.example": 429}, wantClient: 1},
		{name: "user shown an error after delete, trail says ok",
			trail:   []auditRecord{rec("create", "ok", 0, "a@soak.example"), rec("delete", "ok", 0, "a@soak.example")},
			deleted: map[string]int{"a@soak.example": 503}, wantClient: 1},
		{name: "user redirected after delete, trail says already gone",
			trail:   []auditRecord{rec("create", "ok", 0, "a@soak.example"), rec("delete", "failed", 404, "a@soak.example")},
			deleted: map[string]int{"a@soak.example": 303}},
		{name: "user without an answer agrees with anything",
			trail:   []auditRecord{rec("create", "ok", 0, "a@soak.example")},
			final:   []string{"a@soak.example"},
			created: map[string]int{"a@soak.example": 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := reconcile(tt.trail, base, tt.final, tt.created, tt.deleted)
			if !slices.Equal(c.Missing, tt.wantMissing) || !slices.Equal(c.Unexpected, tt.wantUnexpected) || !slices.Equal(c.Unmentioned, tt.wantUnmention) {
				t.Fatalf("missing %q, unexpected %q, unmentioned %q; want %q, %q, %q",
					c.Missing, c.Unexpected, c.Unmentioned, tt.wantMissing, tt.wantUnexpected, tt.wantUnmention)
			}
			if got := len(c.ClientMismatch); got != tt.wantClient {
				t.Fatalf("client mismatches = %q, want %d", c.ClientMismatch, tt.wantClient)
			}
			if got := c.Either; got != tt.wantEither {
				t.Fatalf("either = %d, want %d", got, tt.wantEither)
			}
		})
	}
}

func TestSoakChecks(t *testing.T) {
	good := soakResult{
		Options:     mixedOptions{duration: 1, users: 1, faultRate: 0.1},
		Elapsed:     2,
		ByOp:        map[string]map[int]int{"browse": {200: 3}},
		Injected:    map[string]int64{"500": 1},
		Before:      sample{Goroutines: 30, HeapAlloc: 4 << 20},
		Settled:     sample{Goroutines: 35, HeapAlloc: 10 << 20},
		Consistency: consistency{CreatedOK: 1, DeletedOK: 1},
	}
	good.Checks = good.checks()
	if !good.passed() {
		t.Fatalf("good run failed: %+v", good.Checks)
	}
	// At the limits, and without faults asked for, the run still passes.
	for i, f := range []func(*soakResult){
		func(r *soakResult) { r.Settled.Goroutines = r.Before.Goroutines + goroutineSlack },
		func(r *soakResult) { r.Settled.HeapAlloc = 1.5*r.Before.HeapAlloc + heapSlackBytes },
		func(r *soakResult) { r.Options.faultRate, r.Injected = 0, nil },
	} {
		r := good
		f(&r)
		if r.Checks = r.checks(); !r.passed() {
			t.Errorf("run %d at the limits failed: %+v", i, r.Checks)
		}
	}
	bad := []func(*soakResult){
		func(r *soakResult) { r.Five00 = []string{"GET / → 500"} },
		func(r *soakResult) { r.Elapsed = r.Options.duration - 1 },
		func(r *soakResult) { r.Consistency.DeletedOK = 0 },
		func(r *soakResult) { r.Consistency.Unexpected = []string{"a@soak.example"} },
		func(r *soakResult) { r.Consistency.Unmentioned = []string{"b@soak.example"} },
		func(r *soakResult) { r.Settled.Goroutines = 200 },
		func(r *soakResult) { r.Settled.HeapAlloc = 100 << 20 },
		func(r *soakResult) { r.Consistency.Missing = []string{"a@soak.example"} },
		func(r *soakResult) { r.Consistency.ClientMismatch = []string{"x"} },
		func(r *soakResult) { r.Transport = map[string]int{"create": 1} },
		func(r *soakResult) { r.Injected = nil },
	}
	for i, f := range bad {
		r := good
		f(&r)
		r.Checks = r.checks()
		if r.passed() {
			t.Errorf("bad run %d passed", i)
		}
	}
	if (soakResult{}).passed() {
		t.Error("a run without checks passed")
	}
}

// TestReconcileCounts pins the counts the report's table and the "some changes went through"
// check are made of: entries and outcomes in the trail, logins created and deleted ok, and how
// many must exist, must be gone or may be either.
func TestReconcileCounts(t *testing.T) {
	trail := []auditRecord{
		rec("create", "ok", 0, "a@soak.example"), rec("create", "unknown", 0, "b@soak.example"),
		rec("create", "failed", 429, "c@soak.example"), rec("delete", "ok", 0, "a@soak.example"),
		rec("create", "ok", 0, "d@soak.example"),
	}
	c := reconcile(trail, []string{"postmaster@soak.example"}, []string{"postmaster@soak.example", "d@soak.example", "b@soak.example"}, nil, nil)
	got := [...]int{c.Entries, c.CreatedOK, c.DeletedOK, c.MustExist, c.MustBeGone, c.Either, c.Final}
	if want := [...]int{5, 2, 1, 1, 2, 1, 2}; got != want {
		t.Errorf("entries, created ok, deleted ok, must exist, must be gone, either, final = %v, want %v", got, want)
	}
	wantOutcomes := map[string]int{"create ok": 2, "create unknown": 1, "create failed": 1, "delete ok": 1}
	if !maps.Equal(c.Outcomes, wantOutcomes) {
		t.Errorf("outcomes = %v, want %v", c.Outcomes, wantOutcomes)
	}
}

// TestSoakMarkdownEscapesPipes checks that a check's detail holding "|" (a first error's text)
// stays in its cell of the markdown table.
func TestSoakMarkdownEscapesPipes(t *testing.T) {
	r := soakResult{Checks: []check{{Name: "every request answered", Detail: "1 requests without an answer; first: a | b"}}}
	if md := r.markdown(); !strings.Contains(md, "| every request answered | **FAIL** | 1 requests without an answer; first: a \\| b |\n") {
		t.Errorf("the check's row does not escape the pipe:\n%s", md)
	}
}

// TestSoakMarkdownFaultRate checks that the report states a small fault rate as it is, not
// rounded to a whole percent ("0% of Mailgun calls failing" beside the faults injected).
func TestSoakMarkdownFaultRate(t *testing.T) {
	for rate, want := range map[float64]string{0.004: "0.4%", 0.1: "10%", 0.125: "12.5%", 1: "100%"} {
		r := soakResult{Options: mixedOptions{faultRate: rate}}
		if md := r.markdown(); !strings.Contains(md, ", "+want+" of Mailgun calls failing") {
			t.Errorf("-fault-rate %v: the report lacks %q:\n%s", rate, want, md)
		}
	}
}

func TestWriteSoak(t *testing.T) {
	path := filepath.Join(t.TempDir(), "SOAK.md")
	sec := func(s string) string { return soakBegin + "\n" + s + "\n" + soakEnd + "\n" }
	if err := writeSoak(path, sec("one")); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	if err := os.WriteFile(path, []byte("intro\n\n"+string(b)+"\noutro\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := writeSoak(path, sec("two")); err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(path)
	got := string(b)
	if strings.Contains(got, "one") || !strings.Contains(got, "two") || !strings.Contains(got, "intro") || !strings.Contains(got, "outro") {
		t.Fatalf("file = %q: want the section replaced and the rest kept", got)
	}
}
