// Package tokenstoretest has a fake OS keyring for unit tests. Tests that
// need the real thing use a real Secret Service (scripts/with-secret-service).
package tokenstoretest

import (
	"context"
	"fmt"
	"sync"

	"github.com/mapsdevice/mapsdevice/internal/auth/tokenstore"
)

// WindowsSecretLimit is the largest secret Windows Credential Manager keeps.
const WindowsSecretLimit = 2560

// Keyring is an in-memory keyring that refuses secrets over the Windows
// limit, as the strictest real keyring does.
type Keyring struct {
	mu    sync.Mutex
	items map[string]string
	// SetErr, when set, is what every Set returns.
	SetErr error
}

var _ tokenstore.Keyring = (*Keyring)(nil)

// NewKeyring returns an empty fake keyring.
func NewKeyring() *Keyring { return &Keyring{items: map[string]string{}} }

func key(service, user string) string { return service + "\x00" + user }

// Get reads a secret.
func (k *Keyring) Get(_ context.Context, service, user string) (string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	v, ok := k.items[key(service, user)]
	if !ok {
		return "", tokenstore.ErrNotFound
	}
	return v, nil
}

// Set writes a secret, refusing one over the Windows limit.
func (k *Keyring) Set(_ context.Context, service, user, secret string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.SetErr != nil {
		return k.SetErr
	}
	if len(secret) > WindowsSecretLimit {
		return fmt.Errorf("keyring: secret of %d bytes is over the %d-byte Windows limit", len(secret), WindowsSecretLimit)
	}
	k.items[key(service, user)] = secret
	return nil
}

// Delete removes a secret.
func (k *Keyring) Delete(_ context.Context, service, user string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := k.items[key(service, user)]; !ok {
		return tokenstore.ErrNotFound
	}
	delete(k.items, key(service, user))
	return nil
}

// Len is how many secrets are stored.
func (k *Keyring) Len() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.items)
}
