package emulator_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mapsdevice/mapsdevice/emulator"
	"github.com/mapsdevice/mapsdevice/emulator/emulatortest"
)

func TestInMemoryServesOnlyItsHost(t *testing.T) {
	srv := startMaps(t, emulator.Options{})
	if srv.URL() != emulator.InMemoryURL {
		t.Errorf("URL %q, want %q", srv.URL(), emulator.InMemoryURL)
	}
	resp, err := srv.Client().Get("https://atlas.microsoft.com/mapData?api-version=2.0")
	if err == nil {
		resp.Body.Close()
		t.Fatal("a request for another host was served")
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("%d requests logged, want 0", n)
	}
}

// TestInMemoryStreamsBodies uploads and downloads through pipes: the
// content must come back byte for byte.
func TestInMemoryStreamsBodies(t *testing.T) {
	srv := startMaps(t, emulator.Options{MapsOperationTime: time.Millisecond})
	// A fence with many points, so the body spans many pipe writes.
	var b strings.Builder
	b.WriteString(`{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"MultiPoint","coordinates":[`)
	for i := range 20000 {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString("[-122.126986,47.639754]")
	}
	b.WriteString(`]},"properties":{"geometryId":"many","radius":5}}]}`)
	udid := uploadAndWait(t, srv, b.String())
	status, got := keyed(t, srv, "GET", "/mapData/"+udid, url.Values{"api-version": {"2.0"}}, nil)
	if status != 200 || got != b.String() {
		t.Errorf("download: %d, %d bytes, want the %d uploaded", status, len(got), b.Len())
	}
}

func TestInMemoryResetFault(t *testing.T) {
	srv := startMaps(t, emulator.Options{})
	srv.InjectFault(emulator.EndpointMapData, emulator.Fault{Reset: true})
	u := srv.MapsEndpoint() + "/mapData?api-version=2.0&subscription-key=" + url.QueryEscape(srv.SharedKeys()[0])
	_, err := srv.Client().Get(u)
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("a reset fault gave %v, want a connection reset", err)
	}
	resp, err := srv.Client().Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("after the fault: %d", resp.StatusCode)
	}
}

// TestCloseEndsRequestsInFlight closes an emulator while a request waits in
// an injected delay: Close returns and the client sees the connection go.
func TestCloseEndsRequestsInFlight(t *testing.T) {
	for _, inMemory := range []bool{false, true} {
		name := "tls"
		if inMemory {
			name = "in memory"
		}
		t.Run(name, func(t *testing.T) {
			srv := emulatortest.Start(t, emulator.Options{NoListener: inMemory})
			srv.InjectFault(emulator.EndpointDeviceCode, emulator.Fault{Delay: time.Hour})
			done := make(chan error, 1)
			go func() {
				resp, err := srv.Client().PostForm(srv.Authority()+"/oauth2/v2.0/devicecode",
					url.Values{"client_id": {srv.ClientID()}, "scope": {emulator.MapsScope}})
				if err == nil {
					_, err = io.ReadAll(resp.Body)
					resp.Body.Close()
					if err == nil {
						err = errors.New(resp.Status)
					}
				}
				done <- err
			}()
			for len(srv.Requests()) == 0 {
				time.Sleep(time.Millisecond)
			}
			if err := srv.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			select {
			case err := <-done:
				if err == nil || strings.HasPrefix(err.Error(), "200") {
					t.Errorf("the request cut off by Close ended with %v, want a dropped connection", err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("the request outlived Close")
			}
		})
	}
}

// TestHandlerMounts serves the emulator from a server of the test's own:
// the answers name that server.
func TestHandlerMounts(t *testing.T) {
	ts := httptest.NewUnstartedServer(nil)
	base := "http://" + ts.Listener.Addr().String()
	srv := emulatortest.Start(t, emulator.Options{NoListener: true, URL: base})
	ts.Config.Handler = srv.Handler()
	ts.Start()
	t.Cleanup(ts.Close)
	resp, err := ts.Client().PostForm(srv.Authority()+"/oauth2/v2.0/devicecode",
		url.Values{"client_id": {srv.ClientID()}, "scope": {emulator.MapsScope}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"verification_uri":"`+base+`/devicelogin"`) {
		t.Errorf("%d %s, want the verification page on %s", resp.StatusCode, body, base)
	}
}
