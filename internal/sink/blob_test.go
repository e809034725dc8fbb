package sink_test

import (
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mapsdevice/mapsdevice/internal/auth"
	"github.com/mapsdevice/mapsdevice/internal/report"
	"github.com/mapsdevice/mapsdevice/internal/sink"
	"github.com/mapsdevice/mapsdevice/internal/sink/azurite"
)

// Storage's answers, as Azure and Azurite give them.
var (
	storageBusy = cannedFault{Name: "503 ServerBusy", Status: 503,
		Header: map[string]string{"x-ms-error-code": "ServerBusy", "Content-Type": "application/xml"},
		Body:   storageErrorBody("ServerBusy", "The server is busy.")}
	storageTimeout = cannedFault{Name: "500 OperationTimedOut", Status: 500,
		Header: map[string]string{"x-ms-error-code": "OperationTimedOut", "Content-Type": "application/xml"},
		Body:   storageErrorBody("OperationTimedOut", "The operation could not be completed within the permitted time.")}
	storageMismatch = cannedFault{Name: "403 AuthorizationPermissionMismatch", Status: 403,
		Header: map[string]string{"x-ms-error-code": "AuthorizationPermissionMismatch", "Content-Type": "application/xml"},
		Body:   storageErrorBody("AuthorizationPermissionMismatch", "This request is not authorized to perform this operation using this permission.")}
	storageNoToken = cannedFault{Name: "401 InvalidAuthenticationInfo", Status: 401,
		Header: map[string]string{"x-ms-error-code": "InvalidAuthenticationInfo", "WWW-Authenticate": "Bearer authorization_uri=https://login.microsoftonline.com/t/oauth2/authorize resource_id=https://storage.azure.com"},
		Body:   storageErrorBody("InvalidAuthenticationInfo", "Server failed to authenticate the request. Please refer to the information in the www-authenticate header.")}
)

func storageErrorBody(code, message string) string {
	return `<?xml version="1.0" encoding="utf-8"?><Error><Code>` + code + `</Code><Message>` + message +
		"\nRequestId:00000000-0000-0000-0000-000000000000\nTime:2026-11-22T05:00:00.0000000Z</Message></Error>"
}

// blobSetup is Azurite behind a fault proxy, and a signed-in user.
type blobSetup struct {
	az    *azurite.Server
	proxy *faultProxy
	user  *auth.Client
	url   string // the container, through the proxy
}

func newBlobSetup(t *testing.T, seed uint64) *blobSetup {
	t.Helper()
	az := startAzurite(t)
	_, user := signIn(t)
	origin, _, _ := strings.Cut(strings.TrimPrefix(az.URL, "https://"), "/")
	proxy := startFaultProxy(t, "https://"+origin, az.Pool, seed)
	return &blobSetup{az: az, proxy: proxy, user: user, url: proxy.URL + "/" + azurite.Account + "/readings"}
}

func (s *blobSetup) newSink(t *testing.T) report.Sink {
	t.Helper()
	b, err := sink.NewBlob(sink.BlobConfig{URL: s.url, Tokens: s.user, Transport: transport(t, s.proxy.CAFile)})
	if err != nil {
		t.Fatalf("NewBlob: %v", err)
	}
	return b
}

// blobs reads every blob of the container straight from Azurite.
func (s *blobSetup) blobs(t *testing.T) map[string][]byte {
	t.Helper()
	hc := azuriteClient(t, s.az)
	get := func(u string) []byte {
		tok, err := s.user.AccessToken(t.Context(), sink.StorageResource, false)
		if err != nil {
			t.Fatalf("token: %v", err)
		}
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		req.Header.Set("x-ms-version", sink.StorageVersion)
		req.Header.Set("x-ms-date", time.Now().UTC().Format(http.TimeFormat))
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", u, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %s", u, resp.StatusCode, body)
		}
		return body
	}
	container := s.az.URL + "/readings"
	out := map[string][]byte{}
	marker := ""
	for {
		var list struct {
			Names      []string `xml:"Blobs>Blob>Name"`
			NextMarker string   `xml:"NextMarker"`
		}
		if err := xml.Unmarshal(get(container+"?restype=container&comp=list&marker="+url.QueryEscape(marker)), &list); err != nil {
			t.Fatalf("list blobs: %v", err)
		}
		for _, name := range list.Names {
			out[name] = get(container + "/" + name)
		}
		if marker = list.NextMarker; marker == "" {
			return out
		}
	}
}

func TestBlobName(t *testing.T) {
	first := time.Date(2026, 11, 22, 2, 59, 59, 0, time.FixedZone("CET", 3600))
	tests := []struct {
		name   string
		device string
		want   string
	}{
		{"utc hour of the first reading", "pi-01", "pi-01/2026/11/22/01/7f3a9c21-0000000000001000.json"},
		{"a slash in a device id stays one level", "site/pi", "site_pi/2026/11/22/01/7f3a9c21-0000000000001000.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := sink.BlobName(report.Batch{ID: "7f3a9c21-0000000000001000", DeviceID: tt.device, First: first})
			if got != tt.want {
				t.Errorf("BlobName = %q, want %q", got, tt.want)
			}
		})
	}
}

// Every reading lands exactly once through 30% faults (busy, failing,
// forbidden, and answers lost after the blob was written), with a new
// sink after every failure as after a restart; and a second run of the
// same batches adds nothing.
func TestBlobExactlyOnceThroughFaults(t *testing.T) {
	s := newBlobSetup(t, 12)
	batches, ids := makeBatches("7f3a9c21", 1000, 25)
	s.proxy.setFaults(0.3, storageBusy, storageTimeout, storageMismatch)
	o := deliver(t, func() report.Sink { return s.newSink(t) }, batches)
	injected, upstream := s.proxy.counts()
	t.Logf("sends %d, busy %d, forbidden %d, other %d; injected %v; Azurite answered %v", o.sends, o.busy, o.forbidden, o.other, injected, upstream)
	for _, f := range []string{storageBusy.Name, storageTimeout.Name, storageMismatch.Name, "drop"} {
		if injected[f] == 0 {
			t.Errorf("no %s was injected: the test proved nothing about it", f)
		}
	}
	if upstream[http.StatusConflict] == 0 {
		t.Errorf("Azurite never answered 409: no resend met a blob it had written")
	}

	check := func(t *testing.T) {
		stored := s.blobs(t)
		var names, want []string
		counts := map[string]int{}
		for name, body := range stored {
			names = append(names, name)
			tally(t, counts, body)
		}
		for _, b := range batches {
			want = append(want, sink.BlobName(b))
		}
		slices.Sort(names)
		slices.Sort(want)
		if !slices.Equal(names, want) {
			t.Errorf("blobs %v\nwant %v", names, want)
		}
		checkExactlyOnce(t, counts, ids)
	}
	check(t)

	t.Run("a second run adds nothing", func(t *testing.T) {
		s.proxy.setFaults(0)
		o := deliver(t, func() report.Sink { return s.newSink(t) }, batches)
		if o.sends != len(batches) {
			t.Errorf("%d sends for %d batches already stored, want one each", o.sends, len(batches))
		}
		check(t)
	})
}

// A blob of the same name holding another batch is never overwritten:
// the batch is refused with the reason.
func TestBlobNeverOverwritesAnotherBatch(t *testing.T) {
	s := newBlobSetup(t, 1)
	batches, _ := makeBatches("0badcafe", 10, 10)
	b := batches[0]
	if err := s.newSink(t).Send(t.Context(), b); err != nil {
		t.Fatalf("first send: %v", err)
	}
	other := b
	other.Body = []byte(strings.Replace(string(b.Body), "pi-", "px-", 1))
	err := s.newSink(t).Send(t.Context(), other)
	var rejected *report.RejectedError
	if !errors.As(err, &rejected) || rejected.Status != http.StatusConflict || !strings.Contains(rejected.Reason, "not overwritten") {
		t.Fatalf("send of another batch under the same name = %v, want a 409 refusal saying it is not overwritten", err)
	}
	if got := s.blobs(t)[sink.BlobName(b)]; string(got) != string(b.Body) {
		t.Errorf("the stored blob changed:\n%s\nwant\n%s", got, b.Body)
	}
}

func TestBlobCredentialsRefused(t *testing.T) {
	s := newBlobSetup(t, 1)
	batches, _ := makeBatches("5ca1ab1e", 4, 2)

	t.Run("a data role is missing", func(t *testing.T) {
		s.proxy.failNext(storageMismatch)
		err := s.newSink(t).Send(t.Context(), batches[0])
		if !errors.Is(err, report.ErrForbidden) || !strings.Contains(err.Error(), "Owner is not enough") ||
			!strings.Contains(err.Error(), "Storage Blob Data Contributor") {
			t.Fatalf("Send = %v, want ErrForbidden naming Storage Blob Data Contributor", err)
		}
	})
	t.Run("a refused token is replaced once", func(t *testing.T) {
		s.proxy.failNext(storageNoToken)
		if err := s.newSink(t).Send(t.Context(), batches[0]); err != nil {
			t.Fatalf("Send after one 401 = %v, want delivered with a fresh token", err)
		}
	})
	t.Run("a token refused twice is forbidden", func(t *testing.T) {
		s.proxy.failNext(storageNoToken, storageNoToken, storageNoToken)
		err := s.newSink(t).Send(t.Context(), batches[1])
		if !errors.Is(err, report.ErrForbidden) {
			t.Fatalf("Send = %v, want ErrForbidden", err)
		}
		s.proxy.mu.Lock()
		left := len(s.proxy.queue)
		s.proxy.queue = nil
		s.proxy.mu.Unlock()
		if left != 1 {
			t.Errorf("%d requests made, want 2 (one fresh token, then stop)", 3-left)
		}
	})
	t.Run("busy says how long to wait", func(t *testing.T) {
		f := storageBusy
		f.Header = map[string]string{"x-ms-error-code": "ServerBusy", "Retry-After": "7"}
		s.proxy.failNext(f)
		err := s.newSink(t).Send(t.Context(), batches[1])
		var retry *report.RetryAfterError
		if !errors.As(err, &retry) || retry.After != 7*time.Second {
			t.Fatalf("Send = %v, want a RetryAfterError of 7s", err)
		}
	})
}

func TestNewBlobChecksTheURL(t *testing.T) {
	tests := []struct {
		name, url string
	}{
		{"plain http", "http://acct.blob.core.windows.net/readings"},
		{"no container", "https://acct.blob.core.windows.net/"},
		{"container too short", "https://acct.blob.core.windows.net/c1"},
		{"upper case", "https://acct.blob.core.windows.net/Readings"},
		{"a SAS token", "https://acct.blob.core.windows.net/readings?sig=secret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := sink.NewBlob(sink.BlobConfig{URL: tt.url, Tokens: noTokens{}, Transport: http.DefaultTransport})
			if err == nil {
				t.Fatalf("NewBlob(%q) took it", tt.url)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("the error shows the SAS token: %v", err)
			}
		})
	}
	if _, err := sink.NewBlob(sink.BlobConfig{URL: "https://acct.blob.core.windows.net/readings", Tokens: noTokens{}, Transport: http.DefaultTransport}); err != nil {
		t.Errorf("NewBlob of a good URL: %v", err)
	}
}
