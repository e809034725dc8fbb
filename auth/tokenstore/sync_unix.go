//go:build !windows

package tokenstore

import (
	"fmt"
	"os"
)

// syncDir makes a rename durable across a power cut.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open token folder: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync token folder: %w", err)
	}
	return nil
}
