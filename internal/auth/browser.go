package auth

import (
	"context"
	"fmt"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/public"
)

// SignInBrowser signs in with the authorization code flow and PKCE,
// through MSAL's interactive sign-in: a loopback server on port (0 picks
// a free one) receives the answer. show is given the sign-in address to
// put before a person; nothing here starts a browser. The device code
// policies do not apply to this flow, though Conditional Access still
// does.
func (c *Client) SignInBrowser(ctx context.Context, port int, show func(url string) error) (Result, error) {
	redirect := "http://localhost"
	if port > 0 {
		redirect = fmt.Sprintf("http://localhost:%d", port)
	}
	ar, err := c.app.AcquireTokenInteractive(ctx, c.scopes, public.WithRedirectURI(redirect), public.WithOpenURL(show))
	if err != nil {
		return Result{}, classify(err)
	}
	// One profile holds one account, as after a device code sign-in.
	accounts, err := c.app.Accounts(ctx)
	if err != nil {
		return Result{}, classify(err)
	}
	for _, a := range accounts {
		if a.HomeAccountID != ar.Account.HomeAccountID {
			if err := c.app.RemoveAccount(ctx, a); err != nil {
				return Result{}, classify(err)
			}
		}
	}
	return resultOf(ar), nil
}
