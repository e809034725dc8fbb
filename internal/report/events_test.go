package report

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mapsdevice/mapsdevice/internal/geofence"
)

// slowFences says a reading is inside fence "g" when its longitude is
// positive. Every tenth answer takes a millisecond, as a service's may:
// far slower than reading and delivering.
type slowFences struct{ calls atomic.Int64 }

func (f *slowFences) Check(ctx context.Context, r Reading) (geofence.Result, error) {
	if f.calls.Add(1)%10 == 0 {
		select {
		case <-time.After(time.Millisecond):
		case <-ctx.Done():
			return geofence.Result{}, ctx.Err()
		}
	}
	d := 1.0
	if r.Lon > 0 {
		d = -1
	}
	return geofence.Result{Geometries: []geofence.GeometryResult{{GeometryID: "g", Distance: d}}}, nil
}

// alternating is n readings, one a second, inside fence "g" at even
// seconds and outside at odd ones: every reading is a transition.
func alternating(n int) []byte {
	var b bytes.Buffer
	start := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	for i := range n {
		lon := 1.0
		if i%2 == 1 {
			lon = -1
		}
		fmt.Fprintf(&b, `{"time":%q,"lat":47.64,"lon":%v,"seq":%d}`+"\n", start.Add(time.Duration(i)*time.Second).Format(time.RFC3339), lon, i)
	}
	return b.Bytes()
}

// countEvents counts the events by the reading (its second) they are for,
// and fails on one of the wrong kind.
func countEvents(t *testing.T, out string) map[int]int {
	t.Helper()
	start := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	got := map[int]int{}
	for line := range strings.Lines(out) {
		var ev Event
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("event %q: %v", line, err)
		}
		i := int(ev.Time.Sub(start) / time.Second)
		if want := map[bool]string{true: "enter", false: "exit"}[i%2 == 0]; ev.Event != want || ev.GeometryID != "g" || ev.DeviceID != "pi-1" {
			t.Errorf("event %q: want %s g pi-1", line, want)
		}
		got[i]++
	}
	return got
}

// TestEveryTransitionAtEndOfInput writes one event per transition when
// the input ends, even though fence checks are slower than reading and
// than delivery, and more readings come than the event queue holds.
func TestEveryTransitionAtEndOfInput(t *testing.T) {
	const n = 5000
	fences := &slowFences{}
	var events lockedBuffer
	maps := newFakeMaps()
	opts := testOptions(t.TempDir(), newFakeClock(true))
	opts.BatchSize = 1000
	r, err := New(opts, NewMapsData(maps, testLogger(io.Discard)), fences, &events, testLogger(io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.Run(t.Context(), io.NopCloser(bytes.NewReader(alternating(n)))); err != nil {
		t.Fatal(err)
	}
	checkOnce(t, maps.stored(), n)
	checkOnce(t, countEvents(t, events.String()), n)
}

// blockingFences answers only when its context ends.
type blockingFences struct{ started chan struct{} }

func (f blockingFences) Check(ctx context.Context, _ Reading) (geofence.Result, error) {
	select {
	case f.started <- struct{}{}:
	default:
	}
	<-ctx.Done()
	return geofence.Result{}, ctx.Err()
}

// TestSignalCutsEventsShort stops a reporter whose fence checks hang: a
// signal does not wait for events.
func TestSignalCutsEventsShort(t *testing.T) {
	fences := blockingFences{started: make(chan struct{}, 1)}
	r, err := New(testOptions(t.TempDir(), newFakeClock(true)), NewMapsData(newFakeMaps(), testLogger(io.Discard)), fences, io.Discard, testLogger(io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, io.NopCloser(bytes.NewReader(alternating(100)))) }()
	<-fences.started
	cancel()
	if err := waitDone(t, done); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

// stillClock is a time that does not move; waits are real.
type stillClock struct{ now time.Time }

func (c stillClock) Now() time.Time                         { return c.now }
func (c stillClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// countingFailures is a geofence service that cannot be reached.
type countingFailures struct{ calls atomic.Int64 }

func (f *countingFailures) Check(context.Context, Reading) (geofence.Result, error) {
	f.calls.Add(1)
	return geofence.Result{}, io.ErrUnexpectedEOF
}

// TestFailingFencesDoNotHoldUpReadings asks a failing service once, not
// for every reading, and says how many readings went unchecked.
func TestFailingFencesDoNotHoldUpReadings(t *testing.T) {
	const n = 100
	fences := &countingFailures{}
	logs := &lockedBuffer{}
	maps := newFakeMaps()
	opts := testOptions(t.TempDir(), stillClock{time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)})
	opts.BatchSize = n
	r, err := New(opts, NewMapsData(maps, testLogger(io.Discard)), fences, io.Discard, testLogger(logs))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.Run(t.Context(), io.NopCloser(bytes.NewReader(readings(0, n)))); err != nil {
		t.Fatal(err)
	}
	checkOnce(t, maps.stored(), n)
	if got := fences.calls.Load(); got != 1 {
		t.Errorf("service asked %d times in one outage, want once", got)
	}
	if want := fmt.Sprintf("unchecked=%d", n); !strings.Contains(logs.String(), want) {
		t.Errorf("logs %q: want them to say %s", logs.String(), want)
	}
}

// movableClock is a time the test moves; waits are real.
type movableClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *movableClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *movableClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func (c *movableClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// failsFirst is a geofence service that fails once, then answers.
type failsFirst struct{ slowFences }

func (f *failsFirst) Check(ctx context.Context, r Reading) (geofence.Result, error) {
	if f.calls.Load() == 0 {
		f.calls.Add(1)
		return geofence.Result{}, io.ErrUnexpectedEOF
	}
	return f.slowFences.Check(ctx, r)
}

// TestFencesResume checks readings again once the service has had time
// to come back, and says how many went unchecked meanwhile.
func TestFencesResume(t *testing.T) {
	clock := &movableClock{now: time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)}
	fences := &failsFirst{}
	logs := &lockedBuffer{}
	var events lockedBuffer
	r, err := New(testOptions(t.TempDir(), clock), NewMapsData(newFakeMaps(), testLogger(io.Discard)), fences, &events, testLogger(logs))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- r.Run(t.Context(), pr) }()
	input := alternating(3)
	lines := bytes.SplitAfter(input, []byte("\n"))
	if _, err := pw.Write(lines[0]); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return strings.Contains(logs.String(), "geofence check failed") })
	clock.Advance(fenceRetry)
	if _, err := pw.Write(bytes.Join(lines[1:], nil)); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	if err := waitDone(t, done); err != nil {
		t.Fatalf("Run: %v", err)
	}
	// Reading 0 went unchecked: the device was last seen outside, so
	// reading 1 (outside) is no event and reading 2 enters.
	got := countEvents(t, events.String())
	if len(got) != 1 || got[2] != 1 {
		t.Errorf("events by reading: got %v, want only an enter at reading 2", got)
	}
	if !strings.Contains(logs.String(), "geofence checks resumed") || !strings.Contains(logs.String(), "unchecked=1") {
		t.Errorf("logs %q: want them to say checks resumed after 1 unchecked", logs.String())
	}
}

// TestTransitionsFarAndOutOfTime: the index leaves far fences out of its
// answer, which means outside; a fence out of time says nothing of where
// the device is, so it is not an exit.
func TestTransitionsFarAndOutOfTime(t *testing.T) {
	var out strings.Builder
	tr := &transitions{inside: map[string]map[string]bool{}, out: &out}
	at := func(sec int) Reading { return Reading{DeviceID: "pi", Time: time.Unix(int64(sec), 0).UTC()} }
	in := func(ids ...string) geofence.Result {
		res := geofence.Result{}
		for _, id := range ids {
			res.Geometries = append(res.Geometries, geofence.GeometryResult{GeometryID: id, Distance: -3})
		}
		return res
	}
	tr.observe(at(1), in("a", "b", "c"))
	tr.observe(at(2), geofence.Result{ExpiredGeofenceGeometryID: []string{"b"}, InvalidPeriodGeofenceGeometryID: []string{"c"}})
	tr.observe(at(3), in("b", "c"))
	tr.observe(Reading{DeviceID: "other", Time: time.Unix(4, 0).UTC()}, geofence.Result{})
	tr.observe(at(5), geofence.Result{})

	var got []string
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var ev Event
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%d %s %s %s %v", ev.Time.Unix(), ev.DeviceID, ev.Event, ev.GeometryID, ev.Distance))
	}
	want := []string{
		"1 pi enter a -3", "1 pi enter b -3", "1 pi enter c -3",
		"2 pi exit a 999", // far: left out of the answer
		"5 pi exit b 999", "5 pi exit c 999",
	}
	if !slices.Equal(got, want) {
		t.Errorf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
