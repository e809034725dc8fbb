package cli_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mapsdevice/mapsdevice/emulator"
	"github.com/mapsdevice/mapsdevice/internal/azmaps"
)

func numbered(n int) string {
	return fmt.Sprintf(`{"time":"2026-11-21T10:00:00Z","lat":47.6,"lon":-122.1,"seq":%d}`, n)
}

var batchOf = regexp.MustCompile(`batch (\S+) `)

// eachStored calls fn for every reading of every completed upload in the
// emulator, with its upload's udid and description.
func eachStored(t *testing.T, srv *emulator.Server, fn func(udid, description string, seq int, batchID string)) {
	t.Helper()
	c, err := azmaps.NewClient(azmaps.Config{Endpoint: srv.MapsEndpoint(), Key: srv.SharedKeys()[0], HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	list, err := c.List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range list {
		if m.UploadStatus != "Completed" {
			continue
		}
		var body strings.Builder
		if _, err := c.Download(t.Context(), m.UDID, &body); err != nil {
			t.Fatal(err)
		}
		var fc struct {
			Features []struct {
				Properties struct {
					Seq     int    `json:"seq"`
					BatchID string `json:"batchId"`
				} `json:"properties"`
			} `json:"features"`
		}
		if err := json.Unmarshal([]byte(body.String()), &fc); err != nil {
			t.Fatal(err)
		}
		for _, f := range fc.Features {
			fn(m.UDID, m.Description, f.Properties.Seq, f.Properties.BatchID)
		}
	}
}

// delivered reads every reading back from the emulator: seq → the batch
// ids it arrived under (an upload repeated under one batch id counts once).
func delivered(t *testing.T, srv *emulator.Server) map[int]map[string]bool {
	t.Helper()
	out := map[int]map[string]bool{}
	eachStored(t, srv, func(udid, description string, seq int, batchID string) {
		if mm := batchOf.FindStringSubmatch(description); mm == nil || batchID != mm[1] {
			t.Errorf("upload %s: reading %d says batch %q, description %q", udid, seq, batchID, description)
		}
		if out[seq] == nil {
			out[seq] = map[string]bool{}
		}
		out[seq][batchID] = true
	})
	return out
}

type reportStatus struct {
	Depth        int    `json:"depth"`
	Accepted     uint64 `json:"accepted"`
	Delivered    uint64 `json:"delivered"`
	Dropped      uint64 `json:"dropped"`
	DeadLettered uint64 `json:"deadLettered"`
	LastError    string `json:"lastError"`
}

func statusOf(t *testing.T, e *env) reportStatus {
	t.Helper()
	out, errOut, code := e.run("report", "--status", "--json")
	var st reportStatus
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil {
		t.Fatalf("report --status: exit %d: %s %s", code, out, errOut)
	}
	return st
}

// TestReportCrashes kills the reporter with SIGKILL at random moments, 22
// times, while readings stream in, and checks that every accepted reading
// reached the emulator exactly once, counted by occurrence.
func TestReportCrashes(t *testing.T) {
	t.Parallel()
	srv, vars := inProcess(t, emulator.Options{MapsOperationTime: 300 * time.Millisecond, MapsRate: -1})
	e := signedIn(t, srv, vars, emulator.ContributorUser)
	args := []string{"report", "--batch-size", "40", "--max-delay", "100ms", "--device-id", "pi-crash"}
	deadline := time.Now().Add(60 * time.Second)
	seq := 0
	for kill := 0; kill < 22 && time.Now().Before(deadline); kill++ {
		cmd := e.command(t.Context(), args...)
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		stop := time.Now().Add(time.Duration(100+rand.IntN(600)) * time.Millisecond)
		for time.Now().Before(stop) {
			var b strings.Builder
			for range 5 {
				b.WriteString(numbered(seq) + "\n")
				seq++
			}
			if _, err := io.WriteString(stdin, b.String()); err != nil {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		cmd.Process.Kill()
		cmd.Wait()
	}
	// A last run with no input delivers what is spooled and exits 0.
	if _, errOut, code := e.run(append(args, "--batch-size", "500")...); code != 0 {
		t.Fatalf("final run: exit %d: %s", code, errOut)
	}
	st := statusOf(t, e)
	got := occurrences(t, srv)
	for n, times := range got {
		if times > 1 {
			t.Errorf("reading %d stored %d times", n, times)
		}
	}
	t.Logf("%d readings written, %d accepted, %d delivered, spool %d", seq, st.Accepted, len(got), st.Depth)
	if st.Depth != 0 || uint64(len(got)) != st.Accepted || st.Delivered != st.Accepted {
		t.Errorf("accepted %d, delivered %d (counter %d), still spooled %d: readings were lost", st.Accepted, len(got), st.Delivered, st.Depth)
	}
	if st.Accepted == 0 || st.Accepted > uint64(seq) {
		t.Errorf("accepted %d of %d written", st.Accepted, seq)
	}
}

// TestReportThroughFaults fails 30% of Maps requests in every way the
// emulator can; everything still arrives, with backoff.
func TestReportThroughFaults(t *testing.T) {
	t.Parallel()
	srv, vars := inProcess(t, emulator.Options{MapsOperationTime: 100 * time.Millisecond, MapsRate: -1})
	e := signedIn(t, srv, vars, emulator.ContributorUser)
	srv.SetFaultRate(emulator.EndpointMapData, 0.3,
		emulator.Fault{Status: 500}, emulator.Fault{Status: 503}, emulator.Fault{Status: 429, RetryAfter: "1"},
		emulator.Fault{Status: 429}, emulator.Fault{Reset: true}, emulator.Fault{Delay: 300 * time.Millisecond})
	var in strings.Builder
	for n := range 300 {
		in.WriteString(numbered(n) + "\n")
	}
	input := writeFile(t, e.home, "in.ndjson", in.String())
	began := time.Now()
	const inFlight = 8
	_, errOut, code := e.run("report", "--input", input, "--batch-size", "20", "--max-delay", "50ms", "--in-flight", fmt.Sprint(inFlight))
	took := time.Since(began)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	got := occurrences(t, srv)
	for n := range 300 {
		if got[n] != 1 {
			t.Errorf("reading %d stored %d times", n, got[n])
		}
	}
	requests := 0
	for _, r := range srv.Requests() {
		if r.Endpoint == emulator.EndpointMapData {
			requests++
		}
	}
	// 15 batches need about 3 requests each; retries add to that, but the
	// backoff keeps each batch in flight far from a tight loop: at most
	// 10 requests a second each.
	t.Logf("%d Maps requests in %v for 15 batches", requests, took.Round(time.Millisecond))
	if perSecond := float64(requests) / took.Seconds(); requests > 400 || perSecond > 10*inFlight {
		t.Errorf("%d requests (%.0f/s): retries are not backing off", requests, perSecond)
	}
}

// TestReportSignInNeededMidRun revokes the sign-in while the reporter runs;
// readings keep spooling, and after a new login in another process
// delivery resumes with no restart.
func TestReportSignInNeededMidRun(t *testing.T) {
	t.Parallel()
	srv, vars := inProcess(t, emulator.Options{MapsOperationTime: 100 * time.Millisecond})
	e := signedIn(t, srv, vars, emulator.ContributorUser)
	cmd := e.command(t.Context(), "report", "--batch-size", "10", "--max-delay", "100ms", "--signin-retry", "500ms")
	stdin, _ := cmd.StdinPipe()
	var logs syncBuffer
	cmd.Stdout, cmd.Stderr = io.Discard, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	write := func(from, to int) {
		for n := from; n < to; n++ {
			io.WriteString(stdin, numbered(n)+"\n")
		}
	}
	write(0, 20)
	waitUntil(t, 20*time.Second, func() bool { return len(delivered(t, srv)) == 20 })

	srv.RevokeRefreshTokens(emulator.ContributorUser)
	srv.ExpireAccessTokens()
	write(20, 50)
	waitUntil(t, 20*time.Second, func() bool { return strings.Contains(logs.String(), "sign-in needed") })
	time.Sleep(time.Second)
	if n := len(delivered(t, srv)); n != 20 {
		t.Fatalf("%d readings delivered while signed out", n)
	}
	if strings.Count(logs.String(), "sign-in needed") != 1 {
		t.Errorf("sign-in needed was logged %d times, want once", strings.Count(logs.String(), "sign-in needed"))
	}
	if _, final, code, stderr := login(t, e, func(c string) { srv.Approve(c, "") }); code != 0 {
		t.Fatalf("login: %v %s", final, stderr)
	}
	waitUntil(t, 20*time.Second, func() bool { return len(delivered(t, srv)) == 50 })
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Errorf("reporter: %v\n%s", err, logs.String())
	}
}

func waitUntil(t *testing.T, limit time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestReportSpoolFullAndBadLines: with Maps unreachable, a small spool
// drops its oldest readings and says how many; bad lines land in the
// dead-letter file exactly, and the counts add up.
func TestReportSpoolFullAndBadLines(t *testing.T) {
	t.Parallel()
	_, vars := inProcess(t, emulator.Options{})
	e := newEnv(t, vars...).with("MAPSDEVICE_TOKEN_STORE=file", "MAPSDEVICE_MAPS_KEY=k",
		"MAPSDEVICE_MAPS_ENDPOINT=https://"+freeAddr(t)) // nothing listens there
	bad := []string{`{"time":"yesterday","lat":1,"lon":2}`, `not json at all`, `{"time":"2026-11-21T10:00:00Z","lat":91,"lon":2}`}
	var in strings.Builder
	good := 0
	for n := range 80 {
		if n%20 == 7 && n/20 < len(bad) {
			in.WriteString(bad[n/20] + "\n")
			continue
		}
		in.WriteString(numbered(n) + "\n")
		good++
	}
	input := writeFile(t, e.home, "in.ndjson", in.String())
	cmd := e.command(t.Context(), "report", "--input", input, "--spool-max", "50", "--batch-size", "500")
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// It cannot deliver: stopped once its status file shows every line
	// taken, where a fixed time could run out first on a loaded machine.
	waitUntil(t, 20*time.Second, func() bool {
		out, _, code := e.run("report", "--status", "--json")
		var st reportStatus
		return code == 0 && json.Unmarshal([]byte(out), &st) == nil && st.Accepted+st.DeadLettered >= 80
	})
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	st := statusOf(t, e)
	if st.DeadLettered != 3 || st.Accepted != uint64(good) || st.Depth != 50 || st.Dropped != uint64(good-50) {
		t.Errorf("status %+v: want %d accepted, 50 spooled, %d dropped, 3 dead-lettered", st, good, good-50)
	}
	data, err := os.ReadFile(filepath.Join(e.home, "report", "deadletter.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	var lines []struct {
		Line   int
		Reason string
		Text   string
	}
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var d struct {
			Line   int
			Reason string
			Text   string
		}
		json.Unmarshal([]byte(l), &d)
		lines = append(lines, d)
	}
	if len(lines) != 3 {
		t.Fatalf("dead-letter file has %d lines", len(lines))
	}
	for i, d := range lines {
		if d.Text != bad[i] || d.Line != i*20+8 || d.Reason == "" {
			t.Errorf("dead letter %d: %+v, want line %d %q with a reason", i, d, i*20+8, bad[i])
		}
	}
	out, _, _ := e.run("report", "--status")
	if !strings.Contains(out, fmt.Sprintf("Dropped:       %d", good-50)) || !strings.Contains(out, "Dead-lettered: 3") || !strings.Contains(out, "stopped") {
		t.Errorf("report --status:\n%s", out)
	}
}

// TestReportEvents drives the simulated device across the demo fences and
// checks the enter and exit events, evaluated locally and by the service.
func TestReportEvents(t *testing.T) {
	t.Parallel()
	srv, vars := inProcess(t, emulator.Options{MapsOperationTime: 100 * time.Millisecond, MapsRate: -1})
	e := signedIn(t, srv, vars, emulator.ContributorUser)
	fence := writeFile(t, e.home, "fence.geojson", guideFence)
	udid, _, code := e.run("geofence", "upload", fence)
	if code != 0 {
		t.Fatal("upload failed")
	}
	// West to east and back along 47.6398°N: in and out of the campus
	// polygon and the 500 m circle around (-122.126986, 47.639754).
	want := []string{"enter campus", "enter 001", "exit 001", "exit campus", "enter campus", "enter 001", "exit 001", "exit campus"}
	for _, mode := range [][]string{{"--local-geofence", fence}, {"--geofence-udid", strings.TrimSpace(udid)}, {"--geofence-file", fence}} {
		t.Run(mode[0], func(t *testing.T) {
			out, errOut, code := e.run(append([]string{"report", "--simulate", "--count", "400", "--rate", "400", "--device-id", "truck" + mode[0]}, mode...)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			var got []string
			for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
				var ev struct {
					Event, GeometryID, DeviceID string
					Distance                    float64
				}
				if err := json.Unmarshal([]byte(line), &ev); err != nil {
					t.Fatalf("not an event: %q", line)
				}
				if (ev.Event == "enter") != (ev.Distance < 0) || ev.DeviceID != "truck"+mode[0] {
					t.Errorf("event %+v", ev)
				}
				got = append(got, ev.Event+" "+ev.GeometryID)
			}
			if strings.Join(got, ", ") != strings.Join(want, ", ") {
				t.Errorf("events\n got %v\nwant %v", got, want)
			}
		})
	}
}

// TestReportSIGTERM stops a reporter that is waiting on its input and on
// an unreachable Maps: it exits 0 within seconds, keeping its readings.
func TestReportSIGTERM(t *testing.T) {
	t.Parallel()
	_, vars := inProcess(t, emulator.Options{})
	e := newEnv(t, vars...).with("MAPSDEVICE_TOKEN_STORE=file", "MAPSDEVICE_MAPS_KEY=k",
		"MAPSDEVICE_MAPS_ENDPOINT=https://"+freeAddr(t))
	cmd := e.command(t.Context(), "report", "--batch-size", "5", "--max-delay", "50ms")
	stdin, _ := cmd.StdinPipe()
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for n := range 12 {
		io.WriteString(stdin, numbered(n)+"\n")
	}
	// Stopped once it has taken all 12, as its status file says: a fixed
	// wait could end first on a loaded machine.
	waitUntil(t, 20*time.Second, func() bool {
		out, _, code := e.run("report", "--status", "--json")
		var st reportStatus
		return code == 0 && json.Unmarshal([]byte(out), &st) == nil && st.Accepted == 12
	})
	cmd.Process.Signal(syscall.SIGTERM)
	exited := make(chan error)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v, want 0", err)
		}
	case <-time.After(5 * time.Second):
		cmd.Process.Kill()
		t.Fatal("still running 5 s after SIGTERM")
	}
	if st := statusOf(t, e); st.Accepted != 12 || st.Depth != 12 {
		t.Errorf("after SIGTERM: %+v, want all 12 readings kept", st)
	}
}

// TestReportFollowsAFIFO reads a FIFO with --follow, as the systemd unit
// does: writers come and go, the reporter keeps reading.
func TestReportFollowsAFIFO(t *testing.T) {
	t.Parallel()
	srv, vars := inProcess(t, emulator.Options{MapsOperationTime: 100 * time.Millisecond})
	e := signedIn(t, srv, vars, emulator.ContributorUser)
	fifo := filepath.Join(e.home, "readings.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("no FIFOs here: %v", err)
	}
	cmd := e.command(t.Context(), "report", "--input", fifo, "--follow", "--batch-size", "10", "--max-delay", "100ms")
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	for writer := range 3 {
		w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		for n := writer * 10; n < writer*10+10; n++ {
			io.WriteString(w, numbered(n)+"\n")
		}
		w.Close()
		time.Sleep(300 * time.Millisecond)
	}
	waitUntil(t, 20*time.Second, func() bool { return len(delivered(t, srv)) == 30 })
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("after SIGTERM: %v", err)
	}
}

// TestReportBadInputLeavesNoState refuses an --input that cannot be opened
// before it makes the state folder: a mistyped run leaves nothing behind.
func TestReportBadInputLeavesNoState(t *testing.T) {
	t.Parallel()
	_, vars := inProcess(t, emulator.Options{})
	e := newEnv(t, vars...).with("MAPSDEVICE_TOKEN_STORE=file", "MAPSDEVICE_MAPS_KEY=k",
		"MAPSDEVICE_MAPS_ENDPOINT=https://"+freeAddr(t))
	// A socket is there to stat but cannot be opened, even by root.
	sock := filepath.Join(e.home, "in.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, errOut, code := e.run("report", "--input", sock)
	if code != 64 || !strings.Contains(errOut, "--input") {
		t.Errorf("exit %d: %s, want 64 naming --input", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(e.home, "report")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("state folder after a bad --input: %v, want none", err)
	}
}

// TestReportEventsAtEndOfInput reads a file that goes in and out of a
// fence at every reading: each transition is one event on stdout, also
// those still being checked when delivery is done and the input has ended.
func TestReportEventsAtEndOfInput(t *testing.T) {
	t.Parallel()
	const n = 2000
	// Delivery done at once, so the end of input is also the end of the
	// run, while service checks are still going.
	srv, vars := inProcess(t, emulator.Options{MapsRate: -1, MapsOperationTime: time.Millisecond})
	e := newEnv(t, vars...).with("MAPSDEVICE_TOKEN_STORE=file", "MAPSDEVICE_MAPS_KEY="+srv.SharedKeys()[0],
		"MAPSDEVICE_MAPS_ENDPOINT="+srv.MapsEndpoint())
	fence := writeFile(t, e.home, "fence.geojson", `{"type":"FeatureCollection","features":[
 {"type":"Feature","geometry":{"type":"Point","coordinates":[-122.126986,47.639754]},"properties":{"geometryId":"circle","radius":500,"subType":"Circle"}}]}`)
	start := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	var in strings.Builder
	for i := range n {
		lon := -122.127 // inside at even seconds
		if i%2 == 1 {
			lon = -122.2
		}
		fmt.Fprintf(&in, `{"time":%q,"lat":47.6398,"lon":%v,"seq":%d}`+"\n", start.Add(time.Duration(i)*time.Second).Format(time.RFC3339), lon, i)
	}
	input := writeFile(t, e.home, "in.ndjson", in.String())
	for _, fences := range []string{"--local-geofence", "--geofence-file"} {
		t.Run(fences, func(t *testing.T) {
			out, errOut, code := e.run("report", "--input", input, fences, fence, "--batch-size", "100000", "--device-id", "pi"+fences)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			byReading := map[int]int{}
			for line := range strings.Lines(out) {
				var ev struct {
					Event, GeometryID string
					Time              time.Time
				}
				if err := json.Unmarshal([]byte(line), &ev); err != nil {
					t.Fatalf("not an event: %q", line)
				}
				i := int(ev.Time.Sub(start) / time.Second)
				if want := map[bool]string{true: "enter", false: "exit"}[i%2 == 0]; ev.Event != want || ev.GeometryID != "circle" {
					t.Errorf("event %q: want %s circle", line, want)
				}
				byReading[i]++
			}
			var lost, dup int
			for i := range n {
				switch c := byReading[i]; {
				case c == 0:
					lost++
				case c > 1:
					dup++
				}
			}
			if lost > 0 || dup > 0 || len(byReading) != n-lost {
				t.Errorf("%d readings: %d events lost, %d duplicated, %d for readings not in the input", n, lost, dup, len(byReading)-(n-lost))
			}
		})
	}
}

// TestReportWaitsWithoutSpinning: while the last batches are on their way
// to a slow destination, the reporter waits, it does not spin. A loop
// that polled the spool while draining once kept a whole core busy for
// as long as delivery took, which on a Pi starves the sensor.
func TestReportWaitsWithoutSpinning(t *testing.T) {
	t.Parallel()
	srv, vars := inProcess(t, emulator.Options{MapsOperationTime: 600 * time.Millisecond, MapsRate: -1})
	e := signedIn(t, srv, vars, emulator.ContributorUser)
	var in strings.Builder
	for n := range 400 {
		in.WriteString(numbered(n) + "\n")
	}
	input := writeFile(t, e.home, "in.ndjson", in.String())
	cmd := e.command(t.Context(), "report", "--input", input, "--batch-size", "100", "--in-flight", "1", "--max-delay", "50ms")
	var errb strings.Builder
	cmd.Stderr = &errb
	began := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("report: %v: %s", err, errb.String())
	}
	wall := time.Since(began)
	cpu := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	t.Logf("4 batches in %v, %v of CPU", wall.Round(time.Millisecond), cpu.Round(time.Millisecond))
	// Four batches each wait at least 600 ms for their upload to finish;
	// the work itself is a small part of that. A spinning loop uses a
	// core the whole time.
	if wall < 2*time.Second || cpu > wall/2 {
		t.Errorf("%v of CPU in %v of waiting for the destination: the reporter is busy while it waits", cpu, wall)
	}
	got := occurrences(t, srv)
	for n := range 400 {
		if got[n] != 1 {
			t.Errorf("reading %d stored %d times", n, got[n])
		}
	}
}
