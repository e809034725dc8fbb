// Command geocheck measures 'mapsdevice geofence check --file' on the
// device at city scale: 10,000 polygon fences of 100 vertices, and 20,000
// positions as NDJSON on stdin, one answer a line. It reports wall time
// from start to the last answer (reading and indexing the file included)
// and peak RSS, and checks that every position was answered.
//
//	go build -o /tmp/mapsdevice ./cmd/mapsdevice
//	go run ./bench/geocheck -bin /tmp/mapsdevice -runs 5
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mapsdevice/mapsdevice/bench/measure"
)

func main() {
	bin := flag.String("bin", "", "path of a built mapsdevice")
	runs := flag.Int("runs", 5, "runs to measure")
	fences := flag.Int("fences", 10000, "polygon fences of 100 vertices")
	positions := flag.Int("positions", 20000, "positions on stdin")
	flag.Parse()
	if err := run(*bin, *runs, *fences, *positions); err != nil {
		fmt.Fprintln(os.Stderr, "geocheck:", err)
		os.Exit(1)
	}
}

func run(bin string, runs, fences, positions int) error {
	if bin == "" {
		return fmt.Errorf("-bin is required")
	}
	dir, err := os.MkdirTemp("", "bench-geocheck-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "city.geojson")
	size, err := writeCity(file, fences)
	if err != nil {
		return err
	}
	input := cityPositions(positions)
	var walls []time.Duration
	var rss []int64
	inside := 0
	for range runs {
		cmd := exec.Command(bin, "geofence", "check", "--file", file, "--json", "--device-id", "bench")
		cmd.Env = append(os.Environ(), "MAPSDEVICE_HOME="+dir)
		cmd.Stdin = bytes.NewReader(input)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		began := time.Now()
		if err := cmd.Start(); err != nil {
			return err
		}
		peak := measure.Watch(cmd.Process.Pid)
		err := cmd.Wait()
		walls = append(walls, time.Since(began))
		if err != nil {
			return fmt.Errorf("check: %v: %s", err, errOut.String())
		}
		if n := bytes.Count(out.Bytes(), []byte("\n")); n != positions {
			return fmt.Errorf("%d answers for %d positions", n, positions)
		}
		inside = bytes.Count(out.Bytes(), []byte(`"distance":-`))
		rss = append(rss, <-peak)
	}
	slices.Sort(walls)
	slices.Sort(rss)
	fmt.Printf("| on-device check | runs | wall median | wall min–max | positions/s (median) | peak RSS median |\n|---|---|---|---|---|---|\n")
	fmt.Printf("| %d positions from stdin against %d fences of 100 vertices (%.1f MB file; %d answers inside a fence) | %d | %.2f s | %.2f–%.2f s | %.0f | %.1f MB |\n",
		positions, fences, float64(size)/(1<<20), inside, runs, walls[len(walls)/2].Seconds(), walls[0].Seconds(), walls[len(walls)-1].Seconds(),
		float64(positions)/walls[len(walls)/2].Seconds(), float64(rss[len(rss)/2])/1024)
	return nil
}

// writeCity writes n wavy polygons, 100 to 300 m across, scattered over
// about 20 by 20 km.
func writeCity(path string, n int) (int64, error) {
	rng := rand.New(rand.NewPCG(7, 7))
	var b strings.Builder
	ff := func(v float64) string { return strconv.FormatFloat(v, 'f', 7, 64) }
	b.WriteString(`{"type":"FeatureCollection","features":[`)
	for i := range n {
		if i > 0 {
			b.WriteString(",\n")
		}
		lon, lat := 10+rng.Float64()*0.28, 50+rng.Float64()*0.18
		rx := 0.0007 + rng.Float64()*0.0014
		b.WriteString(`{"type":"Feature","geometry":{"type":"Polygon","coordinates":[[`)
		first := ""
		for v := range 99 {
			a := 2 * math.Pi * float64(v) / 99
			r := 1 + 0.15*math.Sin(float64(3+i%5)*a+float64(i))
			pt := "[" + ff(lon+rx*r*math.Cos(a)) + "," + ff(lat+rx*0.64*r*math.Sin(a)) + "]"
			if v == 0 {
				first = pt
			}
			b.WriteString(pt + ",")
		}
		b.WriteString(first + `]]},"properties":{"geometryId":"zone-` + strconv.Itoa(i) + `"}}`)
	}
	b.WriteString("]}\n")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return 0, err
	}
	return int64(b.Len()), nil
}

// cityPositions are n positions over the same area, as NDJSON.
func cityPositions(n int) []byte {
	rng := rand.New(rand.NewPCG(1, 1))
	var w bytes.Buffer
	bw := bufio.NewWriter(&w)
	for range n {
		fmt.Fprintf(bw, `{"lat":%.7f,"lon":%.7f}`+"\n", 49.995+rng.Float64()*0.19, 9.995+rng.Float64()*0.29)
	}
	bw.Flush()
	return w.Bytes()
}
