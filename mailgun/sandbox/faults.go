package sandbox

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"time"
)

// Faults describes the failures the sandbox injects. The zero value injects none. Set them with
// SetFaults; they apply from the next request on.
type Faults struct {
	// Routes names the routes affected (RouteList, RouteCreate, …); empty means all.
	Routes []string
	// Rate is the share of matching calls that fail, from 0 to 1; 1 fails every call.
	Rate float64
	// Latency is added before answering every matching call, whether or not it fails. It ends
	// early when the client goes away.
	Latency time.Duration
	// Hold, when not nil, keeps every matching call waiting until it is closed (then Latency
	// follows), or until the client goes away: a test keeps a call in flight for exactly as long
	// as it needs, on a machine of any speed.
	Hold <-chan struct{}
	// Status is the status a failing call answers (429, 500, 503 …); 0 means no status fault.
	Status int
	// Message is the "message" a status fault answers with; "" means the status's text ("Not
	// Found", "Service Unavailable"). Mailgun's own texts ("Domain not found") stand in for an
	// answer the store would not give.
	Message string
	// RetryAfter is sent as Retry-After (in whole seconds, rounded up) with a 429 or 503.
	RetryAfter time.Duration
	// Drop hijacks and closes the connection instead of answering.
	Drop bool
	// Malformed answers 200 with broken JSON.
	Malformed bool
	// AfterApply makes a failing mutating call (create, update, update_mailbox, delete,
	// delete_all) apply its change first and then fail, so the caller cannot know the outcome.
	AfterApply bool
	// NoPasswords applies a failing call and answers as it would, but without the generated
	// passwords ("credentials"): an answer Mailgun's documentation allows, which leaves a login
	// with a password nobody knows.
	NoPasswords bool
	// Then, when not nil, takes the place of these faults as soon as a call fails under them
	// (before that call is answered): a call's first attempt fails one way and its retry meets
	// Then (the zero Faults: none), e.g. a 503 after applying a delete, then a 401 as if the key
	// had been revoked meanwhile.
	Then *Faults
}

// clone copies f, its Routes and its chain of Then, so that neither the caller nor the server
// shares them with the other.
func (f Faults) clone() *Faults {
	f.Routes = slices.Clone(f.Routes)
	if f.Then != nil {
		f.Then = f.Then.clone()
	}
	return &f
}

// SetFaults replaces the injected faults; the zero value switches them off.
func (s *Server) SetFaults(f Faults) {
	s.faults.Store(f.clone())
}

// CurrentFaults returns the faults in force.
func (s *Server) CurrentFaults() Faults {
	if f := s.faults.Load(); f != nil {
		return *f.clone()
	}
	return Faults{}
}

// defaultChance draws from math/rand/v2's global generator, which is safe for concurrent use.
func defaultChance() float64 { return rand.Float64() }

func (f *Faults) matches(route string) bool {
	return len(f.Routes) == 0 || slices.Contains(f.Routes, route)
}

func (f *Faults) failing() bool { return f.Drop || f.Malformed || f.NoPasswords || f.Status != 0 }

func mutating(route string) bool {
	switch route {
	case RouteCreate, RouteUpdate, RouteUpdateMailbox, RouteDelete, RouteDeleteAll:
		return true
	}
	return false
}

// serveWithFaults runs h under the faults in force for the route.
func (s *Server) serveWithFaults(route string, h http.HandlerFunc, w http.ResponseWriter, r *http.Request) {
	f := s.faults.Load()
	if f == nil || !f.matches(route) {
		h(w, r)
		return
	}
	if (f.Latency > 0 || f.Hold != nil) && !Delay(w, r, f.Hold, f.Latency) {
		return // the client went away: nobody to answer, nothing applied
	}
	fail := f.failing() && f.Rate > 0 && (f.Rate >= 1 || s.chance() < f.Rate)
	if !fail {
		h(w, r)
		return
	}
	if f.Then != nil {
		// Swapped before the answer: a retry may come as soon as the client has it (or has
		// seen the connection close). Only the first call to fail under f swaps.
		s.faults.CompareAndSwap(f, f.Then.clone())
	}
	if f.AfterApply && mutating(route) && !f.NoPasswords {
		h(&discardWriter{header: make(http.Header)}, r)
	}
	rec, _ := w.(*recorder)
	note := func(kind string) {
		if rec != nil {
			rec.fault = kind
			// Logged at once too: a dropped connection reaches the client before this handler
			// returns and the log is completed, and the client may read the log right away.
			s.update(rec.seq, func(c *Call) { c.Fault = kind })
		}
	}
	switch {
	case f.NoPasswords:
		note("no_passwords")
		withoutPasswords(w, r, h)
	case f.Drop:
		note("drop")
		dropConnection(w)
	case f.Malformed:
		note("malformed")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(`{"message": "Created 1 credentials pa`))
	default:
		note("status")
		if f.RetryAfter > 0 && (f.Status == http.StatusTooManyRequests || f.Status == http.StatusServiceUnavailable) {
			secs := int(math.Ceil(f.RetryAfter.Seconds()))
			w.Header().Set("Retry-After", strconv.Itoa(secs))
		}
		msg := f.Message
		if msg == "" {
			msg = http.StatusText(f.Status)
		}
		if msg == "" {
			msg = "Injected failure"
		}
		writeMessage(w, f.Status, msg)
	}
}

// dropConnection closes the client's connection without an answer. Without a hijackable
// connection (HTTP/2, a test recorder) it aborts the handler, which net/http turns into a reset.
func dropConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}

// withoutPasswords runs h and sends its answer without the "credentials" member of a 2xx JSON
// object.
func withoutPasswords(w http.ResponseWriter, r *http.Request, h http.HandlerFunc) {
	b := &bufferWriter{header: w.Header(), status: http.StatusOK}
	h(b, r)
	body := b.buf.Bytes()
	var obj map[string]json.RawMessage
	if b.status/100 == 2 && json.Unmarshal(body, &obj) == nil {
		delete(obj, "credentials")
		if out, err := json.Marshal(obj); err == nil {
			body = out
		}
	}
	w.Header().Del("Content-Length")
	w.WriteHeader(b.status)
	_, _ = w.Write(body)
}

// bufferWriter keeps an answer to be rewritten.
type bufferWriter struct {
	header http.Header
	status int
	buf    bytes.Buffer
}

func (b *bufferWriter) Header() http.Header         { return b.header }
func (b *bufferWriter) Write(p []byte) (int, error) { return b.buf.Write(p) }
func (b *bufferWriter) WriteHeader(status int)      { b.status = status }

// discardWriter swallows the answer of a change applied before an injected failure.
type discardWriter struct{ header http.Header }

func (d *discardWriter) Header() http.Header         { return d.header }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(int)             {}

// Delay keeps a call waiting until hold is closed (when it is not nil) and then for d. It
// reports false when the client went away meanwhile: the caller must then neither answer nor
// apply the call, as a client that left cannot learn its outcome.
//
// net/http notices a client that went away only once the request body is consumed, so Delay
// reads the body first (at most the 1 MiB an API route accepts) and puts it back for the
// handler: a POST or PUT waiting out the delay ends when its client does. A body over the limit
// is put back with its error, so the handler refuses it as it does without a delay.
func Delay(w http.ResponseWriter, r *http.Request, hold <-chan struct{}, d time.Duration) bool {
	if r.Body != nil && r.Body != http.NoBody {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
		var tooLarge *http.MaxBytesError
		switch {
		case errors.As(err, &tooLarge):
			r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), errorReader{err}))
		case err != nil:
			return false // the client went away while sending
		default:
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
	}
	if hold != nil {
		select {
		case <-hold:
		case <-r.Context().Done():
			return false
		}
	}
	if d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return false
		}
	}
	// Both may be ready at once, and select picks either: a client gone by now still counts.
	return r.Context().Err() == nil
}

// errorReader is a reader that fails with err.
type errorReader struct{ err error }

func (e errorReader) Read([]byte) (int, error) { return 0, e.err }
