package emulator

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

// tzdataVersion is the Version every answer names: canned, as the zone
// data is whatever the host has.
const tzdataVersion = "2025b"

// zone is a canned time zone: the one answered for longitudes below east.
type zone struct {
	east             float64
	id               string
	std              time.Duration // standard offset, used when the host has no zone data
	stdTag           string
	generic, stdName string
	dstName          string
	posix            string
	country, code    string
	repLat, repLon   float64
}

// cannedZones cover the world in longitude bands; the band edges are
// rough, and borders, latitude and politics are ignored.
var cannedZones = []zone{
	{-114.5, "America/Los_Angeles", -8 * time.Hour, "PST", "Pacific Time", "Pacific Standard Time", "Pacific Daylight Time", "PST8PDT,M3.2.0,M11.1.0", "United States", "US", 34.05222, -118.24278},
	{-101.5, "America/Denver", -7 * time.Hour, "MST", "Mountain Time", "Mountain Standard Time", "Mountain Daylight Time", "MST7MDT,M3.2.0,M11.1.0", "United States", "US", 39.73917, -104.98417},
	{-86.5, "America/Chicago", -6 * time.Hour, "CST", "Central Time", "Central Standard Time", "Central Daylight Time", "CST6CDT,M3.2.0,M11.1.0", "United States", "US", 41.85, -87.65},
	{-52, "America/New_York", -5 * time.Hour, "EST", "Eastern Time", "Eastern Standard Time", "Eastern Daylight Time", "EST5EDT,M3.2.0,M11.1.0", "United States", "US", 40.71417, -74.00639},
	{-22.5, "America/Sao_Paulo", -3 * time.Hour, "-03", "Brasilia Time", "Brasilia Standard Time", "Brasilia Summer Time", "<-03>3", "Brazil", "BR", -23.53333, -46.61667},
	{7.5, "Europe/London", 0, "GMT", "British Time", "Greenwich Mean Time", "British Summer Time", "GMT0BST,M3.5.0/1,M10.5.0", "United Kingdom", "GB", 51.50833, -0.12528},
	{22.5, "Europe/Berlin", time.Hour, "CET", "Central European Time", "Central European Standard Time", "Central European Summer Time", "CET-1CEST,M3.5.0,M10.5.0/3", "Germany", "DE", 52.51667, 13.4},
	{37.5, "Europe/Helsinki", 2 * time.Hour, "EET", "Eastern European Time", "Eastern European Standard Time", "Eastern European Summer Time", "EET-2EEST,M3.5.0/3,M10.5.0/4", "Finland", "FI", 60.16667, 24.93333},
	{67.5, "Asia/Dubai", 4 * time.Hour, "+04", "Gulf Time", "Gulf Standard Time", "Gulf Daylight Time", "<+04>-4", "United Arab Emirates", "AE", 25.25222, 55.28},
	{90, "Asia/Kolkata", 5*time.Hour + 30*time.Minute, "IST", "India Time", "India Standard Time", "India Daylight Time", "IST-5:30", "India", "IN", 22.53333, 88.36667},
	{105, "Asia/Bangkok", 7 * time.Hour, "+07", "Indochina Time", "Indochina Time", "Indochina Summer Time", "<+07>-7", "Thailand", "TH", 13.75, 100.51667},
	{127.5, "Asia/Shanghai", 8 * time.Hour, "CST", "China Time", "China Standard Time", "China Daylight Time", "CST-8", "China", "CN", 31.23333, 121.46667},
	{142.5, "Asia/Tokyo", 9 * time.Hour, "JST", "Japan Time", "Japan Standard Time", "Japan Daylight Time", "JST-9", "Japan", "JP", 35.65444, 139.74472},
	{165, "Australia/Sydney", 10 * time.Hour, "AEST", "Eastern Australia Time", "Australian Eastern Standard Time", "Australian Eastern Daylight Time", "AEST-10AEDT,M10.1.0,M4.1.0/3", "Australia", "AU", -33.86667, 151.21667},
	{181, "Pacific/Auckland", 12 * time.Hour, "NZST", "New Zealand Time", "New Zealand Standard Time", "New Zealand Daylight Time", "NZST-12NZDT,M9.5.0,M4.1.0/3", "New Zealand", "NZ", -36.86667, 174.76667},
}

func zoneFor(lon float64) zone {
	for _, z := range cannedZones {
		if lon < z.east {
			return z
		}
	}
	return cannedZones[len(cannedZones)-1]
}

// location is the zone's rules from the host's zone data or, without
// them, its standard offset all year.
func (z zone) location() *time.Location {
	if loc, err := time.LoadLocation(z.id); err == nil {
		return loc
	}
	return time.FixedZone(z.stdTag, int(z.std/time.Second))
}

// offsets splits the offset at t into the standard offset and daylight
// saving, finding the standard offset at a moment of the year without DST.
func offsets(loc *time.Location, t time.Time) (std, dst time.Duration, tag string) {
	local := t.In(loc)
	tag, off := local.Zone()
	if !local.IsDST() {
		return time.Duration(off) * time.Second, 0, tag
	}
	for _, m := range []time.Month{time.January, time.July} {
		other := time.Date(local.Year(), m, 1, 12, 0, 0, 0, loc)
		if !other.IsDST() {
			_, so := other.Zone()
			return time.Duration(so) * time.Second, time.Duration(off-so) * time.Second, tag
		}
	}
	return time.Duration(off) * time.Second, 0, tag
}

// hms formats an offset as the service does: -08:00:00, 01:00:00.
func hms(d time.Duration) string {
	sign := ""
	if d < 0 {
		sign, d = "-", -d
	}
	return fmt.Sprintf("%s%02d:%02d:%02d", sign, int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60)
}

// transitions lists the changes of offset or tag from 'from' on, for
// years years, to the second.
func transitions(loc *time.Location, from time.Time, years int) []map[string]any {
	end := from.AddDate(years, 0, 0)
	type state struct {
		tag string
		off int
	}
	at := func(t time.Time) state { n, o := t.In(loc).Zone(); return state{n, o} }
	var out []map[string]any
	start := from
	cur := at(from)
	for day := from; day.Before(end); {
		next := day.Add(24 * time.Hour)
		if at(next) != cur {
			lo, hi := day, next // the change is in (lo, hi]
			for hi.Sub(lo) > time.Second {
				mid := lo.Add(hi.Sub(lo) / 2).Truncate(time.Second)
				if mid.Equal(lo) {
					mid = lo.Add(time.Second)
				}
				if at(mid) == cur {
					lo = mid
				} else {
					hi = mid
				}
			}
			out = append(out, transition(loc, start, hi))
			start, cur = hi, at(hi)
		}
		day = next
	}
	return append(out, transition(loc, start, time.Time{}))
}

func transition(loc *time.Location, start, end time.Time) map[string]any {
	std, dst, tag := offsets(loc, start)
	tr := map[string]any{"Tag": tag, "StandardOffset": hms(std), "DaylightSavings": hms(dst), "UtcStart": start.UTC().Format(time.RFC3339)}
	if !end.IsZero() {
		tr["UtcEnd"] = end.UTC().Format(time.RFC3339)
	}
	return tr
}

// timezoneByCoordinates answers Get Timezone By Coordinates 1.0 with the
// canned zone of the longitude's band.
func (s *Server) timezoneByCoordinates(w http.ResponseWriter, r *http.Request, _ caller) {
	q, lon, ok := byCoordinates(w, r, "Timezone", "1.0")
	if !ok {
		return
	}
	opts := strings.ToLower(q.Get("options"))
	switch opts {
	case "", "none", "zoneinfo", "transitions", "all":
	default:
		badRequest(w, "options %q is not one of none, zoneInfo, transitions and all.", q.Get("options"))
		return
	}
	ref, ok := timeParam(w, q, "timeStamp", time.Now().UTC())
	if !ok {
		return
	}
	from, ok := timeParam(w, q, "transitionsFrom", ref)
	if !ok {
		return
	}
	years, ok := intParam(w, q, "transitionsYears", 1, 5, 1)
	if !ok {
		return
	}
	z := zoneFor(lon)
	loc := z.location()
	std, dst, tag := offsets(loc, ref)
	tz := map[string]any{
		"Id": z.id,
		"Names": map[string]string{
			"ISO6391LanguageCode": "en", "Generic": z.generic, "Standard": z.stdName, "Daylight": z.dstName,
		},
		"ReferenceTime": map[string]any{
			"Tag":              tag,
			"StandardOffset":   hms(std),
			"DaylightSavings":  hms(dst),
			"WallTime":         ref.In(loc).Format("2006-01-02T15:04:05.0000000-07:00"),
			"PosixTzValidYear": ref.In(loc).Year(),
			"PosixTz":          z.posix,
		},
		"RepresentativePoint": map[string]float64{"Latitude": z.repLat, "Longitude": z.repLon},
	}
	if opts == "zoneinfo" || opts == "all" {
		tz["Aliases"] = []string{}
		tz["Countries"] = []map[string]string{{"Name": z.country, "Code": z.code}}
	}
	if opts == "transitions" || opts == "all" {
		tz["TimeTransitions"] = transitions(loc, from, years)
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"Version":               tzdataVersion,
		"ReferenceUtcTimestamp": ref.Format("2006-01-02T15:04:05.0000000Z"),
		"TimeZones":             []any{tz},
	})
}
