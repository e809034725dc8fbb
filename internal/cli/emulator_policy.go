package cli

import (
	"flag"
	"strings"

	"github.com/mapsdevice/mapsdevice/emulator"
)

// policyFlags are the emulator's organisation policy switches, each
// refusing sign-ins with the code Entra ID sends (emulator.Policy).
type policyFlags struct {
	BlockUsers   string
	BlockApp     bool
	BlockRefresh bool
	PublicOff    bool
	NoConsent    bool
	SecDefaults  bool
	MFA          bool
	Compliance   bool
}

func (p *policyFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&p.BlockUsers, "block-device-code-users", "", "policy: block the device code flow for these users, comma-separated (AADSTS53003)")
	fs.BoolVar(&p.BlockApp, "block-device-code-app", false, "policy: block the device code flow for the app, every user (AADSTS53003)")
	fs.BoolVar(&p.BlockRefresh, "block-device-code-refresh", false, "policy: refuse refresh of sessions begun with a device code (AADSTS53003)")
	fs.BoolVar(&p.PublicOff, "public-client-flows-off", false, "policy: the app does not allow public client flows (AADSTS7000218)")
	fs.BoolVar(&p.NoConsent, "consent-missing", false, "policy: nobody consented to the app's permission (AADSTS65001)")
	fs.BoolVar(&p.SecDefaults, "security-defaults", false, "policy: security defaults block device code sign-in (AADSTS530035)")
	fs.BoolVar(&p.MFA, "mfa-required", false, "policy: refresh of sessions signed in before needs MFA (AADSTS50076)")
	fs.BoolVar(&p.Compliance, "device-compliance-required", false, "policy: a compliant device is required (AADSTS53000)")
}

func (p policyFlags) policy() emulator.Policy {
	var users []string
	for _, u := range strings.Split(p.BlockUsers, ",") {
		if u = strings.TrimSpace(u); u != "" {
			users = append(users, u)
		}
	}
	return emulator.Policy{
		BlockDeviceCodeUsers:     users,
		BlockDeviceCodeApp:       p.BlockApp,
		BlockDeviceCodeRefresh:   p.BlockRefresh,
		PublicClientFlowsOff:     p.PublicOff,
		ConsentMissing:           p.NoConsent,
		SecurityDefaults:         p.SecDefaults,
		MFARequired:              p.MFA,
		DeviceComplianceRequired: p.Compliance,
	}
}
