package tokenstore

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/cache"
)

// Service is the keyring service name; each profile is one item under it.
const Service = "mapsdevice"

// sealedMagic starts every sealed blob and names its format.
var sealedMagic = []byte("mapsdevice-sealed-v1\n")

// Sealed keeps the cache in a file sealed with AES-256-GCM; the key lives in
// the OS keyring.
type Sealed struct {
	fileLock
	path    string
	profile string
	item    string // the key's keyring item: see KeyItem
	ring    Keyring
}

var _ cache.ExportReplace = (*Sealed)(nil)

// NewSealed returns a sealed store in dir for a profile.
func NewSealed(dir, profile string, ring Keyring) *Sealed {
	return &Sealed{
		fileLock: fileLock{path: filepath.Join(dir, profile+".lock")},
		path:     filepath.Join(dir, profile+".sealed"),
		profile:  profile,
		item:     KeyItem(dir, profile),
		ring:     ring,
	}
}

// KeyItem names the keyring item that holds the key of the sealed cache
// of a profile in dir: the profile, and a digest of the folder, so that
// two state folders of one user (a service and a person, say) never
// share a key, and signing out of one leaves the other signed in.
func KeyItem(dir, profile string) string {
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	sum := sha256.Sum256([]byte(dir))
	return profile + "@" + hex.EncodeToString(sum[:6])
}

// Kind is KindKeyring.
func (s *Sealed) Kind() string { return KindKeyring }

// Location says where the pieces are.
func (s *Sealed) Location() string {
	return fmt.Sprintf("key in the OS keyring (service %q, item %q), sealed cache in %s", Service, s.item, s.path)
}

// Replace loads and opens the sealed cache.
func (s *Sealed) Replace(ctx context.Context, u cache.Unmarshaler, _ cache.ReplaceHints) error {
	blob, err := readFile(s.path)
	if err != nil {
		return err
	}
	if blob == nil {
		return replaceWith(u, nil)
	}
	key, err := s.key(ctx)
	if errors.Is(err, ErrNotFound) {
		return fmt.Errorf("%w: its key is missing from the OS keyring", ErrUnreadable)
	}
	if err != nil {
		return err
	}
	data, err := s.open(key, blob)
	if err != nil {
		return err
	}
	return replaceWith(u, data)
}

// Export seals and writes the cache, creating the key on first use.
func (s *Sealed) Export(ctx context.Context, m cache.Marshaler, _ cache.ExportHints) error {
	data, err := m.Marshal()
	if err != nil {
		return fmt.Errorf("encode token cache: %w", err)
	}
	key, err := s.key(ctx)
	if errors.Is(err, ErrNotFound) {
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return fmt.Errorf("make key: %w", err)
		}
		err = s.ring.Set(ctx, Service, s.item, base64.StdEncoding.EncodeToString(key))
	}
	if err != nil {
		return &keyringRefused{err: err}
	}
	blob, err := s.seal(key, data)
	if err != nil {
		return err
	}
	return writeAtomic(s.path, blob)
}

// Exists reports whether a sealed cache is there.
func (s *Sealed) Exists() bool {
	data, err := readFile(s.path)
	return err != nil || data != nil
}

// Clear removes the sealed cache and its key.
func (s *Sealed) Clear(ctx context.Context) error {
	fileErr := removeFile(s.path)
	keyErr := s.ring.Delete(ctx, Service, s.item)
	if errors.Is(keyErr, ErrNotFound) {
		keyErr = nil
	}
	return errors.Join(fileErr, keyErr)
}

func (s *Sealed) key(ctx context.Context) ([]byte, error) {
	enc, err := s.ring.Get(ctx, Service, s.item)
	if errors.Is(err, ErrNotFound) {
		// Before KeyItem, the item was named for the profile alone; a
		// cache sealed then is read with it and moved to its own item.
		if enc, err = s.ring.Get(ctx, Service, s.profile); err == nil {
			err = s.ring.Set(ctx, Service, s.item, enc)
		}
	}
	if err != nil {
		return nil, err
	}
	key, err := base64.StdEncoding.DecodeString(enc)
	if err != nil || len(key) != 32 {
		return nil, fmt.Errorf("%w: the key in the OS keyring is malformed", ErrUnreadable)
	}
	return key, nil
}

func (s *Sealed) aead(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("cipher: %w", err)
	}
	return cipher.NewGCM(block)
}

// additionalData binds a blob to its profile, so blobs cannot be swapped.
func (s *Sealed) additionalData() []byte {
	return append(append([]byte(nil), sealedMagic...), s.profile...)
}

func (s *Sealed) seal(key, data []byte) ([]byte, error) {
	gcm, err := s.aead(key)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, gcm.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("nonce: %w", err)
	}
	out := append(append([]byte(nil), sealedMagic...), nonce...)
	return gcm.Seal(out, nonce, data, s.additionalData()), nil
}

// open checks and decrypts a sealed blob.
func (s *Sealed) open(key, blob []byte) ([]byte, error) {
	gcm, err := s.aead(key)
	if err != nil {
		return nil, err
	}
	rest, ok := bytes.CutPrefix(blob, sealedMagic)
	if !ok || len(rest) < gcm.NonceSize()+gcm.Overhead() {
		return nil, fmt.Errorf("%w: %s is not a sealed token cache", ErrUnreadable, s.path)
	}
	nonce, ct := rest[:gcm.NonceSize()], rest[gcm.NonceSize():]
	data, err := gcm.Open(nil, nonce, ct, s.additionalData())
	if err != nil {
		return nil, fmt.Errorf("%w: %s was changed or sealed with another key", ErrUnreadable, s.path)
	}
	return data, nil
}

// keyringRefused is a cache the keyring would not keep a key for.
type keyringRefused struct{ err error }

func (e *keyringRefused) Error() string {
	return "the OS keyring refused the sign-in: " + e.err.Error()
}
func (e *keyringRefused) Unwrap() error { return e.err }
