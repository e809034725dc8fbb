package cli_test

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mapsdevice/mapsdevice/emulator"
	"github.com/mapsdevice/mapsdevice/emulator/emulatortest"
	"github.com/mapsdevice/mapsdevice/internal/cli"
	"github.com/mapsdevice/mapsdevice/internal/geofence"
)

// signInEnv points the MAPSDEVICE_* settings at srv, as 'mapsdevice
// emulator' prints them.
func signInEnv(t *testing.T, srv *emulator.Server) {
	t.Helper()
	for k, v := range map[string]string{
		"MAPSDEVICE_AUTHORITY":      srv.Authority(),
		"MAPSDEVICE_CLIENT_ID":      srv.ClientID(),
		"MAPSDEVICE_CA_FILE":        srv.CAFile(),
		"MAPSDEVICE_MAPS_ENDPOINT":  srv.MapsEndpoint(),
		"MAPSDEVICE_MAPS_CLIENT_ID": srv.MapsClientID(),
	} {
		t.Setenv(k, v)
	}
}

// TestSignedInInProcess walks the product in this process against the
// emulator: login, status, token, the geofence commands, api, report and
// logout, with their JSON events and exit codes.
func TestSignedInInProcess(t *testing.T) {
	home := hermetic(t)
	srv := emulatortest.Start(t, emulator.Options{AutoApprove: 100 * time.Millisecond, MapsOperationTime: 100 * time.Millisecond, MapsRate: -1})
	signInEnv(t, srv)

	r := runMain(t, "status", "--json")
	if evs := r.events(t); r.code != cli.ExitSignIn || len(evs) != 2 || evs[0]["event"] != "status" || evs[0]["signed_in"] != false {
		t.Fatalf("status before login: exit %d: %s", r.code, r.out)
	}
	if ev := r.errorEvent(t); ev["code"] != "sign_in_needed" || r.err != "" {
		t.Errorf("status before login: %v, stderr %q (the status says it)", ev, r.err)
	}
	if r := runMain(t, "token"); r.code != cli.ExitSignIn || !strings.Contains(r.err, "mapsdevice login") {
		t.Errorf("token before login: exit %d: %s", r.code, r.err)
	}

	r = runMain(t, "login", "--json")
	evs := r.events(t)
	if r.code != 0 || len(evs) != 2 || evs[0]["event"] != "device_code" || evs[1]["event"] != "signed_in" {
		t.Fatalf("login: exit %d: %s %s", r.code, r.out, r.err)
	}
	if evs[1]["username"] != emulator.ContributorUser || evs[1]["token_store"] != "file" {
		t.Errorf("signed_in %v", evs[1])
	}

	r = runMain(t, "status", "--json")
	if evs := r.events(t); r.code != 0 || len(evs) != 1 || evs[0]["signed_in"] != true || evs[0]["username"] != emulator.ContributorUser {
		t.Errorf("status: exit %d: %s", r.code, r.out)
	}
	if r := runMain(t, "status"); r.code != 0 || !strings.Contains(r.out, "Account:       "+emulator.ContributorUser) {
		t.Errorf("status: exit %d: %s", r.code, r.out)
	}
	r = runMain(t, "token", "--json")
	if evs := r.events(t); r.code != 0 || evs[0]["event"] != "token" || !isJWT(evs[0]["access_token"].(string)) {
		t.Errorf("token --json: exit %d: %s", r.code, r.out)
	}

	// Upload with progress drawn in place on a terminal, then as lines.
	fence := writeFile(t, home, "fence.geojson", guideFence)
	r = mainWith(t, cli.Stdio{ErrTerminal: true}, "", "geofence", "upload", fence)
	udid := strings.TrimSpace(r.out)
	if r.code != 0 || len(udid) != 36 || !strings.Contains(r.err, "\r\x1b[K") {
		t.Fatalf("upload on a terminal: exit %d, %q, stderr %q", r.code, r.out, r.err)
	}
	r = runMain(t, "geofence", "update", udid, fence, "--description", "again")
	if r.code != 0 || strings.TrimSpace(r.out) != udid || strings.Contains(r.err, "\x1b") || !strings.Contains(r.err, "Uploading") {
		t.Errorf("update: exit %d, %q, stderr %q", r.code, r.out, r.err)
	}
	r = runMain(t, "geofence", "upload", fence, "--json", "--no-wait")
	if evs := r.events(t); r.code != 0 || evs[0]["event"] != "uploaded" || evs[0]["status"] != "NotStarted" || r.err != "" {
		t.Errorf("upload --no-wait --json: exit %d: %s %s", r.code, r.out, r.err)
	}
	r = runMain(t, "geofence", "list", "--json")
	if evs := r.events(t); r.code != 0 || evs[0]["event"] != "map_data" || !strings.Contains(r.out, udid) {
		t.Errorf("list: exit %d: %s", r.code, r.out)
	}
	if r := runMain(t, "geofence", "list"); r.code != 0 || !strings.Contains(r.out, udid) {
		t.Errorf("list: exit %d: %s", r.code, r.out)
	}
	if r := runMain(t, "geofence", "get", udid); r.code != 0 || r.out != guideFence {
		t.Errorf("get: exit %d, %d bytes", r.code, len(r.out))
	}
	r = runMain(t, "geofence", "check", "--udid", udid, "--lat", "47.639754", "--lon", "-122.126986", "--z", "10", "--time", "2026-01-31T08:00:00Z")
	if r.code != 0 || !strings.Contains(r.out, "inside") || !strings.Contains(r.out, "-500.0 m") {
		t.Errorf("check: exit %d: %s %s", r.code, r.out, r.err)
	}
	r = runMain(t, "geofence", "check", "--file", fence, "--remote", "--lat", "47.60", "--lon", "-122.126986", "--search-buffer", "100")
	if r.code != 0 || !strings.Contains(r.out, "more than 100 m") {
		t.Errorf("check --file --remote: exit %d: %s %s", r.code, r.out, r.err)
	}
	r = runMain(t, "api", "/mapData", "--query", "api-version=2.0", "-X", "get")
	if r.code != 0 || !strings.Contains(r.out, udid) {
		t.Errorf("api: exit %d: %s %s", r.code, r.out, r.err)
	}

	// The simulated truck crosses the fences, evaluated on the device.
	r = runMain(t, "report", "--simulate", "--count", "400", "--rate", "1000", "--local-geofence", fence,
		"--device-id", "truck", "--batch-size", "100", "--max-delay", "100ms")
	if r.code != 0 || strings.Count(r.out, `"event":"enter"`) != 4 || strings.Count(r.out, `"event":"exit"`) != 4 {
		t.Errorf("report --simulate: exit %d: %s\n%s", r.code, r.out, r.err)
	}
	r = runMain(t, "report", "--status", "--json")
	if evs := r.events(t); r.code != 0 || evs[0]["event"] != "report_status" || evs[0]["delivered"] != float64(400) {
		t.Errorf("report --status: exit %d: %s", r.code, r.out)
	}
	if r := runMain(t, "report", "--status"); r.code != 0 || !strings.Contains(r.out, "Delivered:     400") {
		t.Errorf("report --status: exit %d: %s", r.code, r.out)
	}
	// Readings from stdin, one of them bad.
	r = mainWith(t, cli.Stdio{}, numbered(1)+"\nnot a reading\n"+numbered(2)+"\n", "report", "--max-delay", "50ms")
	if r.code != 0 {
		t.Errorf("report from stdin: exit %d: %s", r.code, r.err)
	}
	if r := runMain(t, "report", "--status", "--json"); !strings.Contains(r.out, `"delivered":402`) || !strings.Contains(r.out, `"deadLettered":1`) {
		t.Errorf("after stdin: %s", r.out)
	}

	if r := runMain(t, "geofence", "delete", udid, "--json"); r.code != 0 || !strings.Contains(r.out, `"event":"deleted"`) {
		t.Errorf("delete: exit %d: %s %s", r.code, r.out, r.err)
	}
	r = runMain(t, "geofence", "get", udid, "--json")
	if ev := r.errorEvent(t); r.code != cli.ExitError || !strings.Contains(ev["message"].(string), udid) {
		t.Errorf("get after delete: exit %d: %s", r.code, r.out)
	}

	r = runMain(t, "logout", "--json")
	if evs := r.events(t); r.code != 0 || evs[0]["event"] != "signed_out" {
		t.Errorf("logout: exit %d: %s %s", r.code, r.out, r.err)
	}
	if r := runMain(t, "status"); r.code != cli.ExitSignIn || !strings.Contains(r.out, "mapsdevice login") || r.err != "" {
		t.Errorf("status after logout: exit %d: %q %q", r.code, r.out, r.err)
	}
}

// TestDemoInProcess runs the demo in plain text: it tells what the
// product knows (the scope it asked for, that the second token came from
// the cache), and leaves no goroutine behind.
func TestDemoInProcess(t *testing.T) {
	hermetic(t)
	r := runMain(t, "demo", "--approve-after", "200ms")
	if r.code != 0 {
		t.Fatalf("demo: exit %d: %s", r.code, r.err)
	}
	for _, want := range []string{"Signed in as " + emulator.ContributorUser, "for the scope\nhttps://atlas.microsoft.com/user_impersonation",
		"served from the cache: true", "the circle's centre: 001 inside (-500 m)", "400 delivered, 0 still spooled"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, r.out)
		}
	}
	r = runMain(t, "demo", "--approve-after", "200ms", "--json")
	if evs := r.events(t); r.code != 0 || len(evs) != 2 || evs[1]["event"] != "signed_in" {
		t.Errorf("demo --json: exit %d: %s", r.code, r.out)
	}
}

// TestGeofenceCheckOnDeviceMatchesService checks positions on the device,
// with no sign-in settings at all, and against the emulator's Spatial
// service, by udid and with the file sent: the same fences, distances and
// nearest points, within 0.1 m.
func TestGeofenceCheckOnDeviceMatchesService(t *testing.T) {
	home := hermetic(t)
	srv := emulatortest.Start(t, emulator.Options{AutoApprove: 100 * time.Millisecond, MapsOperationTime: 100 * time.Millisecond, MapsRate: -1})
	signInEnv(t, srv)
	if r := runMain(t, "login"); r.code != 0 {
		t.Fatalf("login: exit %d: %s", r.code, r.err)
	}
	fence := writeFile(t, home, "fence.geojson", guideFence)
	r := runMain(t, "geofence", "upload", fence)
	udid := strings.TrimSpace(r.out)
	if r.code != 0 || len(udid) != 36 {
		t.Fatalf("upload: exit %d: %s", r.code, r.err)
	}

	// Inside and outside each fence, near and beyond their borders, and a
	// corner of the polygon.
	points := [][2]float64{
		{47.639754, -122.126986}, {47.6305, -122.13}, {47.6295, -122.13}, {47.644, -122.126986},
		{47.645, -122.1225}, {47.65, -122.14}, {47.6401, -122.1198}, {47.6352, -122.1333},
		{47.6499, -122.1301}, {47.6356, -122.1203}, {47.60, -122.126986}, {47.6398, -122.1402},
	}
	answer := func(out string) geofence.Result {
		t.Helper()
		var res geofence.Result
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("not an answer: %q", out)
		}
		return res
	}
	var stdin strings.Builder
	var byUDID, byPOST []geofence.Result
	for _, p := range points {
		lat, lon := strconv.FormatFloat(p[0], 'f', -1, 64), strconv.FormatFloat(p[1], 'f', -1, 64)
		fmt.Fprintf(&stdin, `{"lat":%s,"lon":%s}`+"\n", lat, lon)
		for _, src := range []struct {
			args []string
			into *[]geofence.Result
		}{{[]string{"--udid", udid}, &byUDID}, {[]string{"--file", fence, "--remote"}, &byPOST}} {
			args := append([]string{"geofence", "check", "--lat", lat, "--lon", lon, "--json", "--device-id", "pi"}, src.args...)
			r := runMain(t, args...)
			if r.code != 0 {
				t.Fatalf("%v: exit %d: %s", src.args, r.code, r.err)
			}
			*src.into = append(*src.into, answer(r.out))
		}
	}

	// Now with no sign-in settings at all: nothing to sign in with.
	for _, k := range []string{"MAPSDEVICE_AUTHORITY", "MAPSDEVICE_CLIENT_ID", "MAPSDEVICE_CA_FILE", "MAPSDEVICE_MAPS_ENDPOINT", "MAPSDEVICE_MAPS_CLIENT_ID"} {
		t.Setenv(k, "")
	}
	t.Setenv("MAPSDEVICE_HOME", t.TempDir())
	before := len(srv.Requests())
	// --all: the service lists every fence, near or not.
	r = mainWith(t, cli.Stdio{}, stdin.String(), "geofence", "check", "--file", fence, "--json", "--device-id", "pi", "--all")
	lines := strings.Split(strings.TrimSpace(r.out), "\n")
	if r.code != 0 || len(lines) != len(points) {
		t.Fatalf("on the device: exit %d, %d answers for %d positions: %s", r.code, len(lines), len(points), r.err)
	}
	if n := len(srv.Requests()); n != before {
		t.Errorf("the check on the device sent %d request(s) to the emulator", n-before)
	}
	for i, line := range lines {
		local := answer(line)
		for _, svc := range []struct {
			name string
			res  geofence.Result
		}{{"udid", byUDID[i]}, {"POST", byPOST[i]}} {
			if len(local.Geometries) != len(svc.res.Geometries) || len(local.Geometries) != 2 {
				t.Fatalf("point %v: %d fences here, %d from the service (%s)", points[i], len(local.Geometries), len(svc.res.Geometries), svc.name)
			}
			for j, got := range local.Geometries {
				want := svc.res.Geometries[j]
				if got.GeometryID != want.GeometryID || got.DeviceID != want.DeviceID || math.Abs(got.Distance-want.Distance) > 0.1 ||
					metres(got.NearestLat, got.NearestLon, want.NearestLat, want.NearestLon) > 0.1 {
					t.Errorf("point %v: here %+v, the service (%s) %+v", points[i], got, svc.name, want)
				}
			}
		}
	}
	r = runMain(t, "geofence", "check", "--file", fence, "--lat", "47.639754", "--lon", "-122.126986")
	if r.code != 0 || !strings.Contains(r.out, "-500.0 m") {
		t.Errorf("plain, on the device: exit %d: %s %s", r.code, r.out, r.err)
	}
	r = runMain(t, "geofence", "check", "--udid", udid, "--lat", "47.639754", "--lon", "-122.126986", "--json")
	if r.code != cli.ExitUsage || r.errorEvent(t)["code"] != "no_maps_client_id" {
		t.Errorf("--udid with no settings: exit %d: %s", r.code, r.out)
	}
}

// metres is roughly how far apart two nearby points are.
func metres(lat1, lon1, lat2, lon2 float64) float64 {
	const m = 6378137 * math.Pi / 180
	return math.Hypot((lat2-lat1)*m, (lon2-lon1)*m*math.Cos(lat1*math.Pi/180))
}
