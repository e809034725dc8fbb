// Command reportpipe measures the sensor node with the real binary against
// an in-process emulator: end-to-end delivery rate, latency from reading to
// delivery at a steady rate, and the idle reporter's CPU and RSS.
//
//	go build -o /tmp/mapsdevice ./cmd/mapsdevice
//	go run ./bench/reportpipe -bin /tmp/mapsdevice [-settings 500/1,1000/8] [-only throughput]
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mapsdevice/mapsdevice/bench/internal/benchenv"
	"github.com/mapsdevice/mapsdevice/bench/measure"
	"github.com/mapsdevice/mapsdevice/emulator"
	"github.com/mapsdevice/mapsdevice/internal/azmaps"
)

func main() {
	bin := flag.String("bin", "", "path of a built mapsdevice")
	// The first setting is one batch of 500 at a time, as report sent
	// before --in-flight; the second is today's defaults.
	settings := flag.String("settings", "500/1,1000/8", "the --batch-size/--in-flight pairs the throughput run compares, comma-separated")
	only := flag.String("only", "", "run only this measurement: throughput, latency or idle")
	readings := flag.Int("readings", 100_000, "readings in the throughput run")
	flag.Parse()
	if err := run(*bin, strings.Split(*settings, ","), *only, *readings); err != nil {
		fmt.Fprintln(os.Stderr, "reportpipe:", err)
		os.Exit(1)
	}
}

// home makes a state folder for one measurement, signed in like the main one.
func (b bench) home(name string) []string {
	home := filepath.Join(b.dir, name)
	os.MkdirAll(home, 0o700)
	if data, err := os.ReadFile(filepath.Join(b.dir, "default.json")); err == nil {
		os.WriteFile(filepath.Join(home, "default.json"), data, 0o600)
	}
	return append(append([]string(nil), b.env...), "MAPSDEVICE_HOME="+home)
}

type bench struct {
	bin string
	dir string
	srv *emulator.Server
	env []string
}

func run(bin string, settings []string, only string, readings int) error {
	if bin == "" {
		return fmt.Errorf("-bin is required")
	}
	dir, err := os.MkdirTemp("", "bench-report-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	srv, err := emulator.New(emulator.Options{StateDir: filepath.Join(dir, "emu"), Interval: time.Second,
		AutoApprove: 100 * time.Millisecond, MapsOperationTime: 200 * time.Millisecond, MapsRate: -1})
	if err != nil {
		return err
	}
	defer srv.Close()
	b := bench{bin: bin, dir: dir, srv: srv, env: append(os.Environ(), benchenv.Vars(dir, srv)...)}
	if err := benchenv.SignIn(bin, b.env); err != nil {
		return err
	}
	if only == "" || only == "throughput" {
		var first float64
		for i, setting := range settings {
			batch, inFlight, ok := strings.Cut(strings.TrimSpace(setting), "/")
			if !ok {
				return fmt.Errorf("-settings %q: use BATCH/IN-FLIGHT pairs", setting)
			}
			rate, err := b.throughput(readings, batch, inFlight)
			if err != nil {
				return err
			}
			if i == 0 {
				first = rate
			} else {
				fmt.Printf("| end-to-end delivery, ratio | batches of %s, --in-flight %s against the first | %.1f× | |\n", batch, inFlight, rate/first)
			}
		}
	}
	if only == "" || only == "latency" {
		if err := b.latency(100, 30*time.Second); err != nil {
			return err
		}
	}
	if only == "" || only == "idle" {
		return b.idle(30 * time.Second)
	}
	return nil
}

func reading(n int, t time.Time) string {
	return fmt.Sprintf(`{"time":%q,"lat":47.6,"lon":-122.1,"deviceId":"bench","seq":%d}`, t.UTC().Format(time.RFC3339Nano), n)
}

// throughput delivers n readings from a file, in batches of batch, with
// inFlight batches on their way at once.
func (b bench) throughput(n int, batch, inFlight string) (float64, error) {
	var in strings.Builder
	now := time.Now()
	for i := range n {
		in.WriteString(reading(i, now) + "\n")
	}
	file := filepath.Join(b.dir, "in.ndjson")
	if err := os.WriteFile(file, []byte(in.String()), 0o600); err != nil {
		return 0, err
	}
	cmd := exec.Command(b.bin, "report", "--input", file, "--batch-size", batch, "--max-delay", "200ms", "--in-flight", inFlight)
	cmd.Env = b.home(fmt.Sprintf("tp-%s-%s", batch, inFlight))
	began := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("report: %v: %s", err, out)
	}
	took := time.Since(began)
	rate := float64(n) / took.Seconds()
	fmt.Printf("| end-to-end delivery | %d readings, batches of %s, --in-flight %s | %.1f s | %.0f readings/s |\n", n, batch, inFlight, took.Seconds(), rate)
	return rate, nil
}

// latency feeds rate readings per second for d and measures, for each,
// the time from writing it to its upload being listed as Completed.
func (b bench) latency(rate int, d time.Duration) error {
	cmd := exec.Command(b.bin, "report", "--batch-size", "500", "--max-delay", "1s")
	cmd.Env = b.home("lat")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	client, err := azmaps.NewClient(azmaps.Config{Endpoint: b.srv.MapsEndpoint(), Key: b.srv.SharedKeys()[0], HTTPClient: b.srv.Client()})
	if err != nil {
		return err
	}
	sent := map[int]time.Time{}
	arrived := map[int]time.Time{}
	seen := map[string]bool{}
	for _, m := range mustList(client) {
		seen[m.UDID] = true // the throughput run's
	}
	tick := time.NewTicker(time.Second / time.Duration(rate))
	end := time.Now().Add(d)
	n := 0
	lastPoll := time.Now()
	for time.Now().Before(end) || len(arrived) < n {
		if time.Now().Before(end) {
			<-tick.C
			now := time.Now()
			io.WriteString(stdin, reading(n, now)+"\n")
			sent[n] = now
			n++
		} else {
			time.Sleep(20 * time.Millisecond)
		}
		if time.Since(lastPoll) >= 20*time.Millisecond {
			lastPoll = time.Now()
			for _, m := range mustList(client) {
				if seen[m.UDID] || m.UploadStatus != "Completed" {
					continue
				}
				seen[m.UDID] = true
				var body strings.Builder
				client.Download(context.Background(), m.UDID, &body)
				for _, s := range seqs(body.String()) {
					arrived[s] = lastPoll
				}
			}
		}
		if time.Since(end) > 30*time.Second {
			return fmt.Errorf("only %d of %d readings arrived", len(arrived), n)
		}
	}
	stdin.Close()
	cmd.Wait()
	var lat []time.Duration
	for s, at := range arrived {
		lat = append(lat, at.Sub(sent[s]))
	}
	slices.Sort(lat)
	p := func(q float64) time.Duration { return lat[int(q*float64(len(lat)-1))] }
	fmt.Printf("| latency at %d readings/s | %d readings, batches up to 500, max delay 1 s | p50 %d ms | p99 %d ms (max %d ms) |\n",
		rate, len(lat), p(0.5).Milliseconds(), p(0.99).Milliseconds(), lat[len(lat)-1].Milliseconds())
	return nil
}

func mustList(c *azmaps.Client) []azmaps.Metadata {
	l, _ := c.List(context.Background())
	return l
}

func seqs(body string) []int {
	var fc struct {
		Features []struct {
			Properties struct {
				Seq int `json:"seq"`
			} `json:"properties"`
		} `json:"features"`
	}
	json.Unmarshal([]byte(body), &fc)
	out := make([]int, len(fc.Features))
	for i, f := range fc.Features {
		out[i] = f.Properties.Seq
	}
	return out
}

// idle runs a reporter with nothing to read for d: CPU used and RSS.
func (b bench) idle(d time.Duration) error {
	cmd := exec.Command(b.bin, "report")
	cmd.Env = b.home("idle")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	time.Sleep(2 * time.Second) // start-up is not idling
	cpu0 := cpuTicks(cmd.Process.Pid)
	time.Sleep(d)
	cpu1 := cpuTicks(cmd.Process.Pid)
	rss, _ := measure.VmHWM(cmd.Process.Pid)
	stdin.Close()
	cmd.Wait()
	const hz = 100 // USER_HZ on Linux
	share := float64(cpu1-cpu0) / hz / d.Seconds() * 100
	fmt.Printf("| idle reporter | %s with no input | %.2f%% of a core | peak RSS %.1f MB |\n", d, share, float64(rss)/1024)
	return nil
}

// cpuTicks is utime+stime of a process, in clock ticks.
func cpuTicks(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(data)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	u, _ := strconv.ParseInt(fields[11], 10, 64)
	st, _ := strconv.ParseInt(fields[12], 10, 64)
	return u + st
}
