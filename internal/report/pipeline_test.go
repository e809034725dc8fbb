package report

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mapsdevice/mapsdevice/internal/geofence"
)

// fakeSink stores batches as the blob sink does: one object per batch id,
// a repeat with the same body counted once, a repeat with another body
// stored again (so a re-cut batch shows as duplicates). It refuses any
// batch holding a reading with "poison" set, as a service validating its
// input would.
type fakeSink struct {
	mu      sync.Mutex
	bodies  map[string][]byte
	stored  map[int]int // seq → times stored
	sends   int
	active  int
	most    int
	hold    func(b Batch) // called outside the lock before each send
	afterOK func(b Batch) // called once a batch is stored
}

func newFakeSink() *fakeSink {
	return &fakeSink{bodies: map[string][]byte{}, stored: map[int]int{}}
}

func (s *fakeSink) Name() string { return "fake" }

func (s *fakeSink) Send(ctx context.Context, b Batch) error {
	s.mu.Lock()
	s.sends++
	s.active++
	s.most = max(s.most, s.active)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.active--
		s.mu.Unlock()
	}()
	if s.hold != nil {
		s.hold(b)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var seqs []int
	for line := range strings.Lines(string(b.Body)) {
		var r struct {
			Seq       int    `json:"seq"`
			Poison    bool   `json:"poison"`
			ReadingID string `json:"readingId"`
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			return &RejectedError{Status: 400, Reason: "not JSON"}
		}
		if r.Poison {
			return &RejectedError{Status: 400, Reason: fmt.Sprintf("reading %d is poison", r.Seq)}
		}
		if r.ReadingID == "" {
			return &RejectedError{Status: 400, Reason: "a reading without readingId"}
		}
		seqs = append(seqs, r.Seq)
	}
	if len(seqs) != b.Count {
		return &RejectedError{Status: 400, Reason: fmt.Sprintf("%d lines, count %d", len(seqs), b.Count)}
	}
	s.mu.Lock()
	prev, seen := s.bodies[b.ID]
	if !seen || !bytes.Equal(prev, b.Body) {
		s.bodies[b.ID] = bytes.Clone(b.Body)
		for _, q := range seqs {
			s.stored[q]++
		}
	}
	s.mu.Unlock()
	if s.afterOK != nil {
		s.afterOK(b)
	}
	return nil
}

func (s *fakeSink) storedCopy() map[int]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[int]int{}
	for k, v := range s.stored {
		out[k] = v
	}
	return out
}

// deadLines reads the dead-letter file.
func deadLines(t *testing.T, dir string) []deadLine {
	t.Helper()
	f, err := os.Open(DeadLetterPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []deadLine
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var d deadLine
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			t.Fatalf("dead-letter line %q: %v", sc.Text(), err)
		}
		out = append(out, d)
	}
	return out
}

// TestRefusedReadingsDoNotBlockTheQueue splits refused batches down to the
// readings refused; only those are dead-lettered, the rest arrive once.
func TestRefusedReadingsDoNotBlockTheQueue(t *testing.T) {
	const n = 200
	poison := map[int]bool{13: true, 57: true, 58: true, 199: true}
	var in bytes.Buffer
	for i := range n {
		extra := ""
		if poison[i] {
			extra = `,"poison":true`
		}
		fmt.Fprintf(&in, `{"time":"2026-11-21T10:00:00Z","lat":47.64,"lon":-122.13,"seq":%d%s}`+"\n", i, extra)
	}
	dir := t.TempDir()
	sink := newFakeSink()
	opts := testOptions(dir, newFakeClock(true))
	opts.BatchSize = 25
	r, err := New(opts, sink, nil, io.Discard, testLogger(io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.Run(t.Context(), io.NopCloser(&in)); err != nil {
		t.Fatal(err)
	}
	got := sink.storedCopy()
	for s := range poison {
		if got[s] != 0 {
			t.Errorf("poison reading %d was stored", s)
		}
		got[s] = 1 // counted as dead-lettered below
	}
	checkOnce(t, got, n)
	dead := deadLines(t, dir)
	var refused []string
	for _, d := range dead {
		var rd struct{ Seq int }
		json.Unmarshal([]byte(d.Text), &rd)
		if !strings.Contains(d.Reason, "poison") || !strings.HasPrefix(d.ReadingID, "pi-1:"+r.spool.Epoch()+":") || d.Batch == "" {
			t.Errorf("dead letter %+v: want the service's reason, the reading id and the batch", d)
		}
		refused = append(refused, fmt.Sprint(rd.Seq))
	}
	slices.Sort(refused)
	if strings.Join(refused, " ") != "13 199 57 58" {
		t.Errorf("dead-lettered readings %v, want 13 57 58 199", refused)
	}
	st, _ := r.spool.Stats()
	if st.Depth != 0 || st.Delivered != n-4 || st.DeadLettered != 4 {
		t.Errorf("counters %+v, want %d delivered and 4 dead-lettered", st.Counters, n-4)
	}
}

// TestInFlightAcknowledgedInOrder keeps InFlight batches on their way at
// once, and acknowledges none before those sealed earlier.
func TestInFlightAcknowledgedInOrder(t *testing.T) {
	for _, inFlight := range []int{1, 4} {
		t.Run(fmt.Sprint("in-flight=", inFlight), func(t *testing.T) {
			sink := newFakeSink()
			// The batch sealed first is held, whichever goroutine reaches
			// the sink first.
			releaseFirst, releaseOthers := make(chan struct{}), make(chan struct{})
			sink.hold = func(b Batch) {
				if strings.HasSuffix(b.ID, "-0000000000000001") {
					<-releaseFirst
				} else {
					<-releaseOthers
				}
			}
			opts := testOptions(t.TempDir(), newFakeClock(true))
			opts.BatchSize, opts.InFlight = 10, inFlight
			r, err := New(opts, sink, nil, io.Discard, testLogger(io.Discard))
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			done := make(chan error, 1)
			go func() { done <- r.Run(t.Context(), io.NopCloser(bytes.NewReader(readings(0, 100)))) }()
			waitFor(t, func() bool {
				sink.mu.Lock()
				defer sink.mu.Unlock()
				return sink.active == inFlight
			})
			time.Sleep(50 * time.Millisecond) // room for a send too many
			sink.mu.Lock()
			sends := sink.sends
			sink.mu.Unlock()
			if sends != inFlight {
				t.Errorf("%d batches on their way at once, want %d", sends, inFlight)
			}
			// The others finish past the first, but are not acknowledged.
			close(releaseOthers)
			waitFor(t, func() bool {
				sink.mu.Lock()
				defer sink.mu.Unlock()
				return len(sink.bodies) == inFlight-1
			})
			time.Sleep(50 * time.Millisecond) // room for a wrong acknowledgement
			if st, _ := r.spool.Stats(); st.Delivered != 0 {
				t.Errorf("%d readings acknowledged while the first batch was still on its way", st.Delivered)
			}
			close(releaseFirst)
			if err := waitDone(t, done); err != nil {
				t.Fatal(err)
			}
			checkOnce(t, sink.storedCopy(), 100)
			if sink.most != inFlight {
				t.Errorf("at most %d batches were on their way at once, want %d", sink.most, inFlight)
			}
		})
	}
}

// TestResendIsByteForByte: after a crash between the send and its
// acknowledgement, the same batch goes again, same id, same body.
func TestResendIsByteForByte(t *testing.T) {
	dir := t.TempDir()
	sink := newFakeSink()
	ctx, cancel := context.WithCancel(t.Context())
	sink.afterOK = func(Batch) { cancel() } // dies before the acknowledgement
	opts := testOptions(dir, newFakeClock(true))
	r, err := New(opts, sink, nil, io.Discard, testLogger(io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Run(ctx, io.NopCloser(bytes.NewReader(readings(0, 10)))); err != nil {
		t.Fatal(err)
	}
	r.Close()
	sink.mu.Lock()
	before := map[string][]byte{}
	for id, b := range sink.bodies {
		before[id] = b
	}
	sink.afterOK = nil
	var resent []Batch
	sink.hold = func(b Batch) { resent = append(resent, b) }
	sink.mu.Unlock()
	if len(before) != 1 {
		t.Fatalf("%d batches sent before the crash, want 1", len(before))
	}
	r, err = New(opts, sink, nil, io.Discard, testLogger(io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.Run(t.Context(), io.NopCloser(strings.NewReader(""))); err != nil {
		t.Fatal(err)
	}
	if len(resent) != 1 || !bytes.Equal(before[resent[0].ID], resent[0].Body) {
		t.Fatalf("resent %+v, want the batch sent before, byte for byte", resent)
	}
	if resent[0].DeviceID != "pi-1" || !resent[0].First.Equal(time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)) || resent[0].Count != 10 {
		t.Errorf("batch %+v: want device pi-1, first reading's time, 10 readings", resent[0])
	}
	checkOnce(t, sink.storedCopy(), 10)
}

// TestPoisonLines stores only valid JSON readings; the rest go to the
// dead-letter file with the reason, an over-long line by length and prefix.
func TestPoisonLines(t *testing.T) {
	long := `{"time":"2026-11-21T10:00:00Z","lat":47.64,"lon":-122.13,"pad":"` + strings.Repeat("x", 300<<10) + `"}`
	lines := []struct{ line, reason string }{
		{`{"time":"2026-11-21T10:00:00Z","lat":47.64,"lon":-122.13,"seq":0}`, ""},
		{"{\"time\":\"2026-11-21T10:00:00Z\",\"lat\":47.64,\"lon\":-122.13,\"name\":\"\xff\xfe\"}", "UTF-8"},
		{`{"time":"2026-11-21T10:00:00Z","lat":47.64,"lat":1,"lon":-122.13}`, `"lat" appears twice`},
		{`{"time":"2026-11-21T10:00:00Z","lat":47.64,"lon":-122.13,"x":{"a":1,"b":[{"a":1}],"a":2}}`, `"a" appears twice`},
		{`{"time":"2026-11-23T10:00:00Z","lat":47.64,"lon":-122.13}`, "ahead of this device's clock"},
		{long, "bytes; a reading may have at most"},
		{`{"time":"2026-11-21T10:00:00Z","lat":47.64,"lon":-122.13,"x":{"a":1,"b":{"a":2}},"seq":1}`, ""},
		{`{"time":"2026-11-22T09:00:00Z","lat":47.64,"lon":-122.13,"seq":2}`, ""},
	}
	var in bytes.Buffer
	for _, l := range lines {
		in.WriteString(l.line + "\n")
	}
	dir := t.TempDir()
	sink := newFakeSink()
	r, err := New(testOptions(dir, newFakeClock(false)), sink, nil, io.Discard, testLogger(io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, io.NopCloser(&in)) }()
	waitFor(t, func() bool { st, _ := r.spool.Stats(); return st.Accepted+st.DeadLettered == uint64(len(lines)) })
	cancel()
	if err := waitDone(t, done); err != nil {
		t.Fatal(err)
	}
	dead := deadLines(t, dir)
	var want []deadLine
	for i, l := range lines {
		if l.reason != "" {
			want = append(want, deadLine{Line: i + 1, Reason: l.reason})
		}
	}
	if len(dead) != len(want) {
		t.Fatalf("dead letters %+v, want %d", dead, len(want))
	}
	for i, d := range dead {
		if d.Line != want[i].Line || !strings.Contains(d.Reason, want[i].Reason) {
			t.Errorf("dead letter %d: line %d %q, want line %d %q", i, d.Line, d.Reason, want[i].Line, want[i].Reason)
		}
	}
	if l := dead[len(dead)-1]; l.Length != len(long) || !strings.HasPrefix(long, l.Prefix) || l.Prefix == "" || l.Text != "" {
		t.Errorf("over-long line recorded as length %d, prefix %q, %d bytes of text; want length %d and a short prefix", l.Length, l.Prefix, len(l.Text), len(long))
	}
	if fi, _ := os.Stat(DeadLetterPath(dir)); fi.Size() > 4<<10 {
		t.Errorf("the dead-letter file is %d bytes: the long line was copied into it", fi.Size())
	}
	if st, _ := r.spool.Stats(); st.Accepted != 3 {
		t.Errorf("accepted %d, want the 3 valid readings", st.Accepted)
	}
}

// TestEnterNotRepeatedAfterRestart keeps which fences a device is in, so a
// restart inside a fence says no second enter.
func TestEnterNotRepeatedAfterRestart(t *testing.T) {
	fences, err := geofence.ParseBytes([]byte(`{"type":"FeatureCollection","features":[
 {"type":"Feature","geometry":{"type":"Point","coordinates":[-122.126986,47.639754]},"properties":{"geometryId":"circle","radius":500,"subType":"Circle"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var events lockedBuffer
	for i, lon := range []float64{-122.127, -122.126, -122.20} {
		r, err := New(testOptions(dir, newFakeClock(true)), newFakeSink(), NewLocalFences(fences), &events, testLogger(io.Discard))
		if err != nil {
			t.Fatal(err)
		}
		line := fmt.Sprintf(`{"time":"2026-11-21T10:00:0%dZ","lat":47.6398,"lon":%s}`+"\n", i, jsonNumber(lon))
		err = r.Run(t.Context(), io.NopCloser(strings.NewReader(line)))
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for line := range strings.Lines(events.String()) {
		var ev Event
		json.Unmarshal([]byte(line), &ev)
		got = append(got, ev.Event+" "+ev.Time.Format("05"))
	}
	if want := "enter 00|exit 02"; strings.Join(got, "|") != want {
		t.Errorf("events over three runs: got %q, want %q", got, want)
	}
}

// TestDamagedSpoolIsMovedAside starts afresh with a damaged spool, keeps
// the damaged file, and says what was lost.
func TestDamagedSpoolIsMovedAside(t *testing.T) {
	tests := []struct {
		name      string
		spool     []byte
		depth     int // in the last status; -1 for none
		wantMoved bool
	}{
		{"garbage", bytes.Repeat([]byte("damaged "), 4096), 42, true},
		{"garbage, no status", bytes.Repeat([]byte("damaged "), 4096), -1, true},
		{"empty, readings were spooled", nil, 5, true},
		{"empty, nothing was spooled", nil, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "spool.db"), tt.spool, 0o600); err != nil {
				t.Fatal(err)
			}
			if tt.depth >= 0 {
				os.WriteFile(StatusPath(dir), fmt.Appendf(nil, `{"depth":%d,"accepted":100,"delivered":58}`, tt.depth), 0o600)
			}
			logs := &lockedBuffer{}
			r, err := New(testOptions(dir, newFakeClock(true)), newFakeSink(), nil, io.Discard, testLogger(logs))
			if err != nil {
				t.Fatalf("New: %v, want a new spool", err)
			}
			if err := r.Run(t.Context(), io.NopCloser(bytes.NewReader(readings(0, 3)))); err != nil {
				t.Fatal(err)
			}
			r.Close()
			moved, _ := filepath.Glob(filepath.Join(dir, "spool.db.damaged-*"))
			st, err := ReadStatus(dir)
			if err != nil {
				t.Fatal(err)
			}
			if !tt.wantMoved {
				if len(moved) != 0 || st.Damaged != nil {
					t.Errorf("an empty spool with nothing spooled was moved aside: %v %+v", moved, st.Damaged)
				}
				return
			}
			if len(moved) != 1 {
				t.Fatalf("moved aside: %v, want one spool.db.damaged-<time>", moved)
			}
			if data, _ := os.ReadFile(moved[0]); !bytes.Equal(data, tt.spool) {
				t.Error("the damaged spool was not kept as it was")
			}
			if st.Damaged == nil || st.Damaged.Path != moved[0] {
				t.Fatalf("status %+v: want the damaged spool named", st.Damaged)
			}
			if tt.depth > 0 && (st.Damaged.Lost == nil || *st.Damaged.Lost != tt.depth) {
				t.Errorf("status says lost %v, want %d", st.Damaged.Lost, tt.depth)
			}
			if tt.depth < 0 && st.Damaged.Lost != nil {
				t.Errorf("status says lost %d, but no count could be read", *st.Damaged.Lost)
			}
			if !strings.Contains(logs.String(), "the spool was damaged") {
				t.Errorf("the log does not say so:\n%s", logs)
			}
			if st.Delivered != 3 || st.Depth != 0 {
				t.Errorf("the new spool: %+v, want the 3 readings delivered", st.Counters)
			}
		})
	}
}

// TestPlantedSymlinks writes no file through a link planted in the state
// folder, and tightens the folder to 0700.
func TestPlantedSymlinks(t *testing.T) {
	for _, name := range []string{"deadletter.ndjson", "spool.db", "status.json"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "report")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			os.Chmod(dir, 0o755)
			victim := filepath.Join(t.TempDir(), "victim")
			if err := os.WriteFile(victim, []byte("precious"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(victim, filepath.Join(dir, name)); err != nil {
				t.Fatal(err)
			}
			r, err := New(testOptions(dir, newFakeClock(true)), newFakeSink(), nil, io.Discard, testLogger(io.Discard))
			if err == nil {
				err = r.Run(t.Context(), io.NopCloser(bytes.NewReader(append(readings(0, 2), "bad\n"...))))
				r.Close()
			}
			if data, _ := os.ReadFile(victim); string(data) != "precious" {
				t.Errorf("the link's target was written: %q", data)
			}
			if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
				t.Errorf("state folder mode %v, want 0700", fi.Mode().Perm())
			}
			switch name {
			case "status.json":
				// Replaced, not followed: the reporter runs.
				if err != nil {
					t.Fatal(err)
				}
				if fi, _ := os.Lstat(filepath.Join(dir, name)); !fi.Mode().IsRegular() {
					t.Errorf("status.json is still a link")
				}
			default:
				if err == nil || !strings.Contains(err.Error(), "link") {
					t.Errorf("New with a planted %s: %v, want a refusal naming the link", name, err)
				}
			}
		})
	}
}

// scriptedSink fails its first sends with the errors given, then stores.
type scriptedSink struct {
	*fakeSink
	mu    sync.Mutex
	errs  []error
	clock Clock
	at    []time.Time // when each send came
}

func (s *scriptedSink) Send(ctx context.Context, b Batch) error {
	s.mu.Lock()
	s.at = append(s.at, s.clock.Now())
	var err error
	if len(s.errs) > 0 {
		err, s.errs = s.errs[0], s.errs[1:]
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	return s.fakeSink.Send(ctx, b)
}

// TestThrottledAndForbidden waits as long as a throttled destination
// asks, and treats refused credentials as "needs someone": said once,
// retried every SignInRetry, until they work.
func TestThrottledAndForbidden(t *testing.T) {
	forbidden := fmt.Errorf("403 AuthorizationPermissionMismatch: %w", ErrForbidden)
	clock := newFakeClock(true)
	sink := &scriptedSink{fakeSink: newFakeSink(), clock: clock, errs: []error{
		&RetryAfterError{After: 7 * time.Minute, Err: errors.New("503 ServerBusy")},
		forbidden, forbidden, forbidden,
	}}
	opts := testOptions(t.TempDir(), clock)
	opts.SignInRetry = time.Hour
	var hooks []error
	opts.OnSignInNeeded = func(err error) { hooks = append(hooks, err) }
	logs := &lockedBuffer{}
	r, err := New(opts, sink, nil, io.Discard, testLogger(logs))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.Run(t.Context(), io.NopCloser(bytes.NewReader(readings(0, 5)))); err != nil {
		t.Fatal(err)
	}
	checkOnce(t, sink.storedCopy(), 5)
	if len(hooks) != 1 || !errors.Is(hooks[0], ErrForbidden) {
		t.Errorf("OnSignInNeeded called with %v, want once with the refusal", hooks)
	}
	want := []time.Duration{7 * time.Minute, time.Hour, time.Hour, time.Hour}
	if len(sink.at) != 5 {
		t.Fatalf("%d sends, want 5", len(sink.at))
	}
	for i, w := range want {
		// The fake clock also runs through batching waits meanwhile.
		if got := sink.at[i+1].Sub(sink.at[i]); got < w || got > w+time.Minute {
			t.Errorf("wait before send %d: %v, want %v", i+2, got, w)
		}
	}
	if got := strings.Count(logs.String(), "sign-in needed"); got != 1 {
		t.Errorf("said %d times that someone is needed, want once:\n%s", got, logs)
	}
}
