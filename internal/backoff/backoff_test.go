package backoff_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/mapsdevice/mapsdevice/internal/backoff"
)

func TestDelayStaysUnderTheCeiling(t *testing.T) {
	p := backoff.Policy{Base: 100 * time.Millisecond, Max: time.Second}
	for n, ceiling := range []time.Duration{100, 200, 400, 800, 1000, 1000} {
		ceiling *= time.Millisecond
		var longest time.Duration
		for range 2000 {
			d := p.Delay(n)
			if d <= 0 || d > ceiling {
				t.Fatalf("retry %d waited %v, want (0, %v]", n, d, ceiling)
			}
			longest = max(longest, d)
		}
		// Full jitter spreads over the whole range.
		if longest < ceiling*9/10 {
			t.Errorf("retry %d: longest of 2000 waits %v, want near %v", n, longest, ceiling)
		}
	}
	if d := p.Delay(1000); d <= 0 || d > time.Second {
		t.Errorf("a late retry waited %v", d)
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"3", 3 * time.Second, true},
		{" 0 ", 0, true},
		{"-1", 0, false},
		{"soon", 0, false},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
	}
	for _, tt := range tests {
		got, ok := backoff.RetryAfter(tt.in, now)
		if got != tt.want || ok != tt.ok {
			t.Errorf("RetryAfter(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestSleepEndsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	start := time.Now()
	if err := backoff.Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Fatalf("Sleep = %v, want context.Canceled", err)
	}
	if time.Since(start) > time.Second {
		t.Error("Sleep did not return when its context ended")
	}
	if err := backoff.Sleep(t.Context(), time.Millisecond); err != nil {
		t.Errorf("a short sleep: %v", err)
	}
}
