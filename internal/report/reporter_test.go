package report

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mapsdevice/mapsdevice/internal/geofence"
	"github.com/mapsdevice/mapsdevice/internal/report/spool"
)

func TestNewRefusesBadNumbers(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Options)
		want   string // in the error; empty for none
	}{
		{name: "defaults", change: func(*Options) {}},
		{name: "negative batch size", change: func(o *Options) { o.BatchSize = -1 }, want: "batch size -1"},
		{name: "negative delay", change: func(o *Options) { o.MaxDelay = -time.Second }, want: "maximum delay -1s"},
		{name: "negative sign-in retry", change: func(o *Options) { o.SignInRetry = -time.Second }, want: "sign-in retry -1s"},
		{name: "no spool room", change: func(o *Options) { o.SpoolMax = 0 }, want: "spool size 0"},
		{name: "unknown policy", change: func(o *Options) { o.SpoolFull = "drop-newest" }, want: `spool policy "drop-newest"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := Options{StateDir: t.TempDir(), SpoolMax: 10, SpoolFull: spool.DropOldest}
			tt.change(&opts)
			r, err := New(opts, NewMapsData(newFakeMaps(), testLogger(io.Discard)), nil, io.Discard, testLogger(io.Discard))
			if tt.want == "" {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				defer r.Close()
				got := []any{r.opts.BatchSize, r.opts.MaxDelay, r.opts.SignInRetry}
				want := []any{500, 5 * time.Second, 30 * time.Second}
				for i := range got {
					if got[i] != want[i] {
						t.Errorf("defaults: got %v, want %v", got, want)
						break
					}
				}
				return
			}
			if err == nil {
				r.Close()
				t.Fatalf("New accepted %+v", opts)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New: got %q, want it to name %q", err, tt.want)
			}
		})
	}
}

func TestNewStateDirNotAFolder(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := New(Options{StateDir: filepath.Join(file, "report"), SpoolMax: 10, SpoolFull: spool.Block}, NewMapsData(newFakeMaps(), testLogger(io.Discard)), nil, io.Discard, testLogger(io.Discard))
	if err == nil || !strings.Contains(err.Error(), "create state folder") {
		t.Errorf("New: got %v, want a state folder error", err)
	}
}

// TestRunEndsBlockedRead stops a reporter whose input has nothing to say:
// Run closes it, the read ends, and Run returns with its goroutines ended
// (TestMain checks for leaks).
func TestRunEndsBlockedRead(t *testing.T) {
	inputs := map[string]func(t *testing.T) (io.ReadCloser, io.Closer){
		"io.Pipe": func(*testing.T) (io.ReadCloser, io.Closer) {
			pr, pw := io.Pipe()
			return pr, pw
		},
		"os.Pipe": func(t *testing.T) (io.ReadCloser, io.Closer) {
			pr, pw, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			return pr, pw
		},
	}
	addPlatformInputs(inputs)
	for name, open := range inputs {
		t.Run(name, func(t *testing.T) {
			in, writer := open(t)
			defer writer.Close()
			maps := newFakeMaps()
			r, err := New(testOptions(t.TempDir(), nil), NewMapsData(maps, testLogger(io.Discard)), nil, io.Discard, testLogger(io.Discard))
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan error, 1)
			go func() { done <- r.Run(ctx, in) }()
			if _, err := io.Copy(writerOf(writer), bytes.NewReader(readings(0, 3))); err != nil {
				t.Fatal(err)
			}
			waitFor(t, func() bool { st, _ := r.spool.Stats(); return st.Accepted == 3 })
			cancel()
			if err := waitDone(t, done); err != nil {
				t.Fatalf("Run: %v", err)
			}
			st, err := ReadStatus(r.opts.StateDir)
			if err != nil {
				t.Fatal(err)
			}
			if st.Running || st.Accepted != 3 || st.Depth+int(st.Delivered) != 3 {
				t.Errorf("status after stopping: %+v, want 3 readings kept, not running", st)
			}
		})
	}
}

func writerOf(c io.Closer) io.Writer { return c.(io.Writer) }

// TestDeadLetters keeps bad lines, with their line numbers and reasons,
// and delivers the rest.
func TestDeadLetters(t *testing.T) {
	maps := newFakeMaps()
	dir := t.TempDir()
	r, err := New(testOptions(dir, newFakeClock(true)), NewMapsData(maps, testLogger(io.Discard)), nil, io.Discard, testLogger(io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	long := `{"time":"2026-11-21T10:00:00Z","lat":1,"lon":2,"pad":"` + strings.Repeat("x", MaxLine) + `"}`
	input := string(readings(0, 2)) + "not json\n" + `{"time":"2026-11-21T10:00:00Z","lat":91,"lon":0}` + "\n" + long + "\n\n" + string(readings(2, 1))
	if err := r.Run(t.Context(), io.NopCloser(strings.NewReader(input))); err != nil {
		t.Fatal(err)
	}
	checkOnce(t, maps.stored(), 3)
	f, err := os.Open(DeadLetterPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var got []deadLine
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var d deadLine
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			t.Fatal(err)
		}
		got = append(got, d)
	}
	want := []struct {
		line   int
		reason string
	}{{3, "not a JSON object"}, {4, `"lat" 91 is out of range`}, {5, "a reading may have at most"}}
	if len(got) != len(want) {
		t.Fatalf("dead letters: got %+v, want %d", got, len(want))
	}
	for i, w := range want {
		if got[i].Line != w.line || !strings.Contains(got[i].Reason, w.reason) {
			t.Errorf("dead letter %d: got line %d %q, want line %d %q", i, got[i].Line, got[i].Reason, w.line, w.reason)
		}
	}
	st, _ := r.spool.Stats()
	if st.DeadLettered != 3 || st.Delivered != 3 {
		t.Errorf("counters: got %+v, want 3 dead-lettered and 3 delivered", st.Counters)
	}
}

// TestFollow keeps reading a file as it grows until stopped.
func TestFollow(t *testing.T) {
	maps := newFakeMaps()
	path := filepath.Join(t.TempDir(), "readings.ndjson")
	if err := os.WriteFile(path, readings(0, 3), 0o600); err != nil {
		t.Fatal(err)
	}
	opts := testOptions(t.TempDir(), nil)
	opts.Follow, opts.BatchSize = true, 1
	r, err := New(opts, NewMapsData(maps, testLogger(io.Discard)), nil, io.Discard, testLogger(io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	in, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, in) }()
	waitFor(t, func() bool { return len(maps.stored()) == 3 })
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(readings(3, 2))
	f.Close()
	waitFor(t, func() bool { return len(maps.stored()) == 5 })
	cancel()
	if err := waitDone(t, done); err != nil {
		t.Fatal(err)
	}
	checkOnce(t, maps.stored(), 5)
}

// TestEvents writes an enter when the device comes into a fence and an
// exit when it leaves.
func TestEvents(t *testing.T) {
	fences, err := geofence.ParseBytes([]byte(`{"type":"FeatureCollection","features":[
 {"type":"Feature","geometry":{"type":"Point","coordinates":[-122.126986,47.639754]},"properties":{"geometryId":"circle","radius":500,"subType":"Circle"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	var input bytes.Buffer
	for i, lon := range []float64{-122.20, -122.127, -122.126, -122.20, -122.20} {
		input.WriteString(`{"time":"2026-11-21T10:00:0` + string(rune('0'+i)) + `Z","lat":47.6398,"lon":` + jsonNumber(lon) + `,"seq":` + jsonNumber(float64(i)) + `}` + "\n")
	}
	var events lockedBuffer
	r, err := New(testOptions(t.TempDir(), newFakeClock(true)), NewMapsData(newFakeMaps(), testLogger(io.Discard)), NewLocalFences(fences), &events, testLogger(io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.Run(t.Context(), io.NopCloser(&input)); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(events.String()), "\n") {
		var ev Event
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("event %q: %v", line, err)
		}
		got = append(got, ev.Event+" "+ev.GeometryID+" "+ev.DeviceID+" "+ev.Time.Format("05"))
	}
	want := []string{"enter circle pi-1 01", "exit circle pi-1 03"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("events: got %q, want %q", got, want)
	}
}

func jsonNumber(f float64) string {
	b, _ := json.Marshal(f)
	return string(b)
}

// failingFences is a geofence service that cannot be reached.
type failingFences struct{}

func (failingFences) Check(context.Context, Reading) (geofence.Result, error) {
	return geofence.Result{}, io.ErrUnexpectedEOF
}

// TestFencesFailing still delivers readings when fences cannot be
// checked, and says so once.
func TestFencesFailing(t *testing.T) {
	maps := newFakeMaps()
	logs := &lockedBuffer{}
	r, err := New(testOptions(t.TempDir(), newFakeClock(true)), NewMapsData(maps, testLogger(io.Discard)), failingFences{}, io.Discard, testLogger(logs))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.Run(t.Context(), io.NopCloser(bytes.NewReader(readings(0, 5)))); err != nil {
		t.Fatal(err)
	}
	checkOnce(t, maps.stored(), 5)
	if got := strings.Count(logs.String(), "geofence check failed"); got != 1 {
		t.Errorf("geofence failure logged %d times, want once", got)
	}
}

// TestStatusWriteFails logs a status file that cannot be written once,
// not at every write.
func TestStatusWriteFails(t *testing.T) {
	dir := t.TempDir()
	logs := &lockedBuffer{}
	maps := newFakeMaps()
	r, err := New(testOptions(dir, newFakeClock(true)), NewMapsData(maps, testLogger(io.Discard)), nil, io.Discard, testLogger(logs))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// A folder where the file should be: every write fails the same way.
	if err := os.Mkdir(StatusPath(dir), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(StatusPath(dir), "in-the-way"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := r.Run(t.Context(), io.NopCloser(bytes.NewReader(readings(0, 3)))); err != nil {
		t.Fatal(err)
	}
	checkOnce(t, maps.stored(), 3)
	if got := strings.Count(logs.String(), "could not write the status file"); got != 1 {
		t.Errorf("status write failure logged %d times, want once:\n%s", got, logs)
	}
	if _, err := ReadStatus(dir); err == nil {
		t.Error("ReadStatus read a folder")
	}
}

func TestReadStatus(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadStatus(dir); err == nil || !strings.Contains(err.Error(), "no reporter has run") {
		t.Errorf("ReadStatus of an empty folder: got %v", err)
	}
	if err := os.WriteFile(StatusPath(dir), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadStatus(dir); err == nil || !strings.Contains(err.Error(), "status file") {
		t.Errorf("ReadStatus of a torn file: got %v", err)
	}
}

func TestSimulate(t *testing.T) {
	bad := []struct {
		rate  float64
		count int
		want  string
	}{
		{0, 1, "rate 0"}, {-1, 1, "rate -1"}, {math.NaN(), 1, "rate NaN"}, {math.Inf(1), 1, "rate +Inf"},
		{2e9, 1, "at most"}, {10, -1, "count -1"},
	}
	for _, tt := range bad {
		t.Run(strings.Fields(tt.want)[0]+"="+jsonNumber(tt.rate), func(t *testing.T) {
			var out bytes.Buffer
			err := Simulate(t.Context(), &out, "sim", tt.rate, tt.count)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Simulate(rate %g, count %d): got %v, want an error naming %q", tt.rate, tt.count, err, tt.want)
			}
			if out.Len() > 0 {
				t.Errorf("wrote %q before refusing", out.String())
			}
		})
	}
	t.Run("readings", func(t *testing.T) {
		var out bytes.Buffer
		if err := Simulate(t.Context(), &out, "sim", 1e6, 450); err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		if len(lines) != 450 {
			t.Fatalf("got %d readings, want 450", len(lines))
		}
		for i, line := range lines {
			r, err := Parse([]byte(line), "other")
			if err != nil || r.DeviceID != "sim" {
				t.Fatalf("reading %d %q: %+v, %v", i, line, r, err)
			}
		}
	})
	t.Run("until stopped", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if err := Simulate(ctx, io.Discard, "sim", 1e6, 0); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("write fails", func(t *testing.T) {
		pr, pw := io.Pipe()
		pr.Close()
		if err := Simulate(t.Context(), pw, "sim", 1e6, 3); err == nil {
			t.Error("Simulate ignored a failed write")
		}
	})
}
