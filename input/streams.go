package input

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/redpanda-data/benthos/v4/public/service"

	benthossse "github.com/benthos-sse/benthos-sse"
	"github.com/benthos-sse/benthos-sse/sse"
)

// StreamConfig is one stream of a [Streams] input: its name, URL, and the
// request settings it overrides. See [benthossse.Stream].
type StreamConfig = benthossse.Stream

// StreamsOptions are the options of [NewStreams]. The zero value is an
// input that ends once every stream has ended, as the `sse` input with a
// `streams` list does.
type StreamsOptions struct {
	// KeepRunning keeps the input running with no streams, or when every
	// stream has ended: its streams come and go through Put and Remove,
	// and only Close ends it. A fleet instance runs until it is stopped.
	KeepRunning bool
}

// Streams is an `sse` input that runs a changing set of named streams: the
// streams list of the `sse` input, driven from Go. Each stream has its own
// connection, backoff, `retry:`, dedupe state, readiness and resume point
// (checkpointed under [benthossse.StreamCheckpointKey]); every message
// carries sse_stream, the stream's name. It implements
// [service.BatchInput], with auto_replay_nacks and max_in_flight applied as
// the registered input applies them, so a plugin of the same binary can
// return it from its constructor.
//
// Put and Remove are safe to call from any goroutine, before or after
// Connect. Two operations on one stream name run one after the other;
// operations on different streams run side by side, so a Remove that waits
// for its stream's acknowledgements delays no Put or Remove of another.
type Streams struct {
	service.BatchInput
	in *sseInput
}

// NewStreams builds a Streams input from a parsed configuration holding
// the fields of [benthossse.SharedFields] (and the `streams` list, if the
// spec has one: those streams are added at once). res is the component's
// resources: logger, metrics and the checkpoint cache.
func NewStreams(conf *service.ParsedConfig, res *service.Resources, opts StreamsOptions) (*Streams, error) {
	c, err := benthossse.ParseSharedConfig(conf)
	if err != nil {
		return nil, err
	}
	in, err := newInput(conf, c, res, true, opts.KeepRunning)
	if err != nil {
		return nil, err
	}
	wrapped, err := wrap(conf, in)
	if err != nil {
		return nil, err
	}
	return &Streams{BatchInput: wrapped, in: in}, nil
}

// Put adds the stream sc.Name, or replaces the stream of that name: the old
// one is stopped, its events not yet handed out are dropped and those in
// flight settled (acknowledged or rejected), and the new one starts from
// the old one's resume point, sending it as Last-Event-ID (nothing is lost:
// the dropped events were never acknowledged, and the server sends them
// again). A new stream starts from its checkpoint, or else from
// sc.LastEventID. It returns ctx's error if ctx ends while the old stream
// settles (the old stream is then gone and the new one not started), an
// error naming the field for an invalid sc, and the error of a checkpoint
// that cannot be read (the stream is then not added).
func (s *Streams) Put(ctx context.Context, sc StreamConfig) error {
	if err := s.check(sc); err != nil {
		return err
	}
	in := s.in
	defer in.names.lock(sc.Name)()
	if in.isClosing() {
		return errInputClosed
	}
	return in.put(ctx, sc)
}

// check validates sc alone and against the input's settings.
func (s *Streams) check(sc StreamConfig) error {
	if err := sc.Check(); err != nil {
		return err
	}
	return s.in.conf.CheckStream(sc)
}

// errInputClosed is returned by Put and PutAll once Close was called.
var errInputClosed = errors.New("sse: the input is closed")

// put is Put; sc.Name must be locked.
func (in *sseInput) put(ctx context.Context, sc StreamConfig) error {
	in.h.mu.Lock()
	old := in.h.readers[sc.Name]
	in.h.mu.Unlock()
	r, err := in.newReader(sc)
	if err != nil {
		return err
	}
	if old != nil {
		if err := in.remove(ctx, old); err != nil {
			return err
		}
		if id, ok := old.tracker.watermark(); ok {
			r.handover, r.hasHandover = id, true
		} else if in.h.locked(func() bool { return old.started }) {
			// Nothing of the old stream was settled: start where it did.
			r.handover, r.hasHandover = old.startID, true
		}
	}
	return in.add(r)
}

// PutAll is Put for many streams: the new ones have their checkpoints read
// concurrently, then all start; those that replace a stream are put one by
// one as Put does. A fleet instance given a partition of thousands of
// streams starts them in the time of a few checkpoint reads rather than one
// after another. It checks every sc first and puts none if one is invalid;
// a stream that cannot start is not kept, as with Put, and the first such
// error is returned once the others are put. Of two entries with the same
// name, the later one is put, as two Puts would leave it.
func (s *Streams) PutAll(ctx context.Context, scs []StreamConfig) error {
	last := map[string]int{}
	for i, sc := range scs {
		if err := s.check(sc); err != nil {
			return fmt.Errorf("stream %q: %w", sc.Name, err)
		}
		last[sc.Name] = i
	}
	in := s.in
	defer in.names.lock(slices.Collect(maps.Keys(last))...)()
	if in.isClosing() {
		return errInputClosed
	}
	var fresh, replacing []StreamConfig
	in.h.mu.Lock()
	for i, sc := range scs {
		switch {
		case last[sc.Name] != i:
		case in.h.readers[sc.Name] != nil:
			replacing = append(replacing, sc)
		default:
			fresh = append(fresh, sc)
		}
	}
	in.h.mu.Unlock()
	readers := make([]*reader, len(fresh))
	for i, sc := range fresh {
		r, err := in.newReader(sc)
		if err != nil {
			return fmt.Errorf("stream %q: %w", sc.Name, err)
		}
		readers[i] = r
	}
	if in.store != nil {
		// A failed read is left to start, which reads again.
		sem := make(chan struct{}, maxConcurrentLoads)
		var wg sync.WaitGroup
		for _, r := range readers {
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				if l, err := r.store.loaded(ctx); err == nil {
					r.pre = l
				}
			})
		}
		wg.Wait()
	}
	var first error
	for _, r := range readers {
		if err := in.add(r); err != nil && first == nil {
			first = fmt.Errorf("stream %q: %w", r.name, err)
		}
	}
	for _, sc := range replacing {
		if err := in.put(ctx, sc); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// maxConcurrentLoads bounds the checkpoint reads PutAll makes at once.
const maxConcurrentLoads = 64

// Remove stops the stream called name and returns once its events in
// flight are settled (acknowledged or rejected) and its final checkpoint is
// written; its events not yet handed out are dropped, never acknowledged.
// Removing a stream that does not exist does nothing. It returns ctx's
// error if ctx ends first; the stream is gone either way, and nothing of it
// runs or writes a checkpoint afterwards.
func (s *Streams) Remove(ctx context.Context, name string) error {
	in := s.in
	defer in.names.lock(name)()
	in.h.mu.Lock()
	r := in.h.readers[name]
	in.h.mu.Unlock()
	if r == nil {
		return nil
	}
	return in.remove(ctx, r)
}

// RemoveAll is Remove for several streams at once: it stops them all, then
// waits until the events in flight of every one are settled, so that it
// takes as long as the slowest stream rather than the sum of all. A fleet
// instance giving up a partition of thousands of streams must be done
// within the group's rebalance timeout. It returns the first error; every
// stream is gone either way.
func (s *Streams) RemoveAll(ctx context.Context, names []string) error {
	in := s.in
	defer in.names.lock(names...)()
	h := in.h
	h.mu.Lock()
	var rs []*reader
	for _, name := range slices.Compact(slices.Sorted(slices.Values(names))) {
		if r := h.readers[name]; r != nil {
			rs = append(rs, r)
		}
	}
	h.mu.Unlock()
	return in.remove(ctx, rs...)
}

// remove takes rs out of the input, stopping them all before it waits,
// and waits until their handed-out events are settled; their names must
// be locked (see nameLocks). If ctx ends first, the streams are gone all
// the same and abandoned: nothing of them runs or writes after remove
// returns. It returns the first error.
func (in *sseInput) remove(ctx context.Context, rs ...*reader) error {
	for _, r := range rs {
		r.draining.Store(true)
		r.stop()
	}
	// The readers return promptly: their event sources are closed and
	// their waits end with r.closing.
	var first error
	for _, r := range rs {
		if err := r.waitDone(ctx); err != nil && first == nil {
			first = err
		}
	}
	h := in.h
	h.mu.Lock()
	for _, r := range rs {
		h.drop(r)
		r.stoppedLocked(errRemoved)
	}
	h.broadcast()
	for i := 0; i < len(rs) && first == nil; {
		if rs[i].tracker.unsettled() == 0 {
			i++
			continue
		}
		if h.await(ctx.Done()) {
			continue
		}
		if len(rs) == 1 {
			first = fmt.Errorf("stream %q: waiting for its events in flight: %w", rs[0].name, ctx.Err())
		} else {
			first = fmt.Errorf("waiting for the events in flight of %d streams: %w", len(rs), ctx.Err())
		}
	}
	h.mu.Unlock()
	// Given up (ctx ended): abandoned, with no final write after the
	// caller's deadline.
	gaveUp := first != nil
	for _, r := range rs {
		in.forget(r)
		if gaveUp {
			r.abandon()
			continue
		}
		if err := r.close(ctx); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// forget removes r from the readers, and from the counts of open and ended
// readers.
func (in *sseInput) forget(r *reader) {
	h := in.h
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.readers[r.name] != r {
		return
	}
	h.drop(r)
	if r.open {
		h.open--
		r.open = false
	}
	if r.end != nil {
		h.ended--
	}
	delete(h.readers, r.name)
	h.broadcast()
	r.setGauge(in.m.readyState, int64(sse.Closed))
	r.setGauge(in.m.lag, 0)
}

// waitDone waits for the stopped reader goroutine to return.
func (r *reader) waitDone(ctx context.Context) error {
	r.in.startMu.Lock()
	done := r.readerDone
	r.in.startMu.Unlock()
	if done == nil {
		return nil
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// nameLocks serialises the operations on each stream name: Put, Remove and
// their batch forms take the locks of the names they touch, so that two
// operations on one stream run one after the other (a replacement settles
// the old stream before the new one starts) while operations on different
// streams run side by side: a Remove waiting for its stream's
// acknowledgements does not delay a Put of another. Close takes none: it
// makes the operations that start after it refuse (see add), and stops
// every stream there is.
type nameLocks struct {
	mu sync.Mutex
	m  map[string]*nameLock
}

type nameLock struct {
	sync.Mutex
	refs int // holders and waiters: the entry is deleted at zero
}

// lock locks names, in sorted order so that two operations on overlapping
// sets cannot deadlock, and returns the function that unlocks them.
func (l *nameLocks) lock(names ...string) (unlock func()) {
	names = slices.Compact(slices.Sorted(slices.Values(names)))
	ls := make([]*nameLock, len(names))
	l.mu.Lock()
	if l.m == nil {
		l.m = map[string]*nameLock{}
	}
	for i, name := range names {
		nl := l.m[name]
		if nl == nil {
			nl = &nameLock{}
			l.m[name] = nl
		}
		nl.refs++
		ls[i] = nl
	}
	l.mu.Unlock()
	for _, nl := range ls {
		nl.Lock()
	}
	return func() {
		for _, nl := range ls {
			nl.Unlock()
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		for i, nl := range ls {
			if nl.refs--; nl.refs == 0 {
				delete(l.m, names[i])
			}
		}
	}
}

// StreamStatus is what [Streams.List] reports of one stream.
type StreamStatus struct {
	Name string
	// State is sse.Open while the stream is open, sse.Connecting while it
	// (re)connects or waits to, and sse.Closed once it ended.
	State sse.ReadyState
	// Err is why the stream ended, or its last failed connection attempt
	// while it is not open; nil otherwise.
	Err error
	// Lag is the number of its events handed to the pipeline and not yet
	// acknowledged.
	Lag int
	// ResumePoint is the ID up to which its events are acknowledged, or
	// before the first acknowledgement the ID it started from: the
	// Last-Event-ID a restart would send. HasResumePoint is false when
	// there is none.
	ResumePoint    string
	HasResumePoint bool
}

// List returns the status of every stream, sorted by name: for a fleet's
// HTTP endpoint, or a readiness check of its own.
func (s *Streams) List() []StreamStatus {
	h := s.in.h
	h.mu.Lock()
	names := sortedNames(h.readers)
	out := make([]StreamStatus, len(names))
	for i, name := range names {
		r := h.readers[name]
		st := StreamStatus{Name: name, State: sse.Connecting, Err: r.lastErr, ResumePoint: r.startID, HasResumePoint: r.startID != ""}
		switch {
		case r.end != nil:
			st.State, st.Err = sse.Closed, r.end
		case r.open:
			st.State, st.Err = sse.Open, nil
		}
		out[i] = st
	}
	readers := make([]*reader, len(names))
	for i, name := range names {
		readers[i] = h.readers[name]
	}
	h.mu.Unlock()
	for i, r := range readers {
		out[i].Lag = r.tracker.unsettled()
		if id, ok := r.tracker.watermark(); ok {
			out[i].ResumePoint, out[i].HasResumePoint = id, true
		}
	}
	return out
}
