package tokenstore

import (
	"context"
	"fmt"
	"sync"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/cache"
)

// Memory keeps the cache in this process only.
type Memory struct {
	mu   sync.Mutex // guards data
	op   sync.Mutex // the Lock of whole operations
	data []byte
}

var _ cache.ExportReplace = (*Memory)(nil)

// Kind is KindMemory.
func (m *Memory) Kind() string { return KindMemory }

// Location says the tokens go when the process ends.
func (m *Memory) Location() string { return "memory (lost when the process ends)" }

// Replace loads the cache.
func (m *Memory) Replace(_ context.Context, u cache.Unmarshaler, _ cache.ReplaceHints) error {
	m.mu.Lock()
	data := m.data
	m.mu.Unlock()
	return replaceWith(u, data)
}

// Export stores the cache.
func (m *Memory) Export(_ context.Context, c cache.Marshaler, _ cache.ExportHints) error {
	data, err := c.Marshal()
	if err != nil {
		return fmt.Errorf("encode token cache: %w", err)
	}
	m.mu.Lock()
	m.data = data
	m.mu.Unlock()
	return nil
}

// Clear forgets the cache.
func (m *Memory) Clear(context.Context) error {
	m.mu.Lock()
	m.data = nil
	m.mu.Unlock()
	return nil
}

// Lock serialises operations within the process.
func (m *Memory) Lock(ctx context.Context) (func(), error) {
	m.op.Lock()
	return m.op.Unlock, nil
}
