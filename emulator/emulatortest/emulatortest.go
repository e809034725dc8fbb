// Package emulatortest starts emulators for tests and signs in against
// them through the real MSAL client.
package emulatortest

import (
	"testing"
	"time"

	"github.com/mapsdevice/mapsdevice/emulator"
)

// Start starts an emulator listening over TLS and closes it when the test
// ends. The polling interval defaults to 1 s, the shortest Entra allows.
func Start(t testing.TB, opts emulator.Options) *emulator.Server {
	t.Helper()
	if opts.Interval == 0 {
		opts.Interval = time.Second
	}
	srv, err := emulator.New(opts)
	if err != nil {
		t.Fatalf("start emulator: %v", err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}
