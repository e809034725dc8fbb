package spool

import (
	"context"
	"fmt"
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

func ids() func() string {
	n := 0
	return func() string { n++; return fmt.Sprint("b", n) }
}

func TestAppendNextAckSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "spool.db")
	s := open(t, path, 100, DropOldest)
	ctx := t.Context()
	gen := ids()
	if err := s.Append(ctx, recs(0, 10)); err != nil {
		t.Fatal(err)
	}
	b, ok, err := s.Next(4, gen)
	if err != nil || !ok || len(b.Records) != 4 || string(b.Records[0]) != `{"n":0}` {
		t.Fatalf("Next: %+v %v %v", b, ok, err)
	}
	b.Attempts++
	if err := s.Save(b); err != nil {
		t.Fatal(err)
	}
	s.Close()

	// After a crash the same batch comes back, with its id and attempts.
	s = open(t, path, 100, DropOldest)
	again, _, _ := s.Next(4, gen)
	if again.ID != b.ID || again.Attempts != 1 || len(again.Records) != 4 {
		t.Fatalf("after reopen: %+v, want batch %s with 1 attempt", again, b.ID)
	}
	if err := s.Ack(again); err != nil {
		t.Fatal(err)
	}
	st, _ := s.Stats()
	if st.Depth != 6 || st.Delivered != 4 || st.Accepted != 10 || st.Oldest.IsZero() {
		t.Errorf("stats %+v", st)
	}
	next, _, _ := s.Next(100, gen)
	if next.ID == b.ID || len(next.Records) != 6 || string(next.Records[0]) != `{"n":4}` {
		t.Errorf("next batch %+v", next)
	}
}

func TestDropOldestSparesTheBatchInFlight(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "spool.db"), 10, DropOldest)
	ctx := t.Context()
	s.Append(ctx, recs(0, 10))
	inflight, _, _ := s.Next(3, ids())
	if err := s.Append(ctx, recs(10, 4)); err != nil {
		t.Fatal(err)
	}
	st, _ := s.Stats()
	if st.Depth != 10 || st.Dropped != 4 {
		t.Fatalf("stats %+v, want depth 10 and 4 dropped", st)
	}
	b, _, _ := s.Next(3, ids())
	if b.ID != inflight.ID || string(b.Records[0]) != `{"n":0}` {
		t.Errorf("the batch in flight lost readings: %+v", b)
	}
	s.Ack(b)
	rest, _, _ := s.Next(100, ids())
	if string(rest.Records[0]) != `{"n":7}` {
		t.Errorf("after the batch, want the readings that were not dropped, from 7: %s", rest.Records[0])
	}
}

func TestBlockWaitsForRoom(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "spool.db"), 5, Block)
	ctx := t.Context()
	s.Append(ctx, recs(0, 5))
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if err := s.Append(short, recs(5, 1)); err != ErrFull {
		t.Fatalf("append to a full blocking spool: %v, want ErrFull", err)
	}
	done := make(chan error)
	go func() { done <- s.Append(ctx, recs(5, 1)) }()
	b, _, _ := s.Next(2, ids())
	s.Ack(b)
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
				if err := s.Append(t.Context(), recs(w*1000+i*10, 10)); err != nil {
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
			if err := s.Append(context.Background(), group); err != nil {
				b.Error(err)
			}
		}
	})
	b.ReportMetric(float64(b.N*len(group))/b.Elapsed().Seconds(), "readings/s")
}

func TestOneAppendLargerThanTheSpool(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "drop.db"), 5, DropOldest)
	if err := s.Append(t.Context(), recs(0, 8)); err != nil {
		t.Fatal(err)
	}
	st, _ := s.Stats()
	b, _, _ := s.Next(10, ids())
	if st.Depth != 5 || st.Dropped != 3 || st.Accepted != 8 || string(b.Records[0]) != `{"n":3}` {
		t.Errorf("drop-oldest: stats %+v, first kept %s", st, b.Records[0])
	}
	blocking := open(t, filepath.Join(t.TempDir(), "block.db"), 5, Block)
	done := make(chan error)
	go func() { done <- blocking.Append(t.Context(), recs(0, 8)) }()
	time.Sleep(100 * time.Millisecond)
	first, _, _ := blocking.Next(10, ids())
	if len(first.Records) != 5 {
		t.Fatalf("block: %d readings in before room was made, want 5", len(first.Records))
	}
	blocking.Ack(first)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if st, _ := blocking.Stats(); st.Accepted != 8 || st.Dropped != 0 || st.Depth != 3 {
		t.Errorf("block: stats %+v", st)
	}
}
