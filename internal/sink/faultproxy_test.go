package sink_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// cannedFault is an answer the proxy gives instead of the destination's.
type cannedFault struct {
	Name   string
	Status int
	Header map[string]string
	Body   string
}

// faultProxy stands in front of a destination and fails a share of the
// requests: with one of its canned answers, or by forwarding the request
// and then dropping the connection before any answer, as when a reporter
// dies between "sent" and "recorded as sent".
type faultProxy struct {
	URL    string
	CAFile string // the proxy's certificate, for azmaps.NewTransport

	mu       sync.Mutex
	rate     float64
	faults   []cannedFault
	queue    []cannedFault // served first, one a request
	rnd      *rand.Rand
	injected map[string]int // by fault name, "drop" for a dropped answer
	upstream map[int]int    // the destination's answers, by status
	sizes    []int64        // the request bodies' sizes
}

// startFaultProxy proxies to target, trusting pool for it.
func startFaultProxy(t *testing.T, target string, pool *x509.CertPool, seed uint64) *faultProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	t.Cleanup(tr.CloseIdleConnections)
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.Transport = tr
	p := &faultProxy{
		rnd:      rand.New(rand.NewPCG(seed, seed)),
		injected: map[string]int{},
		upstream: map[int]int{},
	}
	rp.ModifyResponse = func(resp *http.Response) error {
		p.mu.Lock()
		p.upstream[resp.StatusCode]++
		p.mu.Unlock()
		return nil
	}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.sizes = append(p.sizes, r.ContentLength)
		p.mu.Unlock()
		canned, drop := p.pick()
		switch {
		case drop:
			rec := httptest.NewRecorder()
			rp.ServeHTTP(rec, r)
			hj, ok := w.(http.Hijacker)
			if !ok {
				t.Errorf("fault proxy: cannot drop a connection")
				return
			}
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
			}
		case canned != nil:
			for k, v := range canned.Header {
				w.Header().Set(k, v)
			}
			w.WriteHeader(canned.Status)
			_, _ = w.Write([]byte(canned.Body))
		default:
			rp.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	p.URL = srv.URL
	p.CAFile = writePEM(t, srv)
	return p
}

// writePEM writes a test server's certificate, which is its own CA.
func writePEM(t *testing.T, srv *httptest.Server) string {
	t.Helper()
	name := filepath.Join(t.TempDir(), "server-ca.pem")
	der := srv.Certificate().Raw
	if err := os.WriteFile(name, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return name
}

// setFaults fails rate (0 to 1) of the requests, each with one of the
// canned answers or a drop, picked evenly.
func (p *faultProxy) setFaults(rate float64, faults ...cannedFault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rate, p.faults = rate, faults
}

// failNext answers the next requests with these faults, in order.
func (p *faultProxy) failNext(faults ...cannedFault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.queue = append(p.queue, faults...)
}

func (p *faultProxy) pick() (*cannedFault, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.queue) > 0 {
		f := p.queue[0]
		p.queue = p.queue[1:]
		p.injected[f.Name]++
		return &f, false
	}
	if p.rate <= 0 || p.rnd.Float64() >= p.rate {
		return nil, false
	}
	n := p.rnd.IntN(len(p.faults) + 1)
	if n == len(p.faults) {
		p.injected["drop"]++
		return nil, true
	}
	f := p.faults[n]
	p.injected[f.Name]++
	return &f, false
}

// requestSizes are the sizes of the request bodies so far.
func (p *faultProxy) requestSizes() []int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]int64(nil), p.sizes...)
}

// counts are the faults injected and the destination's own answers.
func (p *faultProxy) counts() (injected map[string]int, upstream map[int]int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	injected, upstream = map[string]int{}, map[int]int{}
	for k, v := range p.injected {
		injected[k] = v
	}
	for k, v := range p.upstream {
		upstream[k] = v
	}
	return injected, upstream
}
