package main

import (
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/smtpdesk/smtpdesk/mailgun/sandbox"
)

// controlPrefix is where the -control endpoints live. Mailgun has no such path, so it cannot
// clash with an API route.
const controlPrefix = "/_sandbox/"

// control wraps the sandbox with request counters and the endpoints a load test needs, all
// behind the same Basic auth as the API:
//
//	GET  /_sandbox/stats             {"requests": N, "list_requests": M} since start
//	POST /_sandbox/latency?d=50ms    replace the injected latency (other faults stay)
//	POST /_sandbox/faults            set a fault mix over every route, e.g.
//	                                 {"rate":0.1,"kinds":["500","503","429","drop","drop_after_apply","slow"],
//	                                  "retry_after":"1s","slow_latency":"500ms"}; {"rate":0} ends it
//	GET  /_sandbox/faults            the mix in force and the faults injected so far, by kind
//	GET  /_sandbox/logins?domain=d   {"domain": d, "logins": [...]}: a domain's logins now
//	POST /_sandbox/domains?name=d    add an empty domain (201; 409 when it exists)
//
// The counters are totals, unlike the sandbox's bounded call log, so a long run can be diffed.
type control struct {
	s        *sandbox.Server
	key      string
	requests atomic.Int64
	lists    atomic.Int64
	mix      mixState
}

// stats is the body of GET /_sandbox/stats.
type stats struct {
	Requests     int64 `json:"requests"`
	ListRequests int64 `json:"list_requests"`
	LatencyMS    int64 `json:"latency_ms"`
}

func (c *control) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, controlPrefix) {
		c.serveControl(w, r)
		return
	}
	c.requests.Add(1)
	if r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/v3/domains/") && strings.HasSuffix(r.URL.Path, "/credentials") {
		c.lists.Add(1)
	}
	if !c.authorized(r) {
		c.s.ServeHTTP(w, r) // the sandbox refuses it as Mailgun does; no fault on top
		return
	}
	c.serveMixed(w, r)
}

func (c *control) authorized(r *http.Request) bool {
	user, pass, ok := r.BasicAuth()
	return ok && subtle.ConstantTimeCompare([]byte(user), []byte("api"))&subtle.ConstantTimeCompare([]byte(pass), []byte(c.key)) == 1
}

func (c *control) serveControl(w http.ResponseWriter, r *http.Request) {
	if !c.authorized(r) {
		w.Header().Set("Www-Authenticate", `Basic realm="MG API"`)
		http.Error(w, "Forbidden", http.StatusUnauthorized)
		return
	}
	switch r.URL.Path {
	case controlPrefix + "stats":
		if r.Method != http.MethodGet {
			http.Error(w, "use GET", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(stats{
			Requests:     c.requests.Load(),
			ListRequests: c.lists.Load(),
			LatencyMS:    c.s.CurrentFaults().Latency.Milliseconds(),
		})
	case controlPrefix + "latency":
		if r.Method != http.MethodPost {
			http.Error(w, "use POST", http.StatusMethodNotAllowed)
			return
		}
		d, err := time.ParseDuration(r.URL.Query().Get("d"))
		if err != nil || d < 0 || d > time.Minute {
			http.Error(w, "d must be a duration from 0s to 1m, e.g. d=50ms", http.StatusBadRequest)
			return
		}
		f := c.s.CurrentFaults()
		f.Latency = d
		c.s.SetFaults(f)
		w.WriteHeader(http.StatusNoContent)
	case controlPrefix + "faults":
		switch r.Method {
		case http.MethodGet:
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(c.mix.snapshot())
		case http.MethodPost:
			m, err := parseMix(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			c.mix.mix.Store(&m)
			w.WriteHeader(http.StatusNoContent)
		default:
			http.Error(w, "use GET or POST", http.StatusMethodNotAllowed)
		}
	case controlPrefix + "logins":
		if r.Method != http.MethodGet {
			http.Error(w, "use GET", http.StatusMethodNotAllowed)
			return
		}
		c.serveLogins(w, r)
	case controlPrefix + "domains":
		if r.Method != http.MethodPost {
			http.Error(w, "use POST", http.StatusMethodNotAllowed)
			return
		}
		c.serveAddDomain(w, r)
	default:
		http.NotFound(w, r)
	}
}
