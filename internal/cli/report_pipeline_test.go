package cli_test

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mapsdevice/mapsdevice/emulator"
)

// occurrences counts, by seq, every reading the emulator stores, by
// occurrence: a reading stored in two uploads counts twice, whatever
// their batch ids.
func occurrences(t *testing.T, srv *emulator.Server) map[int]int {
	t.Helper()
	out := map[int]int{}
	eachStored(t, srv, func(_, _ string, seq int, _ string) { out[seq]++ })
	return out
}

// TestReportFollowSurvivesSIGKILL follows a file written in pieces, rotated
// and truncated, killing the reporter with SIGKILL 20 times: every line
// written is stored exactly once.
func TestReportFollowSurvivesSIGKILL(t *testing.T) {
	t.Parallel()
	srv, vars := inProcess(t, emulator.Options{MapsOperationTime: 50 * time.Millisecond, MapsRate: -1})
	e := signedIn(t, srv, vars, emulator.ContributorUser)
	path := filepath.Join(t.TempDir(), "readings.ndjson")
	args := []string{"report", "--input", path, "--follow", "--batch-size", "20", "--max-delay", "100ms", "--device-id", "pi-follow"}
	rng := rand.New(rand.NewPCG(12, 0))
	seq, rotations, truncations := 0, 0, 0
	var partial string // a line written only in part
	write := func(name string, lines int) {
		f, err := os.OpenFile(name, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		var b strings.Builder
		b.WriteString(partial)
		for range lines {
			b.WriteString(numbered(seq) + "\n")
			seq++
		}
		// End in the middle of the next line, sometimes.
		s, next := b.String(), ""
		if rng.IntN(2) == 0 {
			whole := numbered(seq) + "\n"
			cut := 1 + rng.IntN(len(whole)-2)
			s, next = s+whole[:cut], whole[cut:]
			seq++
		}
		if _, err := f.WriteString(s); err != nil {
			t.Fatal(err)
		}
		partial = next
	}
	finishLine := func(name string) {
		if partial != "" {
			f, _ := os.OpenFile(name, os.O_WRONLY|os.O_APPEND, 0)
			f.WriteString(partial)
			f.Close()
			partial = ""
		}
	}
	write(path, 10)
	for kill := range 20 {
		cmd := e.command(t.Context(), args...)
		cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		for range 1 + rng.IntN(4) {
			write(path, rng.IntN(15))
			time.Sleep(time.Duration(20+rng.IntN(100)) * time.Millisecond)
		}
		switch kill % 5 {
		case 1: // rename rotation: the old file gets its last lines
			finishLine(path)
			old := fmt.Sprintf("%s.%d", path, kill)
			if err := os.Rename(path, old); err != nil {
				t.Fatal(err)
			}
			write(old, 3)
			finishLine(old)
			write(path, 5)
			rotations++
		case 3: // copytruncate, once the reporter has read everything
			finishLine(path)
			want := uint64(seq)
			waitUntil(t, 20*time.Second, func() bool { return statusOf(t, e).Accepted == want })
			if err := os.Truncate(path, 0); err != nil {
				t.Fatal(err)
			}
			time.Sleep(500 * time.Millisecond) // a poll sees the file shorter
			write(path, 5)
			truncations++
		}
		time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond)
		cmd.Process.Kill()
		cmd.Wait()
		if kill%4 == 2 { // written while the reporter is down
			write(path, 7)
		}
	}
	finishLine(path)
	// A last run reads to the end and delivers; SIGTERM stops it.
	cmd := e.command(t.Context(), args...)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 60*time.Second, func() bool { return len(occurrences(t, srv)) >= seq })
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("after SIGTERM: %v", err)
	}
	got := occurrences(t, srv)
	var lost, dup []int
	for s := range seq {
		switch got[s] {
		case 0:
			lost = append(lost, s)
		case 1:
		default:
			dup = append(dup, s)
		}
	}
	if len(lost) > 0 || len(dup) > 0 || len(got) != seq {
		t.Errorf("%d lines written: %d lost %v, %d duplicated %v, %d unknown", seq, len(lost), lost, len(dup), dup, len(got)-seq+len(lost))
	}
	if st := statusOf(t, e); st.Accepted != uint64(seq) || st.DeadLettered != 0 {
		t.Errorf("status %+v, want %d accepted, none dead-lettered", st, seq)
	}
	t.Logf("%d lines, 20 SIGKILLs, %d rotations, %d truncations", seq, rotations, truncations)
}

// TestReportSIGTERMWhileOpeningAFIFO stops a reporter still waiting in
// open(2) for a FIFO's first writer.
func TestReportSIGTERMWhileOpeningAFIFO(t *testing.T) {
	t.Parallel()
	_, vars := inProcess(t, emulator.Options{})
	e := newEnv(t, vars...).with("MAPSDEVICE_TOKEN_STORE=file", "MAPSDEVICE_MAPS_KEY=k",
		"MAPSDEVICE_MAPS_ENDPOINT=https://"+freeAddr(t))
	fifo := filepath.Join(e.home, "readings.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := e.command(t.Context(), "report", "--input", fifo)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGTERM)
	exited := make(chan error)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v, want 0 as the README says", err)
		}
	case <-time.After(5 * time.Second):
		cmd.Process.Kill()
		<-exited
		t.Fatal("still waiting for a FIFO writer 5 s after SIGTERM")
	}
}

// TestReportHostileStateFolder refuses to write through links planted in
// the state folder: a storage failure, exit 1, and the target untouched.
func TestReportHostileStateFolder(t *testing.T) {
	t.Parallel()
	_, vars := inProcess(t, emulator.Options{})
	for _, name := range []string{"deadletter.ndjson", "spool.db"} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, vars...).with("MAPSDEVICE_TOKEN_STORE=file", "MAPSDEVICE_MAPS_KEY=k",
				"MAPSDEVICE_MAPS_ENDPOINT=https://"+freeAddr(t))
			dir := filepath.Join(e.home, "report")
			os.MkdirAll(dir, 0o755)
			victim := writeFile(t, t.TempDir(), "victim", "precious")
			if err := os.Symlink(victim, filepath.Join(dir, name)); err != nil {
				t.Fatal(err)
			}
			out, errOut, code := e.run("report", "--json", "--input", writeFile(t, e.home, "in.ndjson", numbered(1)+"\n"))
			var ev struct{ Event, Code string }
			json.Unmarshal([]byte(strings.TrimSpace(out)), &ev)
			if code != 1 || ev.Code != "storage" || !strings.Contains(errOut, "link") {
				t.Errorf("exit %d, event %+v: %s; want 1, storage, naming the link", code, ev, errOut)
			}
			if data, _ := os.ReadFile(victim); string(data) != "precious" {
				t.Errorf("written through the link: %q", data)
			}
			if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
				t.Errorf("report/ mode %v, want 0700", fi.Mode().Perm())
			}
		})
	}
}

// TestReportStatusRunningAgrees: a status left "running" by a process
// that is gone reads as stopped in both views.
func TestReportStatusRunningAgrees(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dir := filepath.Join(e.home, "report")
	os.MkdirAll(dir, 0o700)
	// A pid far above any pid_max: no such process.
	writeFile(t, dir, "status.json", `{"running":true,"pid":2147483000,"updated":"2026-11-22T05:00:00Z"}`)
	out, _, code := e.run("report", "--status", "--json")
	var ev struct{ Running bool }
	if code != 0 || json.Unmarshal([]byte(out), &ev) != nil || ev.Running {
		t.Errorf("--status --json: exit %d %s; want running false", code, out)
	}
	text, _, _ := e.run("report", "--status")
	if !strings.Contains(text, "stopped") {
		t.Errorf("--status: %s; want stopped", text)
	}
}

// TestReportSinkUsage names what a sink is missing before anything starts.
func TestReportSinkUsage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--sink", "ftp"}, "--sink \"ftp\""},
		{[]string{"--sink", "blob"}, "--blob-url"},
		{[]string{"--sink", "eventhubs"}, "--eventhub-url"},
		{[]string{"--sink", "https", "--https-url", "https://api.example/readings"}, "--https-scope"},
		{[]string{"--sink", "https", "--https-url", "https://api.example/readings", "--https-scope", "api://8e4c/Readings.Write"}, "looks like a scope"},
		{[]string{"--sink", "https", "--https-url", "https://api.example/readings", "--https-scope", "api://8e4c/.default"}, "leave out /.default"},
		{[]string{"--sink", "https", "--https-url", "https://api.example/readings", "--https-scope", "Readings.Write"}, "is not a URI"},
		{[]string{"--in-flight", "0"}, "in-flight"},
		{[]string{"--max-future", "0s"}, "max-future"},
	}
	for _, tt := range tests {
		_, errOut, code := e.run(append([]string{"report"}, tt.args...)...)
		if code != 64 || !strings.Contains(errOut, tt.want) {
			t.Errorf("report %v: exit %d %q; want 64 naming %s", tt.args, code, errOut, tt.want)
		}
	}
	if _, err := os.Stat(filepath.Join(e.home, "report")); err == nil {
		t.Error("a usage error left a state folder")
	}
}
