package auth

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/smtpdesk/smtpdesk/internal/ratelimit"
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

// limitSignIn takes one sign-in attempt from the client IP's budget, answering 429 with
// Retry-After when it is spent.
func (a *Auth) limitSignIn(c echo.Context) error {
	if a.signInLimit == nil {
		return nil
	}
	ok, wait := a.signInLimit.Allow(a.clientIP(c))
	if ok {
		return nil
	}
	secs := max(1, int(math.Ceil(wait.Seconds())))
	c.Response().Header().Set("Retry-After", strconv.Itoa(secs))
	return echo.NewHTTPError(http.StatusTooManyRequests,
		fmt.Sprintf("too many sign-in attempts; try again in %d seconds", secs)).SetInternal(ErrSignInRateLimited)
}
