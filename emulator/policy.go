package emulator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// Policy plays an organisation's Conditional Access, security defaults
// and app registration settings, each of which refuses a sign-in with the
// AADSTS code Entra ID sends. The zero value refuses nothing.
type Policy struct {
	// BlockDeviceCodeUsers blocks the device code flow for these users
	// (AADSTS53003 at the poll after approval, and at refresh of their
	// sessions begun with a device code).
	BlockDeviceCodeUsers []string `json:"blockDeviceCodeUsers,omitempty"`
	// BlockDeviceCodeApp blocks the device code flow for the registered
	// public client, for every user (53003 at the poll and at refresh).
	BlockDeviceCodeApp bool `json:"blockDeviceCodeApp,omitempty"`
	// BlockDeviceCodeRefresh refuses the refresh of any session begun with
	// a device code (53003): protocol tracking after a block was added.
	BlockDeviceCodeRefresh bool `json:"blockDeviceCodeRefresh,omitempty"`
	// PublicClientFlowsOff is "Allow public client flows: No": every
	// device code or refresh token request is AADSTS7000218.
	PublicClientFlowsOff bool `json:"publicClientFlowsOff,omitempty"`
	// ConsentMissing: nobody consented to the Maps permission (AADSTS65001
	// at the poll after approval and at refresh).
	ConsentMissing bool `json:"consentMissing,omitempty"`
	// SecurityDefaults block the device code sign-in (AADSTS530035 at the
	// poll after approval).
	SecurityDefaults bool `json:"securityDefaults,omitempty"`
	// MFARequired refuses the refresh of sessions signed in before it was
	// set (AADSTS50076); a new sign-in counts as having done MFA.
	MFARequired bool `json:"mfaRequired,omitempty"`
	// DeviceComplianceRequired wants a compliant device, which a device
	// code cannot prove (AADSTS53000 at the poll and at refresh).
	DeviceComplianceRequired bool `json:"deviceComplianceRequired,omitempty"`
}

// refusal is a policy's answer: an Entra error.
type refusal struct {
	status      int
	name        string
	code        int
	description string
}

var (
	refuseBlocked = refusal{http.StatusBadRequest, "invalid_grant", 53003,
		"Access has been blocked by Conditional Access policies. The access policy does not allow token issuance."}
	refuseSecurityDefaults = refusal{http.StatusBadRequest, "invalid_grant", 530035,
		"Access has been blocked by security defaults. This is due to the request using legacy auth or being deemed unsafe by security defaults policies."}
	refuseCompliance = refusal{http.StatusBadRequest, "invalid_grant", 53000,
		"Device is not in required device state: compliant. Conditional Access policy requires a compliant device, and the device is not compliant."}
	refuseConsent = refusal{http.StatusBadRequest, "invalid_grant", 65001,
		"The user or administrator has not consented to use the application. Send an interactive authorization request for this user and resource."}
	refuseMFA = refusal{http.StatusBadRequest, "invalid_grant", 50076,
		"Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access the resource."}
	refusePublicClient = refusal{http.StatusUnauthorized, "invalid_client", 7000218,
		"The request body must contain the following parameter: 'client_assertion' or 'client_secret'."}
)

func (r refusal) write(w http.ResponseWriter) {
	writeError(w, r.status, r.name, r.code, r.description)
}

// SetPolicy replaces the policy; it applies to the next request.
func (s *Server) SetPolicy(p Policy) {
	s.id.mu.Lock()
	defer s.id.mu.Unlock()
	s.id.policy = p
}

// Policy is the policy in force.
func (s *Server) Policy() Policy {
	s.id.mu.Lock()
	defer s.id.mu.Unlock()
	return s.id.policy
}

// deviceCodeBlocked says whether the device code flow is blocked for a
// user, by the policy or by the user's own mark.
func (p Policy) deviceCodeBlocked(u User) bool {
	return p.BlockDeviceCodeApp || u.BlockedByConditionalAccess ||
		slices.ContainsFunc(p.BlockDeviceCodeUsers, func(name string) bool { return strings.EqualFold(name, u.Username) })
}

// refusePublicClient is checked before anything else a public client asks
// of the token endpoint for a device code or a refresh, as Entra checks
// client authentication first.
func (p Policy) refusePublicClient() (refusal, bool) {
	return refusePublicClient, p.PublicClientFlowsOff
}

// refuseApproved is the answer to the first poll after approval, when a
// policy refuses the sign-in.
func (p Policy) refuseApproved(u User) (refusal, bool) {
	switch {
	case p.deviceCodeBlocked(u):
		return refuseBlocked, true
	case p.SecurityDefaults:
		return refuseSecurityDefaults, true
	case p.DeviceComplianceRequired:
		return refuseCompliance, true
	case p.ConsentMissing:
		return refuseConsent, true
	}
	return refusal{}, false
}

// refuseBrowser is the answer to a browser sign-in a policy refuses: the
// device code switches do not apply to it.
func (p Policy) refuseBrowser(u User) (refusal, bool) {
	switch {
	case p.DeviceComplianceRequired:
		return refuseCompliance, true
	case p.ConsentMissing:
		return refuseConsent, true
	}
	return refusal{}, false
}

// refuseRefresh is the answer to a refresh a policy refuses. Sessions
// begun with a device code stay tagged (protocol tracking).
func (p Policy) refuseRefresh(rg *refreshGrant) (refusal, bool) {
	switch {
	case rg.deviceCode && (p.BlockDeviceCodeRefresh || p.deviceCodeBlocked(rg.user)):
		return refuseBlocked, true
	case p.DeviceComplianceRequired:
		return refuseCompliance, true
	case p.ConsentMissing:
		return refuseConsent, true
	case p.MFARequired && !rg.mfa:
		return refuseMFA, true
	}
	return refusal{}, false
}

// policyControl serves POST /emulator/policy: the body is a Policy in
// JSON, which replaces the one in force; the answer is the policy now in
// force. GET answers it alone.
func (s *Server) policyControl(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		var p Policy
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&p); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf("policy: %v", err)})
			return
		}
		s.SetPolicy(p)
	}
	writeJSON(w, http.StatusOK, s.Policy())
}
