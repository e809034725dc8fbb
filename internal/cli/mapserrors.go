package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/mapsdevice/mapsdevice/internal/auth"
	"github.com/mapsdevice/mapsdevice/internal/azmaps"
)

// explainMaps says what Azure Maps failures mean and what to do; nil when
// err is not one of them.
func explainMaps(err error, s settings) *exitError {
	if errors.Is(err, azmaps.ErrNoMapsClientID) {
		return &exitError{code: ExitUsage, errCode: "no_maps_client_id", msg: "No Maps client id is set. Signed-in calls to Azure Maps name the Maps account:\n" +
			"set --maps-client-id (MAPSDEVICE_MAPS_CLIENT_ID) to the Client ID shown under the Maps account's\n" +
			"Authentication page in the Azure portal, or use a shared key (--maps-key-file, --maps-key-from-vault)."}
	}
	if errors.Is(err, azmaps.ErrForeignHost) {
		return &exitError{code: ExitError, errCode: "foreign_host", msg: "Stopped: " + err.Error() + ".\nCheck --maps-endpoint; if the service really moved, point --maps-endpoint at the new host."}
	}
	var te *azmaps.TokenError
	if errors.As(err, &te) {
		var ae *auth.Error
		if errors.As(te.Err, &ae) {
			return nil // explained as a sign-in failure
		}
	}
	var ke *azmaps.KeyError
	if errors.As(err, &ke) {
		return nil // explained where the key is kept
	}
	var ne *azmaps.NetworkError
	if errors.As(err, &ne) {
		return &exitError{code: ExitError, errCode: "network", msg: "Could not reach the Maps endpoint: " + ne.Err.Error() + ".\nCheck the network and --maps-endpoint, then try again."}
	}
	var oe *azmaps.OperationError
	if errors.As(err, &oe) {
		var b strings.Builder
		fmt.Fprintf(&b, "Azure Maps did not accept the fences (%s): %s", oe.Code, oe.Message)
		for i, d := range oe.Details {
			if i == 20 {
				fmt.Fprintf(&b, "\n  ... and %d more", len(oe.Details)-20)
				break
			}
			fmt.Fprintf(&b, "\n  - %s", d.Message)
		}
		b.WriteString("\nFix the file ('mapsdevice geofence validate FILE' lists every problem) and upload it again.")
		return &exitError{code: ExitData, errCode: "invalid_geojson", msg: b.String()}
	}
	var re *roleError
	if errors.As(err, &re) {
		return &exitError{code: ExitError, errCode: "forbidden", msg: fmt.Sprintf(
			"Azure Maps refused this (403): the account or app in use needs the %s role on this Maps account.\n"+
				"Ask an owner to add it under the Maps account's Access control (IAM), then try again.", re.role)}
	}
	var api *azmaps.APIError
	if !errors.As(err, &api) {
		return nil
	}
	what := api.Error()
	switch {
	case api.Retired:
		return &exitError{code: ExitError, errCode: "retired", msg: "Azure Maps no longer offers this service: Microsoft retired the Data service\n" +
			"on 2024-09-16 and the Spatial service on 2025-09-30. Point --maps-endpoint\n" +
			"(MAPSDEVICE_MAPS_ENDPOINT) at a compatible endpoint, such as 'mapsdevice emulator'."}
	case api.Status == 401 && api.AuthError == "InvalidClientId":
		return &exitError{code: ExitError, errCode: "invalid_client_id", msg: what + ".\nCheck --maps-client-id: it must be the Client ID of this Maps account."}
	case api.Status == 401 && api.Keyed:
		// Signing in again cannot help a key.
		return &exitError{code: ExitError, errCode: "key_refused", msg: what + ".\nThe Maps service refused the shared key: it was rotated, or it is another account's.\nCheck the key in --maps-key-file, MAPSDEVICE_MAPS_KEY or the Key Vault secret of --maps-key-from-vault."}
	case api.Status == 401 && s.Cred.app():
		return &exitError{code: ExitError, errCode: "unauthorized", msg: what + ".\nThe Maps service did not accept the app's token. Check --maps-client-id, and that the app or identity has an Azure Maps data role on this account."}
	case api.Status == 401:
		return &exitError{code: ExitSignIn, errCode: "sign_in_needed", msg: what + ".\nThe Maps service did not accept the sign-in. Run 'mapsdevice login'."}
	case api.Status == 403 && s.Cred.app():
		return &exitError{code: ExitError, errCode: "forbidden", msg: what + ".\nThe app or managed identity needs an Azure Maps data role on this Maps account (Data Reader to read, Data Contributor to change)."}
	case api.Status == 403:
		return &exitError{code: ExitError, errCode: "forbidden", msg: what + ".\nYour account needs an Azure Maps data role on this Maps account (Data Reader to read, Data Contributor to change)."}
	case api.Status == 404:
		return &exitError{code: ExitError, errCode: "not_found", msg: what + ".\nCheck the udid ('mapsdevice geofence list') or the path."}
	case api.Status == 409:
		return &exitError{code: ExitError, errCode: "conflict", msg: what + ".\nThe Maps account's storage is full: delete map data you no longer need ('mapsdevice geofence delete UDID')."}
	case api.Status == 413:
		return &exitError{code: ExitData, errCode: "too_large", msg: what + ".\nSplit the fences into files of at most 100 MB."}
	case api.Status == 429:
		return &exitError{code: ExitError, errCode: "throttled", msg: what + ".\nAzure Maps is throttling this account (50 requests per second); it was retried with backoff. Try again in a moment."}
	case api.Status == 400:
		var b strings.Builder
		b.WriteString(what + ".")
		for _, d := range api.Details {
			fmt.Fprintf(&b, "\n  - %s", d.Message)
		}
		b.WriteString("\nCheck the values given.")
		return &exitError{code: ExitError, errCode: "bad_request", msg: b.String()}
	case api.Status >= 500:
		return &exitError{code: ExitError, errCode: "service", msg: what + ".\nAzure Maps is having trouble; it was retried with backoff. Try again later."}
	}
	return &exitError{code: ExitError, errCode: "maps_error", msg: what + "."}
}
