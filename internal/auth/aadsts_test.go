package auth

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	msalerrors "github.com/AzureAD/microsoft-authentication-library-for-go/apps/errors"
)

// callErr is what MSAL returns for an Entra error answer: the status,
// and the body after the first line of the text.
func callErr(status int, errorName string, code int) error {
	body := fmt.Sprintf(`{"error":%q,"error_description":"AADSTS%d: words","error_codes":[%d],"timestamp":"2026-11-22 10:00:00Z","trace_id":"t","correlation_id":"c"}`, errorName, code, code)
	req, _ := http.NewRequest(http.MethodPost, "https://login.example/tenant/oauth2/v2.0/token", nil)
	return msalerrors.CallErr{Req: req, Resp: &http.Response{StatusCode: status},
		Err: fmt.Errorf("http call(%s)(POST) error: reply status code was %d:\n%s", req.URL, status, body)}
}

// TestAADSTSCodesDecide: the number in error_codes sorts the failure,
// whatever the error string says (70021 and 700016 both come as
// unauthorized_client).
func TestAADSTSCodesDecide(t *testing.T) {
	tests := []struct {
		status int
		name   string
		code   int
		want   Kind
	}{
		{401, "invalid_client", 7000215, KindBadSecret},
		{401, "invalid_client", 7000222, KindSecretExpired},
		{400, "unauthorized_client", 700016, KindUnknownClient},
		{401, "invalid_client", 700027, KindCertificateNotRegistered},
		{401, "invalid_client", 700024, KindClock},
		{401, "invalid_client", 700021, KindBadAssertion},
		{401, "invalid_client", 700023, KindBadAssertion},
		{401, "unauthorized_client", 70021, KindFederationMismatch},
		{400, "invalid_resource", 500011, KindResourceNotFound},
		{400, "invalid_request", 50059, KindTenantRequired},
		{400, "invalid_request", 9001023, KindTenantRequired},
		{400, "invalid_grant", 53003, KindConditionalAccess},
		{400, "invalid_grant", 530035, KindSecurityDefaults},
		{400, "invalid_grant", 53000, KindDeviceCompliance},
		{400, "invalid_grant", 50097, KindDeviceCompliance},
		{400, "invalid_grant", 50005, KindDeviceCompliance},
		{400, "invalid_grant", 50076, KindMFARequired},
		{400, "invalid_grant", 50079, KindMFARequired},
		{400, "invalid_grant", 50072, KindMFARequired},
		{401, "invalid_client", 7000218, KindPublicClientDisabled},
		{400, "unauthorized_client", 700011, KindUnknownClient},
		{400, "invalid_grant", 65001, KindConsentRequired},
		{400, "invalid_request", 50194, KindSingleTenantApp},
		{400, "invalid_grant", 50196, KindLoopDetected},
		{400, "invalid_grant", 700082, KindSignInNeeded},
		{400, "invalid_grant", 70043, KindSignInNeeded},
		{400, "invalid_grant", 50173, KindSignInNeeded},
		{400, "invalid_grant", 50132, KindSignInNeeded},
		{400, "invalid_grant", 50133, KindSignInNeeded},
		{400, "expired_token", 70020, KindCodeExpired},
		{400, "unauthorized_client", 1, KindUnknownClient},
		{503, "temporarily_unavailable", 2, KindService},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("AADSTS%d", tt.code), func(t *testing.T) {
			err := classify(callErr(tt.status, tt.name, tt.code))
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("classify: %T %v", err, err)
			}
			if e.Kind != tt.want {
				t.Errorf("kind %d, want %d (%v)", e.Kind, tt.want, e)
			}
			if e.Code != tt.code {
				t.Errorf("code %d, want %d", e.Code, tt.code)
			}
			if !strings.Contains(e.Error(), fmt.Sprintf("AADSTS%d", tt.code)) {
				t.Errorf("message %q does not name the code", e.Error())
			}
			if e.CorrelationID != "c" || e.Timestamp != "2026-11-22 10:00:00Z" {
				t.Errorf("correlation %q, timestamp %q: want the body's", e.CorrelationID, e.Timestamp)
			}
		})
	}
}

// TestRefreshBlockExplainsProtocolTracking: 53003 when renewing the stored
// sign-in says the organisation blocked device codes since, and the
// stored sign-in counts as lost; a network failure does not.
func TestRefreshBlockExplainsProtocolTracking(t *testing.T) {
	err := atRefresh(classify(callErr(400, "invalid_grant", 53003)))
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindConditionalAccess || !e.Refresh {
		t.Fatalf("got %#v, want a refresh-time conditional access error", err)
	}
	if !strings.Contains(e.Error(), "has since blocked device-code sign-ins") {
		t.Errorf("message %q does not explain protocol tracking", e.Error())
	}
	if !SignInLost(err) {
		t.Error("SignInLost = false for a blocked refresh")
	}
	if SignInLost(&Error{Kind: KindNetwork}) {
		t.Error("SignInLost = true for a network failure")
	}
}

// TestArcPermissionDenied: MSAL's words for a token file the service
// user may not read become KindArcAccess (a user namespace cannot play
// this: its root reads every file).
func TestArcPermissionDenied(t *testing.T) {
	m := &Managed{source: ManagedSource{Name: "Azure Arc", Endpoint: "http://127.0.0.1:40342"}}
	err := m.classify(errors.New(`failed to read "/var/opt/azcmagent/tokens/x.key" due to error: open /var/opt/azcmagent/tokens/x.key: permission denied`), false)
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindArcAccess {
		t.Fatalf("got %v, want KindArcAccess", err)
	}
}
