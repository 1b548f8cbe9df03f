package handlers_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/smtpdesk/smtpdesk/handlers"
	"github.com/smtpdesk/smtpdesk/internal/testflow"
	"github.com/smtpdesk/smtpdesk/mailgun/sandbox"
)

// sendAtOnce loads page once and posts its form (hidden inputs plus fields) n times at once, as
// a double click, or a browser sending again, can.
func sendAtOnce(t *testing.T, e *env, persona, page, action string, fields url.Values, n int) []int {
	t.Helper()
	c := e.signIn(t, persona)
	p := get(t, c, page)
	v := hiddenOf(p, action)
	for k, s := range fields {
		v[k] = s
	}
	if v.Get("_form") == "" {
		t.Fatalf("%s has no one-time token", page)
	}
	var wg sync.WaitGroup
	statuses := make([]int, n)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			got, err := c.Post(context.Background(), action, v)
			if err != nil {
				t.Error(err)
				return
			}
			statuses[i] = got.Status
		}()
	}
	close(start)
	wg.Wait()
	return statuses
}

// TestFormSentSeveralTimesAtOnceActsOnce: a form sent five times at once (Mailgun slow to answer)
// acts once, and the other four are told it was sent already (a concurrency review's test).
func TestFormSentSeveralTimesAtOnceActsOnce(t *testing.T) {
	for _, tc := range []struct {
		name, persona, page, action, route string
		fields                             url.Values
	}{
		{"create", "operator", "/d/acme.example/new", "/d/acme.example/new", sandbox.RouteCreate, url.Values{"logins": {"twice"}, "mode": {"generate"}}},
		{"reset", "operator", "/d/acme.example/logins/bob@acme.example/reset", "/d/acme.example/logins/bob@acme.example/reset", sandbox.RouteUpdate, url.Values{"mode": {"generate"}}},
		{"delete", "admin", "/d/acme.example/logins/bob@acme.example/delete", "/d/acme.example/logins/bob@acme.example/delete", sandbox.RouteDelete, nil},
		{"delete dialog", "admin", "/d/acme.example", "/d/acme.example/logins/bob@acme.example/delete", sandbox.RouteDelete, nil},
		{"delete-all", "owner", "/d/acme.example/delete-all", "/d/acme.example/delete-all", sandbox.RouteDeleteAll, url.Values{"confirm": {"acme.example"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000}})
			e.SB.SetFaults(sandbox.Faults{Latency: 30 * time.Millisecond, Routes: []string{tc.route}})
			st := sendAtOnce(t, e, tc.persona, tc.page, tc.action, tc.fields, 5)
			e.SB.SetFaults(sandbox.Faults{})
			if n := len(e.callsTo(tc.route, "")); n != 1 {
				t.Errorf("%d %s calls to Mailgun for one form sent 5 times at once (statuses %v)", n, tc.route, st)
			}
			conflicts := 0
			for _, s := range st {
				if s == http.StatusConflict {
					conflicts++
				}
			}
			if conflicts != 4 {
				t.Errorf("statuses %v, want four 409s", st)
			}
		})
	}
}

// TestRateLimitHoldsUnderConcurrency: with 3 actions and 2 exports a minute, 12 creates at once
// make 3 Mailgun calls and 6 exports at once answer 2 (a concurrency review's test).
func TestRateLimitHoldsUnderConcurrency(t *testing.T) {
	e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 3, ExportsPerMinute: 2}})
	c := e.signIn(t, "operator")
	p := get(t, c, "/d/acme.example/new")
	csrf := p.CSRF()
	e.SB.SetFaults(sandbox.Faults{Latency: 20 * time.Millisecond})
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	for i := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := c.Post(context.Background(), "/d/acme.example/new", url.Values{"_csrf": {csrf}, "logins": {"rl" + string(rune('a'+i))}, "mode": {"generate"}})
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			statuses[got.Status]++
			mu.Unlock()
		}()
	}
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := c.Get(context.Background(), "/d/acme.example/export.csv")
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			statuses[1000+got.Status]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	e.SB.SetFaults(sandbox.Faults{})
	if n := len(e.callsTo(sandbox.RouteCreate, "")); n != 3 {
		t.Errorf("%d create calls, want 3 (statuses %v)", n, statuses)
	}
	if statuses[1000+http.StatusOK] != 2 {
		t.Errorf("exports: statuses %v, want 2 answered 200", statuses)
	}
}

// hiddenOf is the hidden fields of the form that posts to action on p (of any form, when none
// does), the first value of each name.
func hiddenOf(p *testflow.Page, action string) url.Values {
	v := url.Values{}
	sel := p.Find(fmt.Sprintf(`form[action=%q] input[type="hidden"]`, action))
	if sel.Length() == 0 {
		sel = p.Find(`input[type="hidden"]`)
	}
	sel.Each(func(_ int, s *goquery.Selection) {
		n, _ := s.Attr("name")
		val, _ := s.Attr("value")
		if n != "" && v.Get(n) == "" {
			v.Set(n, val)
		}
	})
	return v
}
