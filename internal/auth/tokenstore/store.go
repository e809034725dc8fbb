// Package tokenstore keeps MSAL's token cache between runs. Each store
// implements MSAL's cache.ExportReplace and is re-written on every Export, so
// a rotated refresh token is never lost.
//
//   - Sealed (the default where an OS keyring answers): the cache, sealed
//     with AES-256-GCM, in a 0600 file; only the 32-byte key goes into the
//     keyring, because a whole cache (4–8 KB) is over the Windows (2,560 B)
//     and macOS (about 3,000 B) item limits.
//   - File: the cache as plain JSON in a 0600 file, for boxes with no keyring.
//   - Memory: for tests and one-shot use.
//
// Files are written atomically (temp file, fsync, rename, fsync the folder)
// inside a 0700 folder. Lock serialises whole token operations across
// processes, so two processes never redeem the same refresh token and then
// overwrite each other's result.
package tokenstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/cache"
	"github.com/gofrs/flock"

	"github.com/mapsdevice/mapsdevice/internal/atomicfile"
)

// Kinds of store, as named on the command line.
const (
	KindKeyring = "keyring"
	KindFile    = "file"
	KindMemory  = "memory"
)

// ErrUnreadable means a stored sign-in exists but cannot be used: the blob
// was tampered with, or its key is gone. Signing in again replaces it.
var ErrUnreadable = errors.New("the stored sign-in cannot be read")

// emptyCache is what MSAL reads as "no tokens".
var emptyCache = []byte("{}")

// maxCacheSize bounds what is read from disk; real caches are under 16 KB.
const maxCacheSize = 4 << 20

func ensureDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create token folder: %w", err)
	}
	// MkdirAll keeps the mode of a folder that exists; tokens need 0700.
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("restrict token folder: %w", err)
	}
	return nil
}

// readFile returns the file's bytes, or nil when it does not exist.
func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open token file: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat token file: %w", err)
	}
	if st.Size() > maxCacheSize {
		return nil, fmt.Errorf("%w: %s is %d bytes, too large to be a token cache", ErrUnreadable, path, st.Size())
	}
	data := make([]byte, st.Size())
	if _, err := io.ReadFull(f, data); err != nil {
		return nil, fmt.Errorf("read token file: %w", err)
	}
	return data, nil
}

// writeAtomic replaces path so that a crash leaves either the old or the new
// content, never a mix.
func writeAtomic(path string, data []byte) error {
	if err := ensureDir(filepath.Dir(path)); err != nil {
		return err
	}
	if err := atomicfile.Write(path, data, 0o600); err != nil {
		return fmt.Errorf("write token file: %w", err)
	}
	return nil
}

func removeFile(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", filepath.Base(path), err)
	}
	return nil
}

// fileLock is a cross-process lock on a file beside the tokens.
type fileLock struct{ path string }

// Lock waits for the lock until ctx ends. The returned func releases it.
func (l fileLock) Lock(ctx context.Context) (func(), error) {
	if err := ensureDir(filepath.Dir(l.path)); err != nil {
		return nil, err
	}
	fl := flock.New(l.path, flock.SetPermissions(0o600))
	ok, err := fl.TryLockContext(ctx, 20*time.Millisecond)
	if err != nil {
		return nil, fmt.Errorf("lock token store: %w", err)
	}
	if !ok {
		return nil, errors.New("lock token store: not acquired")
	}
	return func() { _ = fl.Unlock() }, nil
}

func replaceWith(u cache.Unmarshaler, data []byte) error {
	if len(data) == 0 {
		data = emptyCache
	}
	if err := u.Unmarshal(data); err != nil {
		return fmt.Errorf("%w: %v", ErrUnreadable, err)
	}
	return nil
}
