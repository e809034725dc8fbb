package emulator

import (
	"testing"
	"time"
)

// TestZoneWithoutData checks the answer on a host with no zone data for a
// zone: its standard offset and tag all year, with no daylight saving.
func TestZoneWithoutData(t *testing.T) {
	z := zone{id: "Nowhere/Not_A_Zone", std: -8 * time.Hour, stdTag: "PST"}
	loc := z.location()
	for _, day := range []time.Time{time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC), time.Date(2026, 7, 15, 12, 0, 0, 0, time.UTC)} {
		std, dst, tag := offsets(loc, day)
		if hms(std) != "-08:00:00" || hms(dst) != "00:00:00" || tag != "PST" {
			t.Errorf("%s: %s %s %s, want -08:00:00 00:00:00 PST", day.Format(time.DateOnly), hms(std), hms(dst), tag)
		}
	}
	if got := transitions(loc, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), 2); len(got) != 1 || got[0]["UtcEnd"] != nil {
		t.Errorf("transitions %v, want one with no end", got)
	}
}
