package sink_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/mapsdevice/mapsdevice/emulator"
	"github.com/mapsdevice/mapsdevice/emulator/emulatortest"
	"github.com/mapsdevice/mapsdevice/internal/auth"
	"github.com/mapsdevice/mapsdevice/internal/azmaps"
	"github.com/mapsdevice/mapsdevice/internal/report"
)

// TestMain fails the package when a test leaves a goroutine running.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// signIn starts an emulator over TLS and signs its contributor in with
// the real MSAL client, whose AccessToken is what the sinks are given.
func signIn(t *testing.T) (*emulator.Server, *auth.Client) {
	t.Helper()
	srv := emulatortest.Start(t, emulator.Options{})
	return srv, emulatortest.SignIn(t, srv, emulator.ContributorUser)
}

// transport is the one the CLI gives sinks, trusting caFile.
func transport(t *testing.T, caFile string) http.RoundTripper {
	t.Helper()
	rt, err := azmaps.NewTransport(caFile)
	if err != nil {
		t.Fatal(err)
	}
	return rt
}

// reading is what the tests know of a stored reading.
type reading struct {
	ReadingID string `json:"readingId"`
	DeviceID  string `json:"deviceId"`
}

// makeBatches seals n readings of a few devices into batches of per, as
// the spool does: ids {epoch}-{firstSeq:016x}, readingIds
// {deviceId}:{epoch}:{seq}, the first reading's device and time, and
// readings an hour apart every 40, so the blobs spread over hours.
func makeBatches(epoch string, n, per int) (batches []report.Batch, ids []string) {
	start := time.Date(2026, 11, 22, 1, 59, 0, 0, time.UTC)
	for first := 1; first <= n; first += per {
		var body bytes.Buffer
		b := report.Batch{ID: fmt.Sprintf("%s-%016x", epoch, first)}
		for seq := first; seq < first+per && seq <= n; seq++ {
			device := fmt.Sprintf("pi-%02d", seq%3)
			at := start.Add(time.Duration(seq/40) * time.Hour).Add(time.Duration(seq) * time.Second)
			id := fmt.Sprintf("%s:%s:%d", device, epoch, seq)
			line, _ := json.Marshal(map[string]any{
				"time": at.Format(time.RFC3339), "lat": 47.6 + float64(seq)/1e4, "lon": -122.1,
				"deviceId": device, "readingId": id, "note": "<&>",
			})
			body.Write(line)
			body.WriteByte('\n')
			if b.Count == 0 {
				b.DeviceID, b.First = device, at
			}
			b.Count++
			ids = append(ids, id)
		}
		b.Body = body.Bytes()
		batches = append(batches, b)
	}
	return batches, ids
}

// outcomes counts how the sends of a delivery went.
type outcomes struct {
	sends, busy, forbidden, other int
}

// deliver sends the batches in order, each until it is delivered, as the
// pipeline does: the same batch, unchanged, after any failure, from a new
// sink, as a reporter restarted after a crash would. A refused batch fails
// the test: nothing here is invalid.
func deliver(t *testing.T, newSink func() report.Sink, batches []report.Batch) outcomes {
	t.Helper()
	ctx := t.Context()
	var o outcomes
	s := newSink()
	for _, b := range batches {
		for attempt := 1; ; attempt++ {
			if attempt > 40 {
				t.Fatalf("batch %s not delivered after 40 attempts", b.ID)
			}
			o.sends++
			err := s.Send(ctx, b)
			if err == nil {
				break
			}
			var rejected *report.RejectedError
			var retry *report.RetryAfterError
			switch {
			case errors.As(err, &rejected):
				t.Fatalf("batch %s refused: %v", b.ID, err)
			case errors.As(err, &retry):
				o.busy++
				if retry.After <= 0 {
					t.Errorf("busy without a wait: %v", err)
				}
				// The wait is the pipeline's; this test counts readings.
				_ = sleepCtx(ctx, min(retry.After, 5*time.Millisecond))
			case errors.Is(err, report.ErrForbidden):
				o.forbidden++
			default:
				o.other++
			}
			s = newSink()
		}
	}
	return o
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// tally counts readings by readingId in NDJSON bodies.
func tally(t *testing.T, counts map[string]int, body []byte) {
	t.Helper()
	for line := range bytes.Lines(body) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var r reading
		if err := json.Unmarshal(line, &r); err != nil || r.ReadingID == "" {
			t.Errorf("stored line %q is not a reading with a readingId: %v", line, err)
			continue
		}
		counts[r.ReadingID]++
	}
}

// checkExactlyOnce says how many readings were lost and duplicated, by
// occurrence.
func checkExactlyOnce(t *testing.T, counts map[string]int, ids []string) {
	t.Helper()
	lost, duplicated, stray := 0, 0, 0
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
		switch n := counts[id]; {
		case n == 0:
			lost++
		case n > 1:
			duplicated += n - 1
		}
	}
	for id := range counts {
		if !want[id] {
			stray++
		}
	}
	if lost != 0 || duplicated != 0 || stray != 0 {
		t.Errorf("of %d readings: %d lost, %d duplicated, %d never sent; want 0, 0, 0", len(ids), lost, duplicated, stray)
	}
}

// noTokens is for tests that never reach a destination.
type noTokens struct{}

func (noTokens) AccessToken(context.Context, string, bool) (auth.Result, error) {
	return auth.Result{}, errors.New("no tokens here")
}
