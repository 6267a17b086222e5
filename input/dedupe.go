package input

import (
	"strconv"
	"strings"

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
	// Sized as it fills, not up front: a huge window must not allocate
	// gigabytes before the first event.
	return &deduper{window: window, set: make(map[string]int, min(window, 1024))}
}

// seed records the resume point (last_event_id or the checkpoint) as
// delivered: a server that replays it after the input resumed there is
// replaying an event the pipeline already had.
func (d *deduper) seed(id string) {
	if id != "" {
		d.seen(sse.Event{LastEventID: id, HasID: true})
	}
}

// seen reports whether ev is a replay to drop, and records it otherwise.
// It remembers copies of IDs, never ev.LastEventID itself: the parser
// carves an event's strings out of one block, so keeping the ID would keep
// the event's whole data alive (100 events of 4 MB pinned 500 MB).
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
	id := strings.Clone(ev.LastEventID)
	if len(d.ring) < d.window {
		d.ring = append(d.ring, id)
	} else {
		old := d.ring[d.next]
		if d.set[old]--; d.set[old] == 0 {
			delete(d.set, old)
		}
		d.ring[d.next] = id
		d.next = (d.next + 1) % d.window
	}
	d.set[id]++
	return false
}
