// Package emulator is a local stand-in for Microsoft Entra ID's device code
// flow, good enough for the real MSAL Go public client to sign in against
// over TLS. It is a library first (New, URL, Authority, Client, Approve,
// Deny, Expire, RevokeRefreshTokens, Polls, Requests, InjectFault, Close);
// 'mapsdevice emulator' only parses flags and listens.
//
// It follows the wire contract in the project's shared notes on Entra ID.
// Where it differs from the real service:
//   - One tenant, one registered public client, and users who need no
//     password: approving on /devicelogin is the whole sign-in. There is no
//     MFA, no real Conditional Access (a user can be marked as blocked, which
//     gives AADSTS53003), no consent store and no admin.
//   - Only Azure Maps scopes are granted (user_impersonation and .default);
//     any other resource is refused with invalid_scope.
//   - It answers slow_down to a client that polls faster than the interval
//     (RFC 8628 §3.5). It does not make the client wait the extra 5 s the
//     RFC asks of it; the poll log shows whether it did.
//   - verification_uri_complete is sent only when asked for; Entra never
//     sends it.
//   - Refresh tokens rotate on every use and stay valid, as in Entra ID, unless
//     SingleUseRefreshTokens is set. They expire after 90 days unused
//     (AADSTS700082) and are kept, hashed, in the state folder. Revocation is
//     immediate; Entra may take a while.
//   - Access tokens have the real claims (aud https://atlas.microsoft.com/,
//     iss https://sts.windows.net/{tid}/, scp, oid, tid, appid, uti) but are
//     signed by the emulator's own key, published at its JWKS endpoint, so
//     nothing outside the emulator accepts them.
//   - Error bodies have Entra's shape and AADSTS codes; trace and
//     correlation ids are random; error_uri points at Microsoft's page.
//   - There is no instance discovery endpoint: clients must turn it off.
//   - HTTPS with a CA of its own, made on first start (ca.pem in the state
//     folder); clients must trust it.
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
	"strings"
	"sync"
	"time"

	"github.com/mapsdevice/mapsdevice/internal/geofence"
)

// Identifiers the emulator answers to unless told otherwise.
const (
	DefaultTenantID = "6d617073-6465-4076-8963-656d756c6174"
	DefaultClientID = "0b1e6f2a-6d61-4073-9de7-766963650001"
	// MapsScope is the delegated Azure Maps scope.
	MapsScope = "https://atlas.microsoft.com/user_impersonation"
	// MapsAudience is the aud claim of access tokens for Azure Maps.
	MapsAudience = "https://atlas.microsoft.com/"
)

// Options configure a Server. The zero value is usable.
type Options struct {
	// StateDir keeps ca.pem, the CA key and the token-signing key. Empty
	// means a temporary folder removed by Close.
	StateDir string
	// Listen is the TCP address; empty means 127.0.0.1 on a free port.
	Listen string
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
}

// Server is a running emulator.
type Server struct {
	opts     Options
	keys     *keys
	tmpDir   string
	stateDir string
	url      string
	pool     *x509.CertPool
	srv      *http.Server
	ln       net.Listener
	done     chan struct{}

	mu         sync.Mutex
	users      []User
	codes      map[string]*grant // by device code
	byUser     map[string]*grant // by normalised user code
	refresh    map[string]*refreshGrant
	requests   []Request
	faults     map[Endpoint][]Fault
	faultRates map[Endpoint]faultRate
	timers     []*time.Timer
	closed     bool

	sharedKeys  [2]string
	tokenCutoff time.Time
	issuedAt    map[string]time.Time // access token uti → when, for ExpireAccessTokens
	throttle    *limiter
	data        map[string]*dataset
	ops         map[string]*operation
	used        int64
	fenceCache  map[string][]geofence.Fence
	fenceState  map[string]bool // device, udid, geometry → inside
}

// New starts an emulator listening over TLS.
func New(opts Options) (*Server, error) {
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
	s := &Server{
		opts:       opts,
		users:      append(defaultUsers(), opts.Users...),
		codes:      map[string]*grant{},
		byUser:     map[string]*grant{},
		refresh:    map[string]*refreshGrant{},
		faults:     map[Endpoint][]Fault{},
		faultRates: map[Endpoint]faultRate{},
		done:       make(chan struct{}),

		throttle:   newLimiter(opts.MapsRate),
		data:       map[string]*dataset{},
		ops:        map[string]*operation{},
		fenceCache: map[string][]geofence.Fence{},
		fenceState: map[string]bool{},
		issuedAt:   map[string]time.Time{},
	}
	s.stateDir = opts.StateDir
	if s.stateDir == "" {
		dir, err := os.MkdirTemp("", "mapsdevice-emulator-")
		if err != nil {
			return nil, fmt.Errorf("create state folder: %w", err)
		}
		s.tmpDir, s.stateDir = dir, dir
	}
	if err := s.start(); err != nil {
		if s.tmpDir != "" {
			os.RemoveAll(s.tmpDir)
		}
		return nil, err
	}
	return s, nil
}

func (s *Server) start() error {
	k, err := loadOrCreateKeys(s.stateDir)
	if err != nil {
		return err
	}
	s.keys = k
	if err := s.loadRefreshTokens(); err != nil {
		return err
	}
	if err := s.loadDatasets(); err != nil {
		return err
	}
	keys, err := loadOrCreateSharedKeys(filepath.Join(s.stateDir, "maps-keys.json"), s.opts.SharedKeys)
	if err != nil {
		return err
	}
	s.sharedKeys = keys
	host, _, err := net.SplitHostPort(s.opts.Listen)
	if err != nil {
		return fmt.Errorf("listen address %q: %w", s.opts.Listen, err)
	}
	cert, err := k.serverCert(host)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", s.opts.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	s.ln = ln
	urlHost := ln.Addr().String()
	if host == "" || host == "0.0.0.0" || host == "::" {
		_, port, _ := net.SplitHostPort(urlHost)
		urlHost = net.JoinHostPort("127.0.0.1", port)
	}
	s.url = "https://" + urlHost
	s.pool = x509.NewCertPool()
	s.pool.AddCert(k.caCert)
	s.srv = &http.Server{
		Handler:           s.routes(),
		ReadHeaderTimeout: 10 * time.Second,
		TLSConfig: &tls.Config{
			MinVersion:   tls.VersionTLS12,
			Certificates: []tls.Certificate{cert},
		},
		// Clients that do not trust the CA are the caller's to report.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	tlsLn := tls.NewListener(ln, s.srv.TLSConfig)
	go func() {
		defer close(s.done)
		// ErrServerClosed is the normal end; anything else is also the end.
		_ = s.srv.Serve(tlsLn)
	}()
	return nil
}

// URL is the base URL, https://host:port.
func (s *Server) URL() string { return s.url }

// Authority is the tenant's authority URL as MSAL wants it.
func (s *Server) Authority() string { return s.url + "/" + s.opts.TenantID }

// TenantID is the emulated tenant's id.
func (s *Server) TenantID() string { return s.opts.TenantID }

// ClientID is the app registration the emulator accepts.
func (s *Server) ClientID() string { return s.opts.ClientID }

// CAFile is the path of ca.pem, the CA that signs the TLS certificate.
func (s *Server) CAFile() string { return filepath.Join(s.stateDir, "ca.pem") }

// CertPool trusts the emulator's CA.
func (s *Server) CertPool() *x509.CertPool { return s.pool }

// Client is an HTTP client that trusts the emulator.
func (s *Server) Client() *http.Client {
	return &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: s.pool, MinVersion: tls.VersionTLS12},
	}}
}

// Users lists the users who can approve a sign-in.
func (s *Server) Users() []User {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]User(nil), s.users...)
}

// Close stops the server and, for a temporary state folder, removes it.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	for _, t := range s.timers {
		t.Stop()
	}
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	<-s.done
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

func (s *Server) user(name string) (User, bool) {
	for _, u := range s.users {
		if strings.EqualFold(u.Username, name) {
			return u, true
		}
	}
	return User{}, false
}
