package cli_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// startShell runs an interactive shell in a tmux pane of w×h, with the
// test's mapsdevice first on PATH and a clean state folder.
func startShell(t *testing.T, w, h int, shell ...string) (*tmuxPane, *env) {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		if os.Getenv("MAPSDEVICE_REQUIRE_TERMINAL") == "1" {
			t.Fatal("MAPSDEVICE_REQUIRE_TERMINAL=1 but tmux is not installed")
		}
		t.Skip("tmux is not installed; the terminal tests need it")
	}
	if _, err := exec.LookPath(shell[0]); err != nil {
		if os.Getenv("MAPSDEVICE_REQUIRE_TERMINAL") == "1" {
			t.Fatalf("MAPSDEVICE_REQUIRE_TERMINAL=1 but %s is not installed", shell[0])
		}
		t.Skipf("%s is not installed", shell[0])
	}
	e := newEnv(t)
	p := &tmuxPane{t: t, socket: filepath.Join(t.TempDir(), "tmux.sock")}
	cmdline := append([]string{"env", "TERM=xterm-256color", "PATH=" + filepath.Dir(binary) + ":" + os.Getenv("PATH"), "HOME=" + e.home}, e.own...)
	cmdline = append(cmdline, shell...)
	p.tmux("new-session", "-d", "-x", fmt.Sprint(w), "-y", fmt.Sprint(h), shellJoin(cmdline))
	t.Cleanup(func() { exec.Command("tmux", "-S", p.socket, "kill-server").Run() })
	return p, e
}

// typeLine sends text to the pane as if typed, then Enter.
func (p *tmuxPane) typeLine(text string) {
	p.t.Helper()
	p.tmux("send-keys", "-l", text)
	p.tmux("send-keys", "Enter")
}

// lastLine is the last line of the pane that is not blank.
func (p *tmuxPane) lastLine() string {
	lines := strings.Split(strings.TrimRight(p.screen(), "\n "), "\n")
	return lines[len(lines)-1]
}

// waitLine polls until the last line matches re.
func (p *tmuxPane) waitLine(re *regexp.Regexp, limit time.Duration) string {
	p.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		l := p.lastLine()
		if re.MatchString(l) {
			return l
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("the last line never matched %s:\n%s", re, p.screen())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestCompletionInBash is what a user does: source the script in a real
// bash, type the start of a command and press Tab.
func TestCompletionInBash(t *testing.T) {
	p, _ := startShell(t, 80, 24, "bash", "--norc", "--noprofile", "-i")
	p.typeLine(`PS1='$ '; source <(mapsdevice completion bash); echo sourced=$?`)
	p.waitFor("sourced=0", 10*time.Second)
	p.tmux("send-keys", "clear", "Enter")
	p.waitLine(regexp.MustCompile(`^\$$`), 5*time.Second) // typed ahead, keys would echo before the prompt

	steps := []tabStep{
		{"mapsdevice geo", regexp.MustCompile(`^\$ mapsdevice geofence Z$`)},
		{"mapsdevice geofence ch", regexp.MustCompile(`^\$ mapsdevice geofence check Z$`)},
		{"mapsdevice report --sin", regexp.MustCompile(`^\$ mapsdevice report --sink Z$`)},
		{"mapsdevice report --sink ev", regexp.MustCompile(`^\$ mapsdevice report --sink eventhubs Z$`)},
		{"mapsdevice status --credential=managed", regexp.MustCompile(`^\$ mapsdevice status --credential=managed-identity Z$`)},
		{"mapsdevice login --token-store k", regexp.MustCompile(`^\$ mapsdevice login --token-store keyring Z$`)},
	}
	p.tabSteps(steps)
}

// tabStep is something typed, then Tab, and the line it must become.
type tabStep struct {
	typed string
	want  *regexp.Regexp
}

// tabSteps types each step, presses Tab and then Z, so the line shows
// the completion and the space after it, and clears the line.
func (p *tmuxPane) tabSteps(steps []tabStep) {
	p.t.Helper()
	for _, s := range steps {
		p.tmux("send-keys", "-l", s.typed)
		p.tmux("send-keys", "Tab")
		p.tmux("send-keys", "-l", "Z")
		p.waitLine(s.want, 10*time.Second)
		p.tmux("send-keys", "C-u")
		p.waitLine(regexp.MustCompile(`^\$$`), 5*time.Second)
	}
}

// TestCompletionInZsh: the same in zsh, through its completion system.
func TestCompletionInZsh(t *testing.T) {
	p, e := startShell(t, 80, 24, "zsh", "-f", "-i")
	p.typeLine(fmt.Sprintf(`PS1='$ '; autoload -Uz compinit; compinit -u -d %s/zcomp; source <(mapsdevice completion zsh); echo sourced=$?`, e.home))
	p.waitFor("sourced=0", 10*time.Second)
	p.tmux("send-keys", "clear", "Enter")
	p.waitLine(regexp.MustCompile(`^\$$`), 5*time.Second) // typed ahead, keys would echo before the prompt
	p.tabSteps([]tabStep{
		{"mapsdevice geo", regexp.MustCompile(`^\$ mapsdevice geofence Z$`)},
		{"mapsdevice report --sink ev", regexp.MustCompile(`^\$ mapsdevice report --sink eventhubs Z$`)},
	})
}

// TestCompletionInFish asks fish what it would offer, as its Tab does.
func TestCompletionInFish(t *testing.T) {
	if _, err := exec.LookPath("fish"); err != nil {
		if os.Getenv("MAPSDEVICE_REQUIRE_TERMINAL") == "1" {
			t.Fatal("MAPSDEVICE_REQUIRE_TERMINAL=1 but fish is not installed")
		}
		t.Skip("fish is not installed")
	}
	e := newEnv(t)
	ask := func(line string) []string {
		t.Helper()
		cmd := exec.Command("fish", "--no-config", "-c", "mapsdevice completion fish | source; complete -C "+shellJoin([]string{line}))
		cmd.Env = append(e.vars, "PATH="+filepath.Dir(binary)+":"+os.Getenv("PATH"), "HOME="+e.home)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("fish: %v: %s", err, out)
		}
		var values []string
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			v, _, _ := strings.Cut(l, "\t")
			values = append(values, v)
		}
		return values
	}
	if got := ask("mapsdevice geo"); !slices.Equal(got, []string{"geofence"}) {
		t.Errorf("mapsdevice geo<Tab> offers %q, want geofence", got)
	}
	if got := ask("mapsdevice report --sink "); !slices.Equal(got, []string{"blob", "eventhubs", "https", "maps-data"}) && !slices.Equal(got, []string{"maps-data", "blob", "eventhubs", "https"}) {
		t.Errorf("--sink <Tab> offers %q, want the four sinks", got)
	}
}

// TestCompleteAnswers holds the answers every script relies on: the
// commands, flags and values offered, and when file names fit.
func TestCompleteAnswers(t *testing.T) {
	e := newEnv(t)
	// Two stored sign-ins: profiles are completed from the state folder.
	for _, p := range []string{"kiosk", "lab"} {
		if err := os.WriteFile(filepath.Join(e.home, p+".lock"), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		words     []string
		want      []string // values offered, in order
		wantFiles bool
	}{
		{[]string{""}, []string{"login", "status", "doctor", "renew", "token", "logout", "emulator", "geofence", "report", "api", "demo", "completion", "version"}, false},
		{[]string{"geofence", "va"}, []string{"validate"}, false},
		{[]string{"geofence", "validate", ""}, nil, true},
		{[]string{"login", "--token-"}, []string{"--token-store"}, false},
		{[]string{"status", "--credential", ""}, []string{"device-code", "client-secret", "client-certificate", "workload-identity", "managed-identity"}, false},
		{[]string{"status", "--credential=client-c"}, []string{"--credential=client-certificate"}, false},
		{[]string{"status", "--profile", ""}, []string{"kiosk", "lab"}, false},
		{[]string{"report", "--input", ""}, nil, true},
		{[]string{"report", "--geography", "e"}, []string{"eu"}, false},
		{[]string{"completion", ""}, []string{"bash", "zsh", "fish", "powershell"}, false},
		{[]string{"status", "--json", "--prof"}, []string{"--profile"}, false},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.words, " "), func(t *testing.T) {
			out, _, code := e.run(append([]string{"__complete"}, tt.words...)...)
			if code != 0 {
				t.Fatalf("exit %d", code)
			}
			lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			directive := lines[len(lines)-1]
			var got []string
			for _, l := range lines[:len(lines)-1] {
				v, _, _ := strings.Cut(l, "\t")
				got = append(got, v)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("offered %q, want %q", got, tt.want)
			}
			if gotFiles := directive == ":files"; gotFiles != tt.wantFiles {
				t.Errorf("directive %q, want files %v", directive, tt.wantFiles)
			}
		})
	}
}

// TestManPages renders the generated page for report with man(1), as
// 'man -l' would for a user, and checks that groff has nothing to warn.
func TestManPages(t *testing.T) {
	if _, err := exec.LookPath("man"); err != nil {
		t.Skip("man is not installed")
	}
	e := newEnv(t)
	dir := t.TempDir()
	if _, errOut, code := e.run("__man", dir); code != 0 {
		t.Fatalf("__man: exit %d: %s", code, errOut)
	}
	pages, _ := filepath.Glob(filepath.Join(dir, "*.1"))
	if len(pages) < 15 {
		t.Fatalf("%d pages, want one for each command: %v", len(pages), pages)
	}
	for _, page := range pages {
		cmd := exec.Command("man", "--warnings", "-l", page)
		cmd.Env = append(os.Environ(), "MANWIDTH=80", "MANPAGER=cat", "PAGER=cat")
		var out, errb strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			t.Fatalf("man -l %s: %v: %s", page, err, errb.String())
		}
		if errb.Len() > 0 {
			t.Errorf("man -l %s warns:\n%s", filepath.Base(page), errb.String())
		}
		if filepath.Base(page) != "mapsdevice-report.1" {
			continue
		}
		text := out.String()
		for _, want := range []string{
			"mapsdevice-report - deliver sensor readings",
			"--sink string",
			"Environment: MAPSDEVICE_SINK. Default: maps-data.",
			`{"time":"2026-11-21T10:00:00Z","lat":47.64`, // an example kept as it is
			"65     Invalid input",
		} {
			if !strings.Contains(text, want) {
				t.Errorf("the report page lacks %q:\n%s", want, text)
			}
		}
		// Filled text fits 80 columns; an example that has no blank
		// to break at is kept whole, as man does.
		for _, l := range strings.Split(text, "\n") {
			if len([]rune(l)) > 80 && strings.Contains(strings.TrimSpace(l), " ") {
				t.Errorf("a line wider than 80 columns: %q", l)
			}
		}
	}
}
