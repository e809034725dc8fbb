package emulator

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
)

// The built-in daemon apps: confidential clients registered in the tenant,
// each with a service principal that holds Azure Maps Data Contributor and
// Key Vault Secrets User on vault demo. Their ids are fixed so that scripts
// and docs can name them.
const (
	SecretAppID          = "0b1e6f2a-6d61-4073-9de7-6461656d0001"
	SecretAppObjectID    = "5e7a1c0d-7370-4e00-8a00-6461656d0001"
	CertAppID            = "0b1e6f2a-6d61-4073-9de7-6461656d0002"
	CertAppObjectID      = "5e7a1c0d-7370-4e00-8a00-6461656d0002"
	FederatedAppID       = "0b1e6f2a-6d61-4073-9de7-6461656d0003"
	FederatedAppObjectID = "5e7a1c0d-7370-4e00-8a00-6461656d0003"

	// FederatedSubject and FederatedAudience are what daemon-fic's
	// federated credential expects, as a Kubernetes service account token
	// carries them.
	FederatedSubject  = "system:serviceaccount:default:mapsdevice"
	FederatedAudience = "api://AzureADTokenExchange"
)

// The built-in managed identities: one system-assigned, as a VM or an App
// Service has, and two user-assigned ones, the second with no role at all.
const (
	SubscriptionID = "6d617073-7375-4062-8000-656d756c6174"
	ResourceGroup  = "mapsdevice-emulator"

	SystemIdentityClientID      = "0b1e6f2a-6d61-4073-9de7-6d6900000001"
	SystemIdentityPrincipalID   = "5e7a1c0d-6d69-4e00-8a00-000000000001"
	ReporterIdentityClientID    = "0b1e6f2a-6d61-4073-9de7-6d6900000002"
	ReporterIdentityPrincipalID = "5e7a1c0d-6d69-4e00-8a00-000000000002"
	NoRoleIdentityClientID      = "0b1e6f2a-6d61-4073-9de7-6d6900000003"
	NoRoleIdentityPrincipalID   = "5e7a1c0d-6d69-4e00-8a00-000000000003"
	identityResourcePrefix      = "/subscriptions/" + SubscriptionID + "/resourceGroups/" + ResourceGroup + "/providers/"
	SystemIdentityResourceID    = identityResourcePrefix + "Microsoft.Compute/virtualMachines/emulator-vm"
	ReporterIdentityResourceID  = identityResourcePrefix + "Microsoft.ManagedIdentity/userAssignedIdentities/mapsdevice-reporter"
	NoRoleIdentityResourceID    = identityResourcePrefix + "Microsoft.ManagedIdentity/userAssignedIdentities/mapsdevice-norole"
)

// App is a confidential client registered in the tenant, with its service
// principal. It proves itself with a secret, a certificate or a token from
// the emulator's federated issuer.
type App struct {
	Name     string `json:"name"`
	ClientID string `json:"clientId"`
	// ObjectID is the service principal's object id, the oid of its
	// tokens; empty means one derived from ClientID.
	ObjectID string `json:"objectId,omitempty"`
	// Role is its Azure Maps role; empty means none.
	Role string `json:"role,omitempty"`
	// Vaults are the vaults on which it holds Key Vault Secrets User.
	Vaults  []string    `json:"vaults,omitempty"`
	Secrets []AppSecret `json:"secrets,omitempty"`
	// CertificateFiles are PEM files whose certificates are registered;
	// LoadApps reads them into Certificates.
	CertificateFiles []string            `json:"certificateFiles,omitempty"`
	Certificates     []*x509.Certificate `json:"-"`
	// FederatedCredentials trust tokens from the emulator's own issuer,
	// {url}/fic, with this subject and audience.
	FederatedCredentials []FederatedCredential `json:"federatedCredentials,omitempty"`
}

// AppSecret is a client secret; a zero Expires never expires.
type AppSecret struct {
	Value   string    `json:"value"`
	Expires time.Time `json:"expires,omitzero"`
}

// FederatedCredential matches a federated token's subject and audience
// (default FederatedAudience).
type FederatedCredential struct {
	Subject  string `json:"subject"`
	Audience string `json:"audience,omitempty"`
}

// ManagedIdentity is an Azure managed identity the emulator hands tokens
// for. Kind is "system" or "user".
type ManagedIdentity struct {
	Kind        string   `json:"kind"`
	ClientID    string   `json:"clientId"`
	PrincipalID string   `json:"principalId"`
	ResourceID  string   `json:"resourceId"`
	Role        string   `json:"role,omitempty"`
	Vaults      []string `json:"vaults,omitempty"`
}

func defaultIdentities() []ManagedIdentity {
	return []ManagedIdentity{
		{Kind: "system", ClientID: SystemIdentityClientID, PrincipalID: SystemIdentityPrincipalID,
			ResourceID: SystemIdentityResourceID, Role: RoleDataContributor, Vaults: []string{demoVault}},
		{Kind: "user", ClientID: ReporterIdentityClientID, PrincipalID: ReporterIdentityPrincipalID,
			ResourceID: ReporterIdentityResourceID, Role: RoleDataContributor, Vaults: []string{demoVault}},
		{Kind: "user", ClientID: NoRoleIdentityClientID, PrincipalID: NoRoleIdentityPrincipalID,
			ResourceID: NoRoleIdentityResourceID},
	}
}

// AppsFile is what LoadApps reads: more apps and user-assigned identities.
type AppsFile struct {
	Apps              []App             `json:"apps"`
	ManagedIdentities []ManagedIdentity `json:"managedIdentities"`
}

// LoadApps reads an apps file and the certificates it names.
func LoadApps(path string) (AppsFile, error) {
	var f AppsFile
	data, err := os.ReadFile(path)
	if err != nil {
		return f, fmt.Errorf("read apps file: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return f, fmt.Errorf("apps file %s: %w", path, err)
	}
	for i := range f.Apps {
		a := &f.Apps[i]
		for _, file := range a.CertificateFiles {
			certs, err := readCertificates(file)
			if err != nil {
				return f, fmt.Errorf("apps file %s: app %q: %w", path, a.ClientID, err)
			}
			a.Certificates = append(a.Certificates, certs...)
		}
	}
	return f, nil
}

func readCertificates(path string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read certificate: %w", err)
	}
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%s: no certificate", path)
	}
	return certs, nil
}

// appState is the daemon side of the tenant: the apps and managed
// identities, the federated issuer's key and the Arc challenge keys.
type appState struct {
	identities     []ManagedIdentity
	identityHeader string
	files          daemonFiles
	fic            *signer

	mu      sync.Mutex
	apps    map[string]*App // by lower-case client id; secrets change under mu
	arcKeys map[string]arcKey
}

func newAppState(opts Options, files daemonFiles, fic *signer) (*appState, error) {
	a := &appState{
		apps:           map[string]*App{},
		arcKeys:        map[string]arcKey{},
		identityHeader: randomToken(24),
		files:          files,
		fic:            fic,
	}
	builtIn := []App{
		{Name: "daemon-secret", ClientID: SecretAppID, ObjectID: SecretAppObjectID, Role: RoleDataContributor,
			Vaults: []string{demoVault}, Secrets: []AppSecret{{Value: files.secret}}},
		{Name: "daemon-cert", ClientID: CertAppID, ObjectID: CertAppObjectID, Role: RoleDataContributor,
			Vaults: []string{demoVault}, Certificates: []*x509.Certificate{files.cert}},
		{Name: "daemon-fic", ClientID: FederatedAppID, ObjectID: FederatedAppObjectID, Role: RoleDataContributor,
			Vaults: []string{demoVault}, FederatedCredentials: []FederatedCredential{{Subject: FederatedSubject}}},
	}
	for _, app := range append(builtIn, opts.Apps...) {
		if app.ClientID == "" {
			return nil, fmt.Errorf("app %q has no client id", app.Name)
		}
		key := strings.ToLower(app.ClientID)
		if _, dup := a.apps[key]; dup || strings.EqualFold(app.ClientID, opts.ClientID) {
			return nil, fmt.Errorf("app %q: client id %s is taken", app.Name, app.ClientID)
		}
		if app.ObjectID == "" {
			app.ObjectID = stableGUID("sp:" + key)
		}
		// Copies: secrets expire and defaults fill in here, not in Options.
		app.Secrets = append([]AppSecret(nil), app.Secrets...)
		app.FederatedCredentials = append([]FederatedCredential(nil), app.FederatedCredentials...)
		for i, fc := range app.FederatedCredentials {
			if fc.Subject == "" {
				return nil, fmt.Errorf("app %q: a federated credential has no subject", app.Name)
			}
			if fc.Audience == "" {
				app.FederatedCredentials[i].Audience = FederatedAudience
			}
		}
		a.apps[key] = &app
	}
	a.identities = defaultIdentities()
	for _, mi := range opts.ManagedIdentities {
		switch {
		case mi.Kind != "user":
			return nil, fmt.Errorf("managed identity %s: kind %q: only user-assigned ones can be added", mi.ClientID, mi.Kind)
		case mi.ClientID == "" || mi.PrincipalID == "" || mi.ResourceID == "":
			return nil, errors.New("a managed identity needs a clientId, a principalId and a resourceId")
		}
		for _, have := range a.identities {
			if strings.EqualFold(have.ClientID, mi.ClientID) || strings.EqualFold(have.PrincipalID, mi.PrincipalID) ||
				strings.EqualFold(have.ResourceID, mi.ResourceID) {
				return nil, fmt.Errorf("managed identity %s: an identity with the same id exists", mi.ClientID)
			}
		}
		a.identities = append(a.identities, mi)
	}
	return a, nil
}

// app finds an app by client id.
func (a *appState) app(clientID string) (*App, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	app, ok := a.apps[strings.ToLower(clientID)]
	return app, ok
}

// principals are every service principal with its roles, for the role
// assignments of the Maps account and the vaults.
func (a *appState) principals() []assignee {
	var out []assignee
	for _, app := range a.apps {
		out = append(out, assignee{oid: app.ObjectID, role: app.Role, vaults: app.Vaults})
	}
	for _, mi := range a.identities {
		out = append(out, assignee{oid: mi.PrincipalID, role: mi.Role, vaults: mi.Vaults})
	}
	return out
}

// assignee is a principal's role assignments.
type assignee struct {
	oid    string
	role   string   // Azure Maps role
	vaults []string // Key Vault Secrets User on these vaults
}

// SecretApp is daemon-secret's client id and its current secret.
func (s *Server) SecretApp() (clientID, secret string) {
	return SecretAppID, s.apps.files.secret
}

// CertApp is daemon-cert's client id and its certificate with key: as PEM
// (certificate, then PKCS#8 key), and as a PFX with its password.
func (s *Server) CertApp() (clientID, pemPath, pfxPath, pfxPassword string) {
	f := s.apps.files
	return CertAppID, f.pemPath, f.pfxPath, f.pfxPassword
}

// FederatedApp is daemon-fic's client id.
func (s *Server) FederatedApp() string { return FederatedAppID }

// ManagedIdentities lists the managed identities, system-assigned first.
func (s *Server) ManagedIdentities() []ManagedIdentity {
	out := make([]ManagedIdentity, len(s.apps.identities))
	copy(out, s.apps.identities)
	return out
}

// IdentityHeader is the secret App Service puts in IDENTITY_HEADER and
// wants back in X-IDENTITY-HEADER. It changes on every start.
func (s *Server) IdentityHeader() string { return s.apps.identityHeader }

// ExpireAppSecrets makes every secret of an app expire now, so that using
// one gives AADSTS7000222.
func (s *Server) ExpireAppSecrets(clientID string) error {
	s.apps.mu.Lock()
	defer s.apps.mu.Unlock()
	app, ok := s.apps.apps[strings.ToLower(clientID)]
	if !ok {
		return fmt.Errorf("no app %s", clientID)
	}
	past := time.Now().Add(-time.Second)
	for i := range app.Secrets {
		app.Secrets[i].Expires = past
	}
	return nil
}
