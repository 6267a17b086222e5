package sse

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"time"
)

// This file is the event source's state machine: what Next does to connect,
// read, lose and reopen a connection. The goroutine in Next runs all of it,
// except where a comment says that Close, Restart or the watcher of the
// caller's context (under es.mu) take part.

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
		es.backoff.skip()
		return ctx.Err()
	}
	if cause == errRestart {
		// The caller asked for a new connection: no error, no wait.
		es.setState(Connecting)
		es.backoff.skip()
		return nil
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
	es.backoff.lost(time.Now())
	// spec: "When a user agent is to reestablish the connection ... Set the
	// readyState attribute to CONNECTING. Fire an event named error."
	es.setState(Connecting)
	es.schedule()
	if es.opts.OnError != nil {
		es.opts.OnError(readErr)
	}
	return nil
}

// abandon finishes what the watcher of the caller's context started when
// ctx ended while Next waited: it cancelled the connection (or closed a
// [From] stream) on the caller's behalf. Next may still have got an event or
// an open response that arrived at that moment; either way the connection
// is gone, so it is released now, and the state says so: [Connecting], with
// no wait before the next attempt, or for a From stream, [Closed] with ctx's
// error. A connection lost in this call was already handled (see lost), and
// a wait in progress keeps its deadline.
func (es *EventSource) abandon(ctx context.Context) {
	if !es.connected {
		return
	}
	es.disconnect()
	if es.from {
		es.closeWith(ctx.Err())
		return
	}
	es.setState(Connecting)
	es.backoff.skip()
}

// schedule picks the wait before the next connection attempt. The deadline
// is kept, so a caller that gives up during the wait and calls Next again
// waits only for what is left.
func (es *EventSource) schedule() {
	es.backoff.schedule(time.Now(), es.ReconnectionTime())
}

// restartChan returns es.restart, made if need be; es.mu must be held.
func (es *EventSource) restartChan() chan struct{} {
	if es.restart == nil {
		es.restart = make(chan struct{}, 1)
	}
	return es.restart
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
	if d := es.backoff.remaining(time.Now()); d > 0 {
		es.mu.Lock()
		restart := es.restartChan()
		es.mu.Unlock()
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-restart:
			t.Stop() // Restart cuts the wait short
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-es.ctx.Done():
			t.Stop()
			return es.closedErr()
		}
	}
	es.backoff.skip()
	err := es.connect()
	if err == nil {
		es.backoff.opened()
		es.setState(Open)
		return nil
	}
	if es.ctx.Err() != nil {
		return es.closedErr()
	}
	if ctx.Err() != nil || err == errRestart {
		// The caller gave up, or asked for a new attempt: no error, and
		// no wait before the next one.
		return ctx.Err()
	}
	var re *ResponseError
	if errors.As(err, &re) && (es.opts.RetryResponse == nil || !es.opts.RetryResponse(re)) {
		return es.fail(err)
	}
	if failing, ok := es.backoff.failed(time.Now(), re); !ok {
		return es.fail(fmt.Errorf("%w after failing for %v: %w", ErrGaveUp, failing.Round(time.Millisecond), err))
	}
	es.schedule()
	if es.opts.OnError != nil {
		es.opts.OnError(err)
	}
	return nil
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
	if es.restart != nil {
		select {
		case <-es.restart: // a Restart asked for before this attempt: this is it
		default:
		}
	}
	es.mu.Unlock()

	resp, err := es.client.Do(req)
	if err != nil {
		if cause := es.disconnect(); cause == errRestart {
			return errRestart
		}
		return err
	}
	if re := checkResponse(resp, cancel); re != nil {
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
			// no read to abandon. The swap tells that Next, as it returns,
			// to finish the abandonment (see abandon): under es.mu, so
			// that it cannot disconnect before the cancel below.
			if es.watchDone != done || !es.call.CompareAndSwap(callWaiting, callAbandoned) {
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
