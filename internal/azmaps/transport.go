package azmaps

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"sync"
)

// NewTransport is the transport for Azure Maps and Entra ID: the standard
// one (which honours HTTPS_PROXY and NO_PROXY) with TLS 1.2 or newer and
// the CAs of caFile, if set, trusted beside the system's. The CA file is
// read now, so a bad one is reported at once; the system roots are loaded
// on the first request, so a run served from caches never reads them.
func NewTransport(caFile string) (http.RoundTripper, error) {
	return newTransport(caFile, false)
}

// NewDirectTransport is NewTransport with no proxy, for managed identity
// endpoints, which are on the machine or link-local and must never go
// through one.
func NewDirectTransport(caFile string) (http.RoundTripper, error) {
	return newTransport(caFile, true)
}

func newTransport(caFile string, direct bool) (http.RoundTripper, error) {
	t := &transport{direct: direct}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("read CA file: %w", err)
		}
		if !x509.NewCertPool().AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA file %s holds no PEM certificate", caFile)
		}
		t.extra = pem
	}
	return t, nil
}

type transport struct {
	extra  []byte // PEM
	direct bool
	once   sync.Once
	rt     http.RoundTripper
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.once.Do(func() {
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		pool.AppendCertsFromPEM(t.extra)
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool}
		if t.direct {
			tr.Proxy = nil
		}
		t.rt = tr
	})
	return t.rt.RoundTrip(req)
}
