package geofence

import (
	"runtime"
	"testing"
)

// TestIndexMemory checks what the index of the benchmark's city costs
// on top of its fences (16 bytes a vertex), which a Raspberry Pi feels:
// 6.0 bytes a vertex when written.
func TestIndexMemory(t *testing.T) {
	const fences, vertices = 10000, 100
	city := cityFences(fences, vertices)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	ix := NewIndex(city)
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(ix)
	perVertex := (float64(after.HeapAlloc) - float64(before.HeapAlloc)) / (fences * vertices)
	t.Logf("%.1f bytes a vertex", perVertex)
	if perVertex > 8 {
		t.Errorf("the index takes %.1f bytes a vertex, want at most 8", perVertex)
	}
}
