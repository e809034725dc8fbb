package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/mapsdevice/mapsdevice/internal/azmaps"
)

func newAPICmd(stdio Stdio) *ffcli.Command {
	var m mapsSettings
	var method, data string
	var query stringList
	fs := newFlagSet("api", stdio)
	m.registerMaps(fs)
	fs.StringVar(&method, "X", "GET", "HTTP method")
	fs.Var(&query, "query", "a query parameter key=value; repeat for more")
	fs.StringVar(&data, "data", "", "request body: @FILE, or - for standard input")
	return &ffcli.Command{
		Name:       "api",
		ShortUsage: "mapsdevice api [-X METHOD] PATH [--query k=v]... [--data @file|-]",
		ShortHelp:  "send an authenticated request to Azure Maps",
		LongHelp: strings.TrimSpace(`
Send a request to the Maps endpoint with the signed-in account's token and
x-ms-client-id (or the shared key), and print the response body. For
example:
  mapsdevice api /route/directions/json --query api-version=1.0 \
    --query query=52.50931,13.42936:52.50274,13.43872`),
		FlagSet:   fs,
		UsageFunc: usage,
		Options:   parseOptions(),
		Exec: func(ctx context.Context, args []string) error {
			pos, err := interspersed(fs, args)
			if err == nil && len(pos) != 1 {
				err = usageError{errors.New("api takes one PATH, like /route/directions/json")}
			}
			if err == nil {
				err = runAPI(ctx, stdio, m, strings.ToUpper(method), pos[0], query, data)
			}
			return finish(stdio, m.settings, m.JSON, err)
		},
	}
}

func runAPI(ctx context.Context, stdio Stdio, m mapsSettings, method, path string, query []string, data string) error {
	if u, err := url.Parse(path); err != nil || u.IsAbs() || u.Host != "" {
		return usageError{fmt.Errorf("PATH %q must be a path like /route/directions/json; the host is --maps-endpoint", path)}
	}
	p, rawQuery, _ := strings.Cut(path, "?")
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return usageError{fmt.Errorf("query in PATH: %w", err)}
	}
	for _, kv := range query {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return usageError{fmt.Errorf("--query %q: use key=value", kv)}
		}
		q.Add(k, v)
	}
	var body *azmaps.Body
	switch {
	case data == "-":
		b := azmaps.Body{Size: -1, Open: func() (io.ReadCloser, error) { return io.NopCloser(stdio.In), nil }}
		body = &b
	case strings.HasPrefix(data, "@"):
		b, err := openGeoJSON(data[1:], stdio.In)
		if err != nil {
			return err
		}
		body = &b
	case data != "":
		b := azmaps.BytesBody([]byte(data))
		body = &b
	}
	client, err := m.mapsClient(ctx, stdio, nil)
	if err != nil {
		return err
	}
	if method == "" {
		method = http.MethodGet
	}
	resp, err := client.Raw(ctx, method, p, q, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(stdio.Out, resp.Body); err != nil {
		return fmt.Errorf("read the response: %w", err)
	}
	return nil
}
