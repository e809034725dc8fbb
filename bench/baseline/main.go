// Command baseline is how a developer would get an Azure Maps token on a
// device without mapsdevice: azidentity's DeviceCodeCredential with its
// persistent token cache. The benchmarks measure it side by side with
// mapsdevice. It is a module of its own, so its dependencies stay out of
// mapsdevice's.
//
//	baseline login   # device code; saves the authentication record
//	baseline token   # a token from the cache, silently
//
// Settings come from the same MAPSDEVICE_* variables as mapsdevice's.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity/cache"
)

const scope = "https://atlas.microsoft.com/user_impersonation"

func main() {
	if err := run(context.Background(), os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "baseline:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	if len(args) != 1 || (args[0] != "login" && args[0] != "token") {
		return fmt.Errorf("usage: baseline login|token")
	}
	authority, err := url.Parse(os.Getenv("MAPSDEVICE_AUTHORITY"))
	if err != nil || authority.Host == "" {
		return fmt.Errorf("set MAPSDEVICE_AUTHORITY to https://HOST/TENANT")
	}
	tenant := strings.Trim(authority.Path, "/")
	recordPath := filepath.Join(os.Getenv("MAPSDEVICE_HOME"), "baseline-record.json")
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if ca := os.Getenv("MAPSDEVICE_CA_FILE"); ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			return err
		}
		pool.AppendCertsFromPEM(pem)
	}
	persistent, err := cache.New(&cache.Options{Name: "mapsdevice-baseline"})
	if err != nil {
		return fmt.Errorf("persistent cache: %w", err)
	}
	opts := &azidentity.DeviceCodeCredentialOptions{
		ClientID:                 os.Getenv("MAPSDEVICE_CLIENT_ID"),
		TenantID:                 tenant,
		Cache:                    persistent,
		DisableInstanceDiscovery: true,
		ClientOptions: policy.ClientOptions{
			Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: authority.Scheme + "://" + authority.Host + "/"},
			Transport: &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}},
		},
		UserPrompt: func(_ context.Context, m azidentity.DeviceCodeMessage) error {
			fmt.Fprintln(os.Stderr, m.Message)
			fmt.Println(m.UserCode)
			return nil
		},
	}
	if args[0] == "token" {
		data, err := os.ReadFile(recordPath)
		if err != nil {
			return fmt.Errorf("not signed in: %w", err)
		}
		if err := json.Unmarshal(data, &opts.AuthenticationRecord); err != nil {
			return err
		}
		opts.DisableAutomaticAuthentication = true
	}
	cred, err := azidentity.NewDeviceCodeCredential(opts)
	if err != nil {
		return err
	}
	if args[0] == "login" {
		record, err := cred.Authenticate(ctx, &policy.TokenRequestOptions{Scopes: []string{scope}})
		if err != nil {
			return err
		}
		data, _ := json.Marshal(record)
		return os.WriteFile(recordPath, data, 0o600)
	}
	tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{scope}})
	if err != nil {
		return err
	}
	fmt.Println(tok.Token)
	return nil
}
