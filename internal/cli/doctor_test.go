package cli_test

import (
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mapsdevice/mapsdevice/emulator"
)

// doctorChecks runs 'doctor --json' and returns its checks by name and
// the exit code.
func doctorChecks(t *testing.T, e *env, args ...string) (map[string]map[string]any, int) {
	t.Helper()
	out, stderr, code := e.run(append([]string{"doctor", "--json"}, args...)...)
	checks := map[string]map[string]any{}
	var summary map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("not a JSON event: %q\n%s", line, stderr)
		}
		switch ev["event"] {
		case "check":
			checks[ev["name"].(string)] = ev
		case "doctor":
			summary = ev
		}
	}
	if summary == nil {
		t.Fatalf("no doctor event:\n%s\n%s", out, stderr)
	}
	return checks, code
}

// TestDoctorHealthy: against 'mapsdevice emulator' after a login, every
// check passes and doctor exits 0.
func TestDoctorHealthy(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "MAPSDEVICE_TOKEN_STORE=file")
	emu := e.startEmulator("--listen", freeAddr(t), "--state", filepath.Join(e.home, "emulator"), "--interval", "1s")
	e = e.with(emu.exports...)
	caFile := lookup(emu.exports, "MAPSDEVICE_CA_FILE")
	if _, final, code, stderr := login(t, e, func(c string) { approve(t, e, emu.url, caFile, c, "approve") }); code != 0 {
		t.Fatalf("login: %v %s", final, stderr)
	}
	checks, code := doctorChecks(t, e)
	for _, name := range []string{"configuration", "authority", "clock", "token store", "sign-in", "maps"} {
		if c := checks[name]; c == nil || c["verdict"] != "pass" {
			t.Errorf("check %s: %v, want pass", name, c)
		}
	}
	if code != 0 {
		t.Errorf("doctor exit %d, want 0", code)
	}
	if d := checks["sign-in"]["detail"].(string); !strings.Contains(d, "90 of 90 days left") {
		t.Errorf("sign-in detail %q does not give the days left", d)
	}
	emu.stop(t)
}

// TestDoctorNamesTheFault: each fault injected makes one check fail (or
// warn) and says the fix.
func TestDoctorNamesTheFault(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		setup   func(t *testing.T) (*env, []string) // the env, doctor's extra flags
		check   string
		verdict string
		words   string
	}{
		{"no client id", func(t *testing.T) (*env, []string) {
			_, vars := inProcess(t, emulator.Options{})
			return newEnv(t, vars[0], vars[2]), nil
		}, "configuration", "fail", "--client-id"},
		{"common tenant", func(t *testing.T) (*env, []string) {
			_, vars := inProcess(t, emulator.Options{})
			return newEnv(t, vars...), []string{"--authority", strings.Split(lookup(vars, "MAPSDEVICE_AUTHORITY"), "/6d")[0] + "/organizations"}
		}, "configuration", "warn", "--tenant"},
		{"untrusted TLS", func(t *testing.T) (*env, []string) {
			_, vars := inProcess(t, emulator.Options{})
			return newEnv(t, vars[0], vars[1]), nil
		}, "authority", "fail", "--ca-file"},
		{"unreachable", func(t *testing.T) (*env, []string) {
			_, vars := inProcess(t, emulator.Options{})
			return newEnv(t, vars...), []string{"--authority", "https://" + freeAddr(t) + "/tenant"}
		}, "authority", "fail", "could not be reached"},
		{"clock ten minutes ahead", func(t *testing.T) (*env, []string) {
			return newEnv(t, skewedEmulator(t, 10*time.Minute)...), nil
		}, "clock", "fail", "10m0s ahead of"},
		{"token file open to others", func(t *testing.T) (*env, []string) {
			srv, vars := inProcess(t, emulator.Options{})
			e := signedIn(t, srv, vars, emulator.ContributorUser)
			if err := os.Chmod(filepath.Join(e.home, "default.json"), 0o644); err != nil {
				t.Fatal(err)
			}
			return e, nil
		}, "token store", "fail", "chmod 600"},
		{"not signed in", func(t *testing.T) (*env, []string) {
			_, vars := inProcess(t, emulator.Options{})
			return newEnv(t, vars...).with("MAPSDEVICE_TOKEN_STORE=file"), nil
		}, "sign-in", "fail", "mapsdevice login"},
		{"refresh blocked since sign-in", func(t *testing.T) (*env, []string) {
			srv, vars := inProcess(t, emulator.Options{AccessTokenLifetime: 5*time.Minute + time.Second})
			e := signedIn(t, srv, vars, emulator.ContributorUser)
			srv.SetPolicy(emulator.Policy{BlockDeviceCodeRefresh: true})
			time.Sleep(1500 * time.Millisecond)
			return e, nil
		}, "sign-in", "fail", "has since blocked device-code sign-ins"},
		{"reader cannot write", func(t *testing.T) (*env, []string) {
			srv, vars := inProcess(t, emulator.Options{})
			return signedIn(t, srv, vars, emulator.ReaderUser), nil
		}, "maps", "warn", "writes would be refused"},
		{"wrong maps client id", func(t *testing.T) (*env, []string) {
			srv, vars := inProcess(t, emulator.Options{})
			return signedIn(t, srv, vars, emulator.ContributorUser), []string{"--maps-client-id", "0b1e6f2a-0000-4000-8000-000000000000"}
		}, "maps", "fail", ""},
		{"client secret file missing", func(t *testing.T) (*env, []string) {
			srv, vars := inProcess(t, emulator.Options{})
			app, _ := srv.SecretApp()
			return newEnv(t, vars[0], vars[2]), []string{"--credential", "client-secret", "--client-id", app,
				"--tenant", srv.TenantID(), "--client-secret-file", filepath.Join(t.TempDir(), "none")}
		}, "credential", "fail", "secret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, args := tt.setup(t)
			checks, code := doctorChecks(t, e, args...)
			c := checks[tt.check]
			if c == nil || c["verdict"] != tt.verdict {
				t.Fatalf("check %s: %v, want %s; all: %v", tt.check, c, tt.verdict, checks)
			}
			text, _ := c["detail"].(string)
			fix, _ := c["fix"].(string)
			if !strings.Contains(text+"\n"+fix, tt.words) {
				t.Errorf("check %s says %q / %q, want %q in it", tt.check, text, fix, tt.words)
			}
			// A warning alone does not fail the run; the reader's is the
			// only fault there.
			want := map[string]int{"fail": 1, "warn": 0}[tt.verdict]
			if (tt.verdict == "fail" || tt.name == "reader cannot write") && code != want {
				t.Errorf("doctor exit %d, want %d", code, want)
			}
		})
	}
}

// TestDoctorAppCredential: a client secret that loads passes, and says
// where it came from.
func TestDoctorAppCredential(t *testing.T) {
	t.Parallel()
	srv, vars := inProcess(t, emulator.Options{})
	app, secret := srv.SecretApp()
	e := newEnv(t, vars[0], vars[2])
	file := writeFile(t, e.home, "secret", secret)
	checks, code := doctorChecks(t, e, "--credential", "client-secret", "--client-id", app,
		"--tenant", srv.TenantID(), "--client-secret-file", file)
	c := checks["credential"]
	if code != 0 || c == nil || c["verdict"] != "pass" || !strings.Contains(c["detail"].(string), file) {
		t.Fatalf("doctor exit %d, credential check %v", code, c)
	}
	if checks["sign-in"] != nil {
		t.Errorf("an app credential got a sign-in check: %v", checks["sign-in"])
	}
}

// skewedEmulator serves the emulator behind a server whose Date header is
// behind by skew, and returns the settings that reach it.
func skewedEmulator(t *testing.T, skew time.Duration) []string {
	t.Helper()
	var h http.Handler
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Date", time.Now().Add(-skew).UTC().Format(http.TimeFormat))
		h.ServeHTTP(w, r)
	}))
	ts.StartTLS()
	t.Cleanup(ts.Close)
	srv, err := emulator.New(emulator.Options{NoListener: true, URL: ts.URL})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	h = srv.Handler()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	pemData := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw})
	if err := os.WriteFile(ca, pemData, 0o600); err != nil {
		t.Fatal(err)
	}
	return []string{"MAPSDEVICE_AUTHORITY=" + ts.URL + "/" + srv.TenantID(), "MAPSDEVICE_CLIENT_ID=" + srv.ClientID(), "MAPSDEVICE_CA_FILE=" + ca}
}
