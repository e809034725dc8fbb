package auth_test

import (
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mapsdevice/mapsdevice/emulator"
	"github.com/mapsdevice/mapsdevice/emulator/emulatortest"
	"github.com/mapsdevice/mapsdevice/internal/auth"
)

// MSAL keeps managed identity tokens in one cache for the whole process,
// keyed by identity and resource, and reads the environment: these tests
// set variables, so none runs in parallel, and each asks for an identity
// and resource no other test of this package asks for.

// clearManagedEnv unsets what MSAL reads to find the endpoint.
func clearManagedEnv(t *testing.T) {
	for _, v := range []string{"IDENTITY_ENDPOINT", "IDENTITY_HEADER", "IDENTITY_SERVER_THUMBPRINT", "IMDS_ENDPOINT", "MSI_ENDPOINT", "MSI_SECRET"} {
		t.Setenv(v, "")
	}
}

// TestManagedIdentityAppService: App Service's endpoint, system- and
// user-assigned, through MSAL's managed identity client over TLS.
func TestManagedIdentityAppService(t *testing.T) {
	srv := emulatortest.Start(t, emulator.Options{})
	clearManagedEnv(t)
	t.Setenv("IDENTITY_ENDPOINT", srv.URL()+"/msi/token")
	t.Setenv("IDENTITY_HEADER", srv.IdentityHeader())
	tests := []struct {
		selection string
		resource  string
		oid       string
		appID     string
	}{
		{"system", "", emulator.SystemIdentityPrincipalID, emulator.SystemIdentityClientID},
		{"client-id=" + emulator.ReporterIdentityClientID, "", emulator.ReporterIdentityPrincipalID, emulator.ReporterIdentityClientID},
		{"resource-id=" + emulator.ReporterIdentityResourceID, auth.VaultResource, emulator.ReporterIdentityPrincipalID, emulator.ReporterIdentityClientID},
	}
	for _, tt := range tests {
		t.Run(tt.selection, func(t *testing.T) {
			m, err := auth.NewManagedIdentity(auth.ManagedConfig{Selection: tt.selection, Transport: srv.Client().Transport})
			if err != nil {
				t.Fatalf("NewManagedIdentity: %v", err)
			}
			if id := m.Identity(); id.ManagedIdentitySource != "App Service" || id.Kind != auth.CredentialManagedIdentity {
				t.Errorf("identity %+v, want App Service", id)
			}
			res, err := m.AccessToken(testCtx(t), tt.resource, false)
			if err != nil {
				t.Fatalf("AccessToken: %v", err)
			}
			if _, err := srv.VerifyAccessToken(res.AccessToken); err != nil {
				t.Fatalf("not this emulator's token: %v", err)
			}
			if res.Claims.ObjectID != tt.oid || res.Claims.AppID != tt.appID || res.Claims.IDType != "app" {
				t.Errorf("claims %+v, want oid %s", res.Claims, tt.oid)
			}
		})
	}
	t.Run("wrong header", func(t *testing.T) {
		t.Setenv("IDENTITY_HEADER", "not-the-header")
		m, err := auth.NewManagedIdentity(auth.ManagedConfig{Selection: "object-id=" + emulator.NoRoleIdentityPrincipalID, Transport: srv.Client().Transport})
		if err != nil {
			t.Fatal(err)
		}
		_, err = m.AccessToken(testCtx(t), "", false)
		var ae *auth.Error
		if !errors.As(err, &ae) || ae.Kind != auth.KindManagedIdentity || !strings.Contains(ae.Reason, "App Service") || !strings.Contains(ae.Reason, "401") {
			t.Fatalf("AccessToken: %v, want KindManagedIdentity naming App Service and 401", err)
		}
		if strings.Contains(ae.Error(), "not-the-header") {
			t.Error("the error shows the identity header")
		}
	})
}

// imdsTransport sends what MSAL addresses to IMDS's fixed link-local
// address to the emulator: the environment cannot move IMDS.
type imdsTransport struct {
	srv *emulator.Server
}

func (t imdsTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Host != "169.254.169.254" {
		return nil, errors.New("not IMDS: " + req.URL.Host)
	}
	base, _ := url.Parse(t.srv.URL())
	r := req.Clone(req.Context())
	r.URL.Scheme, r.URL.Host, r.Host = base.Scheme, base.Host, ""
	return t.srv.Client().Transport.RoundTrip(r)
}

// TestManagedIdentityIMDS: with no variables set, MSAL asks IMDS, with
// Metadata: true, and the token is the VM's identity's.
func TestManagedIdentityIMDS(t *testing.T) {
	srv := emulatortest.Start(t, emulator.Options{})
	clearManagedEnv(t)
	m, err := auth.NewManagedIdentity(auth.ManagedConfig{Selection: "object-id=" + emulator.ReporterIdentityPrincipalID, Transport: imdsTransport{srv}})
	if err != nil {
		t.Fatal(err)
	}
	if id := m.Identity(); id.ManagedIdentitySource != "IMDS" {
		t.Errorf("source %q, want IMDS", id.ManagedIdentitySource)
	}
	res, err := m.AccessToken(testCtx(t), "", false)
	if err != nil {
		t.Fatalf("AccessToken: %v", err)
	}
	if res.Claims.ObjectID != emulator.ReporterIdentityPrincipalID {
		t.Errorf("oid %s, want the reporter identity's", res.Claims.ObjectID)
	}
}

// TestManagedIdentityTimeout: an endpoint that never answers fails within
// the timeout, naming the source and what was seen, where MSAL alone
// would try three times for a minute each.
func TestManagedIdentityTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	// Accepts and says nothing, as a firewall that drops would.
	var held []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		for _, c := range held {
			c.Close()
		}
	})
	clearManagedEnv(t)
	t.Setenv("IDENTITY_ENDPOINT", "http://"+ln.Addr().String()+"/msi/token")
	t.Setenv("IDENTITY_HEADER", "h")
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	m, err := auth.NewManagedIdentity(auth.ManagedConfig{Selection: "system", Transport: tr, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = m.AccessToken(t.Context(), "https://timeout.example.com", false)
	var ae *auth.Error
	if !errors.As(err, &ae) || ae.Kind != auth.KindManagedIdentity {
		t.Fatalf("AccessToken: %v, want KindManagedIdentity", err)
	}
	for _, want := range []string{"within 1s", "App Service", ln.Addr().String(), "IDENTITY_ENDPOINT, IDENTITY_HEADER"} {
		if !strings.Contains(ae.Reason, want) {
			t.Errorf("%q does not say %q", ae.Reason, want)
		}
	}
	// Bounded by the timeout, not by MSAL's three minutes.
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("took %s with a 1s timeout", d)
	}
}

// TestManagedIdentitySelection: --managed-identity names one identity.
func TestManagedIdentitySelection(t *testing.T) {
	clearManagedEnv(t)
	for _, tt := range []struct {
		in string
		ok bool
	}{
		{"", true},
		{"system", true},
		{"client-id=" + emulator.ReporterIdentityClientID, true},
		{"object-id=" + emulator.ReporterIdentityPrincipalID, true},
		{"resource-id=" + emulator.ReporterIdentityResourceID, true},
		{"client-id=", false},
		{"client-id=reporter", false},
		{"resource-id=mapsdevice-reporter", false},
		{"user", false},
		{emulator.ReporterIdentityClientID, false},
	} {
		t.Run(tt.in, func(t *testing.T) {
			_, err := auth.NewManagedIdentity(auth.ManagedConfig{Selection: tt.in})
			if tt.ok && err != nil || !tt.ok && !errors.Is(err, auth.ErrBadSelection) {
				t.Errorf("NewManagedIdentity(%q): %v", tt.in, err)
			}
		})
	}
}
