package fleet

import (
	"runtime/debug"
	"sync/atomic"
)

// memoryReleaser gives the memory of stopped streams back to the operating
// system after a revocation. The Go runtime keeps freed memory up to about
// its heap goal and returns the rest slowly, so an instance that handed a
// third of its streams to a newcomer would go on holding their memory
// (their buffers, and their goroutines' stacks) for minutes: a fleet sized
// by its containers' memory limits needs it back at the rebalance. A
// release is one full garbage collection, run on its own goroutine so that
// the rebalance does not wait for it, one at a time; releases asked for
// meanwhile are served by one more.
type memoryReleaser struct {
	pending atomic.Bool // asked for, not yet started
	running atomic.Bool // a goroutine is releasing
	free    func()      // debug.FreeOSMemory; a test's counter
}

var releaser = &memoryReleaser{free: debug.FreeOSMemory}

// release asks for a release without waiting for it.
func (m *memoryReleaser) release() {
	m.pending.Store(true)
	if m.running.CompareAndSwap(false, true) {
		go m.loop()
	}
}

func (m *memoryReleaser) loop() {
	for {
		for m.pending.Swap(false) {
			m.free()
		}
		m.running.Store(false)
		// A release asked for after the last Swap found running set and
		// left it to this goroutine.
		if !m.pending.Load() || !m.running.CompareAndSwap(false, true) {
			return
		}
	}
}
