package emulator

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// issueTokens mints the token response for a session's user, with an
// access token for the resource asked for and a new refresh token that
// keeps the session's tags. The caller holds s.id.mu.
func (s *Server) issueTokens(session refreshGrant, scopes []string, res resource, now time.Time) (map[string]any, error) {
	u, clientID := session.user, session.clientID
	oid, tid := u.ObjectID(), s.opts.TenantID
	exp := now.Add(s.opts.AccessTokenLifetime)
	uti := randomToken(16)
	s.id.issuedAt[uti] = time.Now()
	access, err := s.sign(jwt.MapClaims{
		"aud":         res.aud,
		"iss":         "https://sts.windows.net/" + tid + "/",
		"iat":         now.Unix(),
		"nbf":         now.Unix(),
		"exp":         exp.Unix(),
		"appid":       clientID,
		"appidacr":    "0",
		"name":        u.Name,
		"oid":         oid,
		"sub":         stableGUID("sub:" + oid + clientID),
		"tid":         tid,
		"scp":         "user_impersonation",
		"upn":         u.Username,
		"unique_name": u.Username,
		"uti":         uti,
		"ver":         "1.0",
	})
	if err != nil {
		return nil, err
	}
	id, err := s.sign(jwt.MapClaims{
		"aud":                clientID,
		"iss":                s.issuer(),
		"iat":                now.Unix(),
		"nbf":                now.Unix(),
		"exp":                now.Add(time.Hour).Unix(),
		"name":               u.Name,
		"oid":                oid,
		"preferred_username": u.Username,
		"sub":                stableGUID("sub:" + oid + clientID),
		"tid":                tid,
		"uti":                randomToken(16),
		"ver":                "2.0",
	})
	if err != nil {
		return nil, err
	}
	info, err := json.Marshal(map[string]string{"uid": oid, "utid": tid})
	if err != nil {
		return nil, fmt.Errorf("encode client_info: %w", err)
	}
	rt := "1.emu." + randomToken(64)
	s.id.refresh[refreshKey(rt)] = &refreshGrant{user: u, clientID: clientID, issued: now, deviceCode: session.deviceCode, mfa: session.mfa}
	if err := s.id.saveRefreshTokens(); err != nil {
		return nil, err
	}
	lifetime := int(s.opts.AccessTokenLifetime.Seconds())
	return map[string]any{
		"token_type":     "Bearer",
		"scope":          strings.Join(scopes, " "),
		"expires_in":     lifetime,
		"ext_expires_in": lifetime,
		"access_token":   access,
		"refresh_token":  rt,
		"id_token":       id,
		"client_info":    base64.RawURLEncoding.EncodeToString(info),
	}, nil
}

func (s *Server) sign(claims jwt.MapClaims) (string, error) {
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	t.Header["kid"] = s.keys.signKeyID
	signed, err := t.SignedString(s.keys.signKey)
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return signed, nil
}

// VerifyAccessToken checks a token's signature and expiry against this
// emulator's key and returns its claims. The Maps side uses it.
func (s *Server) VerifyAccessToken(raw string) (jwt.MapClaims, error) {
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(raw, claims, func(*jwt.Token) (any, error) {
		return &s.keys.signKey.PublicKey, nil
	}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithExpirationRequired())
	if err != nil {
		return nil, fmt.Errorf("verify access token: %w", err)
	}
	return claims, nil
}
