package geofence

import (
	"runtime"
	"testing"
)

// TestIndexMemory checks what the index costs on top of its fences (16
// bytes a vertex), which a Raspberry Pi feels: for the benchmark's city,
// 6.5 bytes a vertex when written; for its polygon of 100,000 vertices,
// 8.9, most of it the grid of sides and its cells' lists of nodes.
func TestIndexMemory(t *testing.T) {
	for _, c := range []struct {
		name   string
		fences []Fence
		most   float64
	}{
		{"city of 10,000 fences of 100 vertices", cityFences(10000, 100), 8},
		{"one polygon of 100,000 vertices", bigPolygon(100000), 10},
	} {
		vertices := 0
		for _, f := range c.fences {
			for _, p := range fenceParts(f) {
				vertices += len(p.pts)
			}
		}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		ix := NewIndex(c.fences)
		runtime.GC()
		runtime.ReadMemStats(&after)
		runtime.KeepAlive(ix)
		perVertex := (float64(after.HeapAlloc) - float64(before.HeapAlloc)) / float64(vertices)
		t.Logf("%s: %.1f bytes a vertex", c.name, perVertex)
		if perVertex > c.most {
			t.Errorf("%s: the index takes %.1f bytes a vertex, want at most %v", c.name, perVertex, c.most)
		}
	}
}
