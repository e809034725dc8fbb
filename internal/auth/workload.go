package auth

import (
	"context"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
)

// federatedToken reads a workload identity's token file for every
// assertion: Kubernetes and CI runners replace it long before the app
// token it buys expires, and an old copy would be refused.
type federatedToken struct {
	path string
}

func (f federatedToken) assertion(context.Context, confidential.AssertionRequestOptions) (string, error) {
	v, err := readSecretFile(f.path, nil)
	if err != nil {
		return "", credentialError("the federated token file", err)
	}
	return v, nil
}
