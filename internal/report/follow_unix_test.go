//go:build unix

package report

import (
	"context"
	"io"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestFollowResumesAfterRestarts follows a file through restarts, rotations
// (while running and while stopped), truncations and a line written in two
// parts: every reading is stored once.
func TestFollowResumesAfterRestarts(t *testing.T) {
	dir, files := t.TempDir(), t.TempDir()
	path := files + "/readings.ndjson"
	sink := newFakeSink()
	var r *Reporter
	var stop context.CancelFunc
	done := make(chan error, 1)
	start := func() {
		t.Helper()
		opts := testOptions(dir, nil)
		opts.Follow, opts.BatchSize, opts.MaxDelay = true, 5, 20*time.Millisecond
		var err error
		if r, err = New(opts, sink, nil, io.Discard, testLogger(io.Discard)); err != nil {
			t.Fatal(err)
		}
		var ctx context.Context
		ctx, stop = context.WithCancel(t.Context())
		go func() { done <- r.RunFile(ctx, path) }()
	}
	halt := func() {
		t.Helper()
		stop()
		if err := waitDone(t, done); err != nil {
			t.Fatal(err)
		}
		r.Close()
	}
	accepted := func(n uint64) {
		t.Helper()
		waitFor(t, func() bool { st, _ := r.spool.Stats(); return st.Accepted >= n })
		if st, _ := r.spool.Stats(); st.Accepted != n {
			t.Fatalf("accepted %d, want %d", st.Accepted, n)
		}
	}
	write := func(name string, s string) {
		t.Helper()
		f, err := os.OpenFile(name, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.WriteString(s); err != nil {
			t.Fatal(err)
		}
	}
	lines := func(from, to int) string { return string(readings(from, to-from)) }

	first := lines(0, 10)
	write(path, first[:len(first)-20]) // the last line only in part
	start()
	accepted(9)
	write(path, first[len(first)-20:]+lines(10, 20))
	accepted(20)
	halt()

	write(path, lines(20, 30)) // written while stopped
	start()
	accepted(30)
	// Rotation while running: the writer finishes the old file, then
	// starts a new one.
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	write(path+".1", lines(30, 35))
	time.Sleep(300 * time.Millisecond)
	write(path, lines(35, 40))
	accepted(40)
	halt()

	// Rotation while stopped: the rest of the old file comes first.
	write(path, lines(40, 45))
	if err := os.Rename(path, path+".2"); err != nil {
		t.Fatal(err)
	}
	write(path, lines(45, 50))
	start()
	accepted(50)
	// copytruncate once everything was read. As for tail -F, the
	// truncation is seen when the file is found shorter than what was
	// read, so the writer goes on after a poll.
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	write(path, lines(50, 55))
	accepted(55)
	halt()

	// Truncated while stopped, to less than was read.
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	write(path, lines(55, 57))
	start()
	accepted(57)
	write(path, lines(57, 60))
	accepted(60)
	halt()

	// A last run delivers what is spooled.
	opts := testOptions(dir, nil)
	r, err := New(opts, sink, nil, io.Discard, testLogger(io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.Run(t.Context(), io.NopCloser(strings.NewReader(""))); err != nil {
		t.Fatal(err)
	}
	checkOnce(t, sink.storedCopy(), 60)
}

// TestOpenInputStopsWaitingForAWriter ends the wait in open(2) for a
// FIFO's writer when ctx ends.
func TestOpenInputStopsWaitingForAWriter(t *testing.T) {
	fifo := t.TempDir() + "/readings.fifo"
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		f, err := OpenInput(ctx, fifo)
		if f != nil {
			f.Close()
		}
		done <- err
	}()
	time.Sleep(100 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("OpenInput returned with no writer: %v", err)
	default:
	}
	cancel()
	if err := waitDone(t, done); err == nil {
		t.Error("OpenInput: no error, want the end of ctx")
	}
}
