package tokenstore

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/cache"
)

// Fallback is the keyring store with the plain file behind it. When the
// keyring refuses a cache, as a locked or absent keyring does at the first
// sign-in, the cache is written to the file instead, so a sign-in is never
// lost, and from then on the file is the store. Rescued says so, for the
// caller to tell the user.
type Fallback struct {
	sealed *Sealed
	file   *File

	mu      sync.Mutex
	rescued error // why the keyring refused; nil while it has not
}

var _ Store = (*Fallback)(nil)

// NewFallback returns the keyring store for a profile with its file behind it.
func NewFallback(dir, profile string, ring Keyring) *Fallback {
	return &Fallback{sealed: NewSealed(dir, profile, ring), file: NewFile(dir, profile)}
}

// active is the store in use: the keyring, or the file once it had to be.
func (f *Fallback) active() Store {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.rescued != nil {
		return f.file
	}
	return f.sealed
}

// Rescued is why the keyring refused the cache, and nil while it has not.
func (f *Fallback) Rescued() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rescued
}

// Kind is the kind of the store in use.
func (f *Fallback) Kind() string { return f.active().Kind() }

// Location is where the store in use keeps the cache.
func (f *Fallback) Location() string { return f.active().Location() }

// Lock serialises token operations; both stores share one lock file.
func (f *Fallback) Lock(ctx context.Context) (func(), error) { return f.sealed.Lock(ctx) }

// Replace loads the cache from the store in use.
func (f *Fallback) Replace(ctx context.Context, u cache.Unmarshaler, h cache.ReplaceHints) error {
	return f.active().Replace(ctx, u, h)
}

// Export writes the cache through the keyring, or into the file when the
// keyring refuses it. The sealed blob left behind is removed, so that the
// next run's "auto" finds the file.
func (f *Fallback) Export(ctx context.Context, m cache.Marshaler, h cache.ExportHints) error {
	if f.Rescued() != nil {
		return f.file.Export(ctx, m, h)
	}
	err := f.sealed.Export(ctx, m, h)
	var refused *keyringRefused
	if !errors.As(err, &refused) {
		return err
	}
	if ferr := f.file.Export(ctx, m, h); ferr != nil {
		return fmt.Errorf("%w; and the plain file %s failed too: %v", err, f.file.Path(), ferr)
	}
	_ = removeFile(f.sealed.path)
	f.mu.Lock()
	f.rescued = refused.err
	f.mu.Unlock()
	return nil
}

// Clear removes the cache from both stores.
func (f *Fallback) Clear(ctx context.Context) error {
	return errors.Join(f.sealed.Clear(ctx), f.file.Clear(ctx))
}

// Exists reports whether either store holds a cache.
func (f *Fallback) Exists() bool { return f.sealed.Exists() || f.file.Exists() }
