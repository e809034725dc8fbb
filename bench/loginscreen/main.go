// Command loginscreen measures the login screen in a real terminal: the
// time from approval on the page to the signed-in screen, and the peak
// RSS of 'mapsdevice login' while it shows the code.
//
//	go build -o /tmp/mapsdevice ./cmd/mapsdevice
//	go run ./bench/loginscreen -bin /tmp/mapsdevice -runs 10
//
// It needs tmux. Each run starts the binary in an 80x24 tmux pane against
// an in-process emulator, waits for the code, approves it through the
// verification page at a random moment, and polls the pane every 5 ms.
package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mapsdevice/mapsdevice/bench/internal/benchenv"
	"github.com/mapsdevice/mapsdevice/bench/measure"
	"github.com/mapsdevice/mapsdevice/emulator"
)

func main() {
	bin := flag.String("bin", "", "path of a built mapsdevice")
	runs := flag.Int("runs", 10, "sign-ins to measure")
	interval := flag.Duration("interval", 2*time.Second, "the emulator's poll interval")
	flag.Parse()
	if err := run(*bin, *runs, *interval); err != nil {
		fmt.Fprintln(os.Stderr, "loginscreen:", err)
		os.Exit(1)
	}
}

var codeLine = regexp.MustCompile(`enter the code ([A-Z0-9]+)`)

func run(bin string, runs int, interval time.Duration) error {
	if bin == "" {
		return fmt.Errorf("-bin is required")
	}
	srv, err := emulator.New(emulator.Options{Interval: interval})
	if err != nil {
		return err
	}
	defer srv.Close()
	var delays []time.Duration
	var peaks []int
	for i := range runs {
		d, rss, err := once(bin, srv)
		if err != nil {
			return fmt.Errorf("run %d: %w", i, err)
		}
		delays = append(delays, d)
		peaks = append(peaks, rss)
	}
	slices.Sort(delays)
	slices.Sort(peaks)
	fmt.Printf("| poll interval | runs | approval to signed-in screen, median | min–max | peak RSS median | RSS min–max |\n|---|---|---|---|---|---|\n")
	fmt.Printf("| %s | %d | %d ms | %d–%d ms | %.1f MB | %.1f–%.1f MB |\n", interval, runs,
		delays[len(delays)/2].Milliseconds(), delays[0].Milliseconds(), delays[len(delays)-1].Milliseconds(),
		float64(peaks[len(peaks)/2])/1024, float64(peaks[0])/1024, float64(peaks[len(peaks)-1])/1024)
	return nil
}

func once(bin string, srv *emulator.Server) (time.Duration, int, error) {
	dir, err := os.MkdirTemp("", "loginscreen-")
	if err != nil {
		return 0, 0, err
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "tmux.sock")
	tmux := func(args ...string) (string, error) {
		out, err := exec.Command("tmux", append([]string{"-u", "-S", sock}, args...)...).CombinedOutput()
		return string(out), err
	}
	defer tmux("kill-server")
	cmd := fmt.Sprintf("env TERM=xterm-256color %s %s login; sleep 30", strings.Join(benchenv.Vars(dir, srv), " "), bin)
	if out, err := tmux("new-session", "-d", "-x", "80", "-y", "24", cmd); err != nil {
		return 0, 0, fmt.Errorf("tmux: %v: %s", err, out)
	}
	wait := func(want string, limit time.Duration) (string, error) {
		deadline := time.Now().Add(limit)
		for time.Now().Before(deadline) {
			s, err := tmux("capture-pane", "-p")
			if err != nil {
				return "", err
			}
			if strings.Contains(s, want) {
				return s, nil
			}
			time.Sleep(5 * time.Millisecond)
		}
		return "", fmt.Errorf("the screen never showed %q", want)
	}
	screen, err := wait("Waiting for approval", 20*time.Second)
	if err != nil {
		return 0, 0, err
	}
	m := codeLine.FindStringSubmatch(screen)
	if m == nil {
		return 0, 0, fmt.Errorf("no code on the screen")
	}
	pid, err := loginPID(tmux)
	if err != nil {
		return 0, 0, err
	}
	peak := measure.Watch(pid)
	time.Sleep(time.Duration(rand.Int64N(int64(2 * time.Second))))
	resp, err := srv.Client().PostForm(srv.URL()+"/devicelogin", url.Values{"user_code": {m[1]}, "action": {"approve"}})
	if err != nil {
		return 0, 0, err
	}
	resp.Body.Close()
	approved := time.Now()
	if _, err := wait("Signed in", 30*time.Second); err != nil {
		return 0, 0, err
	}
	took := time.Since(approved)
	return took, int(<-peak), nil
}

// loginPID finds the mapsdevice process under the pane's shell.
func loginPID(tmux func(...string) (string, error)) (int, error) {
	out, err := tmux("list-panes", "-F", "#{pane_pid}")
	if err != nil {
		return 0, err
	}
	shell := strings.TrimSpace(out)
	for range 100 {
		kids, _ := exec.Command("pgrep", "-P", shell).Output()
		if f := strings.Fields(string(kids)); len(f) > 0 {
			return strconv.Atoi(f[0])
		}
		time.Sleep(10 * time.Millisecond)
	}
	return 0, fmt.Errorf("no login process under pane %s", shell)
}
