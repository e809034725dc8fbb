package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/mapsdevice/mapsdevice/internal/azmaps"
	"github.com/mapsdevice/mapsdevice/internal/geofence"
)

func newGeofenceCmd(stdio Stdio) *ffcli.Command {
	return &ffcli.Command{
		Name:       "geofence",
		ShortUsage: "mapsdevice geofence <command> [flags]",
		ShortHelp:  "validate, upload and check GeoJSON geofences in Azure Maps",
		LongHelp: strings.TrimSpace(`
Work with GeoJSON geofences: 'validate' checks a file and 'check --file'
says where positions stand against it, both on the device with no
sign-in. With a sign-in, the Data v2 service keeps fences (upload, update,
list, get, delete) and the Spatial service checks positions against them
(check --udid, check --remote).

Microsoft retired the Data and Spatial services (Data on 2024-09-16,
Spatial on 2025-09-30). Point --maps-endpoint (MAPSDEVICE_MAPS_ENDPOINT)
at a compatible endpoint, such as 'mapsdevice emulator'.`),
		FlagSet:   flag.NewFlagSet("geofence", flag.ContinueOnError),
		UsageFunc: usage,
		Subcommands: []*ffcli.Command{
			newGeofenceValidateCmd(stdio),
			newGeofenceUploadCmd(stdio),
			newGeofenceUpdateCmd(stdio),
			newGeofenceListCmd(stdio),
			newGeofenceGetCmd(stdio),
			newGeofenceDeleteCmd(stdio),
			newGeofenceCheckCmd(stdio),
			newGeofenceShowCmd(stdio),
		},
		Exec: groupExec("geofence command"),
	}
}

// mapsOptions are the flag groups of a command that calls Azure Maps:
// sign-in, Maps and output.
type mapsOptions struct {
	settings
	maps mapsSettings
	JSON bool
}

func (o *mapsOptions) register(fs *flag.FlagSet, jsonHelp string) {
	o.settings.registerWithCredential(fs)
	o.maps.register(fs)
	registerJSON(fs, &o.JSON, jsonHelp)
}

func (o mapsOptions) client(ctx context.Context, stdio Stdio, progress func(azmaps.Progress)) (*azmaps.Client, error) {
	return o.maps.client(ctx, stdio, o.settings, progress)
}

// openLocal opens a local file named on the command line (what says
// where: "FILE", "--input") and makes sure it is a file, so that a
// folder or a file that cannot be read is a usage error, said before
// anything is sent.
func openLocal(what, name string) (*os.File, os.FileInfo, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, nil, usageError{fmt.Errorf("%s: %w", what, err)}
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, usageError{fmt.Errorf("%s: %w", what, err)}
	}
	if st.IsDir() {
		f.Close()
		return nil, nil, usageError{fmt.Errorf("%s %s is a folder, not a file", what, name)}
	}
	return f, st, nil
}

// notAFolder is openLocal's check for a file that is not opened yet.
func notAFolder(what, name string) error {
	st, err := os.Stat(name)
	switch {
	case err != nil:
		return usageError{fmt.Errorf("%s: %w", what, err)}
	case st.IsDir():
		return usageError{fmt.Errorf("%s %s is a folder, not a file", what, name)}
	}
	return nil
}

// bodyOf is a request body from a local file, or from standard input for
// "-", which can be sent only once.
func bodyOf(what, name string, stdin io.Reader) (azmaps.Body, error) {
	if name == "-" {
		used := false
		return azmaps.Body{Size: -1, Open: func() (io.ReadCloser, error) {
			if used {
				return nil, errors.New("standard input cannot be sent twice")
			}
			used = true
			return io.NopCloser(stdin), nil
		}}, nil
	}
	f, st, err := openLocal(what, name)
	if err != nil {
		return azmaps.Body{}, err
	}
	f.Close()
	return azmaps.Body{Size: st.Size(), Open: func() (io.ReadCloser, error) { return os.Open(name) }}, nil
}

// openGeoJSON is bodyOf for a geofence file, refusing one over the
// service's limit before reading it.
func openGeoJSON(what, name string, stdin io.Reader) (azmaps.Body, error) {
	body, err := bodyOf(what, name, stdin)
	if err != nil {
		return body, err
	}
	if body.Size > geofence.MaxUploadSize {
		return azmaps.Body{}, &exitError{code: ExitData, errCode: "too_large", msg: fmt.Sprintf(
			"%s is %d MB; Azure Maps takes at most 100 MB per upload. Split the fences into several files.", name, body.Size>>20)}
	}
	return body, nil
}

// progress shows an upload and the wait that follows: updated in place on
// a terminal, a line per stage otherwise, nothing with --json.
type progress struct {
	w      io.Writer
	tty    bool
	quiet  bool
	stage  string
	inline bool
}

func newProgress(stdio Stdio, quiet bool) *progress {
	return &progress{w: stdio.Err, tty: stdio.ErrTerminal, quiet: quiet}
}

func (p *progress) report(e azmaps.Progress) {
	if p.quiet {
		return
	}
	var line string
	switch e.Stage {
	case "upload":
		line = "Uploading " + bytesText(e.Sent)
		if e.Size > 0 {
			line += fmt.Sprintf(" of %s (%d%%)", bytesText(e.Size), e.Sent*100/e.Size)
		}
	case "operation":
		line = "Azure Maps is processing the upload: " + e.Status
	}
	if p.tty {
		fmt.Fprintf(p.w, "\r\x1b[K%s", line)
		p.inline = true
		return
	}
	if e.Stage != p.stage || e.Stage == "operation" {
		fmt.Fprintln(p.w, line)
	}
	p.stage = e.Stage
}

func (p *progress) done() {
	if p.inline {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.inline = false
	}
}

func bytesText(n int64) string {
	switch {
	case n >= 1e6:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	}
	return fmt.Sprintf("%d B", n)
}

// roleError names the Azure Maps role a refused call needed.
type roleError struct {
	role string
	err  *azmaps.APIError
}

func (e *roleError) Error() string { return e.err.Error() }
func (e *roleError) Unwrap() error { return e.err }

func needsRole(err error, role string) error {
	var ae *azmaps.APIError
	if errors.As(err, &ae) && ae.Status == 403 {
		return &roleError{role: role, err: ae}
	}
	return err
}
