package geofence

import (
	"math/rand/v2"
	"testing"
	"time"
)

// steppedStart is how a Monthly or Yearly period found its latest start
// before it counted months: one occurrence at a time from the first.
func steppedStart(p Period, t time.Time) time.Time {
	start := p.Start
	for n := 1; ; n++ {
		next := p.occurrence(n)
		if next.After(t) {
			return start
		}
		start = next
	}
}

// TestMonthlyAndYearlyPeriods: counting months finds the same latest
// start as stepping through every occurrence, month ends and leap days
// included, and a start in year 1 costs no more than one this year.
func TestMonthlyAndYearlyPeriods(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for i := range 20000 {
		start := time.Date(2000+rng.IntN(30), time.Month(1+rng.IntN(12)), 1+rng.IntN(31), rng.IntN(24), 0, 0, 0, time.UTC)
		p := Period{Start: start, End: start.Add(time.Duration(1+rng.IntN(72)) * time.Hour), Recurrence: []string{"Monthly", "Yearly"}[i%2], Frequency: 1 + rng.IntN(5)}
		at := start.Add(time.Duration(rng.Int64N(int64(20 * 365 * 24 * time.Hour))))
		want := steppedStart(p, at)
		got := at.Before(want.Add(p.End.Sub(p.Start)))
		if p.covers(at) != got {
			t.Fatalf("%+v at %s: covers %v, stepping says %v (latest start %s)", p, at, p.covers(at), got, want)
		}
	}
	old := Period{Start: time.Date(1, 1, 31, 8, 0, 0, 0, time.UTC), End: time.Date(1, 1, 31, 18, 0, 0, 0, time.UTC), Recurrence: "Monthly", Frequency: 1}
	for _, at := range []time.Time{
		time.Date(2026, 5, 31, 9, 0, 0, 0, time.UTC), // inside: the 31st
		time.Date(2026, 3, 3, 9, 0, 0, 0, time.UTC),  // 31 February, carried to 3 March
		time.Date(2026, 6, 30, 9, 0, 0, 0, time.UTC), // June has no 31st: 1 July instead
	} {
		want := steppedStart(old, at)
		if got := old.covers(at); got != at.Before(want.Add(10*time.Hour)) {
			t.Errorf("a period from 31 January of year 1 at %s: covers %v, stepping says the latest start is %s", at, got, want)
		}
	}
}
