// Package backoff says how long to wait before trying again, and waits.
package backoff

import (
	"context"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Policy is exponential backoff with full jitter: the n-th wait (from 0)
// is random in (0, min(Base·2ⁿ, Max)].
type Policy struct {
	Base, Max time.Duration
}

// Delay is the wait before retry n (0 for the first retry).
func (p Policy) Delay(n int) time.Duration {
	ceiling := min(p.Base<<min(max(n, 0), 20), p.Max)
	if ceiling <= 0 {
		return 0
	}
	return time.Duration(rand.Int64N(int64(ceiling))) + 1
}

// RetryAfter reads a Retry-After header, seconds or an HTTP date, as a
// duration from now; ok is false when there is none or it cannot be read.
func RetryAfter(v string, now time.Time) (d time.Duration, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(0, t.Sub(now)), true
	}
	return 0, false
}

// Sleep waits d, or until ctx ends, whose error it then returns.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
