// Package azurite runs Azurite, Microsoft's Storage emulator, for the blob
// sink's tests and the demo: azurite-blob from PATH, over HTTPS with a
// certificate made for the run, checking bearer tokens as --oauth basic
// does (issuer, audience and lifetime; not the signature), in memory, on
// a free port of 127.0.0.1.
package azurite

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"syscall"
	"time"
)

// Version is the Azurite release the project is tested with.
const Version = "3.35.0"

// Account is Azurite's built-in storage account.
const Account = "devstoreaccount1"

// ErrNotInstalled means azurite-blob is not on PATH.
var ErrNotInstalled = errors.New("azurite-blob is not on PATH")

// Server is a running azurite-blob.
type Server struct {
	// URL is the account's base URL, https://127.0.0.1:PORT/devstoreaccount1:
	// a container is URL + "/" + its name.
	URL string
	// CAFile is the PEM certificate the server presents, which is its own
	// CA; Pool trusts it.
	CAFile string
	Pool   *x509.CertPool

	cmd    *exec.Cmd
	exited chan error
	once   sync.Once
}

// Start starts azurite-blob with its certificate and working files in
// dir, and waits until it listens (or ctx ends).
func Start(ctx context.Context, dir string) (*Server, error) {
	bin, err := exec.LookPath("azurite-blob")
	if err != nil {
		return nil, ErrNotInstalled
	}
	certFile, keyFile, pool, err := writeCert(dir)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "--blobHost", "127.0.0.1", "--blobPort", "0",
		"--cert", certFile, "--key", keyFile, "--oauth", "basic",
		"--inMemoryPersistence", "--silent", "--disableTelemetry")
	cmd.Dir = dir
	out := &listenWatcher{found: make(chan string, 1)}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start azurite: %w", err)
	}
	s := &Server{CAFile: certFile, Pool: pool, cmd: cmd, exited: make(chan error, 1)}
	go func() { s.exited <- cmd.Wait() }()
	select {
	case u := <-out.found:
		s.URL = u + "/" + Account
		return s, nil
	case err := <-s.exited:
		return nil, fmt.Errorf("azurite exited before listening (%v): %s", err, out.text())
	case <-ctx.Done():
		_ = s.Close()
		return nil, fmt.Errorf("wait for azurite to listen: %w", ctx.Err())
	}
}

// Close stops Azurite: SIGTERM, then, after 5 s (it takes a second or
// more to shut down), SIGKILL.
func (s *Server) Close() error {
	s.once.Do(func() {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		timer := time.NewTimer(5 * time.Second)
		defer timer.Stop()
		select {
		case <-s.exited:
		case <-timer.C:
			_ = s.cmd.Process.Kill()
			<-s.exited
		}
	})
	return nil
}

// listenWatcher collects Azurite's output and finds the line that says
// where it listens.
type listenWatcher struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	found chan string
	sent  bool
}

var listensOn = regexp.MustCompile(`listens on (https://127\.0\.0\.1:\d+)`)

func (w *listenWatcher) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.buf.Len() < 1<<20 {
		w.buf.Write(p)
	}
	if !w.sent {
		sc := bufio.NewScanner(bytes.NewReader(w.buf.Bytes()))
		for sc.Scan() {
			if m := listensOn.FindStringSubmatch(sc.Text()); m != nil {
				w.found <- m[1]
				w.sent = true
				break
			}
		}
	}
	return len(p), nil
}

func (w *listenWatcher) text() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// writeCert makes a self-signed ECDSA certificate for 127.0.0.1, valid
// for two days, and writes it and its key as PEM.
func writeCert(dir string) (certFile, keyFile string, pool *x509.CertPool, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", nil, fmt.Errorf("make azurite's key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return "", "", nil, fmt.Errorf("make azurite's certificate: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(48 * time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return "", "", nil, fmt.Errorf("make azurite's certificate: %w", err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", "", nil, fmt.Errorf("encode azurite's key: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return "", "", nil, fmt.Errorf("read azurite's certificate: %w", err)
	}
	certFile, keyFile = filepath.Join(dir, "azurite-cert.pem"), filepath.Join(dir, "azurite-key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		return "", "", nil, fmt.Errorf("write azurite's certificate: %w", err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}), 0o600); err != nil {
		return "", "", nil, fmt.Errorf("write azurite's key: %w", err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool, nil
}
