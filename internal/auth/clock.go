package auth

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/mapsdevice/mapsdevice/internal/backoff"
)

// maxSkew is how far this clock may be from the identity service's
// before an assertion is held back: Entra ID allows 5 minutes.
const maxSkew = 4 * time.Minute

// ClockError says the clock here cannot be right, so an assertion signed
// now would be refused (AADSTS700024). A Raspberry Pi has no real-time
// clock and starts at some old date until time sync sets it.
type ClockError struct {
	Now time.Time
	// BuiltAt is set when the clock reads earlier than the program's
	// build; ServerTime when it is far from the identity service's Date.
	BuiltAt    time.Time
	ServerTime time.Time
}

func (e *ClockError) Error() string {
	if !e.BuiltAt.IsZero() {
		return fmt.Sprintf("this clock reads %s, earlier than this program was built (%s)",
			e.Now.UTC().Format(time.RFC3339), e.BuiltAt.UTC().Format(time.RFC3339))
	}
	return fmt.Sprintf("this clock reads %s but the identity service's reads %s",
		e.Now.UTC().Format(time.RFC3339), e.ServerTime.UTC().Format(time.RFC3339))
}

// clock checks the local time before an assertion is signed: against
// the build time, and against the Date of the identity service's last
// answer. That answer is corrected for any step of the wall clock since
// (time sync setting it), measured on the monotonic clock.
type clock struct {
	builtAt time.Time
	warn    func(error)

	mu       sync.Mutex
	server   time.Time // the last Date seen
	seenWall time.Time // when, by the wall clock
	seenMono time.Time // and by the monotonic one
	warned   bool      // the current wait was announced
}

func newClock(builtAt time.Time, warn func(error)) *clock {
	return &clock{builtAt: builtAt, warn: warn}
}

// observe records a Date header.
func (c *clock) observe(date string) {
	t, err := http.ParseTime(date)
	if err != nil {
		return
	}
	now := time.Now()
	c.mu.Lock()
	c.server, c.seenWall, c.seenMono = t, now.Round(0), now
	c.mu.Unlock()
}

// problem says what is wrong with the clock now, or nil.
func (c *clock) problem() *ClockError {
	now := time.Now()
	if !c.builtAt.IsZero() && now.Before(c.builtAt) {
		return &ClockError{Now: now, BuiltAt: c.builtAt}
	}
	c.mu.Lock()
	server, seenWall, seenMono := c.server, c.seenWall, c.seenMono
	c.mu.Unlock()
	if server.IsZero() {
		return nil
	}
	// Wall time passed minus real time passed is how far the clock was
	// stepped since the Date was seen.
	step := now.Round(0).Sub(seenWall) - now.Sub(seenMono)
	if was := server.Sub(seenWall); was <= maxSkew && was >= -maxSkew && (step > maxSkew || step < -maxSkew) {
		// The clock was right when the Date came, and since then the wall
		// clock has left the monotonic one: most likely the machine slept
		// (the monotonic clock stops in suspend). That Date says nothing
		// now; if the clock is wrong, the next answer says so.
		return nil
	}
	skew := server.Sub(seenWall) - step
	if skew > maxSkew || skew < -maxSkew {
		return &ClockError{Now: now, ServerTime: now.Round(0).Add(skew)}
	}
	return nil
}

// wait returns once the clock looks right, saying once that it waits,
// or with a *ClockError when ctx ends first.
func (c *clock) wait(ctx context.Context) error {
	for {
		p := c.problem()
		c.mu.Lock()
		if p == nil {
			c.warned = false
			c.mu.Unlock()
			return nil
		}
		first := !c.warned
		c.warned = true
		c.mu.Unlock()
		if first && c.warn != nil {
			c.warn(p)
		}
		if err := backoff.Sleep(ctx, time.Second); err != nil {
			if ctx.Err() == context.Canceled {
				return err
			}
			return &Error{Kind: KindClock, Reason: p.Error(), Err: p}
		}
	}
}

// dateRecorder hands the clock the Date of every answer.
type dateRecorder struct {
	next  http.RoundTripper
	clock *clock
}

func (d dateRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := d.next.RoundTrip(req)
	if err == nil {
		d.clock.observe(resp.Header.Get("Date"))
	}
	return resp, err
}
