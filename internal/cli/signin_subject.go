package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/mapsdevice/mapsdevice/internal/ui"
)

// defaultAppName is the display name shown when --app-name is not set.
const defaultAppName = "mapsdevice"

// signInSubject is what a device code signs in to: shown on the screen,
// in the plain text and in the device_code event, so a person can tell a
// code they started from one someone sent them.
type signInSubject struct {
	App      string   `json:"app_name"`
	ClientID string   `json:"client_id"`
	Tenant   string   `json:"tenant"`
	Scopes   []string `json:"scopes"`
	Warning  string   `json:"warning"`
}

func (x *signIn) subject() signInSubject {
	app := x.screen.AppName
	if app == "" {
		app = defaultAppName
	}
	return signInSubject{App: app, ClientID: x.s.ClientID, Tenant: tenantOf(x.s), Scopes: strings.Fields(x.s.Scope), Warning: ui.PhishingWarning}
}

func (s signInSubject) print(w io.Writer) {
	fmt.Fprintf(w, "This signs in to %s (client id %s), tenant %s, for %s.\n%s\n",
		s.App, s.ClientID, s.Tenant, ui.ScopeNames(s.Scopes), s.Warning)
}
