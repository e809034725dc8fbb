package cli_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mapsdevice/mapsdevice/emulator"
	"github.com/mapsdevice/mapsdevice/emulator/emulatortest"
	"github.com/mapsdevice/mapsdevice/internal/sink"
	"github.com/mapsdevice/mapsdevice/internal/sink/azurite"
)

// TestReportBlobSinkFollowTwice delivers a file of readings into an
// Azurite container as one blob a batch, named as the README says; a
// second run of the same file with --follow adds nothing.
func TestReportBlobSinkFollowTwice(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	az, err := azurite.Start(ctx, t.TempDir())
	switch {
	case errors.Is(err, azurite.ErrNotInstalled) && os.Getenv("MAPSDEVICE_REQUIRE_AZURITE") != "1":
		t.Skip("azurite-blob is not on PATH (.ci/run installs Azurite " + azurite.Version + "); set MAPSDEVICE_REQUIRE_AZURITE=1 to fail instead")
	case err != nil:
		t.Fatalf("start azurite: %v", err)
	}
	t.Cleanup(func() { az.Close() })
	srv, vars := inProcess(t, emulator.Options{})
	e := signedIn(t, srv, vars, emulator.ContributorUser)
	// One CA file for both: the emulator's and Azurite's.
	var bundle []byte
	for _, f := range []string{srv.CAFile(), az.CAFile} {
		pem, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		bundle = append(bundle, pem...)
	}
	e = e.with("MAPSDEVICE_CA_FILE=" + writeFile(t, e.home, "ca.pem", string(bundle)))

	const n = 250
	var in strings.Builder
	start := time.Date(2026, 11, 22, 1, 58, 0, 0, time.UTC)
	for i := range n {
		fmt.Fprintf(&in, `{"time":%q,"lat":47.6,"lon":-122.1,"seq":%d}`+"\n", start.Add(time.Duration(i)*time.Second).Format(time.RFC3339), i)
	}
	input := writeFile(t, e.home, "in.ndjson", in.String())
	container := az.URL + "/readings"
	args := []string{"report", "--sink", "blob", "--blob-url", container, "--input", input, "--follow",
		"--batch-size", "40", "--max-delay", "100ms", "--device-id", "pi-blob"}
	reader := emulatortest.SignIn(t, srv, emulator.ContributorUser)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: az.Pool, MinVersion: tls.VersionTLS12}}}
	get := func(u string) ([]byte, int) {
		tok, err := reader.AccessToken(t.Context(), sink.StorageResource, false)
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
		return body, resp.StatusCode
	}
	blobs := func() map[string][]byte {
		out := map[string][]byte{}
		body, code := get(container + "?restype=container&comp=list")
		if code == http.StatusNotFound {
			return out
		}
		var list struct {
			Names []string `xml:"Blobs>Blob>Name"`
		}
		if err := xml.Unmarshal(body, &list); err != nil {
			t.Fatalf("list blobs: %d %s", code, body)
		}
		for _, name := range list.Names {
			out[name], _ = get(container + "/" + url.PathEscape(name))
		}
		return out
	}
	count := func(bs map[string][]byte) map[int]int {
		got := map[int]int{}
		for _, b := range bs {
			for line := range strings.Lines(string(b)) {
				var r struct{ Seq int }
				json.Unmarshal([]byte(line), &r)
				got[r.Seq]++
			}
		}
		return got
	}
	run := func(until func() bool) string {
		cmd := e.command(t.Context(), args...)
		var errb syncBuffer
		cmd.Stdout, cmd.Stderr = io.Discard, &errb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, 30*time.Second, until)
		cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			t.Errorf("after SIGTERM: %v\n%s", err, errb.String())
		}
		return errb.String()
	}
	logs := run(func() bool { return len(count(blobs())) == n })
	first := blobs()
	for name := range first {
		if !strings.HasPrefix(name, "pi-blob/2026/11/22/0") || !strings.HasSuffix(name, ".json") || strings.Count(name, "/") != 5 {
			t.Errorf("blob %q: want pi-blob/yyyy/MM/dd/HH/{batchId}.json", name)
		}
	}
	if _, ok := first["pi-blob/2026/11/22/01/"+batchIDOf(t, first, 0)+".json"]; !ok {
		t.Errorf("the first batch is not under the hour of its first reading: %v", keys(first))
	}
	// The second run finds nothing new: it waits a while, then stops.
	began := time.Now()
	run(func() bool { return time.Since(began) > 2*time.Second })
	second := blobs()
	got := count(second)
	for s := range n {
		if got[s] != 1 {
			t.Errorf("reading %d stored %d times", s, got[s])
		}
	}
	if len(second) != len(first) {
		t.Errorf("%d blobs after the second run, %d after the first: the second run added some", len(second), len(first))
	}
	if t.Failed() {
		t.Logf("first run's log:\n%s", logs)
	}
}

// batchIDOf is the batch id of the blob holding reading seq.
func batchIDOf(t *testing.T, blobs map[string][]byte, seq int) string {
	for name, b := range blobs {
		for line := range strings.Lines(string(b)) {
			var r struct{ Seq int }
			if json.Unmarshal([]byte(line), &r) == nil && r.Seq == seq {
				return strings.TrimSuffix(filepath.Base(name), ".json")
			}
		}
	}
	t.Fatalf("no blob holds reading %d", seq)
	return ""
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
