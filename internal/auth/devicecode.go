package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/public"

	"github.com/mapsdevice/mapsdevice/internal/auth/tokenstore"
)

// DeviceCode is a sign-in waiting for a person to approve it elsewhere.
type DeviceCode struct {
	UserCode        string
	VerificationURL string
	// VerificationURLComplete carries the code too; Entra ID never sends it.
	VerificationURLComplete string
	ExpiresAt               time.Time
	Interval                time.Duration
	// Message is the service's own instruction text.
	Message string
	// Reset is set when an unreadable stored sign-in was cleared first.
	Reset error

	dc     public.DeviceCode
	client *Client
}

// StartDeviceCode asks for a code to show. Call Wait next.
func (c *Client) StartDeviceCode(ctx context.Context) (*DeviceCode, error) {
	var reset error
	if _, err := c.app.Accounts(ctx); errors.Is(err, tokenstore.ErrUnreadable) {
		// A new sign-in replaces what cannot be read anyway.
		if cerr := c.store.Clear(ctx); cerr != nil {
			return nil, classify(fmt.Errorf("clear unreadable sign-in: %w", cerr))
		}
		reset = err
	} else if err != nil {
		return nil, classify(err)
	}
	dc, err := c.app.AcquireTokenByDeviceCode(ctx, c.scopes)
	if err != nil {
		return nil, classify(err)
	}
	r := dc.Result
	return &DeviceCode{
		UserCode:                r.UserCode,
		VerificationURL:         r.VerificationURL,
		VerificationURLComplete: c.pacer.complete(r.DeviceCode),
		ExpiresAt:               r.ExpiresOn,
		Interval:                time.Duration(r.Interval) * time.Second,
		Message:                 r.Message,
		Reset:                   reset,
		dc:                      dc,
		client:                  c,
	}, nil
}

// Wait blocks until the code is approved, declined or expires, or ctx ends.
// One profile holds one account: a new sign-in replaces any other.
func (d *DeviceCode) Wait(ctx context.Context) (Result, error) {
	ar, err := d.dc.AuthenticationResult(ctx)
	if err != nil {
		if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			return Result{}, &Error{Kind: KindCodeExpired, Reason: "the code expired before anyone approved it", Err: err}
		}
		return Result{}, classify(err)
	}
	accounts, err := d.client.app.Accounts(ctx)
	if err != nil {
		return Result{}, classify(err)
	}
	for _, a := range accounts {
		if a.HomeAccountID != ar.Account.HomeAccountID {
			if err := d.client.app.RemoveAccount(ctx, a); err != nil {
				return Result{}, classify(err)
			}
		}
	}
	return resultOf(ar), nil
}
