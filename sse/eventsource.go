package sse

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// ReadyState is the state of an [EventSource], as the readyState attribute
// of the standard's EventSource interface reports it.
type ReadyState int32

// The ready states, with the standard's numeric values.
const (
	// Connecting: the connection has not yet been established, or it was
	// lost and the event source is reconnecting.
	Connecting ReadyState = 0
	// Open: the connection is open and events are being received.
	Open ReadyState = 1
	// Closed: the connection is not open and the event source is not
	// trying to reconnect, because [EventSource.Close] was called, the
	// connection failed (see [ResponseError]), or a [From] stream ended.
	Closed ReadyState = 2
)

// String returns the standard's name for s: CONNECTING, OPEN or CLOSED.
func (s ReadyState) String() string {
	switch s {
	case Connecting:
		return "CONNECTING"
	case Open:
		return "OPEN"
	case Closed:
		return "CLOSED"
	}
	return fmt.Sprintf("ReadyState(%d)", int32(s))
}

// Defaults for the zero values of [Options].
const (
	// DefaultReconnectionTime is the wait before reconnecting until the
	// server sets another with a retry field. The standard leaves it to the
	// user agent ("probably in the region of a few seconds"); browsers use
	// about three seconds.
	DefaultReconnectionTime = 3 * time.Second
	// DefaultMaxReconnectionTime caps every wait, including one the server
	// asked for with retry or Retry-After, so that a buggy or hostile server
	// cannot stall reconnection for days.
	DefaultMaxReconnectionTime = 5 * time.Minute
)

var (
	// ErrClosed is returned by [EventSource.Next] once [EventSource.Close]
	// has been called.
	ErrClosed = errors.New("sse: event source closed")
	// ErrStreamEnded is the error passed to [Options.OnError] when the server
	// ends the response body. The event source reconnects.
	ErrStreamEnded = errors.New("sse: stream ended by the server")
	// ErrIdleTimeout is the error passed to [Options.OnError] when no bytes
	// arrived for [Options.IdleTimeout]. The event source reconnects.
	ErrIdleTimeout = errors.New("sse: idle timeout")
	// ErrIDNotSendable is wrapped by the error [New] returns when
	// [Options.LastEventID] is not a [SendableID]: fix or drop the ID.
	ErrIDNotSendable = errors.New("sse: last event ID cannot be sent as a header")
	// ErrGaveUp is wrapped, together with the last connection error, by the
	// error [EventSource.Next] returns when connecting kept failing for
	// [Options.MaxElapsedTime]. The event source is then closed; make a new
	// one to try again.
	ErrGaveUp = errors.New("sse: gave up reconnecting")
)

// MaxIDLength bounds the last event ID an event source sends as
// Last-Event-ID and reports as its resume point: an id field longer than
// this many bytes is treated like one holding a control character (see
// [SendableID]). It is far above the ids real servers send (counters, UUIDs,
// offsets) and well below the request header limits of common servers
// (nginx refuses headers above about 8 KiB by default).
const MaxIDLength = 4096

// SendableID reports whether id can be sent as a Last-Event-ID header
// value: it has at most [MaxIDLength] bytes, and no byte below 0x20 except
// tab, and no 0x7f. The standard lets an id hold any character but NUL, and
// browsers send such ids raw, but Go's net/http refuses to send a header
// value with a control character, so a reconnection with one would fail
// every time. The empty ID is sendable: it sends no header.
func SendableID(id string) bool {
	if len(id) > MaxIDLength {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// Options configures an [EventSource]: the EventSource constructor's options
// dictionary. The zero value of every field selects the documented default.
type Options struct {
	// Client makes every request: the Workers `fetcher` option. Nil means
	// http.DefaultClient. Its Timeout must be zero ([New] refuses any
	// other), because it would also limit how long a stream may stay open;
	// use the transport's ResponseHeaderTimeout and [Options.IdleTimeout]
	// instead. Redirects are followed as Client's CheckRedirect decides.
	Client *http.Client

	// Method is the request method. Empty means GET. POST with a Body suits
	// streaming APIs that take a request document, such as LLM APIs.
	Method string
	// Body is the request body, sent again on every reconnection.
	Body []byte
	// Header holds extra request headers. Accept, Cache-Control and
	// Last-Event-ID are set by the event source and override these.
	Header http.Header
	// PrepareRequest, if set, is called with each connection's first
	// request before it is sent, for example to sign it. Unlike a
	// RoundTripper it does not see redirected requests, so what it adds is
	// subject to the client's rules for forwarding sensitive headers (net/http
	// drops Authorization and Cookie on a redirect to another host).
	PrepareRequest func(*http.Request) error
	// ResolveURL, if set, is called before every connection attempt,
	// reconnections included, for the URL to request instead of the one
	// given to [New], which stays [EventSource.URL]. It suits a URL that
	// carries a credential that rotates, or a resume point of the
	// application's own (a cursor in a query parameter). It must return an
	// http or https URL with a host. An error, or a URL that is not one,
	// fails that attempt like a network error: it is passed to
	// [Options.OnError] and the attempt is retried after the reconnection
	// time. It runs on the goroutine calling [EventSource.Next], before
	// PrepareRequest.
	ResolveURL func() (string, error)

	// WithCredentials is the credentials flag. When false (the default) the
	// event source sends no ambient credentials: it ignores Client's cookie
	// jar and strips a user:password from the URL. Headers the caller sets
	// explicitly are always sent.
	WithCredentials bool
	// LastEventID is the last event ID to start from, sent as Last-Event-ID
	// on the first request when not empty. It must be a [SendableID]:
	// [New] refuses any other with an error wrapping [ErrIDNotSendable].
	LastEventID string

	// ReconnectionTime is the wait before reconnecting until the server sets
	// one with a retry field. Zero means [DefaultReconnectionTime].
	ReconnectionTime time.Duration
	// MaxReconnectionTime caps every wait, including one from the server's
	// retry field or Retry-After header. Zero means
	// [DefaultMaxReconnectionTime].
	MaxReconnectionTime time.Duration
	// MinReconnectionTime floors every wait, including one from the
	// server's retry field and the jitter. Zero means no floor, as the
	// standard has it; a server that sends "retry: 0" and then closes
	// every connection at once would then be reconnected to in a tight
	// loop.
	MinReconnectionTime time.Duration
	// BackoffFactor, when above 1, multiplies the wait by itself for each
	// consecutive failed attempt: the n-th attempt in a row waits
	// reconnection time × factor^(n-1), capped by MaxReconnectionTime. A
	// successful open resets it. Zero or 1 waits the reconnection time every
	// time, as the standard describes.
	BackoffFactor float64
	// Jitter, between 0 and 1, shortens each wait by a random fraction up
	// to this much, so that many clients dropped at once do not reconnect in
	// step. Zero means no jitter.
	Jitter float64
	// CloseAtEnd makes the end of a response body close the event source
	// instead of reconnecting: Next returns io.EOF. It suits one-shot streams
	// such as LLM completions, which end when the answer is complete.
	// Network errors and idle timeouts still reconnect.
	CloseAtEnd bool
	// IdleTimeout, when positive, treats a connection that delivered no byte
	// (comments included) for this long as lost: the event source reports
	// [ErrIdleTimeout] and reconnects. Only time spent waiting in a read
	// counts, so a slow consumer never trips it. Zero means no idle timeout.
	IdleTimeout time.Duration

	// MaxElapsedTime, when positive, gives up after connecting has kept
	// failing for this long, measured from the first failure (a lost
	// connection or a failed attempt) since the last successful open: the
	// event source closes, and Next returns an error wrapping [ErrGaveUp]
	// and the last failure's error. It is checked after each failed
	// attempt, so the last attempt may come up to one wait later. Zero means
	// never give up, as the standard has it.
	MaxElapsedTime time.Duration

	// MaxEventSize bounds one event; see [ParserOptions.MaxEventSize].
	MaxEventSize int

	// RetryResponse, if set, decides whether a response that fails the
	// connection (see [ResponseError]) is retried instead, like a network
	// error, waiting at least its Retry-After. Nil follows the standard:
	// never retry.
	RetryResponse func(*ResponseError) bool
	// SlowRetryStatuses lists the statuses that retrying soon will not fix,
	// such as 401, 403, 404 and 410 (a wrong credential or URL): when
	// RetryResponse retries a response with one of them, the wait before
	// the next attempt is the longest, MaxReconnectionTime, whatever the
	// backoff would pick, so that a misconfigured client does not hammer
	// the server. Nil treats every retried status alike.
	SlowRetryStatuses []int

	// OnOpen, if set, is called when a connection opens: the open event. It
	// gets the response, whose body it must not read; for a [From] stream it
	// gets nil. It runs on the goroutine calling [EventSource.Next].
	OnOpen func(*http.Response)
	// OnError, if set, is called with the reason whenever a connection
	// attempt fails or an open connection is lost: the error event. The
	// ready state tells whether the event source will reconnect
	// ([Connecting]) or has stopped ([Closed]). It runs on the goroutine
	// calling [EventSource.Next].
	OnError func(error)
	// OnIDNotSendable, if set, is called when the last event ID changes to
	// one that is not a [SendableID]. The events still carry that ID in
	// [Event.LastEventID], but the resume point ([EventSource.LastEventID],
	// the Last-Event-ID of the next reconnection) stays at the last
	// sendable ID, so reconnecting always works; the server may then send
	// again the events after that ID. The id may be long: log an excerpt. It
	// runs on the goroutine calling [EventSource.Next].
	OnIDNotSendable func(id string)
	// OnComment, if set, is called with each comment line: a line starting
	// with a colon, which the standard ignores but some servers use for
	// meaning beyond keeping the connection alive. See
	// [ParserOptions.OnComment]. It runs on the goroutine calling
	// [EventSource.Next]. Nil, the default, skips comments at no cost.
	OnComment func(comment string)
}

// EventSource is a client for one event stream, reconnecting as the
// standard's processing model describes. Events are pulled with
// [EventSource.Next], which also drives connecting and reconnecting, so
// nothing is read from the network faster than the caller consumes it.
//
// Next and Buffered must be called from one goroutine at a time; the other
// methods are safe to call from any goroutine at any time.
type EventSource struct {
	// Set by the constructor, then only read.
	url    *url.URL
	opts   Options
	client *http.Client
	from   bool

	state  atomic.Int32
	ctx    context.Context // cancelled by Close, or when the event source closes
	cancel context.CancelCauseFunc

	// Owned by the goroutine in Next: the parser, the reconnection policy,
	// and whether a body is being read (for From: whether OnOpen was called).
	parser    *Parser
	backoff   backoff
	connected bool
	opened    bool

	// The current connection, which Close, Restart and the watcher of the
	// caller's context cancel from other goroutines: guarded by mu; the
	// goroutine in Next sets them.
	mu         sync.Mutex
	body       io.ReadCloser
	connCtx    context.Context
	connCancel context.CancelCauseFunc
	idle       *time.Timer

	// The resume point (the last sendable ID) and a copy of the parser's
	// reconnection time, for LastEventID and ReconnectionTime, which any
	// goroutine may call; the goroutine in Next writes them under mu.
	lastID   string
	retry    time.Duration
	hasRetry bool
	// seenID is the parser's last event ID when publish last looked.
	seenID string

	lastByte atomic.Int64 // LastActivity, in Unix nanoseconds

	// restart holds a Restart that found no connection to cancel, for the
	// reconnection wait to end on; the next attempt consumes it. Guarded by
	// mu; made by the first wait or Restart that needs it.
	restart chan struct{}

	// The watcher of the caller's context cancels the connection only while
	// call is callWaiting (a Next is running on that context), so a context
	// cancelled between calls harms nothing; it then sets callAbandoned for
	// that Next to finish the job as it returns (see abandon). watchDone
	// and stopWatch are guarded by mu.
	watchDone <-chan struct{}
	stopWatch func() bool
	call      atomic.Int32
}

// The values of EventSource.call.
const (
	callIdle      = iota // no Next is running
	callWaiting          // a Next is running
	callAbandoned        // ...and the watcher abandoned its connection
)

// errRestart is the cause Restart gives the connection it cancels.
var errRestart = errors.New("sse: restart requested")

// New returns an event source for rawURL: `new EventSource(url, options)`.
// It does not connect until the first call to [EventSource.Next]. Only http
// and https URLs are accepted.
func New(rawURL string, opts Options) (*EventSource, error) {
	u, err := parseHTTPURL(rawURL)
	if err != nil {
		if parsed, perr := url.Parse(rawURL); perr == nil {
			return nil, fmt.Errorf("sse: url %q: %w", parsed.Redacted(), err)
		}
		return nil, fmt.Errorf("sse: %w", err)
	}
	if !SendableID(opts.LastEventID) {
		return nil, fmt.Errorf("sse: Options.LastEventID %q: %w", clip(opts.LastEventID, 64), ErrIDNotSendable)
	}
	if opts.Client != nil && opts.Client.Timeout != 0 {
		return nil, fmt.Errorf("sse: Options.Client.Timeout is %v, want 0: it would end every stream after that long "+
			"(use the transport's ResponseHeaderTimeout and Options.IdleTimeout instead)", opts.Client.Timeout)
	}
	es := newEventSource(opts)
	es.url = u
	es.client = opts.Client
	if es.client == nil {
		es.client = http.DefaultClient
	}
	if !opts.WithCredentials && es.client.Jar != nil {
		c := *es.client
		c.Jar = nil
		es.client = &c
	}
	es.state.Store(int32(Connecting))
	return es, nil
}

// parseHTTPURL parses an http or https URL with a host. Its errors do not
// quote the URL, which may carry a credential: the caller adds what it may
// show.
func parseHTTPURL(rawURL string) (*url.URL, error) {
	u, err := url.Parse(rawURL)
	if ue := (*url.Error)(nil); errors.As(err, &ue) {
		return nil, fmt.Errorf("parse url: %w", ue.Err)
	}
	if err != nil {
		return nil, fmt.Errorf("parse url: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, errors.New("scheme must be http or https")
	}
	if u.Host == "" {
		return nil, errors.New("no host")
	}
	return u, nil
}

// From returns an event source that parses the existing byte stream r
// instead of connecting: `EventSource.from(stream)`. It is [Open] at once,
// and becomes [Closed] at the end of the stream, where Next returns io.EOF;
// it never reconnects. If r is an io.Closer, Close closes it, which is how a
// blocked read is interrupted. An [Options.LastEventID] that is not a
// [SendableID] is the events' starting ID, but not a resume point:
// [EventSource.LastEventID] stays empty until a sendable ID arrives.
func From(r io.Reader, opts Options) *EventSource {
	es := newEventSource(opts)
	es.from = true
	es.parser.Reset(r)
	es.connected = true
	if c, ok := r.(io.ReadCloser); ok {
		es.body = c
	}
	es.state.Store(int32(Open))
	return es
}

func newEventSource(opts Options) *EventSource {
	if opts.ReconnectionTime <= 0 {
		opts.ReconnectionTime = DefaultReconnectionTime
	}
	if opts.MaxReconnectionTime <= 0 {
		opts.MaxReconnectionTime = DefaultMaxReconnectionTime
	}
	if opts.Method == "" {
		opts.Method = http.MethodGet
	}
	opts.Header = opts.Header.Clone()
	opts.Body = bytes.Clone(opts.Body)
	es := &EventSource{opts: opts, backoff: newBackoff(&opts)}
	es.ctx, es.cancel = context.WithCancelCause(context.Background())
	es.parser = NewParser(nil, ParserOptions{MaxEventSize: opts.MaxEventSize, OnComment: opts.OnComment})
	if opts.LastEventID != "" {
		es.parser.SetLastEventID(opts.LastEventID)
		es.seenID = opts.LastEventID
		if SendableID(opts.LastEventID) {
			es.lastID = opts.LastEventID
		}
	}
	return es
}

// URL returns the URL the event source was created with (with any password
// redacted). It stays the same after redirects. It is empty for [From].
func (es *EventSource) URL() string {
	if es.url == nil {
		return ""
	}
	return es.url.Redacted()
}

// ReadyState returns the current state.
func (es *EventSource) ReadyState() ReadyState { return ReadyState(es.state.Load()) }

// WithCredentials reports the credentials flag the event source was created
// with.
func (es *EventSource) WithCredentials() bool { return es.opts.WithCredentials }

// LastEventID returns the resume point: the last event ID string that is a
// [SendableID], which the next reconnection sends as Last-Event-ID. It
// differs from the last event's [Event.LastEventID] only after an id that
// cannot be sent (see [Options.OnIDNotSendable]).
func (es *EventSource) LastEventID() string {
	es.mu.Lock()
	defer es.mu.Unlock()
	return es.lastID
}

// ReconnectionTime returns the current reconnection time: the server's last
// valid retry value, or [Options.ReconnectionTime], capped by
// [Options.MaxReconnectionTime].
func (es *EventSource) ReconnectionTime() time.Duration {
	es.mu.Lock()
	defer es.mu.Unlock()
	d := es.opts.ReconnectionTime
	if es.hasRetry {
		d = es.retry
	}
	return min(d, es.opts.MaxReconnectionTime)
}

// Close closes the event source: `close()`. Its state becomes [Closed], a
// blocked [EventSource.Next] returns [ErrClosed] promptly, and the
// connection is released. It is safe to call from any goroutine, any number
// of times.
func (es *EventSource) Close() error {
	es.closeWith(ErrClosed)
	es.mu.Lock()
	defer es.mu.Unlock()
	if es.idle != nil {
		es.idle.Stop()
	}
	if es.body != nil {
		es.body.Close()
		es.body = nil
	}
	if es.stopWatch != nil {
		es.stopWatch()
	}
	return nil
}

// Restart drops the current connection, or the connection attempt in
// progress, and cuts a reconnection wait short: the event source connects
// again at once, sending the resume point as Last-Event-ID, as it does after
// a ctx that ended while Next waited, without an error event and without
// counting a failure. It is for a caller that knows more than the stream
// does (rotated credentials, a failover announced elsewhere, a stream it
// suspects is stale), and saves closing and re-creating the event source.
//
// Restart does not wait: [EventSource.Next], the call in progress or the
// next one, finds the connection gone when it next reads from it (events
// already received in full are delivered first), sets the state to
// [Connecting] and reconnects. It does nothing after Close, and nothing to a
// [From] stream, which cannot be reopened. It is safe to call from any
// goroutine at any time.
func (es *EventSource) Restart() {
	if es.from {
		return
	}
	es.mu.Lock()
	defer es.mu.Unlock()
	if es.ctx.Err() != nil {
		return
	}
	if es.connCancel != nil {
		es.connCancel(errRestart)
		return
	}
	select {
	case es.restartChan() <- struct{}{}:
	default: // one is already pending
	}
}

// Next returns the next event, connecting and reconnecting as needed.
//
// It returns an error only when the caller must act: ctx's error when ctx is
// done, [ErrClosed] after Close, a [*ResponseError] when the connection failed
// and the event source closed, an error wrapping [ErrGaveUp] after
// [Options.MaxElapsedTime], io.EOF at the end of a [From] stream, and
// [ErrEventTooLarge] for a skipped event (call Next again to go on). Network
// errors and the end of a response body are not returned: they are passed to
// [Options.OnError] and the event source reconnects after the reconnection
// time.
//
// A ctx that is already done when Next is called changes nothing: Next
// returns its error at once, and a later call goes on where this one would
// have. A ctx that ends while Next waits abandons the connection (a [From]
// stream ends instead): the state becomes [Connecting] and a later call
// reconnects at once, without an error event, because the caller gave up,
// not the server. That holds even when an event arrives as ctx ends and
// Next returns it. To reconnect without giving up, use
// [EventSource.Restart].
func (es *EventSource) Next(ctx context.Context) (Event, error) {
	if err := es.ctx.Err(); err != nil {
		return Event{}, es.closedErr()
	}
	if err := ctx.Err(); err != nil {
		return Event{}, err
	}
	// Watch ctx before marking the call, so that the watcher of an earlier
	// call's ctx, cancelled just now, finds itself replaced rather than
	// this call running.
	es.watch(ctx)
	es.call.Store(callWaiting)
	defer func() {
		if es.call.Swap(callIdle) == callAbandoned {
			es.abandon(ctx)
		}
	}()
	for {
		if err := es.ctx.Err(); err != nil {
			return Event{}, es.closedErr()
		}
		if err := ctx.Err(); err != nil {
			return Event{}, err
		}
		if !es.connected {
			if err := es.reconnect(ctx); err != nil {
				return Event{}, err
			}
			continue
		}
		if es.from && !es.opened {
			es.opened = true
			if es.opts.OnOpen != nil {
				es.opts.OnOpen(nil)
			}
		}
		ev, err := es.parser.Next()
		es.publish()
		if err == nil || err == ErrEventTooLarge {
			return ev, err
		}
		if es.from {
			return Event{}, es.ended(ctx, err)
		}
		if err := es.lost(ctx, err); err != nil {
			return Event{}, err
		}
	}
}

// Buffered returns the next event if it has already arrived in full,
// without reading from the network or blocking. ok is false when there is
// none; err is only ever [ErrEventTooLarge]. Call it after Next to collect
// the events that came in the same read.
func (es *EventSource) Buffered() (ev Event, ok bool, err error) {
	if !es.connected || es.ctx.Err() != nil {
		return Event{}, false, nil
	}
	ev, ok, err = es.parser.Buffered()
	es.publish()
	if err != nil && err != ErrEventTooLarge {
		// A read error: leave it for the next call to Next to handle.
		return Event{}, false, nil
	}
	return ev, ok, err
}

// ReconnectDelay returns the wait chosen before the next connection
// attempt: the reconnection time with backoff, jitter, Retry-After, the
// floor and the cap applied, or the cap itself after a status in
// [Options.SlowRetryStatuses]. Read it in [Options.OnError] to report the upcoming wait.
func (es *EventSource) ReconnectDelay() time.Duration { return time.Duration(es.backoff.delay.Load()) }

// LastActivity returns when the current or last connection last delivered
// a byte (comments included), or the zero time if none has. It tells a
// silently dead stream from a quiet one.
func (es *EventSource) LastActivity() time.Time {
	if ns := es.lastByte.Load(); ns != 0 {
		return time.Unix(0, ns)
	}
	return time.Time{}
}
