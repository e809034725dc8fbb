package cli_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/mapsdevice/mapsdevice/internal/cli"
	"github.com/mapsdevice/mapsdevice/internal/geofence"
	"github.com/mapsdevice/mapsdevice/internal/report"
)

// These tests run cli.Main in this process, with buffers for stdio and
// the terminal flags each test chooses. They change the environment, so
// none runs in parallel; each checks that no goroutine outlives it.

// hermetic clears every MAPSDEVICE_* variable, points the config file at
// nothing and the state folder at a fresh one, and checks for leaked
// goroutines when the test ends (after its other clean-ups).
func hermetic(t *testing.T) string {
	t.Helper()
	before := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, before) })
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "MAPSDEVICE_") {
			t.Setenv(k, "")
		}
	}
	home := t.TempDir()
	t.Setenv("MAPSDEVICE_CONFIG", filepath.Join(home, "no-config"))
	t.Setenv("MAPSDEVICE_HOME", home)
	t.Setenv("MAPSDEVICE_TOKEN_STORE", "file")
	return home
}

// result is what one run of cli.Main left.
type result struct {
	out, err string
	code     int
}

// mainWith runs cli.Main with stdin and the terminal flags of stdio.
func mainWith(t *testing.T, stdio cli.Stdio, stdin string, args ...string) result {
	t.Helper()
	return mainCtx(t.Context(), stdio, stdin, args...)
}

// mainCtx is mainWith with a context that may end, as a signal ends main's.
func mainCtx(ctx context.Context, stdio cli.Stdio, stdin string, args ...string) result {
	var out, errb bytes.Buffer
	stdio.In, stdio.Out, stdio.Err = strings.NewReader(stdin), &out, &errb
	code := cli.Main(ctx, args, stdio)
	return result{out: out.String(), err: errb.String(), code: code}
}

// runMain runs cli.Main with no terminals and nothing on stdin.
func runMain(t *testing.T, args ...string) result {
	t.Helper()
	return mainWith(t, cli.Stdio{}, "", args...)
}

// events decodes stdout as NDJSON, failing on any other line.
func (r result) events(t *testing.T) []map[string]any {
	t.Helper()
	var evs []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(r.out), "\n") {
		if line == "" {
			continue
		}
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("stdout line is not JSON: %q", line)
		}
		evs = append(evs, ev)
	}
	return evs
}

// errorEvent is the error event that must end stdout.
func (r result) errorEvent(t *testing.T) map[string]any {
	t.Helper()
	evs := r.events(t)
	if len(evs) == 0 {
		t.Fatalf("no error event on stdout; stderr: %s", r.err)
	}
	last := evs[len(evs)-1]
	if last["event"] != "error" || last["code"] == "" || last["message"] == "" {
		t.Fatalf("last event %v, want an error event with code and message", last)
	}
	return last
}

const badFence = `{"type":"FeatureCollection","features":[
 {"type":"Feature","geometry":{"type":"Point","coordinates":[-122.126986,47.639754]},"properties":{"geometryId":"001","radius":50000}}]}`

// TestUsageErrors: every kind of usage error exits 64, says on stderr
// what was wrong and where help is, and with --json writes exactly one
// error event on stdout.
func TestUsageErrors(t *testing.T) {
	home := hermetic(t)
	dir := t.TempDir()
	good := writeFile(t, home, "good.geojson", guideFence)
	tests := []struct {
		name     string
		env      []string // KEY=VALUE
		args     []string
		wantCode string
		wantErr  string // on stderr
	}{
		{"root flag", nil, []string{"--nope", "--json"}, "usage", "-nope"},
		{"unknown command", nil, []string{"frobnicate", "--json"}, "usage", `unknown command "frobnicate"`},
		{"unknown geofence command", nil, []string{"geofence", "frob", "--json"}, "usage", `unknown geofence command "frob"`},
		{"undefined flag before --json", nil, []string{"status", "--nope", "--json"}, "usage", "-nope"},
		{"undefined flag, json from env", []string{"MAPSDEVICE_JSON=true"}, []string{"token", "--nope"}, "usage", "-nope"},
		{"flag value", nil, []string{"report", "--rate", "fast", "--json"}, "usage", `invalid value "fast" for flag -rate`},
		{"flag without value", nil, []string{"report", "--json", "--rate"}, "usage", "rate"},
		{"env value", []string{"MAPSDEVICE_BATCH_SIZE=many"}, []string{"report", "--json"}, "usage", `MAPSDEVICE_BATCH_SIZE="many" is not a valid value for --batch-size`},
		{"value that looks like --json", nil, []string{"status", "--client-id", "--json", "--nope", "--json"}, "usage", "-nope"},
		{"no-argument command", nil, []string{"token", "extra", "--json"}, "usage", `token takes no arguments, got "extra"`},
		{"missing argument", nil, []string{"geofence", "upload", "--json"}, "usage", "upload takes one argument, FILE; got 0"},
		{"too many arguments", nil, []string{"geofence", "update", "u", "--json", "f", "g"}, "usage", "update takes two arguments"},
		{"api without PATH", nil, []string{"api", "--json"}, "usage", "api takes one PATH"},
		{"flag after argument", nil, []string{"geofence", "get", "u", "--nope", "--json"}, "usage", "-nope"},
		{"NaN rate", nil, []string{"report", "--simulate", "--rate", "NaN", "--json"}, "usage", "--rate NaN: use a number from 0.001 to 1000000"},
		{"infinite rate", nil, []string{"report", "--simulate", "--rate", "+Inf", "--json"}, "usage", "--rate +Inf"},
		{"zero rate", nil, []string{"report", "--simulate", "--rate", "0", "--json"}, "usage", "--rate 0"},
		{"rate too high", nil, []string{"report", "--simulate", "--rate", "1e12", "--json"}, "usage", "--rate 1000000000000"},
		{"negative count", nil, []string{"report", "--simulate", "--count", "-1", "--json"}, "usage", "--count -1: use 0 or more"},
		{"zero batch size", nil, []string{"report", "--batch-size", "0", "--json"}, "usage", "--batch-size 0: use 1 to 100000"},
		{"huge batch size", nil, []string{"report", "--batch-size", "1000000", "--json"}, "usage", "--batch-size 1000000: use 1 to 100000"},
		{"negative max delay", nil, []string{"report", "--max-delay", "-1s", "--json"}, "usage", "--max-delay -1s"},
		{"zero spool", nil, []string{"report", "--spool-max", "0", "--json"}, "usage", "--spool-max 0"},
		{"zero sign-in retry", nil, []string{"report", "--signin-retry", "0s", "--json"}, "usage", "--signin-retry 0s"},
		{"spool policy", nil, []string{"report", "--spool-full", "panic", "--json"}, "usage", "--spool-full"},
		{"log format", nil, []string{"report", "--log-format", "xml", "--json"}, "usage", "--log-format"},
		{"two fence sources", nil, []string{"report", "--geofence-udid", "u", "--local-geofence", good, "--json"}, "usage", "use one of"},
		{"negative renew", nil, []string{"login", "--renew", "-1", "--json"}, "usage", "--renew -1"},
		{"latitude NaN", nil, []string{"geofence", "check", "--udid", "u", "--lat", "NaN", "--lon", "0", "--json"}, "usage", "--lat NaN: use a number from -90 to 90"},
		{"longitude out of range", nil, []string{"geofence", "check", "--udid", "u", "--lat", "0", "--lon", "200", "--json"}, "usage", "--lon 200"},
		{"altitude infinite", nil, []string{"geofence", "check", "--udid", "u", "--lat", "0", "--lon", "0", "--z", "-Inf", "--json"}, "usage", "--z -Inf"},
		{"search buffer", nil, []string{"geofence", "check", "--udid", "u", "--lat", "0", "--lon", "0", "--search-buffer", "501", "--json"}, "usage", "--search-buffer 501: use a number from 0 to 500"},
		{"no position", nil, []string{"geofence", "check", "--udid", "u", "--json"}, "usage", "--lat and --lon are required"},
		{"no fences", nil, []string{"geofence", "check", "--lat", "0", "--lon", "0", "--json"}, "usage", "give either --file"},
		{"check with only --lat", nil, []string{"geofence", "check", "--file", good, "--lat", "0", "--json"}, "usage", "give both --lat and --lon"},
		{"check --remote without a position", nil, []string{"geofence", "check", "--file", good, "--remote", "--json"}, "usage", "--lat and --lon are required"},
		{"check remote from the environment", []string{"MAPSDEVICE_REMOTE=true"}, []string{"geofence", "check", "--file", good, "--json"}, "usage", "required with --udid or --remote"},
		{"check fences on stdin without a position", nil, []string{"geofence", "check", "--file", "-", "--json"}, "usage", "stdin holds the fences"},
		{"check mode on the device", nil, []string{"geofence", "check", "--file", good, "--lat", "0", "--lon", "0", "--mode", "EnterAndExit", "--json"}, "usage", "--mode EnterAndExit is for the service"},
		{"check latitude on the device", nil, []string{"geofence", "check", "--file", good, "--lat", "91", "--lon", "0", "--json"}, "usage", "--lat 91: use a number from -90 to 90"},
		{"check a missing file", nil, []string{"geofence", "check", "--file", filepath.Join(dir, "none.geojson"), "--lat", "0", "--lon", "0", "--json"}, "usage", "no such file"},
		{"bad time", nil, []string{"geofence", "check", "--udid", "u", "--lat", "0", "--lon", "0", "--time", "noon", "--json"}, "usage", "RFC 3339"},
		{"geography", nil, []string{"geofence", "list", "--geography", "mars", "--json"}, "usage", "--geography"},
		{"token store", nil, []string{"status", "--client-id", "c", "--token-store", "cloud", "--json"}, "usage", "--token-store"},
		{"profile", nil, []string{"status", "--client-id", "c", "--profile", "../x", "--json"}, "usage", "--profile"},
		{"CA file is a folder", nil, []string{"status", "--client-id", "c", "--ca-file", dir, "--json"}, "usage", "--ca-file"},
		{"CA file without certificates", nil, []string{"token", "--client-id", "c", "--ca-file", good, "--json"}, "usage", "no PEM certificate"},
		{"absolute api PATH", nil, []string{"api", "https://example.com/x", "--json"}, "usage", "must be a path"},
		{"api query", nil, []string{"api", "/x", "--query", "novalue", "--json"}, "usage", "--query"},
		{"api data folder", nil, []string{"api", "/x", "--data", "@" + dir, "--maps-key", "k", "--json"}, "usage", "is a folder"},
		{"api method", nil, []string{"api", "/x", "-X", "BAD METHOD", "--maps-key", "k", "--json"}, "usage", "HTTP method"},
		{"upload a folder", nil, []string{"geofence", "upload", dir, "--maps-key", "k", "--json"}, "usage", "is a folder"},
		{"upload a missing file", nil, []string{"geofence", "upload", filepath.Join(dir, "none.geojson"), "--maps-key", "k", "--json"}, "usage", "no such file"},
		{"update a folder", nil, []string{"geofence", "update", "u", dir, "--maps-key", "k", "--json"}, "usage", "is a folder"},
		{"validate a folder", nil, []string{"geofence", "validate", dir, "--json"}, "usage", "is a folder"},
		{"check with a folder", nil, []string{"geofence", "check", "--file", dir, "--lat", "0", "--lon", "0", "--json"}, "usage", "is a folder"},
		{"check a folder from stdin", nil, []string{"geofence", "check", "--file", dir, "--json"}, "usage", "is a folder"},
		{"report input folder", nil, []string{"report", "--input", dir, "--maps-key", "k", "--json"}, "usage", "--input " + dir + " is a folder"},
		{"report local fences folder", nil, []string{"report", "--local-geofence", dir, "--json"}, "usage", "is a folder"},
		{"report fence file folder", nil, []string{"report", "--geofence-file", dir, "--json"}, "usage", "is a folder"},
		{"no client id", nil, []string{"status", "--json"}, "no_client_id", "Allow public client flows"},
		{"no Maps client id", nil, []string{"geofence", "list", "--json"}, "no_maps_client_id", "--maps-client-id"},
		{"emulator interval", nil, []string{"emulator", "--interval", "1500ms"}, "", "--interval"},
		{"emulator rate", nil, []string{"emulator", "--maps-rate", "NaN"}, "", "--maps-rate NaN"},
		{"emulator lifetime", nil, []string{"emulator", "--expires-in", "0s"}, "", "--expires-in"},
		{"emulator quota", nil, []string{"emulator", "--storage-quota", "0"}, "", "--storage-quota 0"},
		{"emulator users file", nil, []string{"emulator", "--users-file", dir}, "", dir},
		{"demo approve-after", nil, []string{"demo", "--approve-after", "0s", "--json"}, "usage", "--approve-after"},
		{"version argument", nil, []string{"version", "now"}, "", "version takes no arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, kv := range tt.env {
				k, v, _ := strings.Cut(kv, "=")
				t.Setenv(k, v)
			}
			r := runMain(t, tt.args...)
			if r.code != cli.ExitUsage {
				t.Errorf("exit %d, want %d; stderr: %s", r.code, cli.ExitUsage, r.err)
			}
			if !strings.Contains(r.err, tt.wantErr) {
				t.Errorf("stderr %q does not say %q", r.err, tt.wantErr)
			}
			if tt.wantCode == "" { // a command with no --json
				if r.out != "" {
					t.Errorf("stdout %q, want nothing", r.out)
				}
				return
			}
			if evs := r.events(t); len(evs) != 1 {
				t.Fatalf("%d lines on stdout, want one error event: %s", len(evs), r.out)
			}
			ev := r.errorEvent(t)
			if ev["code"] != tt.wantCode {
				t.Errorf("code %v, want %s", ev["code"], tt.wantCode)
			}
			if msg := ev["message"].(string); !strings.Contains(msg, tt.wantErr) {
				t.Errorf("message %q does not say %q", msg, tt.wantErr)
			}
		})
	}
}

// TestUsageErrorWithoutJSON: without --json (or with --json=false over
// MAPSDEVICE_JSON) nothing goes to stdout, and the error is said once.
func TestUsageErrorWithoutJSON(t *testing.T) {
	hermetic(t)
	for _, args := range [][]string{
		{"status", "--nope"},
		{"frobnicate"},
		{"report", "--rate", "NaN", "--json=false"},
	} {
		t.Setenv("MAPSDEVICE_JSON", "")
		if args[len(args)-1] == "--json=false" {
			t.Setenv("MAPSDEVICE_JSON", "1")
		}
		r := runMain(t, args...)
		if r.code != cli.ExitUsage || r.out != "" {
			t.Errorf("%v: exit %d, stdout %q; want 64 and nothing", args, r.code, r.out)
		}
		if n := strings.Count(r.err, "--help' for usage"); n != 1 {
			t.Errorf("%v: the error was said %d times:\n%s", args, n, r.err)
		}
	}
}

// TestJSONFromConfigFile: a config file line "json true" asks for JSON
// even when the command line does not parse; a flag still wins over it.
func TestJSONFromConfigFile(t *testing.T) {
	home := hermetic(t)
	t.Setenv("MAPSDEVICE_CONFIG", writeFile(t, home, "config", "json true\n"))
	r := runMain(t, "status", "--nope")
	if r.code != cli.ExitUsage || r.errorEvent(t)["code"] != "usage" {
		t.Errorf("exit %d: %q", r.code, r.out)
	}
	if r := runMain(t, "status", "--json=false", "--nope"); r.out != "" {
		t.Errorf("--json=false over the file: stdout %q", r.out)
	}
}

// TestInvalidGeofenceFiles: a local geofence file that breaks the rules is
// invalid input (65) wherever it is given, and says what is wrong.
func TestInvalidGeofenceFiles(t *testing.T) {
	home := hermetic(t)
	bad := writeFile(t, home, "bad.geojson", badFence)
	for _, args := range [][]string{
		{"report", "--geofence-file", bad, "--maps-key", "k", "--json"},
		{"report", "--local-geofence", bad, "--maps-key", "k", "--json"},
	} {
		r := runMain(t, args...)
		if r.code != cli.ExitData {
			t.Errorf("%v: exit %d, want 65; stderr %s", args[1], r.code, r.err)
		}
		ev := r.errorEvent(t)
		if ev["code"] != "invalid_geojson" || !strings.Contains(ev["message"].(string), "radius 50000 is out of range") {
			t.Errorf("%v: %v", args[1], ev)
		}
		if !strings.Contains(r.err, args[1]+" "+bad+" has 1 problem(s)") {
			t.Errorf("%v: stderr does not name the file and the problem:\n%s", args[1], r.err)
		}
	}
}

func TestGeofenceValidateInProcess(t *testing.T) {
	home := hermetic(t)
	bad := writeFile(t, home, "bad.geojson", badFence)
	good := writeFile(t, home, "good.geojson", guideFence)

	r := runMain(t, "geofence", "validate", bad, "--json")
	evs := r.events(t)
	if r.code != cli.ExitData || len(evs) != 2 || evs[0]["event"] != "validated" || evs[0]["valid"] != false {
		t.Fatalf("invalid file: exit %d, events %v", r.code, evs)
	}
	if ev := r.errorEvent(t); ev["code"] != "invalid_geojson" {
		t.Errorf("error event %v", ev)
	}
	if r.err != "" {
		t.Errorf("stderr %q: the problems are the result, said once", r.err)
	}

	r = runMain(t, "geofence", "validate", good, "--json")
	evs = r.events(t)
	if r.code != 0 || len(evs) != 1 || evs[0]["valid"] != true || evs[0]["fences"] != float64(2) {
		t.Errorf("valid file: exit %d, events %v", r.code, evs)
	}

	r = mainWith(t, cli.Stdio{}, guideFence, "geofence", "validate", "-")
	if r.code != 0 || !strings.Contains(r.out, "- is a valid geofence file with 2 fence(s)") {
		t.Errorf("from stdin: exit %d: %s %s", r.code, r.out, r.err)
	}
	r = runMain(t, "geofence", "validate", bad)
	if r.code != cli.ExitData || !strings.Contains(r.out, "1 problem(s)") || !strings.Contains(r.out, "radius 50000") {
		t.Errorf("plain: exit %d: %s", r.code, r.out)
	}
}

// TestReportStatusWithoutReporter: report --status with no reporter ever
// run in the state folder is an error that says what to do.
func TestReportStatusWithoutReporter(t *testing.T) {
	hermetic(t)
	r := runMain(t, "report", "--status", "--json")
	if r.code != cli.ExitError || r.errorEvent(t)["code"] != "no_status" || !strings.Contains(r.err, "mapsdevice report") {
		t.Errorf("exit %d: %s %s", r.code, r.out, r.err)
	}
}

// TestReportStopsSimulation stops an endless simulated device, as SIGTERM
// does, while Maps cannot be reached: report exits 0 with the readings
// kept, and the simulator's goroutine has ended (hermetic checks).
func TestReportStopsSimulation(t *testing.T) {
	home := hermetic(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan result, 1)
	addr := freeAddr(t)
	go func() {
		done <- mainCtx(ctx, cli.Stdio{}, "", "report", "--simulate", "--rate", "100", "--maps-key", "k",
			"--maps-endpoint", "https://"+addr, "--batch-size", "1000")
	}()
	// Stopped once its status file shows readings spooled: a fixed time
	// could run out before a loaded machine had spooled any.
	waitUntil(t, 20*time.Second, func() bool {
		st, err := report.ReadStatus(filepath.Join(home, "report"))
		return err == nil && st.Accepted > 0
	})
	cancel()
	r := <-done
	if r.code != 0 {
		t.Fatalf("exit %d after the stop: %s", r.code, r.err)
	}
	st := runMain(t, "report", "--status", "--json").events(t)
	if len(st) != 1 || st[0]["accepted"] == float64(0) || st[0]["accepted"] != st[0]["depth"] {
		t.Errorf("status %v: want the readings accepted and still spooled", st)
	}
}

func TestVersionInProcess(t *testing.T) {
	hermetic(t)
	r := runMain(t, "version")
	if r.code != 0 || !strings.HasPrefix(r.out, "mapsdevice ") {
		t.Errorf("exit %d: %q", r.code, r.out)
	}
}

// The emulator has no --json; a bad --listen is still a usage error.
func TestEmulatorBadListen(t *testing.T) {
	hermetic(t)
	r := runMain(t, "emulator", "--listen", "bogus")
	if r.code != 64 || !strings.Contains(r.err, "--listen") || r.out != "" {
		t.Errorf("exit %d, stdout %q, stderr %q; want 64 and what to fix", r.code, r.out, r.err)
	}
}

// TestGeofenceCheckOnDevice checks positions against a local file with no
// sign-in settings at all: one from the flags, a thousand from stdin in
// order with a bad line among them, and an invalid file.
func TestGeofenceCheckOnDevice(t *testing.T) {
	home := hermetic(t) // no client id, no Maps client id, no key
	fence := writeFile(t, home, "fence.geojson", guideFence)
	fences, err := geofence.ParseBytes([]byte(guideFence))
	if err != nil {
		t.Fatal(err)
	}

	t.Run("one position", func(t *testing.T) {
		r := runMain(t, "geofence", "check", "--file", fence, "--lat", "47.639754", "--lon", "-122.126986")
		if r.code != 0 || !strings.Contains(r.out, "001          inside  -500.0 m from the border") || !strings.Contains(r.out, "campus       inside  more than 500 m") {
			t.Errorf("exit %d:\n%s%s", r.code, r.out, r.err)
		}
		r = runMain(t, "geofence", "check", "--file", fence, "--lat", "47.639754", "--lon", "-122.126986", "--json", "--device-id", "pi",
			"--time", "2026-01-31T08:00:00Z")
		var got geofence.Result
		if r.code != 0 || strings.Count(r.out, "\n") != 1 || json.Unmarshal([]byte(r.out), &got) != nil {
			t.Fatalf("--json: exit %d: %q %s", r.code, r.out, r.err)
		}
		want := geofence.Result{
			Geometries: []geofence.GeometryResult{
				{DeviceID: "pi", GeometryID: "001", Distance: -500, NearestLat: got.Geometries[0].NearestLat, NearestLon: got.Geometries[0].NearestLon},
				{DeviceID: "pi", GeometryID: "campus", Distance: -999, NearestLat: got.Geometries[1].NearestLat, NearestLon: got.Geometries[1].NearestLon},
			},
			ExpiredGeofenceGeometryID:       []string{},
			InvalidPeriodGeofenceGeometryID: []string{},
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("got %+v, want %+v", got, want)
		}
		for _, key := range []string{`"geometries":[{"deviceId":"pi","geometryId":"001","distance":-500,"nearestLat":`,
			`"expiredGeofenceGeometryId":[]`, `"invalidPeriodGeofenceGeometryId":[]`} {
			if !strings.Contains(r.out, key) {
				t.Errorf("--json output lacks %s: %s", key, r.out)
			}
		}
	})

	t.Run("far fences", func(t *testing.T) {
		// 2 km east of the campus and 3 km from the point fence: near
		// neither, so the index leaves both out, and --all lists both.
		r := runMain(t, "geofence", "check", "--file", fence, "--lat", "47.64", "--lon", "-122.09", "--json")
		var got geofence.Result
		if r.code != 0 || json.Unmarshal([]byte(r.out), &got) != nil || len(got.Geometries) != 0 {
			t.Errorf("exit %d: %s%s; want no fence", r.code, r.out, r.err)
		}
		r = runMain(t, "geofence", "check", "--file", fence, "--lat", "47.64", "--lon", "-122.09")
		if r.code != 0 || strings.TrimSpace(r.out) != "no fence within 500 m" {
			t.Errorf("exit %d: %q", r.code, r.out)
		}
		r = runMain(t, "geofence", "check", "--file", fence, "--lat", "47.64", "--lon", "-122.09", "--json", "--all")
		got = geofence.Result{}
		if r.code != 0 || json.Unmarshal([]byte(r.out), &got) != nil || len(got.Geometries) != 2 ||
			got.Geometries[0].Distance != geofence.Far || got.Geometries[1].Distance != geofence.Far {
			t.Errorf("--all: exit %d: %s%s; want both fences at 999", r.code, r.out, r.err)
		}
		// --all is for the device; the service always lists every fence.
		if r := runMain(t, "geofence", "check", "--udid", "x", "--lat", "1", "--lon", "1", "--all"); r.code != 64 || !strings.Contains(r.err, "--all") {
			t.Errorf("--all with --udid: exit %d: %s", r.code, r.err)
		}
	})

	t.Run("a thousand positions from stdin", func(t *testing.T) {
		const n, badAt = 1000, 500 // the bad line comes after position 500
		var in strings.Builder
		type pos struct {
			lat, lon float64
			device   string
		}
		var sent []pos
		for i := range n {
			if i == badAt {
				in.WriteString(`{"lat":47.64,"lon":-190}` + "\n")
			}
			p := pos{47.62 + float64(i)*0.00004, -122.15 + float64(i%97)*0.0003, fmt.Sprintf("d%d", i)}
			sent = append(sent, p)
			fmt.Fprintf(&in, `{"lat":%v,"lon":%v,"deviceId":%q,"temperature":21.5}`+"\n", p.lat, p.lon, p.device)
		}
		r := mainWith(t, cli.Stdio{}, in.String(), "geofence", "check", "--file", fence, "--json")
		if r.code != cli.ExitData {
			t.Errorf("exit %d, want 65 for the bad line; stderr %s", r.code, r.err)
		}
		evs := r.events(t)
		var answers []geofence.Result
		bad := 0
		for _, line := range strings.Split(strings.TrimSpace(r.out), "\n") {
			var ev struct {
				Event string
				Line  int
			}
			json.Unmarshal([]byte(line), &ev)
			switch ev.Event {
			case "":
				var res geofence.Result
				if err := json.Unmarshal([]byte(line), &res); err != nil {
					t.Fatal(err)
				}
				answers = append(answers, res)
			case "bad_position":
				bad++
				if ev.Line != badAt+1 || len(answers) != badAt {
					t.Errorf("bad_position for line %d after %d answers, want line %d after %d", ev.Line, len(answers), badAt+1, badAt)
				}
			}
		}
		if len(answers) != n || bad != 1 {
			t.Fatalf("%d answers and %d bad_position events, want %d and 1", len(answers), bad, n)
		}
		for i, got := range answers {
			p := sent[i]
			// Every fence, less those more than the buffer outside.
			want := geofence.Evaluate(fences, geofence.Query{Lat: p.lat, Lon: p.lon, SearchBuffer: 500, UserTime: time.Now()})
			want.Geometries = slices.DeleteFunc(want.Geometries, func(g geofence.GeometryResult) bool { return g.Distance == geofence.Far })
			for j := range want.Geometries {
				want.Geometries[j].DeviceID = p.device
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("answer %d is not for position %d: got %+v, want %+v", i, i, got, want)
			}
		}
		if ev := r.errorEvent(t); ev["code"] != "invalid_position" || evs[len(evs)-2]["geometries"] == nil {
			t.Errorf("last events %v", evs[len(evs)-2:])
		}
		if !strings.Contains(r.err, `line 501: "lon" -190: use a number from -180 to 180`) || !strings.Contains(r.err, "1 of 1001 line(s)") {
			t.Errorf("stderr does not say which line was bad:\n%s", r.err)
		}
	})

	t.Run("plain text from stdin", func(t *testing.T) {
		in := "{\"lat\":47.639754,\"lon\":-122.126986}\n\nnot json\n{\"lat\":47.64}\n{\"lat\":47.6295,\"lon\":-122.13,\"time\":\"noon\"}\n"
		r := mainWith(t, cli.Stdio{}, in, "geofence", "check", "--file", fence)
		if r.code != cli.ExitData || !strings.HasPrefix(r.out, "line 1: 47.639754, -122.126986\n  001          inside  -500.0 m") {
			t.Errorf("exit %d:\n%s", r.code, r.out)
		}
		for _, want := range []string{"line 3: not a JSON object", `line 4: "lat" and "lon" are required`, `line 5: "time" "noon": use RFC 3339`, "3 of 4 line(s)"} {
			if !strings.Contains(r.err, want) {
				t.Errorf("stderr lacks %q:\n%s", want, r.err)
			}
		}
		if strings.Contains(r.out, "line 3") {
			t.Errorf("a bad line was answered:\n%s", r.out)
		}
	})

	t.Run("fences from stdin, a line too long", func(t *testing.T) {
		r := mainWith(t, cli.Stdio{}, guideFence, "geofence", "check", "--file", "-", "--lat", "47.644", "--lon", "-122.126986")
		if r.code != 0 || !strings.Contains(r.out, "001          inside  -27.3 m") {
			t.Errorf("--file -: exit %d: %s %s", r.code, r.out, r.err)
		}
		long := `{"lat":47.64,"lon":-122.13,"note":"` + strings.Repeat("x", 70<<10) + `"}`
		in := long + "\n" + `{"lat":47.64,"lon":-122.13}` + "\n" + long // the last without an end
		r = mainWith(t, cli.Stdio{}, in, "geofence", "check", "--file", fence, "--json")
		evs := r.events(t)
		if r.code != cli.ExitData || len(evs) != 4 || evs[0]["event"] != "bad_position" || evs[1]["geometries"] == nil || evs[2]["line"] != float64(3) {
			t.Errorf("exit %d: %s", r.code, r.out)
		}
		if !strings.Contains(r.err, "line 1: the line is over 64 KB") || !strings.Contains(r.err, "2 of 3 line(s)") {
			t.Errorf("stderr:\n%s", r.err)
		}
	})

	t.Run("answers as it reads", func(t *testing.T) {
		inR, inW := io.Pipe()
		outR, outW := io.Pipe()
		code := make(chan int, 1)
		go func() {
			var errb bytes.Buffer
			code <- cli.Main(t.Context(), []string{"geofence", "check", "--file", fence, "--json"}, cli.Stdio{In: inR, Out: outW, Err: &errb})
			outW.Close()
		}()
		answers := bufio.NewReader(outR)
		for i := range 3 {
			fmt.Fprintf(inW, `{"lat":47.639754,"lon":%v}`+"\n", -122.126986+float64(i)*0.001)
			line, err := answers.ReadString('\n') // stdin is still open
			if err != nil || !strings.Contains(line, `"geometries"`) {
				t.Fatalf("position %d: answer %q, %v", i, line, err)
			}
		}
		inW.Close()
		if rest, _ := io.ReadAll(answers); len(rest) != 0 || <-code != 0 {
			t.Errorf("after the end of input: %q", rest)
		}
	})

	t.Run("invalid file", func(t *testing.T) {
		bad := writeFile(t, home, "bad.geojson", badFence)
		r := mainWith(t, cli.Stdio{}, `{"lat":0,"lon":0}`+"\n", "geofence", "check", "--file", bad, "--json")
		if ev := r.errorEvent(t); r.code != cli.ExitData || ev["code"] != "invalid_geojson" || len(r.events(t)) != 1 {
			t.Errorf("exit %d: %s", r.code, r.out)
		}
		if !strings.Contains(r.err, "--file "+bad+" has 1 problem(s)") || !strings.Contains(r.err, "radius 50000 is out of range") {
			t.Errorf("stderr:\n%s", r.err)
		}
	})
}
