package tests

// The fleet at scale: N streams (FLEET_SCALE, e.g. 10000) at one event per
// second each, on instances of resources/fleet.yaml on this machine, the
// broker in another process. It reports the time for the streams to move
// after a third instance joins a fleet of two and after one is SIGKILLed,
// and each instance's resident memory per stream. Skipped unless
// FLEET_SCALE is set:
//
//	FLEET_SCALE=10000 go test -run TestFleetScale -v -timeout 20m ./tests/

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestFleetScale(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("FLEET_SCALE"))
	if n <= 0 {
		t.Skip("FLEET_SCALE is not set")
	}
	env := newFleetEnv(t, 30, time.Second)
	var names []string
	for i := range n {
		names = append(names, fmt.Sprintf("s%05d", i))
		env.put(names[i], false)
	}
	sink := startFleetSink(t, env.brokers, fleetEventsTopic)
	producedSince := func(names []string, at map[string]int) func() bool {
		return func() bool {
			for _, name := range names {
				if c, _ := sink.count(name); c <= at[name] {
					return false
				}
			}
			return true
		}
	}
	counts := func(names []string) map[string]int {
		at := map[string]int{}
		for _, name := range names {
			at[name], _ = sink.count(name)
		}
		return at
	}
	keys := func(m map[string]bool) []string {
		var out []string
		for k := range m {
			out = append(out, k)
		}
		return out
	}

	// rss logs each instance's resident memory and returns it by instance,
	// with its streams.
	type mem struct{ kib, streams int }
	rss := func(when string, ins ...*fleetInstance) map[*fleetInstance]mem {
		out := map[*fleetInstance]mem{}
		for _, in := range ins {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(procStatus(in.proc.cmd.Process.Pid, "VmRSS"), " kB")))
			k := len(in.streams())
			out[in] = mem{kb, k}
			t.Logf("%s, %s: %d streams, RSS %d MiB, %.1f KiB per stream", when, in.id, k, kb/1024, float64(kb)/float64(max(k, 1)))
		}
		return out
	}

	start := time.Now()
	a, b := env.start("fleet-a"), env.start("fleet-b")
	within(t, 4*time.Minute, "every stream produces on a fleet of 2", producedSince(names, nil))
	t.Logf("%d streams on 2 instances: all produced %v after the start", n, time.Since(start).Round(time.Millisecond))
	time.Sleep(10 * time.Second)
	before := rss("a fleet of 2", a, b)

	// Join: from the third instance's start until every stream it took
	// has produced again, and the shares are fair (each within 1.3x).
	joined := time.Now()
	at := counts(names)
	c := env.start("fleet-c")
	var moved []string
	within(t, 4*time.Minute, "c takes a fair share", func() bool {
		total, lo, hi := 0, n, 0
		for _, in := range []*fleetInstance{a, b, c} {
			k := len(in.streams())
			total, lo, hi = total+k, min(lo, k), max(hi, k)
		}
		return total == n && lo > 0 && float64(hi) <= 1.3*float64(lo)
	})
	moved = keys(c.streams())
	within(t, 4*time.Minute, "the moved streams produce again", producedSince(moved, at))
	t.Logf("join: %d streams moved to the new instance and produced again %v after it started", len(moved), time.Since(joined).Round(time.Millisecond))

	// Memory per stream, once settled. The instances that gave streams to
	// the newcomer returned their memory (a revocation releases it): what
	// each stream costs an instance is what an instance's memory moved by
	// per stream it gave up.
	time.Sleep(10 * time.Second)
	after := rss("a fleet of 3", a, b, c)
	for _, in := range []*fleetInstance{a, b} {
		d := before[in].streams - after[in].streams
		if d > 0 {
			t.Logf("%s gave up %d streams and %d MiB: %.1f KiB per stream", in.id, d, (before[in].kib-after[in].kib)/1024,
				float64(before[in].kib-after[in].kib)/float64(d))
		}
	}

	// Kill: from the SIGKILL until every stream of the killed instance
	// has produced again.
	lost := keys(c.streams())
	at = counts(lost)
	killed := time.Now()
	require.Equal(t, -1, c.proc.Signal(syscall.SIGKILL))
	within(t, 4*time.Minute, "the killed instance's streams produce again", producedSince(lost, at))
	t.Logf("kill: %d streams of the killed instance produced again %v after the SIGKILL", len(lost), time.Since(killed).Round(time.Millisecond))
}
