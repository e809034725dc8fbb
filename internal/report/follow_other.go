//go:build !unix

package report

import (
	"context"
	"io"
	"os"
)

// ingestFile reads a file from its start; there is no inode here to keep
// a checkpoint by.
func (r *Reporter) ingestFile(ctx context.Context, path string, accepted chan<- Reading) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return r.ingestStream(ctx, f, accepted)
}

// OpenInput opens a file of readings.
func OpenInput(_ context.Context, path string) (io.ReadCloser, error) { return os.Open(path) }
