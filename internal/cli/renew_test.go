package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mapsdevice/mapsdevice/emulator"
	"github.com/mapsdevice/mapsdevice/emulator/emulatortest"
	"github.com/mapsdevice/mapsdevice/internal/auth/tokenstore"
)

// lockedBuffer is stdout shared by the renewal goroutine and the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestKeepSignInAlive: with nobody asking for tokens, the refresh token
// is redeemed every period; once the organisation blocks it, one
// sign_in_needed event says so however many tries fail.
func TestKeepSignInAlive(t *testing.T) {
	srv := emulatortest.Start(t, emulator.Options{})
	c := emulatortest.NewClient(t, srv, &tokenstore.Memory{})
	if _, _, err := emulatortest.DeviceCode(t, t.Context(), c, func(code string) { srv.Approve(code, "") }); err != nil {
		t.Fatal(err)
	}
	signedIn, err := c.LastRenewed(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	out := &lockedBuffer{}
	alarm := &signInAlarm{out: out, command: "mapsdevice report", s: settings{ClientID: srv.ClientID(), Tenant: srv.TenantID()}}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		keepSignInAlive(ctx, c, 2*time.Second, 200*time.Millisecond, alarm, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()
	defer func() { cancel(); <-done }()

	waitFor(t, 10*time.Second, func() bool {
		last, _ := c.LastRenewed(t.Context())
		return last.After(signedIn)
	})
	if out.String() != "" {
		t.Errorf("stdout while renewals work: %q", out.String())
	}

	srv.SetPolicy(emulator.Policy{BlockDeviceCodeRefresh: true})
	waitFor(t, 10*time.Second, func() bool { return out.String() != "" })
	// Tries go on every 200 ms (at least a second apart); let a few fail.
	before := len(srv.Requests())
	waitFor(t, 10*time.Second, func() bool { return len(srv.Requests()) >= before+3 })
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("%d events, want one:\n%s", len(lines), out.String())
	}
	var ev signInNeededEvent
	if err := json.Unmarshal([]byte(lines[0]), &ev); err != nil || ev.Event != "sign_in_needed" || ev.Code != "refresh_blocked" ||
		!strings.Contains(ev.Message, "has since blocked device-code sign-ins") {
		t.Errorf("event %q (%v)", lines[0], err)
	}
}

func waitFor(t *testing.T, limit time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
