// Package input registers the Benthos `sse` input and the `sse` scanner.
// Import it for its side effect to add both to a Benthos build:
//
//	import _ "github.com/benthos-sse/benthos-sse/input"
package input

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	benthossse "github.com/benthos-sse/benthos-sse"
	"github.com/benthos-sse/benthos-sse/sse"
)

func init() {
	service.MustRegisterBatchInput("sse", benthossse.ConfigSpec(),
		func(conf *service.ParsedConfig, mgr *service.Resources) (service.BatchInput, error) {
			in, err := newInput(conf, mgr)
			if err != nil {
				return nil, err
			}
			retrying, err := service.AutoRetryNacksBatchedToggled(conf, in)
			if err != nil {
				return nil, err
			}
			// Outermost, so that a rejected batch is queued for replay
			// before the next batch may be read.
			return service.InputBatchedWithMaxInFlight(in.conf.MaxInFlight, retrying), nil
		})
	service.MustRegisterBatchScannerCreator("sse", benthossse.ScannerConfigSpec(), newScannerCreator)
}

// minReconnect floors every reconnection wait, so that neither a zero
// initial_interval nor a server's "retry: 0" followed by closing every
// connection can make a hot loop.
const minReconnect = 100 * time.Millisecond

type metrics struct {
	events, bytes, oversized, filtered, deduplicated *service.MetricCounter
	reconnects, checkpointErrors, unsendable         *service.MetricCounter
	readyState, lag, backoff, lastByteAge            *service.MetricGauge
}

func newMetrics(m *service.Metrics) metrics {
	return metrics{
		events:           m.NewCounter("sse_events_received"),
		bytes:            m.NewCounter("sse_bytes_received"),
		oversized:        m.NewCounter("sse_events_oversized"),
		filtered:         m.NewCounter("sse_events_filtered"),
		deduplicated:     m.NewCounter("sse_events_deduplicated"),
		reconnects:       m.NewCounter("sse_reconnects", "cause"),
		checkpointErrors: m.NewCounter("sse_checkpoint_errors"),
		unsendable:       m.NewCounter("sse_ids_unsendable"),
		readyState:       m.NewGauge("sse_ready_state"),
		lag:              m.NewGauge("sse_checkpoint_lag"),
		backoff:          m.NewGauge("sse_backoff_seconds"),
		lastByteAge:      m.NewGauge("sse_last_byte_age_seconds"),
	}
}

type sseInput struct {
	conf   *benthossse.Config
	res    *service.Resources
	log    *service.Logger
	m      metrics
	client *http.Client
	req    *requestTemplate // what each connection attempt sends

	include, exclude map[string]bool
	meta             eventMeta   // used by the goroutine calling ReadBatch
	points           *resumeMeta // with checkpoint.cache; set by start, then used by the reader
	dedupe           *deduper

	tracker tracker
	store   *checkpointStore
	ckpt    *checkpointer // nil without checkpoint.cache, or when an output owns the checkpoint
	// ownedCheckpoint: the checkpoint cache serves resume points an output
	// commits with its records, and the input writes none (see OwnedMarker).
	ownedCheckpoint bool

	mu         sync.Mutex // guards es and readerDone against Close
	es         *sse.EventSource
	readerDone chan struct{} // closed when the reader goroutine returns

	h         *handoff      // between the reader and ReadBatch and Connect
	closing   chan struct{} // closed by Close: releases a waiting reader
	closeOnce sync.Once
	endOnce   sync.Once
	endErr    error // what ReadBatch and Connect return once the reader ended

	from *fromOpener // the `from` file, unless it is stdin

	// State of the reader goroutine (OnOpen and OnError run on it too).
	attempt       int
	status        int
	finalURL      string
	headers       map[string]string
	resume        resumer // the resume point: the event ID, or resume.cursor
	ending        bool    // end_on_data was seen: end after this batch
	unsendableIDs uint64  // event IDs that could not be sent, for onIDNotSendable
}

func newInput(conf *service.ParsedConfig, res *service.Resources) (*sseInput, error) {
	c, err := benthossse.ParseConfig(conf)
	if err != nil {
		return nil, err
	}
	in := &sseInput{conf: c, res: res, log: res.Logger(), m: newMetrics(res.Metrics()), h: newHandoff(), closing: make(chan struct{})}
	if err := checkFrom(c.From); err != nil {
		return nil, err
	}
	if c.From != "" && c.From != "-" {
		in.from = newFromOpener(c.From)
	}
	if c.URL != "" {
		var tokens *tokenSource
		if c.OAuth2 != nil {
			// The token endpoint gets the stream's transport (TLS, proxy),
			// without the stream's redirect policy or retry.
			tokens = newTokenSource(c.OAuth2, &http.Client{Transport: transportFor(c)}, c.Timeout)
		}
		in.req = newRequestTemplate(c, tokens, res.FS())
		in.client = newHTTPClient(c, tokens)
	}
	in.resume = resumer{mapping: c.ResumeCursor, unsendable: in.onCursorNotSendable}
	in.include = toSet(c.Events)
	in.exclude = toSet(c.ExcludeEvents)
	if c.DedupeMode != benthossse.DedupeNone {
		in.dedupe = newDeduper(c.DedupeMode, c.DedupeWindow)
	}
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

// Connect starts the reader on the first call, and returns once a stream
// is open: nil, so that Benthos reports the input connected only while it
// is. When the connection attempt fails it returns why, with the wait
// before the next attempt, which the next call then lets the reader make;
// the event source's backoff, the server's retry and the status policy
// decide the waits, not Benthos' own connect backoff.
func (in *sseInput) Connect(ctx context.Context) error {
	if err := in.start(ctx); err != nil {
		return err
	}
	h := in.h
	h.mu.Lock()
	defer h.mu.Unlock()
	opens := h.opens
	if h.paused {
		// The reader waits for this call to make its next attempt.
		h.paused, h.failed = false, nil
		h.broadcast()
	}
	for {
		switch {
		case h.open, h.opens != opens:
			// Open, or opened and already lost: ReadBatch hands out what
			// it delivered and then reports the loss.
			return nil
		case h.end != nil:
			if len(h.batch) > 0 {
				return nil // ReadBatch hands out what was read first
			}
			return in.finish(h.end)
		case h.failed != nil:
			err, wait := h.failed, h.wait
			h.failed = nil
			// Benthos logs it: bounded, and without query values.
			return service.NewErrBackOff(fmt.Errorf("%w; retrying in %v", boundErr(err), wait.Round(time.Millisecond)), wait)
		}
		if !h.await(ctx.Done()) {
			return ctx.Err()
		}
	}
}

// start creates the event source and starts the reader, once.
func (in *sseInput) start(ctx context.Context) error {
	// Opened before taking the lock, which Close needs: opening a FIFO
	// blocks until a writer appears.
	var r io.Reader = os.Stdin
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
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.es != nil {
		return nil
	}
	opts := in.options()
	if in.store != nil {
		gen, id, ok, invalid, unsendable, err := in.store.load(ctx)
		if err != nil {
			return err
		}
		for _, k := range invalid {
			in.log.Warnf("Ignoring checkpoint key %q of cache %q: not a checkpoint this input wrote (or over %d bytes), or a write torn by a crash", k, in.store.cache, maxCheckpointSize)
		}
		for _, k := range unsendable {
			in.m.unsendable.Incr(1)
			in.log.Warnf("Ignoring checkpoint key %q of cache %q: its ID cannot be sent as Last-Event-ID (a control character, or over %d bytes)", k, in.store.cache, sse.MaxIDLength)
		}
		switch {
		case ok && in.resume.cursorMode():
			in.log.Infof("Resuming from checkpoint: cursor %s", logID(id))
			opts.LastEventID = id
		case ok:
			in.log.Infof("Resuming from checkpoint: Last-Event-ID %s", logID(id))
			opts.LastEventID = id
		}
		if !in.ownedCheckpoint {
			in.ckpt = newCheckpointer(in.store, &in.tracker, gen, in.log, in.m.checkpointErrors)
		}
	}
	if in.store != nil {
		in.points = newResumeMeta(in.store.key, opts.LastEventID)
	}
	if in.resume.cursorMode() {
		// The cursor is the resume point; the event source starts with no
		// ID of its own.
		in.resume.start(opts.LastEventID)
		opts.LastEventID = ""
	}
	if in.dedupe != nil {
		in.dedupe.seed(opts.LastEventID)
	}
	if in.conf.From != "" {
		in.es = sse.From(r, opts)
		in.m.readyState.Set(int64(sse.Open))
		in.readerDone = make(chan struct{})
		go in.read(in.es)
		return nil
	}
	es, err := sse.New(in.conf.URLBase, opts)
	if err != nil {
		return err
	}
	in.es = es
	in.m.readyState.Set(int64(sse.Connecting))
	activity.add(in, es)
	in.readerDone = make(chan struct{})
	go in.read(es)
	return nil
}

func (in *sseInput) options() sse.Options {
	c := in.conf
	return sse.Options{
		Client:              in.client,
		Method:              c.Method,
		Body:                c.Body,
		PrepareRequest:      in.prepare,
		ResolveURL:          in.resolveURL(),
		LastEventID:         c.LastEventID,
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
		// input; anything else is retried (see onError for the waits).
		RetryResponse: func(re *sse.ResponseError) bool {
			return re.StatusCode != http.StatusNoContent && !c.FailOn[re.StatusCode]
		},
		// Statuses that retrying soon will not fix: every retry after one
		// waits the longest wait, reconnect.max_interval, so that a wrong
		// credential or URL does not hammer the server.
		SlowRetryStatuses: []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusGone},
		OnOpen:            in.onOpen,
		OnError:           in.onError,
		OnIDNotSendable:   in.onIDNotSendable,
	}
}

// onIDNotSendable counts an event ID that cannot be sent as Last-Event-ID
// (a control character, or over sse.MaxIDLength bytes): the events keep it
// in sse_id, but the resume point, and so the checkpoint, stays at the last
// sendable ID. It warns for the 1st, 2nd, 4th, 8th... such ID, so that a
// server sending one with every event cannot flood the log.
func (in *sseInput) onIDNotSendable(id string) {
	in.m.unsendable.Incr(1)
	in.unsendableIDs++
	if n := in.unsendableIDs; n&(n-1) == 0 {
		in.log.Warnf("Event ID %s (%d bytes) cannot be sent as Last-Event-ID; resuming from the last sendable ID %s instead (%d such IDs so far)",
			logID(id), len(id), logID(in.es.LastEventID()), n)
	}
}

// maxReconnect is the cap on every reconnection wait. It is never below
// initial_interval or the floor, which it would otherwise override, along
// with a server's Retry-After (a cap at the 100ms floor once made 49
// requests in 5s against "503, Retry-After: 60").
func maxReconnect(c *benthossse.Config) time.Duration {
	return max(c.ReconnectMax, c.ReconnectInitial, minReconnect)
}

// prepare completes each connection's first request: the headers, the
// token and the signatures, evaluated for this attempt. It runs on the
// reader goroutine, inside Next.
func (in *sseInput) prepare(req *http.Request) error {
	if in.req == nil {
		return nil
	}
	return in.req.prepare(req, in.resume.vars(in.es))
}

// resolveURL is the event source's ResolveURL when the url has
// interpolations; it runs on the reader goroutine, inside Next.
func (in *sseInput) resolveURL() func() (string, error) {
	if in.req == nil || !in.req.dynamicURL() {
		return nil
	}
	return func() (string, error) { return in.req.resolveURL(in.resume.vars(in.es)) }
}

// onCursorNotSendable counts a cursor that could not be sent in a header,
// warning as onIDNotSendable does.
func (in *sseInput) onCursorNotSendable(cursor string) {
	in.m.unsendable.Incr(1)
	in.unsendableIDs++
	if n := in.unsendableIDs; n&(n-1) == 0 {
		in.log.Warnf("Cursor %s (%d bytes) cannot be sent in a header; keeping the cursor %s instead (%d such so far)",
			logID(cursor), len(cursor), logID(in.resume.cursor), n)
	}
}

func (in *sseInput) onOpen(resp *http.Response) {
	in.attempt++
	in.m.readyState.Set(int64(sse.Open))
	in.m.backoff.SetFloat64(0)
	in.opened()
	if resp == nil {
		return
	}
	in.status = resp.StatusCode
	in.finalURL = resp.Request.URL.Redacted()
	in.headers = nil
	if !in.conf.ExtractHeaders.IsEmpty() {
		in.headers = map[string]string{}
		for k, v := range resp.Header {
			if k = strings.ToLower(k); len(v) > 0 && in.conf.ExtractHeaders.Match(k) {
				in.headers[k] = v[0]
			}
		}
	}
	in.log.Infof("Connected to %s (connection %d)", logURL(in.finalURL), in.attempt)
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
// the reader until Connect asks for the next attempt: Connect returns a
// failed attempt's error to Benthos, which logs it, reports the input as
// not connected, and waits before calling Connect again.
func (in *sseInput) onError(err error) {
	cause := causeOf(err)
	es := in.es
	state := es.ReadyState()
	in.m.readyState.Set(int64(state))
	if state == sse.Closed {
		return
	}
	in.m.reconnects.Incr(1, string(cause))
	wait := es.ReconnectDelay()
	in.m.backoff.SetFloat64(wait.Seconds())
	if cause == causeEOF || cause == causeIdleTimeout {
		in.log.Warnf("Connection to %s lost (%s); reconnecting in %v with Last-Event-ID %s", logURL(es.URL()), logErr(err), wait.Round(time.Millisecond), logID(es.LastEventID()))
		in.disconnected(nil, wait)
		return
	}
	in.disconnected(err, wait)
}

// ReadBatch hands out the events the reader read ahead: the next event
// together with those that arrived behind it, up to max_batch_size, never
// waiting to fill a batch. It returns service.ErrNotConnected once the
// stream was lost and everything read from it was handed out.
func (in *sseInput) ReadBatch(ctx context.Context) (service.MessageBatch, service.AckFunc, error) {
	h := in.h
	h.mu.Lock()
	for {
		if len(h.batch) > 0 {
			batch := h.batch
			seq := in.tracker.track(h.id, len(batch))
			h.batch, h.bytes = nil, 0
			h.broadcast()
			h.mu.Unlock()
			in.m.lag.Set(int64(in.tracker.unsettled()))
			return batch, func(ctx context.Context, err error) error {
				if err != nil {
					// auto_replay_nacks: false; the pipeline dropped the batch.
					in.log.Warnf("Dropping %d rejected events (auto_replay_nacks is false): %s", len(batch), logErr(err))
				}
				in.settled(seq)
				return nil
			}, nil
		}
		if h.end != nil {
			end := h.end
			h.mu.Unlock()
			return nil, nil, in.finish(end)
		}
		if !h.open {
			h.mu.Unlock()
			return nil, nil, service.ErrNotConnected
		}
		if !h.await(ctx.Done()) {
			h.mu.Unlock()
			return nil, nil, ctx.Err()
		}
	}
}

func (in *sseInput) settled(seq uint64) {
	if in.tracker.settle(seq) && in.ckpt != nil {
		in.ckpt.changed()
	}
	in.m.lag.Set(int64(in.tracker.unsettled()))
}

func (in *sseInput) oversized(es *sse.EventSource) {
	in.m.oversized.Incr(1)
	in.log.Warnf("Skipped an event over max_event_size (%d bytes); last event ID %s", in.conf.MaxEventSize, logID(es.LastEventID()))
}

// finish maps why the reader stopped to what Benthos expects, logging it
// and recording a failure once.
func (in *sseInput) finish(err error) error {
	in.endOnce.Do(func() { in.endErr = in.ended(err) })
	return in.endErr
}

func (in *sseInput) ended(err error) error {
	in.m.readyState.Set(int64(sse.Closed))
	var re *sse.ResponseError
	switch {
	case errors.Is(err, errEndOnData), errors.Is(err, sse.ErrClosed):
		return service.ErrEndOfInput
	case errors.Is(err, sse.ErrGaveUp):
		in.log.Errorf("Giving up on %s (reconnect.max_elapsed_time is %v): %s", logURL(in.source()), in.conf.ReconnectMaxElapsed, logErr(err))
		recordFailure(fmt.Errorf("%s: %w (reconnect.max_elapsed_time is %v)", logURL(in.source()), boundErr(err), in.conf.ReconnectMaxElapsed))
		return service.ErrEndOfInput
	case errors.Is(err, io.EOF):
		if in.conf.From != "" {
			in.log.Infof("End of stream %s", in.conf.From)
		} else {
			in.log.Infof("Stream %s ended; stream_end is stop", logURL(in.source()))
		}
		return service.ErrEndOfInput
	case errors.As(err, &re) && in.conf.FailOn[re.StatusCode]:
		in.log.Errorf("%s: %d is listed in fail_on; ending the input", logErr(re), re.StatusCode)
		recordFailure(fmt.Errorf("%w (%d is listed in fail_on)", boundErr(re), re.StatusCode))
		return service.ErrEndOfInput
	case errors.As(err, &re):
		in.log.Infof("%s: the server asks clients to stop; ending the input", logErr(re))
		return service.ErrEndOfInput
	}
	in.log.Errorf("Reading %s failed: %s", logURL(in.source()), logErr(err))
	recordFailure(fmt.Errorf("reading %s failed: %w", logURL(in.source()), boundErr(err)))
	return service.ErrEndOfInput
}

func (in *sseInput) source() string {
	if in.conf.From != "" {
		return in.conf.From
	}
	return in.conf.URL
}

// counts holds a batch's metric increments, made once per batch rather
// than once per event: every increment resolves the input's labels, which
// allocates.
type counts struct{ events, bytes, filtered, deduplicated int64 }

func (in *sseInput) count(c counts) {
	incr(in.m.events, c.events)
	incr(in.m.bytes, c.bytes)
	incr(in.m.filtered, c.filtered)
	incr(in.m.deduplicated, c.deduplicated)
}

func incr(m *service.MetricCounter, n int64) {
	if n > 0 {
		m.Incr(n)
	}
}

// add appends ev to batch as a message unless it is filtered out, a replay,
// or the end sentinel, and counts it in c.
func (in *sseInput) add(batch service.MessageBatch, ev sse.Event, c *counts) service.MessageBatch {
	in.resume.observe(ev) // filtered and replayed events move the resume point too
	c.events++
	c.bytes += int64(len(ev.Data))
	if in.points != nil {
		if in.resume.cursorMode() {
			in.points.moveTo(in.resume.cursor)
		} else {
			in.points.advance(ev.LastEventID)
		}
	}
	if in.include != nil && !in.include[ev.Type] || in.exclude[ev.Type] {
		c.filtered++
		return batch
	}
	if in.conf.EndOnData != "" && string(ev.Data) == in.conf.EndOnData {
		in.log.Infof("Received end_on_data sentinel %q; ending the input", in.conf.EndOnData)
		in.ending = true
		return batch
	}
	if in.dedupe != nil && in.dedupe.seen(ev) {
		c.deduplicated++
		return batch
	}
	msg := in.meta.message(ev)
	if in.points != nil {
		in.points.set(msg, &in.meta)
	}
	for k, v := range in.headers {
		msg.MetaSetMut(k, v)
	}
	if in.conf.MetaRetry && ev.HasRetry {
		msg.MetaSetMut(benthossse.MetaRetry, strconv.FormatInt(ev.Retry.Milliseconds(), 10))
	}
	if in.conf.MetaConnection {
		msg.MetaSetMut(benthossse.MetaAttempt, strconv.Itoa(in.attempt))
		msg.MetaSetMut(benthossse.MetaStatus, strconv.Itoa(in.status))
		msg.MetaSetMut(benthossse.MetaURL, in.finalURL)
	}
	return append(batch, msg)
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
// event is acknowledged. That is the resume.cursor when one is configured;
// otherwise the event ID, following the event source's rule: an ID that
// cannot be sent as Last-Event-ID does not move it. Like eventMeta, it stores a value in an any only when it changes, and
// shares eventMeta's when the resume point is the event's own ID.
type resumeMeta struct {
	keyAny   any
	seen     string // the last event ID seen, sendable or not
	point    string // the resume point
	pointAny any    // point, stored in an any; nil when stale
}

// newResumeMeta starts from the input's starting ID, which is sendable.
func newResumeMeta(key, lastEventID string) *resumeMeta {
	return &resumeMeta{keyAny: key, seen: lastEventID, point: lastEventID}
}

// moveTo sets the resume point, a resume.cursor (which is sendable).
func (r *resumeMeta) moveTo(point string) {
	if point != r.point {
		r.point, r.pointAny = point, nil
	}
}

// advance moves past an event, filtered or not, whose last event ID is id.
func (r *resumeMeta) advance(id string) {
	if id == r.seen {
		return
	}
	r.seen = id
	if sse.SendableID(id) && id != r.point {
		r.point, r.pointAny = id, nil
	}
}

// set writes both keys to msg, whose event is the last one advanced past;
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

// Close stops the event source and the reader, interrupting a blocked
// ReadBatch, and writes the final checkpoint, returning that write's error.
// It gives up waiting when ctx is done.
func (in *sseInput) Close(ctx context.Context) error {
	in.closeOnce.Do(func() { close(in.closing) })
	in.mu.Lock()
	es, readerDone := in.es, in.readerDone
	in.mu.Unlock()
	if es != nil {
		es.Close()
	}
	if in.from != nil {
		// Ends an open of a FIFO that no writer opened yet.
		if err := in.from.close(ctx); err != nil {
			return err
		}
	}
	if readerDone != nil {
		select {
		case <-readerDone:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	activity.remove(in)
	var err error
	if in.ckpt != nil {
		err = in.ckpt.close(ctx)
	}
	if in.client != nil {
		in.client.CloseIdleConnections()
	}
	return err
}
