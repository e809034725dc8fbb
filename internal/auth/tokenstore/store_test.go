package tokenstore_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/cache"

	"github.com/mapsdevice/mapsdevice/internal/auth/tokenstore"
	"github.com/mapsdevice/mapsdevice/internal/auth/tokenstore/tokenstoretest"
)

var (
	cacheHints   = cache.ExportHints{}
	replaceHints = cache.ReplaceHints{}
)

// blob stands in for MSAL's cache: Marshal and Unmarshal of opaque bytes.
type blob struct{ data []byte }

func (b *blob) Marshal() ([]byte, error) { return b.data, nil }
func (b *blob) Unmarshal(d []byte) error { b.data = append([]byte(nil), d...); return nil }

// fakeCache is shaped like a real MSAL cache with a refresh token, 5 KB.
func fakeCache() []byte {
	secret := strings.Repeat("R", 1500)
	return []byte(`{"RefreshToken":{"k":{"secret":"` + secret + `"}},"AccessToken":{"k":{"secret":"` +
		strings.Repeat("A", 3000) + `"}},"Account":{},"AppMetadata":{}}`)
}

func export(t *testing.T, s tokenstore.Store, data []byte) error {
	t.Helper()
	return s.Export(t.Context(), &blob{data: data}, cacheHints)
}

func replace(t *testing.T, s tokenstore.Store) ([]byte, error) {
	t.Helper()
	var b blob
	err := s.Replace(t.Context(), &b, replaceHints)
	return b.data, err
}

func TestWholeCacheIsOverWindowsLimit(t *testing.T) {
	ring := tokenstoretest.NewKeyring()
	err := ring.Set(t.Context(), tokenstore.Service, "default", string(fakeCache()))
	if err == nil {
		t.Fatal("the fake keyring took a 5 KB secret; the envelope would be untested against the limit")
	}
}

func TestSealedRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	ring := tokenstoretest.NewKeyring()
	s := tokenstore.NewSealed(dir, "default", ring)
	want := fakeCache()
	if err := export(t, s, want); err != nil {
		t.Fatalf("Export: %v", err)
	}
	got, err := replace(t, s)
	if err != nil {
		t.Fatalf("Replace: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("round trip changed the cache")
	}
	raw, err := os.ReadFile(filepath.Join(dir, "default.sealed"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte("RRRRRRRR")) {
		t.Error("the sealed file holds the refresh token in clear")
	}
	key, err := ring.Get(t.Context(), tokenstore.Service, tokenstore.KeyItem(dir, "default"))
	if err != nil || len(key) > 64 {
		t.Errorf("keyring item is %d bytes (err %v), want a small key", len(key), err)
	}
	checkModes(t, dir, filepath.Join(dir, "default.sealed"))
}

func TestSealedEmptyWhenNothingStored(t *testing.T) {
	s := tokenstore.NewSealed(t.TempDir(), "default", tokenstoretest.NewKeyring())
	got, err := replace(t, s)
	if err != nil || string(got) != "{}" {
		t.Fatalf("Replace on nothing = %q, %v; want {} and no error", got, err)
	}
}

func TestSealedUnreadable(t *testing.T) {
	tests := []struct {
		name  string
		spoil func(t *testing.T, dir string, ring *tokenstoretest.Keyring)
	}{
		{"tampered blob", func(t *testing.T, dir string, _ *tokenstoretest.Keyring) {
			path := filepath.Join(dir, "default.sealed")
			raw, _ := os.ReadFile(path)
			raw[len(raw)-5] ^= 0x01
			os.WriteFile(path, raw, 0o600)
		}},
		{"truncated blob", func(t *testing.T, dir string, _ *tokenstoretest.Keyring) {
			os.WriteFile(filepath.Join(dir, "default.sealed"), []byte("mapsdevice-sealed-v1\nxx"), 0o600)
		}},
		{"missing key", func(t *testing.T, dir string, ring *tokenstoretest.Keyring) {
			ring.Delete(t.Context(), tokenstore.Service, tokenstore.KeyItem(dir, "default"))
		}},
		{"other key", func(t *testing.T, dir string, ring *tokenstoretest.Keyring) {
			ring.Set(t.Context(), tokenstore.Service, tokenstore.KeyItem(dir, "default"), "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			ring := tokenstoretest.NewKeyring()
			s := tokenstore.NewSealed(dir, "default", ring)
			if err := export(t, s, fakeCache()); err != nil {
				t.Fatal(err)
			}
			tt.spoil(t, dir, ring)
			_, err := replace(t, s)
			if !errors.Is(err, tokenstore.ErrUnreadable) {
				t.Fatalf("Replace = %v, want ErrUnreadable", err)
			}
			// Clearing makes the store usable again.
			if err := s.Clear(t.Context()); err != nil {
				t.Fatalf("Clear: %v", err)
			}
			if got, err := replace(t, s); err != nil || string(got) != "{}" {
				t.Fatalf("after Clear: %q, %v", got, err)
			}
		})
	}
}

// A keyring that refuses the first sign-in must not lose it: the cache goes
// to the plain file, the store says so, and the next run finds it.
func TestFallbackKeepsRefusedSignIn(t *testing.T) {
	dir := t.TempDir()
	ring := tokenstoretest.NewKeyring()
	ring.SetErr = errors.New("collection is locked")
	s := tokenstore.NewFallback(dir, "default", ring)
	want := fakeCache()
	if err := export(t, s, want); err != nil {
		t.Fatalf("Export = %v, want the cache kept in the file", err)
	}
	if err := s.Rescued(); err == nil || !strings.Contains(err.Error(), "collection is locked") {
		t.Errorf("Rescued = %v, want what the keyring said", err)
	}
	if s.Kind() != tokenstore.KindFile {
		t.Errorf("store in use is %s, want file", s.Kind())
	}
	if got, err := replace(t, s); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("read back: %v", err)
	}
	c, err := tokenstore.Open(t.Context(), "auto", dir, "default", ring)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := replace(t, c.Store); c.Store.Kind() != tokenstore.KindFile || err != nil || !bytes.Equal(got, want) {
		t.Errorf("the next run's auto store is %s (%v) and does not hold the sign-in", c.Store.Kind(), err)
	}
	if err := s.Clear(t.Context()); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) > 1 { // the lock file stays
		t.Errorf("Clear left %d files", len(entries))
	}
}

func TestFallbackWhileKeyringWorks(t *testing.T) {
	dir := t.TempDir()
	ring := tokenstoretest.NewKeyring()
	s := tokenstore.NewFallback(dir, "default", ring)
	if err := export(t, s, fakeCache()); err != nil {
		t.Fatal(err)
	}
	if s.Rescued() != nil || s.Kind() != tokenstore.KindKeyring || ring.Len() != 1 {
		t.Errorf("rescued %v, kind %s, %d keyring items; want the keyring in use", s.Rescued(), s.Kind(), ring.Len())
	}
	if _, err := os.Stat(filepath.Join(dir, "default.json")); !os.IsNotExist(err) {
		t.Errorf("a plain file was written although the keyring worked: %v", err)
	}
}

func TestFileStore(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "loose")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	f := tokenstore.NewFile(dir, "default")
	want := fakeCache()
	if err := export(t, f, want); err != nil {
		t.Fatal(err)
	}
	got, err := replace(t, f)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("round trip: %v", err)
	}
	checkModes(t, dir, f.Path())
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp") {
			t.Errorf("temp file %s left behind", e.Name())
		}
	}
	if err := f.Clear(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(f.Path()); !os.IsNotExist(err) {
		t.Errorf("Clear left the file: %v", err)
	}
}

func TestFileStoreRefusesHugeFile(t *testing.T) {
	dir := t.TempDir()
	f := tokenstore.NewFile(dir, "default")
	if err := os.WriteFile(f.Path(), bytes.Repeat([]byte(" "), 5<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := replace(t, f); !errors.Is(err, tokenstore.ErrUnreadable) {
		t.Fatalf("Replace of a 5 MB file = %v, want ErrUnreadable", err)
	}
}

func TestOpenAuto(t *testing.T) {
	ctx := t.Context()
	broken := tokenstoretest.NewKeyring()
	t.Run("no keyring falls back to a file, visibly", func(t *testing.T) {
		c, err := tokenstore.Open(ctx, "auto", t.TempDir(), "default", unreachable{})
		if err != nil {
			t.Fatal(err)
		}
		if c.Store.Kind() != tokenstore.KindFile || c.NoKeyring == nil || !c.Auto {
			t.Fatalf("got %s with fallback %v", c.Store.Kind(), c.NoKeyring)
		}
	})
	t.Run("keyring when it answers", func(t *testing.T) {
		c, _ := tokenstore.Open(ctx, "auto", t.TempDir(), "default", broken)
		if c.Store.Kind() != tokenstore.KindKeyring || c.NoKeyring != nil {
			t.Fatalf("got %s with fallback %v", c.Store.Kind(), c.NoKeyring)
		}
	})
	t.Run("stays with an existing plain file", func(t *testing.T) {
		dir := t.TempDir()
		tokenstore.NewFile(dir, "default").Write([]byte("{}"))
		c, _ := tokenstore.Open(ctx, "auto", dir, "default", broken)
		if c.Store.Kind() != tokenstore.KindFile || c.NoKeyring != nil {
			t.Fatalf("got %s with fallback %v", c.Store.Kind(), c.NoKeyring)
		}
	})
	t.Run("unknown kind", func(t *testing.T) {
		if _, err := tokenstore.Open(ctx, "vault", t.TempDir(), "default", broken); err == nil {
			t.Fatal("no error for an unknown store kind")
		}
	})
}

func TestLockIsExclusiveAcrossProcesses(t *testing.T) {
	dir := t.TempDir()
	f := tokenstore.NewFile(dir, "default")
	unlock, err := f.Lock(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	// flock(1) from util-linux stands in for another process.
	if _, err := exec.LookPath("flock"); err != nil {
		unlock()
		t.Skip("flock(1) not installed")
	}
	busy := exec.Command("flock", "--nonblock", filepath.Join(dir, "default.lock"), "true")
	if err := busy.Run(); err == nil {
		t.Error("another process took the lock while it was held")
	}
	unlock()
	free := exec.Command("flock", "--nonblock", filepath.Join(dir, "default.lock"), "true")
	if err := free.Run(); err != nil {
		t.Errorf("another process could not take the released lock: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	holder := exec.Command("flock", filepath.Join(dir, "default.lock"), "sleep", "1")
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	defer holder.Wait()
	time.Sleep(100 * time.Millisecond)
	if _, err := f.Lock(ctx); err == nil {
		t.Error("Lock succeeded while another process held it")
	}
}

type unreachable struct{}

func (unreachable) Get(context.Context, string, string) (string, error) {
	return "", tokenstore.ErrKeyringUnavailable
}
func (unreachable) Set(context.Context, string, string, string) error {
	return tokenstore.ErrKeyringUnavailable
}
func (unreachable) Delete(context.Context, string, string) error {
	return tokenstore.ErrKeyringUnavailable
}

func checkModes(t *testing.T, dir, file string) {
	t.Helper()
	st, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Mode().Perm(); got != 0o700 {
		t.Errorf("folder mode %o, want 700", got)
	}
	st, err = os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Mode().Perm(); got != 0o600 {
		t.Errorf("file mode %o, want 600", got)
	}
}

// BenchmarkSealedReplace is the token-store read of every 'token' run:
// the sealed file opened with its key.
func BenchmarkSealedReplace(b *testing.B) {
	s := tokenstore.NewSealed(b.TempDir(), "default", tokenstoretest.NewKeyring())
	if err := s.Export(b.Context(), &blob{data: fakeCache()}, cacheHints); err != nil {
		b.Fatal(err)
	}
	var got blob
	for b.Loop() {
		if err := s.Replace(b.Context(), &got, replaceHints); err != nil {
			b.Fatal(err)
		}
	}
	if len(got.data) == 0 {
		b.Fatal("nothing read")
	}
}

// TestSealedKeyPerFolder: two state folders of one user keep their keys
// apart, so signing out of one leaves the other readable; and a cache
// sealed when the item was named for the profile alone is still read.
func TestSealedKeyPerFolder(t *testing.T) {
	ring := tokenstoretest.NewKeyring()
	a := tokenstore.NewSealed(filepath.Join(t.TempDir(), "a"), "default", ring)
	b := tokenstore.NewSealed(filepath.Join(t.TempDir(), "b"), "default", ring)
	want := fakeCache()
	if err := export(t, a, want); err != nil {
		t.Fatal(err)
	}
	if err := export(t, b, want); err != nil {
		t.Fatal(err)
	}
	if err := b.Clear(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got, err := replace(t, a); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("after the other folder signed out: %v", err)
	}

	dir := t.TempDir()
	old := tokenstore.NewSealed(dir, "default", ring)
	if err := export(t, old, want); err != nil {
		t.Fatal(err)
	}
	key, _ := ring.Get(t.Context(), tokenstore.Service, tokenstore.KeyItem(dir, "default"))
	ring.Delete(t.Context(), tokenstore.Service, tokenstore.KeyItem(dir, "default"))
	ring.Set(t.Context(), tokenstore.Service, "default", key) // as an older version left it
	if got, err := replace(t, tokenstore.NewSealed(dir, "default", ring)); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("a cache sealed under the old item name: %v", err)
	}
	if _, err := ring.Get(t.Context(), tokenstore.Service, tokenstore.KeyItem(dir, "default")); err != nil {
		t.Errorf("the key was not moved to its own item: %v", err)
	}
}
