package main

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Growth limits for the memory check: after the load the dashboard may keep this many more
// goroutines than before (a few pooled connections), and its heap may be this much larger.
const (
	goroutineSlack = 10
	heapSlackBytes = 16 << 20
)

// soakResult is everything a mixed run measured.
type soakResult struct {
	Options       mixedOptions
	Machine       string
	LoadBefore    string
	Elapsed       time.Duration
	ByOp          map[string]map[int]int // op → status → count (0 = no answer)
	Transport     map[string]int
	Five00        []string
	Limited       int
	FirstError    string
	Injected      map[string]int64
	UpstreamCalls int64
	Before, Peak  sample
	After         sample // -settle after the load
	Settled       sample // the last sample taken (After, or later when After showed growth)
	Consistency   consistency
	Checks        []check
}

// check is one PASS/FAIL line.
type check struct {
	Name   string
	OK     bool
	Detail string
}

func (r soakResult) passed() bool {
	for _, c := range r.Checks {
		if !c.OK {
			return false
		}
	}
	return len(r.Checks) > 0
}

func (r soakResult) goroutinesOK() bool {
	return r.Settled.Goroutines <= r.Before.Goroutines+goroutineSlack
}

func (r soakResult) heapOK() bool {
	return r.Settled.HeapAlloc <= 1.5*r.Before.HeapAlloc+heapSlackBytes
}

func (r soakResult) memoryOK() bool { return r.goroutinesOK() && r.heapOK() }

// requests is the number of requests the users sent during the load.
func (r soakResult) requests() int {
	n := 0
	for _, m := range r.ByOp {
		for _, c := range m {
			n += c
		}
	}
	return n
}

func (r soakResult) checks() []check {
	c := r.Consistency
	transport := 0
	for _, n := range r.Transport {
		transport += n
	}
	injected := int64(0)
	for _, n := range r.Injected {
		injected += n
	}
	return []check{
		{"load", r.Elapsed >= r.Options.duration && r.requests() > 0 && (r.Options.faultRate == 0 || injected > 0),
			fmt.Sprintf("%d users, %d requests in %v, %d Mailgun calls, %d faults injected",
				r.Options.users, r.requests(), r.Elapsed.Round(time.Second), r.UpstreamCalls, injected)},
		{"no 500 from SMTP Desk", len(r.Five00) == 0, fmt.Sprintf("%d answers with status 500", len(r.Five00))},
		{"every request answered", transport == 0, fmt.Sprintf("%d requests without an answer%s", transport, firstErr(r.FirstError))},
		{"no goroutine growth", r.goroutinesOK(), fmt.Sprintf("goroutines %.0f before, %.0f at peak, %.0f %v after the load, %.0f at the last sample (limit before+%d)",
			r.Before.Goroutines, r.Peak.Goroutines, r.After.Goroutines, r.Options.settle, r.Settled.Goroutines, goroutineSlack)},
		{"no heap growth", r.heapOK(), fmt.Sprintf("heap %s before, %s at peak, %s at the last sample (limit 1.5×before+16 MiB); RSS %s → %s peak → %s",
			mib(r.Before.HeapAlloc), mib(r.Peak.HeapAlloc), mib(r.Settled.HeapAlloc), mib(r.Before.RSS), mib(r.Peak.RSS), mib(r.Settled.RSS))},
		{"some changes went through", c.CreatedOK > 0 && c.DeletedOK > 0,
			fmt.Sprintf("%d creates and %d deletes succeeded according to the trail", c.CreatedOK, c.DeletedOK)},
		{"sandbox state equals the audit trail", len(c.Missing)+len(c.Unexpected)+len(c.Unmentioned) == 0,
			fmt.Sprintf("%d must exist, %d must be gone, %d unknown outcome (either); missing %v, present though gone %v, present but not in the trail %v",
				c.MustExist, c.MustBeGone, c.Either, short(c.Missing), short(c.Unexpected), short(c.Unmentioned))},
		{"audit trail equals what users were told", len(c.ClientMismatch) == 0,
			fmt.Sprintf("%d disagreements %v", len(c.ClientMismatch), short(c.ClientMismatch))},
	}
}

func firstErr(s string) string {
	if s == "" {
		return ""
	}
	return "; first: " + clipText(s, 200)
}

func short(list []string) []string {
	if len(list) > 5 {
		return append(slices.Clone(list[:5]), fmt.Sprintf("… %d more", len(list)-5))
	}
	return list
}

func mib(b float64) string { return fmt.Sprintf("%.1f MiB", b/(1<<20)) }

// consistency compares the audit trail with the sandbox's final logins and what users saw.
type consistency struct {
	Entries    int            // credential entries in the trail for the soak domain
	Outcomes   map[string]int // "create ok" … → count
	CreatedOK  int
	DeletedOK  int
	MustExist  int
	MustBeGone int
	Either     int // an unknown (or pending) outcome leaves the login either way
	Final      int // logins in the sandbox at the end, the baseline excluded

	Missing        []string // the trail says it exists; the sandbox has no such login
	Unexpected     []string // the trail says it is gone (or was never created); the sandbox has it
	Unmentioned    []string // the sandbox has it; the trail never mentions it
	ClientMismatch []string // a user was told one thing, the trail says another
}

// loginHistory is what the trail says about one login.
type loginHistory struct {
	createOK, createUnknown, createFailed bool
	deleteOK, deleteUnknown, deleteGone   bool // deleteGone: Mailgun answered 404
}

// reconcile checks the final state against the trail (see the -mixed help): a login created ok
// and never deleted (ok, gone or unknown) must exist; one deleted ok or found gone must not; an
// unknown outcome allows either; nothing outside the trail and the baseline may exist. It also
// checks the trail against what the users' browsers were told.
func reconcile(trail []auditRecord, baseline, final []string, created, deleted map[string]int) consistency {
	c := consistency{Outcomes: map[string]int{}}
	hist := map[string]*loginHistory{}
	for _, e := range trail {
		if !strings.HasPrefix(e.Action, "credential.") {
			continue
		}
		c.Entries++
		c.Outcomes[strings.TrimPrefix(e.Action, "credential.")+" "+e.Outcome]++
		for _, l := range e.Logins {
			l = strings.ToLower(l)
			h := hist[l]
			if h == nil {
				h = &loginHistory{}
				hist[l] = h
			}
			unknown := e.Outcome == "unknown" || e.Outcome == "pending"
			switch e.Action {
			case "credential.create":
				h.createOK = h.createOK || e.Outcome == "ok"
				h.createUnknown = h.createUnknown || unknown
				h.createFailed = h.createFailed || e.Outcome == "failed"
			case "credential.delete":
				h.deleteOK = h.deleteOK || e.Outcome == "ok"
				h.deleteUnknown = h.deleteUnknown || unknown
				h.deleteGone = h.deleteGone || (e.Outcome == "failed" && e.UpstreamStatus == 404)
			}
		}
	}
	base := map[string]bool{}
	for _, l := range baseline {
		base[strings.ToLower(l)] = true
	}
	present := map[string]bool{}
	for _, l := range final {
		if l = strings.ToLower(l); !base[l] {
			present[l] = true
			c.Final++
		}
	}
	for _, l := range slices.Sorted(maps.Keys(hist)) {
		h := hist[l]
		if h.createOK {
			c.CreatedOK++
		}
		if h.deleteOK {
			c.DeletedOK++
		}
		switch {
		case h.deleteOK || h.deleteGone:
			c.MustBeGone++
			if present[l] {
				c.Unexpected = append(c.Unexpected, l)
			}
		case h.deleteUnknown || (!h.createOK && h.createUnknown):
			c.Either++
		case h.createOK:
			c.MustExist++
			if !present[l] {
				c.Missing = append(c.Missing, l)
			}
		default: // only failed creates, or only resets
			c.MustBeGone++
			if present[l] {
				c.Unexpected = append(c.Unexpected, l)
			}
		}
	}
	for _, l := range slices.Sorted(maps.Keys(present)) {
		if hist[l] == nil {
			c.Unmentioned = append(c.Unmentioned, l)
		}
	}
	// What the browsers were told: a 200 after a create means created; a 303 after a delete
	// means deleted or already gone; an error page (status ≥ 400) must not be "ok" in the trail.
	for _, l := range slices.Sorted(maps.Keys(created)) {
		h, st := hist[strings.ToLower(l)], created[l]
		switch {
		case st == 200 && (h == nil || !h.createOK):
			c.ClientMismatch = append(c.ClientMismatch, fmt.Sprintf("create %s: page 200, trail not ok", l))
		case st >= 400 && h != nil && h.createOK:
			c.ClientMismatch = append(c.ClientMismatch, fmt.Sprintf("create %s: page %d, trail ok", l, st))
		}
	}
	for _, l := range slices.Sorted(maps.Keys(deleted)) {
		h, st := hist[strings.ToLower(l)], deleted[l]
		switch {
		case st == 303 && (h == nil || !(h.deleteOK || h.deleteGone)):
			c.ClientMismatch = append(c.ClientMismatch, fmt.Sprintf("delete %s: redirect 303, trail neither ok nor 404", l))
		case st >= 400 && h != nil && h.deleteOK:
			c.ClientMismatch = append(c.ClientMismatch, fmt.Sprintf("delete %s: page %d, trail ok", l, st))
		}
	}
	return c
}

// markdown is the report section.
func (r soakResult) markdown() string {
	var b strings.Builder
	b.WriteString(soakBegin + "\n")
	fmt.Fprintf(&b, "## Latest run\n\n")
	fmt.Fprintf(&b, "- Command: `flock /tmp/smtpdesk-load.lock go run ./cmd/loadtest -mixed %s`\n", shellArgs(r.Options.args))
	fmt.Fprintf(&b, "- When: %s\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "- Machine: %s; load average before: %s\n", r.Machine, r.LoadBefore)
	fmt.Fprintf(&b, "- Load: %d signed-in sessions (demo admin), %v, %.3g%% of Mailgun calls failing (%s), %d Mailgun calls in all\n\n",
		r.Options.users, r.Elapsed.Round(time.Second), 100*r.Options.faultRate, injectedText(r.Injected), r.UpstreamCalls)

	b.WriteString("### Answers by action\n\n")
	statuses := map[int]bool{}
	for _, m := range r.ByOp {
		for s := range m {
			statuses[s] = true
		}
	}
	cols := slices.Sorted(maps.Keys(statuses))
	b.WriteString("| action |")
	for _, s := range cols {
		if s == 0 {
			b.WriteString(" no answer |")
		} else {
			fmt.Fprintf(&b, " %d |", s)
		}
	}
	b.WriteString(" total |\n|---|")
	for range cols {
		b.WriteString("--:|")
	}
	b.WriteString("--:|\n")
	total := map[int]int{}
	for _, op := range slices.Sorted(maps.Keys(r.ByOp)) {
		fmt.Fprintf(&b, "| %s |", op)
		n := 0
		for _, s := range cols {
			fmt.Fprintf(&b, " %d |", r.ByOp[op][s])
			n += r.ByOp[op][s]
			total[s] += r.ByOp[op][s]
		}
		fmt.Fprintf(&b, " %d |\n", n)
	}
	b.WriteString("| **all** |")
	for _, s := range cols {
		fmt.Fprintf(&b, " %d |", total[s])
	}
	fmt.Fprintf(&b, " %d |\n\n", r.requests())
	fmt.Fprintf(&b, "429s from SMTP Desk's own action limit (per user per minute; every session is the one demo admin, "+
		"and the run raises RATE_LIMIT_ACTIONS): %d. "+
		"Other 429s and the 502/503/504s pass Mailgun's injected failures on.\n\n", r.Limited)

	b.WriteString("### The dashboard's process (from /metrics)\n\n| moment | goroutines | heap alloc | RSS |\n|---|--:|--:|--:|\n")
	for _, row := range []struct {
		name string
		s    sample
	}{{"before the load", r.Before}, {"peak during the load", r.Peak},
		{fmt.Sprintf("%v after the load", r.Options.settle), r.After},
		{fmt.Sprintf("last sample (%v after the start)", r.Settled.At.Round(time.Second)), r.Settled}} {
		fmt.Fprintf(&b, "| %s | %.0f | %s | %s |\n", row.name, row.s.Goroutines, mib(row.s.HeapAlloc), mib(row.s.RSS))
	}
	b.WriteString("\n### Audit trail against the sandbox\n\n")
	c := r.Consistency
	fmt.Fprintf(&b, "| | count |\n|---|--:|\n| credential entries in the trail (%s) | %d |\n", soakDomain, c.Entries)
	for _, k := range slices.Sorted(maps.Keys(c.Outcomes)) {
		fmt.Fprintf(&b, "| %s | %d |\n", k, c.Outcomes[k])
	}
	fmt.Fprintf(&b, "| logins that must exist | %d |\n| logins that must be gone | %d |\n| logins with an unknown outcome (either) | %d |\n| logins in the sandbox at the end | %d |\n",
		c.MustExist, c.MustBeGone, c.Either, c.Final)
	fmt.Fprintf(&b, "| missing / present though gone / not in the trail | %d / %d / %d |\n| users told otherwise than the trail | %d |\n\n",
		len(c.Missing), len(c.Unexpected), len(c.Unmentioned), len(c.ClientMismatch))

	b.WriteString("### Checks\n\n| check | result | detail |\n|---|---|---|\n")
	for _, ck := range r.Checks {
		v := "PASS"
		if !ck.OK {
			v = "**FAIL**"
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", ck.Name, v, strings.ReplaceAll(ck.Detail, "|", "\\|"))
	}
	if len(r.Five00) > 0 {
		b.WriteString("\n500 answers:\n\n")
		for _, l := range short(r.Five00) {
			fmt.Fprintf(&b, "- %s\n", strings.ReplaceAll(l, "\n", " "))
		}
	}
	b.WriteString(soakEnd + "\n")
	return b.String()
}

// shellArgs joins args for a command line, quoting the empty and those with spaces.
func shellArgs(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t'\"") {
			a = strconv.Quote(a)
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}

func injectedText(m map[string]int64) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	if len(parts) == 0 {
		return "none injected"
	}
	return "injected: " + strings.Join(parts, ", ")
}

const (
	soakBegin = "<!-- soak:begin — written by `go run ./cmd/loadtest -mixed`; edit outside these markers -->"
	soakEnd   = "<!-- soak:end -->"
)

// writeSoak puts the section into the file between the markers, appends it, or starts a new
// file.
func writeSoak(path, section string) error {
	return writeMarked(path, "# SMTP Desk soak run", soakBegin, soakEnd, section)
}
