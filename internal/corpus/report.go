package corpus

import (
	"runtime"
	"testing"
)

// StartPerEvent readies a benchmark over c for [ReportPerEvent]: it
// reports allocations, counts c's stream as the bytes of an iteration, and
// returns the MemStats to pass to ReportPerEvent, read last, just before the
// timed loop.
func StartPerEvent(b *testing.B, c Corpus) *runtime.MemStats {
	b.ReportAllocs()
	b.SetBytes(int64(len(c.Stream)))
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	return &before
}

// ReportPerEvent adds allocs/event and events/s to a benchmark whose every
// iteration handled events events; before is the MemStats read just before
// the timed loop. The allocations are the whole process's, so a library's
// goroutines and, for clients, the loopback server count too.
func ReportPerEvent(b *testing.B, before *runtime.MemStats, events int) {
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	total := float64(b.N) * float64(events)
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/total, "allocs/event")
	b.ReportMetric(total/b.Elapsed().Seconds(), "events/s")
}
