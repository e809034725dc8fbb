package auth_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"testing"
	"time"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/mapsdevice/mapsdevice/internal/auth"
)

// fixture is a key and a certificate made for one test.
type fixture struct {
	key  any
	cert *x509.Certificate
}

func rsaKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// issue makes a certificate for key, signed by parent (self-signed when
// parent is nil).
func issue(t *testing.T, name string, key any, parent *fixture) *fixture {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  parent == nil,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
	}
	signer, signerCert := key, tmpl
	if parent != nil {
		signer, signerCert = parent.key, parent.cert
	}
	pub := key.(crypto.Signer).Public()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signerCert, pub, signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{key: key, cert: c}
}

func pemOf(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func pkcs8(t *testing.T, key any) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pemOf("PRIVATE KEY", der)
}

func join(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// TestParseCertificate: every form Entra ID users bring, made here: PEM
// with PKCS#1 or PKCS#8 keys in any order and with a chain, PFX as
// OpenSSL 3 writes it (AES-256, SHA-256 MAC) and the legacy 3DES one;
// and the files that cannot work, each refused with its reason.
func TestParseCertificate(t *testing.T) {
	ca := issue(t, "test CA", rsaKey(t), nil)
	leafKey := rsaKey(t)
	leaf := issue(t, "daemon app", leafKey, ca)
	other := issue(t, "another app", rsaKey(t), nil)
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecCert := issue(t, "ec app", ecKey, nil)
	ecDER, err := x509.MarshalECPrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}

	leafPEM := pemOf("CERTIFICATE", leaf.cert.Raw)
	caPEM := pemOf("CERTIFICATE", ca.cert.Raw)
	pkcs1 := pemOf("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(leafKey))
	// Deprecated for being weak, which is why users still have such keys.
	legacyEncrypted, err := x509.EncryptPEMBlock(rand.Reader, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(leafKey), []byte("pw"), x509.PEMCipherAES256)
	if err != nil {
		t.Fatal(err)
	}
	modern, err := pkcs12.Modern.Encode(leafKey, leaf.cert, []*x509.Certificate{ca.cert}, "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	pbmac1, err := pkcs12.Modern2026.Encode(leafKey, leaf.cert, nil, "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	legacy, err := pkcs12.Legacy.Encode(leafKey, leaf.cert, nil, "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	ecPFX, err := pkcs12.Modern.Encode(ecKey, ecCert.cert, nil, "s3cret")
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name      string
		data      []byte
		password  string
		wantErr   error // errors.Is; nil with wantFail false means it parses
		wantFail  bool
		wantChain int
	}{
		{"PEM, PKCS#1 key after the certificate", join(leafPEM, pkcs1), "", nil, false, 1},
		{"PEM, PKCS#8 key before the certificate", join(pkcs8(t, leafKey), leafPEM), "", nil, false, 1},
		{"PEM with its chain, CA first", join(caPEM, pkcs8(t, leafKey), leafPEM), "", nil, false, 2},
		{"PFX as OpenSSL 3 writes it", modern, "s3cret", nil, false, 2},
		{"PFX with a PBMAC1 MAC, as OpenSSL 3.4 can write it", pbmac1, "s3cret", nil, false, 1},
		{"legacy PFX (3DES, SHA-1)", legacy, "s3cret", nil, false, 1},
		{"PFX with a wrong password", modern, "guess", auth.ErrWrongPassword, true, 0},
		{"legacy encrypted PEM key", join(leafPEM, pem.EncodeToMemory(legacyEncrypted)), "pw", auth.ErrEncryptedPEM, true, 0},
		{"PKCS#8 encrypted PEM key", join(leafPEM, pemOf("ENCRYPTED PRIVATE KEY", []byte{0x30, 0})), "pw", auth.ErrEncryptedPEM, true, 0},
		{"EC key (SEC 1)", join(pemOf("CERTIFICATE", ecCert.cert.Raw), pemOf("EC PRIVATE KEY", ecDER)), "", auth.ErrNotRSA, true, 0},
		{"EC key (PKCS#8)", join(pemOf("CERTIFICATE", ecCert.cert.Raw), pkcs8(t, ecKey)), "", auth.ErrNotRSA, true, 0},
		{"EC key in a PFX", ecPFX, "s3cret", auth.ErrNotRSA, true, 0},
		{"key of another certificate", join(pemOf("CERTIFICATE", other.cert.Raw), pkcs1), "", auth.ErrKeyMismatch, true, 0},
		{"certificate without key", leafPEM, "", nil, true, 0},
		{"key without certificate", pkcs1, "", nil, true, 0},
		{"neither PEM nor PFX", []byte("not a certificate"), "", nil, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := auth.ParseCertificate(tt.data, tt.password)
			if tt.wantFail {
				if err == nil {
					t.Fatal("parsed, want an error")
				}
				if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
					t.Fatalf("error %q, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseCertificate: %v", err)
			}
			if !got.Leaf.Equal(leaf.cert) {
				t.Errorf("leaf %q, want the app's certificate", got.Leaf.Subject.CommonName)
			}
			if !got.Key.Equal(leafKey) {
				t.Error("the key is not the app's key")
			}
			if len(got.Chain) != tt.wantChain || !got.Chain[0].Equal(leaf.cert) {
				t.Errorf("chain of %d starting %q, want %d starting with the leaf", len(got.Chain), got.Chain[0].Subject.CommonName, tt.wantChain)
			}
		})
	}
}
