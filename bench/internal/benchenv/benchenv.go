// Package benchenv sets up what every measurement program needs: a
// mapsdevice environment pointed at an emulator, and a sign-in.
package benchenv

import (
	"fmt"
	"os/exec"
	"strings"

	"github.com/mapsdevice/mapsdevice/emulator"
)

// Vars are the MAPSDEVICE_* settings of a run against srv: its own home,
// no config file, tokens in a plain file, and the emulator's exports.
func Vars(home string, srv *emulator.Server) []string {
	return []string{
		"MAPSDEVICE_HOME=" + home,
		"MAPSDEVICE_CONFIG=" + home + "/none",
		"MAPSDEVICE_TOKEN_STORE=file",
		"MAPSDEVICE_AUTHORITY=" + srv.Authority(),
		"MAPSDEVICE_CLIENT_ID=" + srv.ClientID(),
		"MAPSDEVICE_CA_FILE=" + srv.CAFile(),
		"MAPSDEVICE_MAPS_ENDPOINT=" + srv.MapsEndpoint(),
		"MAPSDEVICE_MAPS_CLIENT_ID=" + srv.MapsClientID(),
	}
}

// SignIn runs 'mapsdevice login --json' (the emulator must auto-approve)
// and checks that it ended signed in.
func SignIn(bin string, env []string) error {
	cmd := exec.Command(bin, "login", "--json")
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil || !strings.Contains(string(out), `"event":"signed_in"`) {
		return fmt.Errorf("login: %v: %s", err, out)
	}
	return nil
}
