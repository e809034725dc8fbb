package auth

import (
	"context"
	"fmt"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/public"
)

// Token returns an access token without asking anyone: the cached one while
// it is valid, else one redeemed with the refresh token. The store's lock
// is held throughout, so a rotated refresh token is always written back
// before another process reads the cache.
func (c *Client) Token(ctx context.Context) (Result, error) {
	return c.silent(ctx, c.scopes, "")
}

func (c *Client) silent(ctx context.Context, scopes []string, claims string) (Result, error) {
	unlock, err := c.store.Lock(ctx)
	if err != nil {
		return Result{}, classify(err)
	}
	defer unlock()
	acct, err := c.account(ctx)
	if err != nil {
		return Result{}, err
	}
	opts := []public.AcquireSilentOption{public.WithSilentAccount(acct)}
	if claims != "" {
		opts = append(opts, public.WithClaims(claims))
	}
	ar, err := c.app.AcquireTokenSilent(ctx, scopes, opts...)
	if err != nil {
		return Result{}, atRefresh(classify(err))
	}
	return resultOf(ar), nil
}

// Account returns who is signed in, from the cache alone.
func (c *Client) Account(ctx context.Context) (Account, error) {
	a, err := c.account(ctx)
	if err != nil {
		return Account{}, err
	}
	return accountOf(a), nil
}

func (c *Client) account(ctx context.Context) (public.Account, error) {
	accounts, err := c.app.Accounts(ctx)
	if err != nil {
		return public.Account{}, classify(err)
	}
	if len(accounts) == 0 {
		return public.Account{}, &Error{Kind: KindSignInNeeded, Reason: "not signed in"}
	}
	return accounts[0], nil
}

// SignOut removes every account and everything stored for the profile.
func (c *Client) SignOut(ctx context.Context) error {
	unlock, err := c.store.Lock(ctx)
	if err != nil {
		return classify(err)
	}
	defer unlock()
	// An unreadable cache has no accounts to remove; clearing is enough.
	if accounts, err := c.app.Accounts(ctx); err == nil {
		for _, a := range accounts {
			if err := c.app.RemoveAccount(ctx, a); err != nil {
				return classify(err)
			}
		}
	}
	if err := c.store.Clear(ctx); err != nil {
		return fmt.Errorf("clear token store: %w", err)
	}
	return nil
}

// freshClaims is a Continuous Access Evaluation claims challenge, the
// standard way to ask for a new access token: MSAL then skips its cache
// and redeems the refresh token.
const freshClaims = `{"access_token":{"nbf":{"essential":true,"value":"%d"}}}`

// Fresh gets a new access token even though a cached one looks valid, as
// after a resource answered 401 to it.
func (c *Client) Fresh(ctx context.Context) (Result, error) {
	return c.silent(ctx, c.scopes, freshClaimsNow())
}

func freshClaimsNow() string { return fmt.Sprintf(freshClaims, time.Now().Unix()) }
