package sse_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"time"

	"github.com/benthos-sse/benthos-sse/sse"
)

// A server sends two events and ends the response; the event source
// reconnects with the last event ID, and the server answers 204 No Content,
// which tells the client to stop.
func ExampleNew() {
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if requests.Add(1) > 1 {
			fmt.Println("reconnected with Last-Event-ID", r.Header.Get("Last-Event-ID"))
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "id: 1\ndata: hello\n\nid: 2\nevent: greeting\ndata: world\n\n")
	}))
	defer srv.Close()

	es, err := sse.New(srv.URL, sse.Options{
		Client:           srv.Client(),
		ReconnectionTime: 10 * time.Millisecond,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer es.Close()

	for {
		ev, err := es.Next(context.Background())
		if errors.Is(err, sse.ErrEventTooLarge) {
			continue // that event was skipped; the stream goes on
		}
		var re *sse.ResponseError
		if errors.As(err, &re) {
			fmt.Println("stopped:", re.StatusCode, es.ReadyState())
			return
		}
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%s %s: %s\n", ev.LastEventID, ev.Type, ev.Data)
	}
	// Output:
	// 1 message: hello
	// 2 greeting: world
	// reconnected with Last-Event-ID 2
	// stopped: 204 CLOSED
}

// From parses a stream that is already open, such as a response body from
// another HTTP client, a file, or a test fixture. It never reconnects.
func ExampleFrom() {
	stream := strings.NewReader(": a comment\n\ndata: first\n\nevent: update\ndata: line 1\ndata: line 2\n\n")
	es := sse.From(stream, sse.Options{})
	defer es.Close()
	for {
		ev, err := es.Next(context.Background())
		if err == io.EOF {
			fmt.Println("end:", es.ReadyState())
			return
		}
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%s: %q\n", ev.Type, ev.Data)
	}
	// Output:
	// message: "first"
	// update: "line 1\nline 2"
	// end: CLOSED
}

// A Parser interprets an event stream without any connection handling. An
// event not ended by a blank line is discarded at the end of the stream.
func ExampleParser() {
	in := "\uFEFFretry: 1500\r\nid: 7\r\ndata: {\"n\":1}\r\n\r\ndata: lost\n"
	p := sse.NewParser(strings.NewReader(in), sse.ParserOptions{})
	for {
		ev, err := p.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("id %s %s: %s\n", ev.LastEventID, ev.Type, ev.Data)
	}
	retry, _ := p.Retry()
	fmt.Println("last event ID:", p.LastEventID(), "retry:", retry)
	// Output:
	// id 7 message: {"n":1}
	// last event ID: 7 retry: 1.5s
}
