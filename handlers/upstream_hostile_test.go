package handlers_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/smtpdesk/smtpdesk/handlers"
	"github.com/smtpdesk/smtpdesk/internal/secretscan"
	"github.com/smtpdesk/smtpdesk/internal/testflow"
	"github.com/smtpdesk/smtpdesk/mailgun/sandbox"
	"github.com/smtpdesk/smtpdesk/store"
)

// The whole-app hostile-upstream test (SECURITY.md items 19-23): Mailgun's answers themselves are
// hostile or subtly wrong, for every call the app makes (list credentials, list domains, create,
// change password, delete one, delete all), and the real pages are driven through the whole
// stack, signed in as an administrator. A handler between the real client and the sandbox (the
// harness's Upstream option) passes each call on to the sandbox, so that its state really
// changes, or not, and then rewrites the answer. Each page's answer is held to five promises:
//
//  1. never a 500 (a 502, 503 or 504 is right for a bad upstream), and no panic recovered;
//  2. a whole HTML page with an <h1> in SMTP Desk's words (never Go's error text, never the
//     upstream body: item 19) and, for an error, a way on; a change whose outcome is unknown
//     says SMTP Desk cannot tell;
//  3. the audit trail tells the truth: a change the sandbox applied is never "failed", one it
//     did not apply is never "ok", and a change in the trail matches what the page said;
//  4. no markup of the upstream's comes back unescaped;
//  5. no secret (the API key, a password typed or generated) in an answer or in the log.
//
// The cases come from tables, the page for each through a seeded PCG source, so every run sends
// the same requests; a failure names the case exactly.

// upSeed seeds the choice of page and message flavour; change it to explore other combinations.
const upSeed = 23

// upDomain is the test's own domain, with logins whose passwords the test knows.
const upDomain = "upstream.example"

var upLogins = []string{"ada", "bob", "cyd"}

// upMarker is in every message and page the hostile upstream writes of its own (not in the
// logins it lists, which are data): a page that shows it shows the upstream's text.
const upMarker = "UPSTREAM-SAYS"

// upMarkup is the raw markup the upstream sends; a page must never hold one unescaped.
var upMarkup = []string{"<script>upstreamXSS(", "<img src=x onerror=upstreamXSS(", "<b data-upstream"}

// upMarkupText is the markup put in upstream messages and logins.
const upMarkupText = `<script>upstreamXSS(1)</script><img src=x onerror=upstreamXSS(2)><b data-upstream>bold</b>`

// upCall is a call kind as the sandbox names its routes.
var upCalls = []string{sandbox.RouteList, sandbox.RouteDomains, sandbox.RouteCreate, sandbox.RouteUpdate,
	sandbox.RouteDelete, sandbox.RouteDeleteAll}

// upRouteOf names the call a request to Mailgun is.
func upRouteOf(r *http.Request) string {
	p := r.URL.Path
	if p == "/v4/domains" {
		return sandbox.RouteDomains
	}
	if rest, ok := strings.CutPrefix(p, "/v3/domains/"); ok {
		parts := strings.Split(rest, "/")
		switch {
		case len(parts) == 2 && parts[1] == "credentials":
			switch r.Method {
			case http.MethodGet:
				return sandbox.RouteList
			case http.MethodPost:
				return sandbox.RouteCreate
			case http.MethodDelete:
				return sandbox.RouteDeleteAll
			}
		case len(parts) == 3 && parts[1] == "credentials":
			switch r.Method {
			case http.MethodPut:
				return sandbox.RouteUpdate
			case http.MethodDelete:
				return sandbox.RouteDelete
			}
		}
	}
	if strings.Contains(p, "/mailboxes/") {
		return sandbox.RouteUpdateMailbox
	}
	return ""
}

// upExchange is one call the hostile upstream answers: the request, its form, and the sandbox's
// own answer when the call was passed on.
type upExchange struct {
	req   *http.Request
	form  url.Values
	route string
	key   string
	orig  *httptest.ResponseRecorder // nil: not passed on
	top   map[string]any             // orig's JSON object (nil when none)
}

// domain is the domain the call names ("" for the domain list).
func (x *upExchange) domain() string {
	rest, ok := strings.CutPrefix(x.req.URL.Path, "/v3/domains/")
	if !ok {
		return ""
	}
	d, _, _ := strings.Cut(rest, "/")
	return d
}

// query reads a numeric query parameter, def when absent.
func (x *upExchange) query(name string, def int) int {
	if n, err := strconv.Atoi(x.req.URL.Query().Get(name)); err == nil {
		return n
	}
	return def
}

// base is the answer the sandbox gave (or, when the call was not passed on, the answer it would
// have given in shape), as a JSON object to rewrite.
func (x *upExchange) base() map[string]any {
	if x.top != nil {
		out := map[string]any{}
		for k, v := range x.top {
			out[k] = v
		}
		return out
	}
	switch x.route {
	case sandbox.RouteList:
		return map[string]any{"items": []any{}, "total_count": 0}
	case sandbox.RouteDomains:
		return map[string]any{"items": []any{}, "total_count": 0}
	case sandbox.RouteCreate:
		return map[string]any{"message": "Created 1 credentials pair(s)"}
	case sandbox.RouteUpdate:
		return map[string]any{"message": "Password changed"}
	case sandbox.RouteDelete:
		return map[string]any{"message": "Credentials have been deleted", "spec": path.Base(x.req.URL.Path)}
	case sandbox.RouteDeleteAll:
		return map[string]any{"message": "All domain credentials have been deleted", "count": 1}
	}
	return map[string]any{}
}

// origBody is the sandbox's answer as it came, or base's JSON.
func (x *upExchange) origBody() []byte {
	if x.orig != nil {
		return x.orig.Body.Bytes()
	}
	return mustJSON(x.base())
}

// password is the password the call sent ("" when none).
func (x *upExchange) password() string { return x.form.Get("password") }

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// items is the list answer's items as objects (a copy), with name the field a list's entries
// are named by ("login", or "name" for domains).
func (x *upExchange) items() []map[string]any {
	var out []map[string]any
	if list, ok := x.base()["items"].([]any); ok {
		for _, it := range list {
			if m, ok := it.(map[string]any); ok {
				c := map[string]any{}
				for k, v := range m {
					c[k] = v
				}
				out = append(out, c)
			}
		}
	}
	return out
}

// nameField is the field an item is named by.
func (x *upExchange) nameField() string {
	if x.route == sandbox.RouteDomains {
		return "name"
	}
	return "login"
}

// withItems is the list answer with its items replaced by f's (f sees a copy, at least one item).
func (x *upExchange) withItems(f func(items []map[string]any) []map[string]any) []byte {
	top := x.base()
	items := x.items()
	if len(items) == 0 {
		items = []map[string]any{x.fakeItem(0)}
	}
	var out []any
	for _, it := range f(items) {
		out = append(out, it)
	}
	if out == nil {
		out = []any{}
	}
	top["items"] = out
	return mustJSON(top)
}

// fakeItem is an item of the list's kind, numbered i.
func (x *upExchange) fakeItem(i int) map[string]any {
	if x.route == sandbox.RouteDomains {
		return map[string]any{"name": fmt.Sprintf("extra%d.example", i), "state": "active", "type": "custom",
			"created_at": "Wed, 08 Mar 2023 23:34:57 +0000", "id": fmt.Sprintf("id%d", i)}
	}
	l := fmt.Sprintf("extra%d@%s", i, x.domain())
	return map[string]any{"login": l, "mailbox": l, "created_at": "Wed, 08 Mar 2023 23:34:57 +0000", "size_bytes": nil}
}

// named is an item name in the list's own domain (a login) or a domain name.
func (x *upExchange) named(local string) string {
	if x.route == sandbox.RouteDomains {
		return local + ".example"
	}
	return local + "@" + x.domain()
}

// withTop is the answer with key set to v (deleted when v is upDelete).
func (x *upExchange) withTop(key string, v any) []byte {
	top := x.base()
	if v == upDelete {
		delete(top, key)
	} else {
		top[key] = v
	}
	return mustJSON(top)
}

type upDeleteT struct{}

var upDelete = upDeleteT{}

// upAnswer is one hostile answer.
type upAnswer struct {
	name   string
	status int // 0: 200
	ctype  string
	header map[string]string
	body   func(x *upExchange) []byte
	// pass: the call goes on to the sandbox first, which applies a change.
	pass bool
	// accepted: the client takes the answer as Mailgun's own (a change is then done).
	accepted bool
}

// upRule is the answer the upstream gives now, to the calls of route.
type upRule struct {
	route string
	ans   upAnswer
}

// hostileUpstream sits between the client and the sandbox.
type hostileUpstream struct {
	sb  http.Handler
	key string

	mu        sync.Mutex
	rule      *upRule
	hits      int      // calls the rule answered
	generated []string // passwords the sandbox generated in calls passed on
	shown     []string // those of them the rewritten answers carried to the client
	answered  []int    // the statuses sent for the rule's calls
}

func (u *hostileUpstream) set(r *upRule) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.rule, u.hits, u.shown, u.answered = r, 0, nil, nil
}

func (u *hostileUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u.mu.Lock()
	rule := u.rule
	u.mu.Unlock()
	route := upRouteOf(r)
	if rule == nil || rule.route != route {
		u.sb.ServeHTTP(w, r)
		return
	}
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	form, _ := url.ParseQuery(string(body))
	x := &upExchange{req: r, form: form, route: route, key: u.key}
	var generated []string
	if rule.ans.pass {
		rec := httptest.NewRecorder()
		u.sb.ServeHTTP(rec, r)
		x.orig = rec
		dec := json.NewDecoder(bytes.NewReader(rec.Body.Bytes()))
		dec.UseNumber()
		_ = dec.Decode(&x.top)
		if creds, ok := x.top["credentials"].(map[string]any); ok {
			for _, pw := range creds {
				if s, ok := pw.(string); ok {
					generated = append(generated, s)
				}
			}
		}
	}
	out := rule.ans.body(x)
	status := cmp0(rule.ans.status, http.StatusOK)
	u.mu.Lock()
	u.hits++
	u.answered = append(u.answered, status)
	u.generated = append(u.generated, generated...)
	for _, g := range generated {
		if bytes.Contains(out, []byte(g)) {
			u.shown = append(u.shown, g)
		}
	}
	u.mu.Unlock()
	ct := rule.ans.ctype
	if ct == "" {
		ct = "application/json"
	}
	w.Header().Set("Content-Type", ct)
	for k, v := range rule.ans.header {
		w.Header().Set(k, v)
	}
	w.WriteHeader(status)
	_, _ = w.Write(out)
}

func cmp0(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// listShapes are valid JSON of the wrong shape for a list (credentials or domains). accepted:
// the client reads it as a list.
func listShapes() []upAnswer {
	items := func(name string, f func(x *upExchange, items []map[string]any) []map[string]any) upAnswer {
		return upAnswer{name: name, pass: true, body: func(x *upExchange) []byte {
			return x.withItems(func(it []map[string]any) []map[string]any { return f(x, it) })
		}}
	}
	first := func(name string, set func(x *upExchange, it map[string]any)) upAnswer {
		return items(name, func(x *upExchange, it []map[string]any) []map[string]any {
			set(x, it[0])
			return it
		})
	}
	top := func(name string, key string, v any) upAnswer {
		return upAnswer{name: name, pass: true, body: func(x *upExchange) []byte { return x.withTop(key, v) }}
	}
	return []upAnswer{
		top("items null", "items", nil),
		top("items an object", "items", map[string]any{"login": "x"}),
		top("items a string", "items", "items"),
		top("total_count negative", "total_count", -1),
		top("total_count huge", "total_count", json.Number("1e30")),
		top("total_count a float", "total_count", json.Number("2.5")),
		top("total_count a string", "total_count", "12"),
		top("total_count missing", "total_count", upDelete),
		first("name missing", func(x *upExchange, it map[string]any) { delete(it, x.nameField()) }),
		first("name empty", func(x *upExchange, it map[string]any) { it[x.nameField()] = "" }),
		first("name not a string", func(x *upExchange, it map[string]any) { it[x.nameField()] = 42 }),
		first("name with control characters", func(x *upExchange, it map[string]any) {
			it[x.nameField()] = x.named("ctl\r\nX-Injected: 1\a\x1b[31m")
		}),
		first("name with markup", func(x *upExchange, it map[string]any) { it[x.nameField()] = x.named(upMarkupText) }),
		first("name 10 KB long", func(x *upExchange, it map[string]any) {
			it[x.nameField()] = x.named(strings.Repeat("l", 10<<10))
		}),
		first("name for another domain", func(x *upExchange, it map[string]any) {
			if x.route == sandbox.RouteDomains {
				it["name"] = "intruder.example"
			} else {
				it["login"], it["mailbox"] = "intruder@elsewhere.example", "intruder@elsewhere.example"
			}
		}),
		first("created_at missing", func(_ *upExchange, it map[string]any) { delete(it, "created_at") }),
		first("created_at empty", func(_ *upExchange, it map[string]any) { it["created_at"] = "" }),
		first("created_at in the future", func(_ *upExchange, it map[string]any) { it["created_at"] = "Fri, 01 Jan 2999 00:00:00 +0000" }),
		first("created_at in the wrong format", func(_ *upExchange, it map[string]any) { it["created_at"] = "2024-13-45 25:61:00" }),
		first("created_at year 0", func(_ *upExchange, it map[string]any) { it["created_at"] = "Sat, 01 Jan 0000 00:00:00 +0000" }),
		items("duplicate names", func(_ *upExchange, it []map[string]any) []map[string]any {
			if len(it) > 1 {
				it[1] = it[0]
			} else {
				it = append(it, it[0])
			}
			return it
		}),
		{name: "an extra unknown field", pass: true, accepted: true, body: func(x *upExchange) []byte {
			top := x.base()
			top["unexpected"] = map[string]any{"nested": []any{1, "two"}}
			var list []any
			for _, it := range x.items() {
				it["unexpected_field"] = "x"
				list = append(list, it)
			}
			if list != nil {
				top["items"] = list
			}
			return mustJSON(top)
		}},
		items("items longer than the limit", func(x *upExchange, it []map[string]any) []map[string]any {
			limit := x.query("limit", 100)
			for i := len(it); i < limit+3; i++ {
				it = append(it, x.fakeItem(i))
			}
			return it
		}),
		{name: "fewer items than total_count, none past the end", pass: true, body: func(x *upExchange) []byte {
			top := x.base()
			n, _ := strconv.Atoi(fmt.Sprint(top["total_count"]))
			top["total_count"] = n + 1000
			if x.query("skip", 0) > 0 {
				top["items"] = []any{}
			} else if list, ok := top["items"].([]any); ok {
				top["items"] = list[:len(list)/2]
			}
			return mustJSON(top)
		}},
	}
}

// changeShapes are valid JSON of the wrong shape for a change's answer, the change passed on.
func changeShapes(route string) []upAnswer {
	set := func(name string, key string, v any) upAnswer {
		return upAnswer{name: name, pass: true, body: func(x *upExchange) []byte { return x.withTop(key, v) }}
	}
	extra := upAnswer{name: "an extra unknown field", pass: true, accepted: true, body: func(x *upExchange) []byte {
		return x.withTop("unexpected", map[string]any{"nested": true})
	}}
	null := upAnswer{name: "the JSON null", pass: true, body: func(*upExchange) []byte { return []byte("null") }}
	out := []upAnswer{extra, null}
	switch route {
	case sandbox.RouteCreate, sandbox.RouteUpdate:
		out = append(out,
			set("message missing", "message", upDelete),
			set("message not a string", "message", 42),
			set("credentials not an object", "credentials", "credentials"),
			set("a password for another login", "credentials", map[string]any{"intruder@elsewhere.example": "Gen-Intruder-0001"}))
	case sandbox.RouteDelete:
		out = append(out,
			set("message missing", "message", upDelete),
			set("spec of another login", "spec", "intruder@elsewhere.example"))
	case sandbox.RouteDeleteAll:
		out = append(out,
			set("count missing", "count", upDelete),
			set("count negative", "count", -3),
			set("count a string", "count", "2"),
			set("count a float", "count", json.Number("1.5")),
			set("count huge", "count", json.Number("1e30")),
			set("message missing", "message", upDelete))
	}
	return out
}

// notJSON are 2xx answers that are not the JSON asked for.
func notJSON(change bool) []upAnswer {
	html := func(x *upExchange) []byte {
		return []byte("<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><h1>" + upMarker +
			" Bad Gateway</h1>" + upMarkupText + "<p>key " + x.key + "</p></body></html>")
	}
	out := []upAnswer{
		{name: "an HTML error page with 200", ctype: "text/html", pass: true, body: html},
		{name: "an empty body with 200", pass: true, body: func(*upExchange) []byte { return nil }},
		{name: "a truncated JSON body", pass: true, body: func(x *upExchange) []byte {
			b := x.origBody()
			return b[:len(b)/2]
		}},
		{name: "a body of 5 MB", pass: true, body: func(x *upExchange) []byte {
			return x.withTop("padding", strings.Repeat("p", 5<<20))
		}},
		{name: "invalid UTF-8", pass: true, body: func(x *upExchange) []byte {
			var b []byte
			if x.route == sandbox.RouteList || x.route == sandbox.RouteDomains {
				b = x.withItems(func(it []map[string]any) []map[string]any {
					it[0][x.nameField()] = x.named("INVALIDUTF8")
					return it
				})
			} else {
				b = x.withTop("message", "INVALIDUTF8 "+upMarker)
			}
			return bytes.ReplaceAll(b, []byte("INVALIDUTF8"), []byte("bad\xff\xfe\xc0"))
		}},
		{name: "Content-Type text/html on the JSON", ctype: "text/html; charset=utf-8", pass: true, accepted: true,
			body: func(x *upExchange) []byte { return x.origBody() }},
	}
	if change {
		// A proxy's page or an empty answer that never reached Mailgun.
		out = append(out,
			upAnswer{name: "an HTML error page with 200, not passed on", ctype: "text/html", body: html},
			upAnswer{name: "an empty body with 200, not passed on", body: func(*upExchange) []byte { return nil }})
	}
	return out
}

// errorMessage is a hostile upstream message of a flavour.
func errorMessage(x *upExchange, flavour string) string {
	long := strings.Repeat("Lorem ipsum dolor sit amet. ", 10<<10/28)
	switch flavour {
	case "key":
		return upMarker + " invalid private key " + x.key + " (Basic " + base64.StdEncoding.EncodeToString([]byte("api:"+x.key)) + ")"
	case "password":
		return upMarker + " password " + x.password() + " is not allowed"
	case "markup":
		return upMarker + " " + upMarkupText
	case "10 KB":
		return upMarker + " " + long
	}
	// all of them, the secrets first (a long message is cut)
	pw := ""
	if p := x.password(); p != "" {
		pw = " password " + p
	}
	return upMarker + " key " + x.key + pw + " " + upMarkupText + " " + long
}

// errorAnswers are the error statuses with hostile bodies: a JSON message of a flavour chosen by
// rng, and a body that is not JSON; 5xx also passed on (Mailgun failed after applying).
func errorAnswers(rng *rand.Rand, change bool) []upAnswer {
	flavours := []string{"key", "markup", "10 KB", "all"}
	if change {
		flavours = append(flavours, "password")
	}
	var out []upAnswer
	for _, st := range []int{400, 401, 403, 404, 409, 429, 500, 502, 503} {
		fl := flavours[rng.IntN(len(flavours))]
		jsonBody := func(x *upExchange) []byte { return mustJSON(map[string]any{"message": errorMessage(x, fl)}) }
		textFlavour := []string{"text", "html"}[rng.IntN(2)]
		text := func(x *upExchange) []byte {
			if textFlavour == "html" {
				return []byte("<html><body><h1>" + upMarker + " " + http.StatusText(st) + "</h1>" + upMarkupText + "</body></html>")
			}
			return []byte(upMarker + " " + http.StatusText(st) + " key=" + x.key + " " + x.password())
		}
		ctype := map[string]string{"text": "text/plain", "html": "text/html"}[textFlavour]
		out = append(out,
			upAnswer{name: fmt.Sprintf("%d with a JSON message (%s)", st, fl), status: st, body: jsonBody},
			upAnswer{name: fmt.Sprintf("%d with a %s body", st, textFlavour), status: st, ctype: ctype, body: text})
		if change && st >= 500 {
			out = append(out, upAnswer{name: fmt.Sprintf("%d with a JSON message (%s), after applying", st, fl), status: st, pass: true, body: jsonBody})
		}
	}
	return out
}

// retryAfterNonsense is a 2xx, the sandbox's own answer, with Retry-After and X-RateLimit-Reset
// that mean nothing.
func retryAfterNonsense(rng *rand.Rand) upAnswer {
	ra := []string{"-5", "abc", "99999999999999999999", "Wed, 21 Oct 2015 07:28:00 GMT", "1e9"}
	reset := []string{"-1", "soon", "99999999999999999999", "1.5"}
	return upAnswer{name: "a 2xx with Retry-After nonsense", pass: true, accepted: true,
		header: map[string]string{"Retry-After": ra[rng.IntN(len(ra))], "X-RateLimit-Reset": reset[rng.IntN(len(reset))]},
		body:   func(x *upExchange) []byte { return x.origBody() }}
}

// failureMessage is a 200 whose message says the change failed; the call is not passed on.
func failureMessage(route string) upAnswer {
	return upAnswer{name: "a 200 whose message says failure", body: func(x *upExchange) []byte {
		m := map[string]any{"message": upMarker + " Failed: nothing was changed"}
		if route == sandbox.RouteDeleteAll {
			m["count"] = 0
		}
		return mustJSON(m)
	}}
}

// upLeftOut are the cases left out of the table, each with what the app does with it. They are
// outside the contract SMTP Desk relies on: a 2xx is Mailgun's word that the change was made
// (MAILGUN-API.md gives each call's success answer), and its message is not read for failure.
var upLeftOut = map[string]string{
	"[create answers a 200 whose message says failure; page create typed]":    "recorded ok and shown as created; Mailgun made nothing",
	"[update answers a 200 whose message says failure; page reset generated]": "recorded ok; the page says Mailgun changed the password",
	"[delete answers a 200 whose message says failure; page delete]":          "recorded ok; the flash says deleted while the login is still there",
	"[delete_all answers a 200 whose message says failure; page delete all]":  "recorded ok (0 deleted) though Mailgun said it failed",
}

// upPage is a page the test drives: a GET, or a form loaded and then sent.
type upPage struct {
	name string
	get  string // a GET's path
	// form: the page holding the form, its action and the fields to set (password fields get a
	// fresh password when mode is manual)
	form, action string
	fields       map[string]string
	change       string // the audit action a POST records ("" for a GET)
}

// upPages are the pages, by name.
func upPages() map[string]upPage {
	d := "/d/" + upDomain
	return map[string]upPage{
		"home":              {name: "home", get: "/"},
		"list":              {name: "list", get: d},
		"list past the end": {name: "list past the end", get: d + "?page=99&per_page=25"},
		"list filtered":     {name: "list filtered", get: d + "?q=a"},
		"list to rotate":    {name: "list to rotate", get: d + "?rotate=1"},
		"domain CSV":        {name: "domain CSV", get: d + "/export.csv"},
		"all CSV":           {name: "all CSV", get: "/export.csv"},
		"create typed":      {name: "create typed", form: d + "/new", action: d + "/new", fields: map[string]string{"mode": "manual"}, change: "credential.create"},
		"create generated":  {name: "create generated", form: d + "/new", action: d + "/new", fields: map[string]string{"mode": "generate"}, change: "credential.create"},
		"reset generated":   {name: "reset generated", form: d + "/logins/bob/reset", action: d + "/logins/bob@" + upDomain + "/reset", fields: map[string]string{"mode": "generate"}, change: "credential.reset"},
		"reset typed":       {name: "reset typed", form: d + "/logins/bob/reset", action: d + "/logins/bob@" + upDomain + "/reset", fields: map[string]string{"mode": "manual"}, change: "credential.reset"},
		"delete":            {name: "delete", form: d + "/logins/cyd/delete", action: d + "/logins/cyd@" + upDomain + "/delete", change: "credential.delete"},
		"delete all":        {name: "delete all", form: d + "/delete-all", action: d + "/delete-all", fields: map[string]string{"confirm": upDomain}, change: "credential.delete_all"},
	}
}

// pagesOf are the pages that make a call of route.
var pagesOf = map[string][]string{
	sandbox.RouteList: {"home", "list", "list past the end", "list filtered", "list to rotate", "domain CSV", "all CSV",
		"delete all"},
	sandbox.RouteDomains:   {"home", "all CSV", "create typed"},
	sandbox.RouteCreate:    {"create typed", "create generated"},
	sandbox.RouteUpdate:    {"reset generated", "reset typed"},
	sandbox.RouteDelete:    {"delete"},
	sandbox.RouteDeleteAll: {"delete all"},
}

// upCase is one page request under one hostile answer.
type upCase struct {
	route string
	ans   upAnswer
	page  upPage
}

func (c upCase) String() string {
	return fmt.Sprintf("[%s answers %s; page %s]", c.route, c.ans.name, c.page.name)
}

// upCases builds the table: every answer kind for every call, each on a page that makes the call,
// the pages taken in turn from a seeded permutation so that each is used.
func upCases(rng *rand.Rand) []upCase {
	pages := upPages()
	var out []upCase
	for _, route := range upCalls {
		change := route != sandbox.RouteList && route != sandbox.RouteDomains
		var answers []upAnswer
		if change {
			answers = append(answers, changeShapes(route)...)
			answers = append(answers, failureMessage(route))
		} else {
			answers = append(answers, listShapes()...)
		}
		answers = append(answers, notJSON(change)...)
		answers = append(answers, errorAnswers(rng, change)...)
		answers = append(answers, retryAfterNonsense(rng))
		names := pagesOf[route]
		perm := rng.Perm(len(names))
		i := 0
		for _, a := range answers {
			n := 1
			if !change && a.pass && a.status == 0 && !strings.Contains(a.name, "Content-Type") {
				n = 2 // the list's shapes: on two pages each
			}
			for range n {
				c := upCase{route: route, ans: a, page: pages[names[perm[i%len(perm)]]]}
				i++
				if _, ok := upLeftOut[c.String()]; !ok { // see upLeftOut: back once mended or judged
					out = append(out, c)
				}
			}
		}
	}
	return out
}

// upRun drives the cases.
type upRun struct {
	t       *testing.T
	e       *env
	up      *hostileUpstream
	tf      *testflow.Client
	hc      *http.Client
	secrets []string // never in an answer or the log
	known   map[string]string
	seq     int
	logPos  int
	status  map[int]int // answers by status, for the summary
	sent    int
}

// password is a fresh password the test types.
func (r *upRun) password() string {
	r.seq++
	pw := fmt.Sprintf("Up%03d-typed-%04d", r.seq%1000, r.seq)
	secretscan.Record("hostile upstream test password", pw)
	r.secrets = append(r.secrets, pw)
	return pw
}

// do sends a request without following redirects.
func (r *upRun) do(method, path string, form url.Values) (*http.Response, []byte) {
	r.t.Helper()
	var body io.Reader = http.NoBody
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(context.Background(), method, r.e.URL+path, body)
	if err != nil {
		r.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", r.e.URL)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	r.sent++
	resp, err := r.hc.Do(req)
	if err != nil {
		r.t.Fatalf("%s %s: %v", method, path, err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil && !strings.HasSuffix(path, ".csv") {
		r.t.Fatalf("%s %s: read: %v", method, path, err)
	}
	return resp, b
}

// formValues loads a page and returns its form's hidden fields (the CSRF and one-time tokens,
// back, the delete-all digest).
func (r *upRun) formValues(page, action string) url.Values {
	r.t.Helper()
	r.sent++
	p, err := r.tf.Get(context.Background(), page)
	if err != nil {
		r.t.Fatal(err)
	}
	if p.Status != http.StatusOK {
		r.t.Fatalf("form %s: status %d: %.300s", page, p.Status, p.Text())
	}
	v := url.Values{}
	p.Find("form").EachWithBreak(func(_ int, f *goquery.Selection) bool {
		if a, _ := f.Attr("action"); a != action {
			return true
		}
		f.Find("input[name]").Each(func(_ int, in *goquery.Selection) {
			name, _ := in.Attr("name")
			val, _ := in.Attr("value")
			if ty, _ := in.Attr("type"); ty == "hidden" && !v.Has(name) {
				v.Set(name, val)
			}
		})
		return false
	})
	if v.Get("_csrf") == "" {
		r.t.Fatalf("form %s has no form posting to %s", page, action)
	}
	return v
}

// restore puts the test domain's known logins back after a change the sandbox applied.
func (r *upRun) restore() {
	have := r.e.SB.Logins(upDomain)
	for _, l := range upLogins {
		if !slices.Contains(have, l+"@"+upDomain) {
			if err := r.e.SB.AddCredential(upDomain, l, r.known[l], sandbox.SeedBase()); err != nil {
				r.t.Fatalf("restore %s: %v", l, err)
			}
		}
	}
}

// run sends one case and holds its answer to the five promises.
func (r *upRun) run(c upCase) {
	t := r.t
	t.Helper()
	// The caches' TTLs are a millisecond of the test's clock: every page asks Mailgun afresh.
	r.e.Clock.Add(time.Second)
	callsBefore := len(r.e.SB.Calls())
	var (
		resp   *http.Response
		body   []byte
		typed  string
		values url.Values
	)
	if c.page.get != "" {
		r.up.set(&upRule{route: c.route, ans: c.ans})
		resp, body = r.do(http.MethodGet, c.page.get, nil)
	} else {
		values = r.formValues(c.page.form, c.page.action)
		for k, v := range c.page.fields {
			values.Set(k, v)
		}
		if values.Get("mode") == "manual" {
			typed = r.password()
			values.Set("password", typed)
			values.Set("password2", typed)
		}
		if strings.HasSuffix(c.page.action, "/new") {
			r.seq++
			values.Set("logins", fmt.Sprintf("made%d", r.seq))
		}
		r.e.Clock.Add(time.Second) // past what loading the form put in the caches
		r.up.set(&upRule{route: c.route, ans: c.ans})
		resp, body = r.do(http.MethodPost, c.page.action, values)
	}
	// The changes the sandbox applied: those the rule passed on and those it did not see.
	applied := 0
	for _, call := range r.e.SB.Calls()[callsBefore:] {
		if call.Route != sandbox.RouteList && call.Route != sandbox.RouteDomains && call.Status >= 200 && call.Status < 300 {
			applied++
		}
	}
	r.up.mu.Lock()
	hits, shown, answered := r.up.hits, slices.Clone(r.up.shown), slices.Clone(r.up.answered)
	generated := slices.Clone(r.up.generated)
	r.up.mu.Unlock()
	r.up.set(nil)
	r.status[resp.StatusCode]++
	rid := resp.Header.Get("X-Request-Id")
	desc := fmt.Sprintf("%s %s %s (request %s; upstream answered %v, %d change(s) applied)", c, methodOf(c.page), pathOf(c.page), rid, answered, applied)
	if hits == 0 {
		t.Errorf("%s: the page made no %s call: the case tests nothing", desc, c.route)
	}
	var (
		after     []byte // the page a redirect led to
		afterHead http.Header
	)
	excerpt := func() string {
		if afterHead != nil {
			return pageExcerpt(resp.Header, body) + ", then " + pageExcerpt(afterHead, after)
		}
		return pageExcerpt(resp.Header, body)
	}
	text := string(body)
	if testing.Verbose() {
		defer func() { t.Logf("%s: %d %s %.400s", c, resp.StatusCode, resp.Header.Get("Location"), excerpt()) }()
	}

	// Follow a redirect (a change done) once the upstream is honest again, to read its flash.
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		loc := resp.Header.Get("Location")
		if !strings.HasPrefix(loc, "/") || strings.HasPrefix(loc, "//") {
			t.Errorf("CHECK 2 %s: status %d leads to %q, not a path of this site", desc, resp.StatusCode, loc)
		} else {
			var next *http.Response
			next, after = r.do(http.MethodGet, loc, nil)
			afterHead = next.Header
			if next.StatusCode != http.StatusOK {
				t.Errorf("CHECK 2 %s: the redirect to %s answered %d: %s", desc, loc, next.StatusCode, pageExcerpt(next.Header, after))
			}
		}
	}

	// 1. No 500; an upstream fault is a 502, 503 or 504; no panic.
	logs := r.e.Logs.String()
	newLogs := logs[r.logPos:]
	r.logPos = len(logs)
	if resp.StatusCode >= 500 && resp.StatusCode != http.StatusBadGateway && resp.StatusCode != http.StatusServiceUnavailable &&
		resp.StatusCode != http.StatusGatewayTimeout {
		t.Errorf("CHECK 1 %s: status %d; page: %s", desc, resp.StatusCode, excerpt())
	}
	if i := strings.Index(newLogs, `"msg":"panic"`); i >= 0 {
		t.Errorf("CHECK 1 %s: a panic was recovered: %.800s", desc, newLogs[i:])
	}

	// 2. A whole page in SMTP Desk's words, with a way on.
	csv := strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv")
	pageText := ""
	switch {
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
	case csv && resp.StatusCode == http.StatusOK && strings.HasSuffix(pathOf(c.page), ".csv"):
	case !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html"):
		t.Errorf("CHECK 2 %s: status %d answered %q, not an HTML page: %.300q", desc, resp.StatusCode, resp.Header.Get("Content-Type"), body)
	default:
		doc, h1 := checkPage(t, desc, resp, body, upMarker, "mailgun: ", "unreadable response", "Lorem ipsum")
		if doc != nil {
			pageText = strings.Join(strings.Fields(doc.Find("main").Text()), " ")
		}
		if doc != nil && resp.StatusCode == http.StatusBadRequest && c.page.get != "" {
			// The user sent a valid address: "Bad request" puts Mailgun's fault on them.
			t.Errorf("CHECK 2 %s: a bad upstream answer reads as the user's bad request (%q): %s", desc, h1, excerpt())
		}
	}

	// 3. The audit trail tells the truth, and the page says what it records.
	if c.page.change != "" {
		var entry *store.AuditEntry
		for _, a := range r.e.auditEntries(t, store.AuditFilter{Action: c.page.change, Domain: upDomain, Limit: 5}) {
			if a.RequestID == rid {
				entry = &a
				break
			}
		}
		changeCall := c.route != sandbox.RouteList && c.route != sandbox.RouteDomains
		switch {
		case entry == nil && applied > 0:
			t.Errorf("CHECK 3 %s: Mailgun applied the change, but the audit trail has no %s entry of the request", desc, c.page.change)
		case entry == nil && changeCall:
			t.Errorf("CHECK 3 %s: the change was sent, but the audit trail has no %s entry of the request", desc, c.page.change)
		case entry == nil:
		case applied > 0 && entry.Outcome == store.OutcomeFailed:
			t.Errorf("CHECK 3 %s: Mailgun applied the change, but the audit trail records it failed (%q)", desc, entry.UpstreamMessage)
		case applied == 0 && entry.Outcome == store.OutcomeOK:
			t.Errorf("CHECK 3 %s: Mailgun did not apply the change, but the audit trail records it done (%q); page: %s", desc, entry.UpstreamMessage, excerpt())
		case entry.Outcome == store.OutcomePending:
			t.Errorf("CHECK 3 %s: the audit entry is still pending", desc)
		}
		if entry != nil {
			all := strings.ToLower(pageText + " " + string(after))
			switch entry.Outcome {
			case store.OutcomeUnknown:
				if !strings.Contains(all, "cannot tell") {
					t.Errorf("CHECK 2 %s: the trail records the outcome unknown, but the page does not say SMTP Desk cannot tell: %s", desc, excerpt())
				}
				if resp.StatusCode < 300 {
					t.Errorf("CHECK 2 %s: the outcome is unknown, but the page answered %d", desc, resp.StatusCode)
				}
			case store.OutcomeOK:
				if resp.StatusCode >= 400 {
					t.Errorf("CHECK 3 %s: the trail records the change done, but the page answered %d: %s", desc, resp.StatusCode, excerpt())
				}
			case store.OutcomeFailed:
				// A create's result page (200) says which logins were not created.
				if c.page.change == "credential.create" && resp.StatusCode == http.StatusOK {
					if !strings.Contains(all, "not created") {
						t.Errorf("CHECK 3 %s: the trail records the create failed, but the page does not say the login was not created: %s", desc, excerpt())
					}
				} else if resp.StatusCode < 400 {
					t.Errorf("CHECK 3 %s: the trail records the change failed, but the page answered %d: %s", desc, resp.StatusCode, excerpt())
				}
			}
			if c.ans.accepted && changeCall && entry.Outcome != store.OutcomeOK {
				t.Errorf("CHECK 3 %s: an answer the client reads as Mailgun's own was recorded %s (%q)", desc, entry.Outcome, entry.UpstreamMessage)
			}
		}
	}
	if c.route == sandbox.RouteList && resp.StatusCode == http.StatusOK && !csv {
		// A list page shows only logins of its domain, never the upstream's for another.
		for _, l := range loginsOnBody(body) {
			if strings.Contains(l, "elsewhere.example") {
				t.Errorf("CHECK 3 %s: the list shows %q, a login of another domain, as the domain's: %s", desc, l, excerpt())
			}
		}
	}

	// 4. No markup of the upstream's unescaped in a page. A CSV holds the logins as Mailgun
	// has them, markup too: it is a download no browser renders.
	for i, doc := range [][]byte{body, after} {
		if i == 0 && csv {
			if resp.Header.Get("X-Content-Type-Options") != "nosniff" || !strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment") {
				t.Errorf("CHECK 4 %s: a CSV answered without nosniff and as an attachment: %v", desc, resp.Header)
			}
			continue
		}
		for _, m := range upMarkup {
			if bytes.Contains(doc, []byte(m)) {
				t.Errorf("CHECK 4 %s: the answer holds the upstream's %q unescaped: %s", desc, m, excerpt())
			}
		}
	}

	// 5. No secret in the answer (headers too) or the log; a generated password only on the
	// page of its own change, when the answer carried it.
	secrets := slices.Clone(r.secrets)
	for _, g := range generated {
		if !slices.Contains(shown, g) {
			secrets = append(secrets, g)
		}
	}
	var head strings.Builder
	_ = resp.Header.Write(&head)
	for _, s := range secrets {
		if strings.Contains(text, s) || strings.Contains(head.String(), s) || bytes.Contains(after, []byte(s)) {
			t.Errorf("CHECK 5 %s: the answer holds a secret %.8q…", desc, s)
		}
	}
	for _, s := range append(secrets, generated...) {
		if strings.Contains(newLogs, s) {
			t.Errorf("CHECK 5 %s: the log holds a secret %.8q…", desc, s)
		}
	}
	r.secrets = append(r.secrets, generated...)
	if typed != "" && !slices.Contains(r.secrets, typed) {
		r.secrets = append(r.secrets, typed)
	}
	r.up.mu.Lock()
	r.up.generated = nil
	r.up.mu.Unlock()
	r.restore()
}

func methodOf(p upPage) string {
	if p.get != "" {
		return http.MethodGet
	}
	return http.MethodPost
}

func pathOf(p upPage) string { return cmpStr(p.get, p.action) }

func cmpStr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// loginsOnBody is loginsOn for a body read by hand.
func loginsOnBody(body []byte) []string {
	doc, err := goquery.NewDocumentFromReader(bytes.NewReader(body))
	if err != nil {
		return nil
	}
	return loginsOn(doc)
}

// TestHostileUpstreamEveryCall answers every Mailgun call the app makes with hostile or subtly
// wrong answers and drives the pages that make it, signed in as an administrator.
func TestHostileUpstreamEveryCall(t *testing.T) {
	up := &hostileUpstream{}
	e := newEnv(t, envOptions{
		Settings: handlers.Settings{ActionsPerMinute: 1 << 20, ExportsPerMinute: 1 << 20,
			ListCacheTTL: time.Millisecond, CountCacheTTL: time.Millisecond, PasswordAgeTTL: time.Millisecond},
		Upstream: func(sb http.Handler) http.Handler {
			up.sb = sb
			return up
		},
	})
	up.key = e.APIKey
	if err := e.SB.AddDomain(upDomain); err != nil {
		t.Fatal(err)
	}
	r := &upRun{t: t, e: e, up: up, known: map[string]string{}, status: map[int]int{}}
	r.secrets = append(r.secrets, e.APIKey, base64.StdEncoding.EncodeToString([]byte("api:"+e.APIKey)),
		base64.RawStdEncoding.EncodeToString([]byte("api:"+e.APIKey)))
	for i, l := range upLogins {
		pw := fmt.Sprintf("Known-%d-%s-upstream", i, l)
		r.known[l] = pw
		r.secrets = append(r.secrets, pw)
		if err := e.SB.AddCredential(upDomain, l, pw, sandbox.SeedBase().AddDate(-2, 0, -i)); err != nil {
			t.Fatal(err)
		}
	}
	r.tf = e.signIn(t, "admin")
	r.hc = &http.Client{Jar: r.tf.HTTP.Jar, Transport: r.tf.HTTP.Transport, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	r.logPos = len(e.Logs.String())

	start := time.Now()
	cases := upCases(rand.New(rand.NewPCG(upSeed, 1)))
	covered := map[string]bool{}
	for _, c := range cases {
		covered[c.route+" "+c.page.name] = true
		r.run(c)
	}
	for route, pages := range pagesOf {
		for _, p := range pages {
			if !covered[route+" "+p] {
				t.Errorf("no case drives page %s under a hostile %s answer", p, route)
			}
		}
	}
	checkLogs(t, "(all cases)", e.Logs.String(), r.secrets)
	t.Logf("%d cases, %d requests in %v; answers by status: %v", len(cases), r.sent, time.Since(start).Round(time.Millisecond), r.status)
}
