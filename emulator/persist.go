package emulator

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/mapsdevice/mapsdevice/internal/atomicfile"
)

// Refresh tokens are kept in the state folder, by hash, so a device's
// sign-in survives an emulator restart as it survives one of Entra ID.

const refreshFile = "refresh-tokens.json"

type storedRefresh struct {
	User     User      `json:"user"`
	ClientID string    `json:"clientId"`
	Issued   time.Time `json:"issued"`
	Used     bool      `json:"used,omitempty"`
	Revoked  bool      `json:"revoked,omitempty"`
	// DeviceCode and MFA are the session's tags (Policy).
	DeviceCode bool `json:"deviceCode,omitempty"`
	MFA        bool `json:"mfa,omitempty"`
}

func refreshKey(rt string) string {
	sum := sha256.Sum256([]byte(rt))
	return hex.EncodeToString(sum[:])
}

func (id *identity) loadRefreshTokens() error {
	data, err := os.ReadFile(filepath.Join(id.dir, refreshFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read refresh tokens: %w", err)
	}
	var stored map[string]storedRefresh
	if err := json.Unmarshal(data, &stored); err != nil {
		return fmt.Errorf("%s: %w", refreshFile, err)
	}
	for k, v := range stored {
		id.refresh[k] = &refreshGrant{user: v.User, clientID: v.ClientID, issued: v.Issued, used: v.Used, revoked: v.Revoked,
			deviceCode: v.DeviceCode, mfa: v.MFA}
	}
	return nil
}

// saveRefreshTokens writes them all; the caller holds id.mu. Tokens past
// their idle lifetime are dropped.
func (id *identity) saveRefreshTokens() error {
	stored := make(map[string]storedRefresh, len(id.refresh))
	for k, v := range id.refresh {
		if time.Since(v.issued) > id.opts.RefreshTokenIdle {
			continue
		}
		stored[k] = storedRefresh{User: v.user, ClientID: v.clientID, Issued: v.issued, Used: v.used, Revoked: v.revoked,
			DeviceCode: v.deviceCode, MFA: v.mfa}
	}
	data, err := json.Marshal(stored)
	if err != nil {
		return fmt.Errorf("encode refresh tokens: %w", err)
	}
	if err := atomicfile.Write(filepath.Join(id.dir, refreshFile), data, 0o600); err != nil {
		return fmt.Errorf("write refresh tokens: %w", err)
	}
	return nil
}

// loadOrCreateSharedKeys keeps the Maps account's two shared keys; keys
// given in options win.
func loadOrCreateSharedKeys(path string, given [2]string) ([2]string, error) {
	var keys [2]string
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		if err := json.Unmarshal(data, &keys); err != nil {
			return keys, fmt.Errorf("%s: %w", path, err)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return keys, fmt.Errorf("read shared keys: %w", err)
	}
	for i := range keys {
		if given[i] != "" {
			keys[i] = given[i]
		}
		if keys[i] == "" {
			keys[i] = randomToken(32)
		}
	}
	return keys, saveSharedKeys(path, keys)
}

const sharedKeysFile = "maps-keys.json"

func saveSharedKeys(path string, keys [2]string) error {
	data, err := json.Marshal(keys)
	if err != nil {
		return fmt.Errorf("encode shared keys: %w", err)
	}
	if err := atomicfile.Write(path, data, 0o600); err != nil {
		return fmt.Errorf("write shared keys: %w", err)
	}
	return nil
}
