package mailgun

import (
	"context"
	"time"
)

// SetTestHooks replaces the client's sleeper, clock and jitter source for tests; nil leaves
// one as it is.
func SetTestHooks(c *Client, sleep func(context.Context, time.Duration) error, now func() time.Time, jitter func(int64) int64) {
	if sleep != nil {
		c.sleep = sleep
	}
	if now != nil {
		c.now = now
	}
	if jitter != nil {
		c.jitter = jitter
	}
}

// MaxBodyBytes exposes the response body limit.
const MaxBodyBytes = maxBodyBytes
