package handlers

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/singleflight"

	"github.com/smtpdesk/smtpdesk/internal/ratelimit"
	"github.com/smtpdesk/smtpdesk/mailgun"
)

// Lister is the one Mailgun call the list cache makes.
type Lister interface {
	ListCredentials(ctx context.Context, domain string, opts *mailgun.ListOptions) (*mailgun.CredentialList, error)
}

// ListCacheOptions tunes a ListCache. Zero values take the defaults.
type ListCacheOptions struct {
	PageTTL  time.Duration // how long one page of a list is reused (default 15s)
	CountTTL time.Duration // how long a domain's login count is reused (default 60s)
	FanOut   int           // concurrent calls when fetching a whole domain (default 4)
	MaxItems int           // entries kept before expired ones are swept (default 256)
	// MaxCredentials bounds the logins held in all cached pages and whole-domain lists together
	// (default 50,000, a few MB); a list longer than that on its own is not kept.
	MaxCredentials int
	// AllTimeout bounds a whole-domain read, all its calls together (default 2 minutes): the
	// read goes on after the request that asked for it has gone (others may be waiting on it),
	// so each call's own deadline alone would let a slow upstream keep it going for as long as
	// a thousand calls take.
	AllTimeout time.Duration
	Now        func() time.Time // the clock (default time.Now)
}

// ListCache sits between the pages and Mailgun's credential list. It coalesces identical
// concurrent calls, reuses results for a short time, fetches whole domains (for the filter)
// with bounded concurrency, and forgets a domain as soon as this instance writes to it.
// Other instances' writes show up when the entries expire. An entry expires its TTL after the
// read that filled it began, not after it ended: Mailgun may have answered at any moment of
// the read, so a change made through another instance (or Mailgun's panel) just after that
// moment is shown within the TTL however long the read took (a whole domain's walk may take a
// minute and more).
type ListCache struct {
	src      Lister
	pageTTL  time.Duration
	countTTL time.Duration
	fanOut   int
	maxItems int // pages and whole-domain lists
	maxCreds int
	// maxCounts bounds the login counts: MaxDomains, since only a domain Mailgun answered for
	// gets one.
	maxCounts int
	allLimit  time.Duration
	now       func() time.Time

	flight singleflight.Group

	mu sync.Mutex
	// gen counts Invalidate's calls per stripe of domains; a fill is kept only if its domain's
	// stripe has not moved since it started. Stripes, not one counter per domain name, keep it
	// bounded: any name can be invalidated (a delete's confirmation page reads afresh), and a
	// map would keep every name ever asked for. Two domains sharing a stripe cost only a fill
	// not kept, or a call not shared, while one of them is being written to.
	gen    [genStripes]uint64
	seed   maphash.Seed
	pages  map[pageKey]pageEntry
	alls   map[string]allEntry
	counts map[string]countEntry
	creds  int // logins held in pages and alls
}

type pageKey struct {
	domain      string
	skip, limit int
}

type pageEntry struct {
	list    mailgun.CredentialList
	expires time.Time
}

type allEntry struct {
	items   []mailgun.Credential
	total   int
	expires time.Time
}

type countEntry struct {
	total   int
	expires time.Time
}

// NewListCache returns a cache in front of src.
func NewListCache(src Lister, o ListCacheOptions) *ListCache {
	if o.PageTTL <= 0 {
		o.PageTTL = 15 * time.Second
	}
	if o.CountTTL <= 0 {
		o.CountTTL = 60 * time.Second
	}
	if o.FanOut <= 0 {
		o.FanOut = 4
	}
	if o.MaxItems <= 0 {
		// A page cache is for the same few pages viewed again within seconds (coalescing and
		// the 15 s reuse); keeping thousands of pages nobody asks for again cost ~17 MB of
		// live heap in the load test's cold run.
		o.MaxItems = 256
	}
	if o.MaxCredentials <= 0 {
		o.MaxCredentials = 50_000
	}
	if o.AllTimeout <= 0 {
		o.AllTimeout = 2 * time.Minute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &ListCache{
		src:       src,
		pageTTL:   o.PageTTL,
		countTTL:  o.CountTTL,
		fanOut:    o.FanOut,
		maxItems:  o.MaxItems,
		maxCreds:  o.MaxCredentials,
		maxCounts: MaxDomains,
		allLimit:  o.AllTimeout,
		now:       o.Now,
		seed:      maphash.MakeSeed(),
		pages:     map[pageKey]pageEntry{},
		alls:      map[string]allEntry{},
		counts:    map[string]countEntry{},
	}
}

// genStripes is the number of generation counters ListCache spreads its domains over.
const genStripes = 256

// genLocked returns the generation counter of domain d (a domainKey).
func (c *ListCache) genLocked(d string) *uint64 {
	return &c.gen[maphash.String(c.seed, d)%genStripes]
}

// domainKey folds case: Mailgun domain names are case-insensitive.
func domainKey(domain string) string { return strings.ToLower(domain) }

// Invalidate drops everything cached for domain, including calls still in flight: their
// results are handed to the callers already waiting but not kept.
func (c *ListCache) Invalidate(domain string) {
	d := domainKey(domain)
	c.mu.Lock()
	defer c.mu.Unlock()
	*c.genLocked(d)++
	for k := range c.pages {
		if k.domain == d {
			c.deletePageLocked(k)
		}
	}
	c.deleteAllLocked(d)
	delete(c.counts, d)
}

// Page returns one page of a domain's credentials (Mailgun's skip and limit).
func (c *ListCache) Page(ctx context.Context, domain string, skip, limit int) (*mailgun.CredentialList, error) {
	d := domainKey(domain)
	key := pageKey{domain: d, skip: skip, limit: limit}
	l, g, ok := c.cachedPage(key)
	if ok {
		return copyList(&l), nil
	}

	v, err := c.do(ctx, fmt.Sprintf("page\x00%s\x00%d\x00%d\x00%d", d, g, skip, limit), func(ctx context.Context) (any, error) {
		// A caller that missed the cache just before another call stored the page starts a new
		// call once that one is over: it finds the page here instead of asking Mailgun again.
		// (Invalidate deletes a domain's pages, so a page found is never older than this call.)
		if l, _, ok := c.cachedPage(key); ok {
			return &l, nil
		}
		start := c.now()
		l, err := c.src.ListCredentials(ctx, domain, &mailgun.ListOptions{Skip: skip, Limit: limit})
		if err != nil {
			return nil, err
		}
		c.mu.Lock()
		if exp := start.Add(c.pageTTL); *c.genLocked(d) == g && c.now().Before(exp) && c.roomLocked(len(l.Items)) {
			c.deletePageLocked(key)
			// l is the cache's own from here: callers (this one included) get copies below.
			c.pages[key] = pageEntry{list: *l, expires: exp}
			c.creds += len(l.Items)
		}
		c.mu.Unlock()
		// Every page carries the domain's total: keep it, so a filter right after knows how
		// many pages to fetch at once.
		c.storeCount(d, g, l.TotalCount, start)
		return l, nil
	})
	if err != nil {
		return nil, err
	}
	return copyList(v.(*mailgun.CredentialList)), nil
}

// cachedPage returns the cached page for key while it lasts (the cache's own: callers get
// copies), and the domain's generation, which a call to fill the page must carry.
func (c *ListCache) cachedPage(key pageKey) (l mailgun.CredentialList, gen uint64, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, found := c.pages[key]; found && c.now().Before(e.expires) {
		return e.list, *c.genLocked(key.domain), true
	}
	return l, *c.genLocked(key.domain), false
}

// Count returns the number of logins of a domain (one limit=1 call, kept for CountTTL).
func (c *ListCache) Count(ctx context.Context, domain string) (int, error) {
	d := domainKey(domain)
	c.mu.Lock()
	if e, ok := c.counts[d]; ok && c.now().Before(e.expires) {
		c.mu.Unlock()
		return e.total, nil
	}
	g := *c.genLocked(d)
	c.mu.Unlock()

	v, err := c.do(ctx, fmt.Sprintf("count\x00%s\x00%d", d, g), func(ctx context.Context) (any, error) {
		start := c.now()
		l, err := c.src.ListCredentials(ctx, domain, &mailgun.ListOptions{Skip: 0, Limit: 1})
		if err != nil {
			return nil, err
		}
		c.storeCount(d, g, l.TotalCount, start)
		return l.TotalCount, nil
	})
	if err != nil {
		return 0, err
	}
	return v.(int), nil
}

// storeCount keeps a domain's login count, read by a call that began at start, for CountTTL
// from then, unless the domain was written to since generation g.
func (c *ListCache) storeCount(d string, g uint64, total int, start time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if exp := start.Add(c.countTTL); *c.genLocked(d) == g && c.now().Before(exp) {
		c.countRoomLocked()
		c.counts[d] = countEntry{total: total, expires: exp}
	}
}

// All returns every credential of a domain, fetched in pages of mailgun.MaxLimit that overlap
// by one login (see fetchAll): the first page tells the total, the rest are fetched
// concurrently, at most FanOut at a time. The
// result is kept for PageTTL. Logins are unique in the result even if the list moved between
// calls.
func (c *ListCache) All(ctx context.Context, domain string) ([]mailgun.Credential, error) {
	d := domainKey(domain)
	c.mu.Lock()
	if e, ok := c.alls[d]; ok && c.now().Before(e.expires) {
		c.mu.Unlock()
		return append([]mailgun.Credential(nil), e.items...), nil
	}
	g := *c.genLocked(d)
	c.mu.Unlock()

	v, err := c.do(ctx, fmt.Sprintf("all\x00%s\x00%d", d, g), func(ctx context.Context) (any, error) {
		start := c.now()
		items, total, err := c.fetchAll(ctx, domain)
		if err != nil {
			return nil, err
		}
		c.mu.Lock()
		if exp := start.Add(c.pageTTL); *c.genLocked(d) == g && c.now().Before(exp) && c.roomLocked(len(items)) {
			c.deleteAllLocked(d)
			c.alls[d] = allEntry{items: items, total: total, expires: exp}
			c.creds += len(items)
		}
		c.mu.Unlock()
		c.storeCount(d, g, total, start)
		return items, nil
	})
	if err != nil {
		return nil, err
	}
	return append([]mailgun.Credential(nil), v.([]mailgun.Credential)...), nil
}

// MaxAllLogins is the most logins All reads of one domain: a thousand list calls. A larger
// total_count is refused rather than followed: it would take thousands of calls, and an absurd
// count (a broken or hostile answer) must not size the memory the reading sets aside, which
// panicked inside the shared call and took the process down.
const MaxAllLogins = 1_000_000

// ErrTooManyLogins says that a domain reports more than MaxAllLogins logins.
var ErrTooManyLogins = errors.New("the domain has more logins than SMTP Desk reads at once")

// ErrListMoved says that a domain's logins kept changing while all of them were read page by
// page, so no consistent list could be put together.
var ErrListMoved = errors.New("the domain's logins changed while they were read")

// allAttempts is how many times fetchAll reads a domain whose list moves under it.
const allAttempts = 3

// fetchAll reads every login of a domain. Pages are read by offset, so a login created or
// deleted between two calls shifts the rest by one, and a login that exists throughout could
// cross a page boundary unseen (while the count still looks right). So the pages overlap by one
// login: each page after the first begins where the one before it ended, with that page's last
// login. Mailgun lists a domain's logins in a fixed order, so when every boundary login is the
// same in both pages, and the last page reached the end of the list, every login that existed
// for the whole walk was read; logins created or deleted during it may or may not be, as with
// any read that takes time. Where a boundary does not match, the walk starts again, a few
// times, and then fails with ErrListMoved rather than leave a live login out.
func (c *ListCache) fetchAll(ctx context.Context, domain string) ([]mailgun.Credential, int, error) {
	ctx, cancel := context.WithTimeout(ctx, c.allLimit)
	defer cancel()
	for attempt := 1; ; attempt++ {
		items, consistent, err := c.fetchAllOnce(ctx, domain)
		switch {
		case err != nil:
			return nil, 0, err
		case consistent:
			return items, len(items), nil
		case attempt == allAttempts:
			return nil, 0, fmt.Errorf("list credentials of %s: %w (%d attempts)", domain, ErrListMoved, attempt)
		}
	}
}

// allLimit is the page size of a whole-domain read: the most Mailgun returns at once.
const allLimit = mailgun.MaxLimit

// allSkip is where page i of a whole-domain read starts: on the last login of page i-1.
func allSkip(i int) int { return i * (allLimit - 1) }

// allPages is how many overlapping pages hold total logins.
func allPages(total int) int {
	if total <= allLimit {
		return 1
	}
	return 1 + (total-allLimit+allLimit-2)/(allLimit-1)
}

func (c *ListCache) fetchAllOnce(ctx context.Context, domain string) (items []mailgun.Credential, consistent bool, err error) {
	// When the login count is known (the home page or an earlier list cached it), every page is
	// asked for at once, bounded by the fan-out: 10,000 logins take three waves of calls instead
	// of one call to learn the total and then three more. The pages' own total_count is still
	// the authority: pages the count did not foresee are fetched afterwards.
	guess := 1
	c.mu.Lock()
	if e, ok := c.counts[domainKey(domain)]; ok && c.now().Before(e.expires) && e.total > allLimit && e.total <= MaxAllLogins {
		guess = allPages(e.total)
	}
	c.mu.Unlock()

	type page struct {
		items []mailgun.Credential
		total int // the page's own total_count
	}
	pages := make([]page, guess)
	fetch := func(from, to int) error {
		eg, ectx := errgroup.WithContext(ctx)
		eg.SetLimit(c.fanOut)
		for i := from; i < to; i++ {
			eg.Go(func() error {
				l, err := c.src.ListCredentials(ectx, domain, &mailgun.ListOptions{Skip: allSkip(i), Limit: allLimit})
				if err != nil {
					return err
				}
				if l.TotalCount > MaxAllLogins {
					return fmt.Errorf("%w: %s reports %d logins, more than %d", ErrTooManyLogins, domain, l.TotalCount, MaxAllLogins)
				}
				pages[i] = page{items: l.Items, total: l.TotalCount} // each goroutine its own element
				return nil
			})
		}
		return eg.Wait()
	}
	if err := fetch(0, guess); err != nil {
		return nil, false, err
	}
	// Read on while the last page read was full and its own count says more logins follow (a
	// stale guess, or logins created during the walk).
	for {
		last := &pages[len(pages)-1]
		if len(last.items) < allLimit || allSkip(len(pages)-1)+allLimit >= last.total {
			break
		}
		n := max(allPages(last.total), len(pages)+1)
		if n > allPages(MaxAllLogins) {
			return nil, false, fmt.Errorf("%w: %s pages past %d logins", ErrTooManyLogins, domain, MaxAllLogins)
		}
		from := len(pages)
		pages = append(pages, make([]page, n-from)...)
		if err := fetch(from, n); err != nil {
			return nil, false, err
		}
	}
	consistent = true
	for i := 1; i < len(pages); i++ {
		prev, cur := &pages[i-1], &pages[i]
		if len(prev.items) < allLimit || allSkip(i-1)+allLimit >= prev.total {
			// prev was the end of the list when it was read: every login that existed for the
			// whole walk was at or before it then, so the pages after it cannot hold one unseen.
			break
		}
		if len(cur.items) == 0 || !strings.EqualFold(cur.items[0].Login, prev.items[allLimit-1].Login) {
			consistent = false
			break
		}
	}
	n := 0
	for _, p := range pages {
		n += len(p.items)
	}
	seen := make(map[string]bool, n)
	items = make([]mailgun.Credential, 0, n)
	for _, p := range pages {
		for _, cr := range p.items {
			k := strings.ToLower(cr.Login)
			if seen[k] {
				continue
			}
			seen[k] = true
			items = append(items, cr)
		}
	}
	return items, consistent, nil
}

// do runs fn once for all concurrent callers of the same key (shared).
func (c *ListCache) do(ctx context.Context, key string, fn func(context.Context) (any, error)) (any, error) {
	return shared(ctx, &c.flight, "list credentials", key, fn)
}

// shared runs fn once for all concurrent callers of the same key in g. The shared call is
// detached from the first caller's cancellation, so that one browser going away does not fail
// the others waiting on it (fn's own deadline bounds it), and each caller stops waiting when its
// own context ends (an error that names what it waited for). A panic in fn is an error for every
// caller: singleflight's DoChan re-raises it on a goroutine of its own, where no recover of the
// request's reaches it, and it would end the process.
func shared(ctx context.Context, g *singleflight.Group, what, key string, fn func(context.Context) (any, error)) (any, error) {
	ch := g.DoChan(key, func() (v any, err error) {
		defer func() {
			if p := recover(); p != nil {
				v, err = nil, fmt.Errorf("%s: panic: %v", what, p)
			}
		}()
		return fn(context.WithoutCancel(ctx))
	})
	select {
	case r := <-ch:
		return r.Val, r.Err
	case <-ctx.Done():
		return nil, fmt.Errorf("%s: %w", what, ctx.Err())
	}
}

func (c *ListCache) deletePageLocked(k pageKey) {
	if e, ok := c.pages[k]; ok {
		c.creds -= len(e.list.Items)
		delete(c.pages, k)
	}
}

func (c *ListCache) deleteAllLocked(d string) {
	if e, ok := c.alls[d]; ok {
		c.creds -= len(e.items)
		delete(c.alls, d)
	}
}

// roomLocked makes room for one more page or whole-domain list holding n logins and reports
// whether it may be kept. Once the cache holds maxItems of them or maxCreds logins it drops the
// expired ones, and if that is not enough, all of them: the cache stays bounded without a
// background goroutine or an LRU list, at the price of refetching the pages still in use once
// per fill. A list longer than maxCreds on its own is not kept. The login counts have their own
// bound (countRoomLocked): counted here, the home page's counts of an account with more domains
// than maxItems filled the cache for a minute, and every page fill then cleared the pages.
func (c *ListCache) roomLocked(n int) bool {
	if n > c.maxCreds {
		return false
	}
	full := func() bool {
		return len(c.pages)+len(c.alls) >= c.maxItems || c.creds+n > c.maxCreds
	}
	if !full() {
		return true
	}
	now := c.now()
	for k, e := range c.pages {
		if !now.Before(e.expires) {
			c.deletePageLocked(k)
		}
	}
	for k, e := range c.alls {
		if !now.Before(e.expires) {
			c.deleteAllLocked(k)
		}
	}
	if full() {
		clear(c.pages)
		clear(c.alls)
		c.creds = 0
	}
	return true
}

// countRoomLocked makes room for one more login count: at maxCounts it drops the expired
// counts, and if that is not enough, all of them.
func (c *ListCache) countRoomLocked() {
	if len(c.counts) < c.maxCounts {
		return
	}
	now := c.now()
	for k, e := range c.counts {
		if !now.Before(e.expires) {
			delete(c.counts, k)
		}
	}
	if len(c.counts) >= c.maxCounts {
		clear(c.counts)
	}
}

func copyList(l *mailgun.CredentialList) *mailgun.CredentialList {
	return &mailgun.CredentialList{Items: append([]mailgun.Credential(nil), l.Items...), TotalCount: l.TotalCount}
}

// DomainLister is the Mailgun call behind the domain picker and the home page.
type DomainLister interface {
	ListDomains(ctx context.Context, opts *mailgun.DomainListOptions) (*mailgun.DomainList, error)
}

// MaxDomains is the most domains DomainCache reads: a hundred calls of mailgun.MaxLimit. An
// account that reports more, or whose pages keep coming past it, is treated as a broken answer.
const MaxDomains = 100_000

// DomainRereadsPerMinute bounds the reads of the domain list that names missing from it cause
// (DomainCache.Has), whatever the names: a burst of this many, then one every 60/this seconds.
// A burst of made-up names in change URLs therefore costs Mailgun a handful of list walks.
const DomainRereadsPerMinute = 6

// DomainWalkTimeout bounds a whole walk of the domain list (DomainCache), every page of it and
// the client's retries included. The walk is shared by the page views that ask meanwhile and
// runs detached from their cancellation (one leaving must not fail it for the others), so the
// client's deadline, which applies to each call afresh, was its only bound: a Mailgun answering
// each page just inside it held the walk, and every page view's domain picker with it, for up to
// a hundred pages (MaxDomains) of it. A minute is those hundred pages at 600 ms each; app's
// check of the policy's domains walks within it too.
const DomainWalkTimeout = time.Minute

// DomainCache keeps Mailgun's whole domain list for a while: one upstream walk per TTL, shared
// by every page view (the domain picker is on every page).
type DomainCache struct {
	// WalkTimeout bounds each walk of the list (zero: DomainWalkTimeout). Set it before use.
	WalkTimeout time.Duration
	// Log, when set (before use), is told of the domain names a walk leaves out.
	Log *slog.Logger

	src     DomainLister
	ttl     time.Duration
	now     func() time.Time
	flight  singleflight.Group
	rereads *ratelimit.Limiter // Has's reads for a name missing from the list (one key)

	mu      sync.Mutex
	items   []mailgun.Domain
	expires time.Time
	// begun counts the walks begun, and itemsFrom is the number of the one items came from:
	// Has trusts the list only when its walk began after Has asked.
	begun, itemsFrom uint64
}

// NewDomainCache returns a cache of src's domain list kept for ttl.
func NewDomainCache(src DomainLister, ttl time.Duration, now func() time.Time) *DomainCache {
	if ttl <= 0 {
		ttl = 60 * time.Second
	}
	if now == nil {
		now = time.Now
	}
	return &DomainCache{src: src, ttl: ttl, now: now, rereads: ratelimit.New(DomainRereadsPerMinute, 1, now)}
}

// Kept returns the domain list last read, however old, or nil when none was read yet. It never
// asks Mailgun.
func (c *DomainCache) Kept() []mailgun.Domain {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.items
}

// Domains returns every domain of the Mailgun account, sorted as Mailgun sorts them by name.
func (c *DomainCache) Domains(ctx context.Context) ([]mailgun.Domain, error) {
	c.mu.Lock()
	if c.items != nil && c.now().Before(c.expires) {
		items := c.items
		c.mu.Unlock()
		return items, nil
	}
	c.mu.Unlock()
	v, err := shared(ctx, &c.flight, "list domains", "domains", c.walk)
	if err != nil {
		return nil, err
	}
	return v.([]mailgun.Domain), nil
}

// Has reports whether the Mailgun account has the domain name (compared without case). The
// kept list answers when it holds the name, at no cost. A name it does not hold may have been
// added in Mailgun since the list was read, so the list is read again before the answer is no:
// concurrent askers share one read, and such reads are bounded (DomainRereadsPerMinute, one
// budget for every name); past the bound, the list kept (at most its TTL old) answers. An error
// means Has cannot tell: the list could not be read.
func (c *DomainCache) Has(ctx context.Context, name string) (bool, error) {
	c.mu.Lock()
	asked := c.begun
	c.mu.Unlock()
	items, err := c.Domains(ctx)
	if err != nil {
		return false, err
	}
	if hasDomain(items, name) {
		return true, nil
	}
	c.mu.Lock()
	fresh, kept := c.itemsFrom > asked, c.items
	c.mu.Unlock()
	if fresh {
		// The list was read by a walk begun after this asked (its TTL had run out): nothing
		// newer to look in.
		return hasDomain(kept, name), nil
	}
	// A walk begun before this asked (under way when it did) may have missed the name: the
	// re-read shares its flight only with the askers who came when this one did.
	key := "reread\x00" + strconv.FormatUint(asked, 10)
	v, err := shared(ctx, &c.flight, "list domains", key, func(ctx context.Context) (any, error) {
		if ok, _ := c.rereads.Allow(""); !ok {
			return c.Kept(), nil
		}
		return c.walk(ctx)
	})
	if err != nil {
		return false, err
	}
	return hasDomain(v.([]mailgun.Domain), name), nil
}

func hasDomain(items []mailgun.Domain, name string) bool {
	return slices.ContainsFunc(items, func(d mailgun.Domain) bool { return strings.EqualFold(d.Name, name) })
}

// walk reads the whole domain list from Mailgun, within WalkTimeout (past it, the walk ends with
// an error matching context.DeadlineExceeded), and keeps it for the TTL from when the walk began
// (as ListCache keeps its entries).
func (c *DomainCache) walk(ctx context.Context) (any, error) {
	limit := cmp.Or(c.WalkTimeout, DomainWalkTimeout)
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	c.mu.Lock()
	c.begun++
	n := c.begun
	c.mu.Unlock()
	start := c.now()
	var all []mailgun.Domain
	// A name that is not a hostname (markup, bytes that are not UTF-8) cannot be asked about: every
	// call on it is refused before it is sent, and the pages would call it the user's bad input.
	// Mailgun names its domains as DNS does, so such a name is a fault of its answer: left out of
	// the list, and logged.
	var unusable []string
	for skip := 0; ; {
		l, err := c.src.ListDomains(ctx, &mailgun.DomainListOptions{Skip: skip, Limit: mailgun.MaxLimit, Sort: "name:asc"})
		if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, fmt.Errorf("list domains: %w (the walk's deadline, %v, passed)", err, limit)
		}
		if err != nil {
			return nil, fmt.Errorf("list domains: %w", err)
		}
		if l.TotalCount > MaxDomains || skip+len(l.Items) > MaxDomains {
			// Every page full and total_count growing would otherwise walk (and hold) the
			// account's domains forever, while every page view waits for the picker.
			return nil, fmt.Errorf("list domains: %w: more than %d domains (total_count %d at skip %d)",
				mailgun.ErrBadResponse, MaxDomains, l.TotalCount, skip)
		}
		for _, d := range l.Items {
			if mailgun.ValidateDomain(d.Name) != nil {
				unusable = append(unusable, d.Name)
				continue
			}
			all = append(all, d)
		}
		skip += len(l.Items)
		if len(l.Items) == 0 || skip >= l.TotalCount {
			break
		}
	}
	if all == nil {
		all = []mailgun.Domain{}
	}
	if len(unusable) > 0 && c.Log != nil {
		c.Log.WarnContext(ctx, "list domains: Mailgun listed domain names that are not hostnames; SMTP Desk leaves them out",
			"count", len(unusable), "names", unusable[:min(3, len(unusable))])
	}
	c.mu.Lock()
	if n > c.itemsFrom { // not when a walk begun later has already ended (a re-read beside a page view's)
		c.items, c.expires, c.itemsFrom = all, start.Add(c.ttl), n
	}
	c.mu.Unlock()
	return all, nil
}
