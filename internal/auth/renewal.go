package auth

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/cache"
)

// RefreshWindow is how long Entra ID keeps a refresh token nobody redeems
// (AADSTS700082 after it).
const RefreshWindow = 90 * 24 * time.Hour

// RenewEvery is how often an idle device redeems its refresh token, well
// inside RefreshWindow.
const RenewEvery = 7 * 24 * time.Hour

// LastRenewed is when the stored sign-in was last redeemed, at sign-in or
// at a refresh: MSAL stamps each access token with the time it was got,
// and both come with a new refresh token. Zero when nothing is stored.
func (c *Client) LastRenewed(ctx context.Context) (time.Time, error) {
	unlock, err := c.store.Lock(ctx)
	if err != nil {
		return time.Time{}, classify(err)
	}
	defer unlock()
	var raw rawCache
	if err := c.store.Replace(ctx, &raw, cache.ReplaceHints{}); err != nil {
		return time.Time{}, classify(err)
	}
	return raw.lastCached(c.clientID)
}

// DaysLeft is how many days, counting a part day as one, remain of the
// refresh window after a sign-in last renewed at last: 90 just after.
func DaysLeft(last, now time.Time) int {
	left := last.Add(RefreshWindow).Sub(now)
	if left <= 0 {
		return 0
	}
	const day = 24 * time.Hour
	return int((left + day - 1) / day)
}

// rawCache receives the serialised cache as the store holds it.
type rawCache struct{ data []byte }

func (r *rawCache) Unmarshal(b []byte) error {
	r.data = append([]byte(nil), b...)
	return nil
}

// lastCached is the newest cached_at of this app's access tokens.
func (r *rawCache) lastCached(clientID string) (time.Time, error) {
	if len(r.data) == 0 {
		return time.Time{}, nil
	}
	var doc struct {
		AccessToken map[string]struct {
			ClientID string `json:"client_id"`
			CachedAt string `json:"cached_at"`
		}
	}
	if err := json.Unmarshal(r.data, &doc); err != nil {
		return time.Time{}, fmt.Errorf("read token cache: %w", err)
	}
	var last time.Time
	for _, at := range doc.AccessToken {
		secs, err := strconv.ParseInt(at.CachedAt, 10, 64)
		if err != nil || at.ClientID != clientID {
			continue
		}
		if t := time.Unix(secs, 0); t.After(last) {
			last = t
		}
	}
	return last, nil
}
