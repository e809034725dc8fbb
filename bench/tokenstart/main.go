// Command tokenstart measures 'mapsdevice token' with a cached token: wall
// time and peak RSS over many runs, against the emulator, per token store.
// Wall time is from start to exit of a direct run; peak RSS comes from a
// second run under GNU time (Debian package time).
//
//	go build -o /tmp/mapsdevice ./cmd/mapsdevice
//	go run ./bench/tokenstart -bin /tmp/mapsdevice -runs 50
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"time"

	"github.com/mapsdevice/mapsdevice/bench/internal/benchenv"
	"github.com/mapsdevice/mapsdevice/bench/measure"
	"github.com/mapsdevice/mapsdevice/emulator"
	"github.com/mapsdevice/mapsdevice/internal/auth/tokenstore"
)

func main() {
	bin := flag.String("bin", "", "path of a built mapsdevice")
	runs := flag.Int("runs", 50, "runs per token store")
	flag.Parse()
	if err := run(*bin, *runs); err != nil {
		fmt.Fprintln(os.Stderr, "tokenstart:", err)
		os.Exit(1)
	}
}

func run(bin string, runs int) error {
	if bin == "" {
		return fmt.Errorf("-bin is required")
	}
	srv, err := emulator.New(emulator.Options{Interval: time.Second, AutoApprove: 100 * time.Millisecond})
	if err != nil {
		return err
	}
	defer srv.Close()
	stores := []string{tokenstore.KindFile}
	if tokenstore.Probe(context.Background(), tokenstore.OSKeyring{Timeout: 3 * time.Second}) == nil {
		stores = append(stores, tokenstore.KindKeyring)
	}
	fmt.Printf("| token store | runs | wall median | wall p10–p90 | peak RSS median | RSS min–max |\n|---|---|---|---|---|---|\n")
	for _, store := range stores {
		home, err := os.MkdirTemp("", "tokenstart-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(home)
		env := append(append(os.Environ(), benchenv.Vars(home, srv)...), "MAPSDEVICE_TOKEN_STORE="+store)
		if err := benchenv.SignIn(bin, env); err != nil {
			return fmt.Errorf("%s: %w", store, err)
		}
		if err := measureToken(srv, bin, env, store, runs, 0); err != nil {
			return err
		}
	}
	// An app credential keeps no token between runs (nothing long-lived to
	// save), so each run asks the emulator for one: MSAL reads the
	// authority's metadata, then asks for the token.
	home, err := os.MkdirTemp("", "tokenstart-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(home)
	id, secret := srv.SecretApp()
	env := append(append(os.Environ(), benchenv.Vars(home, srv)...),
		"MAPSDEVICE_CREDENTIAL=client-secret", "MAPSDEVICE_CLIENT_ID="+id, "MAPSDEVICE_CLIENT_SECRET="+secret)
	return measureToken(srv, bin, env, "none: client secret (2 requests)", runs, 2)
}

// measureToken times runs of 'mapsdevice token', each of which must make
// requests requests of the emulator, and prints a row.
func measureToken(srv *emulator.Server, bin string, env []string, row string, runs, requests int) error {
	before := len(srv.Requests())
	var walls []time.Duration
	var rss []int64
	for range runs {
		cmd := exec.Command(bin, "token")
		cmd.Env = env
		began := time.Now()
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("%s: token: %w", row, err)
		}
		walls = append(walls, time.Since(began))
		kb, err := measure.PeakRSS(env, bin, "token")
		if err != nil {
			return err
		}
		rss = append(rss, kb)
	}
	if n := len(srv.Requests()) - before; n != 2*runs*requests {
		return fmt.Errorf("%s: %d runs made %d requests, want %d", row, 2*runs, n, 2*runs*requests)
	}
	slices.Sort(walls)
	slices.Sort(rss)
	fmt.Printf("| %s | %d | %.1f ms | %.1f–%.1f ms | %.1f MB | %.1f–%.1f MB |\n", row, runs,
		ms(walls[len(walls)/2]), ms(walls[len(walls)/10]), ms(walls[len(walls)*9/10]),
		mb(rss[len(rss)/2]), mb(rss[0]), mb(rss[len(rss)-1]))
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
func mb(kib int64) float64       { return float64(kib) / 1024 }
