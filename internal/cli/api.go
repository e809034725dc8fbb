package cli

import (
	"context"
	"encoding/json"
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
	Method   string
	Query    stringList
	Header   stringList
	Data     string
	Paginate bool
}

func newAPICmd(stdio Stdio) *ffcli.Command {
	var o apiOptions
	return newLeaf(leaf{
		Command: ffcli.Command{
			Name:       "api",
			ShortUsage: "mapsdevice api PATH [-X METHOD] [--query k=v]... [--data @FILE|-|TEXT]",
			ShortHelp:  "send an authenticated request to Azure Maps",
			LongHelp: strings.TrimSpace(`
Send a request to the Maps endpoint with the signed-in account's token and
x-ms-client-id (or the shared key), and print the response body. With
--data the method is POST unless -X says otherwise, and the body is sent
as JSON unless a Content-Type header says otherwise. --paginate follows
each answer's nextLink on the same host and prints every page. For example:

  mapsdevice api /geocode --query api-version=2026-01-01 \
    --query query="1 Microsoft Way, Redmond"
  mapsdevice api /route/directions --query api-version=2025-01-01 \
    -X POST --data @route.json
  mapsdevice api /timezone/byCoordinates/json --query api-version=1.0 \
    --query query=47.6397,-122.1270
  mapsdevice api /map/static --query api-version=2024-04-01 \
    --query tilesetId=microsoft.base.road --query zoom=12 \
    --query center=-122.127,47.640 > map.png

route.json is a GeoJSON FeatureCollection of waypoints, longitude first:
  {"type":"FeatureCollection","travelMode":"driving","features":[
   {"type":"Feature","properties":{"pointIndex":0,"pointType":"waypoint"},
    "geometry":{"type":"Point","coordinates":[-122.127,47.640]}},
   {"type":"Feature","properties":{"pointIndex":1,"pointType":"waypoint"},
    "geometry":{"type":"Point","coordinates":[-122.335,47.608]}}]}`),
		},
		nargs: 1, takes: "one PATH, like /geocode",
		flags: func(fs *flag.FlagSet) {
			o.register(fs, "errors as JSON events on stdout (the response is written as it is)")
			fs.StringVar(&o.Method, "X", "", "HTTP method (default GET, or POST with --data)")
			fs.StringVar(&o.Method, "method", "", "the same as -X")
			fs.Var(&o.Query, "query", "a query parameter key=value; repeat for more")
			fs.Var(&o.Header, "header", `a request header "Name: value"; repeat for more`)
			fs.StringVar(&o.Data, "data", "", "request body: @FILE, - for standard input, or the text itself")
			fs.BoolVar(&o.Paginate, "paginate", false, "follow nextLink and print every page")
		},
		run: func(ctx context.Context, args []string) error { return runAPI(ctx, stdio, o, args[0]) },
	})
}

// maxPage bounds one page read for --paginate, which must read the whole
// page to find its nextLink.
const maxPage = 64 << 20

func runAPI(ctx context.Context, stdio Stdio, o apiOptions, path string) error {
	method := strings.ToUpper(o.Method)
	switch {
	case method == "" && o.Data != "":
		method = http.MethodPost
	case method == "":
		method = http.MethodGet
	}
	if strings.Trim(method, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
		return usageError{fmt.Errorf("-X %q: use an HTTP method such as GET or POST", o.Method)}
	}
	if o.Paginate && method != http.MethodGet {
		return usageError{fmt.Errorf("--paginate follows nextLink with GET; it cannot be used with %s", method)}
	}
	if u, err := url.Parse(path); err != nil || u.IsAbs() || u.Host != "" {
		return usageError{fmt.Errorf("PATH %q must be a path like /geocode; the host is --maps-endpoint", path)}
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
	header, err := requestHeader(o.Header)
	if err != nil {
		return err
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
	req := azmaps.RawRequest{Method: method, URL: client.URL(p, q), Header: header, Body: body}
	for page := 1; ; page++ {
		resp, err := client.Send(ctx, req)
		if err != nil {
			return err
		}
		if stdio.OutTerminal && !textual(resp.Header.Get("Content-Type")) {
			resp.Body.Close()
			return fmt.Errorf("the answer is %s, not text: send it to a file (mapsdevice api ... > FILE)", resp.Header.Get("Content-Type"))
		}
		if !o.Paginate {
			defer resp.Body.Close()
			if _, err := io.Copy(stdio.Out, resp.Body); err != nil {
				return fmt.Errorf("read the response: %w", err)
			}
			return nil
		}
		next, err := copyPage(stdio.Out, resp.Body)
		resp.Body.Close()
		if err != nil {
			return fmt.Errorf("page %d: %w", page, err)
		}
		if next == "" {
			return nil
		}
		u, err := url.Parse(next)
		if err != nil || !u.IsAbs() {
			return fmt.Errorf("page %d: nextLink %q is not an address", page, next)
		}
		// A nextLink on another host is not followed: the token or key
		// would go with it.
		req = azmaps.RawRequest{Method: method, URL: u, Header: header}
	}
}

// requestHeader reads --header values. The sign-in sets the auth headers.
func requestHeader(lines []string) (http.Header, error) {
	h := http.Header{}
	for _, l := range lines {
		name, value, ok := strings.Cut(l, ":")
		name = strings.TrimSpace(name)
		if !ok || name == "" || strings.ContainsAny(name, " \t") {
			return nil, usageError{fmt.Errorf("--header %q: use \"Name: value\"", l)}
		}
		switch strings.ToLower(name) {
		case "authorization", "x-ms-client-id":
			return nil, usageError{fmt.Errorf("--header %s: the sign-in sets it; choose the account with --client-id, --maps-client-id or --credential", name)}
		}
		h.Add(name, strings.TrimSpace(value))
	}
	return h, nil
}

// textual says whether a content type is fit for a terminal.
func textual(contentType string) bool {
	ct, _, _ := strings.Cut(contentType, ";")
	ct = strings.TrimSpace(strings.ToLower(ct))
	return ct == "" || strings.HasPrefix(ct, "text/") || strings.HasSuffix(ct, "json") || strings.HasSuffix(ct, "xml")
}

// copyPage writes one page, ending it with a newline, and returns its
// nextLink, if any.
func copyPage(out io.Writer, body io.Reader) (string, error) {
	b, err := io.ReadAll(io.LimitReader(body, maxPage+1))
	if err != nil {
		return "", fmt.Errorf("read the response: %w", err)
	}
	if len(b) > maxPage {
		return "", fmt.Errorf("the page is over %d MB; --paginate reads whole pages", maxPage>>20)
	}
	if len(b) > 0 && b[len(b)-1] != '\n' {
		b = append(b, '\n')
	}
	if _, err := out.Write(b); err != nil {
		return "", err
	}
	var page struct {
		NextLink string `json:"nextLink"`
	}
	if json.Unmarshal(b, &page) != nil {
		return "", nil // not JSON: nothing to follow
	}
	return page.NextLink, nil
}
