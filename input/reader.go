package input

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/benthos-sse/benthos-sse/sse"
)

// The event source is read by one goroutine of the input's own, the reader,
// rather than by ReadBatch, for two reasons:
//
//   - Readiness. Benthos reports an input as connected from the moment its
//     Connect returns nil until ReadBatch returns service.ErrNotConnected,
//     and as failing while Connect returns errors. The event source connects
//     and reconnects inside Next, so with Next called from ReadBatch the
//     input looked connected even when no stream had ever opened. With the
//     reader, Connect waits until the reader's connection attempt opens a
//     stream (nil) or fails (an error carrying the wait before the next
//     attempt), and ReadBatch returns ErrNotConnected once a stream is lost.
//     After a failure the reader waits for the next Connect before it tries
//     again, so that Benthos' view and the event source's agree.
//   - Reading ahead. With max_in_flight: 1, ReadBatch is only called once
//     the previous batch is acknowledged, and an output that batches holds a
//     batch until it fills or its period ends. The reader goes on reading
//     while a batch is in flight, up to max_batch_size events (and
//     readAheadBytes), so the next batch is as large as what arrived
//     meanwhile instead of one read's worth.

// readAheadBytes bounds the event data read ahead: the reader stops adding
// to the next batch once it holds this much, whatever max_batch_size, so
// that large events cannot make a large batch size a memory problem.
const readAheadBytes = 4 << 20

// errEndOnData ends the reader when an event's data is the end_on_data
// sentinel.
var errEndOnData = errors.New("end_on_data sentinel received")

// handoff is what the reader and the Benthos-facing methods share. Every
// change closes and replaces changed, which wakes every waiter.
type handoff struct {
	mu      sync.Mutex
	changed chan struct{}

	batch service.MessageBatch // read ahead, not yet handed out
	bytes int                  // event data in batch
	id    string               // the resume point after batch

	open  bool // a stream is open: Connect returns nil
	opens int  // streams opened so far
	// failed is the last failed connection attempt, for Connect to return,
	// and wait the time until the next attempt.
	failed error
	wait   time.Duration
	// paused: the reader waits for Connect before its next attempt.
	paused bool
	// end is why the reader stopped; nil while it runs.
	end error
}

func newHandoff() *handoff { return &handoff{changed: make(chan struct{})} }

// broadcast wakes every waiter; h.mu must be held.
func (h *handoff) broadcast() {
	close(h.changed)
	h.changed = make(chan struct{})
}

// await waits for the next broadcast, releasing h.mu meanwhile; h.mu must
// be held, and is held again on return. It reports false, without waiting
// further, once done is closed.
func (h *handoff) await(done <-chan struct{}) bool {
	ch := h.changed
	h.mu.Unlock()
	defer h.mu.Lock()
	select {
	case <-ch:
		return true
	case <-done:
		return false
	}
}

// read is the reader goroutine: it pulls events from es until the event
// source ends or Close is called, handing them to ReadBatch through in.h.
func (in *sseInput) read(es *sse.EventSource) {
	defer close(in.readerDone)
	h := in.h
	for {
		room, ok := in.waitForRoom()
		if !ok {
			in.stopReader(sse.ErrClosed)
			return
		}
		ev, err := es.Next(context.Background())
		if errors.Is(err, sse.ErrEventTooLarge) {
			in.oversized(es)
			continue
		}
		if err != nil {
			in.stopReader(err)
			return
		}
		var chunk service.MessageBatch
		var c counts
		size := 0
		appendEvent := func(ev sse.Event) {
			n := len(chunk)
			chunk = in.add(chunk, ev, &c)
			if len(chunk) > n {
				size += len(ev.Data)
			}
		}
		appendEvent(ev)
		for len(chunk) < room && size < readAheadBytes && !in.ending {
			ev, ok, err := es.Buffered()
			if errors.Is(err, sse.ErrEventTooLarge) {
				in.oversized(es)
				continue
			}
			if !ok {
				break
			}
			appendEvent(ev)
		}
		in.count(c)
		id := in.resume.point(es)
		h.mu.Lock()
		if len(chunk) == 0 && len(h.batch) == 0 {
			// Everything was filtered out and nothing waits before it:
			// settled at once, so the resume point moves past it.
			in.settled(in.tracker.track(id, 0))
		} else {
			h.batch = append(h.batch, chunk...)
			h.bytes += size
			h.id = id
		}
		h.broadcast()
		h.mu.Unlock()
		if in.ending {
			in.stopReader(errEndOnData)
			return
		}
	}
}

// waitForRoom waits until the batch being read ahead has room, and returns
// how many events it may still take; ok is false once Close was called.
func (in *sseInput) waitForRoom() (room int, ok bool) {
	h := in.h
	h.mu.Lock()
	defer h.mu.Unlock()
	for len(h.batch) >= in.conf.MaxBatchSize || h.bytes >= readAheadBytes {
		if !h.await(in.closing) {
			return 0, false
		}
	}
	return in.conf.MaxBatchSize - len(h.batch), true
}

// stopReader records why the reader stopped.
func (in *sseInput) stopReader(err error) {
	h := in.h
	h.mu.Lock()
	defer h.mu.Unlock()
	h.open = false
	h.end = err
	h.broadcast()
}

// opened records that a stream opened; the reader calls it from OnOpen.
func (in *sseInput) opened() {
	h := in.h
	h.mu.Lock()
	defer h.mu.Unlock()
	h.open, h.failed = true, nil
	h.opens++
	h.broadcast()
}

// disconnected records that a connection attempt failed (failed != nil)
// or an open stream was lost, and then holds the reader until Connect asks
// for the next attempt (or Close is called). The reader calls it from
// OnError while the event source is about to reconnect.
func (in *sseInput) disconnected(failed error, wait time.Duration) {
	h := in.h
	h.mu.Lock()
	defer h.mu.Unlock()
	h.open = false
	h.failed, h.wait = failed, wait
	h.paused = true
	h.broadcast()
	for h.paused {
		if !h.await(in.closing) {
			return
		}
	}
}
