package cli

import (
	"encoding/json"
	"io"
	"time"

	"github.com/mapsdevice/mapsdevice/internal/azmaps"
	"github.com/mapsdevice/mapsdevice/internal/geofence"
	"github.com/mapsdevice/mapsdevice/internal/report"
)

// The --json output: one object a line, each with the event it is. Every
// event and field is documented in docs/json.md; change both together.

// errorEvent ends the output of every command that fails.
type errorEvent struct {
	Event   string `json:"event"` // "error"
	Code    string `json:"code"`
	Message string `json:"message"`
}

// deviceCodeEvent is a code to approve (login, demo).
type deviceCodeEvent struct {
	Event           string `json:"event"` // "device_code"
	UserCode        string `json:"user_code"`
	VerificationURI string `json:"verification_uri"`
	ExpiresAt       string `json:"expires_at"`
	Interval        int    `json:"interval"` // seconds
	Message         string `json:"message"`
	signInSubject
}

// signedInEvent ends a sign-in (login, demo).
type signedInEvent struct {
	Event      string `json:"event"` // "signed_in"
	Username   string `json:"username"`
	TenantID   string `json:"tenant_id"`
	ExpiresAt  string `json:"expires_at"`
	TokenStore string `json:"token_store"`
}

// signedOutEvent is logout's result.
type signedOutEvent struct {
	Event      string `json:"event"` // "signed_out"
	Profile    string `json:"profile"`
	TokenStore string `json:"token_store"`
}

// statusEvent is status's result; the account fields only when signed in,
// reason only when not; the app fields for app credentials and managed
// identities, which have no token store.
type statusEvent struct {
	Event              string `json:"event"` // "status"
	SignedIn           bool   `json:"signed_in"`
	Credential         string `json:"credential"`
	Authority          string `json:"authority,omitempty"`
	ClientID           string `json:"client_id,omitempty"`
	Profile            string `json:"profile,omitempty"`
	TokenStore         string `json:"token_store"`
	TokenStoreAuto     bool   `json:"token_store_auto"`
	TokenStoreLocation string `json:"token_store_location"`
	Username           string `json:"username,omitempty"`
	Name               string `json:"name,omitempty"`
	AppID              string `json:"app_id,omitempty"`
	ObjectID           string `json:"object_id,omitempty"`
	TenantID           string `json:"tenant_id,omitempty"`
	ManagedIdentity    string `json:"managed_identity,omitempty"`
	ManagedSource      string `json:"managed_identity_source,omitempty"`
	ExpiresAt          string `json:"expires_at,omitempty"`
	RenewedAt          string `json:"renewed_at,omitempty"`
	DaysLeft           *int   `json:"days_left,omitempty"`
	Reason             string `json:"reason,omitempty"`
}

// checkEvent is one check of doctor's.
type checkEvent struct {
	Event   string `json:"event"` // "check"
	Name    string `json:"name"`
	Verdict string `json:"verdict"` // pass, warn, fail or skip
	Detail  string `json:"detail"`
	Fix     string `json:"fix,omitempty"`
}

// doctorEvent ends doctor's output with the counts.
type doctorEvent struct {
	Event   string `json:"event"` // "doctor"
	Passed  int    `json:"passed"`
	Warned  int    `json:"warned"`
	Failed  int    `json:"failed"`
	Skipped int    `json:"skipped"`
}

// tokenEvent is token's result; username for a person, app_id for an
// app credential or managed identity.
type tokenEvent struct {
	Event       string `json:"event"` // "token"
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresAt   string `json:"expires_at"`
	Username    string `json:"username"`
	Credential  string `json:"credential"`
	AppID       string `json:"app_id,omitempty"`
}

// validatedEvent is geofence validate's result: fences when valid,
// problems when not.
type validatedEvent struct {
	Event    string             `json:"event"` // "validated"
	Valid    bool               `json:"valid"`
	Fences   *int               `json:"fences,omitempty"`
	Problems []geofence.Problem `json:"problems,omitempty"`
}

// uploadedEvent is geofence upload's and update's result; udid once the
// service has accepted the upload (not with --no-wait).
type uploadedEvent struct {
	Event       string `json:"event"` // "uploaded" or "updated"
	UDID        string `json:"udid,omitempty"`
	OperationID string `json:"operationId"`
	Status      string `json:"status"`
}

// mapDataEvent is geofence list's result.
type mapDataEvent struct {
	Event       string            `json:"event"` // "map_data"
	MapDataList []azmaps.Metadata `json:"mapDataList"`
}

// deletedEvent is geofence delete's result.
type deletedEvent struct {
	Event   string `json:"event"`   // "deleted"
	Deleted string `json:"deleted"` // the udid
}

// reportStatusEvent is report --status's result.
type reportStatusEvent struct {
	Event string `json:"event"` // "report_status"
	report.Status
}

// writeEvent writes one NDJSON line. The events are plain structs, which
// always marshal.
func writeEvent(w io.Writer, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		return
	}
	w.Write(append(data, '\n'))
}

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }
