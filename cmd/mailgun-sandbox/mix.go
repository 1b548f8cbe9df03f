package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/smtpdesk/smtpdesk/mailgun/sandbox"
)

// Fault kinds of a mix, as named in POST /_sandbox/faults and GET /_sandbox/faults.
const (
	kind500         = "500"              // 500 Internal Server Error, nothing applied
	kind503         = "503"              // 503 with Retry-After, nothing applied
	kind429         = "429"              // 429 with Retry-After, nothing applied
	kindDrop        = "drop"             // connection closed without an answer, nothing applied
	kindDropApplied = "drop_after_apply" // change applied, then the connection is closed
	kindSlow        = "slow"             // answered normally after SlowLatency; not applied if the client leaves first
)

// mixKinds lists every kind in a stable order.
func mixKinds() []string {
	return []string{kind500, kind503, kind429, kindDrop, kindDropApplied, kindSlow}
}

// maxMixBody bounds the JSON body of POST /_sandbox/faults.
const maxMixBody = 64 << 10

// faultMix is a mix of faults spread over every API route: Rate of the calls fail, each with
// one of Kinds picked uniformly. Unlike sandbox.Faults (one kind at a time), it lets a load test
// see 5xx, rate limits, lost answers and slow answers in the same run.
type faultMix struct {
	Rate        float64       `json:"rate"`
	Kinds       []string      `json:"kinds"`
	RetryAfter  time.Duration `json:"-"`
	SlowLatency time.Duration `json:"-"`
}

// mixJSON is faultMix on the wire, with durations as strings ("1s").
type mixJSON struct {
	Rate        float64          `json:"rate"`
	Kinds       []string         `json:"kinds"`
	RetryAfter  string           `json:"retry_after,omitempty"`
	SlowLatency string           `json:"slow_latency,omitempty"`
	Injected    map[string]int64 `json:"injected,omitempty"` // GET only: faults injected so far, by kind
}

// parseMix reads and checks a POST /_sandbox/faults body. Kinds default to all of them,
// RetryAfter to 1s and SlowLatency to 500ms.
func parseMix(r io.Reader) (faultMix, error) {
	var j mixJSON
	dec := json.NewDecoder(io.LimitReader(r, maxMixBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(&j)
	if err == nil && !errors.Is(dec.Decode(&struct{}{}), io.EOF) {
		// A second value would be ignored: the caller may have meant it.
		err = errors.New("more than one JSON value")
	}
	if err != nil {
		return faultMix{}, fmt.Errorf(`faults: %w: send one JSON object, e.g. {"rate":0.1} ({"rate":0} ends the mix)`, err)
	}
	m := faultMix{Rate: j.Rate, Kinds: j.Kinds, RetryAfter: time.Second, SlowLatency: 500 * time.Millisecond}
	if math.IsNaN(m.Rate) || m.Rate < 0 || m.Rate > 1 {
		return m, errors.New("faults: rate must be between 0 and 1")
	}
	if len(m.Kinds) == 0 {
		m.Kinds = mixKinds()
	}
	for _, k := range m.Kinds {
		if kindIndex(k) < 0 {
			return m, fmt.Errorf("faults: unknown kind %q (known: %v)", k, mixKinds())
		}
	}
	for _, d := range []struct {
		s   string
		dst *time.Duration
	}{{j.RetryAfter, &m.RetryAfter}, {j.SlowLatency, &m.SlowLatency}} {
		if d.s == "" {
			continue
		}
		v, err := time.ParseDuration(d.s)
		if err != nil || v < 0 || v > time.Minute {
			return m, fmt.Errorf("faults: %q must be a duration from 0s to 1m", d.s)
		}
		*d.dst = v
	}
	return m, nil
}

func kindIndex(k string) int {
	for i, n := range mixKinds() {
		if n == k {
			return i
		}
	}
	return -1
}

// mixState is the mix in force and what it has injected.
type mixState struct {
	mix      atomic.Pointer[faultMix]
	injected [6]atomic.Int64 // by kindIndex
	chance   func() float64  // nil: math/rand/v2
}

func (m *mixState) draw() float64 {
	if m.chance != nil {
		return m.chance()
	}
	return rand.Float64()
}

// pick decides whether this call fails and how; "" means it is served normally.
func (m *mixState) pick() (string, *faultMix) {
	f := m.mix.Load()
	if f == nil || f.Rate <= 0 || len(f.Kinds) == 0 {
		return "", nil
	}
	if f.Rate < 1 && m.draw() >= f.Rate {
		return "", nil
	}
	i := min(int(m.draw()*float64(len(f.Kinds))), len(f.Kinds)-1)
	k := f.Kinds[i]
	m.injected[kindIndex(k)].Add(1)
	return k, f
}

// snapshot is the body of GET /_sandbox/faults.
func (m *mixState) snapshot() mixJSON {
	j := mixJSON{Kinds: []string{}, Injected: map[string]int64{}}
	if f := m.mix.Load(); f != nil {
		j.Rate, j.Kinds = f.Rate, f.Kinds
		j.RetryAfter, j.SlowLatency = f.RetryAfter.String(), f.SlowLatency.String()
	}
	for i, k := range mixKinds() {
		j.Injected[k] = m.injected[i].Load()
	}
	return j
}

// serveMixed answers one authorized API call under the mix: normally, or with the fault picked.
func (c *control) serveMixed(w http.ResponseWriter, r *http.Request) {
	kind, f := c.mix.pick()
	switch kind {
	case "":
		c.s.ServeHTTP(w, r)
	case kindSlow:
		// A call whose client left during the latency is neither answered nor applied: the
		// client was told nothing, as when Mailgun never received it.
		if sandbox.Delay(w, r, nil, f.SlowLatency) {
			c.s.ServeHTTP(w, r)
		}
	case kind500:
		writeFault(w, http.StatusInternalServerError, 0)
	case kind503:
		writeFault(w, http.StatusServiceUnavailable, f.RetryAfter)
	case kind429:
		writeFault(w, http.StatusTooManyRequests, f.RetryAfter)
	case kindDrop:
		dropConn(w)
	case kindDropApplied:
		// Apply the call, then lose the answer: the caller cannot know the outcome. Delay reads
		// the body first, so the handler sees all of it and refuses one over the API's limit as
		// it does without a fault (cutting it at the limit would apply a truncated form); a
		// client that left while sending gets nothing applied.
		if !sandbox.Delay(w, r, nil, 0) {
			return
		}
		c.s.ServeHTTP(&discard{header: http.Header{}}, r)
		dropConn(w)
	}
}

// writeFault answers with Mailgun's error shape ({"message": …}).
func writeFault(w http.ResponseWriter, status int, retryAfter time.Duration) {
	if retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(retryAfter.Seconds()))))
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": "Injected failure: " + http.StatusText(status)})
}

// dropConn closes the client's connection without an answer.
func dropConn(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}

// discard swallows the answer of a call applied before its connection is dropped.
type discard struct{ header http.Header }

func (d *discard) Header() http.Header         { return d.header }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}

// loginsBody is the body of GET /_sandbox/logins.
type loginsBody struct {
	Domain string   `json:"domain"`
	Logins []string `json:"logins"`
}

// serveLogins answers GET /_sandbox/logins?domain=… with the domain's logins in list order.
func (c *control) serveLogins(w http.ResponseWriter, r *http.Request) {
	d := r.URL.Query().Get("domain")
	logins := c.s.Logins(d)
	if logins == nil {
		http.Error(w, "unknown domain", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(loginsBody{Domain: d, Logins: logins})
}

// serveAddDomain answers POST /_sandbox/domains?name=… by adding an empty domain (with its
// postmaster@ system login).
func (c *control) serveAddDomain(w http.ResponseWriter, r *http.Request) {
	switch err := c.s.AddDomain(r.URL.Query().Get("name")); {
	case errors.Is(err, sandbox.ErrDomainExists):
		http.Error(w, err.Error(), http.StatusConflict)
	case err != nil:
		http.Error(w, err.Error(), http.StatusBadRequest)
	default:
		w.WriteHeader(http.StatusCreated)
	}
}
