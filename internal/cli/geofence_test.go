package cli_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mapsdevice/mapsdevice/bench/measure"
	"github.com/mapsdevice/mapsdevice/emulator"
)

const guideFence = `{"type":"FeatureCollection","features":[
 {"type":"Feature","geometry":{"type":"Point","coordinates":[-122.126986,47.639754]},"properties":{"geometryId":"001","radius":500}},
 {"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[-122.14,47.63],[-122.12,47.63],[-122.12,47.65],[-122.14,47.65],[-122.14,47.63]]]},"properties":{"geometryId":"campus"}}]}`

// signedIn is an environment with the user signed in against an
// in-process emulator, with the Maps settings exported.
func signedIn(t *testing.T, srv *emulator.Server, vars []string, user string) *env {
	t.Helper()
	e := newEnv(t, vars...).with("MAPSDEVICE_TOKEN_STORE=file",
		"MAPSDEVICE_MAPS_ENDPOINT="+srv.MapsEndpoint(), "MAPSDEVICE_MAPS_CLIENT_ID="+srv.MapsClientID())
	if _, final, code, stderr := login(t, e, func(c string) { srv.Approve(c, user) }); code != 0 {
		t.Fatalf("login: %v %s", final, stderr)
	}
	return e
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestGeofenceUploadAndCheck(t *testing.T) {
	t.Parallel()
	srv, vars := inProcess(t, emulator.Options{MapsOperationTime: 300 * time.Millisecond})
	e := signedIn(t, srv, vars, emulator.ContributorUser)
	file := writeFile(t, e.home, "fence.geojson", guideFence)

	out, errOut, code := e.run("geofence", "upload", file)
	udid := strings.TrimSpace(out)
	if code != 0 || len(udid) != 36 {
		t.Fatalf("upload exit %d, output %q: %s", code, out, errOut)
	}
	check := func(lat, lon string) (float64, string) {
		out, errOut, code := e.run("geofence", "check", "--udid", udid, "--lat", lat, "--lon", lon, "--json")
		var res struct {
			Geometries []struct {
				GeometryID string
				Distance   float64
			}
		}
		if code != 0 || json.Unmarshal([]byte(out), &res) != nil || len(res.Geometries) == 0 {
			t.Fatalf("check exit %d: %s %s", code, out, errOut)
		}
		return res.Geometries[0].Distance, out
	}
	if d, out := check("47.639754", "-122.126986"); d > -499 || d < -501 {
		t.Errorf("at the centre: %v, want about -500: %s", d, out)
	}
	// 1 km east of the centre (0.013323 degrees of longitude at 47.64°).
	if d, out := check("47.639754", "-122.113663"); d < 499 || d > 501 {
		t.Errorf("1 km away: %v, want about 500: %s", d, out)
	}
	out, _, code = e.run("geofence", "check", "--udid", udid, "--lat", "47.639754", "--lon", "-122.126986")
	if code != 0 || !strings.Contains(out, "001") || !strings.Contains(out, "inside") || !strings.Contains(out, "-500.0 m") {
		t.Errorf("plain check output:\n%s", out)
	}
	// POST with a local file gives the same answer.
	out, _, code = e.run("geofence", "check", "--file", file, "--remote", "--lat", "47.639754", "--lon", "-122.126986")
	if code != 0 || !strings.Contains(out, "-500.0 m") {
		t.Errorf("check --file --remote:\n%s", out)
	}
	req := srv.Requests()
	if last := req[len(req)-1]; last.Method != "POST" || !strings.HasSuffix(last.Path, "/geofence/json") {
		t.Errorf("check --remote sent %s %s, want the file POSTed", last.Method, last.Path)
	}
	out, _, code = e.run("geofence", "list")
	if code != 0 || !strings.Contains(out, udid) {
		t.Errorf("list:\n%s", out)
	}
	out, _, code = e.run("geofence", "get", udid)
	if code != 0 || out != guideFence {
		t.Errorf("get returned %d bytes, want the upload back", len(out))
	}
	if _, errOut, code := e.run("geofence", "delete", udid); code != 0 {
		t.Errorf("delete: %s", errOut)
	}
	_, errOut, code = e.run("geofence", "get", udid)
	if code != 1 || strings.Contains(errOut, "{") {
		t.Errorf("get after delete: exit %d: %s", code, errOut)
	}
}

func TestGeofenceReaderCannotUpload(t *testing.T) {
	t.Parallel()
	srv, vars := inProcess(t, emulator.Options{})
	e := signedIn(t, srv, vars, emulator.ReaderUser)
	file := writeFile(t, e.home, "fence.geojson", guideFence)
	_, errOut, code := e.run("geofence", "upload", file)
	if code != 1 || !strings.Contains(errOut, "Azure Maps Data Contributor") {
		t.Errorf("exit %d, want 1 and the missing role named: %s", code, errOut)
	}
}

func TestGeofenceValidateListsEveryMistake(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	bad := strings.NewReplacer(
		`"radius":500`, `"radius":50000`, // out of range
		`[-122.14,47.63]]]`, `[-122.14,47.631]]]`, // ring not closed
		`"geometryId":"campus"`, `"geometryId":"001"`, // duplicate
	).Replace(guideFence)
	file := writeFile(t, e.home, "bad.geojson", bad)
	out, _, code := e.run("geofence", "validate", file)
	if code != 65 {
		t.Errorf("exit %d, want 65", code)
	}
	for _, want := range []string{"3 problem(s)", "radius 50000 is out of range", "not closed", "also used by feature 0"} {
		if !strings.Contains(out, want) {
			t.Errorf("validate output lacks %q:\n%s", want, out)
		}
	}
	good := writeFile(t, e.home, "good.geojson", guideFence)
	if out, _, code := e.run("geofence", "validate", good); code != 0 || !strings.Contains(out, "2 fence(s)") {
		t.Errorf("valid file: exit %d: %s", code, out)
	}
}

// TestAPIBuildsTheRealRequest checks, from the emulator's request log, the
// request 'mapsdevice api' sends for the README's example.
func TestAPIBuildsTheRealRequest(t *testing.T) {
	t.Parallel()
	srv, vars := inProcess(t, emulator.Options{})
	e := signedIn(t, srv, vars, emulator.ContributorUser)
	_, errOut, _ := e.run("api", "/route/directions/json", "--query", "api-version=1.0", "--query", "query=52.50931,13.42936:52.50274,13.43872")
	var got *emulator.Request
	for _, r := range srv.Requests() {
		if r.Path == "/route/directions/json" {
			got = &r
		}
	}
	if got == nil {
		t.Fatalf("no request reached the emulator: %s", errOut)
	}
	if got.Method != "GET" || got.Query.Get("api-version") != "1.0" || got.Query.Get("query") != "52.50931,13.42936:52.50274,13.43872" {
		t.Errorf("request %s %v", got.Method, got.Query)
	}
	if !got.Bearer || got.ClientID != srv.MapsClientID() || got.Query.Has("subscription-key") {
		t.Errorf("auth: bearer %v, client id %q, key in query %v", got.Bearer, got.ClientID, got.Query.Has("subscription-key"))
	}
}

// TestUploadStreams uploads a 60 MB FeatureCollection with the real binary
// and checks, from its peak RSS, that it never held the file in memory.
func TestUploadStreams(t *testing.T) {
	t.Parallel()
	srv, vars := inProcess(t, emulator.Options{MapsOperationTime: 300 * time.Millisecond})
	e := signedIn(t, srv, vars, emulator.ContributorUser)
	file := filepath.Join(e.home, "big.geojson")
	size := writeBigFences(t, file, 60<<20)
	cmd := e.command(t.Context(), "geofence", "upload", file, "--json")
	var out strings.Builder
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The child's own peak (VmHWM), read while it runs: its rusage would
	// also count the test process, whose memory it shares until exec.
	peak := measure.Watch(cmd.Process.Pid)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("upload: %v", err)
	}
	rss := <-peak << 10
	if !strings.Contains(out.String(), `"udid"`) {
		t.Fatalf("no udid: %s", out.String())
	}
	t.Logf("uploaded %d MB with a peak RSS of %d MB", size>>20, rss>>20)
	if rss > size/2 {
		t.Errorf("peak RSS %d MB for a %d MB upload: the file was held in memory", rss>>20, size>>20)
	}
}

// writeBigFences writes a valid FeatureCollection of small squares.
func writeBigFences(t *testing.T, path string, size int64) int64 {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	w.WriteString(`{"type":"FeatureCollection","features":[`)
	var n int64
	for i := 0; n < size; i++ {
		if i > 0 {
			w.WriteString(",")
		}
		lon, lat := float64(i%3000)*0.01-15, float64(i/3000)*0.01+40
		s := fmt.Sprintf(`{"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[%[1]s,%[2]s],[%[3]s,%[2]s],[%[3]s,%[4]s],[%[1]s,%[4]s],[%[1]s,%[2]s]]]},"properties":{"geometryId":"f%[5]d"}}`,
			strconv.FormatFloat(lon, 'f', 6, 64), strconv.FormatFloat(lat, 'f', 6, 64),
			strconv.FormatFloat(lon+0.005, 'f', 6, 64), strconv.FormatFloat(lat+0.005, 'f', 6, 64), i)
		w.WriteString(s)
		n += int64(len(s)) + 1
	}
	w.WriteString("]}")
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	st, _ := f.Stat()
	return st.Size()
}

// TestGeofenceCheckOnDeviceBinary checks positions piped into the real
// binary with no sign-in settings at all: each answer comes out before
// the next position goes in, and a bad line is reported and skipped.
func TestGeofenceCheckOnDeviceBinary(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	file := writeFile(t, e.home, "fence.geojson", guideFence)

	out, errOut, code := e.run("geofence", "check", "--file", file, "--lat", "47.639754", "--lon", "-122.126986")
	if code != 0 || !strings.Contains(out, "001") || !strings.Contains(out, "inside") || !strings.Contains(out, "-500.0 m") {
		t.Fatalf("check --file with no sign-in: exit %d:\n%s%s", code, out, errOut)
	}

	cmd := e.command(t.Context(), "geofence", "check", "--file", file, "--json", "--device-id", "pi")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	answers := bufio.NewReader(stdout)
	// With stdin still open, each answer must come before the next line.
	for i, line := range []string{
		`{"lat":47.639754,"lon":-122.126986}`,
		`{"lat":"north","lon":0}`,
		`{"lat":47.6295,"lon":-122.13,"deviceId":"truck","time":"2026-01-31T08:00:00Z"}`,
	} {
		fmt.Fprintln(stdin, line)
		got, err := answers.ReadString('\n')
		if err != nil {
			t.Fatalf("line %d: no answer while stdin is open: %v; stderr %s", i+1, err, stderr.String())
		}
		var ans map[string]any
		if err := json.Unmarshal([]byte(got), &ans); err != nil {
			t.Fatalf("line %d: answer %q is not JSON", i+1, got)
		}
		switch i {
		case 1:
			if ans["event"] != "bad_position" || ans["line"] != float64(2) {
				t.Errorf("bad line: %v", ans)
			}
		default:
			geoms, _ := ans["geometries"].([]any)
			if len(geoms) == 0 {
				t.Fatalf("line %d: %v", i+1, ans)
			}
			wantDevice := map[int]string{0: "pi", 2: "truck"}[i]
			if g := geoms[0].(map[string]any); g["deviceId"] != wantDevice {
				t.Errorf("line %d: deviceId %v, want %s", i+1, g["deviceId"], wantDevice)
			}
		}
	}
	stdin.Close()
	rest, _ := io.ReadAll(answers)
	err = cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 65 {
		t.Errorf("exit %v, want 65 for the bad line; stderr %s", err, stderr.String())
	}
	if !strings.Contains(string(rest), `"code":"invalid_position"`) || !strings.Contains(stderr.String(), "line 2:") {
		t.Errorf("end of output %q, stderr %q", rest, stderr.String())
	}
}
