// Package input registers the Benthos `sse` input and the `sse` scanner.
// Import it for its side effect to add both to a Benthos build:
//
//	import _ "github.com/benthos-sse/benthos-sse/input"
//
// A component that runs a changing set of streams in one input builds it
// with [NewStreams].
package input

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	benthossse "github.com/benthos-sse/benthos-sse"
)

func init() {
	service.MustRegisterBatchInput("sse", benthossse.ConfigSpec(),
		func(conf *service.ParsedConfig, res *service.Resources) (service.BatchInput, error) {
			c, err := benthossse.ParseConfig(conf)
			if err != nil {
				return nil, err
			}
			in, err := newInput(conf, c, res, len(c.Streams) > 0, false)
			if err != nil {
				return nil, err
			}
			return wrap(conf, in)
		})
	service.MustRegisterBatchScannerCreator("sse", benthossse.ScannerConfigSpec(), newScannerCreator)
}

// wrap reads auto_replay_nacks from conf: the input replays rejected
// batches and bounds the batches in flight itself (flight.go), where
// Benthos' inputs are wrapped in AutoRetryNacksBatched and
// InputBatchedWithMaxInFlight.
func wrap(conf *service.ParsedConfig, in *sseInput) (service.BatchInput, error) {
	replay, err := conf.FieldBool(service.AutoRetryNacksToggleFieldName)
	if err != nil {
		return nil, err
	}
	in.replayNacks = replay
	return in, nil
}

// minReconnect floors every reconnection wait, so that neither a zero
// initial_interval nor a server's "retry: 0" followed by closing every
// connection can make a hot loop.
const minReconnect = 100 * time.Millisecond

// maxLabelledStreams bounds the streams of one input whose metrics carry
// their own `stream` label: the first this many names an input runs get
// one; every later stream counts under stream="_other" and sets no gauge,
// so that ten thousand streams cannot make ten thousand series of each
// metric.
const maxLabelledStreams = 100

// otherStreams is the `stream` label of the streams past maxLabelledStreams.
const otherStreams = "_other"

type metrics struct {
	events, bytes, oversized, filtered, deduplicated *service.MetricCounter
	reconnects, checkpointErrors, unsendable         *service.MetricCounter
	readyState, lag, backoff, lastByteAge            *service.MetricGauge
}

// newMetrics declares the input's metrics; with many streams every one
// also has the label `stream`.
func newMetrics(m *service.Metrics, many bool) metrics {
	var l []string
	if many {
		l = []string{"stream"}
	}
	return metrics{
		events:           m.NewCounter("sse_events_received", l...),
		bytes:            m.NewCounter("sse_bytes_received", l...),
		oversized:        m.NewCounter("sse_events_oversized", l...),
		filtered:         m.NewCounter("sse_events_filtered", l...),
		deduplicated:     m.NewCounter("sse_events_deduplicated", l...),
		reconnects:       m.NewCounter("sse_reconnects", append([]string{"cause"}, l...)...),
		checkpointErrors: m.NewCounter("sse_checkpoint_errors", l...),
		unsendable:       m.NewCounter("sse_ids_unsendable", l...),
		readyState:       m.NewGauge("sse_ready_state", l...),
		lag:              m.NewGauge("sse_checkpoint_lag", l...),
		backoff:          m.NewGauge("sse_backoff_seconds", l...),
		lastByteAge:      m.NewGauge("sse_last_byte_age_seconds", l...),
	}
}

// sseInput is what the streams of one input share: the configuration, the
// metrics, the batching of what the readers read ahead, and the lifecycle.
// Each stream's own state is its reader's (reader.go).
type sseInput struct {
	// Set by newInput, read-only after.
	conf             *benthossse.Config
	res              *service.Resources
	log              *service.Logger
	m                metrics
	tokens           *tokenSource     // oauth2's, shared by the streams; nil when off
	client           *http.Client     // what the streams with no header or body of their own send with
	req              *requestTemplate // what each connection attempt sends; a stream with headers of its own derives its own
	include, exclude map[string]bool
	store            *checkpointStore // the input's; each stream's key derives from its key
	// ownedCheckpoint: the checkpoint cache serves resume points an output
	// commits with its records, and the input writes none (see OwnedMarker).
	ownedCheckpoint bool
	from            *fromOpener // the `from` file, unless it is stdin
	// many: the input runs named streams (a streams list, or NewStreams):
	// sse_stream on every message, a stream label on the metrics, and
	// readers that reconnect by themselves instead of waiting for Connect.
	many bool
	// keepRunning: the input does not end when every stream has ended.
	keepRunning bool
	// replayNacks: auto_replay_nacks, a rejected batch is handed out again
	// (flight.go); set by wrap.
	replayNacks bool
	// single is the one stream of an input that is not many.
	single *reader

	// h is the queue of events read ahead and every reader's hand-off
	// state, shared by the readers, Connect, ReadBatch and the Go API.
	h *handoff

	// The goroutine in Connect owns lastFailures, the failed attempts
	// already reported, under h.mu.
	lastFailures int

	startMu sync.Mutex // serialises start against Close
	started bool

	// names serialises Put and Remove per stream name: a replacement
	// settles the old stream before the new one starts.
	names nameLocks

	closing   chan struct{} // closed by Close
	closeOnce sync.Once
	endOnce   sync.Once
	endErr    error // what ReadBatch and Connect return once the input ended
}

// newInput builds an input from its parsed configuration: one stream from
// c.URL or c.From, or, with many, the streams of c.Streams (and later those
// given to Put).
func newInput(conf *service.ParsedConfig, c *benthossse.Config, res *service.Resources, many, keepRunning bool) (*sseInput, error) {
	in := &sseInput{
		conf: c, res: res, log: res.Logger(), m: newMetrics(res.Metrics(), many),
		many: many, keepRunning: keepRunning, h: newHandoff(), closing: make(chan struct{}),
	}
	if err := checkFrom(c.From); err != nil {
		return nil, err
	}
	if c.From != "" && c.From != "-" {
		in.from = newFromOpener(c.From)
	}
	if c.URL != "" || many {
		if c.OAuth2 != nil {
			// The token endpoint gets the stream's transport (TLS, proxy),
			// without the stream's redirect policy or retry.
			in.tokens = newTokenSource(c.OAuth2, &http.Client{Transport: transportFor(c)}, c.Timeout)
		}
		in.req = newRequestTemplate(c, in.tokens, res.FS())
		in.client = newHTTPClient(c, in.tokens, nil, c.Body)
	}
	in.include = toSet(c.Events)
	in.exclude = toSet(c.ExcludeEvents)
	if c.CheckpointCache != "" {
		if !res.HasCache(c.CheckpointCache) {
			return nil, benthossse.FieldError(benthossse.FieldCheckpointCache, fmt.Errorf("cache resource %q not found", c.CheckpointCache))
		}
		in.store = &checkpointStore{res: res, cache: c.CheckpointCache, key: c.CheckpointKey}
		owned, err := in.store.probe(context.Background())
		if err != nil {
			return nil, benthossse.FieldError(benthossse.FieldCheckpointCache, err)
		}
		if owned {
			if err := checkOwnedCheckpoint(conf, c); err != nil {
				return nil, err
			}
			in.ownedCheckpoint = true
		}
	}
	if !many {
		var err error
		if in.single, err = in.newReader(benthossse.Stream{URL: c.URLBase, LastEventID: c.LastEventID}); err != nil {
			return nil, err
		}
		return in, in.add(in.single)
	}
	for _, s := range c.Streams {
		r, err := in.newReader(s)
		if err != nil {
			return nil, err
		}
		if err := in.add(r); err != nil {
			return nil, err
		}
	}
	return in, nil
}

func toSet(list []string) map[string]bool {
	if len(list) == 0 {
		return nil
	}
	m := make(map[string]bool, len(list))
	for _, s := range list {
		m[s] = true
	}
	return m
}

// add registers r with the hand-off, and starts it if the input started.
// A stream that cannot start (its checkpoint cannot be read) is not added,
// nor one added once Close was called.
func (in *sseInput) add(r *reader) error {
	in.startMu.Lock()
	defer in.startMu.Unlock()
	if in.isClosing() {
		// Close already took the readers to stop, or is about to: this
		// one would run for ever.
		return errInputClosed
	}
	h := in.h
	h.mu.Lock()
	h.readers[r.name] = r
	h.broadcast()
	h.mu.Unlock()
	if !in.started {
		return nil
	}
	if err := r.start(nil); err != nil {
		in.forget(r)
		return err
	}
	return nil
}

// Connect starts the readers on the first call. With one stream it returns
// once the stream is open: nil, so that Benthos reports the input connected
// only while it is; when a connection attempt fails it returns why, with the
// wait before the next attempt, which the next call then lets the reader
// make: the event source's backoff, the server's retry and the status
// policy decide the waits, not Benthos' own connect backoff. With many
// streams it returns nil once any stream is open, and after failed attempts
// an error naming the streams that are not.
//
// An input that ended while batches are in flight or wait for replay
// reports itself connected (nil), so that ReadBatch hands them out and
// waits for them before it ends.
func (in *sseInput) Connect(ctx context.Context) error {
	err := in.connect(ctx)
	if errors.Is(err, service.ErrEndOfInput) && in.h.locked(in.h.unsettled) {
		return nil
	}
	return err
}

// connect is Connect, ending when the input ended.
func (in *sseInput) connect(ctx context.Context) error {
	if err := in.start(ctx); err != nil {
		return err
	}
	if in.many {
		return in.connectMany(ctx)
	}
	h := in.h
	h.mu.Lock()
	defer h.mu.Unlock()
	r := in.single
	opens := r.opens
	if r.paused && r.failed == nil {
		// The reader waits for this call to make its next attempt. A
		// failure not yet returned is returned first, with its wait: the
		// first call could otherwise find the first attempt already failed
		// and let the reader retry at once (a 404 retried after 100ms
		// instead of max_interval).
		r.paused = false
		h.broadcast()
	}
	for {
		switch {
		case r.open, r.opens != opens:
			// Open, or opened and already lost: ReadBatch hands out what
			// it delivered and then reports the loss.
			return nil
		case r.end != nil:
			if len(h.queue) > 0 {
				return nil // ReadBatch hands out what was read first
			}
			return in.finish(r.end)
		case r.failed != nil:
			err, wait := r.failed, r.wait
			r.failed = nil
			// Benthos logs it: bounded, and without query values.
			return service.NewErrBackOff(fmt.Errorf("%w; retrying in %v", boundErr(err), wait.Round(time.Millisecond)), wait)
		}
		if !h.await(ctx.Done()) {
			return ctx.Err()
		}
	}
}

// maxListed bounds the streams a readiness error names.
const maxListed = 10

// connectMany is Connect with many streams.
func (in *sseInput) connectMany(ctx context.Context) error {
	h := in.h
	h.mu.Lock()
	defer h.mu.Unlock()
	for {
		switch {
		case h.open > 0 || len(h.queue) > 0:
			return nil
		case in.allEnded():
			return in.finish(nil)
		case h.failures != in.lastFailures:
			in.lastFailures = h.failures
			// Benthos logs this and waits before calling again, so the
			// wait bounds the log to one line a second while every stream
			// is down, and bounds how late /ready turns 200.
			return service.NewErrBackOff(in.notOpen(), time.Second)
		}
		if !h.await(ctx.Done()) {
			return ctx.Err()
		}
	}
}

// notOpen describes the streams that are not open, naming at most
// maxListed of them; h.mu must be held.
func (in *sseInput) notOpen() error {
	var b []byte
	n := 0
	for _, name := range sortedNames(in.h.readers) {
		r := in.h.readers[name]
		if r.open {
			continue
		}
		n++
		if n > maxListed {
			continue
		}
		b = fmt.Appendf(b, "; %q", logText(name))
		switch {
		case r.end != nil:
			b = append(b, " ended"...)
		case r.lastErr != nil:
			b = fmt.Appendf(b, ": %s", logText(logErr(r.lastErr)))
		default:
			b = append(b, " connecting"...)
		}
	}
	if n > maxListed {
		b = fmt.Appendf(b, "; and %d more", n-maxListed)
	}
	return fmt.Errorf("%d of %d streams not open%s", n, len(in.h.readers), b)
}

// allEnded reports whether the input has nothing left to read: every
// stream ended, unless it keeps running; h.mu must be held.
func (in *sseInput) allEnded() bool {
	return !in.keepRunning && len(in.h.queue) == 0 && in.h.ended == len(in.h.readers)
}

// start starts the readers, once.
func (in *sseInput) start(ctx context.Context) error {
	// Opened before taking the lock, which Close needs: opening a FIFO
	// blocks until a writer appears.
	var r io.Reader // nil: the readers connect to their URLs
	if in.conf.From == "-" {
		r = os.Stdin
	}
	if in.from != nil {
		f, err := in.from.open(ctx)
		if errors.Is(err, errFromClosed) {
			return service.ErrEndOfInput
		}
		if err != nil && ctx.Err() == nil {
			// The file went away since the input was built: a source
			// that failed, not one to retry for ever.
			return in.finish(err)
		}
		if err != nil {
			return err
		}
		r = f
	}
	in.startMu.Lock()
	defer in.startMu.Unlock()
	if in.started {
		return nil
	}
	if in.isClosing() {
		return service.ErrEndOfInput
	}
	in.h.mu.Lock()
	readers := make([]*reader, 0, len(in.h.readers))
	for _, name := range sortedNames(in.h.readers) {
		readers = append(readers, in.h.readers[name])
	}
	in.h.mu.Unlock()
	for _, rd := range readers {
		if err := rd.start(r); err != nil {
			return err
		}
	}
	in.started = true
	return nil
}

// ReadBatch hands out the events the readers read ahead: the next event
// together with those that arrived behind it, from any stream, in arrival
// order, up to max_batch_size, never waiting to fill a batch (but for
// linger). A rejected batch comes first, and with max_in_flight it waits
// while that many batches are in flight (flight.go). It returns
// service.ErrNotConnected once no stream is open and everything read was
// handed out, and ends once every stream ended and nothing is in flight.
func (in *sseInput) ReadBatch(ctx context.Context) (service.MessageBatch, service.AckFunc, error) {
	h := in.h
	h.mu.Lock()
	for {
		if len(h.replay) > 0 {
			d := h.replay[0]
			h.replay[0] = nil
			h.replay = h.replay[1:]
			h.mu.Unlock()
			if !d.pause(ctx.Done(), in.closing) {
				h.mu.Lock()
				h.replay = append([]*delivery{d}, h.replay...)
				h.mu.Unlock()
				return nil, nil, ctx.Err()
			}
			batch, ack := in.deliver(d)
			return batch, ack, nil
		}
		if max := in.conf.MaxInFlight; max > 0 && h.inFlight >= max {
			if !h.await(ctx.Done()) {
				h.mu.Unlock()
				return nil, nil, ctx.Err()
			}
			continue
		}
		if len(h.queue) > 0 && in.conf.Linger > 0 && !h.full(in.conf.MaxBatchSize) && !in.isClosing() {
			if until := h.queue[0].at.Add(in.conf.Linger); time.Now().Before(until) {
				if !h.linger(until, ctx.Done(), in.closing) {
					h.mu.Unlock()
					return nil, nil, ctx.Err()
				}
				continue
			}
		}
		if len(h.queue) > 0 {
			batch, parts := in.take()
			h.inFlight++
			h.broadcast()
			h.mu.Unlock()
			for _, p := range parts {
				p.r.lagChanged()
			}
			batch, ack := in.deliver(&delivery{batch: batch, parts: parts})
			return batch, ack, nil
		}
		if in.many && in.allEnded() || !in.many && in.single.end != nil {
			if h.unsettled() {
				// What is in flight is settled, or replayed, first.
				if !h.await(ctx.Done()) {
					h.mu.Unlock()
					return nil, nil, ctx.Err()
				}
				continue
			}
			h.mu.Unlock()
			if in.many {
				return nil, nil, in.finish(nil)
			}
			return nil, nil, in.finish(in.single.end)
		}
		if h.open == 0 {
			h.mu.Unlock()
			return nil, nil, service.ErrNotConnected
		}
		if !h.await(ctx.Done()) {
			h.mu.Unlock()
			return nil, nil, ctx.Err()
		}
	}
}

// isClosing reports whether Close was called.
func (in *sseInput) isClosing() bool {
	select {
	case <-in.closing:
		return true
	default:
		return false
	}
}

// part is one stream's share of a batch handed out: its sequence number in
// the stream's tracker.
type part struct {
	r   *reader
	seq uint64
}

// take removes the chunks of the next batch from the queue, whole, up to
// max_batch_size events (always at least one chunk), and tracks each
// stream's share; h.mu must be held.
func (in *sseInput) take() (service.MessageBatch, []part) {
	h := in.h
	n, k := 0, 0
	for k < len(h.queue) && (k == 0 || n+len(h.queue[k].msgs) <= in.conf.MaxBatchSize) {
		n += len(h.queue[k].msgs)
		k++
	}
	chunks := h.queue[:k]
	if k == 1 {
		// The common case, one stream's chunk: no copy.
		c := chunks[0]
		h.dequeue(k)
		return c.msgs, []part{{c.r, c.r.tracker.track(c.id, len(c.msgs))}}
	}
	batch := make(service.MessageBatch, 0, n)
	// Each stream's share, in the order of its first chunk: its events and
	// its last chunk's resume point. r.share finds a stream's share without
	// a map, which at many streams was one more allocation per batch.
	type share struct {
		r      *reader
		events int
		id     string
	}
	shares := make([]share, 0, k)
	for _, c := range chunks {
		batch = append(batch, c.msgs...)
		if c.r.share == 0 {
			shares = append(shares, share{r: c.r})
			c.r.share = len(shares)
		}
		s := &shares[c.r.share-1]
		s.events += len(c.msgs)
		s.id = c.id
	}
	h.dequeue(k)
	parts := make([]part, len(shares))
	for i, s := range shares {
		s.r.share = 0
		parts[i] = part{s.r, s.r.tracker.track(s.id, s.events)}
	}
	return batch, parts
}

// finish maps why the input stopped to what Benthos expects, once. With one
// stream it logs why the stream ended and records a failure; with many,
// each reader did so as its stream ended, and the input just ends.
func (in *sseInput) finish(err error) error {
	in.endOnce.Do(func() {
		if in.many {
			in.endErr = service.ErrEndOfInput
			return
		}
		in.endErr = in.single.ended(err)
	})
	return in.endErr
}

// Close stops every stream, interrupting a blocked ReadBatch, and writes
// each stream's final checkpoint, returning the first write's error. It
// gives up waiting when ctx is done.
func (in *sseInput) Close(ctx context.Context) error {
	in.closeOnce.Do(func() { close(in.closing) })
	in.startMu.Lock()
	in.started = true // no reader starts after Close
	in.startMu.Unlock()
	if in.from != nil {
		// Ends an open of a FIFO that no writer opened yet.
		if err := in.from.close(ctx); err != nil {
			return err
		}
	}
	in.h.mu.Lock()
	readers := make([]*reader, 0, len(in.h.readers))
	for _, r := range in.h.readers {
		readers = append(readers, r)
	}
	in.h.mu.Unlock()
	for _, r := range readers {
		r.stop()
	}
	var first error
	for i, r := range readers {
		if err := r.close(ctx); err != nil && first == nil {
			first = err
		}
		if ctx.Err() != nil {
			// Out of time: the streams not closed yet are let go without
			// their final checkpoint (they resume from the one before),
			// rather than left behind with a checkpoint writer that a
			// later acknowledgement would start and a place in the
			// activity watcher, which would keep them for the life of
			// the process.
			for _, r := range readers[i:] {
				r.release()
			}
			return ctx.Err()
		}
	}
	return first
}
