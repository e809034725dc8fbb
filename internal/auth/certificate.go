package auth

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
	"github.com/golang-jwt/jwt/v5"
	"software.sslmate.com/src/go-pkcs12"
)

// Why a certificate file cannot be used. The CLI says how to fix each.
var (
	ErrNotRSA        = errors.New("the key is not an RSA key, and Entra ID needs an RSA key")
	ErrEncryptedPEM  = errors.New("the PEM private key is encrypted, which is not read")
	ErrWrongPassword = errors.New("the PFX password is wrong")
	ErrKeyMismatch   = errors.New("the private key belongs to none of the certificates")
)

// Certificate is an app's certificate and its RSA key.
type Certificate struct {
	Leaf *x509.Certificate
	// Chain is the leaf first, then the other certificates of the file.
	Chain []*x509.Certificate
	Key   *rsa.PrivateKey
}

// ParseCertificate reads a certificate with its key from PEM (certificate
// and PKCS#1 or PKCS#8 key, blocks in any order, with a chain) or from
// PKCS#12 (PFX), the modern AES and SHA-256 form OpenSSL 3 writes as well
// as the legacy 3DES and RC2 one. Encrypted PEM keys are refused rather
// than decrypted: their legacy form is weak, and a PFX with a password
// does the same job.
func ParseCertificate(data []byte, password string) (*Certificate, error) {
	if bytes.Contains(data, []byte("-----BEGIN ")) {
		return parsePEM(data)
	}
	return parsePFX(data, password)
}

func parsePEM(data []byte) (*Certificate, error) {
	var certs []*x509.Certificate
	var key any
	for {
		block, rest := pem.Decode(data)
		if block == nil {
			break
		}
		data = rest
		if _, ok := block.Headers["DEK-Info"]; ok || block.Type == "ENCRYPTED PRIVATE KEY" {
			return nil, ErrEncryptedPEM
		}
		var k any
		var err error
		switch block.Type {
		case "CERTIFICATE":
			c, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("read a CERTIFICATE block: %w", err)
			}
			certs = append(certs, c)
			continue
		case "PRIVATE KEY":
			k, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			k, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			return nil, ErrNotRSA
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read the %s block: %w", block.Type, err)
		}
		if key != nil {
			return nil, errors.New("the file holds more than one private key")
		}
		key = k
	}
	if len(certs) == 0 {
		return nil, errors.New("the file holds no CERTIFICATE block")
	}
	if key == nil {
		return nil, errors.New("the file holds no private key (PRIVATE KEY or RSA PRIVATE KEY block)")
	}
	return pairUp(certs, key)
}

func parsePFX(data []byte, password string) (*Certificate, error) {
	key, leaf, chain, err := pkcs12.DecodeChain(data, password)
	switch {
	case errors.Is(err, pkcs12.ErrIncorrectPassword), errors.Is(err, pkcs12.ErrDecryption):
		return nil, ErrWrongPassword
	case err != nil:
		return nil, fmt.Errorf("read it as PEM or PFX: %w", err)
	}
	return pairUp(append([]*x509.Certificate{leaf}, chain...), key)
}

// pairUp finds the certificate of key and puts it first.
func pairUp(certs []*x509.Certificate, key any) (*Certificate, error) {
	k, ok := key.(*rsa.PrivateKey)
	if !ok {
		return nil, ErrNotRSA
	}
	for i, c := range certs {
		if pub, ok := c.PublicKey.(*rsa.PublicKey); ok && pub.Equal(&k.PublicKey) {
			chain := append([]*x509.Certificate{c}, certs[:i]...)
			chain = append(chain, certs[i+1:]...)
			return &Certificate{Leaf: c, Chain: chain, Key: k}, nil
		}
	}
	return nil, ErrKeyMismatch
}

// CertificateSource is where a certificate comes from. The file is read
// again when it changes, so a rotated certificate needs no restart.
type CertificateSource struct {
	Path string
	// Password opens a PFX; PasswordFile, when set, holds it instead.
	Password     string
	PasswordFile string
	// SendChain sends the chain (x5c) with each assertion, for apps that
	// trust a certificate by subject name and issuer.
	SendChain bool
}

// certAssertion signs client assertions with a certificate it re-reads
// when the file changes.
type certAssertion struct {
	src   CertificateSource
	clock *clock
	warn  func(error)

	mu   sync.Mutex
	file fileStamp
	cert *Certificate
}

func newCertAssertion(src CertificateSource, clk *clock, warn func(error)) (*certAssertion, error) {
	a := &certAssertion{src: src, clock: clk, warn: warn}
	if _, err := a.current(); err != nil {
		return nil, err
	}
	return a, nil
}

// current is the certificate, read again if its file changed.
func (a *certAssertion) current() (*Certificate, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	stamp, err := stampOf(a.src.Path)
	if err != nil {
		return nil, credentialError("the certificate file", err)
	}
	if a.cert != nil && stamp == a.file {
		return a.cert, nil
	}
	data, err := os.ReadFile(a.src.Path)
	if err != nil {
		return nil, credentialError("the certificate file", err)
	}
	password := a.src.Password
	if a.src.PasswordFile != "" {
		password, err = readSecretFile(a.src.PasswordFile, a.warn)
		if err != nil {
			return nil, credentialError("the certificate password file", err)
		}
	}
	cert, err := ParseCertificate(data, password)
	if err != nil {
		return nil, credentialError("the certificate "+a.src.Path, err)
	}
	if stamp.perm&0o077 != 0 && a.warn != nil {
		a.warn(&ReadableError{Path: a.src.Path, Mode: stamp.perm})
	}
	a.file, a.cert = stamp, cert
	return cert, nil
}

// assertion is the client assertion Entra ID documents for certificates,
// as MSAL signs it: PS256, the certificate's SHA-256 thumbprint in
// x5t#S256 (standard base64, as MSAL sends it), aud the token endpoint,
// iss and sub the client id, ten minutes long. We sign it ourselves so
// that the clock is checked right before, after MSAL has fetched the
// authority's metadata, whose Date tells the service's time.
func (a *certAssertion) assertion(ctx context.Context, o confidential.AssertionRequestOptions) (string, error) {
	cert, err := a.current()
	if err != nil {
		return "", err
	}
	if err := a.clock.wait(ctx); err != nil {
		return "", err
	}
	now := time.Now()
	tok := jwt.NewWithClaims(jwt.SigningMethodPS256, jwt.MapClaims{
		"aud": o.TokenEndpoint,
		"iss": o.ClientID,
		"sub": o.ClientID,
		"jti": newID(),
		"nbf": now.Unix(),
		"iat": now.Unix(),
		"exp": now.Add(10 * time.Minute).Unix(),
	})
	sum := sha256.Sum256(cert.Leaf.Raw)
	tok.Header["x5t#S256"] = base64.StdEncoding.EncodeToString(sum[:])
	if a.src.SendChain {
		x5c := make([]string, len(cert.Chain))
		for i, c := range cert.Chain {
			x5c[i] = base64.StdEncoding.EncodeToString(c.Raw)
		}
		tok.Header["x5c"] = x5c
	}
	signed, err := tok.SignedString(cert.Key)
	if err != nil {
		return "", fmt.Errorf("sign the client assertion: %w", err)
	}
	return signed, nil
}

// newID is a random UUID (version 4) for jti.
func newID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
