package bench

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/benthos-sse/benthos-sse/sse"
	dhes "github.com/donovanhide/eventsource"
	ldes "github.com/launchdarkly/eventsource"
	r3sse "github.com/r3labs/sse/v2"
	gosse "github.com/tmaxmax/go-sse"
	"gopkg.in/cenkalti/backoff.v1"
)

// ClientFunc connects to url with client, reads exactly n events, calling fn
// for each, and disconnects without reconnecting. n is every event the
// server sends on one connection: some libraries (donovanhide) cannot stop
// cleanly before the end of the body. It returns early with ctx's error.
type ClientFunc func(ctx context.Context, url string, client *http.Client, n int, fn func(Event)) error

// Clients lists the client adapters, ours first.
var Clients = []Library[ClientFunc]{
	{Ours, ClientOurs},
	{"go-sse", ClientGoSSE},
	{"r3labs", ClientR3labs},
	{"launchdarkly", ClientLaunchDarkly},
	{"donovanhide", ClientDonovanHide},
}

// ChunkSize is how much [NewServer] writes before each flush.
const ChunkSize = 32 << 10

// NewServer returns a server on 127.0.0.1 that answers every request with
// stream as text/event-stream, written ChunkSize bytes at a time with a
// flush after each. The caller closes it.
func NewServer(stream []byte) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-cache")
		w.WriteHeader(http.StatusOK)
		f := w.(http.Flusher)
		for rest := stream; len(rest) > 0; {
			n := min(len(rest), ChunkSize)
			if _, err := w.Write(rest[:n]); err != nil {
				return // the client went away
			}
			f.Flush()
			rest = rest[n:]
		}
	}))
}

// errShort reports a stream that ended before n events.
func errShort(got, n int, err error) error {
	return fmt.Errorf("stream ended after %d of %d events: %v", got, n, err)
}

// ClientOurs reads with [sse.EventSource].
func ClientOurs(ctx context.Context, url string, client *http.Client, n int, fn func(Event)) error {
	es, err := sse.New(url, sse.Options{Client: client, MaxEventSize: maxEventSize})
	if err != nil {
		return err
	}
	defer es.Close()
	for i := range n {
		ev, err := es.Next(ctx)
		if err != nil {
			return errShort(i, n, err)
		}
		fn(Event{Type: ev.Type, Data: str(ev.Data), ID: ev.LastEventID})
	}
	return nil
}

// ClientGoSSE reads with a go-sse Connection, cancelling its request after
// the n-th event.
func ClientGoSSE(ctx context.Context, url string, client *http.Client, n int, fn func(Event)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	c := &gosse.Client{HTTPClient: client, Backoff: gosse.Backoff{MaxRetries: -1}}
	conn := c.NewConnection(req)
	conn.Buffer(nil, maxEventSize)
	got := 0
	conn.SubscribeToAll(func(e gosse.Event) {
		if got < n {
			fn(Event{Type: orMessage(e.Type), Data: e.Data, ID: e.LastEventID})
			if got++; got == n {
				cancel()
			}
		}
	})
	err = conn.Connect()
	if got < n {
		return errShort(got, n, err)
	}
	return nil
}

// ClientR3labs reads with an r3labs Client, cancelling after the n-th event.
func ClientR3labs(ctx context.Context, url string, client *http.Client, n int, fn func(Event)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c := r3sse.NewClient(url, r3sse.ClientMaxBufferSize(maxEventSize))
	c.Connection = client
	c.ReconnectStrategy = &backoff.StopBackOff{}
	got := 0
	err := c.SubscribeRawWithContext(ctx, func(e *r3sse.Event) {
		if got < n {
			fn(Event{Type: orMessage(str(e.Event)), Data: str(e.Data), ID: str(e.ID)})
			if got++; got == n {
				cancel()
			}
		}
	})
	if got < n {
		return errShort(got, n, err)
	}
	return nil
}

// ClientLaunchDarkly reads from a launchdarkly Stream's Events channel.
func ClientLaunchDarkly(ctx context.Context, url string, client *http.Client, n int, fn func(Event)) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	s, err := ldes.SubscribeWithRequestAndOptions(req,
		ldes.StreamOptionHTTPClient(client),
		ldes.StreamOptionErrorHandler(func(error) ldes.StreamErrorHandlerResult {
			return ldes.StreamErrorHandlerResult{CloseNow: true}
		}))
	if err != nil {
		return err
	}
	defer func() {
		s.Close()
		for range s.Events { //nolint:revive // drain so its goroutine ends
		}
	}()
	for i := range n {
		select {
		case ev, ok := <-s.Events:
			if !ok {
				return errShort(i, n, errors.New("events channel closed"))
			}
			fn(Event{Type: orMessage(ev.Event()), Data: ev.Data(), ID: ev.(ldes.EventWithLastID).LastEventID()})
		case <-ctx.Done():
			return errShort(i, n, ctx.Err())
		}
	}
	return nil
}

// ClientDonovanHide reads from a donovanhide Stream. That Stream closes its
// channels from Close while its goroutine may still send on them, and after
// an error sleeps three seconds before looking at whether it was closed; so
// this reads to the end of the body and takes the io.EOF from Errors before
// calling Close, the one order that cannot panic. Its goroutine then lingers
// for those three seconds.
func ClientDonovanHide(ctx context.Context, url string, client *http.Client, n int, fn func(Event)) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	c := *client // SubscribeWith sets c.CheckRedirect
	s, err := dhes.SubscribeWith("", &c, req)
	if err != nil {
		return err
	}
	// endOfBody waits for the error that ends the body, discarding any
	// event before it, so that Close cannot race a send.
	endOfBody := func() error {
		for {
			select {
			case <-s.Events:
			case err := <-s.Errors:
				return err
			}
		}
	}
	for i := range n {
		select {
		case ev := <-s.Events:
			fn(Event{Type: orMessage(ev.Event()), Data: ev.Data(), ID: ev.Id()})
		case err := <-s.Errors:
			s.Close()
			return errShort(i, n, err)
		case <-ctx.Done():
			endOfBody() // the cancelled read fails
			s.Close()
			return errShort(i, n, ctx.Err())
		}
	}
	endOfBody()
	s.Close()
	return nil
}
