package auth_test

import (
	"testing"
	"time"

	"github.com/mapsdevice/mapsdevice/emulator"
	"github.com/mapsdevice/mapsdevice/emulator/emulatortest"
	"github.com/mapsdevice/mapsdevice/internal/auth"
	"github.com/mapsdevice/mapsdevice/internal/auth/tokenstore"
)

// TestLastRenewed: the time of the sign-in, unchanged by a token served
// from the cache, moved on by a refresh.
func TestLastRenewed(t *testing.T) {
	srv := emulatortest.Start(t, emulator.Options{})
	c := emulatortest.NewClient(t, srv, &tokenstore.Memory{})
	if last, err := c.LastRenewed(t.Context()); err != nil || !last.IsZero() {
		t.Fatalf("before sign-in: %v, %v; want zero", last, err)
	}
	before := time.Now().Truncate(time.Second)
	if _, _, err := emulatortest.DeviceCode(t, testCtx(t), c, func(code string) { srv.Approve(code, "") }); err != nil {
		t.Fatal(err)
	}
	signedIn, err := c.LastRenewed(t.Context())
	if err != nil || signedIn.Before(before) || signedIn.After(time.Now()) {
		t.Fatalf("after sign-in: %v, %v; want between %v and now", signedIn, err, before)
	}
	time.Sleep(1100 * time.Millisecond) // cached_at counts whole seconds
	if _, err := c.Token(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.LastRenewed(t.Context()); !got.Equal(signedIn) {
		t.Errorf("a cached token moved it to %v", got)
	}
	if _, err := c.Fresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.LastRenewed(t.Context()); !got.After(signedIn) {
		t.Errorf("after a refresh: %v, want after %v", got, signedIn)
	}
}

func TestDaysLeft(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		last time.Time
		want int
	}{
		{now, 90},
		{now.Add(-time.Hour), 90},
		{now.Add(-24 * time.Hour), 89},
		{now.Add(-30 * 24 * time.Hour), 60},
		{now.Add(-90*24*time.Hour + time.Minute), 1},
		{now.Add(-90 * 24 * time.Hour), 0},
		{now.Add(-200 * 24 * time.Hour), 0},
	}
	for _, tt := range tests {
		t.Run(tt.last.Format(time.RFC3339), func(t *testing.T) {
			if got := auth.DaysLeft(tt.last, now); got != tt.want {
				t.Errorf("got %d, want %d", got, tt.want)
			}
		})
	}
}
