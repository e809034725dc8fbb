package emulator

import (
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Errors from Approve, Deny and Expire, and shown on the verification page.
var (
	ErrUnknownCode = errors.New("no sign-in is waiting for this code")
	ErrExpiredCode = errors.New("this code has expired")
	ErrCodeUsed    = errors.New("this code has already been used")
	ErrUnknownUser = errors.New("no such user")
)

// Poll is one poll of the token endpoint for a device code.
type Poll struct {
	Time   time.Time
	Result string // authorization_pending, slow_down, success, ...
}

type grantState int

const (
	statePending grantState = iota
	stateApproved
	stateDenied
	stateRedeemed
)

type grant struct {
	deviceCode string
	userCode   string
	clientID   string
	scopes     []string
	res        resource
	expires    time.Time
	interval   time.Duration
	state      grantState
	user       User
	lastPoll   time.Time
	polls      []Poll
}

type refreshGrant struct {
	user     User
	clientID string
	issued   time.Time
	used     bool
	revoked  bool
	// deviceCode tags a session begun with a device code, and mfa one
	// signed in while MFA was required (Policy).
	deviceCode bool
	mfa        bool
}

// pollTolerance absorbs scheduling noise between a client that waits the
// full interval and the server's clock.
const pollTolerance = 50 * time.Millisecond

const userCodeAlphabet = "BCDFGHJKLMNPQRSTVWXZ"

func newUserCode() string {
	var b strings.Builder
	for range 9 {
		n, _ := rand.Int(rand.Reader, big.NewInt(int64(len(userCodeAlphabet))))
		b.WriteByte(userCodeAlphabet[n.Int64()])
	}
	return b.String()
}

// normalizeUserCode lets people type codes in any case, with spaces or dashes.
func normalizeUserCode(s string) string {
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' {
			return -1
		}
		return r
	}, strings.ToUpper(strings.TrimSpace(s)))
}

func (s *Server) deviceCode(w http.ResponseWriter, r *http.Request) {
	if !s.tenantOK(w, r) {
		return
	}
	if err := r.ParseForm(); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'client_id'.")
		return
	}
	if !s.clientOK(w, r.PostForm.Get("client_id")) {
		return
	}
	scopes, res, ok := s.scopesOK(w, r.PostForm.Get("scope"))
	if !ok {
		return
	}
	g := &grant{
		deviceCode: randomToken(48),
		userCode:   newUserCode(),
		clientID:   r.PostForm.Get("client_id"),
		scopes:     scopes,
		res:        res,
		expires:    time.Now().Add(s.opts.ExpiresIn),
		interval:   s.opts.Interval,
	}
	verify := s.url + "/devicelogin"
	s.id.mu.Lock()
	s.id.codes[g.deviceCode] = g
	s.id.byUser[g.userCode] = g
	s.id.mu.Unlock()
	if s.opts.AutoApprove > 0 {
		code := g.userCode
		s.id.afterFunc(s.opts.AutoApprove, func() { _ = s.Approve(code, "") })
	}
	body := map[string]any{
		"device_code":      g.deviceCode,
		"user_code":        g.userCode,
		"verification_uri": verify,
		"expires_in":       int(s.opts.ExpiresIn.Seconds()),
		"interval":         int(s.opts.Interval.Seconds()),
		"message": fmt.Sprintf("To sign in, use a web browser to open the page %s and enter the code %s to authenticate.",
			verify, g.userCode),
	}
	if s.opts.VerificationURIComplete {
		body["verification_uri_complete"] = verify + "?code=" + g.userCode
	}
	writeJSON(w, http.StatusOK, body)
}

func (s *Server) clientOK(w http.ResponseWriter, clientID string) bool {
	if clientID == s.opts.ClientID {
		return true
	}
	writeError(w, http.StatusBadRequest, "unauthorized_client", 700016, fmt.Sprintf(
		"Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant.",
		clientID, s.opts.TenantID))
	return false
}

var oidcScopes = []string{"openid", "profile", "offline_access", "email"}

// scopesOK accepts the OIDC scopes plus the delegated scopes of one
// resource the app may call for a user: Azure Maps or Key Vault.
func (s *Server) scopesOK(w http.ResponseWriter, raw string) ([]string, resource, bool) {
	scopes := strings.Fields(raw)
	var asked resource
	for _, sc := range scopes {
		if slices.Contains(oidcScopes, sc) {
			continue
		}
		rest, isURL := strings.CutPrefix(sc, "https://")
		host, perm, _ := strings.Cut(rest, "/")
		res, known := findResource("https://" + host)
		if !isURL || !known || !res.delegated || (perm != "user_impersonation" && perm != ".default") {
			writeError(w, http.StatusBadRequest, "invalid_scope", 70011, fmt.Sprintf(
				"The provided request must include a 'scope' input parameter. The provided value for the input parameter 'scope' is not valid: '%s'. This emulator knows only Azure Maps, Key Vault, Storage and Event Hubs.", sc))
			return nil, resource{}, false
		}
		if asked.uri != "" && asked.uri != res.uri {
			writeError(w, http.StatusBadRequest, "invalid_scope", 28000, fmt.Sprintf(
				"Provided value for the input parameter scope is not valid because it contains more than one resource. Scope %s is not valid.", raw))
			return nil, resource{}, false
		}
		asked = res
	}
	if asked.uri == "" {
		writeError(w, http.StatusBadRequest, "invalid_scope", 70011,
			"The provided value for the input parameter 'scope' is not valid. Ask for https://atlas.microsoft.com/user_impersonation.")
		return nil, resource{}, false
	}
	return scopes, asked, true
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if !s.tenantOK(w, r) {
		return
	}
	if err := r.ParseForm(); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'.")
		return
	}
	if r.PostForm.Get("grant_type") == "client_credentials" {
		s.clientCredentials(w, r)
		return
	}
	if !s.clientOK(w, r.PostForm.Get("client_id")) {
		return
	}
	if ref, refused := s.Policy().refusePublicClient(); refused && r.PostForm.Get("grant_type") != "authorization_code" {
		ref.write(w)
		return
	}
	switch gt := r.PostForm.Get("grant_type"); gt {
	case "authorization_code":
		s.redeemAuthCode(w, r)
	case "device_code", "urn:ietf:params:oauth:grant-type:device_code":
		s.redeemDeviceCode(w, r)
	case "refresh_token":
		s.redeemRefreshToken(w, r)
	default:
		writeError(w, http.StatusBadRequest, "unsupported_grant_type", 70003, fmt.Sprintf(
			"The app requested an unsupported grant type '%s'.", gt))
	}
}

func (s *Server) redeemDeviceCode(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	s.id.mu.Lock()
	defer s.id.mu.Unlock()
	g := s.id.codes[r.PostForm.Get("device_code")]
	if g == nil {
		writeError(w, http.StatusBadRequest, "bad_verification_code", 70000,
			"The provided value for the input parameter 'device_code' is not valid.")
		return
	}
	poll := func(result string) { g.polls = append(g.polls, Poll{Time: now, Result: result}) }
	if g.state == stateRedeemed || now.After(g.expires) {
		poll("expired_token")
		writeError(w, http.StatusBadRequest, "expired_token", 70020,
			"The provided value for the input parameter 'device_code' is not valid. This device code has expired.")
		return
	}
	if !g.lastPoll.IsZero() && now.Sub(g.lastPoll) < g.interval-pollTolerance {
		// RFC 8628 §3.5 tells the client to wait 5 s longer from now on;
		// like Entra ID, the emulator does not hold it to that, so a
		// client that ignores slow_down still gets through once it slows.
		g.lastPoll = now
		poll("slow_down")
		writeError(w, http.StatusBadRequest, "slow_down", 0,
			fmt.Sprintf("Polling too fast. Wait at least %d seconds between polls.", int(g.interval.Seconds())))
		return
	}
	g.lastPoll = now
	switch g.state {
	case statePending:
		poll("authorization_pending")
		writeError(w, http.StatusBadRequest, "authorization_pending", 70016,
			"OAuth 2.0 device flow error. Authorization is pending. Continue polling.")
	case stateDenied:
		g.state = stateRedeemed
		poll("authorization_declined")
		writeError(w, http.StatusBadRequest, "authorization_declined", 0,
			"The end user denied the authorization request.")
	case stateApproved:
		g.state = stateRedeemed
		if ref, refused := s.id.policy.refuseApproved(g.user); refused {
			poll(fmt.Sprintf("AADSTS%d", ref.code))
			ref.write(w)
			return
		}
		session := refreshGrant{user: g.user, clientID: g.clientID, deviceCode: true, mfa: s.id.policy.MFARequired}
		body, err := s.issueTokens(session, g.scopes, g.res, now)
		if err != nil {
			poll("server_error")
			writeError(w, http.StatusInternalServerError, "server_error", 0, "The emulator could not sign a token.")
			return
		}
		poll("success")
		writeJSON(w, http.StatusOK, body)
	}
}

func (s *Server) redeemRefreshToken(w http.ResponseWriter, r *http.Request) {
	scopes, res, ok := s.scopesOK(w, r.PostForm.Get("scope"))
	if !ok {
		return
	}
	now := time.Now()
	s.id.mu.Lock()
	defer s.id.mu.Unlock()
	rg := s.id.refresh[refreshKey(r.PostForm.Get("refresh_token"))]
	switch {
	case rg == nil || rg.clientID != r.PostForm.Get("client_id"):
		writeError(w, http.StatusBadRequest, "invalid_grant", 9002313,
			"Invalid request. Request is malformed or invalid.")
	case rg.revoked:
		writeError(w, http.StatusBadRequest, "invalid_grant", 50173,
			"The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password.")
	case now.Sub(rg.issued) > s.opts.RefreshTokenIdle:
		writeError(w, http.StatusBadRequest, "invalid_grant", 700082, fmt.Sprintf(
			"The refresh token has expired due to inactivity. The token was issued on %s and was inactive for %s.",
			rg.issued.UTC().Format(time.RFC3339), s.opts.RefreshTokenIdle))
	case rg.used && s.opts.SingleUseRefreshTokens:
		writeError(w, http.StatusBadRequest, "invalid_grant", 70000,
			"The provided value for the input parameter 'refresh_token' is not valid: it was already redeemed (single-use refresh tokens are on).")
	default:
		if ref, refused := s.id.policy.refuseRefresh(rg); refused {
			ref.write(w)
			return
		}
		rg.used = true
		body, err := s.issueTokens(*rg, scopes, res, now)
		if err != nil {
			writeError(w, http.StatusInternalServerError, "server_error", 0, "The emulator could not sign a token.")
			return
		}
		writeJSON(w, http.StatusOK, body)
	}
}

// Approve plays the user who approves a sign-in; user "" is the default user.
func (s *Server) Approve(userCode, user string) error {
	s.id.mu.Lock()
	defer s.id.mu.Unlock()
	g, err := s.id.pendingGrant(userCode)
	if err != nil {
		return err
	}
	if user == "" {
		user = s.id.users[0].Username
	}
	u, ok := s.id.user(user)
	if !ok {
		return fmt.Errorf("%w: %s", ErrUnknownUser, user)
	}
	g.state, g.user = stateApproved, u
	return nil
}

// Deny plays the user who declines a sign-in.
func (s *Server) Deny(userCode string) error {
	s.id.mu.Lock()
	defer s.id.mu.Unlock()
	g, err := s.id.pendingGrant(userCode)
	if err != nil {
		return err
	}
	g.state = stateDenied
	return nil
}

// Expire makes a code expire now.
func (s *Server) Expire(userCode string) error {
	s.id.mu.Lock()
	defer s.id.mu.Unlock()
	g := s.id.byUser[normalizeUserCode(userCode)]
	if g == nil {
		return ErrUnknownCode
	}
	g.expires = time.Now().Add(-time.Second)
	return nil
}

// RevokeRefreshTokens revokes every refresh token of a user, as a password
// reset does, and reports how many were live.
func (s *Server) RevokeRefreshTokens(user string) int {
	s.id.mu.Lock()
	defer s.id.mu.Unlock()
	n := 0
	for _, rg := range s.id.refresh {
		if strings.EqualFold(rg.user.Username, user) && !rg.revoked {
			rg.revoked = true
			n++
		}
	}
	// The in-memory state is what counts; a failed save only loses the
	// revocation across a restart.
	_ = s.id.saveRefreshTokens()
	return n
}

// Polls is the poll log of the device code behind a user code.
func (s *Server) Polls(userCode string) []Poll {
	s.id.mu.Lock()
	defer s.id.mu.Unlock()
	g := s.id.byUser[normalizeUserCode(userCode)]
	if g == nil {
		return nil
	}
	return append([]Poll(nil), g.polls...)
}

// pendingGrant finds a code still waiting for the user; the caller holds id.mu.
func (id *identity) pendingGrant(userCode string) (*grant, error) {
	g := id.byUser[normalizeUserCode(userCode)]
	switch {
	case g == nil:
		return nil, ErrUnknownCode
	case time.Now().After(g.expires):
		return nil, ErrExpiredCode
	case g.state != statePending:
		return nil, ErrCodeUsed
	}
	return g, nil
}
