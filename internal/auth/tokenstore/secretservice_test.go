package tokenstore_test

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mapsdevice/mapsdevice/internal/auth/tokenstore"
)

// secretService returns the real OS keyring, or skips when none answers
// (unless MAPSDEVICE_REQUIRE_SECRET_SERVICE=1, as in CI).
func secretService(t *testing.T) tokenstore.Keyring {
	t.Helper()
	k := tokenstore.OSKeyring{Timeout: 3 * time.Second}
	if err := tokenstore.Probe(t.Context(), k); err != nil {
		if os.Getenv("MAPSDEVICE_REQUIRE_SECRET_SERVICE") == "1" {
			t.Fatalf("MAPSDEVICE_REQUIRE_SECRET_SERVICE=1 but no Secret Service answers: %v", err)
		}
		t.Skipf("no Secret Service (%v); run the tests under scripts/with-secret-service", err)
	}
	return k
}

func uniqueProfile(t *testing.T) string {
	b := make([]byte, 6)
	rand.Read(b)
	return "test-" + hex.EncodeToString(b)
}

func TestSecretServiceSealedStore(t *testing.T) {
	ring := secretService(t)
	ctx := t.Context()
	dir := t.TempDir()
	profile := uniqueProfile(t)
	s := tokenstore.NewSealed(dir, profile, ring)
	t.Cleanup(func() { s.Clear(t.Context()) })

	want := fakeCache()
	if err := export(t, s, want); err != nil {
		t.Fatalf("Export: %v", err)
	}
	key, err := ring.Get(ctx, tokenstore.Service, tokenstore.KeyItem(dir, profile))
	if err != nil {
		t.Fatalf("the key is not in the Secret Service: %v", err)
	}
	if len(key) != 44 {
		t.Errorf("keyring item is %d bytes, want a 44-byte base64 key", len(key))
	}
	// A fresh store value reads what the first wrote, as a new process would.
	got, err := replace(t, tokenstore.NewSealed(dir, profile, ring))
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("round trip through the Secret Service: %v", err)
	}

	raw, _ := os.ReadFile(filepath.Join(dir, profile+".sealed"))
	raw[len(raw)/2] ^= 0x80
	os.WriteFile(filepath.Join(dir, profile+".sealed"), raw, 0o600)
	if _, err := replace(t, s); !errors.Is(err, tokenstore.ErrUnreadable) {
		t.Errorf("tampered blob: %v, want ErrUnreadable", err)
	}

	if err := s.Clear(ctx); err != nil {
		t.Fatalf("Clear: %v", err)
	}
	if _, err := ring.Get(ctx, tokenstore.Service, tokenstore.KeyItem(dir, profile)); !errors.Is(err, tokenstore.ErrNotFound) {
		t.Errorf("after Clear the key is still there: %v", err)
	}

	// A blob whose key vanished from the keyring.
	if err := export(t, s, want); err != nil {
		t.Fatal(err)
	}
	if err := ring.Delete(ctx, tokenstore.Service, tokenstore.KeyItem(dir, profile)); err != nil {
		t.Fatal(err)
	}
	if _, err := replace(t, s); !errors.Is(err, tokenstore.ErrUnreadable) {
		t.Errorf("missing key: %v, want ErrUnreadable", err)
	}
}
