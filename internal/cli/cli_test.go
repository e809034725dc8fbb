package cli_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mapsdevice/mapsdevice/emulator"
	"github.com/mapsdevice/mapsdevice/emulator/emulatortest"
	"github.com/mapsdevice/mapsdevice/internal/sink/azurite"
)

// TestEndToEnd is the README's walk-through: 'mapsdevice emulator', login
// approved by a form post, token, a restart of both, logout, status.
func TestEndToEnd(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	addr, state := freeAddr(t), filepath.Join(e.home, "emulator")
	emuArgs := []string{"--listen", addr, "--state", state, "--interval", "1s", "--access-token-lifetime", "5m1s"}
	emu := e.startEmulator(emuArgs...)
	e = e.with(emu.exports...)
	caFile := lookup(emu.exports, "MAPSDEVICE_CA_FILE")
	store := wantStore(t)

	device, final, code, stderr := login(t, e, func(userCode string) {
		approve(t, e, emu.url, caFile, userCode, "approve")
	})
	if code != 0 || final["event"] != "signed_in" {
		t.Fatalf("login exit %d, event %v; stderr: %s", code, final, stderr)
	}
	if device["verification_uri"] != emu.url+"/devicelogin" || device["interval"] != float64(1) {
		t.Errorf("device_code event %v", device)
	}
	if final["username"] != emulator.ContributorUser || final["token_store"] != store {
		t.Errorf("signed_in event %v, want %s in the %s store", final, emulator.ContributorUser, store)
	}

	out, errOut, code := e.run("token")
	if code != 0 || !isJWT(out) {
		t.Fatalf("token exit %d, output %.20q; stderr: %s", code, out, errOut)
	}
	first := strings.TrimSpace(out)
	if store == "keyring" {
		assertNotOnDisk(t, e.home, first)
	}

	// Restart both; the access token is past MSAL's use-by time by then,
	// so the refresh token must have survived too.
	emu.stop(t)
	emu = e.startEmulator(emuArgs...)
	time.Sleep(1500 * time.Millisecond)
	out, errOut, code = e.run("token")
	if code != 0 || !isJWT(out) || strings.TrimSpace(out) == first {
		t.Fatalf("token after restart: exit %d, new token %v; stderr: %s", code, strings.TrimSpace(out) != first, errOut)
	}

	out, _, code = e.run("status", "--json")
	var st map[string]any
	json.Unmarshal([]byte(out), &st)
	if code != 0 || st["signed_in"] != true || st["username"] != emulator.ContributorUser || st["token_store"] != store {
		t.Fatalf("status exit %d: %s", code, out)
	}
	if strings.Contains(out, first) {
		t.Error("status printed a token")
	}

	if _, errOut, code := e.run("logout"); code != 0 {
		t.Fatalf("logout exit %d: %s", code, errOut)
	}
	out, _, code = e.run("status")
	if code != 2 || !strings.Contains(out, "mapsdevice login") {
		t.Errorf("status after logout: exit %d, output %q; want exit 2 and what to do", code, out)
	}
	_, errOut, code = e.run("token")
	if code != 2 || !strings.Contains(errOut, "mapsdevice login") {
		t.Errorf("token after logout: exit %d, stderr %q", code, errOut)
	}
	emu.stop(t)
}

func assertNotOnDisk(t *testing.T, dir, secret string) {
	t.Helper()
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		data, _ := os.ReadFile(path)
		if strings.Contains(string(data), secret[len(secret)-40:]) {
			t.Errorf("%s holds the access token in clear", path)
		}
		return nil
	})
}

// inProcess starts an emulator in the test, so its logs can be read, and
// returns the settings that point the binary at it.
func inProcess(t *testing.T, opts emulator.Options) (*emulator.Server, []string) {
	t.Helper()
	srv := emulatortest.Start(t, opts)
	return srv, []string{
		"MAPSDEVICE_AUTHORITY=" + srv.Authority(),
		"MAPSDEVICE_CLIENT_ID=" + srv.ClientID(),
		"MAPSDEVICE_CA_FILE=" + srv.CAFile(),
	}
}

func TestTokenFromCacheMakesNoRequest(t *testing.T) {
	t.Parallel()
	srv, vars := inProcess(t, emulator.Options{})
	e := newEnv(t, vars...)
	if _, final, code, stderr := login(t, e, func(c string) { srv.Approve(c, "") }); code != 0 {
		t.Fatalf("login: %v %s", final, stderr)
	}
	before := len(srv.Requests())
	for range 3 {
		if out, errOut, code := e.run("token"); code != 0 || !isJWT(out) {
			t.Fatalf("token exit %d: %s", code, errOut)
		}
	}
	if n := len(srv.Requests()) - before; n != 0 {
		t.Errorf("three cached token runs made %d requests, want 0", n)
	}
}

// TestConcurrentTokenProcesses races two token processes over a store
// whose access token has just expired, with single-use refresh tokens: a
// lost update would leave a redeemed refresh token behind and fail later.
func TestConcurrentTokenProcesses(t *testing.T) {
	t.Parallel()
	srv, vars := inProcess(t, emulator.Options{AccessTokenLifetime: 5*time.Minute + time.Second, SingleUseRefreshTokens: true})
	e := newEnv(t, vars...)
	if _, final, code, stderr := login(t, e, func(c string) { srv.Approve(c, "") }); code != 0 {
		t.Fatalf("login: %v %s", final, stderr)
	}
	for round := range 3 {
		time.Sleep(1500 * time.Millisecond)
		var wg sync.WaitGroup
		for i := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				out, errOut, code := e.run("token")
				if code != 0 || !isJWT(out) {
					t.Errorf("round %d process %d: exit %d: %s", round, i, code, errOut)
				}
			}()
		}
		wg.Wait()
	}
	if _, errOut, code := e.run("status"); code != 0 {
		t.Errorf("status after the races: exit %d: %s", code, errOut)
	}
}

func TestLoginFailures(t *testing.T) {
	t.Parallel()
	srv, vars := inProcess(t, emulator.Options{})
	tests := []struct {
		name     string
		act      func(string)
		wantCode string
	}{
		{"declined", func(c string) { srv.Deny(c) }, "declined"},
		{"expired", func(c string) { srv.Expire(c) }, "expired"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, vars...)
			_, final, code, _ := login(t, e, tt.act)
			if code != 1 || final["event"] != "error" || final["code"] != tt.wantCode {
				t.Fatalf("exit %d, event %v; want exit 1 and error %s", code, final, tt.wantCode)
			}
			msg, _ := final["message"].(string)
			if !strings.Contains(msg, "mapsdevice login") || strings.Contains(msg, "{") {
				t.Errorf("message %q should say what to do and hold no raw response", msg)
			}
			if _, _, code := e.run("token"); code != 2 {
				t.Errorf("token after a failed login exit %d, want 2", code)
			}
		})
	}
	t.Run("unknown client id", func(t *testing.T) {
		e := newEnv(t, vars...).with("MAPSDEVICE_CLIENT_ID=11111111-2222-3333-4444-555555555555")
		out, _, code := e.run("login", "--json")
		if code != 1 || !strings.Contains(out, `"code":"unknown_client"`) {
			t.Errorf("exit %d: %s", code, out)
		}
	})
	t.Run("no client id", func(t *testing.T) {
		e := newEnv(t)
		_, errOut, code := e.run("login")
		if code != 64 || !strings.Contains(errOut, "Allow public client flows") {
			t.Errorf("exit %d: %s", code, errOut)
		}
	})
	t.Run("untrusted", func(t *testing.T) {
		e := newEnv(t, vars...).with("MAPSDEVICE_CA_FILE=")
		_, errOut, code := e.run("login")
		if code != 1 || !strings.Contains(errOut, "--ca-file") {
			t.Errorf("exit %d: %s", code, errOut)
		}
	})
	t.Run("interrupted", func(t *testing.T) {
		e := newEnv(t, vars...)
		p := e.start("login", "--json")
		p.event(t)
		p.cmd.Process.Signal(syscall.SIGINT)
		if code := p.wait(t); code != 130 {
			t.Errorf("exit %d after SIGINT, want 130", code)
		}
	})
}

// TestKeyringFailureKeepsSignIn points go-keyring at a bus that is not
// there, so the real keyring call fails after a successful sign-in.
func TestKeyringFailureKeepsSignIn(t *testing.T) {
	t.Parallel()
	srv, vars := inProcess(t, emulator.Options{})
	e := newEnv(t, vars...).with("DBUS_SESSION_BUS_ADDRESS=unix:path=/nonexistent/bus", "MAPSDEVICE_TOKEN_STORE=keyring")
	_, final, code, stderr := login(t, e, func(c string) { srv.Approve(c, "") })
	if code != 0 || final["event"] != "signed_in" || final["token_store"] != "file" {
		t.Fatalf("exit %d, event %v; stderr %s", code, final, stderr)
	}
	if !strings.Contains(stderr, "could not be stored through the OS keyring") || !strings.Contains(stderr, "plain file") {
		t.Errorf("the user was not told where the sign-in went: %s", stderr)
	}
	if out, errOut, code := e.with("MAPSDEVICE_TOKEN_STORE=auto").run("token"); code != 0 || !isJWT(out) {
		t.Errorf("token from the rescued sign-in: exit %d: %s", code, errOut)
	}
}

func TestSettingsPrecedence(t *testing.T) {
	t.Parallel()
	_, vars := inProcess(t, emulator.Options{})
	e := newEnv(t, vars...)
	config := filepath.Join(e.home, "config")
	os.WriteFile(config, []byte("profile from-file\ntoken-store memory\n"), 0o600)
	e = e.with("MAPSDEVICE_CONFIG=" + config)
	profile := func(e *env, args ...string) string {
		// Not signed in: the status, then an error event.
		out, _, _ := e.run(append([]string{"status", "--json"}, args...)...)
		first, _, _ := strings.Cut(out, "\n")
		var st map[string]any
		json.Unmarshal([]byte(first), &st)
		p, _ := st["profile"].(string)
		return p
	}
	if got := profile(e); got != "from-file" {
		t.Errorf("file: profile %q", got)
	}
	withEnv := e.with("MAPSDEVICE_PROFILE=from-env")
	if got := profile(withEnv); got != "from-env" {
		t.Errorf("env over file: profile %q", got)
	}
	if got := profile(withEnv, "--profile", "from-flag"); got != "from-flag" {
		t.Errorf("flag over env: profile %q", got)
	}
}

func TestHelp(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, cmd := range []string{"", "login", "status", "token", "logout", "emulator", "demo", "version"} {
		args := []string{"--help"}
		if cmd != "" {
			args = []string{cmd, "--help"}
		}
		out, errOut, code := e.run(args...)
		help := out + errOut
		if code != 0 || !strings.Contains(help, "Usage: mapsdevice") {
			t.Errorf("%s --help: exit %d: %s", cmd, code, help)
		}
		for _, line := range strings.Split(help, "\n") {
			if len(line) > 80 {
				t.Errorf("%s --help: line over 80 columns: %q", cmd, line)
			}
		}
		if cmd != "" && cmd != "version" && !strings.Contains(help, "env MAPSDEVICE_") {
			t.Errorf("%s --help does not name the environment variables", cmd)
		}
	}
	if _, errOut, code := e.run("frobnicate"); code != 64 || !strings.Contains(errOut, `unknown command "frobnicate"`) {
		t.Errorf("unknown command: exit %d: %s", code, errOut)
	}
}

// TestDemo runs the demo as a new user would: the readings land in
// Azurite's container when Azurite is installed, and the demo says how to
// get it when it is not.
func TestDemo(t *testing.T) {
	t.Parallel()
	common := []string{"Signed in as " + emulator.ContributorUser, "https://atlas.microsoft.com/", "served from the cache: true",
		"Stored as udid", "the circle's centre: 001 inside (-500 m)", "1 km east of it:     001 outside",
		"demo-truck entered campus", "demo-truck left    001",
		"geocoding '1 Microsoft Way, Redmond': 47.639754, -122.126986", "a route from there to the Space Needle: 16.8 km"}
	t.Run("without Azurite", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t).with("PATH=" + pathWithout(t, "azurite-blob"))
		out, errOut, code := e.run("demo", "--approve-after", "500ms")
		if code != 0 {
			t.Fatalf("demo exit %d: %s", code, errOut)
		}
		for _, want := range append(common, "npm install -g azurite@"+azurite.Version, "to Azure Maps:\n400 delivered, 0 still spooled") {
			if !strings.Contains(out, want) {
				t.Errorf("demo output lacks %q:\n%s", want, out)
			}
		}
		if !strings.Contains(errOut, "/devicelogin") {
			t.Errorf("demo did not show the approval URL:\n%s", errOut)
		}
	})
	t.Run("with Azurite", func(t *testing.T) {
		t.Parallel()
		if _, err := exec.LookPath("azurite-blob"); err != nil {
			if os.Getenv("MAPSDEVICE_REQUIRE_AZURITE") == "1" {
				t.Fatal("MAPSDEVICE_REQUIRE_AZURITE=1 but azurite-blob is not on PATH")
			}
			t.Skip("azurite-blob is not on PATH (.ci/run installs it)")
		}
		out, errOut, code := newEnv(t).run("demo", "--approve-after", "500ms")
		if code != 0 {
			t.Fatalf("demo exit %d: %s", code, errOut)
		}
		for _, want := range append(common, "Azurite, Microsoft's Storage emulator, is running", "to the Azurite container:\n400 delivered, 0 still spooled") {
			if !strings.Contains(out, want) {
				t.Errorf("demo output lacks %q:\n%s", want, out)
			}
		}
		// Batches of up to 100: at least 4 blobs, each named for the
		// truck and the hour of its first reading.
		m := regexp.MustCompile(`The container holds (\d+) blobs`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("the demo did not list the container:\n%s", out)
		}
		if n, _ := strconv.Atoi(m[1]); n < 4 {
			t.Errorf("%d blobs for 400 readings in batches of at most 100", n)
		}
		if !regexp.MustCompile(`(?m)^  demo-truck/\d{4}/\d\d/\d\d/\d\d/[0-9a-f]{8}-[0-9a-f]{16}\.json \(\d+ bytes\)$`).MatchString(out) {
			t.Errorf("no blob listed as {deviceId}/{yyyy}/{MM}/{dd}/{HH}/{batchId}.json:\n%s", out)
		}
	})
}

// pathWithout is PATH less the folders that hold the program name.
func pathWithout(t *testing.T, name string) string {
	var keep []string
	for _, d := range filepath.SplitList(os.Getenv("PATH")) {
		if _, err := os.Stat(filepath.Join(d, name)); err != nil {
			keep = append(keep, d)
		}
	}
	return strings.Join(keep, string(filepath.ListSeparator))
}

func TestVersionStamp(t *testing.T) {
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "mapsdevice")
	pkg := "github.com/mapsdevice/mapsdevice/internal/cli"
	build := exec.Command("go", "build", "-o", bin, "-ldflags",
		"-X "+pkg+".version=v1.2.3 -X "+pkg+".commit=abc1234 -X "+pkg+".date=2026-11-21T00:00:00Z", "../../cmd/mapsdevice")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v: %s", err, out)
	}
	out, err := exec.Command(bin, "version").Output()
	if err != nil || !strings.Contains(string(out), "mapsdevice v1.2.3 (commit abc1234, built 2026-11-21T00:00:00Z)") {
		t.Errorf("version: %q %v", out, err)
	}
}
