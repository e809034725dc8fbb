package report

import (
	"context"
	"time"
)

// Clock is the time the reporter batches, backs off and stamps readings by.
// Tests give a fake one so that waits take no real time.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

// systemClock is the real time.
type systemClock struct{}

func (systemClock) Now() time.Time                         { return time.Now() }
func (systemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// sleep waits d on the reporter's clock, or until ctx ends, whose error it
// then returns.
func (r *Reporter) sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	select {
	case <-r.clock.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
