package cli_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mapsdevice/mapsdevice/internal/auth/tokenstore"
)

// binary is the real mapsdevice, built once for these tests.
var binary string

func TestMain(m *testing.M) {
	if p := os.Getenv("MAPSDEVICE_E2E_BINARY"); p != "" {
		// A test run again by a test (in a namespace) uses its binary.
		binary = p
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "mapsdevice-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "mapsdevice")
	args := []string{"build", "-o", binary}
	if os.Getenv("GOCOVERDIR") != "" {
		// scripts/cover: what the binary runs counts toward coverage too.
		args = append(args, "-cover", "-covermode=atomic", "-coverpkg=github.com/mapsdevice/mapsdevice/...")
	}
	build := exec.Command("go", append(args, "../../cmd/mapsdevice")...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build mapsdevice:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// env is a clean environment for one test: its own state folder and no
// config file, with the caller's MAPSDEVICE_* settings removed.
type env struct {
	t    *testing.T
	vars []string
	own  []string // the MAPSDEVICE_* part of vars
	home string
}

func newEnv(t *testing.T, extra ...string) *env {
	home := t.TempDir()
	var vars []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MAPSDEVICE_") {
			vars = append(vars, kv)
		}
	}
	own := append([]string{"MAPSDEVICE_HOME=" + home, "MAPSDEVICE_CONFIG=" + filepath.Join(home, "no-config")}, extra...)
	return &env{t: t, vars: append(vars, own...), own: own, home: home}
}

func (e *env) with(kv ...string) *env {
	return &env{
		t:    e.t,
		vars: append(append([]string(nil), e.vars...), kv...),
		own:  append(append([]string(nil), e.own...), kv...),
		home: e.home,
	}
}

func (e *env) command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = e.vars
	return cmd
}

// run runs mapsdevice to the end.
func (e *env) run(args ...string) (stdout, stderr string, code int) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(e.t.Context(), 60*time.Second)
	defer cancel()
	cmd := e.command(ctx, args...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatalf("run %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

// process is a running mapsdevice whose stdout is read line by line.
type process struct {
	cmd    *exec.Cmd
	lines  chan string
	stderr *syncBuffer
	done   chan struct{}
	code   int
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (e *env) start(args ...string) *process {
	e.t.Helper()
	cmd := e.command(e.t.Context(), args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		e.t.Fatal(err)
	}
	p := &process{cmd: cmd, lines: make(chan string, 100), stderr: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
		cmd.Wait()
		p.code = cmd.ProcessState.ExitCode()
		close(p.done)
	}()
	e.t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.done
	})
	return p
}

func (p *process) line(t *testing.T) string {
	t.Helper()
	select {
	case l, ok := <-p.lines:
		if !ok {
			t.Fatalf("output ended; stderr: %s", p.stderr.String())
		}
		return l
	case <-time.After(30 * time.Second):
		t.Fatalf("no output in 30 s; stderr: %s", p.stderr.String())
	}
	return ""
}

func (p *process) event(t *testing.T) map[string]any {
	t.Helper()
	l := p.line(t)
	var ev map[string]any
	if err := json.Unmarshal([]byte(l), &ev); err != nil {
		t.Fatalf("not a JSON event: %q", l)
	}
	return ev
}

func (p *process) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
		return p.code
	case <-time.After(30 * time.Second):
		t.Fatalf("process did not end; stderr: %s", p.stderr.String())
	}
	return -1
}

// emulatorProcess runs 'mapsdevice emulator' and evaluates its exports.
type emulatorProcess struct {
	*process
	exports []string
	url     string
}

func (e *env) startEmulator(args ...string) *emulatorProcess {
	e.t.Helper()
	p := e.start(append([]string{"emulator"}, args...)...)
	ep := &emulatorProcess{process: p}
	for range 5 {
		l := p.line(e.t)
		kv, ok := strings.CutPrefix(l, "export ")
		if !ok {
			e.t.Fatalf("not an export line: %q", l)
		}
		name, value, _ := strings.Cut(kv, "=")
		ep.exports = append(ep.exports, name+"="+strings.Trim(value, "'"))
		if name == "MAPSDEVICE_AUTHORITY" {
			u, _ := url.Parse(strings.Trim(value, "'"))
			ep.url = "https://" + u.Host
		}
	}
	return ep
}

func (ep *emulatorProcess) stop(t *testing.T) {
	t.Helper()
	ep.cmd.Process.Signal(syscall.SIGTERM)
	if code := ep.wait(t); code != 0 {
		t.Errorf("emulator exited %d on SIGTERM", code)
	}
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// approve posts the verification form as a script (or curl) would.
func approve(t *testing.T, e *env, baseURL, caFile, userCode, action string) {
	t.Helper()
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatal("no certificate in the CA file")
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	resp, err := client.PostForm(baseURL+"/devicelogin", url.Values{"user_code": {userCode}, "action": {action}})
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("POST /devicelogin: %d", resp.StatusCode)
	}
}

func lookup(vars []string, name string) string {
	for _, kv := range vars {
		if v, ok := strings.CutPrefix(kv, name+"="); ok {
			return v
		}
	}
	return ""
}

// wantStore is the store 'auto' should pick here: the keyring where a
// Secret Service answers, else the plain file.
func wantStore(t *testing.T) string {
	err := tokenstore.Probe(t.Context(), tokenstore.OSKeyring{Timeout: 3 * time.Second})
	if err == nil {
		return tokenstore.KindKeyring
	}
	if os.Getenv("MAPSDEVICE_REQUIRE_SECRET_SERVICE") == "1" {
		t.Fatalf("MAPSDEVICE_REQUIRE_SECRET_SERVICE=1 but no Secret Service answers: %v", err)
	}
	return tokenstore.KindFile
}

func isJWT(s string) bool {
	parts := strings.Split(strings.TrimSpace(s), ".")
	return len(parts) == 3 && strings.HasPrefix(parts[0], "eyJ")
}

// login runs 'login --json' and approves its code with act.
func login(t *testing.T, e *env, act func(userCode string)) (device, final map[string]any, code int, stderr string) {
	t.Helper()
	p := e.start("login", "--json")
	device = p.event(t)
	if device["event"] != "device_code" {
		t.Fatalf("first event %v", device)
	}
	act(device["user_code"].(string))
	final = p.event(t)
	return device, final, p.wait(t), p.stderr.String()
}
