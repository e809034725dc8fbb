//go:build unix

package report

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

const oNoFollow = syscall.O_NOFOLLOW

// fileID is a file's device and inode.
func fileID(fi os.FileInfo) (dev, ino uint64) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Dev), uint64(st.Ino)
	}
	return 0, 0
}

// findRotated looks beside path for the file with the given device and
// inode: the file the checkpoint is in, renamed by a rotation.
func findRotated(path string, dev, ino uint64) string {
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		return ""
	}
	for _, e := range entries {
		p := filepath.Join(filepath.Dir(path), e.Name())
		if fi, err := os.Lstat(p); err == nil && fi.Mode().IsRegular() {
			if d, i := fileID(fi); d == dev && i == ino {
				return p
			}
		}
	}
	return ""
}

// ingestFile reads a file from its checkpoint. With Follow it goes on as
// tail -F does: a rotation finishes the old file and starts the new one
// from its first byte; a truncation starts again at offset 0.
func (r *Reporter) ingestFile(ctx context.Context, path string, accepted chan<- Reading) error {
	in := &intake{r: r, accepted: accepted, file: true}
	cp, ok, err := r.spool.Checkpoint()
	if err != nil {
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open readings: %w", err)
	}
	defer func() { f.Close() }()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("read readings: %w", err)
	}
	in.dev, in.ino = fileID(fi)
	var start int64
	if ok && r.opts.Follow {
		switch {
		case cp.Dev == in.dev && cp.Ino == in.ino && fi.Size() >= cp.Offset:
			start = cp.Offset
		case cp.Dev == in.dev && cp.Ino == in.ino:
			r.log.Info("the input was truncated while the reporter was stopped; reading it from the start", "path", path)
		default:
			// Rotated while stopped: finish the old file first.
			if old := findRotated(path, cp.Dev, cp.Ino); old != "" {
				if err := r.finishOld(ctx, in, old, cp.Offset); err != nil || ctx.Err() != nil {
					return err
				}
			}
			in.dev, in.ino = fileID(fi)
		}
	}
	if _, err := f.Seek(start, io.SeekStart); err != nil {
		return fmt.Errorf("read readings: %w", err)
	}
	in.end, in.committed = start, start
	lr := newLineReader(f, start)
	for {
		line, n, err := lr.next()
		if err == nil {
			in.take(line, n, lr.lineEnd)
			if len(in.records) >= 1000 || lr.buffered() == 0 {
				if ok, ferr := in.flush(ctx); ferr != nil || !ok {
					return ferr
				}
			}
			if ctx.Err() != nil {
				return nil
			}
			continue
		}
		if err != io.EOF {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("read readings: %w", err)
		}
		if !r.opts.Follow {
			if line, n := lr.rest(); n > 0 {
				in.take(line, n, lr.lineEnd)
			}
			_, ferr := in.flush(ctx)
			return ferr
		}
		if ok, ferr := in.flush(ctx); ferr != nil || !ok {
			return ferr
		}
		now, serr := os.Stat(path)
		switch {
		case serr == nil && !os.SameFile(now, fi):
			// Rotated: what was written to the old file before the
			// rename is read, then the new file from its start.
			if err := r.drain(ctx, in, lr); err != nil || ctx.Err() != nil {
				return err
			}
			nf, err := os.Open(path)
			if errors.Is(err, os.ErrNotExist) {
				break
			}
			if err != nil {
				return fmt.Errorf("open readings: %w", err)
			}
			nfi, err := nf.Stat()
			if err != nil {
				nf.Close()
				return fmt.Errorf("read readings: %w", err)
			}
			f.Close()
			f, fi = nf, nfi
			in.dev, in.ino = fileID(fi)
			in.end, in.committed = 0, -1 // commit the new file's checkpoint
			lr = newLineReader(f, 0)
			r.log.Info("the input was rotated; reading the new file", "path", path)
			continue
		case serr == nil && now.Size() < lr.lineEnd:
			if _, err := f.Seek(0, io.SeekStart); err != nil {
				return fmt.Errorf("read readings: %w", err)
			}
			in.end, in.committed = 0, -1
			lr = newLineReader(f, 0)
			r.log.Info("the input was truncated; reading it from the start", "path", path)
			continue
		}
		if r.sleep(ctx, 200*time.Millisecond) != nil {
			return nil
		}
	}
}

// drain reads what is left of a file that will not grow any more.
func (r *Reporter) drain(ctx context.Context, in *intake, lr *lineReader) error {
	for {
		line, n, err := lr.next()
		if err == nil {
			in.take(line, n, lr.lineEnd)
			continue
		}
		if err != io.EOF {
			return fmt.Errorf("read readings: %w", err)
		}
		if line, n := lr.rest(); n > 0 {
			in.take(line, n, lr.lineEnd)
		}
		_, ferr := in.flush(ctx)
		return ferr
	}
}

// finishOld reads a rotated file from the checkpoint to its end.
func (r *Reporter) finishOld(ctx context.Context, in *intake, path string, from int64) error {
	f, err := os.Open(path)
	if err != nil {
		return nil // gone meanwhile: nothing to finish
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("read readings: %w", err)
	}
	if _, err := f.Seek(from, io.SeekStart); err != nil {
		return fmt.Errorf("read readings: %w", err)
	}
	in.dev, in.ino = fileID(fi)
	in.end, in.committed = from, from
	r.log.Info("finishing the rotated input first", "path", path)
	return r.drain(ctx, in, newLineReader(f, from))
}

// OpenInput opens a file of readings, a FIFO included: opening a FIFO
// waits for its writer, and ctx ending stops that wait.
func OpenInput(ctx context.Context, path string) (io.ReadCloser, error) {
	type opened struct {
		f   *os.File
		err error
	}
	ch := make(chan opened, 1)
	go func() {
		f, err := os.Open(path)
		ch <- opened{f, err}
	}()
	select {
	case o := <-ch:
		return o.f, o.err
	case <-ctx.Done():
	}
	// Open the FIFO's other end for a moment, which ends the wait.
	if w, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
		w.Close()
	}
	if o := <-ch; o.f != nil {
		o.f.Close()
	}
	return nil, ctx.Err()
}
