package bench

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/benthos-sse/benthos-sse/internal/corpus"
)

// corpora is generated once per test binary.
var corpora = sync.OnceValue(corpus.All)

// benchSamples is about how many events of each pass a benchmark compares
// in full; it counts all of them.
const benchSamples = 64

// checker compares the events a library reports with a corpus: every
// stride-th event and the last in full, and their number.
type checker struct {
	want   []corpus.Want
	stride int
	n      int
	err    error
}

func newChecker(want []corpus.Want, samples int) *checker {
	return &checker{want: want, stride: max(1, len(want)/samples)}
}

func (c *checker) reset() { c.n, c.err = 0, nil }

func (c *checker) event(e Event) {
	i := c.n
	c.n++
	if c.err != nil || i >= len(c.want) || i%c.stride != 0 && i != len(c.want)-1 {
		return
	}
	if w := c.want[i]; e.Type != w.Type || e.Data != w.Data || e.ID != w.ID {
		c.err = fmt.Errorf("event %d: got {Type:%q Data:%.60q ID:%q}, want {Type:%q Data:%.60q ID:%q}",
			i, e.Type, e.Data, e.ID, w.Type, w.Data, w.ID)
	}
}

func (c *checker) done() error {
	if c.err != nil {
		return c.err
	}
	if c.n != len(c.want) {
		return fmt.Errorf("got %d events, want %d", c.n, len(c.want))
	}
	return nil
}

// TestParsers checks every event of every corpus from every parser.
func TestParsers(t *testing.T) {
	for _, c := range corpora() {
		for _, lib := range Parsers {
			t.Run(c.Name+"/"+lib.Name, func(t *testing.T) {
				ck := newChecker(c.Events, len(c.Events))
				if err := lib.Func(bytes.NewReader(c.Stream), ck.event); err != nil {
					t.Fatalf("parse: %v", err)
				}
				if err := ck.done(); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

func TestScanLines(t *testing.T) {
	for _, c := range corpora() {
		n, err := ScanLines(bytes.NewReader(c.Stream))
		if want := bytes.Count(c.Stream, []byte("\n")); n != want || err != nil {
			t.Errorf("%s: got %d lines, %v; want %d lines", c.Name, n, err, want)
		}
		var got []string
		n, err = ScanLinesAlloc(bytes.NewReader(c.Stream), func(data []byte) { got = append(got, string(data)) })
		if n != len(c.Events) || len(got) != n || err != nil {
			t.Fatalf("%s: ScanLinesAlloc: %d events, %d calls, %v; want %d", c.Name, n, len(got), err, len(c.Events))
		}
		for i, w := range c.Events {
			if got[i] != w.Data {
				t.Fatalf("%s: ScanLinesAlloc: event %d data %.40q, want %.40q", c.Name, i, got[i], w.Data)
			}
		}
	}
}

// TestClients checks every event of every client corpus from every client
// over loopback HTTP.
func TestClients(t *testing.T) {
	for _, c := range corpora() {
		srv := NewServer(c.Stream)
		t.Cleanup(srv.Close)
		for _, lib := range Clients {
			t.Run(c.Name+"/"+lib.Name, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // failure bound
				defer cancel()
				ck := newChecker(c.Events, len(c.Events))
				if err := lib.Func(ctx, srv.URL, srv.Client(), len(c.Events), ck.event); err != nil {
					t.Fatal(err)
				}
				if err := ck.done(); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

// BenchmarkParser parses each corpus from memory with each library, and
// splits it into lines with the bound. MB/s counts stream bytes.
func BenchmarkParser(b *testing.B) {
	for _, c := range corpora() {
		b.Run(c.Name, func(b *testing.B) {
			for _, lib := range Parsers {
				b.Run(lib.Name, func(b *testing.B) { benchParse(b, c, lib.Func) })
			}
			b.Run(Bound, func(b *testing.B) { benchBound(b, c) })
			b.Run(Floor, func(b *testing.B) { benchFloor(b, c) })
		})
	}
}

func benchParse(b *testing.B, c corpus.Corpus, parse ParseFunc) {
	ck := newChecker(c.Events, benchSamples)
	fn := ck.event
	r := bytes.NewReader(c.Stream)
	before := corpus.StartPerEvent(b, c)
	for b.Loop() {
		ck.reset()
		r.Reset(c.Stream)
		if err := parse(r, fn); err != nil {
			b.Fatal(err)
		}
		if err := ck.done(); err != nil {
			b.Fatal(err)
		}
	}
	corpus.ReportPerEvent(b, before, len(c.Events))
}

func benchBound(b *testing.B, c corpus.Corpus) {
	lines := bytes.Count(c.Stream, []byte("\n"))
	r := bytes.NewReader(c.Stream)
	before := corpus.StartPerEvent(b, c)
	for b.Loop() {
		r.Reset(c.Stream)
		n, err := ScanLines(r)
		if err != nil || n != lines {
			b.Fatalf("got %d lines, %v; want %d", n, err, lines)
		}
	}
	corpus.ReportPerEvent(b, before, len(c.Events))
}

// sink keeps benchFloor's copies from being optimised away.
var sink []byte

func benchFloor(b *testing.B, c corpus.Corpus) {
	r := bytes.NewReader(c.Stream)
	keep := func(data []byte) { sink = data }
	before := corpus.StartPerEvent(b, c)
	for b.Loop() {
		r.Reset(c.Stream)
		n, err := ScanLinesAlloc(r, keep)
		if err != nil || n != len(c.Events) {
			b.Fatalf("got %d events, %v; want %d", n, err, len(c.Events))
		}
	}
	corpus.ReportPerEvent(b, before, len(c.Events))
}

// BenchmarkClient reads every event of a corpus through each library's
// client from a loopback server that writes 32 KiB chunks with a flush
// after each, one connection per pass.
func BenchmarkClient(b *testing.B) {
	for _, c := range corpora() {
		b.Run(c.Name, func(b *testing.B) {
			srv := NewServer(c.Stream)
			defer srv.Close()
			for _, lib := range Clients {
				b.Run(lib.Name, func(b *testing.B) { benchClient(b, c, srv.URL, srv.Client(), lib.Func) })
			}
		})
	}
}

func benchClient(b *testing.B, c corpus.Corpus, url string, client *http.Client, read ClientFunc) {
	ck := newChecker(c.Events, benchSamples)
	fn := ck.event
	ctx := context.Background()
	before := corpus.StartPerEvent(b, c)
	for b.Loop() {
		ck.reset()
		if err := read(ctx, url, client, len(c.Events), fn); err != nil {
			b.Fatal(err)
		}
		if err := ck.done(); err != nil {
			b.Fatal(err)
		}
	}
	corpus.ReportPerEvent(b, before, len(c.Events))
}

// TestChecker makes sure the checks above can fail.
func TestChecker(t *testing.T) {
	want := []corpus.Want{{Type: "message", Data: "a", ID: "1"}, {Type: "message", Data: "b", ID: "2"}, {Type: "x", Data: "c", ID: "3"}}
	tests := []struct {
		name    string
		got     []Event
		samples int
		ok      bool
	}{
		{"all equal", []Event{{"message", "a", "1"}, {"message", "b", "2"}, {"x", "c", "3"}}, 3, true},
		{"wrong data", []Event{{"message", "a", "1"}, {"message", "B", "2"}, {"x", "c", "3"}}, 3, false},
		{"wrong type of the last", []Event{{"message", "a", "1"}, {"message", "b", "2"}, {"message", "c", "3"}}, 1, false},
		{"wrong id", []Event{{"message", "a", ""}, {"message", "b", "2"}, {"x", "c", "3"}}, 1, false},
		{"one short", []Event{{"message", "a", "1"}, {"message", "b", "2"}}, 3, false},
		{"one extra", []Event{{"message", "a", "1"}, {"message", "b", "2"}, {"x", "c", "3"}, {"x", "d", "4"}}, 3, false},
		{"unsampled difference", []Event{{"message", "a", "1"}, {"message", "B", "2"}, {"x", "c", "3"}}, 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ck := newChecker(want, tt.samples)
			for _, e := range tt.got {
				ck.event(e)
			}
			if err := ck.done(); (err == nil) != tt.ok {
				t.Fatalf("done() = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}
