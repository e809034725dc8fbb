//go:build unix

package report

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// addPlatformInputs adds a FIFO and a pipe in blocking mode, as os.Stdin
// is when a shell pipes into the reporter, made Interruptible.
func addPlatformInputs(inputs map[string]func(t *testing.T) (io.ReadCloser, io.Closer)) {
	inputs["FIFO"] = func(t *testing.T) (io.ReadCloser, io.Closer) {
		path := filepath.Join(t.TempDir(), "fifo")
		if err := syscall.Mkfifo(path, 0o600); err != nil {
			t.Fatal(err)
		}
		// Read and write: the open does not wait for a writer.
		in, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		out, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		return in, out
	}
	inputs["blocking pipe, interruptible"] = func(t *testing.T) (io.ReadCloser, io.Closer) {
		stdin, w := blockingPipe(t)
		in, err := Interruptible(stdin)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if nonblocking(t, stdin) {
				t.Error("the pipe was left in non-blocking mode")
			}
			stdin.Close()
		})
		return in, w
	}
}

// blockingPipe is a pipe whose read end is in blocking mode, as Go's
// os.Stdin is.
func blockingPipe(t *testing.T) (*os.File, *os.File) {
	t.Helper()
	var p [2]int
	if err := syscall.Pipe(p[:]); err != nil {
		t.Fatal(err)
	}
	r, w := os.NewFile(uintptr(p[0]), "stdin"), os.NewFile(uintptr(p[1]), "writer")
	if nonblocking(t, r) {
		t.Fatal("a new pipe is in non-blocking mode")
	}
	return r, w
}

func nonblocking(t *testing.T, f *os.File) bool {
	t.Helper()
	raw, err := f.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var flags int
	var ferr error
	raw.Control(func(fd uintptr) { flags, ferr = unix.FcntlInt(fd, unix.F_GETFL, 0) })
	if ferr != nil {
		t.Fatal(ferr)
	}
	return flags&unix.O_NONBLOCK != 0
}

func TestInterruptible(t *testing.T) {
	t.Run("reader", func(t *testing.T) {
		in, err := Interruptible(strings.NewReader("x"))
		if err != nil || in.Close() != nil {
			t.Fatalf("Interruptible of a string: %v", err)
		}
	})
	t.Run("read closer", func(t *testing.T) {
		pr, pw := io.Pipe()
		defer pw.Close()
		in, err := Interruptible(pr)
		if err != nil || in != io.ReadCloser(pr) {
			t.Fatalf("Interruptible of a pipe: %v, %v", in, err)
		}
	})
	t.Run("blocking pipe", func(t *testing.T) {
		stdin, w := blockingPipe(t)
		defer w.Close()
		defer stdin.Close()
		in, err := Interruptible(stdin)
		if err != nil {
			t.Fatal(err)
		}
		w.WriteString("line\n")
		buf := make([]byte, 16)
		if n, err := in.Read(buf); err != nil || string(buf[:n]) != "line\n" {
			t.Fatalf("Read: %q, %v", buf[:n], err)
		}
		read, closed := make(chan error, 1), make(chan error, 1)
		go func() {
			_, err := in.Read(buf)
			read <- err
		}()
		go func() { closed <- in.Close() }()
		if err := waitDone(t, read); err == nil {
			t.Error("a read ended by Close succeeded")
		}
		if err := waitDone(t, closed); err != nil {
			t.Errorf("Close: %v", err)
		}
		if nonblocking(t, stdin) {
			t.Error("the pipe was left in non-blocking mode")
		}
	})
	t.Run("closed file", func(t *testing.T) {
		stdin, w := blockingPipe(t)
		w.Close()
		stdin.Close()
		if _, err := Interruptible(stdin); err == nil {
			t.Error("Interruptible of a closed file succeeded")
		}
	})
}
