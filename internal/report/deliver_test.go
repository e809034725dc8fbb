package report

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/mapsdevice/mapsdevice/internal/auth"
	"github.com/mapsdevice/mapsdevice/internal/azmaps"
	"github.com/mapsdevice/mapsdevice/internal/report/spool"
)

func testOptions(dir string, clock Clock) Options {
	return Options{StateDir: dir, DeviceID: "pi-1", BatchSize: 10, MaxDelay: time.Second,
		SpoolMax: 100_000, SpoolFull: spool.Block, SignInRetry: time.Minute, Clock: clock}
}

// TestExactlyOnceUnderFaults delivers readings through many seeded
// schedules of faults and crashes, restarting the reporter on the same
// state folder after each crash, and counts what the service stored.
func TestExactlyOnceUnderFaults(t *testing.T) {
	const schedules, total = 60, 120
	served := map[fault]int{}
	var lookups int
	for seed := range uint64(schedules) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			rng := newRand(seed)
			maps := newFakeMaps()
			faultRate := rng.Float64() * 0.5
			maps.plan = func(string) fault {
				if rng.Float64() >= faultRate {
					return faultNone
				}
				return fault(1 + rng.IntN(int(faultKinds)-1))
			}
			maps.fate = func() (string, int) {
				fate := "Completed"
				if rng.IntN(5) == 0 {
					fate = "Failed"
				}
				return fate, rng.IntN(4)
			}
			dir := t.TempDir()
			input := readings(0, total)
			next, lives := 0, 0
			for {
				lives++
				last := lives > 8 // then no more crashes, so the run can end
				opts := testOptions(dir, newFakeClock(true))
				opts.BatchSize = 1 + rng.IntN(25)
				r, err := New(opts, NewMapsData(maps, testLogger(io.Discard)), nil, io.Discard, testLogger(io.Discard))
				if err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithCancel(t.Context())
				maps.mu.Lock()
				maps.crash = cancel
				if last {
					maps.crash = nil
				}
				maps.mu.Unlock()
				err = r.Run(ctx, io.NopCloser(bytes.NewReader(input[lineOffset(input, next):])))
				crashed := ctx.Err() != nil
				cancel()
				if err != nil {
					t.Fatalf("life %d: Run: %v", lives, err)
				}
				st, err := r.spool.Stats()
				if err != nil {
					t.Fatal(err)
				}
				// The input goes on from the first reading not accepted,
				// as a producer that keeps a checkpoint would.
				next = int(st.Accepted)
				if err := r.Close(); err != nil {
					t.Fatal(err)
				}
				if !crashed {
					if st.Depth != 0 || st.Delivered != total || st.Accepted != total {
						t.Errorf("after the last run: %+v, want all %d accepted and delivered", st.Counters, total)
					}
					break
				}
			}
			checkOnce(t, maps.stored(), total)
			maps.mu.Lock()
			for f, n := range maps.faults {
				served[f] += n
			}
			lookups += maps.calls["list"]
			maps.mu.Unlock()
			if t.Failed() {
				t.Logf("faults served: %v, calls: %v, lives: %d", maps.faults, maps.calls, lives)
			}
		})
	}
	// The schedules must have tried every fault, or the test proves little.
	for f := faultNone + 1; f < faultKinds; f++ {
		if served[f] == 0 {
			t.Errorf("no schedule served the fault %q", f)
		}
	}
	if lookups == 0 {
		t.Error("no schedule made the reporter look an upload up")
	}
}

// lineOffset is where line n (from 0) of an NDJSON input starts.
func lineOffset(input []byte, n int) int {
	off := 0
	for range n {
		i := bytes.IndexByte(input[off:], '\n')
		if i < 0 {
			return len(input)
		}
		off += i + 1
	}
	return off
}

// TestDeliveryFaults follows one batch through one fault each.
func TestDeliveryFaults(t *testing.T) {
	tests := []struct {
		name string
		// faults are served to the calls in order, then none.
		faults      []fault
		fates       []string
		pending     int
		wantUploads int
		wantLists   int
	}{
		{name: "accepted", wantUploads: 1},
		{name: "refused before accepting", faults: []fault{fault503}, wantUploads: 2, wantLists: 1},
		{name: "too many requests, then on the lookup", faults: []fault{fault429, fault429}, wantUploads: 2, wantLists: 2},
		{name: "answer lost", faults: []fault{faultLost}, wantUploads: 1, wantLists: 1},
		{name: "answer lost, left pending", faults: []fault{faultLost}, pending: 3, wantUploads: 1, wantLists: 1},
		{name: "answer lost, then failed", faults: []fault{faultLost}, fates: []string{"Failed", "Completed"}, wantUploads: 2, wantLists: 1},
		{name: "operation failed", fates: []string{"Failed", "Completed"}, wantUploads: 2},
		{name: "operation failed twice", fates: []string{"Failed", "Failed", "Completed"}, wantUploads: 3},
		{name: "wait fails, then succeeds", faults: []fault{faultNone, faultNetwork}, wantUploads: 1},
		{name: "token refused", faults: []fault{fault401}, wantUploads: 2, wantLists: 1},
		{name: "sign-in needed", faults: []fault{faultSignIn}, wantUploads: 2, wantLists: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			maps := newFakeMaps()
			faults, fates := tt.faults, tt.fates
			maps.plan = func(string) fault {
				if len(faults) == 0 {
					return faultNone
				}
				f := faults[0]
				faults = faults[1:]
				return f
			}
			maps.fate = func() (string, int) {
				if len(fates) == 0 {
					return "Completed", tt.pending
				}
				f := fates[0]
				fates = fates[1:]
				return f, tt.pending
			}
			r, err := New(testOptions(t.TempDir(), newFakeClock(true)), NewMapsData(maps, testLogger(io.Discard)), nil, io.Discard, testLogger(io.Discard))
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if err := r.Run(t.Context(), io.NopCloser(bytes.NewReader(readings(0, 7)))); err != nil {
				t.Fatalf("Run: %v", err)
			}
			checkOnce(t, maps.stored(), 7)
			if got := maps.count("upload"); got != tt.wantUploads {
				t.Errorf("uploads: got %d, want %d", got, tt.wantUploads)
			}
			if got := maps.count("list"); got != tt.wantLists {
				t.Errorf("lookups: got %d, want %d", got, tt.wantLists)
			}
			st, _ := r.spool.Stats()
			if st.Depth != 0 || st.Delivered != 7 {
				t.Errorf("spool: got %+v, want 7 delivered and none left", st.Counters)
			}
		})
	}
}

// TestAnswerLostThenCrash restarts a reporter whose upload landed
// without its answer: the new one finds it by batch id and does not send
// it again, even while it is still Pending.
func TestAnswerLostThenCrash(t *testing.T) {
	dir := t.TempDir()
	maps := newFakeMaps()
	maps.fate = func() (string, int) { return "Completed", 2 }
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	maps.crash = cancel
	maps.plan = func(call string) fault {
		if call == "upload" {
			return faultCrash
		}
		return faultNone
	}
	logs := &lockedBuffer{}
	r, err := New(testOptions(dir, newFakeClock(true)), NewMapsData(maps, testLogger(logs)), nil, io.Discard, testLogger(logs))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Run(ctx, io.NopCloser(bytes.NewReader(readings(0, 4)))); err != nil {
		t.Fatal(err)
	}
	r.Close()

	maps.mu.Lock()
	maps.crash, maps.plan = nil, nil
	maps.mu.Unlock()
	r, err = New(testOptions(dir, newFakeClock(true)), NewMapsData(maps, testLogger(logs)), nil, io.Discard, testLogger(logs))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.Run(t.Context(), io.NopCloser(strings.NewReader(""))); err != nil {
		t.Fatal(err)
	}
	checkOnce(t, maps.stored(), 4)
	if got := maps.count("upload"); got != 1 {
		t.Errorf("uploads: got %d, want 1", got)
	}
	if got := maps.count("metadata"); got != 2 {
		t.Errorf("status reads while Pending: got %d, want 2", got)
	}
	if !strings.Contains(logs.String(), "not sending it again") {
		t.Errorf("the log does not say the batch had arrived:\n%s", logs)
	}
}

// TestMaxDelay sends a batch that is not full once its oldest reading
// has waited MaxDelay, and a full one at once.
func TestMaxDelay(t *testing.T) {
	clock := newFakeClock(false)
	maps := newFakeMaps()
	opts := testOptions(t.TempDir(), clock)
	// One batch at a time, so the uploads come in order.
	opts.BatchSize, opts.MaxDelay, opts.InFlight = 100, 30*time.Second, 1
	r, err := New(opts, NewMapsData(maps, testLogger(io.Discard)), nil, io.Discard, testLogger(io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- r.Run(t.Context(), pr) }()

	clock.timer(t, 0) // waiting with an empty spool
	clock.Advance(time.Second)
	oldest := clock.Now()
	if _, err := pw.Write(readings(0, 250)); err != nil {
		t.Fatal(err)
	}
	clock.timerAt(t, oldest.Add(opts.MaxDelay))
	if got := maps.uploadSizes(); len(got) != 2 || got[0] != 100 || got[1] != 100 {
		t.Errorf("full batches: got sizes %v, want [100 100]", got)
	}
	clock.Advance(opts.MaxDelay - time.Millisecond)
	if got := len(maps.uploadSizes()); got != 2 {
		t.Errorf("before MaxDelay: got %d uploads, want 2", got)
	}
	clock.Advance(time.Millisecond)
	waitFor(t, func() bool { return len(maps.uploadSizes()) == 3 })
	if got := maps.uploadSizes(); got[2] != 50 {
		t.Errorf("after MaxDelay: got sizes %v, want [100 100 50]", got)
	}
	pw.Close()
	if err := waitDone(t, done); err != nil {
		t.Fatal(err)
	}
	checkOnce(t, maps.stored(), 250)
}

// TestSignInNeeded keeps readings while sign-in is needed, says so once,
// tries again every SignInRetry, and delivers once signed in again.
func TestSignInNeeded(t *testing.T) {
	for _, f := range []fault{faultSignIn, fault401} {
		t.Run(f.String(), func(t *testing.T) {
			clock := newFakeClock(false)
			maps := newFakeMaps()
			signedIn := false
			maps.plan = func(string) fault {
				if signedIn {
					return faultNone
				}
				return f
			}
			logs := &lockedBuffer{}
			var hooks []error
			opts := testOptions(t.TempDir(), clock)
			opts.SignInRetry, opts.MaxDelay = 7*time.Minute, time.Hour
			opts.OnSignInNeeded = func(err error) { hooks = append(hooks, err) }
			r, err := New(opts, NewMapsData(maps, testLogger(io.Discard)), nil, io.Discard, testLogger(logs))
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			done := make(chan error, 1)
			go func() { done <- r.Run(t.Context(), io.NopCloser(bytes.NewReader(readings(0, 5)))) }()

			retries := clock.timers(t, func(tm *fakeTimer) bool { return tm.d != opts.MaxDelay })
			for n := range 3 {
				tm := retries()
				if tm.d != opts.SignInRetry {
					t.Fatalf("retry %d after %v, want %v", n, tm.d, opts.SignInRetry)
				}
				if n == 2 {
					maps.mu.Lock()
					signedIn = true
					maps.mu.Unlock()
				}
				clock.Advance(tm.d)
			}
			if err := waitDone(t, done); err != nil {
				t.Fatal(err)
			}
			checkOnce(t, maps.stored(), 5)
			if len(hooks) != 1 || !needsSignIn(hooks[0]) {
				t.Errorf("OnSignInNeeded: got %v, want one call with the sign-in error", hooks)
			}
			if got := strings.Count(logs.String(), "sign-in needed"); got != 1 {
				t.Errorf("sign-in needed logged %d times, want once:\n%s", got, logs)
			}
			if strings.Contains(logs.String(), "mapsdevice") {
				t.Errorf("the library names a command:\n%s", logs)
			}
		})
	}
}

// TestBackoff waits longer after each failure, within the policy.
func TestBackoff(t *testing.T) {
	clock := newFakeClock(false)
	maps := newFakeMaps()
	failures := 4
	maps.plan = func(call string) fault {
		if call == "upload" && failures > 0 {
			failures--
			return fault503
		}
		return faultNone
	}
	logs := &lockedBuffer{}
	opts := testOptions(t.TempDir(), clock)
	opts.MaxDelay = time.Hour
	r, err := New(opts, NewMapsData(maps, testLogger(io.Discard)), nil, io.Discard, testLogger(logs))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	done := make(chan error, 1)
	go func() { done <- r.Run(t.Context(), io.NopCloser(bytes.NewReader(readings(0, 5)))) }()
	retries := clock.timers(t, func(tm *fakeTimer) bool { return tm.d != opts.MaxDelay })
	for n, ceiling := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second} {
		tm := retries()
		if tm.d <= 0 || tm.d > ceiling {
			t.Errorf("retry %d after %v, want (0, %v]", n, tm.d, ceiling)
		}
		clock.Advance(tm.d)
	}
	if err := waitDone(t, done); err != nil {
		t.Fatal(err)
	}
	checkOnce(t, maps.stored(), 5)
	if got := strings.Count(logs.String(), "delivery failed; will retry"); got != 4 {
		t.Errorf("failures logged %d times, want 4", got)
	}
	st, err := ReadStatus(r.opts.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(st.LastError, "503") || st.LastSuccess.IsZero() || st.Delivered != 5 || st.Running {
		t.Errorf("status: got %+v, want the 503, a success, 5 delivered, not running", st)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("gave up waiting")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitDone is the end of a Run the test started.
func waitDone(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return")
		return nil
	}
}

// TestNeedsSignIn: what waits for a person or an administrator (logged
// once, retried slowly) and what is retried as a passing fault.
func TestNeedsSignIn(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{&auth.Error{Kind: auth.KindSignInNeeded}, true},
		{&auth.Error{Kind: auth.KindConditionalAccess, Refresh: true}, true},
		{&auth.Error{Kind: auth.KindMFARequired}, true},
		{fmt.Errorf("token: %w", &auth.Error{Kind: auth.KindBadSecret}), true},
		{&auth.Error{Kind: auth.KindSecretExpired}, true},
		{&auth.Error{Kind: auth.KindCertificateNotRegistered}, true},
		{fmt.Errorf("blob: %w", ErrForbidden), true},
		{&azmaps.APIError{Status: 401}, true},
		{&auth.Error{Kind: auth.KindNetwork}, false},
		{&auth.Error{Kind: auth.KindManagedIdentity}, false},
		{&auth.Error{Kind: auth.KindClock}, false},
		{&azmaps.APIError{Status: 503}, false},
		{io.ErrUnexpectedEOF, false},
	} {
		if got := needsSignIn(c.err); got != c.want {
			t.Errorf("needsSignIn(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}
