package emulator

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"path/filepath"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// The federated issuer stands for an identity provider Entra ID trusts,
// such as a Kubernetes cluster: it signs service account tokens, and
// publishes its OpenID metadata and keys under {url}/fic.

// EndpointFederatedIssuer is the federated issuer's metadata and keys.
const EndpointFederatedIssuer Endpoint = "federated-issuer"

const ficPath = "/fic"

// signer is an RSA key that signs JWTs, with the key id its JWKS names.
type signer struct {
	key *rsa.PrivateKey
	kid string
}

func loadOrCreateSigner(path string) (*signer, error) {
	k, err := loadOrCreateKey(path, func() (crypto.Signer, error) { return rsa.GenerateKey(rand.Reader, 2048) })
	if err != nil {
		return nil, err
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%s is not an RSA key", filepath.Base(path))
	}
	sum := sha256.Sum256(rk.N.Bytes())
	return &signer{key: rk, kid: base64.RawURLEncoding.EncodeToString(sum[:12])}, nil
}

func (k *signer) sign(claims jwt.MapClaims) (string, error) {
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	t.Header["kid"] = k.kid
	signed, err := t.SignedString(k.key)
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return signed, nil
}

func (k *signer) jwk() map[string]any {
	pub := k.key.PublicKey
	return map[string]any{
		"kty": "RSA",
		"use": "sig",
		"alg": "RS256",
		"kid": k.kid,
		"n":   base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		"e":   base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
	}
}

// FederatedIssuer is the issuer of the tokens SignFederatedToken makes.
func (s *Server) FederatedIssuer() string { return s.url + ficPath }

// SignFederatedToken makes a token from the federated issuer for a
// subject, with audience FederatedAudience, as a Kubernetes projected
// service account token is. A negative lifetime makes a stale token, one
// that expired that long ago after living an hour.
func (s *Server) SignFederatedToken(subject string, lifetime time.Duration) (string, error) {
	if subject == "" || lifetime == 0 {
		return "", errors.New("a federated token needs a subject and a lifetime")
	}
	issued := time.Now()
	exp := issued.Add(lifetime)
	if lifetime < 0 {
		issued = exp.Add(-time.Hour)
	}
	return s.apps.fic.sign(jwt.MapClaims{
		"iss": s.FederatedIssuer(),
		"sub": subject,
		"aud": []string{FederatedAudience},
		"iat": issued.Unix(),
		"nbf": issued.Unix(),
		"exp": exp.Unix(),
		"jti": newGUID(),
	})
}

func (s *Server) ficRoutes(mux *http.ServeMux) {
	s.handle(mux, "GET "+ficPath+"/.well-known/openid-configuration", EndpointFederatedIssuer, s.ficDiscovery)
	s.handle(mux, "GET "+ficPath+"/openid/v1/jwks", EndpointFederatedIssuer, s.ficKeys)
}

func (s *Server) ficDiscovery(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                s.FederatedIssuer(),
		"jwks_uri":                              s.FederatedIssuer() + "/openid/v1/jwks",
		"response_types_supported":              []string{"id_token"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
	})
}

func (s *Server) ficKeys(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"keys": []map[string]any{s.apps.fic.jwk()}})
}
