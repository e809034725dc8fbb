// Package emulator is a local stand-in for the services a mapsdevice
// talks to: Microsoft Entra ID (the device code flow for people, the
// client credentials grant and managed identities for daemons), good
// enough for the real MSAL Go clients; the Azure Maps Data v2 and Spatial
// geofence services, good enough for the Maps client and the sensor node,
// and a few live Maps APIs answered with canned data, good enough for
// 'mapsdevice api' and demo; and Key Vault's Get Secret, good enough for
// the Azure SDK's azsecrets.
// It is a library first: New starts one, Handler serves it on any server,
// Client reaches it (over TLS, or in memory with Options.NoListener), and
// Approve, Deny, Expire, RevokeRefreshTokens, ExpireAccessTokens,
// ExpireAppSecrets, RotateMapsKey, SignFederatedToken, InjectFault,
// SetFaultRate, Polls and Requests let a test play the person, the admin
// and the network. 'mapsdevice emulator' only parses flags, listens and
// writes a few files for scripts.
//
// The endpoints, under the base URL:
//
//	GET  /{tenant}/v2.0/.well-known/openid-configuration  discovery
//	GET  /{tenant}/discovery/v2.0/keys                     token-signing keys
//	POST /{tenant}/oauth2/v2.0/devicecode                  device code
//	POST /{tenant}/oauth2/v2.0/token                       device code, refresh token, client credentials
//	GET, POST /devicelogin                                 the page where people approve codes
//	GET, POST /{tenant}/oauth2/v2.0/authorize              browser sign-in: consent, then the code (PKCE)
//	GET  /fic/.well-known/openid-configuration             the federated issuer
//	GET  /fic/openid/v1/jwks                               its keys
//	GET  /msi/token                                        App Service's managed identity endpoint
//	GET  /metadata/identity/oauth2/token                   IMDS's, or Azure Arc's with Options.Arc
//	GET  /kv/{vault}/secrets/{name}[/{version}]            Key Vault Get Secret
//	POST /emulator/rotate-maps-key                         RotateMapsKey, for scripts
//	POST /eventhubs/{hub}/messages                         Event Hubs batch send
//	GET, POST /emulator/policy                             Policy, SetPolicy, for scripts
//	/mapData…, /spatial/geofence/json                      Azure Maps Data v2, Spatial
//	POST /route/directions                                 Route 2025-01-01, canned
//	GET  /geocode, /reverseGeocode                         Search 2026-01-01 (2025-01-01, 2023-06-01), canned
//	GET  /timezone/byCoordinates/json                      Timezone 1.0, canned
//	GET  /weather/currentConditions/json                   Weather 1.1, canned
//	GET  /map/static                                       Render 2024-04-01 static image, canned
//	anything else                                          Azure Maps, not emulated
//
// The identity side follows the wire contract in the project's notes on
// Entra ID and on daemon credentials. Where it differs from the real
// service:
//   - One tenant, one registered public client, and users who need no
//     password: approving on /devicelogin is the whole sign-in. There is no
//     MFA, no real Conditional Access, no consent store and no admin: a
//     Policy (switches, not rules) refuses sign-ins with the codes Entra ID
//     sends for a device code block (53003, at the poll and, by protocol
//     tracking, at refresh), security defaults (530035), device compliance
//     (53000), missing consent (65001), MFA (50076, at refresh) and public
//     client flows turned off (7000218). The tenant is known by its id
//     only, not by a domain name.
//   - People get delegated scopes (user_impersonation and .default) of
//     Azure Maps, Key Vault, Storage and Event Hubs only, one resource a
//     request (AADSTS28000 otherwise); any other resource is refused with
//     invalid_scope.
//   - It answers slow_down to a client that polls faster than the interval
//     (RFC 8628 §3.5). It does not make the client wait the extra 5 s the
//     RFC asks of it; the poll log shows whether it did.
//   - verification_uri_complete is sent only when asked for; Entra never
//     sends it.
//   - Refresh tokens rotate on every use and stay valid, as in Entra ID, unless
//     SingleUseRefreshTokens is set. They expire after 90 days unused
//     (AADSTS700082) and are kept, hashed, in the state folder. Revocation is
//     immediate; Entra may take a while.
//   - Access tokens have the real claims (aud https://atlas.microsoft.com/
//     or https://vault.azure.net, iss https://sts.windows.net/{tid}/, scp,
//     oid, tid, appid, uti) but are signed by the emulator's own key,
//     published at its JWKS endpoint, so nothing outside the emulator
//     accepts them.
//   - Error bodies have Entra's shape and AADSTS codes; trace and
//     correlation ids are random; error_uri points at Microsoft's page.
//   - There is no instance discovery endpoint: clients must turn it off.
//
// Daemon apps are confidential clients with service principals. Built in,
// each with Azure Maps Data Contributor and Key Vault Secrets User on
// vault demo:
//
//	daemon-secret  client 0b1e6f2a-6d61-4073-9de7-6461656d0001  object 5e7a1c0d-7370-4e00-8a00-6461656d0001  a secret
//	daemon-cert    client 0b1e6f2a-6d61-4073-9de7-6461656d0002  object 5e7a1c0d-7370-4e00-8a00-6461656d0002  a certificate
//	daemon-fic     client 0b1e6f2a-6d61-4073-9de7-6461656d0003  object 5e7a1c0d-7370-4e00-8a00-6461656d0003  a federated credential
//
// The secret (daemon-secret.txt) and the self-signed RSA certificate with
// its key (daemon-cert.pem; daemon-cert.pfx, written as OpenSSL 3 does with
// AES-256 and a SHA-256 MAC, with daemon-cert.pfx.password) are made on
// first start and kept in the state folder; SecretApp and CertApp name
// them. daemon-fic trusts tokens from the emulator's own issuer, {url}/fic,
// for subject system:serviceaccount:default:mapsdevice and audience
// api://AzureADTokenExchange; SignFederatedToken makes them. Options.Apps
// (or an apps file, LoadApps) adds apps. Where the client credentials
// grant differs from Entra ID's:
//   - It is answered on the tenant id only: the aliases get AADSTS50059.
//     The scope must be one resource's /.default (AADSTS1002012 otherwise);
//     the resources are Azure Maps, Key Vault, Storage and Event Hubs, and
//     any other is AADSTS500011.
//   - A secret comes in the form or by HTTP Basic. Wrong is AADSTS7000215,
//     expired (ExpireAppSecrets) AADSTS7000222, an unknown app
//     AADSTS700016.
//   - A client assertion is checked fully: PS256 or RS256; x5t#S256 or x5t,
//     in base64 or base64url, naming a registered certificate; its
//     signature; iss = sub = client id (AADSTS700021); aud = the tenant's
//     v2 or v1 token endpoint (AADSTS700023); nbf and exp within 5 minutes
//     (AADSTS700024); AADSTS700027 for an unknown key or a bad signature.
//     jti is not checked for replay. Certificates are registered by
//     thumbprint only: subject name and issuer registration (x5c) is not
//     emulated.
//   - Federated credentials trust only the emulator's issuer, by exact
//     subject and audience (AADSTS70021 otherwise); no flexible
//     expressions, no limit on the token's lifetime (AADSTS70023), and the
//     issuer's keys are known, not fetched.
//   - App tokens are shaped as v1 app tokens: idtyp app, appidacr 1 for a
//     secret and 2 otherwise, oid and sub the service principal, no scp, no
//     roles claim (Maps and Key Vault roles are Azure RBAC). They live
//     AppTokenLifetime (1 hour; Entra picks 60 to 90 minutes) and carry no
//     refresh_in.
//
// Managed identities are built in, each with a client id, a principal id
// and a resource id in subscription 6d617073-7375-4062-8000-656d756c6174:
// a system-assigned one (client 0b1e6f2a-6d61-4073-9de7-6d6900000001,
// principal 5e7a1c0d-6d69-4e00-8a00-000000000001) and a user-assigned
// mapsdevice-reporter (…6d6900000002, …000000000002), both with Azure Maps
// Data Contributor and Key Vault Secrets User on vault demo, and a
// user-assigned mapsdevice-norole (…6d6900000003, …000000000003) with no
// role at all; Options.ManagedIdentities adds user-assigned ones. Their
// tokens are app tokens of the principal, with appidacr 2 and xms_mirid.
// Where the endpoints differ from Azure's:
//   - App Service's is {url}/msi/token, API version 2019-08-01 only,
//     wanting X-IDENTITY-HEADER = IdentityHeader (new on every start). It
//     takes client_id, principal_id, object_id or mi_res_id; errors are
//     {"statusCode","message"} and not byte for byte App Service's.
//   - IMDS's is {url}/metadata/identity/oauth2/token over TLS, where IMDS
//     is plain HTTP at 169.254.169.254, an address clients cannot be told;
//     tests reach it with a dialer (emulatortest.IMDSClient). It wants
//     Metadata: true (IMDS's bad_request_102 otherwise), answers
//     expires_in, expires_on and not_before as strings, and echoes the
//     selector of a user-assigned identity.
//   - With Options.Arc the same endpoint answers as Azure Arc's agent: a
//     request without Authorization gets a 401 with WWW-Authenticate: Basic
//     realm=<path>, a new <id>.key file (mode 0640) in Options.ArcTokenDir
//     (default /var/opt/azcmagent/tokens, the only folder MSAL reads); the
//     next request brings Authorization: Basic <its contents>, which works
//     once, within a minute, and deletes the file. The realm names the file
//     where the emulator wrote it, so the client must see the same folder.
//     Close deletes keys never used.
//   - Tokens live AppTokenLifetime, not Azure's 24 hours. Service Fabric,
//     Cloud Shell and Azure ML endpoints are not emulated.
//
// Key Vault answers at {url}/kv/{vault}, with vault demo holding secret
// maps-key, the Maps primary key (VaultSecretURL). RotateMapsKey, or a
// POST to /emulator/rotate-maps-key, makes a new primary key and writes it
// as a new version, together. Where it differs from Key Vault:
//   - Vaults are paths under one host, not hosts under vault.azure.net, so
//     the Azure SDK's check that the challenge's resource is a parent
//     domain of the vault must be turned off
//     (DisableChallengeResourceVerification), and its ID.Name and
//     ID.Version misread secret ids, which have the /kv/{vault} prefix.
//     An unknown vault is a 404 VaultNotFound, where Azure fails in DNS.
//   - Only Get Secret: no setting, listing, deleting or disabling. Secrets
//     are kept, with every version, in keyvault.json in the state folder.
//   - A request without a token gets 401 with WWW-Authenticate: Bearer
//     authorization="{url}/{tenant}", resource="https://vault.azure.net".
//     Tokens must have aud https://vault.azure.net (AKV10022). api-version
//     must be 7.x or dated.
//   - Authorisation is RBAC only, by object id: Key Vault Secrets User on
//     the vault, given to users, apps and identities by their Vaults; no
//     access policies, no firewall, no other roles. Assignments apply at
//     once, where Azure takes minutes. 403 and 404 bodies are Key Vault's
//     (Forbidden with innererror ForbiddenByRbac; SecretNotFound). No
//     throttling.
//
// The Maps side answers at the same address, as one Maps account, following
// the project's notes on the Azure Maps REST API. Where it differs from the
// real service (which Microsoft has retired: Data v2 in 2024, Spatial in
// 2025):
//   - Authentication: a bearer token from this emulator with aud
//     https://atlas.microsoft.com/ (a person's with scp user_impersonation,
//     an app's or managed identity's with none) plus the account's
//     x-ms-client-id, or one of the two shared keys as subscription-key
//     (kept in maps-keys.json). SAS tokens and disableLocalAuth are not
//     emulated. ExpireAccessTokens makes every token issued so far fail as
//     expired, on the Maps side and in Key Vault.
//   - Roles are assigned by object id, to users, apps' service principals
//     and managed identities alike: Azure Maps Data Reader may read (and
//     ask Spatial), Azure Maps Data Contributor may also upload, update
//     and delete; anyone else gets 403. Shared keys may do everything.
//     Custom roles and the newer built-in roles are not emulated.
//   - Throttling: a token bucket of MapsRate requests per second (50, as
//     documented), shared by every caller, answers 429 without Retry-After.
//   - Data v2: uploads are long-running operations that end after
//     MapsOperationTime (NotStarted, then Running, then Succeeded or Failed
//     with every GeoJSON problem in the error details); Retry-After is in
//     whole seconds. Only geojson is accepted, up to 100 MB an upload
//     (413 beyond) and MapsStorageQuota in all (409 beyond). Resource-Location
//     takes the metadata form unless PlainResourceLocation is set; both are
//     documented. Content is kept in the state folder.
//   - Spatial geofence: GET (stored udid) and POST (fences in the body)
//     evaluate with the project's own geofence package: great-circle
//     distances on a sphere of radius 6,378,137 m (within 0.7% of WGS84),
//     rounded to the decimetre, ±999 beyond searchBuffer, nearest points
//     to six decimals, validityTime and expiry as documented (a time with
//     no offset is read as UTC); z is accepted but fences are 2D. Query parameter names match in any case. Every answer
//     lists every fence, whatever the mode. With isAsync=true it says
//     whether an event would have been published (isEventPublished: in
//     EnterAndExit mode only when the device crossed a border since its last
//     query), but nothing is sent: there is no Event Grid.
//   - Anything else under the Maps host is authenticated, logged and
//     answered 404 ResourceNotFound (endpoint "maps-other").
//
// A few live Maps APIs answer with canned data, through the same
// authentication, roles, throttle, log and faults, each under its own
// Endpoint. A bad or missing parameter, or another api-version, gets 400
// with code "400 BadRequest" and a message saying which. What is canned:
//   - Route Directions 2025-01-01 (POST only; endpoint "route"): any 2 to
//     150 waypoints (with up to 10 viaWaypoints between two), ordered by
//     pointIndex, make a path along the great circles between them with a
//     vertex about every kilometre; distances are great-circle lengths on
//     the sphere above, durations those of a fixed speed (driving 50 km/h,
//     truck 40, walking 5), with no traffic (trafficCongestion None).
//     routePath adds the Waypoint features and the coordinates, as the
//     service does; without it the RoutePath feature alone comes, with no
//     coordinates. No alternative routes, no itinerary instructions, no
//     avoid areas or vehicle specs (read past, not applied).
//   - Search geocoding (endpoint "search"): eight canned places around
//     Seattle and London (the device code guide's address, 1 Microsoft
//     Way, Redmond, at the sample fence's centre; Space Needle; Pike Place
//     Market; Seattle; Redmond; Bellevue; Seattle-Tacoma International
//     Airport; London), matched by query or by address parts, case and
//     punctuation ignored, by whole name, by a prefix of one, or by one
//     followed by more, such as a postcode (exact matches first, confidence
//     High, others Medium, top at a time, with a nextLink to the rest
//     whose "skip" parameter is the emulator's own); anything else answers
//     a FeatureCollection with no features. Reverse geocoding answers the
//     canned place nearest the coordinates, however far.
//   - Timezone by coordinates 1.0 (endpoint "timezone"): one canned zone
//     per band of longitude (America/Los_Angeles west of -114.5°,
//     America/Denver, America/Chicago, America/New_York, America/Sao_Paulo,
//     Europe/London from -22.5° to 7.5°, Europe/Berlin, Europe/Helsinki,
//     Asia/Dubai, Asia/Kolkata, Asia/Bangkok, Asia/Shanghai, Asia/Tokyo,
//     Australia/Sydney, Pacific/Auckland); latitude and borders are
//     ignored. Offsets, tags and transitions come from the host's zone
//     data (the binary embeds none); without it, a zone keeps its standard
//     offset all year. Version is a fixed "2025b"; no Sunrise or Sunset,
//     and Aliases is empty.
//   - Weather current conditions 1.1 (endpoint "weather"): the same cloudy
//     12°C everywhere, metric or imperial, stamped now in the canned time
//     zone; no history (duration is checked, not applied).
//   - Render static image 2024-04-01 (endpoint "render"): a PNG (whatever
//     Accept says) on a plain background per tileset, no map, in Web
//     Mercator with 512-pixel tiles: center and zoom (default 12; 0 to 20,
//     19 for imagery) with width 80 to 2000 and height 80 to 1500 (default
//     512), or bbox alone, whose size at the zoom is the image's and must
//     fall in those bounds. path (up to 10: lc, fc, la, fa, lw, ra; up to
//     100 locations) draws lines, closed paths filled when fc or fa is
//     given, and circles (ra); pins (up to 25, up to 50 locations) draw
//     round markers in co at al and sc; labels, rotation, anchors and
//     custom images are checked but not drawn. Render 1.0
//     (/map/{static,tile,...}/{format}, or /map/static with api-version
//     1.0) is retired: 400 saying so.
//
// Event Hubs answers at {url}/eventhubs as one namespace in which every hub
// name exists (EventHubsURL), taking the REST batch send (POST
// {hub}/messages?api-version=2014-01, application/vnd.microsoft.servicebus.json)
// and keeping the events in memory for EventHubsMessages; nothing can read
// them back over the wire (no AMQP, no Kafka, no consumer groups). Storage
// and Event Hubs tokens, for people and apps, are v1-shaped (iss
// https://sts.windows.net/{tid}/, iat) as Azure Storage's emulator Azurite
// wants them; the blob sink is tested against Azurite, not here. Tokens must
// have aud https://eventhubs.azure.net; Azure Event Hubs Data Sender is held
// by everyone with Azure Maps Data Contributor unless SetEventHubsSender says
// otherwise, and applies at once. Refusals are Event Hubs' XML errors (401
// MissingToken, InvalidAudience, "'Send' claim(s) are required"; 400; 415
// for any other content type, where Azure takes single events too; 413 over
// 1 MB, the Standard tier's limit). No throttling, no partitions (the key is
// kept), and a resend is stored again, as Event Hubs does. Faults injected
// on EndpointEventHubs are answered in Entra's JSON shape, not this XML.
//
// All sides share the fault injection and the request log. The emulator
// speaks HTTPS with a CA of its own, made on first start (ca.pem in the
// state folder), which clients must trust; with NoListener nothing listens
// and Client serves requests in memory.
package emulator

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Identifiers the emulator answers to unless told otherwise.
const (
	DefaultTenantID = "6d617073-6465-4076-8963-656d756c6174"
	DefaultClientID = "0b1e6f2a-6d61-4073-9de7-766963650001"
	// MapsScope is the delegated Azure Maps scope.
	MapsScope = "https://atlas.microsoft.com/user_impersonation"
	// MapsAudience is the aud claim of access tokens for Azure Maps.
	MapsAudience = "https://atlas.microsoft.com/"
	// InMemoryURL is the base URL of an emulator started with NoListener.
	// The .invalid top-level domain never resolves (RFC 2606), so a request
	// that escapes the in-memory transport fails instead of going anywhere.
	InMemoryURL = "https://emulator.invalid"
)

// Options configure a Server. The zero value is usable.
type Options struct {
	// StateDir keeps ca.pem, the CA key, the signing keys, the daemon
	// apps' credentials and the vaults. Empty means a temporary folder
	// removed by Close.
	StateDir string
	// Listen is the TCP address; empty means 127.0.0.1 on a free port.
	Listen string
	// NoListener starts no listener: Client serves requests in memory with
	// Handler, and URL is URL (default InMemoryURL).
	NoListener bool
	// URL is the base URL the answers name when NoListener is set, for a
	// Handler mounted on another server.
	URL string
	// TenantID and ClientID default to DefaultTenantID and DefaultClientID.
	TenantID string
	ClientID string
	// Interval is the device code polling interval, in whole seconds (default 5s).
	Interval time.Duration
	// ExpiresIn is the device code lifetime (default 15 minutes).
	ExpiresIn time.Duration
	// AccessTokenLifetime defaults to 75 minutes, inside Entra's 60–90.
	AccessTokenLifetime time.Duration
	// RefreshTokenIdle is how long an unused refresh token lives (default 90 days).
	RefreshTokenIdle time.Duration
	// SingleUseRefreshTokens rejects a refresh token once it has been
	// redeemed. Entra ID keeps old ones valid; this strict mode lets tests
	// prove a client always keeps the newest.
	SingleUseRefreshTokens bool
	// VerificationURIComplete adds verification_uri_complete (RFC 8628
	// §3.3.1), which Entra ID never sends.
	VerificationURIComplete bool
	// AutoApprove approves every new code as the first user after this delay.
	AutoApprove time.Duration
	// Users are added to the built-in users.
	Users []User

	// MapsClientID is the Maps account's client id (DefaultMapsClientID).
	MapsClientID string
	// SharedKeys are the primary and secondary keys; empty ones are made
	// on first start and kept in the state folder (maps-keys.json).
	SharedKeys [2]string
	// MapsRate is the Maps requests per second allowed before 429
	// (default 50; negative: no limit).
	MapsRate float64
	// MapsStorageQuota is the bytes of map data allowed before 409
	// (default 1 GB).
	MapsStorageQuota int64
	// MapsOperationTime is how long an upload takes to succeed or fail
	// (default 1 s).
	MapsOperationTime time.Duration
	// PlainResourceLocation gives Resource-Location as …/mapData/{udid}
	// instead of …/mapData/metadata/{udid}; both forms are documented.
	PlainResourceLocation bool

	// Apps are added to the built-in daemon apps.
	Apps []App
	// ManagedIdentities are user-assigned identities added to the
	// built-in ones.
	ManagedIdentities []ManagedIdentity
	// AppTokenLifetime is the lifetime of app and managed identity tokens
	// (default 1 hour).
	AppTokenLifetime time.Duration
	// Arc makes the IMDS endpoint answer as Azure Arc's agent: a request
	// without a key gets a challenge, a key file in ArcTokenDir.
	Arc bool
	// ArcTokenDir is where challenge keys are written (default
	// DefaultArcTokenDir).
	ArcTokenDir string

	// Policy is the organisation's policy at start; SetPolicy or a POST
	// to /emulator/policy changes it.
	Policy Policy
}

// Server is a running emulator: the identity side and the Maps side,
// each with its own state and lock, behind one handler.
type Server struct {
	opts     Options
	keys     *keys
	tmpDir   string
	stateDir string
	url      string
	pool     *x509.CertPool
	handler  http.Handler
	traffic  *traffic
	id       *identity
	maps     *mapsState
	apps     *appState
	vault    *vaultState
	hubs     *eventHubsState

	// With a listener: the TLS server, its goroutine's end, and the
	// client transport whose idle connections Close drops.
	srv       *http.Server
	done      chan struct{}
	transport *http.Transport

	// In memory: requests in flight end when ctx does; Close waits.
	mem    *memoryTransport
	ctx    context.Context
	cancel context.CancelFunc

	closeOnce sync.Once
	closeErr  error
}

// New starts an emulator: listening over TLS, or with NoListener only in
// memory.
func New(opts Options) (*Server, error) {
	opts = withDefaults(opts)
	s := &Server{opts: opts, traffic: newTraffic()}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.stateDir = opts.StateDir
	if s.stateDir == "" {
		dir, err := os.MkdirTemp("", "mapsdevice-emulator-")
		if err != nil {
			return nil, fmt.Errorf("create state folder: %w", err)
		}
		s.tmpDir, s.stateDir = dir, dir
	}
	if err := s.start(); err != nil {
		s.cancel()
		if s.tmpDir != "" {
			os.RemoveAll(s.tmpDir)
		}
		return nil, err
	}
	return s, nil
}

func withDefaults(opts Options) Options {
	if opts.TenantID == "" {
		opts.TenantID = DefaultTenantID
	}
	if opts.ClientID == "" {
		opts.ClientID = DefaultClientID
	}
	if opts.Interval <= 0 {
		opts.Interval = 5 * time.Second
	}
	opts.Interval = opts.Interval.Round(time.Second)
	if opts.Interval < time.Second {
		opts.Interval = time.Second
	}
	if opts.ExpiresIn <= 0 {
		opts.ExpiresIn = 15 * time.Minute
	}
	if opts.AccessTokenLifetime <= 0 {
		opts.AccessTokenLifetime = 75 * time.Minute
	}
	if opts.RefreshTokenIdle <= 0 {
		opts.RefreshTokenIdle = 90 * 24 * time.Hour
	}
	if opts.Listen == "" {
		opts.Listen = "127.0.0.1:0"
	}
	if opts.URL == "" {
		opts.URL = InMemoryURL
	}
	if opts.MapsClientID == "" {
		opts.MapsClientID = DefaultMapsClientID
	}
	if opts.MapsRate == 0 {
		opts.MapsRate = 50
	}
	if opts.MapsStorageQuota <= 0 {
		opts.MapsStorageQuota = 1 << 30
	}
	if opts.MapsOperationTime <= 0 {
		opts.MapsOperationTime = time.Second
	}
	if opts.AppTokenLifetime <= 0 {
		opts.AppTokenLifetime = time.Hour
	}
	if opts.ArcTokenDir == "" {
		opts.ArcTokenDir = DefaultArcTokenDir
	}
	return opts
}

func (s *Server) start() error {
	k, err := loadOrCreateKeys(s.stateDir)
	if err != nil {
		return err
	}
	s.keys = k
	s.pool = x509.NewCertPool()
	s.pool.AddCert(k.caCert)
	files, err := loadOrCreateDaemonFiles(s.stateDir)
	if err != nil {
		return err
	}
	fic, err := loadOrCreateSigner(filepath.Join(s.stateDir, "federated-signing-key.pem"))
	if err != nil {
		return err
	}
	if s.apps, err = newAppState(s.opts, files, fic); err != nil {
		return err
	}
	users := append(defaultUsers(), s.opts.Users...)
	s.id = newIdentity(s.opts, s.stateDir, users)
	if err := s.id.loadRefreshTokens(); err != nil {
		return err
	}
	assignees := s.apps.principals()
	for _, u := range users {
		assignees = append(assignees, assignee{oid: u.ObjectID(), role: u.Role, vaults: u.Vaults})
	}
	if s.maps, err = newMapsState(s.opts, s.stateDir, assignees); err != nil {
		return err
	}
	if s.vault, err = newVaultState(s.stateDir, assignees, s.maps.sharedKeys[0]); err != nil {
		return err
	}
	if s.opts.NoListener {
		s.url = s.opts.URL
		s.handler = s.routes()
		s.mem = newMemoryTransport(s.ctx, s.url, s.handler)
		return nil
	}
	return s.listen()
}

func (s *Server) listen() error {
	host, _, err := net.SplitHostPort(s.opts.Listen)
	if err != nil {
		return fmt.Errorf("listen address %q: %w", s.opts.Listen, err)
	}
	cert, err := s.keys.serverCert(host)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", s.opts.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	urlHost := ln.Addr().String()
	if host == "" || host == "0.0.0.0" || host == "::" {
		_, port, _ := net.SplitHostPort(urlHost)
		urlHost = net.JoinHostPort("127.0.0.1", port)
	}
	s.url = "https://" + urlHost
	s.handler = s.routes()
	s.transport = &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: s.pool, MinVersion: tls.VersionTLS12},
	}
	s.srv = &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		TLSConfig: &tls.Config{
			MinVersion:   tls.VersionTLS12,
			Certificates: []tls.Certificate{cert},
		},
		// Clients that do not trust the CA are the caller's to report.
		ErrorLog:    log.New(io.Discard, "", 0),
		BaseContext: func(net.Listener) context.Context { return s.ctx },
	}
	s.done = make(chan struct{})
	tlsLn := tls.NewListener(ln, s.srv.TLSConfig)
	go func() {
		defer close(s.done)
		// ErrServerClosed is the normal end; anything else is also the end.
		_ = s.srv.Serve(tlsLn)
	}()
	return nil
}

// Handler serves both sides, for mounting on a server of the caller's.
// The answers name URL as the base.
func (s *Server) Handler() http.Handler { return s.handler }

// URL is the base URL, https://host:port (or Options.URL in memory).
func (s *Server) URL() string { return s.url }

// Authority is the tenant's authority URL as MSAL wants it.
func (s *Server) Authority() string { return s.url + "/" + s.opts.TenantID }

// TenantID is the emulated tenant's id.
func (s *Server) TenantID() string { return s.opts.TenantID }

// ClientID is the app registration the emulator accepts.
func (s *Server) ClientID() string { return s.opts.ClientID }

// StateDir is the state folder: keys, tokens, map data, and the daemon
// apps' credentials (daemon-secret.txt, daemon-cert.pem, daemon-cert.pfx
// and daemon-cert.pfx.password).
func (s *Server) StateDir() string { return s.stateDir }

// CAFile is the path of ca.pem, the CA that signs the TLS certificate.
func (s *Server) CAFile() string { return filepath.Join(s.stateDir, "ca.pem") }

// CertPool trusts the emulator's CA.
func (s *Server) CertPool() *x509.CertPool { return s.pool }

// Client reaches the emulator: over TLS trusting its CA, or, with
// NoListener, in memory (only URL's host; anything else is refused).
func (s *Server) Client() *http.Client {
	if s.mem != nil {
		return &http.Client{Transport: s.mem}
	}
	return &http.Client{Transport: s.transport}
}

// Users lists the users who can approve a sign-in.
func (s *Server) Users() []User { return s.id.usersList() }

// Close stops the server, its timers and the requests in flight and, for
// a temporary state folder, removes it. Calling it again does nothing.
func (s *Server) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.close() })
	return s.closeErr
}

func (s *Server) close() error {
	s.id.stopTimers()
	defer s.apps.removeArcKeys()
	// Cancelling first ends handlers still waiting, such as in an
	// injected delay, so that shutting down does not wait for them.
	s.cancel()
	var err error
	if s.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = s.srv.Shutdown(ctx)
		cancel()
		if err != nil {
			err = s.srv.Close()
		}
		<-s.done
		s.transport.CloseIdleConnections()
	}
	if s.mem != nil {
		s.mem.wait()
	}
	if s.tmpDir != "" {
		if rmErr := os.RemoveAll(s.tmpDir); rmErr != nil && err == nil {
			err = rmErr
		}
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}
