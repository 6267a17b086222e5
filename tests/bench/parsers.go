// Package bench compares the sse package with other Go SSE libraries on the
// corpora of internal/corpus: in-memory parsing, a bufio.Scanner line split
// as the upper bound (and, as a floor for parsers that hand out each event's
// data, the same split plus one allocation per event), and clients over
// loopback HTTP.
//
// It is a module of its own so that the other libraries never enter the
// project's go.mod. Each library is one adapter function in [Parsers] and one
// in [Clients]; the benchmarks and tests in this package run every adapter
// on every corpus and check what it returns. run.sh runs them and prints the
// comparison table.
package bench

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"unsafe"

	"github.com/benthos-sse/benthos-sse/sse"
	dhes "github.com/donovanhide/eventsource"
	ldes "github.com/launchdarkly/eventsource"
	r3sse "github.com/r3labs/sse/v2"
	gosse "github.com/tmaxmax/go-sse"
	"gopkg.in/cenkalti/backoff.v1"
)

// Ours is the name of the sse package's adapters; Bound and Floor are the
// names of [ScanLines] and [ScanLinesAlloc] in the benchmark names and the
// table.
const (
	Ours  = "benthos-sse"
	Bound = "bufio"
	Floor = "bufio+alloc"
)

// maxEventSize is the event or line size bound given to every library that
// has one; the "large" corpus needs more than the 64 KiB some default to.
const maxEventSize = 1 << 20

// Event is an event as a library reported it, normalised to the WHATWG
// MessageEvent: Type is "message" for an event without an event field, ID
// is the last event ID. Its strings may share memory with the library's
// buffers, so they are valid only during the callback that receives them;
// that keeps the adapters from adding copies a real consumer would not make.
type Event struct {
	Type, Data, ID string
}

// ParseFunc reads every event of r in order, calling fn for each, and
// returns nil at the end of the stream.
type ParseFunc func(r io.Reader, fn func(Event)) error

// Library names an adapter.
type Library[F any] struct {
	Name string
	Func F
}

// Parsers lists the parser adapters, ours first. Adding a library is adding
// one function and one line here.
var Parsers = []Library[ParseFunc]{
	{Ours, ParseOurs},
	{"go-sse", ParseGoSSE},
	{"r3labs", ParseR3labs},
	{"launchdarkly", ParseLaunchDarkly},
	{"donovanhide", ParseDonovanHide},
}

func str(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

func orMessage(typ string) string {
	if typ == "" {
		return "message"
	}
	return typ
}

// ParseOurs parses with [sse.Parser].
func ParseOurs(r io.Reader, fn func(Event)) error {
	p := sse.NewParser(r, sse.ParserOptions{MaxEventSize: maxEventSize})
	for {
		ev, err := p.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		fn(Event{Type: ev.Type, Data: str(ev.Data), ID: ev.LastEventID})
	}
}

// ParseGoSSE parses with go-sse's Read iterator.
func ParseGoSSE(r io.Reader, fn func(Event)) error {
	for ev, err := range gosse.Read(r, &gosse.ReadConfig{MaxEventSize: maxEventSize}) {
		if err != nil {
			return err
		}
		fn(Event{Type: orMessage(ev.Type), Data: ev.Data, ID: ev.LastEventID})
	}
	return nil
}

// ParseR3labs parses with r3labs/sse. It exposes parsed events only through
// its Client, so this runs a Client over an in-memory transport that
// answers with r as the body; that includes the goroutine and channel hop
// r3labs makes for every event, which any r3labs user pays.
func ParseR3labs(r io.Reader, fn func(Event)) error {
	c := r3sse.NewClient("http://in-memory/", r3sse.ClientMaxBufferSize(maxEventSize))
	c.Connection = &http.Client{Transport: bodyTransport{r}}
	c.ReconnectStrategy = &backoff.StopBackOff{}
	return c.SubscribeRaw(func(e *r3sse.Event) {
		fn(Event{Type: orMessage(str(e.Event)), Data: str(e.Data), ID: str(e.ID)})
	})
}

// bodyTransport answers every request with 200, text/event-stream and body.
type bodyTransport struct{ body io.Reader }

func (t bodyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	return &http.Response{
		StatusCode: http.StatusOK,
		Header:     http.Header{"Content-Type": {"text/event-stream"}},
		Body:       io.NopCloser(t.body),
		Request:    req,
	}, nil
}

// ParseLaunchDarkly parses with launchdarkly/eventsource's Decoder.
//
// Its loop and ParseDonovanHide's are alike on purpose: each library's
// decode loop is written out, as ParseOurs is, so that every parser is
// measured with no shared indirection in its per-event path.
func ParseLaunchDarkly(r io.Reader, fn func(Event)) error {
	dec := ldes.NewDecoder(r)
	for {
		ev, err := dec.Decode()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		fn(Event{Type: orMessage(ev.Event()), Data: ev.Data(), ID: ev.(ldes.EventWithLastID).LastEventID()})
	}
}

// ParseDonovanHide parses with donovanhide/eventsource's Decoder, which
// reports each event's own id; every corpus has an id on every event or on
// none, so that equals the last event ID.
//
// Its loop is written out like ParseLaunchDarkly's on purpose (see there).
func ParseDonovanHide(r io.Reader, fn func(Event)) error {
	dec := dhes.NewDecoder(r)
	for {
		ev, err := dec.Decode()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		fn(Event{Type: orMessage(ev.Event()), Data: ev.Data(), ID: ev.Id()})
	}
}

// ScanLines is the bound: it splits r into lines with bufio.Scanner and
// returns how many there were, doing nothing a parser must do with them.
func ScanLines(r io.Reader) (int, error) {
	s := bufio.NewScanner(r)
	s.Buffer(make([]byte, 64<<10), maxEventSize)
	n := 0
	for s.Scan() {
		n++
	}
	return n, s.Err()
}

// ScanLinesAlloc is [ScanLines] plus the one thing every parser that hands
// each event's data to its caller must do: copy the data lines of each event
// into one new allocation, passed to fn. It neither parses other fields nor
// validates UTF-8, so it is a floor for such parsers, as ScanLines is for
// any parser. It returns how many events it passed to fn.
func ScanLinesAlloc(r io.Reader, fn func([]byte)) (int, error) {
	s := bufio.NewScanner(r)
	s.Buffer(make([]byte, 64<<10), maxEventSize)
	var data []byte
	n := 0
	for s.Scan() {
		line := s.Bytes()
		switch {
		case len(line) == 0:
			if len(data) > 0 {
				fn(bytes.Clone(data[:len(data)-1]))
				data = data[:0]
				n++
			}
		case len(line) >= 6 && string(line[:6]) == "data: ":
			data = append(data, line[6:]...)
			data = append(data, '\n')
		}
	}
	return n, s.Err()
}
