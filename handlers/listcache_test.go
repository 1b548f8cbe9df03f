package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/smtpdesk/smtpdesk/internal/testclock"
	"github.com/smtpdesk/smtpdesk/mailgun"
)

// fakeLister serves n logins per domain and counts calls. When gate is set every call waits
// for it to close.
type fakeLister struct {
	mu       sync.Mutex
	logins   map[string]int
	calls    []mailgun.ListOptions
	inFlight atomic.Int32
	maxSeen  atomic.Int32
	gate     chan struct{}
	err      error
}

func (f *fakeLister) ListCredentials(ctx context.Context, domain string, opts *mailgun.ListOptions) (*mailgun.CredentialList, error) {
	n := f.inFlight.Add(1)
	defer f.inFlight.Add(-1)
	for {
		m := f.maxSeen.Load()
		if n <= m || f.maxSeen.CompareAndSwap(m, n) {
			break
		}
	}
	f.mu.Lock()
	f.calls = append(f.calls, *opts)
	total, err, gate := f.logins[domain], f.err, f.gate
	f.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if err != nil {
		return nil, err
	}
	l := &mailgun.CredentialList{TotalCount: total}
	for i := opts.Skip; i < total && i < opts.Skip+opts.Limit; i++ {
		login := fmt.Sprintf("u%05d@%s", i, domain)
		l.Items = append(l.Items, mailgun.Credential{Login: login, Mailbox: login})
	}
	return l, nil
}

func (f *fakeLister) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

func newClock() *testclock.Clock { return testclock.New(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)) }

func TestListCachePageReusedUntilTTL(t *testing.T) {
	f := &fakeLister{logins: map[string]int{"a.example": 250}}
	clk := newClock()
	c := NewListCache(f, ListCacheOptions{PageTTL: 15 * time.Second, Now: clk.Now})
	ctx := context.Background()

	for range 3 {
		l, err := c.Page(ctx, "a.example", 100, 100)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := len(l.Items), 100; got != want {
			t.Fatalf("items = %d, want %d", got, want)
		}
		if got, want := l.TotalCount, 250; got != want {
			t.Fatalf("total = %d, want %d", got, want)
		}
	}
	if got, want := f.callCount(), 1; got != want {
		t.Errorf("calls = %d, want %d (cached)", got, want)
	}
	// Another page, or another size, is another call.
	if _, err := c.Page(ctx, "a.example", 200, 100); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Page(ctx, "A.EXAMPLE", 100, 100); err != nil {
		t.Fatal(err)
	}
	if got, want := f.callCount(), 2; got != want {
		t.Errorf("calls = %d, want %d", got, want)
	}
	clk.Add(15 * time.Second)
	if _, err := c.Page(ctx, "a.example", 100, 100); err != nil {
		t.Fatal(err)
	}
	if got, want := f.callCount(), 3; got != want {
		t.Errorf("calls after TTL = %d, want %d", got, want)
	}
}

func TestListCacheResultsAreCopies(t *testing.T) {
	f := &fakeLister{logins: map[string]int{"a.example": 3}}
	c := NewListCache(f, ListCacheOptions{})
	l, err := c.Page(context.Background(), "a.example", 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	l.Items[0].Login = "changed"
	l2, err := c.Page(context.Background(), "a.example", 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if l2.Items[0].Login == "changed" {
		t.Error("a caller's change reached the cache")
	}
	// The whole-domain list too: neither the caller that filled it nor one served from it
	// holds the cache's copy.
	for i := range 3 {
		all, err := c.All(context.Background(), "a.example")
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != 3 || all[0].Login == "changed" {
			t.Fatalf("All, read %d: %+v, want the 3 logins as Mailgun listed them", i+1, all)
		}
		all[0].Login = "changed"
	}
}

func TestListCacheInvalidate(t *testing.T) {
	f := &fakeLister{logins: map[string]int{"a.example": 10, "b.example": 10}}
	c := NewListCache(f, ListCacheOptions{})
	ctx := context.Background()
	fill := func() {
		t.Helper()
		for _, d := range []string{"a.example", "b.example"} {
			if _, err := c.Page(ctx, d, 0, 25); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Count(ctx, d); err != nil {
				t.Fatal(err)
			}
			if _, err := c.All(ctx, d); err != nil {
				t.Fatal(err)
			}
		}
	}
	fill()
	before := f.callCount()
	fill()
	if got := f.callCount(); got != before {
		t.Fatalf("second fill made %d calls, want 0", got-before)
	}
	c.Invalidate("A.example")
	fill()
	// The page call brings the count with it, so only the page and the whole list are fetched.
	if got, want := f.callCount()-before, 2; got != want {
		t.Errorf("after invalidating one domain: %d calls, want %d (page and all of that domain only)", got, want)
	}
}

// TestListCacheInvalidateDropsTheCount: a write through this instance drops the domain's login
// count too, not only its pages, so the home page's count right after a create or a delete is
// Mailgun's new one, not the one kept for CountTTL.
func TestListCacheInvalidateDropsTheCount(t *testing.T) {
	f := &fakeLister{logins: map[string]int{"a.example": 10}}
	c := NewListCache(f, ListCacheOptions{})
	ctx := context.Background()
	if n, err := c.Count(ctx, "a.example"); err != nil || n != 10 {
		t.Fatalf("Count = %d, %v; want 10", n, err)
	}
	f.mu.Lock()
	f.logins["a.example"] = 11 // a create through this instance
	f.mu.Unlock()
	c.Invalidate("a.example")
	if n, err := c.Count(ctx, "a.example"); err != nil || n != 11 {
		t.Errorf("Count after Invalidate = %d, %v; want 11", n, err)
	}
}

func TestListCacheCoalescesConcurrentCalls(t *testing.T) {
	// In a synctest bubble the cache's clock is the bubble's, which stands still while the
	// goroutines run, and synctest.Wait returns once they all wait: every caller has then
	// joined the one upstream call, however slow the machine is.
	synctest.Test(t, func(t *testing.T) {
		gate := make(chan struct{})
		f := &fakeLister{logins: map[string]int{"a.example": 50}, gate: gate}
		c := NewListCache(f, ListCacheOptions{})
		const n = 20
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for range n {
			wg.Go(func() {
				_, err := c.Page(context.Background(), "a.example", 0, 25)
				errs <- err
			})
		}
		synctest.Wait()
		close(gate)
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if got := f.callCount(); got != 1 {
			t.Errorf("%d concurrent identical calls made %d upstream calls, want 1", n, got)
		}
		// A caller arriving after the answer is cached makes no call.
		if _, err := c.Page(context.Background(), "a.example", 0, 25); err != nil {
			t.Fatal(err)
		}
		if got := f.callCount(); got != 1 {
			t.Errorf("a call after the answer was cached made %d upstream calls in all, want 1", got)
		}
	})
}

// TestListCacheWriteDuringFetchIsNotCached: an answer fetched while this instance wrote to its
// domain is not kept, for each of the cache's reads: a page, the count and the whole list.
func TestListCacheWriteDuringFetchIsNotCached(t *testing.T) {
	reads := map[string]func(*ListCache) error{
		"page":  func(c *ListCache) error { _, err := c.Page(context.Background(), "a.example", 0, 25); return err },
		"count": func(c *ListCache) error { _, err := c.Count(context.Background(), "a.example"); return err },
		"all":   func(c *ListCache) error { _, err := c.All(context.Background(), "a.example"); return err },
	}
	for name, read := range reads {
		t.Run(name, func(t *testing.T) {
			gate := make(chan struct{})
			f := &fakeLister{logins: map[string]int{"a.example": 5}, gate: gate}
			c := NewListCache(f, ListCacheOptions{})
			done := make(chan error)
			go func() { done <- read(c) }()
			for f.callCount() == 0 {
				time.Sleep(time.Millisecond)
			}
			c.Invalidate("a.example") // a write lands while the list call is in flight
			close(gate)
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if err := read(c); err != nil {
				t.Fatal(err)
			}
			if got, want := f.callCount(), 2; got != want {
				t.Errorf("calls = %d, want %d: the answer fetched before the write was kept", got, want)
			}
		})
	}
}

func TestListCacheAllFetchesConcurrentlyWithBound(t *testing.T) {
	tests := []struct {
		total, fanOut, wantCalls int
	}{
		{0, 4, 1},
		{999, 4, 1},
		{1000, 4, 1},
		{1001, 4, 2},
		{1999, 4, 2}, // 1,000 + 999: the second page starts on the first one's last login
		{2000, 4, 3},
		{10000, 4, 11},
		{10001, 2, 11},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.total), func(t *testing.T) {
			f := &fakeLister{logins: map[string]int{"big.example": tt.total}}
			c := NewListCache(f, ListCacheOptions{FanOut: tt.fanOut, Now: newClock().Now}) // cached reads below stay fresh
			items, err := c.All(context.Background(), "big.example")
			if err != nil {
				t.Fatal(err)
			}
			if got := len(items); got != tt.total {
				t.Errorf("items = %d, want %d", got, tt.total)
			}
			if got := f.callCount(); got != tt.wantCalls {
				t.Errorf("calls = %d, want %d", got, tt.wantCalls)
			}
			if got := int(f.maxSeen.Load()); got > tt.fanOut {
				t.Errorf("%d calls in flight at once, want at most %d", got, tt.fanOut)
			}
			for _, o := range f.calls {
				if o.Limit != mailgun.MaxLimit || o.Skip%(mailgun.MaxLimit-1) != 0 {
					t.Errorf("call skip=%d limit=%d, want pages of %d, each starting on the last login of the one before", o.Skip, o.Limit, mailgun.MaxLimit)
				}
			}
			// Cached, and the count comes with it.
			if _, err := c.All(context.Background(), "big.example"); err != nil {
				t.Fatal(err)
			}
			if n, err := c.Count(context.Background(), "big.example"); err != nil || n != tt.total {
				t.Errorf("Count = %d, %v; want %d", n, err, tt.total)
			}
			if got := f.callCount(); got != tt.wantCalls {
				t.Errorf("calls after cached reads = %d, want %d", got, tt.wantCalls)
			}
		})
	}
}

func TestListCacheErrorsAreNotCached(t *testing.T) {
	boom := errors.New("boom")
	f := &fakeLister{logins: map[string]int{"a.example": 5}, err: boom}
	c := NewListCache(f, ListCacheOptions{})
	if _, err := c.Page(context.Background(), "a.example", 0, 25); !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	if _, err := c.Count(context.Background(), "a.example"); !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	if _, err := c.All(context.Background(), "a.example"); !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	f.mu.Lock()
	f.err = nil
	f.mu.Unlock()
	if _, err := c.Page(context.Background(), "a.example", 0, 25); err != nil {
		t.Fatalf("err after recovery = %v", err)
	}
}

func TestListCacheCallerCancelStopsWaiting(t *testing.T) {
	gate := make(chan struct{})
	defer close(gate)
	f := &fakeLister{logins: map[string]int{"a.example": 5}, gate: gate}
	c := NewListCache(f, ListCacheOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Page(ctx, "a.example", 0, 25); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func TestListCacheBounded(t *testing.T) {
	f := &fakeLister{logins: map[string]int{"a.example": 100000}}
	clk := newClock()
	c := NewListCache(f, ListCacheOptions{MaxItems: 10, Now: clk.Now})
	for i := range 100 {
		if _, err := c.Page(context.Background(), "a.example", i, 1); err != nil {
			t.Fatal(err)
		}
	}
	c.mu.Lock()
	n := len(c.pages)
	c.mu.Unlock()
	if n > 10 {
		t.Errorf("%d pages kept, want at most 10", n)
	}
}

type fakeDomains struct {
	calls atomic.Int32
	n     int
}

func (f *fakeDomains) ListDomains(_ context.Context, o *mailgun.DomainListOptions) (*mailgun.DomainList, error) {
	f.calls.Add(1)
	l := &mailgun.DomainList{TotalCount: f.n}
	for i := o.Skip; i < f.n && i < o.Skip+o.Limit; i++ {
		l.Items = append(l.Items, mailgun.Domain{Name: fmt.Sprintf("d%04d.example", i)})
	}
	return l, nil
}

func TestDomainCache(t *testing.T) {
	f := &fakeDomains{n: 2500}
	clk := newClock()
	c := NewDomainCache(f, time.Minute, clk.Now)
	for range 3 {
		ds, err := c.Domains(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if got, want := len(ds), 2500; got != want {
			t.Fatalf("domains = %d, want %d", got, want)
		}
	}
	if got, want := int(f.calls.Load()), 3; got != want {
		t.Errorf("calls = %d, want %d (3 pages of 1000, once)", got, want)
	}
	clk.Add(time.Minute)
	if _, err := c.Domains(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got, want := int(f.calls.Load()), 6; got != want {
		t.Errorf("calls after TTL = %d, want %d", got, want)
	}
}

func TestListCacheAllUsesKnownCountForOneWave(t *testing.T) {
	// In a synctest bubble the cache's clock stands still (the count learnt stays fresh), and
	// synctest.Wait returns once every goroutine waits: All has then started every call it
	// makes before an answer, however slow the machine is.
	synctest.Test(t, func(t *testing.T) {
		f := &fakeLister{logins: map[string]int{"big.example": 10000}}
		c := NewListCache(f, ListCacheOptions{FanOut: 11})
		ctx := context.Background()
		// Showing the first page teaches the cache the domain's size.
		if _, err := c.Page(ctx, "big.example", 0, 100); err != nil {
			t.Fatal(err)
		}
		gate := make(chan struct{})
		f.mu.Lock()
		f.gate = gate
		f.mu.Unlock()
		done := make(chan error, 1)
		var items []mailgun.Credential
		go func() {
			var err error
			items, err = c.All(ctx, "big.example")
			done <- err
		}()
		// All eleven pages (1,000 logins, then 999 more each) must be in flight together before
		// any answers: no first call to learn the total. A serial first call would wait alone
		// at the gate.
		synctest.Wait()
		got := f.inFlight.Load()
		close(gate)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if got != 11 {
			t.Errorf("%d calls in flight before the first answer, want all 11 pages at once", got)
		}
		if len(items) != 10000 {
			t.Errorf("items = %d, want 10000", len(items))
		}
	})
}

// TestListCacheAllRefusesAnAbsurdCount: a total_count above MaxAllLogins (a broken or hostile
// answer) is refused with ErrTooManyLogins after the first call, instead of sizing the reading
// by it, which panicked inside the shared call and took the process down; a kept count that
// large is not used to plan the calls either.
func TestListCacheAllRefusesAnAbsurdCount(t *testing.T) {
	for _, total := range []int{MaxAllLogins + 1, 1e13} {
		src := &fakeLister{logins: map[string]int{"huge.example": total}}
		c := NewListCache(src, ListCacheOptions{Now: newClock().Now})
		if _, err := c.All(context.Background(), "huge.example"); !errors.Is(err, ErrTooManyLogins) {
			t.Errorf("total %d: All err = %v, want ErrTooManyLogins", total, err)
		}
		if n := src.callCount(); n != 1 {
			t.Errorf("total %d: %d list calls, want 1 (the first page, which tells the count)", total, n)
		}
		// The count is known now (Page keeps it); All must not plan a wave of calls from it.
		if _, err := c.Page(context.Background(), "huge.example", 0, 100); err != nil {
			t.Fatal(err)
		}
		before := src.callCount()
		if _, err := c.All(context.Background(), "huge.example"); !errors.Is(err, ErrTooManyLogins) {
			t.Errorf("total %d, count kept: All err = %v, want ErrTooManyLogins", total, err)
		}
		if n := src.callCount() - before; n != 1 {
			t.Errorf("total %d, count kept: %d list calls, want 1", total, n)
		}
	}
}

// TestSharedCallPanicIsAnError: a panic in the shared call reaches every caller as an error;
// singleflight's DoChan would re-raise it on its own goroutine and end the process.
func TestSharedCallPanicIsAnError(t *testing.T) {
	var g singleflight.Group
	v, err := shared(context.Background(), &g, "list credentials", "k", func(context.Context) (any, error) {
		panic("boom")
	})
	if err == nil || v != nil || !strings.Contains(err.Error(), "list credentials: panic") {
		t.Errorf("shared = %v, %v; want an error naming the panic", v, err)
	}
	// The group is usable afterwards.
	if v, err := shared(context.Background(), &g, "list credentials", "k", func(context.Context) (any, error) { return 2, nil }); v != 2 || err != nil {
		t.Errorf("after the panic, shared = %v, %v; want 2", v, err)
	}
}

// TestListCacheAllHasADeadline: a whole-domain read against an upstream that never answers
// ends at AllTimeout, all its calls together, although nobody cancels it (it runs detached from
// the request that started it).
func TestListCacheAllHasADeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &fakeLister{logins: map[string]int{"slow.example": 5000}, gate: make(chan struct{})}
		c := NewListCache(src, ListCacheOptions{AllTimeout: time.Minute})
		start := time.Now()
		_, err := c.All(context.Background(), "slow.example")
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("All against a silent upstream: err = %v, want DeadlineExceeded", err)
		}
		if took := time.Since(start); took != time.Minute {
			t.Errorf("All gave up after %s (bubble time), want the AllTimeout of 1m", took)
		}
	})
}

func TestListCacheAllWhenTheCountIsStale(t *testing.T) {
	tests := []struct {
		name          string
		known, actual int
	}{
		{"domain grew", 3000, 5500},
		{"domain shrank", 9000, 2000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeLister{logins: map[string]int{"big.example": tt.known}}
			c := NewListCache(f, ListCacheOptions{FanOut: 4, Now: newClock().Now}) // the count learnt stays known
			ctx := context.Background()
			if _, err := c.Page(ctx, "big.example", 0, 100); err != nil {
				t.Fatal(err)
			}
			f.mu.Lock()
			f.logins["big.example"] = tt.actual
			f.mu.Unlock()
			items, err := c.All(ctx, "big.example")
			if err != nil {
				t.Fatal(err)
			}
			if len(items) != tt.actual {
				t.Errorf("items = %d, want %d", len(items), tt.actual)
			}
		})
	}
}

// endlessDomains answers every page full, with a total_count that keeps ahead of the walk.
type endlessDomains struct{ calls atomic.Int32 }

func (f *endlessDomains) ListDomains(_ context.Context, o *mailgun.DomainListOptions) (*mailgun.DomainList, error) {
	if f.calls.Add(1) > 10_000 {
		return nil, errors.New("the walk does not end")
	}
	l := &mailgun.DomainList{TotalCount: o.Skip + 2*o.Limit}
	for i := range o.Limit {
		l.Items = append(l.Items, mailgun.Domain{Name: fmt.Sprintf("d%d.example", o.Skip+i)})
	}
	return l, nil
}

// TestDomainCacheWalkIsBounded: paging that never ends (every page full, total_count growing)
// or a total beyond MaxDomains is a broken answer, refused after at most MaxDomains domains,
// not walked (and held) forever while every page view waits on the picker.
func TestDomainCacheWalkIsBounded(t *testing.T) {
	f := &endlessDomains{}
	c := NewDomainCache(f, time.Minute, nil)
	ds, err := c.Domains(context.Background())
	if !errors.Is(err, mailgun.ErrBadResponse) {
		t.Fatalf("endless paging: %d domains, err = %v, want ErrBadResponse", len(ds), err)
	}
	if got, most := int(f.calls.Load()), MaxDomains/mailgun.MaxLimit+1; got > most {
		t.Errorf("endless paging: %d calls, want at most %d", got, most)
	}
	if p := classifyError(err); p.status != http.StatusBadGateway {
		t.Errorf("endless paging shows status %d, want 502", p.status)
	}

	huge := &fakeDomains{n: MaxDomains + 1}
	c = NewDomainCache(huge, time.Minute, nil)
	if _, err := c.Domains(context.Background()); !errors.Is(err, mailgun.ErrBadResponse) {
		t.Errorf("total_count %d: err = %v, want ErrBadResponse", MaxDomains+1, err)
	}
	if got := huge.calls.Load(); got != 1 {
		t.Errorf("total_count %d: %d calls, want 1", MaxDomains+1, got)
	}
}
