package emulator

import (
	"crypto/sha1"
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

// Azure Maps data-plane roles the emulator knows.
const (
	RoleDataReader      = "Azure Maps Data Reader"
	RoleDataContributor = "Azure Maps Data Contributor"
)

// Built-in users.
const (
	ContributorUser = "contributor@emulator.test"
	ReaderUser      = "reader@emulator.test"
)

// User is a person who can approve a sign-in on the verification page.
type User struct {
	Username string `json:"username"`
	Name     string `json:"name,omitempty"`
	Role     string `json:"role,omitempty"`
	// Vaults are the vaults on which the user holds Key Vault Secrets User.
	Vaults []string `json:"vaults,omitempty"`
	// BlockedByConditionalAccess makes sign-in fail as a Conditional
	// Access policy blocking the device code flow would (AADSTS53003).
	BlockedByConditionalAccess bool `json:"blockedByConditionalAccess,omitempty"`
}

// ObjectID is stable for a user name, so tokens survive emulator restarts.
func (u User) ObjectID() string { return stableGUID("user:" + strings.ToLower(u.Username)) }

func defaultUsers() []User {
	return []User{
		{Username: ContributorUser, Name: "Connie Contributor", Role: RoleDataContributor, Vaults: []string{demoVault}},
		{Username: ReaderUser, Name: "Rey Reader", Role: RoleDataReader},
	}
}

// ParseUser reads "name@domain[=role]", the form the --user flag takes.
func ParseUser(s string) (User, error) {
	name, role, _ := strings.Cut(s, "=")
	name = strings.TrimSpace(name)
	if !strings.Contains(name, "@") {
		return User{}, fmt.Errorf("user %q: want name@domain[=role]", s)
	}
	u := User{Username: name, Role: strings.TrimSpace(role)}
	if u.Role == "" {
		u.Role = RoleDataReader
	}
	return u, nil
}

// LoadUsers reads a JSON array of users from a file.
func LoadUsers(path string) ([]User, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read users file: %w", err)
	}
	var users []User
	if err := json.Unmarshal(data, &users); err != nil {
		return nil, fmt.Errorf("users file %s: %w", path, err)
	}
	for i, u := range users {
		if !strings.Contains(u.Username, "@") {
			return nil, fmt.Errorf("users file %s: entry %d: username must look like name@domain", path, i)
		}
	}
	return users, nil
}

// stableGUID derives a version-5-shaped GUID from a string.
func stableGUID(s string) string {
	sum := sha1.Sum([]byte("mapsdevice-emulator/" + s))
	sum[6] = sum[6]&0x0f | 0x50
	sum[8] = sum[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", sum[0:4], sum[4:6], sum[6:8], sum[8:10], sum[10:16])
}
