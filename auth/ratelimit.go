package auth

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/smtpdesk/smtpdesk/internal/ratelimit"
)

// Sign-in rate limit defaults.
const (
	// DefaultSignInPerMinute is the sign-in attempts allowed per client IP (an IPv6 client's
	// /64) per minute when Config.SignInPerMinute is 0.
	DefaultSignInPerMinute = 20
	// signInLimiterMaxKeys bounds how many client IPs the limiter remembers.
	signInLimiterMaxKeys = 10000
)

// ErrSignInRateLimited is the Internal error of the 429 answered when a client IP has used up
// its sign-in attempts.
var ErrSignInRateLimited = errors.New("auth: too many sign-in attempts")

// newSignInLimiter allows perMinute sign-in attempts per client IP per minute: 0 means
// DefaultSignInPerMinute, a negative value no limit (nil).
func newSignInLimiter(perMinute int, now func() time.Time) *ratelimit.Limiter {
	switch {
	case perMinute < 0:
		return nil
	case perMinute == 0:
		perMinute = DefaultSignInPerMinute
	}
	return ratelimit.New(perMinute, signInLimiterMaxKeys, now)
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

// signInKey is the sign-in budget a client IP spends: an IPv4 address's own, and an IPv6
// address's /64's. One subscriber, host or cloud instance is handed a whole /64 (RFC 6177) and
// may send from any of its 2^64 addresses, so a budget per address would give them as many
// budgets as they care to use, and a flood of new addresses would push everyone else's budget
// out of the limiter's bounded memory. Anything that is not an address is its own key.
func signInKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap()
	if a.Is4() {
		return a.String()
	}
	return netip.PrefixFrom(a, 64).Masked().String()
}

// limitSignIn takes one sign-in attempt from the client IP's budget, answering 429 with
// Retry-After when it is spent.
func (a *Auth) limitSignIn(c echo.Context) error {
	if a.signInLimit == nil {
		return nil
	}
	ok, wait := a.signInLimit.Allow(signInKey(a.clientIP(c)))
	if ok {
		return nil
	}
	secs := max(1, int(math.Ceil(wait.Seconds())))
	c.Response().Header().Set("Retry-After", strconv.Itoa(secs))
	// A sentence of the error page, which shows a handler's message as it is: it began in lower
	// case there ("too many sign-in attempts; try again in 60 seconds").
	after := fmt.Sprintf("%d seconds", secs)
	if secs == 1 {
		after = "1 second"
	}
	return echo.NewHTTPError(http.StatusTooManyRequests,
		"Too many sign-in attempts came from your network. Try again in "+after+".").SetInternal(ErrSignInRateLimited)
}
