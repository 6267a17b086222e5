package sse

import (
	"bytes"
	"fmt"
	"io"
	"testing"
)

// chunkReader returns one chunk per Read (a chunk larger than the caller's
// buffer is split across Reads), calling check before each Read so that a
// test can look at the parser while it waits for bytes.
type chunkReader struct {
	chunks [][]byte
	check  func()
}

func (r *chunkReader) Read(b []byte) (int, error) {
	if r.check != nil {
		r.check()
	}
	if len(r.chunks) == 0 {
		return 0, io.EOF
	}
	n := copy(b, r.chunks[0])
	if r.chunks[0] = r.chunks[0][n:]; len(r.chunks[0]) == 0 {
		r.chunks = r.chunks[1:]
	}
	return n, nil
}

func smallEvent(i int) []byte { return fmt.Appendf(nil, "id: %d\ndata: {\"n\":%d}\n\n", i, i) }

// TestParser_BufferFollowsTheStream checks that the read buffer starts
// small, grows while reads fill it, and goes back to its initial size once
// the stream has been quiet for shrinkAfter reads, and that every event
// comes out intact on the way.
func TestParser_BufferFollowsTheStream(t *testing.T) {
	var busy []byte
	for i := 0; len(busy) < 4*readBufferSize; i++ {
		busy = append(busy, smallEvent(i)...)
	}
	quiet := make([][]byte, shrinkAfter+2)
	for i := range quiet {
		quiet[i] = smallEvent(1000000 + i)
	}
	r := &chunkReader{chunks: append([][]byte{busy}, quiet...)}
	p := NewParser(r, ParserOptions{})
	if got := len(p.lines.buf); got != minBufferSize {
		t.Fatalf("initial buffer: got %d bytes, want %d", got, minBufferSize)
	}
	largest := 0
	var got bytes.Buffer
	eachEvent(t, p, 1<<20, func(ev Event) {
		largest = max(largest, len(p.lines.buf))
		fmt.Fprintf(&got, "id: %s\ndata: %s\n\n", ev.LastEventID, ev.Data)
	})
	if largest != readBufferSize {
		t.Errorf("a busy stream's buffer grew to %d bytes, want %d", largest, readBufferSize)
	}
	if got := len(p.lines.buf); got != minBufferSize {
		t.Errorf("after %d quiet reads the buffer holds %d bytes, want %d", len(quiet), got, minBufferSize)
	}
	if want := append(busy, bytes.Join(quiet, nil)...); !bytes.Equal(got.Bytes(), want) {
		t.Errorf("events changed on the way: got %d bytes, want %d", got.Len(), len(want))
	}
}

// TestParser_NoBlockWhileWaiting checks that a parser waiting for bytes
// holds no carving block, and that the lone event of a quiet read gets an
// allocation of its own size rather than a shared block.
func TestParser_NoBlockWhileWaiting(t *testing.T) {
	var p *Parser
	r := &chunkReader{}
	for i := range 5 {
		r.chunks = append(r.chunks, smallEvent(i))
	}
	reads := 0
	r.check = func() {
		if reads++; reads > 1 && p.block != nil {
			t.Errorf("read %d: the parser waits holding a %d-byte block", reads, cap(p.block))
		}
	}
	p = NewParser(r, ParserOptions{})
	eachEvent(t, p, 10, func(ev Event) {
		// Nothing was buffered behind the event: its allocation had the
		// size of its data and ID, with no rest left over.
		if p.block != nil {
			t.Errorf("event %s: a %d-byte rest of a block is left", ev.LastEventID, len(p.block))
		}
	})
}
