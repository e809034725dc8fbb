// Command suite runs every benchmark and rewrites docs/benchmarks.md:
//
//	go run ./bench/suite            # about 6 minutes
//
// It builds mapsdevice and the baseline (bench/baseline: azidentity's
// DeviceCodeCredential with its persistent cache) the same way, measures
// both side by side against one emulator, runs the other measurement
// programs in bench/ and the Go benchmarks, and fills bench/suite/
// benchmarks.md.tmpl. It needs GNU time (Debian package time) and tmux.
package main

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/mapsdevice/mapsdevice/bench/internal/benchenv"
	"github.com/mapsdevice/mapsdevice/bench/measure"
	"github.com/mapsdevice/mapsdevice/emulator"
)

//go:embed benchmarks.md.tmpl
var docTemplate string

func main() {
	out := argValue("-o", "docs/benchmarks.md")
	if err := run(out); err != nil {
		fmt.Fprintln(os.Stderr, "suite:", err)
		os.Exit(1)
	}
}

func argValue(name, def string) string {
	for i, a := range os.Args[1:] {
		if a == name && i+2 < len(os.Args) {
			return os.Args[i+2]
		}
	}
	return def
}

// Doc is what the template shows.
type Doc struct {
	Date, Machine, Go string
	Sizes             string
	Startup           string
	Login             string
	Tables            map[string]string
	Benchmarks        string
	Engines           string
}

func run(out string) error {
	dir, err := os.MkdirTemp("", "bench-suite-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	doc := Doc{Date: time.Now().UTC().Format("2006-01-02"), Machine: machine(), Go: runtime.Version(), Tables: map[string]string{}}
	step("binary sizes")
	ours, base, sizes, err := build(dir)
	if err != nil {
		return err
	}
	doc.Sizes = sizes
	step("start-up and login, side by side")
	if doc.Startup, doc.Login, err = sideBySide(dir, ours, base); err != nil {
		return err
	}
	for _, b := range []struct{ name, args string }{
		{"tokenstart", "-runs 50"}, {"loginscreen", "-runs 10"}, {"upload", "-runs 5"}, {"reportpipe", ""}, {"geocheck", "-runs 5"}, {"validatemem", "-runs 3"},
	} {
		step(b.name)
		table, err := goRun("./bench/"+b.name, append([]string{"-bin", ours}, strings.Fields(b.args)...)...)
		if err != nil {
			return fmt.Errorf("%s: %w", b.name, err)
		}
		doc.Tables[b.name] = table
	}
	step("the geofence engine beside Tile38's")
	if doc.Engines, err = engines(dir); err != nil {
		return err
	}
	step("Go benchmarks")
	if doc.Benchmarks, err = goBench(); err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := template.Must(template.New("doc").Parse(docTemplate)).Execute(&buf, doc); err != nil {
		return err
	}
	step("writing " + out)
	return os.WriteFile(out, buf.Bytes(), 0o644)
}

func step(s string) { fmt.Fprintf(os.Stderr, "suite: %s...\n", s) }

func machine() string {
	cpu := "unknown CPU"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		if m := regexp.MustCompile(`model name\s*:\s*(.+)`).FindSubmatch(data); m != nil {
			cpu = string(m[1])
		}
	}
	mem := ""
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		fmt.Sscanf(strings.TrimPrefix(strings.SplitN(string(data), "\n", 2)[0], "MemTotal:"), "%d", &kb)
		mem = fmt.Sprintf(", %d GiB", (kb+512*1024)>>20)
	}
	kernel, _ := exec.Command("uname", "-r").Output()
	return fmt.Sprintf("%d × %s%s, Linux %s, %s/%s", runtime.NumCPU(), cpu, mem, strings.TrimSpace(string(kernel)), runtime.GOOS, runtime.GOARCH)
}

var targets = []struct{ goos, goarch, goarm string }{
	{"linux", "amd64", ""}, {"linux", "arm64", ""}, {"linux", "arm", "7"}, {"linux", "arm", "6"},
	{"darwin", "amd64", ""}, {"darwin", "arm64", ""}, {"windows", "amd64", ""},
}

// build makes stripped binaries for every target, ours and the baseline's,
// and returns the host builds' paths.
func build(dir string) (string, string, string, error) {
	var b strings.Builder
	b.WriteString("| target | mapsdevice | baseline | ratio |\n|---|---|---|---|\n")
	var ours, base string
	for _, t := range targets {
		name := t.goos + "/" + t.goarch
		if t.goarm != "" {
			name += "v" + t.goarm
		}
		o := filepath.Join(dir, strings.ReplaceAll(name, "/", "-"), "mapsdevice")
		bl := filepath.Join(dir, strings.ReplaceAll(name, "/", "-"), "baseline")
		env := append(os.Environ(), "CGO_ENABLED=0", "GOOS="+t.goos, "GOARCH="+t.goarch, "GOARM="+t.goarm, "GOFLAGS=")
		baseOK := true
		for _, c := range []struct{ dir, out, pkg string }{{".", o, "./cmd/mapsdevice"}, {"bench/baseline", bl, "."}} {
			cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", c.out, c.pkg)
			cmd.Dir, cmd.Env = c.dir, env
			if out, err := cmd.CombinedOutput(); err != nil {
				if c.dir == "bench/baseline" {
					baseOK = false // azidentity's cache needs cgo on macOS
					continue
				}
				return "", "", "", fmt.Errorf("build %s for %s: %v: %s", c.pkg, name, err, out)
			}
		}
		so, sb := size(o), size(bl)
		if !baseOK {
			fmt.Fprintf(&b, "| %s | %.1f MB | needs cgo | |\n", name, so/1e6)
			continue
		}
		fmt.Fprintf(&b, "| %s | %.1f MB | %.1f MB | %.2f |\n", name, so/1e6, sb/1e6, so/sb)
		if t.goos == runtime.GOOS && t.goarch == runtime.GOARCH {
			ours, base = o, bl
		}
	}
	return ours, base, b.String(), nil
}

func size(path string) float64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return float64(st.Size())
}

// sideBySide signs both in against one emulator (5 s interval, approval
// after 2 s, as a person would) and times their start-up.
func sideBySide(dir, ours, base string) (string, string, error) {
	srv, err := emulator.New(emulator.Options{StateDir: filepath.Join(dir, "emu"), AutoApprove: 2 * time.Second})
	if err != nil {
		return "", "", err
	}
	defer srv.Close()
	env := append(os.Environ(), benchenv.Vars(dir, srv)...)
	var login strings.Builder
	login.WriteString("| sign-in, approved after 2 s (interval 5 s), 3 runs each | mapsdevice median (min–max) | baseline median (min–max) | ratio of medians |\n|---|---|---|---|\n")
	// logins signs in three times and returns wall times and poll counts.
	logins := func(bin string, args []string, code func(out string) string) ([]float64, []float64, error) {
		var walls, polls []float64
		for range 3 {
			cmd := exec.Command(bin, args...)
			cmd.Env = env
			began := time.Now()
			out, err := cmd.Output()
			if err != nil {
				return nil, nil, fmt.Errorf("%s %v: %v", bin, args, err)
			}
			walls = append(walls, time.Since(began).Seconds())
			polls = append(polls, float64(len(srv.Polls(code(string(out))))))
		}
		return walls, polls, nil
	}
	ow, op, err := logins(ours, []string{"login", "--json"}, func(out string) string {
		var ev struct {
			UserCode string `json:"user_code"`
		}
		json.Unmarshal([]byte(strings.SplitN(out, "\n", 2)[0]), &ev)
		return ev.UserCode
	})
	if err != nil {
		return "", "", err
	}
	bw, bp, err := logins(base, []string{"login"}, func(out string) string { return strings.TrimSpace(out) })
	if err != nil {
		return "", "", err
	}
	fmt.Fprintf(&login, "| wall time to signed in | %s s | %s s | %.2f |\n", spread(ow, "%.1f"), spread(bw, "%.1f"), median(ow)/median(bw))
	fmt.Fprintf(&login, "| polls of the token endpoint | %s | %s | %.2f |\n", spread(op, "%.0f"), spread(bp, "%.0f"), median(op)/median(bp))

	var st strings.Builder
	st.WriteString("| command | wall median (p10–p90) | peak RSS median | baseline wall | baseline RSS | wall ratio |\n|---|---|---|---|---|---|\n")
	baseToken, err := coldStart(env, base, "token")
	if err != nil {
		return "", "", err
	}
	for _, c := range []string{"version", "status", "token"} {
		m, err := coldStart(env, ours, c)
		if err != nil {
			return "", "", err
		}
		if c == "token" {
			fmt.Fprintf(&st, "| `%s` (cached) | %s | %.1f MB | %s | %.1f MB | %.2f |\n", c, m.wallText(), m.rss, baseToken.wallText(), baseToken.rss, m.median.Seconds()/baseToken.median.Seconds())
			continue
		}
		fmt.Fprintf(&st, "| `%s` | %s | %.1f MB | | | |\n", c, m.wallText(), m.rss)
	}
	before := len(srv.Requests())
	coldStart(env, ours, "token")
	if n := len(srv.Requests()) - before; n != 0 {
		return "", "", fmt.Errorf("cached token runs made %d requests", n)
	}
	return st.String(), login.String(), nil
}

type startup struct {
	median, p10, p90 time.Duration
	rss              float64
}

func (s startup) wallText() string {
	return fmt.Sprintf("%.1f ms (%.1f–%.1f)", ms(s.median), ms(s.p10), ms(s.p90))
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// coldStart runs a command 30 times for wall time, and 5 more under GNU
// time for peak RSS (a Go child's own rusage counts its parent's memory).
func coldStart(env []string, bin, arg string) (startup, error) {
	var walls []time.Duration
	for range 30 {
		cmd := exec.Command(bin, arg)
		cmd.Env = env
		began := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			return startup{}, fmt.Errorf("%s %s: %v: %s", bin, arg, err, out)
		}
		walls = append(walls, time.Since(began))
	}
	var rss []int64
	for range 5 {
		kb, err := measure.PeakRSS(env, bin, arg)
		if err != nil {
			return startup{}, err
		}
		rss = append(rss, kb)
	}
	slices.Sort(walls)
	slices.Sort(rss)
	return startup{median: walls[len(walls)/2], p10: walls[len(walls)/10], p90: walls[len(walls)*9/10], rss: float64(rss[len(rss)/2]) / 1024}, nil
}

// goRun runs one of the measurement programs and keeps its table.
func goRun(pkg string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", append([]string{"run", pkg}, args...)...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	return string(out), err
}

// engines runs the geofence engine's benchmarks, five times each, and
// sets the index, the pass over every fence and Tile38's engine side by
// side: median positions a second, and the range.
func engines(dir string) (string, error) {
	bin := filepath.Join(dir, "geofence.test")
	if out, err := exec.Command("go", "test", "-c", "-o", bin, "./internal/geofence").CombinedOutput(); err != nil {
		return "", fmt.Errorf("go test -c: %v: %s", err, out)
	}
	rates := map[string][]float64{}  // "BenchmarkX/engine" → points/s
	fences := map[string][]float64{} // fences answered (index) or tested (Tile38) a position
	// Five rounds, each engine once a round: this VM's speed drifts over
	// minutes, and -count 5 would measure an engine's five runs together,
	// in a different minute from the next engine's.
	for range 5 {
		cmd := exec.Command(bin, "-test.run", "^$", "-test.bench", "^(BenchmarkCity10000Fences|BenchmarkCity10000FencesBuffer0|BenchmarkCity10000FencesBuffer500|BenchmarkPolygon100000)$", "-test.benchtime", "2s")
		cmd.Dir = filepath.Join("internal", "geofence")
		out, err := cmd.CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("geofence benchmarks: %v: %s", err, out)
		}
		sc := bufio.NewScanner(bytes.NewReader(out))
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
				continue
			}
			for i := 1; i+1 < len(f); i++ {
				if unit := f[i+1]; unit == "points/s" || unit == "fences/point" {
					v, err := strconv.ParseFloat(f[i], 64)
					if err != nil {
						return "", fmt.Errorf("benchmark line %q: %w", sc.Text(), err)
					}
					name := f[0][:strings.LastIndex(f[0], "-")] // less the -GOMAXPROCS suffix
					if unit == "fences/point" {
						fences[name] = append(fences[name], v)
						continue
					}
					rates[name] = append(rates[name], v)
				}
			}
		}
	}
	var b strings.Builder
	b.WriteString("| workload | index (ours: distance, nearest point) | every fence (before) | Tile38 (containment only) | index ÷ Tile38 | fences a position: ours answered, Tile38 tested |\n|---|---|---|---|---|---|\n")
	for _, w := range []struct{ bench, what string }{
		{"BenchmarkCity10000FencesBuffer0", "10,000 fences of 100 vertices, search buffer 0 m"},
		{"BenchmarkCity10000Fences", "the same, search buffer 50 m (the service's default)"},
		{"BenchmarkCity10000FencesBuffer500", "the same, search buffer 500 m (mapsdevice's default)"},
		{"BenchmarkPolygon100000", "one polygon of 100,000 vertices, buffer 50 m"},
	} {
		cell := func(engine string) string {
			v := rates[w.bench+"/"+engine]
			if len(v) == 0 {
				return "not run"
			}
			return spread(v, "%.0f")
		}
		ratio := ""
		if ours, theirs := rates[w.bench+"/index"], rates[w.bench+"/tile38"]; len(ours) > 0 && len(theirs) > 0 {
			ratio = fmt.Sprintf("%.2f", median(ours)/median(theirs))
		}
		perPoint := func(engine string) string {
			if v := fences[w.bench+"/"+engine]; len(v) > 0 {
				return fmt.Sprintf("%.2f", median(v))
			}
			return "?"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s, %s |\n", w.what, cell("index"), cell("every-fence"), cell("tile38"), ratio, perPoint("index"), perPoint("tile38"))
	}
	return b.String(), nil
}

// goBench runs the Go benchmarks of the hot paths.
func goBench() (string, error) {
	// The engine's own benchmarks are in the table of engines.
	cmd := exec.Command("go", "test", "-run", "^$", "-bench", ".", "-skip", "^(BenchmarkCity|BenchmarkPolygon100000)", "-benchtime", "2s", "-count", "3", "./internal/geofence", "./internal/report/spool", "./internal/auth/tokenstore")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go test -bench: %v: %s", err, out)
	}
	var b strings.Builder
	b.WriteString("```\n")
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "Benchmark") {
			b.WriteString(sc.Text() + "\n")
		}
	}
	b.WriteString("```\n")
	return b.String(), nil
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// spread is "median (min–max)".
func spread(v []float64, format string) string {
	s := slices.Clone(v)
	slices.Sort(s)
	return fmt.Sprintf(format+" ("+format+"–"+format+")", s[len(s)/2], s[0], s[len(s)-1])
}
