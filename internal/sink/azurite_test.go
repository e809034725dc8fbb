package sink_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/mapsdevice/mapsdevice/internal/sink/azurite"
)

// startAzurite starts Azurite for a test and stops it when the test ends.
// Without it the test is skipped, unless MAPSDEVICE_REQUIRE_AZURITE=1.
func startAzurite(t *testing.T) *azurite.Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	srv, err := azurite.Start(ctx, t.TempDir())
	switch {
	case errors.Is(err, azurite.ErrNotInstalled) && os.Getenv("MAPSDEVICE_REQUIRE_AZURITE") != "1":
		t.Skip("azurite-blob is not on PATH (.ci/run installs Azurite " + azurite.Version + "); set MAPSDEVICE_REQUIRE_AZURITE=1 to fail instead")
	case err != nil:
		t.Fatalf("start azurite: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

// azuriteClient reaches Azurite directly, for reading back what the sink
// wrote.
func azuriteClient(t *testing.T, srv *azurite.Server) *http.Client {
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: srv.Pool, MinVersion: tls.VersionTLS12}}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}
