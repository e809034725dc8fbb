package azurite_test

import (
	"crypto/tls"
	"errors"
	"net/http"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/mapsdevice/mapsdevice/internal/sink/azurite"
)

// TestMain fails the package when a test leaves a goroutine running.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Azurite answers over HTTPS with the certificate made for it, refuses a
// request without a token as --oauth basic does, and stops on Close.
func TestStartAndClose(t *testing.T) {
	srv, err := azurite.Start(t.Context(), t.TempDir())
	if errors.Is(err, azurite.ErrNotInstalled) && os.Getenv("MAPSDEVICE_REQUIRE_AZURITE") != "1" {
		t.Skip("azurite-blob is not on PATH; set MAPSDEVICE_REQUIRE_AZURITE=1 to fail instead")
	}
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: srv.Pool, MinVersion: tls.VersionTLS12}}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get(srv.URL + "/readings?restype=container")
	if err != nil {
		t.Fatalf("GET over HTTPS: %v", err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("x-ms-error-code"); resp.StatusCode != http.StatusForbidden || got != "AuthorizationFailure" {
		t.Errorf("a request without a token got %d %s, want 403 AuthorizationFailure", resp.StatusCode, got)
	}
	if err := srv.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	tr.CloseIdleConnections()
	if _, err := (&http.Client{Transport: tr}).Get(srv.URL); err == nil {
		t.Errorf("Azurite still answers after Close")
	}
}

func TestStartWithoutAzurite(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	if _, err := azurite.Start(t.Context(), t.TempDir()); !errors.Is(err, azurite.ErrNotInstalled) {
		t.Fatalf("Start with no azurite-blob on PATH = %v, want ErrNotInstalled", err)
	}
}
