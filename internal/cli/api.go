package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/mapsdevice/mapsdevice/internal/azmaps"
)

type apiOptions struct {
	mapsOptions
	Method string
	Query  stringList
	Data   string
}

func newAPICmd(stdio Stdio) *ffcli.Command {
	var o apiOptions
	return newLeaf(leaf{
		Command: ffcli.Command{
			Name:       "api",
			ShortUsage: "mapsdevice api [-X METHOD] PATH [--query k=v]... [--data @file|-]",
			ShortHelp:  "send an authenticated request to Azure Maps",
			LongHelp: strings.TrimSpace(`
Send a request to the Maps endpoint with the signed-in account's token and
x-ms-client-id (or the shared key), and print the response body. For
example:
  mapsdevice api /route/directions/json --query api-version=1.0 \
    --query query=52.50931,13.42936:52.50274,13.43872`),
		},
		nargs: 1, takes: "one PATH, like /route/directions/json",
		flags: func(fs *flag.FlagSet) {
			o.register(fs, "errors as JSON events on stdout (the response is written as it is)")
			fs.StringVar(&o.Method, "X", "GET", "HTTP method")
			fs.Var(&o.Query, "query", "a query parameter key=value; repeat for more")
			fs.StringVar(&o.Data, "data", "", "request body: @FILE, or - for standard input")
		},
		run: func(ctx context.Context, args []string) error { return runAPI(ctx, stdio, o, args[0]) },
	})
}

func runAPI(ctx context.Context, stdio Stdio, o apiOptions, path string) error {
	method := strings.ToUpper(o.Method)
	if method == "" {
		method = http.MethodGet
	}
	if strings.Trim(method, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
		return usageError{fmt.Errorf("-X %q: use an HTTP method such as GET or POST", o.Method)}
	}
	if u, err := url.Parse(path); err != nil || u.IsAbs() || u.Host != "" {
		return usageError{fmt.Errorf("PATH %q must be a path like /route/directions/json; the host is --maps-endpoint", path)}
	}
	p, rawQuery, _ := strings.Cut(path, "?")
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return usageError{fmt.Errorf("query in PATH: %w", err)}
	}
	for _, kv := range o.Query {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return usageError{fmt.Errorf("--query %q: use key=value", kv)}
		}
		q.Add(k, v)
	}
	var body *azmaps.Body
	switch {
	case o.Data == "-" || strings.HasPrefix(o.Data, "@"):
		b, err := bodyOf("--data", strings.TrimPrefix(o.Data, "@"), stdio.In)
		if err != nil {
			return err
		}
		body = &b
	case o.Data != "":
		b := azmaps.BytesBody([]byte(o.Data))
		body = &b
	}
	client, err := o.client(ctx, stdio, nil)
	if err != nil {
		return err
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
