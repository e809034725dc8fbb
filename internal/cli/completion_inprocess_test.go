package cli_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCompletionScripts: each script is what its shell can read (checked
// by the shell itself where it is installed) and asks __complete; an
// unknown shell is a usage error.
func TestCompletionScripts(t *testing.T) {
	hermetic(t)
	syntax := map[string][]string{"bash": {"bash", "-n"}, "zsh": {"zsh", "-n"}, "fish": {"fish", "--no-execute"}}
	for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
		t.Run(shell, func(t *testing.T) {
			r := runMain(t, "completion", shell)
			if r.code != 0 || !strings.Contains(r.out, "__complete") {
				t.Fatalf("exit %d: %q", r.code, r.out)
			}
			check, ok := syntax[shell]
			if !ok {
				return
			}
			if _, err := exec.LookPath(check[0]); err != nil {
				return // the tmux tests require the shells in CI
			}
			file := filepath.Join(t.TempDir(), "script")
			if err := os.WriteFile(file, []byte(r.out), 0o600); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command(check[0], append(check[1:], file)...).CombinedOutput(); err != nil {
				t.Errorf("%s does not accept its script: %v: %s", shell, err, out)
			}
		})
	}
	if r := runMain(t, "completion", "tcsh"); r.code != 64 || !strings.Contains(r.err, "bash, zsh, fish or powershell") {
		t.Errorf("completion tcsh: exit %d %q; want 64 naming the shells", r.code, r.err)
	}
}

// TestManPagesInProcess writes the pages as scripts/docs does: one for
// each command, each a man(7) page with the sections a reader expects.
func TestManPagesInProcess(t *testing.T) {
	hermetic(t)
	dir := t.TempDir()
	if r := runMain(t, "__man", dir); r.code != 0 {
		t.Fatalf("__man: exit %d: %s", r.code, r.err)
	}
	for _, name := range []string{"mapsdevice", "mapsdevice-report", "mapsdevice-geofence-show", "mapsdevice-completion", "mapsdevice-api"} {
		b, err := os.ReadFile(filepath.Join(dir, name+".1"))
		if err != nil {
			t.Errorf("no page for %s: %v", name, err)
			continue
		}
		page := string(b)
		for _, want := range []string{".TH " + strings.ToUpper(strings.ReplaceAll(name, "-", `\-`)) + " 1", ".SH NAME", ".SH SYNOPSIS", ".SH DESCRIPTION", ".SH EXIT STATUS", ".SH SEE ALSO"} {
			if !strings.Contains(page, want) {
				t.Errorf("%s lacks %q", name, want)
			}
		}
	}
	if r := runMain(t, "__man"); r.code != 64 {
		t.Errorf("__man without a folder: exit %d, want 64", r.code)
	}
}

// TestCompleteInProcess: the answers of __complete for a few lines.
func TestCompleteInProcess(t *testing.T) {
	hermetic(t)
	tests := []struct {
		words []string
		want  string
	}{
		{[]string{"ge"}, "geofence\tvalidate, upload and check GeoJSON geofences in Azure Maps\n:none\n"},
		{[]string{"report", "--sink="}, "--sink=maps-data\n--sink=blob\n--sink=eventhubs\n--sink=https\n:none\n"},
		{[]string{"report", "--nope="}, ":none\n"},
		{[]string{"geofence", "show", "--track", ""}, ":files\n"},
		{[]string{"api", "-X", "P"}, "POST\nPUT\nPATCH\n:none\n"},
		{[]string{"status", "--managed-identity", `""`}, "system\nclient-id=\nobject-id=\nresource-id=\n:none\n"},
	}
	for _, tt := range tests {
		r := runMain(t, append([]string{"__complete"}, tt.words...)...)
		if r.code != 0 || r.out != tt.want {
			t.Errorf("__complete %q: exit %d %q; want %q", tt.words, r.code, r.out, tt.want)
		}
	}
}

// TestCompleteFlagsInProcess: flag names with their help, and stored
// profiles from the state folder.
func TestCompleteFlagsInProcess(t *testing.T) {
	home := hermetic(t)
	for _, p := range []string{"kiosk", "lab"} {
		if err := os.WriteFile(filepath.Join(home, p+".lock"), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if r := runMain(t, "__complete", "status", "--profile", ""); r.out != "kiosk\nlab\n:none\n" {
		t.Errorf("--profile offers %q, want the stored kiosk and lab", r.out)
	}
	if r := runMain(t, "__complete", "login", "--token-s"); r.out != "--token-store\twhere tokens are kept\n:none\n" {
		t.Errorf("--token-s offers %q", r.out)
	}
	if r := runMain(t, "__complete", "api", "--he"); r.out != "--header\ta request header \"Name: value\"\n--help\tshow help\n:none\n" {
		t.Errorf("--he offers %q", r.out)
	}
}
