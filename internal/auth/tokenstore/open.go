package tokenstore

import (
	"context"
	"fmt"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/cache"
)

// Store is what every kind of store offers.
type Store interface {
	cache.ExportReplace
	Lock(ctx context.Context) (unlock func(), err error)
	Clear(ctx context.Context) error
	Kind() string
	Location() string
}

var (
	_ Store = (*Sealed)(nil)
	_ Store = (*File)(nil)
	_ Store = (*Memory)(nil)
	_ Store = (*Fallback)(nil)
)

// Choice is the store picked by Open and why.
type Choice struct {
	Store Store
	// Auto is true when "auto" picked the store.
	Auto bool
	// NoKeyring is why "auto" chose the plain file: no keyring answered.
	NoKeyring error
}

// Open picks a store by kind: keyring, file, memory, or auto (or empty).
// Auto stays with whichever store already holds a sign-in; otherwise it
// takes the keyring when one answers, and a plain file when none does.
// The keyring store falls back to the plain file (see Fallback).
func Open(ctx context.Context, kind, dir, profile string, ring Keyring) (Choice, error) {
	keyring, file := NewFallback(dir, profile, ring), NewFile(dir, profile)
	switch kind {
	case KindKeyring:
		return Choice{Store: keyring}, nil
	case KindFile:
		return Choice{Store: file}, nil
	case KindMemory:
		return Choice{Store: &Memory{}}, nil
	case "", "auto":
	default:
		return Choice{}, fmt.Errorf("unknown token store %q: use auto, keyring, file or memory", kind)
	}
	switch {
	case keyring.sealed.Exists():
		return Choice{Store: keyring, Auto: true}, nil
	case file.Exists():
		return Choice{Store: file, Auto: true}, nil
	}
	if err := Probe(ctx, ring); err != nil {
		return Choice{Store: file, Auto: true, NoKeyring: err}, nil
	}
	return Choice{Store: keyring, Auto: true}, nil
}
