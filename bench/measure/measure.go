// Package measure reads a child process's own memory peak, for the
// benchmarks in bench/ and the memory tests. A child's
// rusage is no good for that: Go starts children with vfork, so their
// ru_maxrss also counts the parent's memory, shared until exec.
package measure

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// VmHWM is a live process's peak resident set size in kB.
func VmHWM(pid int) (int64, bool) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb, err == nil
		}
	}
	return 0, false
}

// Watch polls a process's VmHWM every 5 ms until it is gone, and sends the
// last reading.
func Watch(pid int) <-chan int64 {
	out := make(chan int64, 1)
	go func() {
		var last int64
		for {
			kb, ok := VmHWM(pid)
			if !ok {
				out <- last
				return
			}
			last = kb
			time.Sleep(5 * time.Millisecond)
		}
	}()
	return out
}

// PeakRSS runs a short command under GNU time (which forks, not vforks)
// and returns its peak RSS in kB; for runs too quick to poll.
func PeakRSS(env []string, name string, args ...string) (int64, error) {
	cmd := exec.Command("/usr/bin/time", append([]string{"-f", "%M", name}, args...)...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("%s under /usr/bin/time: %v: %s", name, err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return strconv.ParseInt(lines[len(lines)-1], 10, 64)
}
