package input

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/benthos-sse/benthos-sse/sse"
)

// tracker turns acknowledgements, which arrive out of order and
// concurrently, into a contiguous watermark: the last event ID of the newest
// batch such that it and every earlier batch are settled.
type tracker struct {
	mu      sync.Mutex
	base    uint64  // sequence number of pending[0]
	pending []batch // batches not yet below the watermark, in order
	mark    string  // the watermark's last event ID
	hasMark bool
	inQueue int    // events in pending batches that are not yet settled
	lastID  string // the last id tracked, copied: the next batch of a stream without ids shares it
}

type batch struct {
	id      string
	events  int
	settled bool
}

// track records a batch of events whose last event ID is id and returns its
// sequence number.
func (t *tracker) track(id string, events int) uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	// A copy: the event source's ID is a view of an event's block, which the
	// watermark and the last checkpoint written would otherwise keep alive.
	// One copy per ID: batches of a stream whose events carry no new ID
	// share the last.
	if id != t.lastID {
		t.lastID = strings.Clone(id)
	}
	t.pending = append(t.pending, batch{id: t.lastID, events: events})
	t.inQueue += events
	return t.base + uint64(len(t.pending)) - 1
}

// maxKeptPending bounds the tracker's backing array kept once it is empty.
const maxKeptPending = 16

// settle marks a batch as done and reports whether the watermark moved.
func (t *tracker) settle(seq uint64) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	i := seq - t.base
	if seq < t.base || i >= uint64(len(t.pending)) || t.pending[i].settled {
		return false
	}
	t.pending[i].settled = true
	t.inQueue -= t.pending[i].events
	moved := false
	pending := t.pending
	for len(t.pending) > 0 && t.pending[0].settled {
		t.mark, t.hasMark, moved = t.pending[0].id, true, true
		t.pending[0] = batch{}
		t.pending = t.pending[1:]
		t.base++
	}
	if len(t.pending) == 0 {
		// Keep a small array for the next batch (at 1 event/s a stream
		// empties it after nearly every batch); let a large one go.
		if cap(pending) <= maxKeptPending {
			t.pending = pending[:0] // from the array's start, not past what was settled
		} else {
			t.pending = nil
		}
	}
	return moved
}

// watermark returns the last event ID up to which everything is settled.
func (t *tracker) watermark() (string, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.mark, t.hasMark
}

// unsettled returns the number of events handed out and not yet settled.
func (t *tracker) unsettled() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.inQueue
}

// checkpointStore keeps the resume point in a cache resource, crash-safely
// over caches that do not write atomically (the core file cache truncates
// and then writes). Two keys are written in turn, each value carrying a
// generation and a checksum; reading takes the newest valid one, so a torn
// write loses at most the write it tore.
type checkpointStore struct {
	res   *service.Resources
	cache string
	key   string
}

const checkpointMagic = "sse-checkpoint/1"

// maxCheckpointSize bounds a checkpoint value: the magic, a generation of
// at most 20 digits, an 8-digit checksum, three spaces and an ID of at most
// sse.MaxIDLength bytes. A larger value is not one this input wrote and is
// rejected before anything is copied or decoded (a 300 MB garbage value
// was read whole, then copied twice).
const maxCheckpointSize = len(checkpointMagic) + 1 + 20 + 1 + 8 + 1 + sse.MaxIDLength

func (s *checkpointStore) slot(gen uint64) string {
	if gen%2 == 0 {
		return s.key + ".a"
	}
	return s.key + ".b"
}

// encodeCheckpoint renders a checkpoint value: magic, generation, CRC-32 of
// the ID, and the ID, space separated. The ID goes last because it may
// contain spaces.
func encodeCheckpoint(gen uint64, id string) []byte {
	return fmt.Appendf(nil, "%s %d %08x %s", checkpointMagic, gen, crc32.ChecksumIEEE([]byte(id)), id)
}

// decodeCheckpoint parses a value written by encodeCheckpoint; ok is false
// for anything else: a truncated value, a value above maxCheckpointSize,
// or one not in the exact form encodeCheckpoint writes (so a decoded value
// always encodes back to the same bytes).
func decodeCheckpoint(v []byte) (gen uint64, id string, ok bool) {
	if len(v) > maxCheckpointSize {
		return 0, "", false
	}
	parts := strings.SplitN(string(v), " ", 4)
	if len(parts) != 4 || parts[0] != checkpointMagic {
		return 0, "", false
	}
	gen, err := strconv.ParseUint(parts[1], 10, 64)
	if err != nil {
		return 0, "", false
	}
	sum, err := strconv.ParseUint(parts[2], 16, 32)
	if err != nil || uint32(sum) != crc32.ChecksumIEEE([]byte(parts[3])) {
		return 0, "", false
	}
	if !bytes.Equal(encodeCheckpoint(gen, parts[3]), v) {
		return 0, "", false // leading zeros, upper-case hex, a sign...
	}
	return gen, parts[3], true
}

// newerGeneration reports whether generation a was written after b. The
// two slots hold consecutive generations, so serial-number arithmetic
// (RFC 1982) orders them across the wrap from 2^64-1 to 0, where a plain
// a > b would let the stale copy win forever.
func newerGeneration(a, b uint64) bool { return int64(a-b) > 0 }

// load returns the newest valid checkpoint. ok is false when there is none.
// invalid lists the keys that held something else: a torn write, or a
// value written by hand. unsendable lists the keys whose checkpoint holds
// an ID that cannot be sent as Last-Event-ID (written by hand, or by a
// version that checkpointed any ID): they are ignored, since resuming from
// them would fail every request.
// loaded is what load returns, kept for a reader that starts later.
type loaded struct {
	gen                 uint64
	id                  string
	ok                  bool
	invalid, unsendable []string
}

// loaded is load, returning a loaded.
func (s *checkpointStore) loaded(ctx context.Context) (*loaded, error) {
	var l loaded
	var err error
	l.gen, l.id, l.ok, l.invalid, l.unsendable, err = s.load(ctx)
	if err != nil {
		return nil, err
	}
	return &l, nil
}

func (s *checkpointStore) load(ctx context.Context) (gen uint64, id string, ok bool, invalid, unsendable []string, err error) {
	for _, k := range []string{s.key + ".a", s.key + ".b"} {
		var v []byte
		var getErr error
		if aerr := s.res.AccessCache(ctx, s.cache, func(c service.Cache) {
			v, getErr = c.Get(ctx, k)
		}); aerr != nil {
			return 0, "", false, nil, nil, fmt.Errorf("checkpoint.cache %q: %w", s.cache, aerr)
		}
		if errors.Is(getErr, service.ErrKeyNotFound) {
			continue
		}
		if getErr != nil {
			return 0, "", false, nil, nil, fmt.Errorf("checkpoint.cache %q: get %q: %w", s.cache, k, getErr)
		}
		g, i, valid := decodeCheckpoint(v)
		if !valid {
			invalid = append(invalid, k)
			continue
		}
		if !sse.SendableID(i) {
			unsendable = append(unsendable, k)
			continue
		}
		if !ok || newerGeneration(g, gen) {
			gen, id, ok = g, i, true
		}
	}
	return gen, id, ok, invalid, unsendable, nil
}

// save writes generation gen of the checkpoint.
func (s *checkpointStore) save(ctx context.Context, gen uint64, id string) error {
	var setErr error
	if err := s.res.AccessCache(ctx, s.cache, func(c service.Cache) {
		setErr = c.Set(ctx, s.slot(gen), encodeCheckpoint(gen, id), nil)
	}); err != nil {
		return fmt.Errorf("checkpoint.cache %q: %w", s.cache, err)
	}
	if setErr != nil {
		return fmt.Errorf("checkpoint.cache %q: set %q: %w", s.cache, s.slot(gen), setErr)
	}
	return nil
}

// checkpointer writes the watermark to the store in the background, so that
// acknowledgements never wait for the cache, coalescing the writes of a
// busy stream into one per cache round trip. Its goroutine runs only while
// there is something to write: an idle stream holds none.
type checkpointer struct {
	store   *checkpointStore
	tracker *tracker
	log     logger
	errors  *service.MetricCounter
	labels  []string // of errors

	ctx    context.Context // cancelled by close, abandoning a write in flight
	cancel context.CancelFunc

	mu     sync.Mutex
	dirty  bool          // the watermark moved since the writer last looked
	done   chan struct{} // closed when the running writer returns; nil when none runs
	closed bool

	// Owned by the one writer that runs at a time, then by close.
	gen     uint64 // generation of the last write
	written string
	wrote   bool
}

func newCheckpointer(store *checkpointStore, t *tracker, gen uint64, log logger, errs *service.MetricCounter, labels []string) *checkpointer {
	c := &checkpointer{store: store, tracker: t, log: log, errors: errs, labels: labels, gen: gen}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	return c
}

// changed tells the writer that the watermark moved, starting it if it is
// not running.
func (c *checkpointer) changed() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	c.dirty = true
	if c.done == nil {
		c.done = make(chan struct{})
		go c.run(c.done)
	}
}

// run writes until the watermark stops moving, then returns.
func (c *checkpointer) run(done chan struct{}) {
	defer close(done)
	for {
		c.mu.Lock()
		if !c.dirty || c.closed {
			c.done = nil
			c.mu.Unlock()
			return
		}
		c.dirty = false
		c.mu.Unlock()
		if err := c.flush(c.ctx); err != nil && c.ctx.Err() == nil {
			c.log.Errorf("Failed to write %s", logErr(err))
			c.errors.Incr(1, c.labels...)
		}
	}
}

// flush writes the watermark if it changed since the last write.
func (c *checkpointer) flush(ctx context.Context) error {
	id, ok := c.tracker.watermark()
	if !ok || c.wrote && id == c.written {
		return nil
	}
	if err := c.store.save(ctx, c.gen+1, id); err != nil {
		return fmt.Errorf("checkpoint %s: %w", logID(id), err)
	}
	c.gen++
	c.written, c.wrote = id, true
	return nil
}

// close stops the writer, abandoning a write in flight, and writes the
// final watermark, returning that write's error (also logged and counted,
// since Benthos ignores the error of an input's Close). It returns ctx's
// error if ctx ends before the writer has stopped. Only the first call
// writes.
func (c *checkpointer) close(ctx context.Context) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	done := c.done
	c.mu.Unlock()
	c.cancel()
	if done != nil {
		select {
		case <-done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err := c.flush(ctx); err != nil {
		c.log.Errorf("Failed to write the final %s", logErr(err))
		c.errors.Incr(1, c.labels...)
		return err
	}
	return nil
}

// release stops the writer without a final write: a write in flight is
// cancelled (a cache call returns once its ctx is cancelled), and later
// changes write nothing. For a stream given up on, whose checkpoint may by
// then belong to the stream's next run. It returns the done channel of the
// write in flight, or nil, for a caller that waits for it.
func (c *checkpointer) release() (done <-chan struct{}) {
	c.mu.Lock()
	c.closed, done = true, c.done
	c.mu.Unlock()
	c.cancel()
	return done
}

// probeTimeout bounds the start-up probe of the checkpoint cache.
const probeTimeout = 10 * time.Second

// probe checks at start-up that the cache can be read and written, so that
// a broken store (a file cache whose directory does not exist, an
// unreachable server) stops the input from starting instead of failing
// every checkpoint write later. It reads the first slot and writes and
// deletes a probe key beside the slots, leaving the checkpoint untouched.
// A cache whose checkpoints an output owns (see [OwnedMarker]) is only
// asked for its marker: the input never writes to it, and its first read
// may wait for the output to fence an earlier instance.
func (s *checkpointStore) probe(ctx context.Context) (owned bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	if owned, err = s.ownedBy(ctx); owned || err != nil {
		if err != nil {
			err = fmt.Errorf("cache %q cannot hold checkpoints: %w", s.cache, err)
		}
		return owned, err
	}
	key := s.key + ".probe"
	if aerr := s.res.AccessCache(ctx, s.cache, func(c service.Cache) {
		if _, err = c.Get(ctx, s.slot(0)); errors.Is(err, service.ErrKeyNotFound) {
			err = nil
		}
		if err != nil {
			err = fmt.Errorf("get %q: %w", s.slot(0), err)
			return
		}
		if err = c.Set(ctx, key, []byte(checkpointMagic+" probe"), nil); err != nil {
			err = fmt.Errorf("set %q: %w", key, err)
			return
		}
		if err = c.Delete(ctx, key); err != nil && !errors.Is(err, service.ErrKeyNotFound) {
			err = fmt.Errorf("delete %q: %w", key, err)
			return
		}
		err = nil
	}); aerr != nil {
		err = aerr
	}
	if err != nil {
		return false, fmt.Errorf("cache %q cannot hold checkpoints: %w", s.cache, err)
	}
	return false, nil
}
