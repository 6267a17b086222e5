package input

import (
	"strconv"

	benthossse "github.com/benthos-sse/benthos-sse"
	"github.com/benthos-sse/benthos-sse/sse"
)

// deduper drops events a server replays after a reconnection. Only events
// whose own lines carry an id are judged: an event without one inherits the
// previous ID and says nothing about replay.
type deduper struct {
	monotonic bool

	highest    uint64
	hasHighest bool

	window int
	ring   []string
	next   int
	set    map[string]int // ID -> occurrences in ring
}

func newDeduper(mode benthossse.DedupeMode, window int) *deduper {
	if mode == benthossse.DedupeMonotonic {
		return &deduper{monotonic: true}
	}
	return &deduper{window: window, set: make(map[string]int, window)}
}

// seen reports whether ev is a replay to drop, and records it otherwise.
func (d *deduper) seen(ev sse.Event) bool {
	if !ev.HasID || ev.LastEventID == "" {
		return false
	}
	if d.monotonic {
		n, err := strconv.ParseUint(ev.LastEventID, 10, 64)
		if err != nil {
			return false // not an integer: no claim to judge it by
		}
		if d.hasHighest && n <= d.highest {
			return true
		}
		d.highest, d.hasHighest = n, true
		return false
	}
	if d.set[ev.LastEventID] > 0 {
		return true
	}
	if len(d.ring) < d.window {
		d.ring = append(d.ring, ev.LastEventID)
	} else {
		old := d.ring[d.next]
		if d.set[old]--; d.set[old] == 0 {
			delete(d.set, old)
		}
		d.ring[d.next] = ev.LastEventID
		d.next = (d.next + 1) % d.window
	}
	d.set[ev.LastEventID]++
	return false
}
