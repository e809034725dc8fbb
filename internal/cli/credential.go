package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/mapsdevice/mapsdevice/internal/auth"
	"github.com/mapsdevice/mapsdevice/internal/azmaps"
)

// credential builds what --credential chooses. For device code it is
// the stored sign-in, which si then holds; app credentials and managed
// identities keep their tokens in memory and need no store.
func (s settings) credential(ctx context.Context, stdio Stdio) (cred auth.Credential, si *signedIn, err error) {
	if err := s.Cred.check(); err != nil {
		return nil, nil, err
	}
	if !s.Cred.app() {
		opened, err := s.open(ctx)
		if err != nil {
			return nil, nil, err
		}
		fmt.Fprint(stdio.Err, opened.fallbackNote())
		return opened.client, &opened, nil
	}
	if s.Cred.Kind == auth.CredentialManagedIdentity {
		tr, err := azmaps.NewDirectTransport(s.CAFile)
		if err != nil {
			return nil, nil, usageError{fmt.Errorf("--ca-file: %w", err)}
		}
		m, err := auth.NewManagedIdentity(auth.ManagedConfig{Selection: s.Cred.ManagedIdentity, Transport: tr, Timeout: s.Cred.Timeout})
		if errors.Is(err, auth.ErrBadSelection) {
			return nil, nil, usageError{fmt.Errorf("--managed-identity %q: %w", s.Cred.ManagedIdentity, auth.ErrBadSelection)}
		}
		if err != nil {
			return nil, nil, err
		}
		return m, nil, nil
	}
	tr, err := newTransport(s.CAFile)
	if err != nil {
		return nil, nil, err
	}
	cfg := auth.AppConfig{
		Authority: s.Authority,
		Tenant:    s.Tenant,
		ClientID:  s.ClientID,
		Transport: tr,
		Timeout:   s.Cred.Timeout,
		BuiltAt:   builtAt(),
		Warn:      func(err error) { fmt.Fprintln(stdio.Err, warning(err)) },
	}
	var app *auth.App
	switch s.Cred.Kind {
	case auth.CredentialClientSecret:
		app, err = auth.NewClientSecret(cfg, auth.SecretSource{
			File:           s.Cred.SecretFile,
			Stdin:          stdio.In,
			Value:          os.Getenv(EnvPrefix + "_CLIENT_SECRET"),
			CredentialsDir: os.Getenv("CREDENTIALS_DIRECTORY"),
		})
	case auth.CredentialClientCertificate:
		app, err = auth.NewClientCertificate(cfg, auth.CertificateSource{
			Path:         s.Cred.Certificate,
			Password:     os.Getenv(EnvPrefix + "_CLIENT_CERTIFICATE_PASSWORD"),
			PasswordFile: s.Cred.PasswordFile,
			SendChain:    s.Cred.SendChain,
		})
	case auth.CredentialWorkloadIdentity:
		app, err = auth.NewWorkloadIdentity(workloadConfig(cfg), s.Cred.federatedTokenFile())
	}
	if err != nil {
		return nil, nil, err
	}
	return app, nil, nil
}

// workloadConfig takes what Kubernetes' workload identity webhook sets,
// for what the flags leave open. Only this kind reads AZURE_*: elsewhere
// a stray AZURE_CLIENT_ID would silently change the identity.
func workloadConfig(cfg auth.AppConfig) auth.AppConfig {
	if cfg.ClientID == "" {
		cfg.ClientID = os.Getenv("AZURE_CLIENT_ID")
	}
	if cfg.Authority == "" && (cfg.Tenant == "" || cfg.Tenant == auth.DefaultTenant) {
		if t := os.Getenv("AZURE_TENANT_ID"); t != "" {
			cfg.Tenant = t
		}
		if host := os.Getenv("AZURE_AUTHORITY_HOST"); host != "" {
			cfg.Authority = strings.TrimRight(host, "/") + "/" + cfg.Tenant
		}
	}
	return cfg
}

func (c credentialFlags) federatedTokenFile() string {
	if c.FederatedToken != "" {
		return c.FederatedToken
	}
	return os.Getenv("AZURE_FEDERATED_TOKEN_FILE")
}

// builtAt is when this binary was built, if it says: a clock earlier
// than that is not set yet.
func builtAt() time.Time {
	_, _, d := buildInfo()
	t, err := time.Parse(time.RFC3339, d)
	if err != nil {
		return time.Time{}
	}
	return t
}

// warning is what to say about something that does not stop the run.
func warning(err error) string {
	var readable *auth.ReadableError
	var clock *auth.ClockError
	switch {
	case errors.As(err, &readable):
		return fmt.Sprintf("Warning: %v. It holds a secret: make it readable by its owner only (chmod 600 %s).", err, readable.Path)
	case errors.Is(err, auth.ErrSecretLooksLikeID):
		return "Warning: " + err.Error() + ". Entra ID wants the secret's Value, which the app's\n" +
			"Certificates & secrets page shows only once, when the secret is made; a\n" +
			"Secret ID is refused (AADSTS7000215)."
	case errors.As(err, &clock):
		return fmt.Sprintf("Waiting for the clock to be set: %v. An assertion signed now would be\n"+
			"refused (AADSTS700024), so mapsdevice waits for time sync (up to --timeout).", err)
	}
	return "Warning: " + err.Error() + "."
}

// mapsTokens hands a credential's tokens to the Maps client.
type mapsTokens struct{ cred auth.Credential }

func (t mapsTokens) Token(ctx context.Context, refresh bool) (string, error) {
	res, err := t.cred.AccessToken(ctx, "", refresh)
	return res.AccessToken, err
}

// vaultTokens hands a credential's tokens to the Key Vault client.
type vaultTokens struct{ cred auth.Credential }

func (t vaultTokens) Token(ctx context.Context, resource string) (string, error) {
	res, err := t.cred.AccessToken(ctx, resource, false)
	return res.AccessToken, err
}
