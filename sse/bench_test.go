package sse

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"unicode/utf8"

	"github.com/benthos-sse/benthos-sse/internal/corpus"
)

// benchChunkSize is how much the loopback server writes before each flush.
const benchChunkSize = 32 << 10

// benchCheckCorpus parses c once and fails unless every event matches, so
// that the timed loops only need to count.
func benchCheckCorpus(b *testing.B, c corpus.Corpus) {
	b.Helper()
	p := NewParser(bytes.NewReader(c.Stream), ParserOptions{})
	for i, want := range c.Events {
		ev, err := p.Next()
		if err != nil {
			b.Fatalf("event %d: %v", i, err)
		}
		if ev.Type != want.Type || string(ev.Data) != want.Data || ev.LastEventID != want.ID {
			b.Fatalf("event %d: got {%q %.40q %q}, want {%q %.40q %q}",
				i, ev.Type, ev.Data, ev.LastEventID, want.Type, want.Data, want.ID)
		}
	}
	if _, err := p.Next(); err != io.EOF {
		b.Fatalf("after the last event: got %v, want io.EOF", err)
	}
}

// BenchmarkParser parses each corpus of internal/corpus from memory with a
// new Parser per pass, as a new connection would. MB/s counts stream bytes;
// allocs/event includes the parser's per-stream buffers.
func BenchmarkParser(b *testing.B) {
	for _, c := range corpus.All() {
		b.Run(c.Name, func(b *testing.B) {
			benchCheckCorpus(b, c)
			r := bytes.NewReader(c.Stream)
			before := corpus.StartPerEvent(b, c)
			for b.Loop() {
				r.Reset(c.Stream)
				p := NewParser(r, ParserOptions{})
				n := 0
				for {
					_, err := p.Next()
					if err == io.EOF {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
					n++
				}
				if n != len(c.Events) {
					b.Fatalf("parsed %d events, want %d", n, len(c.Events))
				}
			}
			corpus.ReportPerEvent(b, before, len(c.Events))
		})
	}
}

// benchServer serves stream on every request from a 127.0.0.1 listener,
// writing benchChunkSize bytes at a time and flushing after each.
func benchServer(b *testing.B, stream []byte) *httptest.Server {
	b.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-cache")
		w.WriteHeader(http.StatusOK)
		f := w.(http.Flusher)
		for rest := stream; len(rest) > 0; {
			n := min(len(rest), benchChunkSize)
			if _, err := w.Write(rest[:n]); err != nil {
				return // the client went away
			}
			f.Flush()
			rest = rest[n:]
		}
	}))
	b.Cleanup(srv.Close)
	return srv
}

// BenchmarkEventSource reads every event of each corpus through an
// EventSource from a loopback server, one connection per pass, and closes
// the event source after the last event.
func BenchmarkEventSource(b *testing.B) {
	for _, c := range corpus.All() {
		b.Run(c.Name, func(b *testing.B) {
			srv := benchServer(b, c.Stream)
			ctx := context.Background()
			first, last := c.Events[0], c.Events[len(c.Events)-1]
			before := corpus.StartPerEvent(b, c)
			for b.Loop() {
				es, err := New(srv.URL, Options{Client: srv.Client()})
				if err != nil {
					b.Fatal(err)
				}
				for i := range c.Events {
					ev, err := es.Next(ctx)
					if err != nil {
						b.Fatalf("event %d: %v", i, err)
					}
					if i == 0 && string(ev.Data) != first.Data || i == len(c.Events)-1 && string(ev.Data) != last.Data {
						b.Fatalf("event %d: got data %.40q", i, ev.Data)
					}
				}
				es.Close()
			}
			corpus.ReportPerEvent(b, before, len(c.Events))
		})
	}
}

// BenchmarkIsValidUTF8 compares the parser's ASCII fast path with
// utf8.Valid on the data of each corpus's events, which is what dispatch
// validates. MB/s counts data bytes.
func BenchmarkIsValidUTF8(b *testing.B) {
	for _, c := range corpus.All() {
		data := make([][]byte, len(c.Events))
		size := 0
		for i, ev := range c.Events {
			data[i] = []byte(ev.Data)
			size += len(ev.Data)
		}
		for _, f := range []struct {
			name  string
			valid func([]byte) bool
		}{{"isValidUTF8", isValidUTF8}, {"utf8.Valid", utf8.Valid}} {
			b.Run(c.Name+"/"+f.name, func(b *testing.B) {
				b.SetBytes(int64(size))
				for b.Loop() {
					for _, d := range data {
						if !f.valid(d) {
							b.Fatal("invalid")
						}
					}
				}
			})
		}
	}
}
