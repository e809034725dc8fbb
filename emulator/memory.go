package emulator

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"syscall"
)

// memoryTransport serves requests with the emulator's handler in this
// process: no listener, no port, no TLS handshake. Each request runs in a
// goroutine of its own, owned by the transport; it ends when the handler
// returns, which the request's context, the response body's Close and the
// emulator's Close all bring about. Bodies stream both ways through pipes.
type memoryTransport struct {
	ctx     context.Context // the emulator's: done at Close
	host    string
	handler http.Handler
	wg      sync.WaitGroup
}

var _ http.RoundTripper = (*memoryTransport)(nil)

func newMemoryTransport(ctx context.Context, base string, h http.Handler) *memoryTransport {
	u, _ := url.Parse(base)
	return &memoryTransport{ctx: ctx, host: u.Host, handler: h}
}

// wait returns when every request's goroutine has ended.
func (t *memoryTransport) wait() { t.wg.Wait() }

// RoundTrip serves req; it answers as soon as the handler has written the
// status, and the body follows as the handler writes it.
func (t *memoryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	closeBody := func() {
		if req.Body != nil {
			req.Body.Close()
		}
	}
	if req.URL.Host != t.host {
		closeBody()
		return nil, &net.OpError{Op: "dial", Net: "tcp", Addr: fakeAddr(req.URL.Host),
			Err: fmt.Errorf("the in-memory emulator serves only %s", t.host)}
	}
	if t.ctx.Err() != nil {
		closeBody()
		return nil, &net.OpError{Op: "dial", Net: "tcp", Addr: fakeAddr(t.host), Err: syscall.ECONNREFUSED}
	}
	// The handler's context ends with the client's request or the emulator.
	ctx, cancel := context.WithCancel(req.Context())
	stop := context.AfterFunc(t.ctx, cancel)

	sreq := req.Clone(ctx)
	sreq.RequestURI = req.URL.RequestURI()
	sreq.RemoteAddr = "192.0.2.1:49152" // TEST-NET-1: nobody's address
	sreq.TLS = &tls.ConnectionState{Version: tls.VersionTLS13, HandshakeComplete: true, ServerName: req.URL.Hostname()}
	if sreq.Body == nil {
		sreq.Body = http.NoBody
	}
	if sreq.Host == "" {
		sreq.Host = req.URL.Host
	}

	pr, pw := io.Pipe()
	w := &memoryResponse{header: http.Header{}, body: pw, ready: make(chan struct{})}
	// Closing the reading end unblocks a handler still writing.
	stopBody := context.AfterFunc(ctx, func() { pr.CloseWithError(ctx.Err()) })

	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		defer func() {
			w.writeHeaderOnce(http.StatusOK)
			stopBody() // the body is whole: the reader gets its EOF
			pw.Close()
			closeBody()
			stop()
			cancel()
		}()
		t.handler.ServeHTTP(w, sreq)
	}()

	// The handler's goroutine writes the header at the latest as it ends,
	// which the context's end hastens.
	<-w.ready
	if w.wasReset {
		pr.Close()
		return nil, &net.OpError{Op: "read", Net: "tcp", Addr: fakeAddr(t.host), Err: syscall.ECONNRESET}
	}
	if err := req.Context().Err(); err != nil {
		pr.Close()
		return nil, err
	}
	resp := &http.Response{
		Status:        fmt.Sprintf("%d %s", w.status, http.StatusText(w.status)),
		StatusCode:    w.status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        w.sent,
		Body:          &memoryBody{pr: pr, stop: stopBody},
		ContentLength: -1,
		Request:       req,
		TLS:           sreq.TLS,
	}
	if n, err := strconv.ParseInt(w.sent.Get("Content-Length"), 10, 64); err == nil {
		resp.ContentLength = n
	}
	if req.Method == http.MethodHead || w.status == http.StatusNoContent || w.status == http.StatusNotModified {
		resp.ContentLength = 0
	}
	return resp, nil
}

// memoryResponse is the handler's side of an in-memory exchange.
type memoryResponse struct {
	header   http.Header
	sent     http.Header // the header as it was when the status was written
	status   int
	body     *io.PipeWriter
	ready    chan struct{}
	once     sync.Once
	wasReset bool
}

func (w *memoryResponse) Header() http.Header { return w.header }

func (w *memoryResponse) WriteHeader(status int) { w.writeHeaderOnce(status) }

func (w *memoryResponse) writeHeaderOnce(status int) {
	w.once.Do(func() {
		w.status, w.sent = status, w.header.Clone()
		close(w.ready)
	})
}

func (w *memoryResponse) Write(p []byte) (int, error) {
	w.writeHeaderOnce(http.StatusOK)
	return w.body.Write(p)
}

// Flush is a no-op: every Write already reaches the reader.
func (w *memoryResponse) Flush() {}

// reset makes the client see a dropped connection instead of an answer.
func (w *memoryResponse) reset() {
	w.once.Do(func() {
		w.wasReset = true
		close(w.ready)
	})
}

// memoryBody is the client's side of the response body.
type memoryBody struct {
	pr   *io.PipeReader
	stop func() bool
}

func (b *memoryBody) Read(p []byte) (int, error) { return b.pr.Read(p) }

func (b *memoryBody) Close() error {
	b.stop()
	return b.pr.Close()
}

type fakeAddr string

func (a fakeAddr) Network() string { return "tcp" }
func (a fakeAddr) String() string  { return string(a) }
