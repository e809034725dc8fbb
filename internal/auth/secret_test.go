package auth

import (
	"io"
	"strings"
	"testing"
)

// TestSecretFromStdinLeavesTheRest: with --client-secret-file -, the
// secret is the first line of stdin and the command still reads the
// rest (readings, positions, GeoJSON) whole.
func TestSecretFromStdinLeavesTheRest(t *testing.T) {
	in := strings.NewReader("s3cret-value\r\n{\"type\":\"FeatureCollection\"}\nline 2\n")
	r, err := newSecretReader(SecretSource{File: "-", Stdin: in}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := r.current()
	if err != nil || got != "s3cret-value" {
		t.Errorf("secret %q, %v; want s3cret-value", got, err)
	}
	rest, _ := io.ReadAll(in)
	if string(rest) != "{\"type\":\"FeatureCollection\"}\nline 2\n" {
		t.Errorf("the command would read %q", rest)
	}
	if _, err := newSecretReader(SecretSource{File: "-", Stdin: strings.NewReader("\n")}, nil); err == nil {
		t.Error("an empty first line was taken as a secret")
	}
}
