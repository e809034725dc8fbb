package azmaps_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mapsdevice/mapsdevice/emulator"
	"github.com/mapsdevice/mapsdevice/emulator/emulatortest"
	"github.com/mapsdevice/mapsdevice/internal/azmaps"
)

// vaultedKey stands for a key kept in Key Vault: it reads the account's
// current primary key when asked to refresh, as a new read of the vault
// would, and counts the reads.
type vaultedKey struct {
	srv *emulator.Server

	mu    sync.Mutex
	key   string
	reads int
}

func (k *vaultedKey) Key(_ context.Context, refused string) (string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.key == "" || refused == k.key {
		k.key = k.srv.SharedKeys()[0]
		k.reads++
	}
	return k.key, nil
}

// TestRotatedKeyIsReadAgain: after the key is rotated, the 401 for the
// old one makes the client read the key again, once, and go on.
func TestRotatedKeyIsReadAgain(t *testing.T) {
	t.Parallel()
	srv := emulatortest.StartInMemory(t, emulator.Options{})
	keys := &vaultedKey{srv: srv}
	c, err := azmaps.NewClient(azmaps.Config{Endpoint: srv.MapsEndpoint(), Keys: keys, HTTPClient: srv.Client(), Backoff: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.List(t.Context()); err != nil {
		t.Fatalf("List: %v", err)
	}
	if err := srv.RotateMapsKey(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.List(t.Context()); err != nil {
		t.Fatalf("List after rotation: %v", err)
	}
	if keys.reads != 2 {
		t.Errorf("the key was read %d times, want twice (at start, after the 401)", keys.reads)
	}
}

// staticKey is a key that never changes, however often it is read.
type staticKey string

func (k staticKey) Key(context.Context, string) (string, error) { return string(k), nil }

// TestWrongKeyIsReadOnce: a key refused even after reading it again is
// an error, not a loop.
func TestWrongKeyIsReadOnce(t *testing.T) {
	t.Parallel()
	srv := emulatortest.StartInMemory(t, emulator.Options{})
	c, err := azmaps.NewClient(azmaps.Config{Endpoint: srv.MapsEndpoint(), Keys: staticKey("not-the-key-at-all"), HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.List(t.Context())
	var api *azmaps.APIError
	if !errors.As(err, &api) || api.Status != http.StatusUnauthorized {
		t.Fatalf("List: %v, want 401", err)
	}
	if strings.Contains(err.Error(), "not-the-key-at-all") {
		t.Errorf("the error shows the key: %v", err)
	}
}

// TestNetworkErrorHidesTheKey: an endpoint that cannot be reached is
// reported without the URL, which holds the key.
func TestNetworkErrorHidesTheKey(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	c, err := azmaps.NewClient(azmaps.Config{Endpoint: "https://" + addr, Key: "k3y-that-must-not-show", Retries: -1})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.List(t.Context())
	var ne *azmaps.NetworkError
	if !errors.As(err, &ne) {
		t.Fatalf("List: %v, want a NetworkError", err)
	}
	if strings.Contains(err.Error(), "k3y-that-must-not-show") {
		t.Errorf("the error shows the key: %v", err)
	}
}

func TestRedact(t *testing.T) {
	tests := []struct{ in, want string }{
		{"GET https://x/mapData?api-version=2.0&subscription-key=abc123&x=1", "GET https://x/mapData?api-version=2.0&subscription-key=REDACTED&x=1"},
		{`error="Get \"https://x/?Subscription-Key=abc\": EOF"`, `error="Get \"https://x/?Subscription-Key=REDACTED\": EOF"`},
		{"subscription-key=a subscription-key=b", "subscription-key=REDACTED subscription-key=REDACTED"},
		{"no key here", "no key here"},
	}
	for _, tt := range tests {
		if got := azmaps.Redact(tt.in); got != tt.want {
			t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
