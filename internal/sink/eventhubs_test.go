package sink_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/mapsdevice/mapsdevice/emulator"
	"github.com/mapsdevice/mapsdevice/internal/auth"
	"github.com/mapsdevice/mapsdevice/internal/report"
	"github.com/mapsdevice/mapsdevice/internal/sink"
)

// Event Hubs' answers.
var (
	hubBusy = cannedFault{Name: "503 ServerBusy", Status: 503, Header: map[string]string{"Content-Type": "application/xml"},
		Body: "<Error><Code>503</Code><Detail>ServerBusy: The request was terminated because the namespace is being throttled. Error code : 50002. TrackingId:0, SystemTracker:ns:eventhub:readings, Timestamp:2026-11-22T05:00:00</Detail></Error>"}
	hubFailed = cannedFault{Name: "500 InternalServerError", Status: 500, Header: map[string]string{"Content-Type": "application/xml"},
		Body: "<Error><Code>500</Code><Detail>The server was unable to process the request; please retry the operation. TrackingId:0, SystemTracker:ns:eventhub:readings, Timestamp:2026-11-22T05:00:00</Detail></Error>"}
	hubNoSend = cannedFault{Name: "401 Send claim", Status: 401, Header: map[string]string{"Content-Type": "application/xml"},
		Body: "<Error><Code>401</Code><Detail>Unauthorized access. 'Send' claim(s) are required to perform this operation. Resource: 'sb://ns.servicebus.windows.net/readings'. TrackingId:0, SystemTracker:ns:eventhub:readings, Timestamp:2026-11-22T05:00:00</Detail></Error>"}
)

// hubSetup is the emulator's Event Hubs endpoint behind a fault proxy.
type hubSetup struct {
	emu   *emulator.Server
	user  *auth.Client
	proxy *faultProxy
}

func newHubSetup(t *testing.T, seed uint64) *hubSetup {
	t.Helper()
	emu, user := signIn(t)
	return &hubSetup{emu: emu, user: user, proxy: startFaultProxy(t, emu.URL(), emu.CertPool(), seed)}
}

func (s *hubSetup) newSink(t *testing.T, maxBytes int) *sink.EventHubs {
	t.Helper()
	hub := strings.Replace(s.emu.EventHubsURL("readings"), s.emu.URL(), s.proxy.URL, 1)
	e, err := sink.NewEventHubs(sink.EventHubsConfig{URL: hub, Tokens: s.user, Transport: transport(t, s.proxy.CAFile), MaxBytes: maxBytes})
	if err != nil {
		t.Fatalf("NewEventHubs: %v", err)
	}
	return e
}

// Through 30% faults and answers lost after the hub stored the events,
// every reading is stored at least once, each copy byte for byte the
// same, so deduplicating by readingId leaves every reading exactly once.
func TestEventHubsExactlyOnceByReadingID(t *testing.T) {
	s := newHubSetup(t, 12)
	batches, ids := makeBatches("1a2b3c4d", 1000, 25)
	bodies := map[string]string{}
	for _, b := range batches {
		for line := range bytes.Lines(b.Body) {
			var r reading
			_ = json.Unmarshal(line, &r)
			bodies[r.ReadingID] = string(bytes.TrimSpace(line))
		}
	}
	s.proxy.setFaults(0.3, hubBusy, hubFailed, hubNoSend)
	o := deliver(t, func() report.Sink { return s.newSink(t, 0) }, batches)
	injected, _ := s.proxy.counts()
	for _, f := range []string{hubBusy.Name, hubFailed.Name, hubNoSend.Name, "drop"} {
		if injected[f] == 0 {
			t.Errorf("no %s was injected: the test proved nothing about it", f)
		}
	}

	stored := s.emu.EventHubsMessages()
	occurrences := map[string]int{}
	deduped := map[string]int{}
	for _, m := range stored {
		var r reading
		if err := json.Unmarshal([]byte(m.Body), &r); err != nil {
			t.Fatalf("event body %q is not a reading: %v", m.Body, err)
		}
		occurrences[r.ReadingID]++
		if occurrences[r.ReadingID] == 1 {
			deduped[r.ReadingID] = 1
		}
		if m.Body != bodies[r.ReadingID] {
			t.Errorf("event %s is %q, want the reading as sent, %q", r.ReadingID, m.Body, bodies[r.ReadingID])
		}
		if m.MessageID != r.ReadingID || m.PartitionKey != r.DeviceID || m.Hub != "readings" {
			t.Errorf("event %s: MessageId %q, PartitionKey %q, hub %q; want the readingId, the device, readings",
				r.ReadingID, m.MessageID, m.PartitionKey, m.Hub)
		}
	}
	checkExactlyOnce(t, deduped, ids)
	t.Logf("sends %d, busy %d, forbidden %d, other %d; injected %v; %d events stored for %d readings (at-least-once)",
		o.sends, o.busy, o.forbidden, o.other, injected, len(stored), len(ids))
	if len(stored) == len(ids) {
		t.Errorf("no reading was stored twice though %d answers were lost: the crash-after-send case was not met", injected["drop"])
	}
}

func TestEventHubsKeepsUnderTheSizeLimit(t *testing.T) {
	s := newHubSetup(t, 1)
	const limit = 4096
	batches, ids := makeBatches("5e5e5e5e", 200, 200)
	if err := s.newSink(t, limit).Send(t.Context(), batches[0]); err != nil {
		t.Fatalf("Send: %v", err)
	}
	sizes := s.proxy.requestSizes()
	if len(sizes) < 2 {
		t.Errorf("%d POSTs for %d bytes of readings with a %d-byte limit, want several", len(sizes), len(batches[0].Body), limit)
	}
	for i, n := range sizes {
		if n > limit || n <= 0 {
			t.Errorf("POST %d had %d bytes, want 1 to %d", i, n, limit)
		}
	}
	counts := map[string]int{}
	for _, m := range s.emu.EventHubsMessages() {
		tally(t, counts, []byte(m.Body))
	}
	checkExactlyOnce(t, counts, ids)

	t.Run("a reading too large for any POST is refused unsent", func(t *testing.T) {
		before := len(s.proxy.requestSizes())
		big := batches[0]
		big.Body = fmt.Appendf(nil, `{"readingId":"pi-01:5e5e5e5e:1","deviceId":"pi-01","pad":%q}`+"\n", strings.Repeat("x", limit))
		err := s.newSink(t, limit).Send(t.Context(), big)
		var rejected *report.RejectedError
		if !errors.As(err, &rejected) || rejected.Status != http.StatusRequestEntityTooLarge || !strings.Contains(rejected.Reason, "pi-01:5e5e5e5e:1") {
			t.Fatalf("Send = %v, want a 413 refusal naming the reading", err)
		}
		if after := len(s.proxy.requestSizes()); after != before {
			t.Errorf("%d requests made for a reading that cannot fit", after-before)
		}
	})
	t.Run("the hub's own limit is a refusal", func(t *testing.T) {
		huge := batches[0]
		var body bytes.Buffer
		for i := range 12 {
			fmt.Fprintf(&body, `{"readingId":"pi-01:5e5e5e5e:%d","deviceId":"pi-01","pad":%q}`+"\n", i, strings.Repeat("y", 100_000))
		}
		huge.Body = body.Bytes()
		err := s.newSink(t, 4<<20).Send(t.Context(), huge)
		var rejected *report.RejectedError
		if !errors.As(err, &rejected) || rejected.Status != http.StatusRequestEntityTooLarge {
			t.Fatalf("Send of %d bytes = %v, want the hub's 413 as a refusal", body.Len(), err)
		}
	})
}

func TestEventHubsNeedsTheSenderRole(t *testing.T) {
	s := newHubSetup(t, 1)
	batches, _ := makeBatches("0d0d0d0d", 5, 5)
	s.emu.SetEventHubsSender(emulator.User{Username: emulator.ContributorUser}.ObjectID(), false)
	err := s.newSink(t, 0).Send(t.Context(), batches[0])
	if !errors.Is(err, report.ErrForbidden) || !strings.Contains(err.Error(), "Azure Event Hubs Data Sender") {
		t.Fatalf("Send = %v, want ErrForbidden naming Azure Event Hubs Data Sender", err)
	}
	if n := len(s.emu.EventHubsMessages()); n != 0 {
		t.Errorf("%d events stored without the role", n)
	}
	if n := len(s.proxy.requestSizes()); n != 2 {
		t.Errorf("%d requests, want 2: one with a fresh token, then stop", n)
	}

	s.emu.SetEventHubsSender(emulator.User{Username: emulator.ContributorUser}.ObjectID(), true)
	if err := s.newSink(t, 0).Send(t.Context(), batches[0]); err != nil {
		t.Fatalf("Send with the role: %v", err)
	}
}

func TestEventHubsBusyWaits(t *testing.T) {
	s := newHubSetup(t, 1)
	batches, _ := makeBatches("0e0e0e0e", 5, 5)
	tests := []struct {
		name       string
		retryAfter string
		want       string
	}{
		{"as Retry-After says", "2", "2s"},
		{"4 s without one", "", "4s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := hubBusy
			f.Header = map[string]string{"Retry-After": tt.retryAfter}
			s.proxy.failNext(f)
			err := s.newSink(t, 0).Send(t.Context(), batches[0])
			var retry *report.RetryAfterError
			if !errors.As(err, &retry) || retry.After.String() != tt.want {
				t.Fatalf("Send = %v, want a RetryAfterError of %s", err, tt.want)
			}
		})
	}
}
