package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	msalerrors "github.com/AzureAD/microsoft-authentication-library-for-go/apps/errors"
	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/managedidentity"
	"golang.org/x/sync/singleflight"
)

// ErrBadSelection means --managed-identity names no identity.
var ErrBadSelection = errors.New("use system, client-id=GUID, object-id=GUID or resource-id=/subscriptions/…")

// ManagedConfig configures a managed identity: an identity Azure (or an
// Azure Arc agent) gives the machine, with no secret to keep.
type ManagedConfig struct {
	// Selection is system (the default), client-id=GUID, object-id=GUID
	// or resource-id=/subscriptions/… for a user-assigned identity.
	Selection string
	// Transport carries the requests to the identity endpoint. It should
	// use no proxy: the endpoint is on the machine or link-local.
	Transport http.RoundTripper
	// Timeout bounds each token acquisition (default DefaultTimeout):
	// MSAL alone tries three times for a minute each.
	Timeout time.Duration
}

// Managed gets tokens from the managed identity endpoint MSAL finds in
// the environment. It is chosen explicitly, never probed: off Azure the
// IMDS address answers nothing and would only cost a timeout.
type Managed struct {
	selection string
	source    ManagedSource
	client    managedidentity.Client
	timeout   time.Duration
	group     singleflight.Group
}

var _ Credential = (*Managed)(nil)

// ManagedSource is where managed identity tokens come from, as found in
// the environment.
type ManagedSource struct {
	Name     string   // App Service, Azure Arc, IMDS, …
	Endpoint string   // where requests go
	Seen     []string // the variables that were set (names only)
}

func (s ManagedSource) String() string {
	seen := "none of " + strings.Join(managedVars, ", ")
	if len(s.Seen) > 0 {
		seen = strings.Join(s.Seen, ", ")
	}
	return fmt.Sprintf("%s at %s; variables seen: %s", s.Name, s.Endpoint, seen)
}

// The variables MSAL reads to find the managed identity endpoint.
var managedVars = []string{"IDENTITY_ENDPOINT", "IDENTITY_HEADER", "IDENTITY_SERVER_THUMBPRINT", "IMDS_ENDPOINT", "MSI_ENDPOINT", "MSI_SECRET"}

// arcAgent is the file whose presence means an Azure Arc agent runs here.
const arcAgent = "/opt/azcmagent/bin/himds"

// DetectManagedSource says what MSAL will use here.
func DetectManagedSource() ManagedSource {
	var s ManagedSource
	for _, v := range managedVars {
		if os.Getenv(v) != "" {
			s.Seen = append(s.Seen, v)
		}
	}
	src, _ := managedidentity.GetSource()
	endpoint := os.Getenv("IDENTITY_ENDPOINT")
	switch src {
	case managedidentity.AppService:
		s.Name = "App Service"
	case managedidentity.AzureArc:
		s.Name = "Azure Arc"
		if endpoint == "" {
			endpoint = "http://127.0.0.1:40342/metadata/identity/oauth2/token"
		}
		if _, err := os.Stat(arcAgent); err == nil {
			s.Seen = append(s.Seen, arcAgent+" (exists)")
		}
	case managedidentity.ServiceFabric:
		s.Name = "Service Fabric"
	case managedidentity.CloudShell:
		s.Name, endpoint = "Cloud Shell", os.Getenv("MSI_ENDPOINT")
	case managedidentity.AzureML:
		s.Name, endpoint = "Azure ML", os.Getenv("MSI_ENDPOINT")
	default:
		s.Name, endpoint = "IMDS", "http://169.254.169.254/metadata/identity/oauth2/token"
	}
	s.Endpoint = endpoint
	return s
}

// parseSelection reads --managed-identity.
func parseSelection(s string) (managedidentity.ID, string, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "system" {
		return managedidentity.SystemAssigned(), "system", nil
	}
	k, v, ok := strings.Cut(s, "=")
	v = strings.TrimSpace(v)
	switch {
	case !ok || v == "":
	case k == "client-id" && guidShape.MatchString(v):
		return managedidentity.UserAssignedClientID(v), s, nil
	case k == "object-id" && guidShape.MatchString(v):
		return managedidentity.UserAssignedObjectID(v), s, nil
	case k == "resource-id" && strings.HasPrefix(strings.ToLower(v), "/subscriptions/"):
		return managedidentity.UserAssignedResourceID(v), s, nil
	}
	return nil, "", fmt.Errorf("managed identity %q: %w", s, ErrBadSelection)
}

// NewManagedIdentity makes the managed identity client. It sends no
// request.
func NewManagedIdentity(cfg ManagedConfig) (*Managed, error) {
	id, selection, err := parseSelection(cfg.Selection)
	if err != nil {
		return nil, err
	}
	opts := []managedidentity.ClientOption{}
	if cfg.Transport != nil {
		opts = append(opts, managedidentity.WithHTTPClient(&http.Client{Transport: cfg.Transport}))
	}
	source := DetectManagedSource()
	c, err := managedidentity.New(id, opts...)
	if err != nil {
		return nil, &Error{Kind: KindManagedIdentity, Reason: fmt.Sprintf("managed identity (%s): %s", source, firstLine(err.Error())), Err: err}
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &Managed{selection: selection, source: source, client: c, timeout: timeout}, nil
}

// AccessToken returns the identity's token for resource. MSAL keeps
// managed identity tokens in one cache for the whole process.
func (m *Managed) AccessToken(ctx context.Context, resource string, fresh bool) (Result, error) {
	resource = resourceOf(resource)
	key := resource
	if fresh {
		key += " fresh"
	}
	return shared(ctx, &m.group, key, func(ctx context.Context) (Result, error) { return m.acquire(ctx, resource, fresh) })
}

func (m *Managed) acquire(ctx context.Context, resource string, fresh bool) (Result, error) {
	tctx, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	var opts []managedidentity.AcquireTokenOption
	if fresh {
		opts = append(opts, managedidentity.WithClaims(freshClaimsNow()))
	}
	ar, err := m.client.AcquireToken(tctx, resource, opts...)
	if err != nil {
		if ctx.Err() != nil {
			return Result{}, ctx.Err()
		}
		return Result{}, m.classify(err, tctx.Err() != nil)
	}
	claims, _ := ReadClaims(ar.AccessToken)
	return Result{
		AccessToken: ar.AccessToken,
		ExpiresOn:   ar.ExpiresOn,
		FromCache:   ar.Metadata.TokenSource == managedidentity.TokenSourceCache,
		Claims:      claims,
	}, nil
}

// classify names the source and what was seen, since the usual trouble
// is a machine that has no managed identity at all.
func (m *Managed) classify(err error, timedOut bool) error {
	msg := firstLine(err.Error())
	switch {
	case timedOut:
		return &Error{Kind: KindManagedIdentity, Reason: fmt.Sprintf(
			"no managed identity answered within %s (%s)", m.timeout, m.source), Err: err}
	case strings.Contains(msg, "permission denied") && strings.Contains(msg, "/azcmagent/"):
		return &Error{Kind: KindArcAccess, Reason: "the Azure Arc agent's token file could not be read: permission denied", Err: err}
	}
	var call msalerrors.CallErr
	if errors.As(err, &call) {
		status := 0
		if call.Resp != nil {
			status = call.Resp.StatusCode
		}
		return &Error{Kind: KindManagedIdentity, Code: codeOf(call), Reason: fmt.Sprintf(
			"the managed identity endpoint refused (HTTP %d%s; %s)", status, describe(call), m.source), Err: err}
	}
	return &Error{Kind: KindManagedIdentity, Reason: fmt.Sprintf("managed identity failed: %s (%s)", msg, m.source), Err: err}
}

// codeOf is the AADSTS number of an error body, or 0.
func codeOf(call msalerrors.CallErr) int {
	var body serverError
	if _, raw, ok := strings.Cut(call.Error(), "\n"); ok {
		_ = json.Unmarshal([]byte(raw), &body)
	}
	if len(body.ErrorCodes) > 0 {
		return body.ErrorCodes[0]
	}
	return 0
}

// describe is the error body's own words, as ": text".
func describe(call msalerrors.CallErr) string {
	_, raw, ok := strings.Cut(call.Error(), "\n")
	if !ok {
		return ""
	}
	var flat struct {
		Error       any    `json:"error"`
		Description string `json:"error_description"`
		Message     string `json:"message"`
	}
	if json.Unmarshal([]byte(raw), &flat) != nil {
		return ""
	}
	text := flat.Description
	if text == "" {
		text = flat.Message
	}
	if nested, ok := flat.Error.(map[string]any); ok && text == "" {
		text, _ = nested["message"].(string)
	}
	if s, ok := flat.Error.(string); ok && text == "" {
		text = s
	}
	if text == "" {
		return ""
	}
	return ": " + firstLine(text)
}

// Identity says which managed identity, from where.
func (m *Managed) Identity() Identity {
	id := Identity{Kind: CredentialManagedIdentity, ManagedIdentity: m.selection, ManagedIdentitySource: m.source.Name}
	if v, ok := strings.CutPrefix(m.selection, "client-id="); ok {
		id.ClientID = v
	}
	return id
}
