package tokenstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/zalando/go-keyring"
)

// Keyring is the part of an OS keyring the sealed store needs.
type Keyring interface {
	Get(ctx context.Context, service, user string) (string, error)
	Set(ctx context.Context, service, user, secret string) error
	Delete(ctx context.Context, service, user string) error
}

// ErrNotFound is returned by a Keyring that has no such item.
var ErrNotFound = errors.New("not found in the keyring")

// ErrKeyringUnavailable wraps any failure to reach the OS keyring.
var ErrKeyringUnavailable = errors.New("the OS keyring is not available")

// OSKeyring is the OS keyring through go-keyring, with a timeout on every
// call: a Secret Service waiting for an unlock dialog would otherwise block
// forever.
type OSKeyring struct {
	Timeout time.Duration
}

var _ Keyring = OSKeyring{}

// Get reads a secret.
func (k OSKeyring) Get(ctx context.Context, service, user string) (string, error) {
	var secret string
	err := k.call(ctx, func() (err error) {
		secret, err = keyring.Get(service, user)
		return err
	})
	return secret, err
}

// Set writes a secret.
func (k OSKeyring) Set(ctx context.Context, service, user, secret string) error {
	return k.call(ctx, func() error { return keyring.Set(service, user, secret) })
}

// Delete removes a secret.
func (k OSKeyring) Delete(ctx context.Context, service, user string) error {
	return k.call(ctx, func() error { return keyring.Delete(service, user) })
}

// call runs fn with a deadline. go-keyring takes no context, so a call that
// times out is left to finish in the background; the process is short-lived.
func (k OSKeyring) call(ctx context.Context, fn func() error) error {
	timeout := k.Timeout
	if timeout <= 0 {
		timeout = 3 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- fn() }()
	select {
	case err := <-done:
		switch {
		case err == nil:
			return nil
		case errors.Is(err, keyring.ErrNotFound):
			return ErrNotFound
		case errors.Is(err, keyring.ErrSetDataTooBig):
			return fmt.Errorf("keyring: %w", err)
		default:
			return fmt.Errorf("%w: %v", ErrKeyringUnavailable, err)
		}
	case <-ctx.Done():
		return fmt.Errorf("%w: no answer within %s", ErrKeyringUnavailable, timeout)
	}
}

// Probe reports whether a keyring answers, by reading an item that need
// not exist.
func Probe(ctx context.Context, k Keyring) error {
	_, err := k.Get(ctx, Service, "probe")
	if err == nil || errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}
