// Package sandbox is a faithful in-process Mailgun Credentials API: an http.Handler that answers
// the seven routes SMTP Desk uses the way Mailgun does (see shared/MAILGUN-API.md), with
// per-domain stores, hashed in-memory passwords, deterministic seed data and fault injection.
//
// It exists so that the client, the web app's tests, the demo mode and scripts (curl, Mailgun's
// SDKs) can all talk to something that behaves like Mailgun without a Mailgun account:
//
//	s := sandbox.New("key-123", sandbox.WithDefaultSeed())
//	srv := httptest.NewServer(s)
//	// point a client at srv.URL with the API key "key-123"
//
// A Server is safe for concurrent use.
package sandbox

import (
	"crypto/subtle"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Route names, as used by Faults.Routes and Call.Route.
const (
	RouteList          = "list"           // GET    /v3/domains/{domain}/credentials
	RouteCreate        = "create"         // POST   /v3/domains/{domain}/credentials
	RouteDeleteAll     = "delete_all"     // DELETE /v3/domains/{domain}/credentials
	RouteUpdate        = "update"         // PUT    /v3/domains/{domain}/credentials/{spec}
	RouteDelete        = "delete"         // DELETE /v3/domains/{domain}/credentials/{spec}
	RouteUpdateMailbox = "update_mailbox" // PUT    /v3/{domain}/mailboxes/{spec}
	RouteDomains       = "domains"        // GET    /v4/domains
)

// RouteNames lists every route name the sandbox answers, in a stable order.
func RouteNames() []string {
	return []string{RouteList, RouteCreate, RouteDeleteAll, RouteUpdate, RouteDelete, RouteUpdateMailbox, RouteDomains}
}

// maxCalls bounds the call log so that a long-running demo server does not grow without limit;
// the oldest calls are dropped first.
const maxCalls = 10000

// maxBodyBytes bounds request bodies; credential forms are tiny.
const maxBodyBytes = 1 << 20

// Server is the sandbox Mailgun API. Build it with New; it is an http.Handler.
type Server struct {
	apiKey string
	now    func() time.Time
	mux    *http.ServeMux
	chance func() float64 // the fault chooser: a number in [0, 1)

	mu      sync.RWMutex
	domains map[string]*domain // keyed by lower-case name
	seq     uint64             // creation counter, orders credentials within a domain

	faults atomic.Pointer[Faults]

	callsMu sync.Mutex
	callSeq uint64 // the last call's sequence number
	calls   []Call

	seedDefault bool
	seedBase    time.Time // what the default seed's ages count back from (WithSeedBase)

	sink atomic.Pointer[func(kind, value string)] // WithSecretSink / SetSecretSink
}

// Option configures a Server in New.
type Option func(*Server)

// WithClock sets the clock used for the created_at of new domains and credentials.
// The default is time.Now.
func WithClock(now func() time.Time) Option {
	return func(s *Server) { s.now = now }
}

// WithDefaultSeed loads the deterministic demo and test data (see Seed in the package docs of
// ARCHITECTURE.md): example.com with 250 logins, acme.example with 12, newsletter.example.org
// with 3 and empty.example with only its system login.
func WithDefaultSeed() Option {
	return func(s *Server) { s.seedDefault = true }
}

// WithSeedBase makes the default seed's dates count back from base instead of SeedBase(): the
// demo passes the time it starts, so that its logins keep the ages they were given (from a few
// days to three years) however long after SeedBase it runs, instead of all growing old
// together. The data is otherwise the same.
func WithSeedBase(base time.Time) Option {
	return func(s *Server) { s.seedBase = base }
}

// WithFaultChooser replaces the random source that decides whether a call matching the faults
// fails. It must return a number in [0, 1) and be safe for concurrent use. The default draws
// from math/rand/v2's global generator; tests use Faults.Rate 1 (always) instead.
func WithFaultChooser(f func() float64) Option {
	return func(s *Server) { s.chance = f }
}

// Draws is a fault chooser for WithFaultChooser that returns values in order and then repeats
// the last one: with Faults.Rate 0.5, Draws(0, 0.9) fails the first matching call and no other.
func Draws(values ...float64) func() float64 {
	var mu sync.Mutex
	return func() float64 {
		mu.Lock()
		defer mu.Unlock()
		v := values[0]
		if len(values) > 1 {
			values = values[1:]
		}
		return v
	}
}

// Kinds of secret a secret sink is told about.
const (
	SecretAPIKey            = "Mailgun API key"
	SecretGeneratedPassword = "generated password"
	SecretGivenPassword     = "given password"
)

// WithSecretSink makes the sandbox call sink with every secret it learns: its API key (once, at
// New), every password it generates and hands out, and every password it is given (in a create
// or change request, or through AddCredential), valid or not. kind is one of the Secret
// constants. It exists for the test suite's secret scan (internal/secretscan.Record fits); sink
// must be safe for concurrent use and must not call back into the sandbox.
func WithSecretSink(sink func(kind, value string)) Option {
	return func(s *Server) { s.sink.Store(&sink) }
}

// SetSecretSink installs (or, with nil, removes) a secret sink after New, for a sandbox built
// elsewhere (the demo's); it is called with the API key at once. See WithSecretSink.
func (s *Server) SetSecretSink(sink func(kind, value string)) {
	if sink == nil {
		s.sink.Store(nil)
		return
	}
	s.sink.Store(&sink)
	sink(SecretAPIKey, s.apiKey)
}

// secret tells the sink, if any, about a secret.
func (s *Server) secret(kind, value string) {
	if f := s.sink.Load(); f != nil && value != "" {
		(*f)(kind, value)
	}
}

// New returns a sandbox that accepts HTTP Basic auth with user "api" and password apiKey.
// Its store is empty unless an option seeds it.
func New(apiKey string, opts ...Option) *Server {
	s := &Server{
		apiKey:   apiKey,
		now:      time.Now,
		chance:   defaultChance,
		domains:  make(map[string]*domain),
		seedBase: SeedBase(),
	}
	for _, o := range opts {
		o(s)
	}
	s.secret(SecretAPIKey, apiKey)
	if s.seedDefault {
		s.loadDefaultSeed()
	}
	s.mux = s.routes()
	return s
}

// routes builds the router. The older mailboxes route (/v3/{domain}/mailboxes/{spec}) and the
// credentials collection (/v3/domains/{domain}/credentials) both have four segments, but they
// never overlap in method (PUT vs GET/POST/DELETE), so ServeMux accepts both.
func (s *Server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("GET /v3/domains/{domain}/credentials", s.route(RouteList, s.handleList))
	mux.Handle("POST /v3/domains/{domain}/credentials", s.route(RouteCreate, s.handleCreate))
	mux.Handle("DELETE /v3/domains/{domain}/credentials", s.route(RouteDeleteAll, s.handleDeleteAll))
	mux.Handle("PUT /v3/domains/{domain}/credentials/{spec}", s.route(RouteUpdate, s.handleUpdate))
	mux.Handle("DELETE /v3/domains/{domain}/credentials/{spec}", s.route(RouteDelete, s.handleDelete))
	mux.Handle("PUT /v3/{domain}/mailboxes/{spec}", s.route(RouteUpdateMailbox, s.handleUpdate))
	mux.Handle("GET /v4/domains", s.route(RouteDomains, s.handleDomains))
	return mux
}

// ServeHTTP answers one API request and records it in the call log.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// A call is logged when it arrives, so a test sees it even while the answer is delayed or
	// never comes; its outcome is filled in when the handler returns.
	rec := &recorder{ResponseWriter: w, seq: s.record(Call{Method: r.Method, Path: r.URL.Path})}
	defer s.update(rec.seq, func(c *Call) { c.Status, c.Fault = rec.status, rec.fault })
	s.mux.ServeHTTP(rec, r)
}

// route wraps a route handler with what every route does first: note the route in the call
// log, check the API key, then apply any configured faults.
func (s *Server) route(name string, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rec, ok := w.(*recorder); ok {
			domain, spec := r.PathValue("domain"), r.PathValue("spec")
			s.update(rec.seq, func(c *Call) { c.Route, c.Domain, c.Spec = name, domain, spec })
		}
		if !s.authorized(r) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Header().Set("Www-Authenticate", `Basic realm="MG API"`)
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte("Forbidden"))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
		s.serveWithFaults(name, h, w, r)
	})
}

// authorized reports whether r carries Basic auth "api" and the configured key.
func (s *Server) authorized(r *http.Request) bool {
	user, pass, ok := r.BasicAuth()
	if !ok || s.apiKey == "" {
		return false
	}
	userOK := subtle.ConstantTimeCompare([]byte(user), []byte("api"))
	keyOK := subtle.ConstantTimeCompare([]byte(pass), []byte(s.apiKey))
	return userOK&keyOK == 1
}

// Call is one request the sandbox saw. It never holds form values, so no password ever lands
// in the call log.
type Call struct {
	Method string // HTTP method
	Path   string // the URL path, unescaped (no query string)
	Route  string // route name (RouteList, …); "" when no route matched
	Domain string // the {domain} path value, "" for /v4/domains
	Spec   string // the {spec} path value, unescaped; "" for collection routes
	Status int    // the status answered; 0 while it is being answered, or when the connection was dropped or the client left
	Fault  string // the injected fault ("status", "drop", "malformed"), "" for a normal answer

	seq uint64 // identifies the entry while the call is in flight
}

// Calls returns a copy of the call log, oldest first (at most the last 10,000 calls).
func (s *Server) Calls() []Call {
	s.callsMu.Lock()
	defer s.callsMu.Unlock()
	// The log is trimmed in batches and may hold up to twice maxCalls: only the last maxCalls
	// are the log.
	out := slices.Clone(s.calls[max(0, len(s.calls)-maxCalls):])
	for i := range out {
		out[i].seq = 0 // internal bookkeeping, so callers can compare Calls with ==
	}
	return out
}

// ResetCalls empties the call log.
func (s *Server) ResetCalls() {
	s.callsMu.Lock()
	defer s.callsMu.Unlock()
	s.calls = nil
}

func (s *Server) record(c Call) uint64 {
	s.callsMu.Lock()
	defer s.callsMu.Unlock()
	s.callSeq++
	c.seq = s.callSeq
	s.calls = append(s.calls, c)
	if len(s.calls) > 2*maxCalls {
		// Trimming in batches keeps appends amortised O(1).
		s.calls = append([]Call(nil), s.calls[len(s.calls)-maxCalls:]...)
	}
	return c.seq
}

// update changes the logged call seq, if it is still in the log. In-flight calls are near the
// end, so the search from the back is short.
func (s *Server) update(seq uint64, fn func(*Call)) {
	s.callsMu.Lock()
	defer s.callsMu.Unlock()
	for i := len(s.calls) - 1; i >= 0; i-- {
		if s.calls[i].seq == seq {
			fn(&s.calls[i])
			return
		}
		if s.calls[i].seq < seq {
			return
		}
	}
}

// recorder remembers the status written and what the route wrapper learnt about the request.
// Unwrap lets http.ResponseController reach the underlying writer (for Hijack and Flush).
type recorder struct {
	http.ResponseWriter
	seq    uint64 // the call's entry in the log
	status int
	fault  string
}

func (rw *recorder) WriteHeader(code int) {
	if rw.status == 0 {
		rw.status = code
	}
	rw.ResponseWriter.WriteHeader(code)
}

func (rw *recorder) Write(b []byte) (int, error) {
	if rw.status == 0 {
		rw.status = http.StatusOK
	}
	return rw.ResponseWriter.Write(b)
}

func (rw *recorder) Unwrap() http.ResponseWriter { return rw.ResponseWriter }
