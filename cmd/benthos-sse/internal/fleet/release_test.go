package fleet

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestMemoryReleaser: every release asked for is followed by a release
// that starts after it, however the asks race with a release running, and
// releases never overlap.
func TestMemoryReleaser(t *testing.T) {
	var active, overlaps, runs atomic.Int64
	var last atomic.Int64 // when the newest release started, in ns
	m := &memoryReleaser{free: func() {
		if active.Add(1) > 1 {
			overlaps.Add(1)
		}
		last.Store(time.Now().UnixNano())
		runs.Add(1)
		time.Sleep(time.Millisecond)
		active.Add(-1)
	}}
	var wg sync.WaitGroup
	var asked atomic.Int64 // when the newest ask was made, in ns
	for range 8 {
		wg.Go(func() {
			for range 50 {
				asked.Store(time.Now().UnixNano())
				m.release()
				time.Sleep(100 * time.Microsecond)
			}
		})
	}
	wg.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for m.running.Load() || m.pending.Load() {
		if time.Now().After(deadline) {
			t.Fatal("the releaser never went idle")
		}
		time.Sleep(time.Millisecond)
	}
	if overlaps.Load() != 0 {
		t.Errorf("%d releases overlapped", overlaps.Load())
	}
	if last.Load() < asked.Load() {
		t.Error("the last ask was not followed by a release")
	}
	if n := runs.Load(); n == 0 || n >= 400 {
		t.Errorf("%d releases for 400 asks: want some, fewer than the asks", n)
	}
}
