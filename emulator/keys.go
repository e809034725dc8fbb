package emulator

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/mapsdevice/mapsdevice/internal/atomicfile"
)

// keys is what the emulator keeps in its state folder: a CA that signs the
// TLS certificate, and the RSA key that signs tokens. Keeping them lets a
// token cache and a trusted ca.pem stay valid across restarts.
type keys struct {
	caCert    *x509.Certificate
	caKey     crypto.Signer
	caPEM     []byte
	signKey   *rsa.PrivateKey
	signKeyID string
}

func loadOrCreateKeys(dir string) (*keys, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create state folder: %w", err)
	}
	caKey, err := loadOrCreateKey(filepath.Join(dir, "ca-key.pem"), func() (crypto.Signer, error) {
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	})
	if err != nil {
		return nil, err
	}
	caPEM, caCert, err := loadOrCreateCA(filepath.Join(dir, "ca.pem"), caKey)
	if err != nil {
		return nil, err
	}
	signKey, err := loadOrCreateKey(filepath.Join(dir, "signing-key.pem"), func() (crypto.Signer, error) {
		return rsa.GenerateKey(rand.Reader, 2048)
	})
	if err != nil {
		return nil, err
	}
	rsaKey, ok := signKey.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("signing-key.pem is not an RSA key")
	}
	sum := sha256.Sum256(rsaKey.N.Bytes())
	return &keys{
		caCert:    caCert,
		caKey:     caKey,
		caPEM:     caPEM,
		signKey:   rsaKey,
		signKeyID: base64.RawURLEncoding.EncodeToString(sum[:12]),
	}, nil
}

func loadOrCreateKey(path string, generate func() (crypto.Signer, error)) (crypto.Signer, error) {
	data, err := os.ReadFile(path)
	if err == nil {
		block, _ := pem.Decode(data)
		if block == nil {
			return nil, fmt.Errorf("%s: no PEM block", path)
		}
		key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		signer, ok := key.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("%s: not a signing key", path)
		}
		return signer, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read key: %w", err)
	}
	key, err := generate()
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode key: %w", err)
	}
	if err := atomicfile.Write(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return nil, fmt.Errorf("write key: %w", err)
	}
	return key, nil
}

func loadOrCreateCA(path string, key crypto.Signer) ([]byte, *x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err == nil {
		block, _ := pem.Decode(data)
		if block == nil {
			return nil, nil, fmt.Errorf("%s: no PEM block", path)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
		return data, cert, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, nil, fmt.Errorf("read CA: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: "mapsdevice emulator CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, fmt.Errorf("create CA: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("parse CA: %w", err)
	}
	data = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := atomicfile.Write(path, data, 0o644); err != nil {
		return nil, nil, fmt.Errorf("write CA: %w", err)
	}
	return data, cert, nil
}

// serverCert issues a fresh TLS certificate for the listen host on every
// start, so the CA alone is what clients need to trust.
func (k *keys) serverCert(host string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("generate TLS key: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: randomSerial(),
		Subject:      pkix.Name{CommonName: "mapsdevice emulator"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(1, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	if ip := net.ParseIP(host); ip != nil {
		tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
	} else if host != "" && host != "localhost" {
		tmpl.DNSNames = append(tmpl.DNSNames, host)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, k.caCert, key.Public(), k.caKey)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("issue TLS certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

func randomSerial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	return n
}
