package emulator

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	pkcs12 "software.sslmate.com/src/go-pkcs12"

	"github.com/mapsdevice/mapsdevice/internal/atomicfile"
)

// The built-in apps' credentials live in the state folder, where scripts
// and the CLI can read them as a daemon would.
const (
	secretFile      = "daemon-secret.txt"
	certPEMFile     = "daemon-cert.pem"
	certPFXFile     = "daemon-cert.pfx"
	certPFXPassFile = "daemon-cert.pfx.password"
)

// daemonFiles are the built-in apps' credentials and where they are kept.
type daemonFiles struct {
	secret      string
	cert        *x509.Certificate
	key         *rsa.PrivateKey
	pemPath     string
	pfxPath     string
	pfxPassword string
}

// loadOrCreateDaemonFiles keeps daemon-secret's secret and daemon-cert's
// certificate across restarts, making them on first start. The PFX is
// written again on every start, from the PEM, so the two always agree.
func loadOrCreateDaemonFiles(dir string) (daemonFiles, error) {
	f := daemonFiles{pemPath: filepath.Join(dir, certPEMFile), pfxPath: filepath.Join(dir, certPFXFile)}
	var err error
	if f.secret, err = loadOrCreateText(filepath.Join(dir, secretFile), newClientSecret); err != nil {
		return f, err
	}
	if f.pfxPassword, err = loadOrCreateText(filepath.Join(dir, certPFXPassFile), func() string { return randomHex(16) }); err != nil {
		return f, err
	}
	if f.cert, f.key, err = loadOrCreateCertificate(f.pemPath); err != nil {
		return f, err
	}
	pfx, err := pkcs12.Modern2023.Encode(f.key, f.cert, nil, f.pfxPassword)
	if err != nil {
		return f, fmt.Errorf("encode %s: %w", certPFXFile, err)
	}
	if err := atomicfile.Write(f.pfxPath, pfx, 0o600); err != nil {
		return f, fmt.Errorf("write %s: %w", certPFXFile, err)
	}
	return f, nil
}

// loadOrCreateText reads a one-line secret, or makes and writes one. The
// file has no trailing newline, so that it can be used as it is.
func loadOrCreateText(path string, newValue func() string) (string, error) {
	data, err := os.ReadFile(path)
	if err == nil {
		if v := strings.TrimSpace(string(data)); v != "" {
			return v, nil
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("read %s: %w", filepath.Base(path), err)
	}
	v := newValue()
	if err := atomicfile.Write(path, []byte(v), 0o600); err != nil {
		return "", fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	return v, nil
}

// newClientSecret looks like the secrets Entra ID makes: 40 characters
// with "8Q~" after the first three.
func newClientSecret() string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.~-"
	b := make([]byte, 37)
	_, _ = rand.Read(b)
	var out strings.Builder
	for i, c := range b {
		if i == 3 {
			out.WriteString("8Q~")
		}
		out.WriteByte(alphabet[int(c)%len(alphabet)])
	}
	return out.String()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// loadOrCreateCertificate reads daemon-cert.pem (certificate, then PKCS#8
// key), or makes a self-signed RSA certificate, as one uploads to an app
// registration. An expired one is replaced.
func loadOrCreateCertificate(path string) (*x509.Certificate, *rsa.PrivateKey, error) {
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		cert, key, err := parseCertAndKey(data)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", filepath.Base(path), err)
		}
		if time.Now().Before(cert.NotAfter) {
			return cert, key, nil
		}
	case !errors.Is(err, fs.ErrNotExist):
		return nil, nil, fmt.Errorf("read %s: %w", filepath.Base(path), err)
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, nil, fmt.Errorf("generate certificate key: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: "daemon-cert.emulator.test"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(2, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("create certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("parse certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("encode certificate key: %w", err)
	}
	out := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	out = append(out, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})...)
	if err := atomicfile.Write(path, out, 0o600); err != nil {
		return nil, nil, fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	return cert, key, nil
}

func parseCertAndKey(data []byte) (*x509.Certificate, *rsa.PrivateKey, error) {
	var cert *x509.Certificate
	var key *rsa.PrivateKey
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		switch block.Type {
		case "CERTIFICATE":
			c, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, nil, err
			}
			cert = c
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
			if err != nil {
				return nil, nil, err
			}
			rk, ok := k.(*rsa.PrivateKey)
			if !ok {
				return nil, nil, errors.New("the key is not an RSA key")
			}
			key = rk
		}
	}
	if cert == nil || key == nil {
		return nil, nil, errors.New("want a certificate and a PKCS#8 key")
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		return nil, nil, errors.New("the key does not match the certificate")
	}
	return cert, key, nil
}
