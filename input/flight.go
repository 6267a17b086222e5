package input

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
)

// This file holds what Benthos' AutoRetryNacksBatched and
// InputBatchedWithMaxInFlight would otherwise wrap around the input: the
// replay of rejected batches (auto_replay_nacks) and the bound on batches
// in flight (max_in_flight). Kept in the input, under the hand-off's lock,
// they cost no goroutine per batch: Benthos' wrappers started two per
// batch (one to read, one to watch the context) and woke the pipeline
// through a third, and at ten thousand streams, a few events per batch,
// that machinery was a tenth of the CPU (see the README's Performance).
//
// The semantics are the wrappers':
//   - a batch is in flight from ReadBatch until its acknowledgement; with
//     max_in_flight N > 0, ReadBatch waits while N are;
//   - a rejected batch is handed out again before anything new, as it was
//     (a copy made before any processor saw it), or, when the rejection is
//     a batch error naming some of its messages, only those; replayed at
//     once twice, then after a wait that grows from 1ms to 1s;
//   - with auto_replay_nacks: false a rejected batch is dropped: logged and
//     settled, so that the resume point moves past it;
//   - the input ends (ErrEndOfInput) only once nothing is in flight.

// delivery is a batch in flight: handed out, not yet acknowledged.
type delivery struct {
	batch service.MessageBatch // as handed out
	// index holds the untouched copies of batch's messages, from which a
	// replay is made; nil with auto_replay_nacks: false.
	index   *service.Indexer
	parts   []part        // each stream's share, settled on acceptance
	replays int           // times handed out again
	wait    time.Duration // before the next replay, past the second
}

// Replay waits: as Benthos' own replay of rejected batches.
const (
	firstReplayWait = time.Millisecond
	maxReplayWait   = time.Second
)

// deliver hands out d, indexing it first when a rejection may replay it.
func (in *sseInput) deliver(d *delivery) (service.MessageBatch, service.AckFunc) {
	if in.replayNacks {
		d.index = d.batch.Index()
	}
	var once atomic.Bool
	return d.batch, func(ctx context.Context, err error) error {
		if once.Swap(true) {
			return nil // a second acknowledgement of one hand-out
		}
		in.acknowledged(d, err)
		return nil
	}
}

// acknowledged settles d, or queues it for replay when err rejects it.
func (in *sseInput) acknowledged(d *delivery, err error) {
	h := in.h
	if err != nil && in.replayNacks {
		d.batch = d.rejected(err)
		h.mu.Lock()
		h.replay = append(h.replay, d)
		h.broadcast()
		h.mu.Unlock()
		return
	}
	if err != nil {
		in.log.Warnf("Dropping %d rejected events (auto_replay_nacks is false): %s", len(d.batch), logErr(err))
	}
	for _, p := range d.parts {
		p.r.settled(p.seq)
	}
	h.mu.Lock()
	h.inFlight--
	h.broadcast()
	h.mu.Unlock()
}

// rejected returns the untouched copies of the messages of d that err
// rejects: those a batch error names, or, for any other error (or a batch
// error whose messages cannot be traced back), all of them.
func (d *delivery) rejected(err error) service.MessageBatch {
	var be *service.BatchError
	if errors.As(err, &be) && be.IndexedErrors() > 0 {
		if out := d.walk(be); len(out) > 0 {
			return out
		}
	}
	return d.walk(service.NewBatchError(d.batch, err)) // every message, as the headline error
}

// walk returns the untouched copies of the messages be names as failed,
// each once.
func (d *delivery) walk(be *service.BatchError) service.MessageBatch {
	var out service.MessageBatch
	seen := make(map[int]bool, len(d.batch))
	be.WalkMessagesIndexedBy(d.index, func(i int, m *service.Message, err error) bool {
		if err != nil && !seen[i] {
			seen[i] = true
			out = append(out, m)
		}
		return true
	})
	return out
}

// pause waits before a replay past the second, as Benthos' replay does,
// so that a batch rejected for good does not spin; Close (closing) ends
// the wait, as it ends linger's. It returns false, with the replay not
// made, if done is closed first.
func (d *delivery) pause(done, closing <-chan struct{}) bool {
	d.replays++
	if d.replays <= 2 {
		return true
	}
	d.wait = min(max(firstReplayWait, d.wait*3/2), maxReplayWait)
	return sleep(d.wait, nil, closing, done)
}

// unsettled reports whether a batch is in flight (a rejected one waiting
// for its replay still is: only its acceptance settles it); h.mu must be
// held.
func (h *handoff) unsettled() bool {
	return h.inFlight > 0
}
