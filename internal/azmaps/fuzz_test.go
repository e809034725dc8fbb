package azmaps

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// FuzzAPIError reads error answers and Resource-Location values of any
// shape without panicking, and never echoes more than 64 KB.
func FuzzAPIError(f *testing.F) {
	f.Add(401, []byte(`{"error":{"code":"Unauthorized","message":"Access denied"}}`), `Bearer realm="https://atlas.microsoft.com/", error="invalid_token", error_description="x"`, "https://us.atlas.microsoft.com/mapData/metadata/0b1e?api-version=2.0")
	f.Add(404, []byte(``), ``, "https://h/mapData/0b1e?api-version=2.0")
	f.Add(500, []byte(`not json`), `error=`, `::`)
	f.Fuzz(func(t *testing.T, status int, body []byte, wwwAuth, location string) {
		if status < 100 || status > 999 {
			return
		}
		base, _ := url.Parse("https://us.atlas.microsoft.com")
		req, _ := http.NewRequest("GET", "https://us.atlas.microsoft.com/mapData?api-version=2.0", nil)
		resp := &http.Response{StatusCode: status, Header: http.Header{}, Body: io.NopCloser(bytes.NewReader(body)), Request: req}
		resp.Header.Set("WWW-Authenticate", wwwAuth)
		e := readAPIError(resp, base)
		if e.Status != status || len(e.Message) > 64<<10 {
			t.Fatalf("status %d, message of %d bytes", e.Status, len(e.Message))
		}
		if udid, err := resourceUDID(location); err == nil && (udid == "" || udid == "/") {
			t.Fatalf("empty udid from %q", location)
		}
		// Operation-Location: parsed, and refused unless on the endpoint.
		if u, err := url.Parse(location); err == nil && sameHost(u, base) != strings.EqualFold(u.Host, base.Host) && strings.EqualFold(u.Scheme, "https") {
			t.Fatalf("host check disagrees for %q", location)
		} else if err == nil {
			_ = lastSegment(u.Path)
		}
	})
}
