// Command validatemem measures 'mapsdevice geofence validate' on a 100 MB
// FeatureCollection: its speed and its peak memory, beside encoding/json
// decoding the same file into any, each in a process of its own.
//
//	go build -o /tmp/mapsdevice ./cmd/mapsdevice
//	go run ./bench/validatemem -bin /tmp/mapsdevice
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

func main() {
	bin := flag.String("bin", "", "path of a built mapsdevice")
	size := flag.Int64("size", 100_000_000, "size of the file in bytes")
	runs := flag.Int("runs", 3, "runs of each reader")
	decode := flag.String("decode-any", "", "decode this file into any with encoding/json and exit (the peer, run by this program)")
	flag.Parse()
	if *decode != "" {
		if err := decodeAny(*decode); err != nil {
			fmt.Fprintln(os.Stderr, "validatemem:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*bin, *size, *runs); err != nil {
		fmt.Fprintln(os.Stderr, "validatemem:", err)
		os.Exit(1)
	}
}

// decodeAny is the peer: the usual way to read a JSON file in Go.
func decodeAny(name string) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	var v any
	return json.NewDecoder(f).Decode(&v)
}

func run(bin string, size int64, runs int) error {
	if bin == "" {
		return fmt.Errorf("-bin is required")
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "bench-validate-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "fences.geojson")
	features, bad, err := writeCollection(file, size)
	if err != nil {
		return err
	}
	st, err := os.Stat(file)
	if err != nil {
		return err
	}
	mb := float64(st.Size()) / 1e6
	fmt.Printf("%s, %.1f MB: %d features (polygons of 100 vertices, circles, lines), %d of them invalid\n", machine(), mb, features, bad)
	fmt.Println()
	fmt.Println("| reader | wall median (min–max) | MB/s (median) | peak RSS (max) |")
	fmt.Println("|---|---|---|---|")
	readers := []struct {
		name string
		args []string
		// check says whether the output is the right answer.
		check func(out string, code int) error
	}{
		{"`mapsdevice geofence validate`", []string{bin, "geofence", "validate", file}, func(out string, code int) error {
			if want := fmt.Sprintf("has %d problem(s)", bad); code != 65 || !strings.Contains(out, want) {
				return fmt.Errorf("validate: exit %d, want 65 and %q: %.300s", code, want, out)
			}
			return nil
		}},
		{"encoding/json into any", []string{self, "-decode-any", file}, func(out string, code int) error {
			if code != 0 {
				return fmt.Errorf("decode: exit %d: %.300s", code, out)
			}
			return nil
		}},
	}
	for _, r := range readers {
		var walls []time.Duration
		var peak int64
		for range runs {
			wall, kb, out, code, err := timed(dir, r.args)
			if err != nil {
				return err
			}
			if err := r.check(out, code); err != nil {
				return err
			}
			walls = append(walls, wall)
			peak = max(peak, kb)
		}
		slices.Sort(walls)
		med := walls[len(walls)/2]
		fmt.Printf("| %s | %.2f s (%.2f–%.2f) | %.0f | %.1f MB |\n", r.name, med.Seconds(), walls[0].Seconds(), walls[len(walls)-1].Seconds(),
			mb/med.Seconds(), float64(peak)/1024)
	}
	fmt.Println()
	fmt.Println("Method: each reader runs as its own process under GNU time -f %M (a Go child's own rusage would count this program's memory, shared until exec); wall time from start to exit, so it includes reading the file (from the page cache after the first run).")
	return nil
}

// timed runs args under GNU time and returns the wall time, the peak RSS
// in kB, the output and the exit code.
func timed(dir string, args []string) (time.Duration, int64, string, int, error) {
	rss := filepath.Join(dir, "rss")
	cmd := exec.Command("/usr/bin/time", append([]string{"-f", "%M", "-o", rss}, args...)...)
	began := time.Now()
	out, err := cmd.CombinedOutput()
	wall := time.Since(began)
	code := cmd.ProcessState.ExitCode()
	if err != nil && code <= 0 {
		return 0, 0, "", 0, fmt.Errorf("%s: %v", args[0], err)
	}
	data, err := os.ReadFile(rss)
	if err != nil {
		return 0, 0, "", 0, err
	}
	// GNU time notes a non-zero exit on a line of its own first.
	lines := strings.Fields(strings.TrimSpace(string(data)))
	kb, err := strconv.ParseInt(lines[len(lines)-1], 10, 64)
	if err != nil {
		return 0, 0, "", 0, fmt.Errorf("peak RSS of %s: %q", args[0], data)
	}
	return wall, kb, string(out), code, nil
}

// writeCollection writes a FeatureCollection of about size bytes, as a
// GIS tool writes one: nine polygons of 100 vertices (zones with a wavy
// border) for every circle, and a line of 50 vertices in every ten. One
// feature in a thousand has a latitude off the map. It returns how many
// features there are and how many are invalid.
func writeCollection(name string, size int64) (int, int, error) {
	f, err := os.Create(name)
	if err != nil {
		return 0, 0, err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	rng := rand.New(rand.NewPCG(13, 100))
	var written int64
	put := func(b []byte) {
		written += int64(len(b))
		w.Write(b)
	}
	put([]byte(`{"type":"FeatureCollection","features":[`))
	n, bad := 0, 0
	var b []byte
	for ; written < size-4096; n++ {
		b = b[:0]
		if n > 0 {
			b = append(b, ",\n"...)
		}
		lon, lat := -170+340*rng.Float64(), -80+160*rng.Float64()
		switch n % 10 {
		case 7:
			b = fmt.Appendf(b, `{"type":"Feature","properties":{"geometryId":"%d","subType":"Circle","radius":250},"geometry":{"type":"Point","coordinates":[%.6f,%.6f]}}`, n, lon, lat)
		case 8:
			b = fmt.Appendf(b, `{"type":"Feature","properties":{"geometryId":"%d","radius":40},"geometry":{"type":"LineString","coordinates":[`, n)
			for j := range 50 {
				if j > 0 {
					b = append(b, ',')
				}
				b = fmt.Appendf(b, "[%.6f,%.6f]", lon+float64(j)*0.0003, lat+0.0001*float64(j%3))
			}
			b = append(b, "]}}"...)
		default:
			b = fmt.Appendf(b, `{"type":"Feature","properties":{"geometryId":"%d"},"geometry":{"type":"Polygon","coordinates":[[`, n)
			ring := zone(rng, lon, lat)
			if n%1000 == 999 {
				ring[40][1] = 91
				bad++
			}
			for j, p := range ring {
				if j > 0 {
					b = append(b, ',')
				}
				b = fmt.Appendf(b, "[%.6f,%.6f]", p[0], p[1])
			}
			b = append(b, "]]}}"...)
		}
		put(b)
	}
	put([]byte("]}\n"))
	if err := w.Flush(); err != nil {
		f.Close()
		return 0, 0, err
	}
	return n, bad, f.Close()
}

// zone is a closed ring of 100 vertices round (lon, lat), a few hundred
// metres to a kilometre across, with a wavy border and jittered vertices.
func zone(rng *rand.Rand, lon, lat float64) [][2]float64 {
	const n = 100
	r := make([][2]float64, 0, n+1)
	size, phase := 0.002+0.01*rng.Float64(), 2*math.Pi*rng.Float64()
	for i := range n {
		a := 2 * math.Pi * (float64(i) + 0.5*rng.Float64()) / n
		rad := size * (1 + 0.15*math.Sin(5*a+phase) + 0.05*rng.Float64())
		r = append(r, [2]float64{lon + rad*math.Cos(a)*1.5, lat + rad*math.Sin(a)})
	}
	return append(r, r[0])
}

// machine names the processor, its cores and the Go that built this.
func machine() string {
	cpu := runtime.GOARCH
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				cpu = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	return fmt.Sprintf("%d × %s, %s/%s, %s", runtime.NumCPU(), cpu, runtime.GOOS, runtime.GOARCH, runtime.Version())
}
