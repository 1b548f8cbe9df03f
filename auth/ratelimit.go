package auth

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/time/rate"
)

// Sign-in rate limit defaults.
const (
	// DefaultSignInPerMinute is the sign-in attempts allowed per client IP per minute when
	// Config.SignInPerMinute is 0.
	DefaultSignInPerMinute = 20
	// signInLimiterMaxKeys bounds how many client IPs the limiter remembers.
	signInLimiterMaxKeys = 10000
)

// ErrSignInRateLimited is the Internal error of the 429 answered when a client IP has used up
// its sign-in attempts.
var ErrSignInRateLimited = errors.New("auth: too many sign-in attempts")

// ipLimiter keeps one token bucket per client IP in memory. The map is bounded: entries idle
// long enough for their bucket to refill are dropped (they are as good as new), and when the
// map is still full the least recently seen entry goes.
type ipLimiter struct {
	limit rate.Limit
	burst int
	idle  time.Duration // an entry unused this long has a full bucket again
	max   int
	now   func() time.Time

	mu      sync.Mutex
	entries map[string]*ipEntry
}

type ipEntry struct {
	lim  *rate.Limiter
	seen time.Time
}

// newIPLimiter allows perMinute attempts per IP per minute, with a burst of as many. It
// returns nil (no limit) when perMinute is negative; 0 means DefaultSignInPerMinute.
func newIPLimiter(perMinute, maxKeys int, now func() time.Time) *ipLimiter {
	if perMinute < 0 {
		return nil
	}
	if perMinute == 0 {
		perMinute = DefaultSignInPerMinute
	}
	if maxKeys <= 0 {
		maxKeys = signInLimiterMaxKeys
	}
	return &ipLimiter{
		limit:   rate.Every(time.Minute / time.Duration(perMinute)),
		burst:   perMinute,
		idle:    time.Minute,
		max:     maxKeys,
		now:     now,
		entries: make(map[string]*ipEntry),
	}
}

// allow takes one attempt from ip's budget; when it is spent it reports how long until the
// next attempt is allowed.
func (l *ipLimiter) allow(ip string) (bool, time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.entries[ip]
	if !ok {
		if len(l.entries) >= l.max {
			l.evict(now)
		}
		e = &ipEntry{lim: rate.NewLimiter(l.limit, l.burst)}
		l.entries[ip] = e
	}
	e.seen = now
	r := e.lim.ReserveN(now, 1)
	if !r.OK() {
		return false, time.Minute
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// evict drops idle entries, and the least recently seen one if none was idle. Called with mu
// held and the map full.
func (l *ipLimiter) evict(now time.Time) {
	var oldestKey string
	var oldest time.Time
	for k, e := range l.entries {
		if now.Sub(e.seen) >= l.idle {
			delete(l.entries, k)
			continue
		}
		if oldestKey == "" || e.seen.Before(oldest) {
			oldestKey, oldest = k, e.seen
		}
	}
	if len(l.entries) >= l.max && oldestKey != "" {
		delete(l.entries, oldestKey)
	}
}

// size reports how many IPs are remembered.
func (l *ipLimiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.entries)
}

// clientIP is the request's client address under the trusted-proxy rule: Config.TrustedClientIP
// when set, else echo's RealIP when the app configured an IPExtractor, else the socket peer.
// echo's RealIP without an IPExtractor believes X-Forwarded-For, which a client can forge, so it
// is never used alone.
func (a *Auth) clientIP(c echo.Context) string {
	r := c.Request()
	if a.cfg.TrustedClientIP != nil {
		return a.cfg.TrustedClientIP(r)
	}
	if c.Echo() != nil && c.Echo().IPExtractor != nil {
		return c.RealIP()
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}

// limitSignIn takes one sign-in attempt from the client IP's budget, answering 429 with
// Retry-After when it is spent.
func (a *Auth) limitSignIn(c echo.Context) error {
	if a.signInLimit == nil {
		return nil
	}
	ok, wait := a.signInLimit.allow(a.clientIP(c))
	if ok {
		return nil
	}
	secs := max(1, int(math.Ceil(wait.Seconds())))
	c.Response().Header().Set("Retry-After", strconv.Itoa(secs))
	return echo.NewHTTPError(http.StatusTooManyRequests,
		fmt.Sprintf("too many sign-in attempts; try again in %d seconds", secs)).SetInternal(ErrSignInRateLimited)
}
