package auth

import (
	"context"
	"errors"
	"testing"
	"time"

	"golang.org/x/sync/singleflight"
)

// TestSharedOutlivesItsFirstCaller: the first caller giving up does not
// fail the others waiting on the same request, and a caller with a short
// deadline stops waiting at its own deadline.
func TestSharedOutlivesItsFirstCaller(t *testing.T) {
	var g singleflight.Group
	release, started := make(chan struct{}), make(chan struct{})
	calls := 0
	acquire := func(ctx context.Context) (Result, error) {
		calls++
		if calls == 1 {
			close(started)
		}
		select {
		case <-release:
			return Result{AccessToken: "tok"}, nil
		case <-ctx.Done():
			return Result{}, ctx.Err()
		}
	}
	first, cancelFirst := context.WithCancel(context.Background())
	firstErr := make(chan error, 1)
	go func() {
		_, err := shared(first, &g, "k", acquire)
		firstErr <- err
	}()
	<-started // the first caller leads
	second := make(chan Result, 1)
	go func() {
		r, _ := shared(context.Background(), &g, "k", acquire)
		second <- r
	}()
	short, cancelShort := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancelShort()
	if _, err := shared(short, &g, "k", acquire); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("the caller with a short deadline got %v, want its own deadline", err)
	}
	cancelFirst()
	if err := <-firstErr; !errors.Is(err, context.Canceled) {
		t.Errorf("the first caller got %v, want its own cancellation", err)
	}
	close(release)
	if r := <-second; r.AccessToken != "tok" {
		t.Errorf("the second caller got %+v after the first gave up, want the token", r)
	}
	if calls != 1 {
		t.Errorf("%d requests, want 1", calls)
	}
}
