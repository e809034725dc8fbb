package emulator

import (
	"strings"
	"sync"
	"time"
)

// identity is the Entra ID side's state: the users, the device codes
// waiting or used, the refresh tokens, and the AutoApprove timers.
type identity struct {
	opts Options
	dir  string // the state folder, for refresh tokens

	mu       sync.Mutex
	users    []User
	codes    map[string]*grant // by device code
	byUser   map[string]*grant // by normalised user code
	refresh  map[string]*refreshGrant
	issuedAt map[string]time.Time // access token uti → when, for ExpireAccessTokens
	timers   []*time.Timer
	closed   bool
	policy   Policy
	// authCodes are browser sign-ins waiting to be redeemed (authorize.go).
	authCodes map[string]*authCode
}

func newIdentity(opts Options, dir string, users []User) *identity {
	return &identity{
		opts:     opts,
		dir:      dir,
		users:    users,
		codes:    map[string]*grant{},
		byUser:   map[string]*grant{},
		refresh:  map[string]*refreshGrant{},
		issuedAt: map[string]time.Time{},
		policy:   opts.Policy,
	}
}

func (id *identity) usersList() []User {
	id.mu.Lock()
	defer id.mu.Unlock()
	return append([]User(nil), id.users...)
}

// user finds a user by name; the caller holds id.mu.
func (id *identity) user(name string) (User, bool) {
	for _, u := range id.users {
		if strings.EqualFold(u.Username, name) {
			return u, true
		}
	}
	return User{}, false
}

// afterFunc runs f after d unless the emulator closes first.
func (id *identity) afterFunc(d time.Duration, f func()) {
	id.mu.Lock()
	defer id.mu.Unlock()
	if id.closed {
		return
	}
	id.timers = append(id.timers, time.AfterFunc(d, f))
}

func (id *identity) stopTimers() {
	id.mu.Lock()
	defer id.mu.Unlock()
	id.closed = true
	for _, t := range id.timers {
		t.Stop()
	}
	id.timers = nil
}

// issued says when the access token with this uti was issued, if by this
// run of the emulator.
func (id *identity) issued(uti string) (time.Time, bool) {
	id.mu.Lock()
	defer id.mu.Unlock()
	t, ok := id.issuedAt[uti]
	return t, ok
}
