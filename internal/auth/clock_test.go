package auth

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"
)

// TestClockRefusesAnUnsetClock: a clock earlier than the build, or far
// from the identity service's Date, holds assertions back; the wait is
// said once and ends with the context as a KindClock error.
func TestClockRefusesAnUnsetClock(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name    string
		builtAt time.Time
		date    time.Time // the service's Date; zero for none seen
		wantBad bool
	}{
		{"built yesterday, no Date seen", now.Add(-24 * time.Hour), time.Time{}, false},
		{"built yesterday, Date agrees", now.Add(-24 * time.Hour), now, false},
		{"built tomorrow (a Pi that booted in 1970)", now.Add(24 * time.Hour), time.Time{}, true},
		{"service 10 minutes ahead", time.Time{}, now.Add(10 * time.Minute), true},
		{"service 10 minutes behind", time.Time{}, now.Add(-10 * time.Minute), true},
		{"service 2 minutes ahead", time.Time{}, now.Add(2 * time.Minute), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var said []error
			c := newClock(tt.builtAt, func(err error) { said = append(said, err) })
			if !tt.date.IsZero() {
				c.observe(tt.date.UTC().Format(http.TimeFormat))
			}
			ctx, cancel := context.WithTimeout(t.Context(), 1200*time.Millisecond)
			defer cancel()
			err := c.wait(ctx)
			if !tt.wantBad {
				if err != nil || len(said) != 0 {
					t.Fatalf("wait: %v, said %v; want no wait", err, said)
				}
				return
			}
			var ae *Error
			var ce *ClockError
			if !errors.As(err, &ae) || ae.Kind != KindClock || !errors.As(err, &ce) {
				t.Fatalf("wait: %v, want a KindClock error", err)
			}
			if len(said) != 1 {
				t.Errorf("said %d times that it waits, want once", len(said))
			}
		})
	}
}

// TestClockSeesTimeSyncStepTheClock: once time sync steps the wall clock
// to the service's time, the old Date no longer says it is wrong.
func TestClockSeesTimeSyncStepTheClock(t *testing.T) {
	c := newClock(time.Time{}, nil)
	seen := time.Now()
	// The service's Date came when this clock read 3 h behind it...
	c.server, c.seenWall, c.seenMono = seen.Round(0), seen.Round(0).Add(-3*time.Hour), seen
	// ...and time sync has stepped it since: the wall clock moved 3 h
	// more than the monotonic one.
	if p := c.problem(); p != nil {
		t.Fatalf("after the step: %v", p)
	}
	// Without the step the same Date means 3 h of skew.
	c.seenWall = seen.Round(0)
	c.server = seen.Round(0).Add(3 * time.Hour)
	if c.problem() == nil {
		t.Fatal("3 h of skew went unnoticed")
	}
}

// TestClockAfterSuspend: a machine that slept 10 minutes with its clock
// right sees its wall clock run ahead of the monotonic one, which stops
// in suspend; that is not a wrong clock, and assertions are not held.
func TestClockAfterSuspend(t *testing.T) {
	c := newClock(time.Time{}, nil)
	now := time.Now()
	// The Date agreed with this clock when it came, 10 minutes ago by the
	// wall clock, but no time ago by the monotonic one.
	c.server, c.seenWall, c.seenMono = now.Round(0).Add(-10*time.Minute), now.Round(0).Add(-10*time.Minute), now
	if p := c.problem(); p != nil {
		t.Fatalf("after a suspend with a right clock: %v", p)
	}
}
