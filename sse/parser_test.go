package sse

import (
	"bytes"
	"io"
	"math"
	"strings"
	"testing"
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
