package tests

// Small helpers of the fault-injection suite.

import (
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/benthos-sse/benthos-sse/internal/freeport"
)

// datas returns the data of each event.
func datas(evs []event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Data
	}
	return out
}

// seq returns the strings "<prefix><i>" for i in [from, to].
func seq(prefix string, from, to int) []string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, prefix+strconv.Itoa(i))
	}
	return out
}

// freePort returns a 127.0.0.1 address nothing listens on, below the
// ephemeral range that listeners on port 0 are given (see internal/freeport).
func freePort(t *testing.T) string {
	t.Helper()
	addr, err := freeport.Addr()
	require.NoError(t, err)
	return addr
}

// heapSampler records the peak HeapInuse while it runs.
type heapSampler struct {
	stop chan struct{}
	done chan struct{}
	peak atomic.Uint64
}

func sampleHeap(every time.Duration) *heapSampler {
	// From a collected heap: the garbage an earlier test left (such as
	// TestFault_BlockedOutput's buffers) is not this test's peak.
	runtime.GC()
	s := &heapSampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > s.peak.Load() {
				s.peak.Store(ms.HeapInuse)
			}
			select {
			case <-tick.C:
			case <-s.stop:
				return
			}
		}
	}()
	return s
}

// Stop ends sampling and returns the peak in bytes.
func (s *heapSampler) Stop() uint64 {
	close(s.stop)
	<-s.done
	return s.peak.Load()
}

const mib = 1 << 20

// sseYAML returns the YAML of an `sse` input for url with a fast reconnect
// (50ms asked, which the input floors at 100ms; 200ms at most) and the
// extra field lines given, each like "idle_timeout: 1s".
func sseYAML(url string, extra ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "sse:\n  url: %q\n  reconnect: {initial_interval: 50ms, max_interval: 200ms}\n", url)
	for _, e := range extra {
		b.WriteString("  " + e + "\n")
	}
	return b.String()
}

// gaps returns the times between consecutive records.
func gaps[T any](xs []T, at func(T) time.Time) []time.Duration {
	var out []time.Duration
	for i := 1; i < len(xs); i++ {
		out = append(out, at(xs[i]).Sub(at(xs[i-1])))
	}
	return out
}
