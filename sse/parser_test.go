package sse

import (
	"bytes"
	"io"
	"math"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestParser_MaxEventSizeAnyValue: huge bounds neither overflow (which
// made every event too large) nor panic growing the buffer for a line longer
// than it.
func TestParser_MaxEventSizeAnyValue(t *testing.T) {
	long := strings.Repeat("x", 100<<10)
	in := "data: a\n\ndata: " + long + "\ndata: b\n\n:" + long + "\n\ndata: c\n\n"
	for _, max := range []int{math.MaxInt, math.MaxInt - 1, math.MaxInt64 / 2, 1 << 40, -1} {
		for _, pat := range readPatterns(nil) {
			p := NewParser(pat.make([]byte(in)), ParserOptions{MaxEventSize: max})
			for _, want := range []string{"a", long + "\nb", "c"} {
				ev, err := p.Next()
				if err != nil || string(ev.Data) != want {
					t.Fatalf("MaxEventSize %d, %s: Next = %d bytes, %v; want %d bytes", max, pat.name, len(ev.Data), err, len(want))
				}
			}
			if _, err := p.Next(); err != io.EOF {
				t.Fatalf("MaxEventSize %d, %s: Next at the end = %v, want io.EOF", max, pat.name, err)
			}
		}
	}
}

// TestParser_OnComment: comments reach the callback without the colon and
// one space, decoded like data, under every read pattern; events are
// unchanged.
func TestParser_OnComment(t *testing.T) {
	in := []byte(": hello\r\n:no space\n:\n:  two spaces\r:bad \xff byte\ndata: x\n: between\n\n" +
		":" + strings.Repeat("y", 100) + "\n")
	want := []string{"hello", "no space", "", " two spaces", "bad \uFFFD byte", "between"}
	for _, pat := range readPatterns(in) {
		var got []string
		p := NewParser(pat.make(in), ParserOptions{MaxEventSize: 64, OnComment: func(c string) { got = append(got, c) }})
		ev, err := p.Next()
		if err != nil || string(ev.Data) != "x" {
			t.Fatalf("%s: Next = %q, %v; want x", pat.name, ev.Data, err)
		}
		if _, err := p.Next(); err != io.EOF {
			t.Fatalf("%s: Next at the end = %v, want io.EOF", pat.name, err)
		}
		// The last comment is over MaxEventSize: dropped unreported.
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Fatalf("%s: comments %q, want %q", pat.name, got, want)
		}
	}
	// Without a callback nothing changes.
	p := NewParser(bytes.NewReader(in), ParserOptions{MaxEventSize: 64})
	if ev, err := p.Next(); err != nil || string(ev.Data) != "x" {
		t.Fatalf("no callback: Next = %q, %v; want x", ev.Data, err)
	}
}

// eachEvent calls f with each event p reads until io.EOF. Any other error
// fails the test, as do more than limit events: a parser not making
// progress.
func eachEvent(t *testing.T, p *Parser, limit int, f func(Event)) {
	t.Helper()
	for n := 0; ; n++ {
		ev, err := p.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatalf("Next: unexpected error %v after %d events", err, n)
		}
		if n >= limit {
			t.Fatalf("Next: more than %d events; parser not making progress?", limit)
		}
		f(ev)
	}
}

// TestParser_BlockCarving guards the carving of events from shared blocks:
// each Data's capacity ends at its length, so appending to one event's data
// can never overwrite the next event or the ID and type strings carved
// beside it.
func TestParser_BlockCarving(t *testing.T) {
	big := strings.Repeat("b", 2*maxCarved)
	in := "id: 1\nevent: e1\ndata: a\n\nid: 2\nevent: e2\ndata: b\n\ndata: c\n\nid: 3\nevent: e3\ndata: " + big + "\n\n"
	var evs []Event
	eachEvent(t, NewParser(strings.NewReader(in), ParserOptions{}), 10, func(ev Event) {
		if cap(ev.Data) != len(ev.Data) {
			t.Fatalf("event %q: cap(Data) = %d, want len(Data) = %d", clip(string(ev.Data), 20), cap(ev.Data), len(ev.Data))
		}
		evs = append(evs, ev)
	})
	for i := range evs {
		_ = append(evs[i].Data, strings.Repeat("X", 64)...)
	}
	want := []struct{ typ, data, id string }{{"e1", "a", "1"}, {"e2", "b", "2"}, {"message", "c", "2"}, {"e3", big, "3"}}
	if len(evs) != len(want) {
		t.Fatalf("got %d events, want %d", len(evs), len(want))
	}
	for i, w := range want {
		if ev := evs[i]; ev.Type != w.typ || string(ev.Data) != w.data || ev.LastEventID != w.id {
			t.Fatalf("event %d after appends: {%q %q %q}, want {%q %q %q}", i, ev.Type, clip(string(ev.Data), 20), ev.LastEventID, w.typ, clip(w.data, 20), w.id)
		}
	}
}

// TestParser_IDDoesNotPinLargeData keeps only the ID of a large event (as a
// dedupe window does) and the parser: the event's data must still be freed.
func TestParser_IDDoesNotPinLargeData(t *testing.T) {
	for _, typ := range []string{"", "event: big\n"} {
		in := "id: 42\n" + typ + "data: " + strings.Repeat("x", 1<<20) + "\n\n"
		p := NewParser(strings.NewReader(in), ParserOptions{})
		freed := make(chan struct{})
		id := func() string {
			ev, err := p.Next()
			if err != nil {
				t.Fatal(err)
			}
			runtime.AddCleanup(&ev.Data[0], func(ch chan struct{}) { close(ch) }, freed)
			return ev.LastEventID
		}()
		for i := 0; ; i++ {
			runtime.GC()
			select {
			case <-freed:
			case <-time.After(10 * time.Millisecond):
				if i < 100 { // a failure bound: about a second
					continue
				}
				t.Fatalf("%q: the data of an event whose ID is kept was not freed", typ)
			}
			break
		}
		if id != "42" || p.LastEventID() != "42" {
			t.Fatalf("id %q, LastEventID() %q; want 42", id, p.LastEventID())
		}
		runtime.KeepAlive(p)
	}
}

func TestIsValidUTF8(t *testing.T) {
	for n := 0; n <= 2*utf8ValidFrom; n++ {
		b := bytes.Repeat([]byte{'a'}, n)
		if !isValidUTF8(b) {
			t.Fatalf("%d ASCII bytes: invalid", n)
		}
		for i := 0; i < n; i++ {
			b[i] = 0xff
			if isValidUTF8(b) {
				t.Fatalf("%d bytes with 0xff at %d: valid", n, i)
			}
			b[i] = 'a'
		}
		if n >= 2 {
			copy(b[n-2:], "é")
			if !isValidUTF8(b) {
				t.Fatalf("%d bytes ending in é: invalid", n)
			}
		}
	}
}

func TestIndexCR(t *testing.T) {
	for n := 0; n <= 80; n++ {
		b := bytes.Repeat([]byte{'x'}, n)
		if got := indexCR(b); got != -1 {
			t.Fatalf("len %d without CR: got %d", n, got)
		}
		for i := 0; i < n; i++ {
			b[i] = '\r'
			for j := i + 1; j < n; j++ {
				b[j] = '\r' // a later CR never hides the first
				if got := indexCR(b); got != i {
					t.Fatalf("len %d, CRs at %d and %d: got %d", n, i, j, got)
				}
				b[j] = 0x0c // a byte just below CR is no CR
			}
			b[i] = 0x0e
			if got := indexCR(b); got != -1 {
				t.Fatalf("len %d, 0x0e at %d: got %d", n, i, got)
			}
			b[i] = 'x'
			for j := range b {
				b[j] = 'x'
			}
		}
	}
}

// TestParser_LineEnd checks lineEnd, with its word-at-a-time look at the
// next sixteen bytes, against bytes.IndexAny: a CR or LF at every position,
// behind every byte value that could confuse its flags (other control bytes,
// 0x80 and above), with the line starting at several offsets.
func TestLineReader_LineEnd(t *testing.T) {
	fills := []byte{'a', 0x00, '\t', 0x0b, 0x0c, 0x0e, 0x7f, 0x80, 0xff}
	for _, start := range []int{0, 1, 7} {
		for n := 0; n <= 40; n++ {
			for pos := -1; pos < n; pos++ {
				for _, eol := range []byte{'\r', '\n'} {
					for _, fill := range fills {
						buf := bytes.Repeat([]byte{fill}, start+n)
						if pos >= 0 {
							buf[start+pos] = eol
						}
						l := &lineReader{buf: buf, start: start, end: len(buf), lfPos: -1, crPos: -1}
						want := bytes.IndexAny(buf[start:], "\r\n")
						if want >= 0 {
							want += start
						}
						if got := l.lineEnd(); got != want {
							t.Fatalf("start %d, % x: lineEnd() = %d, want %d", start, buf, got, want)
						}
					}
				}
			}
		}
	}
}
