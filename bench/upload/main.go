// Command upload measures 'mapsdevice geofence upload' of a 50 MB
// FeatureCollection against the emulator: wall time from start to udid,
// and the uploader's peak RSS (its VmHWM, read every 5 ms while it runs).
//
//	go build -o /tmp/mapsdevice ./cmd/mapsdevice
//	go run ./bench/upload -bin /tmp/mapsdevice -runs 5
package main

import (
	"bufio"
	"flag"
	"fmt"
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
)

func main() {
	bin := flag.String("bin", "", "path of a built mapsdevice")
	runs := flag.Int("runs", 5, "uploads to measure")
	size := flag.Int64("mb", 50, "size of the FeatureCollection in MB")
	flag.Parse()
	if err := run(*bin, *runs, *size<<20); err != nil {
		fmt.Fprintln(os.Stderr, "upload:", err)
		os.Exit(1)
	}
}

func run(bin string, runs int, size int64) error {
	if bin == "" {
		return fmt.Errorf("-bin is required")
	}
	dir, err := os.MkdirTemp("", "bench-upload-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	srv, err := emulator.New(emulator.Options{StateDir: filepath.Join(dir, "emu"), Interval: time.Second,
		AutoApprove: 100 * time.Millisecond, MapsOperationTime: 100 * time.Millisecond, MapsStorageQuota: 10 << 30})
	if err != nil {
		return err
	}
	defer srv.Close()
	env := append(os.Environ(), benchenv.Vars(dir, srv)...)
	if err := benchenv.SignIn(bin, env); err != nil {
		return err
	}
	file := filepath.Join(dir, "fences.geojson")
	written, err := writeFences(file, size)
	if err != nil {
		return err
	}
	var walls []time.Duration
	var rss []int64
	for range runs {
		cmd := exec.Command(bin, "geofence", "upload", file, "--json")
		cmd.Env = env
		var out strings.Builder
		cmd.Stdout = &out
		began := time.Now()
		if err := cmd.Start(); err != nil {
			return err
		}
		peak := measure.Watch(cmd.Process.Pid)
		err := cmd.Wait()
		walls = append(walls, time.Since(began))
		if err != nil || !strings.Contains(out.String(), `"udid"`) {
			return fmt.Errorf("upload: %v: %s", err, out.String())
		}
		rss = append(rss, <-peak)
	}
	slices.Sort(walls)
	slices.Sort(rss)
	fmt.Printf("| upload | runs | wall median | wall min–max | uploader peak RSS median | RSS min–max |\n|---|---|---|---|---|---|\n")
	fmt.Printf("| %.1f MB FeatureCollection | %d | %.2f s | %.2f–%.2f s | %.1f MB | %.1f–%.1f MB |\n",
		float64(written)/(1<<20), runs, walls[len(walls)/2].Seconds(), walls[0].Seconds(), walls[len(walls)-1].Seconds(),
		float64(rss[len(rss)/2])/1024, float64(rss[0])/1024, float64(rss[len(rss)-1])/1024)
	return nil
}

// writeFences writes a valid FeatureCollection of small squares.
func writeFences(path string, size int64) (int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	w.WriteString(`{"type":"FeatureCollection","features":[`)
	var n int64
	ff := func(v float64) string { return strconv.FormatFloat(v, 'f', 6, 64) }
	for i := 0; n < size; i++ {
		if i > 0 {
			w.WriteString(",")
		}
		lon, lat := float64(i%3000)*0.01-15, float64(i/3000)*0.01+40
		s := fmt.Sprintf(`{"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[%[1]s,%[2]s],[%[3]s,%[2]s],[%[3]s,%[4]s],[%[1]s,%[4]s],[%[1]s,%[2]s]]]},"properties":{"geometryId":"f%[5]d"}}`,
			ff(lon), ff(lat), ff(lon+0.005), ff(lat+0.005), i)
		w.WriteString(s)
		n += int64(len(s)) + 1
	}
	w.WriteString("]}")
	if err := w.Flush(); err != nil {
		return 0, err
	}
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}
