//go:build unix

package report

import (
	"fmt"
	"io"
	"os"
	"syscall"
)

// Interruptible makes r an input for Run whose Close ends a read in
// progress. Go opens os.Stdin in blocking mode, and closing a file in
// blocking mode leaves a read on it waiting for the next line or the end
// of input. So a file is duplicated and switched to non-blocking mode,
// which Go's poller can interrupt; Close switches it back. The mode is
// shared with every process holding the same pipe or terminal, which is
// why it is restored. A reader that is not a file is returned as it is
// if it can be closed, else with a Close that does nothing.
func Interruptible(r io.Reader) (io.ReadCloser, error) {
	f, ok := r.(*os.File)
	if !ok {
		if rc, ok := r.(io.ReadCloser); ok {
			return rc, nil
		}
		return io.NopCloser(r), nil
	}
	orig, err := f.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("input %s: %w", f.Name(), err)
	}
	fd := -1
	var dupErr error
	err = orig.Control(func(p uintptr) {
		syscall.ForkLock.RLock()
		defer syscall.ForkLock.RUnlock()
		if fd, dupErr = syscall.Dup(int(p)); dupErr == nil {
			syscall.CloseOnExec(fd)
		}
	})
	if err == nil {
		err = dupErr
	}
	if err != nil {
		return nil, fmt.Errorf("input %s: %w", f.Name(), err)
	}
	if err := syscall.SetNonblock(fd, true); err != nil {
		syscall.Close(fd)
		return nil, fmt.Errorf("input %s: %w", f.Name(), err)
	}
	// NewFile sees the non-blocking mode and hands the file to the poller.
	return &nonblockingInput{File: os.NewFile(uintptr(fd), f.Name()), orig: orig}, nil
}

type nonblockingInput struct {
	*os.File
	orig syscall.RawConn
}

// Close ends a read in progress, then puts the shared mode back.
func (in *nonblockingInput) Close() error {
	err := in.File.Close()
	in.orig.Control(func(p uintptr) { syscall.SetNonblock(int(p), false) })
	return err
}
