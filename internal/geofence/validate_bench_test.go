package geofence

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/paulmach/orb"
)

// planted is a problem put into a generated collection on purpose: where,
// and a piece of the message that must say what.
type planted struct {
	feature int
	pointer string
	text    string
}

// collection is a generated FeatureCollection of about size bytes: mostly
// polygons of 100 vertices, with circles, buffered lines and validity
// times among them, written as a GIS tool writes them (six decimals,
// properties before geometry). The polygons are zones as people draw
// them (zoneRing), or with jagged, the spiky stars that are the hardest
// for the check that rings do not cross themselves. Every invalidEvery-th
// feature (none when 0) breaks one rule, and the problems planted are
// returned.
func collection(size, invalidEvery int, jagged bool) ([]byte, []planted) {
	rng := rand.New(rand.NewPCG(13, 100))
	b := make([]byte, 0, size+8<<10)
	b = append(b, `{"type":"FeatureCollection","features":[`...)
	var want []planted
	for i := 0; len(b) < size; i++ {
		if i > 0 {
			b = append(b, ",\n"...)
		}
		bad := invalidEvery > 0 && i%invalidEvery == invalidEvery-1
		kind := i % 10
		if bad {
			// Each kind of planted problem in turn.
			kind = []int{7, 8, 3, 0, 1}[(i/invalidEvery)%5]
		}
		lon, lat := -170+340*rng.Float64(), -80+160*rng.Float64()
		id := strconv.Itoa(i)
		var p *planted
		switch k := kind; {
		case k == 7:
			radius := "250"
			if bad {
				radius = "20000"
				p = &planted{i, fmt.Sprintf("/features/%d/properties/radius", i), "radius 20000 is out of range"}
			}
			b = fmt.Appendf(b, `{"type":"Feature","properties":{"geometryId":%q,"subType":"Circle","radius":%s},"geometry":{"type":"Point","coordinates":[%.6f,%.6f]}}`, id, radius, lon, lat)
		case k == 8:
			if bad { // the id of the feature before
				id = strconv.Itoa(i - 1)
				p = &planted{i, fmt.Sprintf("/features/%d/properties/geometryId", i), "also used by feature " + id}
			}
			b = fmt.Appendf(b, `{"type":"Feature","properties":{"geometryId":%q,"radius":40},"geometry":{"type":"LineString","coordinates":[`, id)
			for j := range 50 {
				if j > 0 {
					b = append(b, ',')
				}
				b = fmt.Appendf(b, "[%.6f,%.6f]", lon+float64(j)*0.0003, lat+0.0001*float64(j%3))
			}
			b = append(b, "]}}"...)
		default:
			validity := ""
			if k == 3 {
				end := "2026-01-01T18:00:00Z"
				if bad {
					end = "2025-12-31T18:00:00Z"
					p = &planted{i, fmt.Sprintf("/features/%d/properties/validityTime/validityPeriod/0/endTime", i), "after startTime"}
				}
				validity = `,"validityTime":{"expiredTime":"2027-01-01T00:00:00Z","validityPeriod":[{"startTime":"2026-01-01T08:00:00Z","endTime":"` + end + `","recurrenceType":"Daily","businessDayOnly":true}]}`
			}
			b = fmt.Appendf(b, `{"type":"Feature","properties":{"geometryId":%q%s},"geometry":{"type":"Polygon","coordinates":[`, id, validity)
			ring := polygonRing(rng, jagged, lon, lat)
			if bad && k != 3 {
				switch k {
				case 0: // the ring is left open
					ring = ring[:len(ring)-1]
					p = &planted{i, fmt.Sprintf("/features/%d/geometry/coordinates/0/%d", i, len(ring)-1), "not closed"}
				default: // one latitude is off the map
					ring[40][1] = 91 + rng.Float64()
					p = &planted{i, fmt.Sprintf("/features/%d/geometry/coordinates/0/40/1", i), "latitude"}
				}
			}
			b = appendRing(b, ring)
			b = append(b, "]}}"...)
		}
		if p != nil {
			want = append(want, *p)
		}
	}
	b = append(b, "]}\n"...)
	return b, want
}

// polygonRing is a valid ring of 100 vertices round (lon, lat), as
// written with six decimals: rounded so, a spiky star can touch itself,
// and is drawn again.
func polygonRing(rng *rand.Rand, jagged bool, lon, lat float64) orb.Ring {
	for {
		ring := zoneRing(rng, 100, lon, lat)
		if jagged {
			ring = starRing(rng, 100, lon, lat)
		}
		for j, p := range ring {
			ring[j] = orb.Point{math.Round(p[0]*1e6) / 1e6, math.Round(p[1]*1e6) / 1e6}
		}
		if ringShapeProblem(ring) == "" {
			return ring
		}
	}
}

// zoneRing is a ring of n vertices round (lon, lat), a few hundred metres
// to a kilometre across, with a wavy border and jittered vertices.
func zoneRing(rng *rand.Rand, n int, lon, lat float64) orb.Ring {
	r := make(orb.Ring, 0, n+1)
	size, phase := 0.002+0.01*rng.Float64(), 2*math.Pi*rng.Float64()
	for i := range n {
		a := 2 * math.Pi * (float64(i) + 0.5*rng.Float64()) / float64(n)
		rad := size * (1 + 0.15*math.Sin(5*a+phase) + 0.05*rng.Float64())
		r = append(r, orb.Point{lon + rad*math.Cos(a)*1.5, lat + rad*math.Sin(a)})
	}
	return append(r, r[0])
}

func appendRing(b []byte, ring orb.Ring) []byte {
	b = append(b, '[')
	for j, pt := range ring {
		if j > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		b = strconv.AppendFloat(b, pt[0], 'f', 6, 64)
		b = append(b, ',')
		b = strconv.AppendFloat(b, pt[1], 'f', 6, 64)
		b = append(b, ']')
	}
	return append(b, ']')
}

// benchSize is the size of the collection the benchmarks read.
const benchSize = 16 << 20

// BenchmarkValidateStream is streaming validation of a FeatureCollection
// with a problem in one feature in a hundred; BenchmarkDecodeAny reads the
// same bytes.
func BenchmarkValidateStream(b *testing.B) {
	for _, jagged := range []bool{false, true} {
		data, want := collection(benchSize, 100, jagged)
		b.Run(benchName(jagged), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				_, err := Validate(bytes.NewReader(data))
				var inv *InvalidError
				if !errors.As(err, &inv) || len(inv.Problems) != len(want) {
					b.Fatalf("got %v, want %d problems", err, len(want))
				}
			}
		})
	}
}

// BenchmarkDecodeAny is the peer: encoding/json decoding the same bytes
// into any, which checks only that they are JSON.
func BenchmarkDecodeAny(b *testing.B) {
	for _, jagged := range []bool{false, true} {
		data, _ := collection(benchSize, 100, jagged)
		b.Run(benchName(jagged), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				var v any
				if err := json.Unmarshal(data, &v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func benchName(jagged bool) string {
	if jagged {
		return "jagged"
	}
	return "zones"
}
