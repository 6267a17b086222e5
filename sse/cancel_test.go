package sse

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// lateTransport answers requests without a network. Its first response
// arrives at the moment the caller gives up: it waits until the event source
// cancels the request's context (which it does on behalf of a caller whose
// ctx ends while Next waits) and then arrives all the same, either as the
// response itself (atConnect) or as the first chunk of its body. That is the
// race of a cancel and an event arriving together, made exact. Later
// responses stream "data: N" (N the request number) and then wait for the
// request to end, as a live stream does.
type lateTransport struct {
	atConnect bool
	arriving  chan struct{} // signalled when the first response or chunk waits
	requests  atomic.Int32
}

func (lt *lateTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	n := lt.requests.Add(1)
	ctx := req.Context()
	body := &ctxBody{ctx: ctx}
	switch {
	case n == 1 && lt.atConnect:
		lt.arriving <- struct{}{}
		<-ctx.Done()
	case n == 1:
		body.late, body.arriving = "data: 1\n\n", lt.arriving
	default:
		body.chunk = fmt.Sprintf("data: %d\n\n", n)
	}
	return &http.Response{
		StatusCode: http.StatusOK,
		Header:     http.Header{"Content-Type": {"text/event-stream"}},
		Body:       body,
		Request:    req,
	}, nil
}

// ctxBody is a response body tied to its request's context, as net/http's
// are: once the context ends, reads fail with its error. chunk is read
// first; late is read once the context has ended, the bytes that arrived
// at the moment of the cancel.
type ctxBody struct {
	ctx         context.Context
	chunk, late string
	arriving    chan struct{}
}

func (b *ctxBody) Read(p []byte) (int, error) {
	if b.chunk != "" {
		n := copy(p, b.chunk)
		b.chunk = b.chunk[n:]
		return n, nil
	}
	if b.late != "" {
		b.arriving <- struct{}{}
		<-b.ctx.Done()
		n := copy(p, b.late)
		b.late = b.late[n:]
		return n, nil
	}
	<-b.ctx.Done()
	return 0, b.ctx.Err()
}

func (b *ctxBody) Close() error { return nil }

// cancelAtArrival calls Next with a ctx that it cancels as arriving
// signals that event 1 (or its response) waits to arrive, and fails unless
// Next returns that event, which arrived all the same, or ctx's error.
func cancelAtArrival(t *testing.T, es *EventSource, arriving <-chan struct{}) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	res := goNext(ctx, es)
	signal(t, arriving, "arrival")
	cancel()
	ev, err := await(t, res)
	if err != nil && !errors.Is(err, context.Canceled) || err == nil && string(ev.Data) != "1" {
		t.Fatalf("Next: got %q, %v; want event 1 or context.Canceled", ev.Data, err)
	}
}

// TestEventSource_CancelAsEventArrives checks Next's promise for a ctx that
// ends while Next waits, when the cancel meets an arriving event or
// response: whatever that Next returns (the event, or ctx's error), the
// connection it abandoned is gone, the state is CONNECTING, and the next
// call reconnects at once, with no error event, because the caller gave up,
// not the server.
func TestEventSource_CancelAsEventArrives(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name      string
		atConnect bool
	}{
		{name: "event arrives"},
		{name: "response arrives", atConnect: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			lt := &lateTransport{atConnect: tt.atConnect, arriving: make(chan struct{}, 1)}
			var errs []error // appended on the goroutine in Next only
			es, err := New("http://127.0.0.1/", Options{
				Client: &http.Client{Transport: lt},
				// Far beyond esBound: the caller gave up, which is no reason
				// to wait.
				ReconnectionTime: time.Hour,
				OnError:          func(err error) { errs = append(errs, err) },
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { es.Close() })
			cancelAtArrival(t, es, lt.arriving)
			if st := es.ReadyState(); st != Connecting {
				t.Errorf("after the cancel: ReadyState = %v, want CONNECTING (the connection was abandoned)", st)
			}
			wantData(t, es, "2") // at once, not after the reconnection time
			if len(errs) != 0 {
				t.Fatalf("OnError got %v, want no call: the caller cancelled", errs)
			}
			if n := lt.requests.Load(); n != 2 {
				t.Fatalf("got %d requests, want 2", n)
			}
		})
	}
}

// lateReader is a [From] stream whose first chunk arrives at the moment
// the caller gives up: its Read waits until the event source closes it
// (which it does on behalf of a caller whose ctx ends while Next waits) and
// returns the chunk all the same. Later reads fail, as a closed pipe's do.
type lateReader struct {
	late     string
	arriving chan struct{}
	closed   chan struct{}
	once     atomic.Bool
}

func (r *lateReader) Read(p []byte) (int, error) {
	if r.late == "" {
		return 0, io.ErrClosedPipe
	}
	r.arriving <- struct{}{}
	<-r.closed
	n := copy(p, r.late)
	r.late = r.late[n:]
	return n, nil
}

func (r *lateReader) Close() error {
	if r.once.CompareAndSwap(false, true) {
		close(r.closed)
	}
	return nil
}

// TestFrom_CancelAsEventArrives is TestEventSource_CancelAsEventArrives for
// a [From] stream, which ends where a connection would be abandoned:
// whatever the cancelled Next returns, the stream has ended with ctx's
// error, and no error event reports the read that the close made fail.
func TestFrom_CancelAsEventArrives(t *testing.T) {
	t.Parallel()
	r := &lateReader{late: "data: 1\n\n", arriving: make(chan struct{}, 1), closed: make(chan struct{})}
	var errs []error // appended on the goroutine in Next only
	es := From(r, Options{OnError: func(err error) { errs = append(errs, err) }})
	t.Cleanup(func() { es.Close() })
	cancelAtArrival(t, es, r.arriving)
	if st := es.ReadyState(); st != Closed {
		t.Errorf("after the cancel: ReadyState = %v, want CLOSED (the stream ended)", st)
	}
	if _, err := next(t, es); !errors.Is(err, context.Canceled) {
		t.Errorf("later Next: got %v, want context.Canceled", err)
	}
	if len(errs) != 0 {
		t.Fatalf("OnError got %v, want no call: the caller cancelled", errs)
	}
}

// TestEventSource_Restart checks that Restart makes the event source
// connect again at once, wherever Next is, without an error event and
// sending the resume point, and that a Restart with nothing to restart
// harms nothing.
func TestEventSource_Restart(t *testing.T) {
	t.Parallel()

	// idThenHold streams the event "id: N, data: N" (N the request's
	// number) and holds the stream, recording the Last-Event-ID each
	// request sent.
	idThenHold := func(lastIDs chan<- string) esHandler {
		return func(s *esServer, n int, w http.ResponseWriter, r *http.Request) {
			lastIDs <- r.Header.Get("Last-Event-ID")
			stream(w, fmt.Sprintf("id: %d\ndata: %d\n\n", n, n))
			s.hold(r)
		}
	}

	for _, tt := range []struct {
		name string
		// restart calls Restart where the case says, given Next's result
		// channel once a first event was read.
		restart func(t *testing.T, es *EventSource, reading <-chan struct{}) <-chan nextResult
	}{
		{
			name: "during a read",
			restart: func(t *testing.T, es *EventSource, reading <-chan struct{}) <-chan nextResult {
				res := goNext(context.Background(), es)
				signal(t, reading, "read")
				es.Restart()
				return res
			},
		},
		{
			name: "between calls",
			restart: func(t *testing.T, es *EventSource, reading <-chan struct{}) <-chan nextResult {
				es.Restart()
				return goNext(context.Background(), es)
			},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			lastIDs := make(chan string, 2)
			s := newESServer(t, idThenHold(lastIDs))
			reading := make(chan struct{}, 1)
			var errs atomic.Int32
			es := newES(t, s, Options{
				Client:           &http.Client{Transport: &readSignal{base: s.Client().Transport, reading: reading}},
				ReconnectionTime: time.Hour, // Restart does not wait
				OnError:          func(error) { errs.Add(1) },
			})
			wantData(t, es, "1")
			if id := signal(t, lastIDs, "request 1"); id != "" {
				t.Fatalf("request 1 sent Last-Event-ID %q, want none", id)
			}
			select {
			case <-reading: // a read after the event, for more bytes
			default:
			}
			ev, err := await(t, tt.restart(t, es, reading))
			if err != nil || string(ev.Data) != "2" {
				t.Fatalf("Next after Restart: got %q, %v; want event 2 from a new connection", ev.Data, err)
			}
			if id := signal(t, lastIDs, "request 2"); id != "1" {
				t.Fatalf("request 2 sent Last-Event-ID %q, want 1", id)
			}
			if n := errs.Load(); n != 0 {
				t.Fatalf("OnError called %d times, want 0: the caller asked for the restart", n)
			}
			if st := es.ReadyState(); st != Open {
				t.Fatalf("ReadyState = %v, want OPEN", st)
			}
		})
	}

	t.Run("during the reconnection wait", func(t *testing.T) {
		t.Parallel()
		s := newESServer(t, numbered(2))
		errored := make(chan struct{}, 1)
		es := newES(t, s, Options{
			ReconnectionTime: time.Hour, // the wait Restart cuts short
			OnError:          func(error) { errored <- struct{}{} },
		})
		wantData(t, es, "1")
		res := goNext(context.Background(), es)
		signal(t, errored, "error event") // the body ended: Next waits an hour
		es.Restart()
		if ev, err := await(t, res); err != nil || string(ev.Data) != "2" {
			t.Fatalf("Next after Restart: got %q, %v; want event 2", ev.Data, err)
		}
	})

	t.Run("during a connection attempt", func(t *testing.T) {
		t.Parallel()
		arrived := make(chan struct{}, 1)
		s := newESServer(t, func(s *esServer, n int, w http.ResponseWriter, r *http.Request) {
			if n == 1 {
				arrived <- struct{}{}
				s.hold(r) // no headers: the attempt is in progress
				return
			}
			stream(w, "data: 2\n\n")
			s.hold(r)
		})
		var errs atomic.Int32
		es := newES(t, s, Options{ReconnectionTime: time.Hour, OnError: func(error) { errs.Add(1) }})
		res := goNext(context.Background(), es)
		signal(t, arrived, "request 1")
		es.Restart()
		if ev, err := await(t, res); err != nil || string(ev.Data) != "2" {
			t.Fatalf("Next after Restart: got %q, %v; want event 2 from a second attempt", ev.Data, err)
		}
		if n := errs.Load(); n != 0 {
			t.Fatalf("OnError called %d times, want 0: the caller asked for the restart", n)
		}
	})

	t.Run("before the first Next, then a lost stream still waits", func(t *testing.T) {
		t.Parallel()
		const wait = 100 * time.Millisecond
		arrived := make(chan time.Time, 2)
		s := newESServer(t, timed(arrived, numbered(2)))
		es := newES(t, s, Options{ReconnectionTime: wait})
		es.Restart() // nothing to restart: the first attempt satisfies it
		wantData(t, es, "1")
		wantData(t, es, "2")
		first, second := <-arrived, <-arrived
		if d := second.Sub(first); d < wait {
			t.Fatalf("reconnected after %v, want at least the reconnection time %v: an old Restart cut the wait short", d, wait)
		}
	})

	t.Run("after Close", func(t *testing.T) {
		t.Parallel()
		s := newESServer(t, numbered(1))
		es := newES(t, s, Options{})
		wantData(t, es, "1")
		es.Close()
		es.Restart()
		_, err := next(t, es)
		wantClosed(t, es, err)
		s.wantRequests(t, 1)
	})

	t.Run("From: nothing to reopen", func(t *testing.T) {
		t.Parallel()
		es := From(strings.NewReader("data: a\n\ndata: b\n\n"), Options{})
		t.Cleanup(func() { es.Close() })
		wantData(t, es, "a")
		es.Restart()
		wantData(t, es, "b")
		if _, err := next(t, es); err != io.EOF {
			t.Fatalf("Next at end: got %v, want io.EOF", err)
		}
	})
}
