package sse

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"
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

// ResponseError reports a response that "fails the connection": a status
// other than 200 or a Content-Type other than text/event-stream. Unless
// [Options.RetryResponse] says otherwise the event source is then closed and
// does not reconnect, as the standard requires; this is how a server tells
// its clients to stop (HTTP 204 No Content, for instance).
type ResponseError struct {
	StatusCode  int
	ContentType string
	// RetryAfter is the wait the response's Retry-After header asked for, or
	// zero when it had none.
	RetryAfter time.Duration
	// URL is the URL that gave the response, after redirects, with any
	// password redacted.
	URL string
	// Body is an excerpt of the response body when the status is not 200,
	// which is where APIs explain a refusal ("Incorrect API key provided").
	// It is at most [MaxBodyExcerpt] bytes of valid UTF-8, with control and
	// other non-printable characters escaped (\n, \x01, \u202e; a backslash
	// is left as it is) so that
	// it is safe to log, and ends in "..." when the body was longer. At
	// most that many bytes are read, for at most about a second: a body that
	// is slow to arrive is cut where it stands.
	Body string
}

// MaxBodyExcerpt bounds [ResponseError.Body], in bytes.
const MaxBodyExcerpt = 512

// Bounds on the other server-chosen parts of [ResponseError.Error].
const (
	maxURLInError         = 256
	maxContentTypeInError = 128
)

// bodyExcerptTimeout bounds the time spent reading [ResponseError.Body].
var bodyExcerptTimeout = time.Second

// Error describes the response in a bounded line: a long URL or content
// type is cut, with its full length shown.
func (e *ResponseError) Error() string {
	u := clip(e.URL, maxURLInError)
	if e.StatusCode != http.StatusOK {
		s := fmt.Sprintf("sse: %s answered %d", u, e.StatusCode)
		if text := http.StatusText(e.StatusCode); text != "" {
			s += " " + text
		}
		s += ", want 200"
		if e.Body != "" {
			s += "; body: " + clip(e.Body, MaxBodyExcerpt)
		}
		return s
	}
	return fmt.Sprintf("sse: %s answered with Content-Type %q, want text/event-stream", u, clip(e.ContentType, maxContentTypeInError))
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
	url    *url.URL
	opts   Options
	client *http.Client
	from   bool

	state  atomic.Int32
	ctx    context.Context // cancelled by Close
	cancel context.CancelCauseFunc

	parser *Parser

	// Connection state, owned by the goroutine in Next. mu guards only the
	// fields Close and the caller-context watcher touch from elsewhere.
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

	nextDelay atomic.Int64 // ReconnectDelay, in nanoseconds
	lastByte  atomic.Int64 // LastActivity, in Unix nanoseconds

	connected  bool      // a body is being read
	wait       bool      // the next connection attempt waits until retryAt
	retryAt    time.Time // when the next connection attempt may start
	failures   int       // consecutive failed attempts since the last open
	retryAfter time.Duration
	opened     bool      // From: OnOpen was called
	failingAt  time.Time // the first failure since the last open, or zero

	// The watcher of the caller's context cancels the connection only while
	// inNext is set, so a context cancelled between calls harms nothing.
	watchDone <-chan struct{}
	stopWatch func() bool
	inNext    atomic.Bool
}

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
	es := &EventSource{opts: opts}
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

// setState moves to s unless the event source is closed: Closed is final,
// even when Close runs between a check of es.ctx and the move.
func (es *EventSource) setState(s ReadyState) {
	for {
		old := es.state.Load()
		if ReadyState(old) == Closed || es.state.CompareAndSwap(old, int32(s)) {
			return
		}
	}
}

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

// publish copies what the parser learnt to where the other goroutines'
// methods read it, moving the resume point only to a sendable ID. Only the
// goroutine in Next calls it.
func (es *EventSource) publish() {
	id := es.parser.LastEventID()
	retry, ok := es.parser.Retry()
	if id == es.seenID && retry == es.retry && ok == es.hasRetry {
		return
	}
	resume, unsendable := es.lastID, false
	if id != es.seenID {
		es.seenID = id
		if SendableID(id) {
			resume = id
		} else {
			unsendable = true
		}
	}
	es.mu.Lock()
	es.lastID, es.retry, es.hasRetry = resume, retry, ok
	es.mu.Unlock()
	if unsendable && es.opts.OnIDNotSendable != nil {
		es.opts.OnIDNotSendable(id)
	}
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
// not the server.
func (es *EventSource) Next(ctx context.Context) (Event, error) {
	if err := es.ctx.Err(); err != nil {
		return Event{}, es.closedErr()
	}
	if err := ctx.Err(); err != nil {
		return Event{}, err
	}
	es.inNext.Store(true)
	defer es.inNext.Store(false)
	es.watch(ctx)
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

func (es *EventSource) closedErr() error {
	if err := context.Cause(es.ctx); err != nil && err != ErrClosed {
		return err // the connection failed
	}
	return ErrClosed
}

// closeWith closes the event source for good: the state becomes Closed and
// err, the first one given, is the cause that every later call to Next
// reports (see closedErr). Like bufio.Scanner's setErr, only the first
// cause is kept.
func (es *EventSource) closeWith(err error) {
	es.state.Store(int32(Closed))
	es.cancel(err)
}

// fail closes the event source because of err: the standard's "fail the
// connection".
func (es *EventSource) fail(err error) error {
	es.closeWith(err)
	if es.opts.OnError != nil {
		es.opts.OnError(err)
	}
	return err
}

// ended handles the end of a [From] stream, which cannot be reopened:
// whatever ended it ends the event source, and later calls return the same
// error. readErr is what the parser returned.
func (es *EventSource) ended(ctx context.Context, readErr error) error {
	es.disconnect()
	if es.ctx.Err() != nil {
		return es.closedErr()
	}
	if ctx.Err() != nil {
		readErr = ctx.Err()
	}
	es.closeWith(readErr)
	if readErr == io.EOF || ctx.Err() != nil {
		return readErr
	}
	if es.opts.OnError != nil {
		es.opts.OnError(readErr)
	}
	return readErr
}

// lost handles the end of an open connection's body: readErr is what the
// parser returned. It returns an error only when Next must return it.
func (es *EventSource) lost(ctx context.Context, readErr error) error {
	cause := es.disconnect()
	if es.ctx.Err() != nil {
		return es.closedErr()
	}
	if ctx.Err() != nil {
		// The caller gave up: not the server's fault, so reconnect at once
		// on the next call.
		es.setState(Connecting)
		es.wait = false
		return ctx.Err()
	}
	if es.opts.CloseAtEnd && readErr == io.EOF && cause == nil {
		es.closeWith(io.EOF)
		return io.EOF
	}
	switch {
	case cause != nil:
		readErr = cause
	case readErr == io.EOF:
		readErr = ErrStreamEnded
	}
	if es.failingAt.IsZero() {
		es.failingAt = time.Now()
	}
	// spec: "When a user agent is to reestablish the connection ... Set the
	// readyState attribute to CONNECTING. Fire an event named error."
	es.setState(Connecting)
	es.schedule()
	if es.opts.OnError != nil {
		es.opts.OnError(readErr)
	}
	return nil
}

// schedule picks the wait before the next connection attempt. The deadline
// is kept, so a caller that gives up during the wait and calls Next again
// waits only for what is left.
func (es *EventSource) schedule() {
	d := es.delay()
	es.wait = true
	es.retryAt = time.Now().Add(d)
	es.nextDelay.Store(int64(d))
}

// disconnect releases the current connection and returns why it was
// cancelled, if it was (an idle timeout, for instance).
func (es *EventSource) disconnect() error {
	es.mu.Lock()
	defer es.mu.Unlock()
	es.connected = false
	var cause error
	if es.connCancel != nil {
		cause = context.Cause(es.connCtx)
		es.connCancel(nil)
		es.connCancel = nil
	}
	if es.idle != nil {
		es.idle.Stop()
		es.idle = nil
	}
	if es.body != nil {
		es.body.Close()
		es.body = nil
	}
	return cause
}

// reconnect waits if it should, then makes one connection attempt. It
// returns an error only when Next must return it.
func (es *EventSource) reconnect(ctx context.Context) error {
	if d := time.Until(es.retryAt); es.wait && d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-es.ctx.Done():
			t.Stop()
			return es.closedErr()
		}
	}
	es.wait = false
	err := es.connect()
	if err == nil {
		es.failures, es.retryAfter, es.failingAt = 0, 0, time.Time{}
		es.setState(Open)
		return nil
	}
	if es.ctx.Err() != nil {
		return es.closedErr()
	}
	if ctx.Err() != nil {
		es.wait = false
		return ctx.Err()
	}
	es.failures++
	var re *ResponseError
	if errors.As(err, &re) {
		if es.opts.RetryResponse == nil || !es.opts.RetryResponse(re) {
			return es.fail(err)
		}
		es.retryAfter = re.RetryAfter
	} else {
		es.retryAfter = 0
	}
	now := time.Now()
	if es.failingAt.IsZero() {
		es.failingAt = now
	}
	if limit := es.opts.MaxElapsedTime; limit > 0 && now.Sub(es.failingAt) >= limit {
		return es.fail(fmt.Errorf("%w after failing for %v: %w", ErrGaveUp, now.Sub(es.failingAt).Round(time.Millisecond), err))
	}
	es.schedule()
	if es.opts.OnError != nil {
		es.opts.OnError(err)
	}
	return nil
}

// ReconnectDelay returns the wait chosen before the next connection
// attempt: the reconnection time with backoff, jitter, Retry-After and the
// cap applied. Read it in [Options.OnError] to report the upcoming wait.
func (es *EventSource) ReconnectDelay() time.Duration { return time.Duration(es.nextDelay.Load()) }

// LastActivity returns when the current or last connection last delivered
// a byte (comments included), or the zero time if none has. It tells a
// silently dead stream from a quiet one.
func (es *EventSource) LastActivity() time.Time {
	if ns := es.lastByte.Load(); ns != 0 {
		return time.Unix(0, ns)
	}
	return time.Time{}
}

// delay is the wait before the next connection attempt.
func (es *EventSource) delay() time.Duration {
	d := es.ReconnectionTime()
	limit := es.opts.MaxReconnectionTime
	if es.opts.BackoffFactor > 1 {
		for i := 1; i < es.failures && d < limit; i++ {
			// Stop at the limit before converting, so that a huge limit
			// cannot overflow d (which would make it negative).
			if f := float64(d) * es.opts.BackoffFactor; f < float64(limit) {
				d = time.Duration(f)
			} else {
				d = limit
			}
		}
	}
	d = min(d, limit)
	if es.opts.Jitter > 0 {
		d -= time.Duration(float64(d) * min(es.opts.Jitter, 1) * rand.Float64())
	}
	// Retry-After is a floor the server asked for: jitter never shortens it
	// (the cap still applies).
	return max(d, min(es.retryAfter, limit), min(es.opts.MinReconnectionTime, limit))
}

// connect makes one request and, on success, starts reading its body.
func (es *EventSource) connect() error {
	connCtx, cancel := context.WithCancelCause(es.ctx)
	req, err := es.newRequest(connCtx)
	if err != nil {
		cancel(nil)
		return err
	}
	es.mu.Lock()
	es.connCtx, es.connCancel = connCtx, cancel
	es.mu.Unlock()

	resp, err := es.client.Do(req)
	if err != nil {
		es.disconnect()
		return err
	}
	// spec: "if res's status is not 200, or if res's `Content-Type` is not
	// `text/event-stream`, then fail the connection."
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusOK || !isEventStream(ct) {
		re := &ResponseError{
			StatusCode:  resp.StatusCode,
			ContentType: ct,
			RetryAfter:  parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()),
			URL:         resp.Request.URL.Redacted(),
		}
		if resp.StatusCode != http.StatusOK {
			re.Body = readExcerpt(resp.Body, cancel)
		}
		resp.Body.Close()
		es.disconnect()
		return re
	}
	es.mu.Lock()
	if es.ctx.Err() != nil {
		es.mu.Unlock()
		resp.Body.Close()
		es.disconnect()
		return es.closedErr()
	}
	body := &bodyReader{ReadCloser: resp.Body, lastByte: &es.lastByte}
	if es.opts.IdleTimeout > 0 {
		es.idle = time.AfterFunc(time.Hour, func() { cancel(ErrIdleTimeout) })
		es.idle.Stop() // armed only while a read waits for bytes
		body.idle, body.timeout = es.idle, es.opts.IdleTimeout
	}
	es.body = body
	es.connected = true
	es.mu.Unlock()
	if es.seenID != es.lastID {
		// The last ID could not be sent, so this connection resumes from
		// the last one that could: its events carry on from there.
		es.parser.SetLastEventID(es.lastID)
		es.seenID = es.lastID
	}
	es.parser.Reset(body)
	// spec: "announce the connection": set readyState to OPEN, fire open.
	es.setState(Open)
	if es.opts.OnOpen != nil {
		es.opts.OnOpen(resp)
	}
	return nil
}

func (es *EventSource) newRequest(ctx context.Context) (*http.Request, error) {
	u := es.url
	if es.opts.ResolveURL != nil {
		raw, err := es.opts.ResolveURL()
		if err != nil {
			return nil, fmt.Errorf("sse: resolve url: %w", err)
		}
		if u, err = parseHTTPURL(raw); err != nil {
			return nil, fmt.Errorf("sse: resolve url: %w", err)
		}
	}
	if !es.opts.WithCredentials && u.User != nil {
		c := *u
		c.User = nil
		u = &c
	}
	var body io.Reader
	if es.opts.Body != nil {
		body = bytes.NewReader(es.opts.Body)
	}
	req, err := http.NewRequestWithContext(ctx, es.opts.Method, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("sse: new request: %w", err)
	}
	for k, v := range es.opts.Header {
		req.Header[k] = v
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Cache-Control", "no-cache")
	if id := es.lastID; id != "" {
		req.Header.Set("Last-Event-ID", id) // sendable: publish sees to it
	}
	if es.opts.PrepareRequest != nil {
		if err := es.opts.PrepareRequest(req); err != nil {
			return nil, fmt.Errorf("sse: prepare request: %w", err)
		}
	}
	return req, nil
}

// watch makes a cancellation of ctx abandon the current connection, so that
// a Next blocked in a read returns promptly. The watcher is kept while the
// caller passes the same context, which avoids a registration per event.
func (es *EventSource) watch(ctx context.Context) {
	done := ctx.Done()
	if done == es.watchDone {
		return
	}
	es.mu.Lock()
	defer es.mu.Unlock()
	if es.stopWatch != nil {
		es.stopWatch()
		es.stopWatch = nil
	}
	es.watchDone = done
	if done != nil {
		es.stopWatch = context.AfterFunc(ctx, func() {
			es.mu.Lock()
			defer es.mu.Unlock()
			// Only a Next waiting on this very ctx is interrupted: one
			// cancelled between calls, or replaced by another call's, has
			// no read to abandon.
			if es.watchDone != done || !es.inNext.Load() {
				return
			}
			if es.connCancel != nil {
				es.connCancel(context.Cause(ctx))
			}
			if es.from && es.body != nil {
				es.body.Close()
			}
		})
	}
}

// bodyReader records when bytes arrive and arms the idle timer only while
// a read waits for bytes, so that time the caller spends between reads (a
// slow consumer back-pressuring the stream) never counts as the server
// being idle.
type bodyReader struct {
	io.ReadCloser
	lastByte *atomic.Int64
	idle     *time.Timer // nil without an idle timeout
	timeout  time.Duration
}

func (r *bodyReader) Read(p []byte) (int, error) {
	if r.idle != nil {
		r.idle.Reset(r.timeout)
	}
	n, err := r.ReadCloser.Read(p)
	if r.idle != nil {
		r.idle.Stop()
	}
	if n > 0 {
		r.lastByte.Store(time.Now().UnixNano())
	}
	return n, err
}

func isEventStream(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt, _, _ = strings.Cut(contentType, ";")
		mt = strings.ToLower(strings.TrimSpace(mt))
	}
	return mt == "text/event-stream"
}

// parseRetryAfter reads a Retry-After header: delay-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if d, ok := parseDigits([]byte(v)); ok {
		// parseDigits reads milliseconds; Retry-After counts seconds.
		secs := int64(d / time.Millisecond)
		if secs > int64(math.MaxInt64/time.Second) {
			return math.MaxInt64
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// readExcerpt reads the start of a refused response's body for
// [ResponseError.Body], bounded in bytes and in time: cancel (the request's)
// and a close of the body end a read that waits too long.
func readExcerpt(body io.ReadCloser, cancel context.CancelCauseFunc) string {
	t := time.AfterFunc(bodyExcerptTimeout, func() {
		cancel(errExcerptTimeout)
		body.Close()
	})
	b, err := io.ReadAll(io.LimitReader(body, MaxBodyExcerpt+1))
	t.Stop()
	// A read that failed (or was cut short) leaves the body unfinished.
	return excerpt(b, MaxBodyExcerpt, len(b) > MaxBodyExcerpt || err != nil)
}

var errExcerptTimeout = errors.New("sse: reading the response body took too long")

// Excerpt returns the start of b as [ResponseError.Body] holds a refused
// response's body: at most [MaxBodyExcerpt] bytes of valid UTF-8, with
// surrounding white space trimmed and control and other non-printable
// characters escaped, ending in "..." when b was longer. It makes other
// answers safe to log the same way, such as a token endpoint's refusal.
func Excerpt(b []byte) string {
	return excerpt(b, MaxBodyExcerpt, false)
}

// excerpt returns b as at most limit bytes of valid UTF-8 that are safe to
// log: surrounding white space trimmed, and control, format and other
// non-printable characters escaped. It ends in "..." when it was cut, or
// when more is set (b itself was cut).
func excerpt(b []byte, limit int, more bool) string {
	const ellipsis = "..."
	b = bytes.TrimSpace(b)
	out := make([]byte, 0, min(len(b), limit))
	cut := 0 // len(out) at the last character boundary that leaves room for the ellipsis
	var esc [16]byte
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		var s []byte
		switch {
		case r == utf8.RuneError && n == 1:
			s = fmt.Appendf(esc[:0], `\x%02x`, b[0])
		case r == '\n':
			s = append(esc[:0], `\n`...)
		case r == '\r':
			s = append(esc[:0], `\r`...)
		case r == '\t':
			s = append(esc[:0], `\t`...)
		case !unicode.IsPrint(r):
			if r > 0xFFFF {
				s = fmt.Appendf(esc[:0], `\U%08x`, r)
			} else {
				s = fmt.Appendf(esc[:0], `\u%04x`, r)
			}
		default:
			s = b[:n]
		}
		if len(out)+len(s) > limit {
			more = true
			break
		}
		out = append(out, s...)
		if len(out) <= limit-len(ellipsis) {
			cut = len(out)
		}
		b = b[n:]
	}
	if more {
		out = append(out[:cut], ellipsis...)
	}
	return string(out)
}

// clip returns s, or when it is longer than limit bytes, its start cut at a
// character boundary with its full length shown, in at most about limit
// bytes.
func clip(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	n := max(limit-24, 0)
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return fmt.Sprintf("%s...(%d bytes)", s[:n], len(s))
}
