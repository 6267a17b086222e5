package input

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	benthossse "github.com/benthos-sse/benthos-sse"
	"github.com/benthos-sse/benthos-sse/sse"
)

// Each stream is read by one goroutine of its own, its reader, rather than
// by ReadBatch, for three reasons:
//
//   - Readiness. Benthos reports an input as connected from the moment its
//     Connect returns nil until ReadBatch returns service.ErrNotConnected,
//     and as failing while Connect returns errors. The event source connects
//     and reconnects inside Next, so with Next called from ReadBatch the
//     input looked connected even when no stream had ever opened. With the
//     reader, Connect waits until the reader's connection attempt opens a
//     stream (nil) or fails (an error carrying the wait before the next
//     attempt), and ReadBatch returns ErrNotConnected once a stream is lost.
//     With one stream, the reader waits after a failure for the next
//     Connect before it tries again, so that Benthos' view and the event
//     source's agree; with many, each reader waits out its own backoff.
//   - Reading ahead. With max_in_flight: 1, ReadBatch is only called once
//     the previous batch is acknowledged, and an output that batches holds a
//     batch until it fills or its period ends. The readers go on reading
//     while a batch is in flight, up to max_batch_size events (and
//     readAheadBytes), so the next batch is as large as what arrived
//     meanwhile instead of one read's worth.
//   - Many streams. One goroutine per stream, blocked in a read, is the
//     least a stream can cost with net/http; the batches gather what every
//     stream read, so Benthos' machinery runs per batch, not per stream.

// readAheadBytes bounds the event data read ahead: the readers stop adding
// to the next batch once it holds this much, whatever max_batch_size, so
// that large events cannot make a large batch size a memory problem.
const readAheadBytes = 4 << 20

// errEndOnData ends the reader when an event's data is the end_on_data
// sentinel.
var errEndOnData = errors.New("end_on_data sentinel received")

// errRemoved ends a reader whose stream was removed or replaced.
var errRemoved = errors.New("stream removed")

// handoff is what the readers and the Benthos-facing methods share. Every
// change closes and replaces changed, which wakes every waiter.
type handoff struct {
	mu      sync.Mutex
	changed chan struct{}
	waiters int // goroutines in await: broadcast has nothing to do without one

	// filled, while ReadBatch lingers over a batch that is not full, is
	// closed by the reader that fills it. It is apart from changed so that
	// a lingering ReadBatch is not woken by every event of every stream.
	filled chan struct{}

	queue  []*chunk // read ahead, not yet handed out, in arrival order
	events int      // messages in queue
	bytes  int      // event data in queue

	inFlight int         // batches handed out and not yet settled (flight.go)
	replay   []*delivery // rejected batches to hand out again, oldest first

	readers  map[string]*reader // by name; "" is the one stream of a single-stream input
	open     int                // readers whose stream is open
	ended    int                // readers that stopped
	failures int                // failed connection attempts so far, for connectMany
	labels   map[string]bool    // the names with a metric label of their own
}

// chunk is what one reader read in one go: messages of one stream, and the
// stream's resume point after them.
type chunk struct {
	r     *reader
	msgs  service.MessageBatch
	bytes int
	id    string
	at    time.Time // when it was queued; only with linger
}

func newHandoff() *handoff {
	return &handoff{changed: make(chan struct{}), readers: map[string]*reader{}}
}

// broadcast wakes every waiter; h.mu must be held.
func (h *handoff) broadcast() {
	if h.waiters == 0 {
		return // a waiter takes changed under h.mu: none can miss this
	}
	close(h.changed)
	h.changed = make(chan struct{})
}

// await waits for the next broadcast, releasing h.mu meanwhile; h.mu must
// be held, and is held again on return. It reports false, without waiting
// further, once done is closed.
func (h *handoff) await(done <-chan struct{}) bool {
	ch := h.changed
	h.waiters++
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		h.waiters--
	}()
	select {
	case <-ch:
		return true
	case <-done:
		return false
	}
}

// full reports whether the queue holds a whole batch: limit events, or
// readAheadBytes of data; h.mu must be held.
func (h *handoff) full(limit int) bool {
	return h.events >= limit || h.bytes >= readAheadBytes
}

// linger waits until the queue is full, until, or until closing is
// closed, releasing h.mu meanwhile; h.mu must be held, and is held again
// on return. It reports false, without waiting further, once done is
// closed.
func (h *handoff) linger(until time.Time, done, closing <-chan struct{}) bool {
	if h.filled == nil {
		h.filled = make(chan struct{})
	}
	filled := h.filled
	h.mu.Unlock()
	defer h.mu.Lock()
	return sleep(time.Until(until), filled, closing, done)
}

// sleep waits for d, or until wake or closing is closed (a nil channel
// never is), and reports true; it reports false, without waiting further,
// once done is closed. Close (closing) ends a wait of ReadBatch's early,
// as ctx's end (done) interrupts it.
func sleep(d time.Duration, wake, closing, done <-chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-wake:
		return true
	case <-t.C:
		return true
	case <-closing:
		return true
	case <-done:
		return false
	}
}

// dequeue removes the first k chunks; h.mu must be held.
func (h *handoff) dequeue(k int) {
	for _, c := range h.queue[:k] {
		h.events -= len(c.msgs)
		h.bytes -= c.bytes
		if c.r.queued--; c.r.queued == 0 {
			c.r.last = nil
		}
	}
	clear(h.queue[:k])
	switch {
	case k < len(h.queue):
		h.queue = h.queue[k:]
	case cap(h.queue) <= maxKeptQueue:
		// Emptied: the next chunk reuses the array instead of growing a
		// new one, as it would after nearly every batch at many streams.
		h.queue = h.queue[:0]
	default:
		h.queue = nil // let a large array go
	}
}

// maxKeptQueue bounds the queue's backing array kept once it is empty.
const maxKeptQueue = 256

// locked runs f with h.mu held.
func (h *handoff) locked(f func() bool) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return f()
}

// drop removes r's chunks, which were never handed out; h.mu must be held.
func (h *handoff) drop(r *reader) {
	if r.queued == 0 {
		return
	}
	kept := h.queue[:0]
	for _, c := range h.queue {
		if c.r == r {
			h.events -= len(c.msgs)
			h.bytes -= c.bytes
			continue
		}
		kept = append(kept, c)
	}
	clear(h.queue[len(kept):])
	h.queue = kept
	r.queued, r.last = 0, nil
}

func sortedNames(m map[string]*reader) []string {
	return slices.Sorted(maps.Keys(m))
}

// reader owns one stream: its event source, the goroutine that reads it,
// and everything that goroutine keeps. The fields are grouped by owner.
type reader struct {
	// Set by newReader, read-only after.
	in       *sseInput
	name     string // "" for the one stream of a single-stream input
	conf     benthossse.Stream
	log      logger
	labels   []string // metric label values after the fixed ones; nil without
	gauges   bool     // whether this stream sets its own gauges
	nameMeta any      // name, stored once as an any for sse_stream
	store    *checkpointStore
	req      *requestTemplate // what each connection attempt sends; nil for `from`
	closing  chan struct{}    // closed by stop: releases a waiting reader
	stopOnce sync.Once
	// handover is where a replaced stream left off, which wins over a
	// checkpoint and conf.LastEventID.
	handover    string
	hasHandover bool

	// pre is the checkpoint read ahead by PutAll, which start then uses
	// instead of reading it; nil: start reads it.
	pre *loaded

	// Set by start, under in.startMu, before the goroutine starts.
	es         *sse.EventSource
	readerDone chan struct{} // closed when the reader goroutine returns
	ckpt       *checkpointer

	// The reader goroutine's own (OnOpen, OnError and OnIDNotSendable run
	// on it too).
	attempt       int
	status        int
	finalURL      string
	headers       map[string]string
	ending        bool   // end_on_data was seen: end after this chunk
	unsendableIDs uint64 // event IDs that could not be sent, for onIDNotSendable
	meta          eventMeta
	points        *resumeMeta // with checkpoint.cache: sse_checkpoint_key and sse_resume_point
	dedupe        *deduper
	resume        resumer // the resume point: the event ID, or resume.cursor

	// Acknowledgements, from any goroutine: the tracker has its own lock.
	tracker  tracker
	draining atomic.Bool // Remove waits for the tracker to empty

	// Guarded by in.h.mu: the hand-off with Connect and ReadBatch.
	open    bool // a stream is open
	opens   int  // streams opened so far
	failed  error
	lastErr error         // the last failed attempt, for readiness errors
	wait    time.Duration // until the next attempt, after failed
	paused  bool          // single stream: the reader waits for Connect before its next attempt
	end     error         // why the reader stopped; nil while it runs
	queued  int           // chunks of this stream in the queue
	last    *chunk        // the last of them
	share   int           // 1 + the index of this stream's share of the batch take is making; 0 outside take
	started bool
	startID string // the Last-Event-ID the stream started from
}

// newReader prepares a reader for stream s, which must be valid.
func (in *sseInput) newReader(s benthossse.Stream) (*reader, error) {
	c := in.conf
	r := &reader{in: in, name: s.Name, conf: s, log: in.log, closing: make(chan struct{}), gauges: true}
	if r.conf.Method == "" {
		r.conf.Method = c.Method
	}
	if r.conf.Body == nil {
		r.conf.Body = c.Body
	}
	// The input's request template is shared, read-only, by the streams
	// that add no header of their own: a copy per stream cost 10,000
	// streams 4 MiB.
	r.req = in.req
	if len(s.Headers)+len(s.InterpolatedHeaders) > 0 && in.req != nil {
		r.req = in.req.withHeaders(s.Headers, s.InterpolatedHeaders)
	}
	r.resume = resumer{mapping: c.ResumeCursor, unsendable: r.onCursorNotSendable}
	if in.many {
		r.nameMeta = s.Name
		r.log = streamLogger{in.log, s.Name}
		r.labels, r.gauges = []string{otherStreams}, false
		if in.labelled(s.Name) {
			r.labels, r.gauges = []string{s.Name}, true
		}
	}
	if in.store != nil {
		r.store = in.store
		if in.many {
			r.store = &checkpointStore{res: in.res, cache: in.store.cache, key: benthossse.StreamCheckpointKey(in.store.key, s.Name)}
		}
	}
	if c.DedupeMode != benthossse.DedupeNone {
		r.dedupe = newDeduper(c.DedupeMode, c.DedupeWindow)
	}
	return r, nil
}

// labelled reports whether the stream called name has a metric label of
// its own: the first maxLabelledStreams names do, for good.
func (in *sseInput) labelled(name string) bool {
	in.h.mu.Lock()
	defer in.h.mu.Unlock()
	if in.h.labels == nil {
		in.h.labels = map[string]bool{}
	}
	if in.h.labels[name] {
		return true
	}
	if len(in.h.labels) >= maxLabelledStreams {
		return false
	}
	in.h.labels[name] = true
	return true
}

// start creates the event source (reading src for `from`) and starts the
// reader goroutine; in.startMu must be held.
func (r *reader) start(src io.Reader) error {
	in := r.in
	opts := r.options()
	if r.store != nil {
		l := r.pre
		if l == nil {
			var err error
			if l, err = r.store.loaded(context.Background()); err != nil {
				return err
			}
		}
		gen, id, ok, invalid, unsendable := l.gen, l.id, l.ok, l.invalid, l.unsendable
		for _, k := range invalid {
			r.log.Warnf("Ignoring checkpoint key %q of cache %q: not a checkpoint this input wrote (or over %d bytes), or a write torn by a crash", k, r.store.cache, maxCheckpointSize)
		}
		for _, k := range unsendable {
			r.incr(in.m.unsendable, 1)
			r.log.Warnf("Ignoring checkpoint key %q of cache %q: its ID cannot be sent as Last-Event-ID (a control character, or over %d bytes)", k, r.store.cache, sse.MaxIDLength)
		}
		switch {
		case ok && r.hasHandover:
		case ok && r.resume.cursorMode():
			r.log.Infof("Resuming from checkpoint: cursor %s", logID(id))
			opts.LastEventID = id
		case ok:
			r.log.Infof("Resuming from checkpoint: Last-Event-ID %s", logID(id))
			opts.LastEventID = id
		}
		if !in.ownedCheckpoint {
			r.ckpt = newCheckpointer(r.store, &r.tracker, gen, r.log, in.m.checkpointErrors, r.labels)
		}
	}
	if r.hasHandover {
		// A replaced stream goes on from where the old one's events were
		// settled, which its final checkpoint also holds.
		opts.LastEventID = r.handover
	}
	if r.store != nil {
		r.points = newResumeMeta(r.store.key, opts.LastEventID)
	}
	if r.resume.cursorMode() {
		// The cursor is the resume point; the event source starts with no
		// ID of its own.
		r.resume.start(opts.LastEventID)
		opts.LastEventID = ""
	}
	if r.dedupe != nil {
		r.dedupe.seed(opts.LastEventID)
	}
	h := in.h
	h.mu.Lock()
	if r.end != nil {
		h.mu.Unlock()
		return nil // stopped before it started
	}
	r.started, r.startID = true, opts.LastEventID
	h.mu.Unlock()
	if src != nil {
		r.es = sse.From(src, opts)
		r.setGauge(in.m.readyState, int64(sse.Open))
	} else {
		es, err := sse.New(r.conf.URL, opts)
		if err != nil {
			return err
		}
		r.es = es
		r.setGauge(in.m.readyState, int64(sse.Connecting))
		if r.gauges {
			activity.add(r, es)
		}
	}
	r.readerDone = make(chan struct{})
	go r.read(r.es)
	return nil
}

func (r *reader) options() sse.Options {
	c := r.in.conf
	return sse.Options{
		Client:              r.client(),
		Method:              r.conf.Method,
		Body:                r.conf.Body,
		PrepareRequest:      r.prepare,
		ResolveURL:          r.resolveURL(),
		LastEventID:         r.conf.LastEventID,
		ReconnectionTime:    max(c.ReconnectInitial, minReconnect),
		MaxReconnectionTime: maxReconnect(c),
		MaxElapsedTime:      c.ReconnectMaxElapsed,
		MinReconnectionTime: minReconnect,
		BackoffFactor:       c.BackoffFactor,
		Jitter:              c.Jitter,
		IdleTimeout:         c.IdleTimeout,
		CloseAtEnd:          c.StopAtStreamEnd,
		MaxEventSize:        c.MaxEventSize,
		// The status policy: 204 and the statuses in fail_on end the
		// stream; anything else is retried (see onError for the waits).
		RetryResponse: func(re *sse.ResponseError) bool {
			return re.StatusCode != http.StatusNoContent && !c.FailOn[re.StatusCode]
		},
		// Statuses that retrying soon will not fix: every retry after one
		// waits the longest wait, reconnect.max_interval, so that a wrong
		// credential or URL does not hammer the server.
		SlowRetryStatuses: []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusGone},
		OnOpen:            r.onOpen,
		OnError:           r.onError,
		OnIDNotSendable:   r.onIDNotSendable,
	}
}

// ownHeaderNames names the stream's own headers, which a redirect to
// another origin drops as it drops the input's.
func (r *reader) ownHeaderNames() []string {
	var names []string
	for k := range r.conf.Headers {
		names = append(names, k)
	}
	for k := range r.conf.InterpolatedHeaders {
		names = append(names, k)
	}
	return names
}

// client returns the client the stream sends with: the input's, unless the
// stream's own headers or body change the redirect policy (a client per
// stream cost 10,000 streams 4 MiB).
func (r *reader) client() *http.Client {
	c := r.in.conf
	own := r.ownHeaderNames()
	if len(own) == 0 && r.in.client != nil && (len(r.conf.Body) > 0) == (len(c.Body) > 0) {
		return r.in.client
	}
	return newHTTPClient(c, r.in.tokens, own, r.conf.Body)
}

// prepare completes each connection's first request: the headers, the
// token and the signatures, evaluated for this attempt. It runs on the
// reader goroutine, inside Next.
func (r *reader) prepare(req *http.Request) error {
	if r.req == nil {
		return nil
	}
	return r.req.prepare(req, r.resume.vars(r.es))
}

// resolveURL is the event source's ResolveURL when the url has
// interpolations (a single stream's); it runs on the reader goroutine,
// inside Next.
func (r *reader) resolveURL() func() (string, error) {
	if r.req == nil || !r.req.dynamicURL() || r.in.many {
		return nil
	}
	return func() (string, error) { return r.req.resolveURL(r.resume.vars(r.es)) }
}

// onCursorNotSendable counts a cursor that could not be sent in a header,
// warning as onIDNotSendable does.
func (r *reader) onCursorNotSendable(cursor string) {
	r.incr(r.in.m.unsendable, 1)
	r.unsendableIDs++
	if n := r.unsendableIDs; n&(n-1) == 0 {
		r.log.Warnf("Cursor %s (%d bytes) cannot be sent in a header; keeping the cursor %s instead (%d such so far)",
			logID(cursor), len(cursor), logID(r.resume.cursor), n)
	}
}

// maxReconnect is the cap on every reconnection wait. It is never below
// initial_interval or the floor, which it would otherwise override, along
// with a server's Retry-After (a cap at the 100ms floor once made 49
// requests in 5s against "503, Retry-After: 60").
func maxReconnect(c *benthossse.Config) time.Duration {
	return max(c.ReconnectMax, c.ReconnectInitial, minReconnect)
}

// incr adds n to a counter of this stream. Without labels of its own it
// passes the stream's as they are: appending them to nothing copied them,
// four allocations per batch of events at 10,000 streams (4% of the input's
// allocations).
func (r *reader) incr(m *service.MetricCounter, n int64, labels ...string) {
	switch {
	case n <= 0:
	case len(labels) == 0:
		m.Incr(n, r.labels...)
	default:
		m.Incr(n, append(labels, r.labels...)...)
	}
}

// setGauge sets a gauge of this stream, if it has its own.
func (r *reader) setGauge(g *service.MetricGauge, v int64) {
	if r.gauges {
		g.Set(v, r.labels...)
	}
}

// onIDNotSendable counts an event ID that cannot be sent as Last-Event-ID
// (a control character, or over sse.MaxIDLength bytes): the events keep it
// in sse_id, but the resume point, and so the checkpoint, stays at the last
// sendable ID. It warns for the 1st, 2nd, 4th, 8th... such ID, so that a
// server sending one with every event cannot flood the log.
func (r *reader) onIDNotSendable(id string) {
	r.incr(r.in.m.unsendable, 1)
	r.unsendableIDs++
	if n := r.unsendableIDs; n&(n-1) == 0 {
		r.log.Warnf("Event ID %s (%d bytes) cannot be sent as Last-Event-ID; resuming from the last sendable ID %s instead (%d such IDs so far)",
			logID(id), len(id), logID(r.es.LastEventID()), n)
	}
}

func (r *reader) onOpen(resp *http.Response) {
	r.attempt++
	r.setGauge(r.in.m.readyState, int64(sse.Open))
	if r.gauges {
		r.in.m.backoff.SetFloat64(0, r.labels...)
	}
	r.opened()
	if resp == nil {
		return
	}
	r.status = resp.StatusCode
	r.finalURL = resp.Request.URL.Redacted()
	r.headers = nil
	if c := r.in.conf; !c.ExtractHeaders.IsEmpty() {
		r.headers = map[string]string{}
		for k, v := range resp.Header {
			if k = strings.ToLower(k); len(v) > 0 && c.ExtractHeaders.Match(k) {
				r.headers[k] = v[0]
			}
		}
	}
	r.log.Infof("Connected to %s (connection %d)", logURL(r.finalURL), r.attempt)
}

// reconnectCause is the cause label of sse_reconnects.
type reconnectCause string

const (
	causeNetwork     reconnectCause = "network"      // a network error, or a request that could not be made
	causeEOF         reconnectCause = "eof"          // the server ended the response body
	causeIdleTimeout reconnectCause = "idle_timeout" // idle_timeout passed without a byte
	causeStatus      reconnectCause = "status"       // a status other than 200, or a wrong content type
	causeRequest     reconnectCause = "request"      // the request could not be made: an interpolation or the OAuth 2 token endpoint failed
)

func causeOf(err error) reconnectCause {
	var re *sse.ResponseError
	switch {
	case errors.Is(err, sse.ErrStreamEnded):
		return causeEOF
	case errors.Is(err, sse.ErrIdleTimeout):
		return causeIdleTimeout
	case errors.As(err, &re):
		return causeStatus
	case errors.Is(err, errRequest):
		return causeRequest
	}
	return causeNetwork
}

// onError runs when a connection attempt fails or an open stream is lost.
// Unless the event source closed (the reader then reports why), it holds
// the reader until the next attempt may start: with one stream, until
// Connect asks for it (Connect returns a failed attempt's error to Benthos,
// which logs it, reports the input as not connected, and waits before
// calling Connect again); with many, for the wait, after logging the
// failure itself.
func (r *reader) onError(err error) {
	cause := causeOf(err)
	es := r.es
	state := es.ReadyState()
	r.setGauge(r.in.m.readyState, int64(state))
	if state == sse.Closed {
		return
	}
	r.incr(r.in.m.reconnects, 1, string(cause))
	wait := es.ReconnectDelay()
	if r.gauges {
		r.in.m.backoff.SetFloat64(wait.Seconds(), r.labels...)
	}
	if cause == causeEOF || cause == causeIdleTimeout {
		r.log.Warnf("Connection to %s lost (%s); reconnecting in %v with Last-Event-ID %s", logURL(es.URL()), logErr(err), wait.Round(time.Millisecond), logID(es.LastEventID()))
		r.disconnected(nil, wait)
		return
	}
	if r.in.many {
		r.log.Warnf("Connecting to %s failed: %s; retrying in %v", logURL(es.URL()), logErr(err), wait.Round(time.Millisecond))
	}
	r.disconnected(err, wait)
}

// read is the reader goroutine: it pulls events from es until the event
// source ends or the reader is stopped, queueing them for ReadBatch.
func (r *reader) read(es *sse.EventSource) {
	defer close(r.readerDone)
	for {
		room, ok := r.waitForRoom()
		if !ok {
			r.stopped(sse.ErrClosed)
			return
		}
		ev, err := es.Next(context.Background())
		if errors.Is(err, sse.ErrEventTooLarge) {
			r.oversized(es)
			continue
		}
		if err != nil {
			r.stopped(err)
			return
		}
		if !r.queue(es, ev, room) {
			return
		}
	}
}

// queue turns ev, and the events that arrived with it (up to room), into
// a chunk for ReadBatch; it reports false once the reader is done.
//
// It is apart from read so that read's frame, which stays on the stack
// while the goroutine waits in Next, is small: the garbage collector
// shrinks a stack only while its goroutine uses under a quarter of it, so
// the less an idle reader uses, the more of ten thousand idle readers'
// stacks can shrink. The effect on the stacks of 10,000 streams was within
// the variance between runs (see the README's Performance).
//
//go:noinline
func (r *reader) queue(es *sse.EventSource, ev sse.Event, room int) bool {
	h := r.in.h
	var msgs service.MessageBatch
	var c counts
	size := 0
	appendEvent := func(ev sse.Event) {
		n := len(msgs)
		msgs = r.add(msgs, ev, &c)
		if len(msgs) > n {
			size += len(ev.Data)
		}
	}
	appendEvent(ev)
	for len(msgs) < room && size < readAheadBytes && !r.ending {
		ev, ok, err := es.Buffered()
		if errors.Is(err, sse.ErrEventTooLarge) {
			r.oversized(es)
			continue
		}
		if !ok {
			break
		}
		appendEvent(ev)
	}
	r.count(c)
	id := r.resume.point(es)
	h.mu.Lock()
	if r.end != nil {
		// Removed by a caller that gave up waiting for this goroutine
		// (see abandon): its events go nowhere.
		h.mu.Unlock()
		return false
	}
	switch {
	case len(msgs) > 0:
		ch := &chunk{r: r, msgs: msgs, bytes: size, id: id}
		if r.in.conf.Linger > 0 {
			ch.at = time.Now()
		}
		h.queue = append(h.queue, ch)
		h.events += len(msgs)
		h.bytes += size
		r.queued++
		r.last = ch
		if h.filled != nil && h.full(r.in.conf.MaxBatchSize) {
			close(h.filled)
			h.filled = nil
		}
	case r.queued > 0:
		// Everything was filtered out: the resume point after the
		// stream's last queued chunk moves past it.
		r.last.id = id
	default:
		// Everything was filtered out and nothing waits before it:
		// settled at once, so the resume point moves past it.
		r.settled(r.tracker.track(id, 0))
	}
	h.broadcast()
	h.mu.Unlock()
	if r.ending {
		r.stopped(errEndOnData)
		return false
	}
	return true
}

// waitForRoom waits until the batch being read ahead has room, and returns
// how many events it may still take; ok is false once the reader was
// stopped.
func (r *reader) waitForRoom() (room int, ok bool) {
	h := r.in.h
	limit := r.in.conf.MaxBatchSize
	h.mu.Lock()
	defer h.mu.Unlock()
	for h.full(limit) {
		if !h.await(r.closing) {
			return 0, false
		}
	}
	return limit - h.events, true
}

// stopped records why the reader stopped. With many streams the stream's
// end is logged now (a failure recorded for the exit code); with one, when
// the input ends.
func (r *reader) stopped(err error) {
	h := r.in.h
	h.mu.Lock()
	defer h.mu.Unlock()
	r.stoppedLocked(err)
}

func (r *reader) stoppedLocked(err error) {
	h := r.in.h
	if r.end != nil {
		return
	}
	if r.open {
		h.open--
	}
	r.open = false
	r.end = err
	h.ended++
	h.broadcast()
	if r.in.many && !errors.Is(err, errRemoved) && !errors.Is(err, sse.ErrClosed) {
		_ = r.ended(err)
	}
}

// opened records that a stream opened; the reader calls it from OnOpen.
func (r *reader) opened() {
	h := r.in.h
	h.mu.Lock()
	defer h.mu.Unlock()
	if !r.open {
		h.open++
	}
	r.open, r.failed, r.lastErr = true, nil, nil
	r.opens++
	h.broadcast()
}

// disconnected records that a connection attempt failed (failed != nil)
// or an open stream was lost, and then holds the reader until the next
// attempt may start (or the reader is stopped). The reader calls it from
// OnError while the event source is about to reconnect.
func (r *reader) disconnected(failed error, wait time.Duration) {
	h := r.in.h
	h.mu.Lock()
	if r.open {
		h.open--
	}
	r.open = false
	r.failed, r.wait = failed, wait
	if failed != nil {
		r.lastErr = failed
		h.failures++
	}
	h.broadcast()
	if r.in.many {
		h.mu.Unlock()
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.closing:
		}
		return
	}
	defer h.mu.Unlock()
	r.paused = true
	for r.paused {
		if !h.await(r.closing) {
			return
		}
	}
}

// settled marks a batch of this stream as acknowledged.
func (r *reader) settled(seq uint64) {
	if r.tracker.settle(seq) && r.ckpt != nil {
		r.ckpt.changed()
	}
	r.lagChanged()
	if r.draining.Load() {
		h := r.in.h
		h.mu.Lock()
		h.broadcast()
		h.mu.Unlock()
	}
}

func (r *reader) lagChanged() {
	r.setGauge(r.in.m.lag, int64(r.tracker.unsettled()))
}

func (r *reader) oversized(es *sse.EventSource) {
	r.incr(r.in.m.oversized, 1)
	r.log.Warnf("Skipped an event over max_event_size (%d bytes); last event ID %s", r.in.conf.MaxEventSize, logID(es.LastEventID()))
}

// stop closes the event source and releases a waiting reader, without
// waiting for it. A reader that has not started never will.
func (r *reader) stop() {
	r.stopOnce.Do(func() { close(r.closing) })
	h := r.in.h
	h.mu.Lock()
	if !r.started {
		r.stoppedLocked(sse.ErrClosed)
	}
	h.mu.Unlock()
	if es := r.esIfStarted(); es != nil {
		es.Close()
	}
}

// esIfStarted returns the event source once start made it.
func (r *reader) esIfStarted() *sse.EventSource {
	r.in.startMu.Lock()
	defer r.in.startMu.Unlock()
	return r.es
}

// close waits for the stopped reader to return and writes the stream's
// final checkpoint, returning that write's error.
func (r *reader) close(ctx context.Context) error {
	r.in.startMu.Lock()
	done, ckpt := r.readerDone, r.ckpt
	r.in.startMu.Unlock()
	if done != nil {
		select {
		case <-done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	activity.remove(r)
	var err error
	if ckpt != nil {
		err = ckpt.close(ctx)
	}
	return err
}

// abandon releases what a removed stream owns when the caller gave up
// waiting for its events in flight (its ctx ended): the stream is gone, and
// may already run elsewhere from its checkpoint, so no final checkpoint is
// written and no acknowledgement arriving later writes one; a write in
// progress is cancelled and waited for. The reader, stopped, returns by
// itself (and queues nothing more: its stream has ended).
func (r *reader) abandon() {
	if done := r.release(); done != nil {
		<-done
	}
}

// release is abandon without waiting for a checkpoint write in progress,
// which is cancelled and ends by itself: for Close, which must return once
// its ctx ends. It returns that write's done channel, or nil.
func (r *reader) release() <-chan struct{} {
	r.in.startMu.Lock()
	ckpt := r.ckpt
	r.in.startMu.Unlock()
	activity.remove(r)
	if ckpt == nil {
		return nil
	}
	return ckpt.release()
}

// ended maps why the stream stopped to what Benthos expects, logging it
// and recording a failure for the exit code when it could not go on.
func (r *reader) ended(err error) error {
	r.setGauge(r.in.m.readyState, int64(sse.Closed))
	c := r.in.conf
	var re *sse.ResponseError
	switch {
	case errors.Is(err, errEndOnData), errors.Is(err, sse.ErrClosed), errors.Is(err, errRemoved):
		return service.ErrEndOfInput
	case errors.Is(err, sse.ErrGaveUp):
		r.log.Errorf("Giving up on %s (reconnect.max_elapsed_time is %v): %s", logURL(r.source()), c.ReconnectMaxElapsed, logErr(err))
		recordFailure(fmt.Errorf("%s: %w (reconnect.max_elapsed_time is %v)", logURL(r.source()), boundErr(err), c.ReconnectMaxElapsed))
		return service.ErrEndOfInput
	case errors.Is(err, io.EOF):
		if c.From != "" {
			r.log.Infof("End of stream %s", c.From)
		} else {
			r.log.Infof("Stream %s ended; stream_end is stop", logURL(r.source()))
		}
		return service.ErrEndOfInput
	case errors.As(err, &re) && c.FailOn[re.StatusCode]:
		r.log.Errorf("%s: %d is listed in fail_on; ending the %s", logErr(re), re.StatusCode, r.what())
		recordFailure(fmt.Errorf("%w (%d is listed in fail_on)", boundErr(re), re.StatusCode))
		return service.ErrEndOfInput
	case errors.As(err, &re):
		r.log.Infof("%s: the server asks clients to stop; ending the %s", logErr(re), r.what())
		return service.ErrEndOfInput
	}
	r.log.Errorf("Reading %s failed: %s", logURL(r.source()), logErr(err))
	recordFailure(fmt.Errorf("reading %s failed: %w", logURL(r.source()), boundErr(err)))
	return service.ErrEndOfInput
}

// what names what a stream's end ends: the input, or one of its streams.
func (r *reader) what() string {
	if r.in.many {
		return "stream"
	}
	return "input"
}

func (r *reader) source() string {
	if r.in.conf.From != "" {
		return r.in.conf.From
	}
	return r.conf.URL
}

// counts holds a chunk's metric increments, made once per chunk rather
// than once per event: every increment resolves the input's labels, which
// allocates.
type counts struct{ events, bytes, filtered, deduplicated int64 }

func (r *reader) count(c counts) {
	m := r.in.m
	r.incr(m.events, c.events)
	r.incr(m.bytes, c.bytes)
	r.incr(m.filtered, c.filtered)
	r.incr(m.deduplicated, c.deduplicated)
}

// add appends ev to msgs as a message unless it is filtered out, a replay,
// or the end sentinel, and counts it in c.
func (r *reader) add(msgs service.MessageBatch, ev sse.Event, c *counts) service.MessageBatch {
	in := r.in
	r.resume.observe(ev) // filtered and replayed events move the resume point too
	c.events++
	c.bytes += int64(len(ev.Data))
	if r.points != nil {
		// Right after the event source returned ev: the point after ev.
		r.points.moveTo(r.resume.point(r.es))
	}
	if in.include != nil && !in.include[ev.Type] || in.exclude[ev.Type] {
		c.filtered++
		return msgs
	}
	if in.conf.EndOnData != "" && string(ev.Data) == in.conf.EndOnData {
		r.log.Infof("Received end_on_data sentinel %q; ending the %s", in.conf.EndOnData, r.what())
		r.ending = true
		return msgs
	}
	if r.dedupe != nil && r.dedupe.seen(ev) {
		c.deduplicated++
		return msgs
	}
	msg := r.meta.message(ev)
	if r.nameMeta != nil {
		msg.MetaSetMut(benthossse.MetaStream, r.nameMeta)
	}
	if r.points != nil {
		r.points.set(msg, &r.meta)
	}
	for k, v := range r.headers {
		msg.MetaSetMut(k, v)
	}
	if in.conf.MetaRetry && ev.HasRetry {
		msg.MetaSetMut(benthossse.MetaRetry, strconv.FormatInt(ev.Retry.Milliseconds(), 10))
	}
	if in.conf.MetaConnection {
		msg.MetaSetMut(benthossse.MetaAttempt, strconv.Itoa(r.attempt))
		msg.MetaSetMut(benthossse.MetaStatus, strconv.Itoa(r.status))
		msg.MetaSetMut(benthossse.MetaURL, r.finalURL)
	}
	return append(msgs, msg)
}

// eventMeta turns events into messages: the data as the payload, with the
// metadata the input and the scanner both set. It reuses the previous
// event's metadata values when they repeat, as the type usually does and
// the ID does on streams without ids: storing a string in an any
// allocates, and a string, being immutable, can be shared by messages.
type eventMeta struct {
	typ, id       string
	typAny, idAny any
}

func (m *eventMeta) message(ev sse.Event) *service.Message {
	if m.typAny == nil || ev.Type != m.typ {
		m.typ, m.typAny = ev.Type, ev.Type
	}
	if m.idAny == nil || ev.LastEventID != m.id {
		m.id, m.idAny = ev.LastEventID, ev.LastEventID
	}
	msg := service.NewMessage(ev.Data)
	msg.MetaSetMut(benthossse.MetaEvent, m.typAny)
	msg.MetaSetMut(benthossse.MetaLastEventID, m.idAny)
	return msg
}

// resumeMeta sets sse_checkpoint_key and sse_resume_point, so that an
// output committing resume points with its records (a transactional
// kafka_franz) knows each event's: what the input would checkpoint once the
// event is acknowledged, which the resumer decides (the event source's
// last sendable ID, or the resume.cursor). Like eventMeta, it stores a
// value in an any only when it changes, and shares eventMeta's when the
// resume point is the event's own ID.
type resumeMeta struct {
	keyAny   any
	point    string // the resume point
	pointAny any    // point, stored in an any; nil when stale
}

// newResumeMeta starts from the input's starting point, which is sendable.
func newResumeMeta(key, start string) *resumeMeta {
	return &resumeMeta{keyAny: key, point: start}
}

// moveTo sets the resume point.
func (r *resumeMeta) moveTo(point string) {
	if point != r.point {
		r.point, r.pointAny = point, nil
	}
}

// set writes both keys to msg, whose event is the last one moved past;
// m is the eventMeta that made msg.
func (r *resumeMeta) set(msg *service.Message, m *eventMeta) {
	if r.pointAny == nil {
		if r.point == m.id && m.idAny != nil {
			r.pointAny = m.idAny
		} else {
			r.pointAny = r.point
		}
	}
	msg.MetaSetMut(benthossse.MetaCheckpointKey, r.keyAny)
	msg.MetaSetMut(benthossse.MetaResumePoint, r.pointAny)
}
