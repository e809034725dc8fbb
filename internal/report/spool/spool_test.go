package spool

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func open(t *testing.T, path string, max int, p Policy) *Spool {
	t.Helper()
	s, err := Open(path, max, p, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func recs(from, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = []byte(fmt.Sprintf(`{"n":%d}`, from+i))
	}
	return out
}

// seal seals up to n readings, each line the reading and its seq.
func seal(t *testing.T, s *Spool, n int) Batch {
	t.Helper()
	b, _, err := s.Seal(n, 1<<20, func(seq uint64, rec []byte) []byte {
		return fmt.Appendf(nil, "%d %s", seq, rec)
	}, func(first uint64) string { return fmt.Sprintf("%s-%016x", s.Epoch(), first) })
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func firstLine(b Batch) string {
	line, _, _ := strings.Cut(string(b.Body), "\n")
	return line
}

func TestSealAckSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "spool.db")
	s := open(t, path, 100, DropOldest)
	ctx := t.Context()
	if err := s.Append(ctx, recs(0, 10), nil); err != nil {
		t.Fatal(err)
	}
	b := seal(t, s, 4)
	if b.Count != 4 || firstLine(b) != `1 {"n":0}` || b.ID != s.Epoch()+"-0000000000000001" {
		t.Fatalf("Seal: %+v", b)
	}
	if err := s.SetNotes(b.ID, Notes{Attempts: 1, Operation: "op-1"}); err != nil {
		t.Fatal(err)
	}
	epoch := s.Epoch()
	s.Close()

	// After a crash the same batch comes back, byte for byte, with its notes.
	s = open(t, path, 100, DropOldest)
	if s.Epoch() != epoch {
		t.Errorf("epoch changed on reopen: got %s, want %s", s.Epoch(), epoch)
	}
	sealed, err := s.Sealed()
	if err != nil || len(sealed) != 1 || sealed[0].ID != b.ID || !bytes.Equal(sealed[0].Body, b.Body) {
		t.Fatalf("after reopen: %+v, %v; want batch %s unchanged", sealed, err, b.ID)
	}
	if n, _ := s.Notes(b.ID); n.Attempts != 1 || n.Operation != "op-1" {
		t.Errorf("notes after reopen: %+v", n)
	}
	if err := s.Ack(sealed[0]); err != nil {
		t.Fatal(err)
	}
	st, _ := s.Stats()
	if st.Depth != 6 || st.Delivered != 4 || st.Accepted != 10 || st.Sealed != 0 || st.Oldest.IsZero() {
		t.Errorf("stats %+v", st)
	}
	if n, _ := s.Notes(b.ID); n.Attempts != 0 {
		t.Errorf("notes outlived their batch: %+v", n)
	}
	next := seal(t, s, 100)
	if next.ID == b.ID || next.Count != 6 || firstLine(next) != `5 {"n":4}` {
		t.Errorf("next batch %+v", next)
	}
}

func TestNewSpoolNewEpoch(t *testing.T) {
	dir := t.TempDir()
	a := open(t, filepath.Join(dir, "a.db"), 10, DropOldest)
	b := open(t, filepath.Join(dir, "b.db"), 10, DropOldest)
	if len(a.Epoch()) != 8 || a.Epoch() == b.Epoch() {
		t.Errorf("epochs %q and %q: want 8 hex characters, different", a.Epoch(), b.Epoch())
	}
}

func TestSealedReadingsAreNeverDropped(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "spool.db"), 10, DropOldest)
	ctx := t.Context()
	s.Append(ctx, recs(0, 10), nil)
	inflight := seal(t, s, 3)
	if err := s.Append(ctx, recs(10, 4), nil); err != nil {
		t.Fatal(err)
	}
	st, _ := s.Stats()
	if st.Depth != 10 || st.Dropped != 4 || st.Unsealed() != 7 {
		t.Fatalf("stats %+v, want depth 10, 4 dropped, 7 unsealed", st)
	}
	s.Ack(inflight)
	if st, _ := s.Stats(); st.Delivered != 3 || st.Depth != 7 {
		t.Errorf("the sealed batch lost readings: %+v", st)
	}
	rest := seal(t, s, 100)
	if firstLine(rest) != `8 {"n":7}` {
		t.Errorf("after the batch, want the readings that were not dropped, from 7: %s", firstLine(rest))
	}
}

func TestSplitAndDeadLetter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "spool.db")
	s := open(t, path, 100, DropOldest)
	s.Append(t.Context(), recs(0, 5), nil)
	b := seal(t, s, 5)
	kids, err := s.Split(b)
	if err != nil {
		t.Fatal(err)
	}
	if kids[0].ID != b.ID+".1" || kids[1].ID != b.ID+".2" || kids[0].Count != 2 || kids[1].Count != 3 ||
		!bytes.Equal(append(append([]byte(nil), kids[0].Body...), kids[1].Body...), b.Body) {
		t.Fatalf("split %s into %+v", b.Body, kids)
	}
	s.Close()
	s = open(t, path, 100, DropOldest)
	sealed, _ := s.Sealed()
	if len(sealed) != 2 || sealed[0].ID != kids[0].ID || sealed[1].ID != kids[1].ID {
		t.Fatalf("after reopen: %+v, want the two children in order", sealed)
	}
	if err := s.DeadLetter(sealed[0]); err != nil {
		t.Fatal(err)
	}
	if err := s.Ack(sealed[1]); err != nil {
		t.Fatal(err)
	}
	if err := s.Ack(sealed[1]); err != nil { // a repeat counts nothing
		t.Fatal(err)
	}
	if st, _ := s.Stats(); st.Depth != 0 || st.DeadLettered != 2 || st.Delivered != 3 || st.Sealed != 0 {
		t.Errorf("stats %+v, want 2 dead-lettered, 3 delivered, none left", st)
	}
}

// The checkpoint moves with the readings it covers, also when the block
// policy takes only some of them.
func TestCheckpointCommittedWithReadings(t *testing.T) {
	path := filepath.Join(t.TempDir(), "spool.db")
	s := open(t, path, 3, Block)
	if _, ok, _ := s.Checkpoint(); ok {
		t.Fatal("a new spool has a checkpoint")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	mark := &Mark{Dev: 1, Ino: 2, Ends: []int64{10, 20, 30, 40, 50}, End: 60}
	if err := s.Append(ctx, recs(0, 5), mark); err != ErrFull {
		t.Fatalf("Append: %v, want ErrFull after the first 3", err)
	}
	cp, ok, err := s.Checkpoint()
	if err != nil || !ok || cp != (Checkpoint{Dev: 1, Ino: 2, Offset: 30}) {
		t.Errorf("checkpoint %+v %v %v, want offset 30 after 3 readings", cp, ok, err)
	}
	s.Ack(seal(t, s, 3))
	if err := s.Append(t.Context(), recs(5, 0), &Mark{Dev: 1, Ino: 2, End: 70}); err != nil {
		t.Fatal(err)
	}
	if cp, _, _ := s.Checkpoint(); cp.Offset != 70 {
		t.Errorf("checkpoint %+v after lines with no reading, want offset 70", cp)
	}
}

func TestBlockWaitsForRoom(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "spool.db"), 5, Block)
	ctx := t.Context()
	s.Append(ctx, recs(0, 5), nil)
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if err := s.Append(short, recs(5, 1), nil); err != ErrFull {
		t.Fatalf("append to a full blocking spool: %v, want ErrFull", err)
	}
	done := make(chan error)
	go func() { done <- s.Append(ctx, recs(5, 1), nil) }()
	s.Ack(seal(t, s, 2))
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Append did not resume after room was made")
	}
	if st, _ := s.Stats(); st.Dropped != 0 || st.Depth != 4 {
		t.Errorf("stats %+v", st)
	}
}

func TestConcurrentAppendsAreGrouped(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "spool.db"), 1_000_000, DropOldest)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				if err := s.Append(t.Context(), recs(w*1000+i*10, 10), nil); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	st, _ := s.Stats()
	if st.Depth != 4000 || st.Accepted != 4000 {
		t.Errorf("stats %+v, want 4000 readings", st)
	}
}

func TestSecondOpenIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "spool.db")
	open(t, path, 10, DropOldest)
	_, err := Open(path, 10, DropOldest, nil)
	if err == nil {
		t.Fatal("a second reporter opened the same spool")
	}
	// A library names no command: the spool may not be report's.
	if got := err.Error(); !strings.Contains(got, "another process is using it") || strings.Contains(got, "mapsdevice") {
		t.Errorf("second open: got %q, want it to say another process is using the spool", got)
	}
}

// A damaged file is a DamagedError, never a panic.
func TestDamagedSpool(t *testing.T) {
	good := filepath.Join(t.TempDir(), "good.db")
	s := open(t, good, 1000, DropOldest)
	s.Append(t.Context(), recs(0, 500), nil)
	s.Close()
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	page := os.Getpagesize()
	tests := []struct {
		name string
		data func() []byte
	}{
		{"garbage", func() []byte { return bytes.Repeat([]byte("not a spool "), 1000) }},
		{"meta pages zeroed", func() []byte {
			d := bytes.Clone(data)
			clear(d[:2*page])
			return d
		}},
		{"a data page overwritten", func() []byte {
			d := bytes.Clone(data)
			for i := 2 * page; i < len(d); i += 7 {
				d[i] = 0xff
			}
			return d
		}},
		{"cut short", func() []byte { return bytes.Clone(data[:len(data)/3]) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "spool.db")
			if err := os.WriteFile(path, tt.data(), 0o600); err != nil {
				t.Fatal(err)
			}
			s, err := Open(path, 1000, DropOldest, nil)
			var de *DamagedError
			if !errors.As(err, &de) {
				if s != nil {
					s.Close()
				}
				t.Fatalf("Open: %v, want a DamagedError", err)
			}
			moved, err := MoveAside(path, time.Date(2026, 11, 22, 5, 0, 0, 0, time.UTC))
			if err != nil || moved != path+".damaged-20261122T050000Z" {
				t.Fatalf("MoveAside: %q, %v", moved, err)
			}
			open(t, path, 1000, DropOldest)
		})
	}
}

func TestSymlinkIsNotFollowed(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "elsewhere.db")
	path := filepath.Join(dir, "spool.db")
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(path, 10, DropOldest, nil); !errors.Is(err, ErrSymlink) {
		t.Fatalf("Open through a link: %v, want ErrSymlink", err)
	}
	if _, err := os.Stat(target); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the link's target was created: %v", err)
	}
}

// BenchmarkIngest is spool ingest with grouped commits: 8 writers, each
// appending 100 readings at a time.
func BenchmarkIngest(b *testing.B) {
	s, err := Open(filepath.Join(b.TempDir(), "spool.db"), 1<<30, DropOldest, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	reading := []byte(`{"time":"2026-11-21T22:00:00Z","lat":47.64,"lon":-122.13,"deviceId":"pi-1","temperature":21.5,"humidity":40}`)
	group := make([][]byte, 100)
	for i := range group {
		group[i] = reading
	}
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := s.Append(context.Background(), group, nil); err != nil {
				b.Error(err)
			}
		}
	})
	b.ReportMetric(float64(b.N*len(group))/b.Elapsed().Seconds(), "readings/s")
}

func TestOneAppendLargerThanTheSpool(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "drop.db"), 5, DropOldest)
	if err := s.Append(t.Context(), recs(0, 8), nil); err != nil {
		t.Fatal(err)
	}
	st, _ := s.Stats()
	b := seal(t, s, 10)
	if st.Depth != 5 || st.Dropped != 3 || st.Accepted != 8 || firstLine(b) != `4 {"n":3}` {
		t.Errorf("drop-oldest: stats %+v, first kept %s", st, firstLine(b))
	}
	blocking := open(t, filepath.Join(t.TempDir(), "block.db"), 5, Block)
	done := make(chan error)
	go func() { done <- blocking.Append(t.Context(), recs(0, 8), nil) }()
	time.Sleep(100 * time.Millisecond)
	first := seal(t, blocking, 10)
	if first.Count != 5 {
		t.Fatalf("block: %d readings in before room was made, want 5", first.Count)
	}
	blocking.Ack(first)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if st, _ := blocking.Stats(); st.Accepted != 8 || st.Dropped != 0 || st.Depth != 3 {
		t.Errorf("block: stats %+v", st)
	}
}
