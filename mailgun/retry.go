package mailgun

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// RetryPolicy says how GET, PUT and DELETE calls are retried on 429, 5xx and network
// failures. POST is never retried: a create that may have reached Mailgun must not be
// repeated blindly.
//
// The wait before retry n is the server's request (Retry-After, X-RateLimit-Reset) when it
// names one, otherwise a random duration in [0, min(MaxDelay, BaseDelay·2^(n-1))] ("full
// jitter"). A wait that would pass the call's deadline is not taken: the last error is
// returned at once.
type RetryPolicy struct {
	// MaxAttempts is the most attempts per call, the first included (default 3; 1 = no
	// retries).
	MaxAttempts int
	// BaseDelay is the backoff cap before the first retry (default 200ms).
	BaseDelay time.Duration
	// MaxDelay caps the backoff (default 2s). It does not cap a wait Mailgun asks for.
	MaxDelay time.Duration
}

func defaultRetryPolicy() RetryPolicy {
	return RetryPolicy{MaxAttempts: 3, BaseDelay: 200 * time.Millisecond, MaxDelay: 2 * time.Second}
}

// withDefaults fills zero fields and checks the rest.
func (p RetryPolicy) withDefaults() (RetryPolicy, error) {
	d := defaultRetryPolicy()
	if p.MaxAttempts < 0 || p.BaseDelay < 0 || p.MaxDelay < 0 {
		return p, fmt.Errorf("%w: retry policy values must not be negative", ErrInvalidInput)
	}
	if p.MaxAttempts == 0 {
		p.MaxAttempts = d.MaxAttempts
	}
	if p.BaseDelay == 0 {
		p.BaseDelay = d.BaseDelay
	}
	if p.MaxDelay == 0 {
		p.MaxDelay = max(d.MaxDelay, p.BaseDelay)
	}
	if p.MaxDelay < p.BaseDelay {
		return p, fmt.Errorf("%w: retry MaxDelay %s is shorter than BaseDelay %s", ErrInvalidInput, p.MaxDelay, p.BaseDelay)
	}
	return p, nil
}

// retryable reports whether an attempt's failure may be retried (for methods that retry).
func retryable(status int, err error) bool {
	var te *TransportError
	switch {
	case errors.As(err, &te):
		return !errors.Is(err, context.Canceled)
	case status == http.StatusTooManyRequests:
		return true
	case status >= 500 && status <= 599:
		var apiErr *Error
		return errors.As(err, &apiErr)
	}
	return false
}

// backoff returns the full-jitter wait before retry number n (n ≥ 1).
func (c *Client) backoff(n int) time.Duration {
	capped := c.retry.MaxDelay
	if n-1 < 62 {
		if d := c.retry.BaseDelay << (n - 1); d > 0 && d < capped {
			capped = d
		}
	}
	if capped <= 0 {
		return 0
	}
	return time.Duration(c.jitter(int64(capped) + 1))
}

// retryHint returns the wait the server asked for: Retry-After (delay-seconds or an HTTP
// date), else, for a 429 (rateLimited), X-RateLimit-Reset (unix seconds). 0 means none (or
// already passed). X-RateLimit-Reset is when the account's rate-limit window ends, which an API
// may send on every answer; on a 5xx it is not a wait for the retry, which backs off instead.
func retryHint(h http.Header, now time.Time, rateLimited bool) time.Duration {
	if v := strings.TrimSpace(h.Get("Retry-After")); v != "" {
		if secs, err := strconv.ParseFloat(v, 64); err == nil {
			return secondsToDuration(secs)
		}
		if t, err := http.ParseTime(v); err == nil {
			return min(max(t.Sub(now), 0), maxRetryHint)
		}
	}
	if v := strings.TrimSpace(h.Get("X-RateLimit-Reset")); v != "" && rateLimited {
		if secs, err := strconv.ParseFloat(v, 64); err == nil && secs > 0 && secs < math.MaxInt64/1e9 {
			reset := time.Unix(0, int64(secs*1e9))
			return min(max(reset.Sub(now), 0), maxRetryHint)
		}
	}
	return 0
}

// maxRetryHint bounds a wait the server asks for, in whichever form: a year is nonsense enough.
const maxRetryHint = 365 * 24 * time.Hour

// secondsToDuration converts a server-sent number of seconds, clamping nonsense.
func secondsToDuration(secs float64) time.Duration {
	switch {
	case math.IsNaN(secs) || secs <= 0:
		return 0
	case secs > maxRetryHint.Seconds():
		return maxRetryHint
	}
	return time.Duration(secs * float64(time.Second))
}

// sleepContext waits for d or until ctx is done.
func sleepContext(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
