package cli

import (
	"bytes"
	"flag"
	"slices"
	"strings"
	"testing"

	"github.com/peterbourgon/ff/v3/ffcli"
)

// The flag groups: a command registers a group whole or not at all.
var (
	signInGroup     = []string{"tenant", "authority", "client-id", "scope", "token-store", "ca-file", "profile", "home"}
	credentialGroup = []string{"credential", "client-secret-file", "client-certificate", "client-certificate-password-file",
		"send-certificate-chain", "federated-token-file", "managed-identity", "timeout"}
	mapsGroup = []string{"maps-endpoint", "geography", "maps-client-id", "maps-key", "maps-key-file", "maps-key-from-vault", "maps-key-refresh"}
)

// wantGroups is which groups each command that runs needs: login and
// logout are about the device code sign-in only, so they take no
// credential.
var wantGroups = map[string]struct{ signIn, credential, maps bool }{
	"mapsdevice login":             {signIn: true},
	"mapsdevice status":            {signIn: true, credential: true},
	"mapsdevice token":             {signIn: true, credential: true},
	"mapsdevice logout":            {signIn: true},
	"mapsdevice renew":             {signIn: true},
	"mapsdevice doctor":            {signIn: true, credential: true, maps: true},
	"mapsdevice emulator":          {},
	"mapsdevice geofence validate": {}, // offline
	"mapsdevice geofence upload":   {signIn: true, credential: true, maps: true},
	"mapsdevice geofence update":   {signIn: true, credential: true, maps: true},
	"mapsdevice geofence list":     {signIn: true, credential: true, maps: true},
	"mapsdevice geofence get":      {signIn: true, credential: true, maps: true},
	"mapsdevice geofence delete":   {signIn: true, credential: true, maps: true},
	"mapsdevice geofence check":    {signIn: true, credential: true, maps: true},
	"mapsdevice geofence show":     {signIn: true, credential: true, maps: true}, // --png
	"mapsdevice report":            {signIn: true, credential: true, maps: true},
	"mapsdevice api":               {signIn: true, credential: true, maps: true},
	"mapsdevice demo":              {},
	"mapsdevice completion":        {},
	"mapsdevice version":           {},
}

// TestHelpWalk visits every command: each has a short usage that names
// it, short and long help, flags with help that names their environment
// variable, no two flags for one variable, only the flag groups it uses,
// help that fits 80 columns, and --help that exits 0.
func TestHelpWalk(t *testing.T) {
	visited := map[string]bool{}
	walk(newRoot(Stdio{}), func(c *ffcli.Command, path string) {
		visited[path] = true
		t.Run(path, func(t *testing.T) {
			if !strings.HasPrefix(c.ShortUsage, path) {
				t.Errorf("ShortUsage %q does not start with %q", c.ShortUsage, path)
			}
			if c.ShortHelp == "" || c.LongHelp == "" {
				t.Errorf("short help %q, long help %q: want both", c.ShortHelp, c.LongHelp)
			}
			if strings.HasSuffix(c.ShortHelp, ".") || strings.ToLower(c.ShortHelp[:1]) != c.ShortHelp[:1] {
				t.Errorf("ShortHelp %q: lower case and no full stop, as the command lists show it", c.ShortHelp)
			}
			help := usage(c)
			for _, line := range strings.Split(help, "\n") {
				if len([]rune(line)) > 80 {
					t.Errorf("help line over 80 columns: %q", line)
				}
			}
			checkFlags(t, c, help)
			if len(c.Subcommands) == 0 {
				checkGroups(t, path, c.FlagSet)
			}

			name := strings.Fields(path)[1:]
			tries := [][]string{slices.Concat(name, []string{"--help"}), slices.Concat(name, []string{"-h"})}
			if len(c.Subcommands) == 0 { // help after an argument too
				tries = append(tries, slices.Concat(name, []string{"ARG", "--help"}))
			}
			for _, args := range tries {
				var out, errb bytes.Buffer
				code := Main(t.Context(), args, Stdio{In: strings.NewReader(""), Out: &out, Err: &errb})
				if code != ExitOK || out.Len() != 0 || errb.String() != help+"\n" {
					t.Errorf("%v: exit %d, stdout %q, stderr %q; want 0 and the help on stderr", args, code, out.String(), errb.String())
				}
			}
		})
	})
	for path := range wantGroups {
		if !visited[path] {
			t.Errorf("%s was not visited; is it still a command?", path)
		}
	}
}

// checkFlags checks each flag's help in the rendered usage.
func checkFlags(t *testing.T, c *ffcli.Command, help string) {
	t.Helper()
	blocks := map[string]string{} // flag name → its part of the help
	if _, flags, ok := strings.Cut(help, "\nFlags:\n"); ok {
		for _, b := range strings.Split("\n"+flags, "\n  --")[1:] {
			blocks[strings.Fields(b)[0]] = b + "\n"
		}
	}
	envs := map[string]string{}
	c.FlagSet.VisitAll(func(f *flag.Flag) {
		env := EnvPrefix + "_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if other, dup := envs[env]; dup {
			t.Errorf("--%s and --%s are both %s", other, f.Name, env)
		}
		envs[env] = f.Name
		if strings.TrimSpace(f.Usage) == "" {
			t.Errorf("--%s has no help", f.Name)
		}
		b, ok := blocks[f.Name]
		if !ok {
			t.Errorf("--%s is not in the help", f.Name)
			return
		}
		if !strings.Contains(b, "\n      env "+env+"\n") {
			t.Errorf("the help of --%s does not name %s:\n%s", f.Name, env, b)
		}
	})
	if len(blocks) != len(envs) {
		t.Errorf("the help lists %d flags, the command has %d", len(blocks), len(envs))
	}
}

// checkGroups checks that a command registers the flag groups it needs,
// whole, and no others.
func checkGroups(t *testing.T, path string, fs *flag.FlagSet) {
	t.Helper()
	want, ok := wantGroups[path]
	if !ok {
		t.Errorf("%s: say which flag groups it needs in wantGroups", path)
		return
	}
	for _, g := range []struct {
		name  string
		flags []string
		want  bool
	}{{"sign-in", signInGroup, want.signIn}, {"credential", credentialGroup, want.credential}, {"Maps", mapsGroup, want.maps}} {
		var has []string
		for _, name := range g.flags {
			if fs.Lookup(name) != nil {
				has = append(has, name)
			}
		}
		switch {
		case g.want && !slices.Equal(has, g.flags):
			t.Errorf("%s has %v of the %s group %v", path, has, g.name, g.flags)
		case !g.want && len(has) > 0:
			t.Errorf("%s does not use the %s group but has %v", path, g.name, has)
		}
	}
}
