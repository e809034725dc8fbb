package cli_test

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"

	"github.com/mapsdevice/mapsdevice/emulator"
)

// tmuxPane is the real binary running in a tmux pane of a fixed size.
type tmuxPane struct {
	t      *testing.T
	socket string
}

func startPane(t *testing.T, w, h int, env []string, args ...string) *tmuxPane {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		if os.Getenv("MAPSDEVICE_REQUIRE_TERMINAL") == "1" {
			t.Fatal("MAPSDEVICE_REQUIRE_TERMINAL=1 but tmux is not installed")
		}
		t.Skip("tmux is not installed; the terminal tests need it")
	}
	p := &tmuxPane{t: t, socket: filepath.Join(t.TempDir(), "tmux.sock")}
	cmdline := []string{"env", "TERM=xterm-256color"}
	for _, kv := range env {
		cmdline = append(cmdline, kv)
	}
	cmdline = append(cmdline, binary)
	cmdline = append(cmdline, args...)
	script := shellJoin(cmdline) + "; echo EXIT=$?; sleep 60"
	p.tmux("new-session", "-d", "-x", fmt.Sprint(w), "-y", fmt.Sprint(h), script)
	t.Cleanup(func() { exec.Command("tmux", "-S", p.socket, "kill-server").Run() })
	return p
}

func shellJoin(args []string) string {
	quoted := make([]string, len(args))
	for i, a := range args {
		quoted[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(quoted, " ")
}

func (p *tmuxPane) tmux(args ...string) string {
	p.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-u", "-S", p.socket}, args...)...).CombinedOutput()
	if err != nil {
		p.t.Fatalf("tmux %v: %v: %s", args, err, out)
	}
	return string(out)
}

func (p *tmuxPane) screen() string { return p.tmux("capture-pane", "-p") }

// waitFor polls the screen until it shows want, and returns it.
func (p *tmuxPane) waitFor(want string, limit time.Duration) string {
	p.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		s := p.screen()
		if strings.Contains(s, want) {
			return s
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("the screen never showed %q:\n%s", want, s)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// decodeQR finds a QR code drawn with half blocks in a captured screen,
// turns its characters back into modules and decodes it.
func decodeQR(screen string) (string, error) {
	rows := strings.Split(screen, "\n")
	grid := make([][]rune, len(rows))
	for i, r := range rows {
		grid[i] = []rune(r)
	}
	const finder = "█▀▀▀▀▀█"
	top, left, size := -1, -1, 0
	for i, r := range rows {
		first := strings.Index(r, finder)
		last := strings.LastIndex(r, finder)
		if first >= 0 && last > first {
			top = i
			left = len([]rune(r[:first]))
			size = len([]rune(r[:last])) + 7 - left
			break
		}
	}
	if top < 0 {
		return "", errors.New("no QR code on the screen")
	}
	dark := func(x, y int) bool { // module (x, y)
		row := top + y/2
		if row >= len(grid) || left+x >= len(grid[row]) {
			return false
		}
		c := grid[row][left+x]
		if y%2 == 0 {
			return c == '█' || c == '▀'
		}
		return c == '█' || c == '▄'
	}
	const scale, quiet = 8, 4
	n := (size + 2*quiet) * scale
	img := image.NewGray(image.Rect(0, 0, n, n))
	for py := range n {
		for px := range n {
			x, y := px/scale-quiet, py/scale-quiet
			c := color.Gray{Y: 255}
			if x >= 0 && y >= 0 && x < size && y < size && dark(x, y) {
				c = color.Gray{Y: 0}
			}
			img.SetGray(px, py, c)
		}
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		return "", err
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		return "", fmt.Errorf("decode a %d-module code: %w", size, err)
	}
	return res.GetText(), nil
}

var userCodeLine = regexp.MustCompile(`enter the code ([A-Z0-9]+)`)

// TestLoginScreenInTmux signs in on the real screen in a real terminal:
// the QR code decodes to the verification address, the code and countdown
// show, and approving through the page turns the screen to signed in
// within one poll interval.
func TestLoginScreenInTmux(t *testing.T) {
	for _, size := range []struct{ w, h int }{{80, 24}, {200, 60}} {
		t.Run(fmt.Sprintf("%dx%d", size.w, size.h), func(t *testing.T) {
			t.Parallel()
			const interval = 2 * time.Second
			srv, vars := inProcess(t, emulator.Options{Interval: interval})
			e := newEnv(t, vars...)
			pane := startPane(t, size.w, size.h, e.with("MAPSDEVICE_TOKEN_STORE=file").own, "login")
			screen := pane.waitFor("Waiting for approval", 20*time.Second)

			text, err := decodeQR(screen)
			if err != nil {
				t.Fatalf("%v in:\n%s", err, screen)
			}
			if text != srv.URL()+"/devicelogin" {
				t.Errorf("QR code says %q, want the verification URL", text)
			}
			m := userCodeLine.FindStringSubmatch(screen)
			if m == nil {
				t.Fatalf("no code on the screen:\n%s", screen)
			}
			if !regexp.MustCompile(`Expires in 1[45]:\d\d`).MatchString(screen) {
				t.Errorf("no countdown on the screen:\n%s", screen)
			}
			for i, line := range strings.Split(screen, "\n") {
				if n := len([]rune(line)); n > size.w {
					t.Errorf("line %d is %d columns wide", i, n)
				}
			}

			resp, err := srv.Client().PostForm(srv.URL()+"/devicelogin", url.Values{"user_code": {m[1]}, "action": {"approve"}})
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("approve through the page: %d", resp.StatusCode)
			}
			approved := time.Now()
			screen = pane.waitFor("Signed in", interval+5*time.Second)
			took := time.Since(approved)
			t.Logf("signed-in screen %v after approval (poll interval %v)", took.Round(time.Millisecond), interval)
			if !strings.Contains(screen, emulator.ContributorUser) {
				t.Errorf("signed-in screen lacks the user:\n%s", screen)
			}
			pane.waitFor("EXIT=0", 10*time.Second)
		})
	}
}

func TestLoginScreenCancel(t *testing.T) {
	t.Parallel()
	_, vars := inProcess(t, emulator.Options{})
	e := newEnv(t, vars...)
	pane := startPane(t, 80, 24, e.with("MAPSDEVICE_TOKEN_STORE=file").own, "login")
	pane.waitFor("Waiting for approval", 20*time.Second)
	pane.tmux("send-keys", "q")
	pane.waitFor("EXIT=130", 10*time.Second)
}

func TestDemoInTmux(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pane := startPane(t, 80, 24, e.own, "demo", "--approve-after", "1s")
	screen := pane.waitFor("Waiting for approval", 20*time.Second)
	if !strings.Contains(screen, "approves itself") || !strings.Contains(screen, "/devicelogin") {
		t.Errorf("the demo screen does not say what happens:\n%s", screen)
	}
	pane.waitFor("EXIT=0", 20*time.Second)
	s := pane.screen()
	if !strings.Contains(s, "400 delivered, 0") {
		t.Errorf("the demo did not end with its summary:\n%s", s)
	}
	// What the demo says after its screen is plain text that fits 80
	// columns: a line the terminal wrapped would fill the width.
	for _, l := range strings.Split(s, "\n") {
		if len([]rune(l)) >= 80 {
			t.Errorf("a line fills the 80-column terminal (wrapped?): %q", l)
		}
	}
}
