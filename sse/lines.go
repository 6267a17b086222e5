package sse

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math/bits"
)

// Read buffer sizes. A parser starts with minBufferSize, enough for a quiet
// stream's small events. A read that fills the buffer doubles it, up to
// readBufferSize, so that a busy stream is read in large reads; beyond that
// only a line that does not fit grows it, up to the event size bound. Once
// the buffer is empty after shrinkAfter reads in a row of at most
// minBufferSize/2 bytes, it goes back to minBufferSize: a stream that has
// gone quiet holds what a quiet stream needs, not what its busiest moment
// did. Ten thousand idle streams then hold 10 MiB of buffers, not 640 MiB.
const (
	minBufferSize  = 1 << 10
	readBufferSize = 64 << 10
	shrinkAfter    = 8
)

// lineReader splits a stream into lines: the read buffer and its unread
// bytes, the cached positions of the next line endings, and what a BOM, a
// CRLF or an overlong line split across reads leaves for the next read.
type lineReader struct {
	r   io.Reader
	err error // sticky error from r

	buf        []byte
	start, end int // unread bytes are buf[start:end]
	// Cached positions of the next LF and CR at or after start (-1: none
	// before the scanned mark), so finding a line end stays linear even when
	// one of the two bytes never appears.
	lfPos, lfScanned int
	crPos, crScanned int

	bomDone     bool // the leading BOM has been looked for
	skipLF      bool // the last line ended in CR: an LF next is part of it
	discardLine bool // dropping the rest of a line over the size bound
	filled      bool // the last read filled the buffer: grow it
	smallReads  int  // reads in a row of at most minBufferSize/2 bytes
}

// reset makes l read r from its start, keeping its buffer unless a long
// line grew it far beyond what a busy stream needs.
func (l *lineReader) reset(r io.Reader) {
	buf := l.buf
	if cap(buf) > 4*readBufferSize || buf == nil {
		buf = make([]byte, minBufferSize)
	}
	*l = lineReader{r: r, buf: buf, lfPos: -1, crPos: -1}
}

// buffered is the number of unread bytes.
func (l *lineReader) buffered() int { return l.end - l.start }

// next returns the next line in the buffer without its line ending, or
// false when the buffered bytes hold no complete line: read more. The slice
// is only valid until the buffer changes.
func (l *lineReader) next() ([]byte, bool) {
	for {
		if l.skipLF && l.start < l.end {
			l.skipLF = false
			if l.buf[l.start] == '\n' {
				l.start++
			}
		}
		if !l.bomDone && !l.stripBOM() {
			return nil, false
		}
		i := l.lineEnd()
		if i < 0 {
			return nil, false
		}
		line := l.buf[l.start:i]
		l.start = i + 1
		if l.buf[i] == '\r' {
			// A CRLF whose LF has arrived is consumed now; otherwise an
			// LF at the start of the next read belongs to this line.
			if l.start < l.end && l.buf[l.start] == '\n' {
				l.start++
			} else {
				l.skipLF = true
			}
		}
		if l.discardLine {
			l.discardLine = false
			continue
		}
		return line, true
	}
}

var bom = []byte{0xEF, 0xBB, 0xBF}

// stripBOM removes one leading U+FEFF and reports whether the question is
// settled; false means more bytes are needed to tell.
func (l *lineReader) stripBOM() bool {
	avail := l.buf[l.start:l.end]
	n := min(len(avail), len(bom))
	switch {
	case !bytes.Equal(avail[:n], bom[:n]):
	case n == len(bom):
		l.start += n
	case l.err == nil:
		return false
	}
	l.bomDone = true
	return true
}

// lineEnd returns the index of the first CR or LF in the unread bytes, or -1.
func (l *lineReader) lineEnd() int {
	// Most lines are short (blank lines, ids, event types, small data): look
	// at the next sixteen bytes eight at a time, which costs less than the
	// searches below. CR and LF are below 0x0e, so flag such bytes: the
	// lowest flag in a word is exact (flags above it may be false), and
	// nearly always a CR or LF; another control byte (a tab) makes the
	// searches below decide.
	if s := l.start; s+16 <= l.end {
		const (
			ones  = 0x0101010101010101
			highs = 0x8080808080808080
		)
		w := l.buf[s : s+16 : s+16]
		i := -1
		if x := binary.LittleEndian.Uint64(w); (x-0x0e*ones)&^x&highs != 0 {
			i = bits.TrailingZeros64((x-0x0e*ones)&^x&highs) / 8
		} else if x := binary.LittleEndian.Uint64(w[8:]); (x-0x0e*ones)&^x&highs != 0 {
			i = 8 + bits.TrailingZeros64((x-0x0e*ones)&^x&highs)/8
		}
		if i >= 0 {
			if c := w[i]; c == '\n' || c == '\r' {
				return s + i
			}
		}
	}
	// Written out for each byte rather than shared through a helper: this
	// runs once per long line and is the parser's hottest path.
	lf := l.lfPos
	if lf < l.start {
		lf = -1
		if l.lfScanned < l.end {
			from := max(l.lfScanned, l.start)
			if i := bytes.IndexByte(l.buf[from:l.end], '\n'); i >= 0 {
				lf = from + i
			} else {
				l.lfScanned = l.end
			}
		}
		l.lfPos = lf
	}
	cr := l.crPos
	if cr < l.start {
		cr = -1
		if lf > l.start && l.buf[lf-1] == '\r' {
			// A CRLF line, as in most streams that use CR at all: only a
			// lone CR before the CRLF can end the line sooner. Looking for
			// one in the line alone, rather than for the next CR in the
			// whole buffer, keeps short lines off bytes.IndexByte's
			// per-call cost.
			from := min(max(l.crScanned, l.start), lf-1)
			cr = lf - 1
			if i := indexCR(l.buf[from : lf-1]); i >= 0 {
				cr = from + i
			}
		} else if l.crScanned < l.end {
			// An LF line, or no line end yet: one search of everything
			// buffered, which an LF-only stream makes once per read.
			from := max(l.crScanned, l.start)
			if i := bytes.IndexByte(l.buf[from:l.end], '\r'); i >= 0 {
				cr = from + i
			} else {
				l.crScanned = l.end
			}
		}
		l.crPos = cr
	}
	if cr >= 0 && (lf < 0 || cr < lf) {
		return cr
	}
	return lf
}

// indexCR is bytes.IndexByte(b, '\r'), faster for the short lines of
// CRLF streams: it tests eight bytes at a time without a call.
func indexCR(b []byte) int {
	if len(b) >= 64 {
		return bytes.IndexByte(b, '\r')
	}
	const (
		ones  = 0x0101010101010101
		highs = 0x8080808080808080
		crs   = '\r' * ones
	)
	i := 0
	for ; i+8 <= len(b); i += 8 {
		// A byte of x is zero where b has a CR; the lowest byte flagged
		// in m is the first zero byte (flags above it may be false).
		x := binary.LittleEndian.Uint64(b[i:]) ^ crs
		if m := (x - ones) &^ x & highs; m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	for ; i < len(b); i++ {
		if b[i] == '\r' {
			return i
		}
	}
	return -1
}

// fill reads more bytes into the buffer, making room first. A partial line
// that would outgrow limit is dropped and the rest of that line discarded as
// it arrives; tooLarge reports one that was not a comment.
func (l *lineReader) fill(limit int) (tooLarge bool, err error) {
	if l.discardLine {
		l.start = l.end
	}
	if l.start == l.end && len(l.buf) > minBufferSize &&
		(l.smallReads >= shrinkAfter || len(l.buf) > 4*readBufferSize) {
		l.buf = make([]byte, minBufferSize) // let a grown buffer go
		l.shift(l.start)
		l.filled, l.smallReads = false, 0
	}
	if l.start > 0 {
		copy(l.buf, l.buf[l.start:l.end])
		l.shift(l.start)
	}
	full := l.end == len(l.buf) // the buffer holds one partial line
	switch {
	case full && l.end >= limit:
		// spec: a comment line can be dropped without harm; any other
		// line this long makes its event too large.
		tooLarge = l.buf[0] != ':'
		l.discardLine = true
		l.start = l.end
		l.shift(l.start)
	case full || l.filled && len(l.buf) < readBufferSize:
		// A line that does not fit, or a busy stream whose last read
		// filled the buffer.
		n := 2 * len(l.buf)
		if !full {
			n = min(n, readBufferSize)
		}
		if n > limit {
			// Room for a line of limit bytes and its line ending;
			// limit < n, so limit+1 cannot overflow.
			n = limit + 1
		}
		if n > len(l.buf) {
			nb := make([]byte, n)
			copy(nb, l.buf[:l.end])
			l.buf = nb
		}
	}
	for range 100 {
		free := len(l.buf) - l.end
		n, err := l.r.Read(l.buf[l.end:])
		if n < 0 || n > free {
			l.err = errors.New("sse: reader returned an invalid count")
			return tooLarge, l.err
		}
		l.end += n
		l.filled = n == free
		if n > 0 && n <= minBufferSize/2 {
			l.smallReads++
		} else if n > 0 {
			l.smallReads = 0
		}
		if err != nil {
			l.err = err
			if n > 0 {
				return tooLarge, nil
			}
			return tooLarge, err
		}
		if n > 0 {
			return tooLarge, nil
		}
	}
	l.err = io.ErrNoProgress
	return tooLarge, l.err
}

// shift moves every index down by n after the unread bytes moved to the
// front of the buffer.
func (l *lineReader) shift(n int) {
	l.start -= n
	l.end -= n
	l.lfPos -= n
	l.crPos -= n
	l.lfScanned = max(l.lfScanned-n, 0)
	l.crScanned = max(l.crScanned-n, 0)
	if l.lfPos < 0 {
		l.lfPos = -1
	}
	if l.crPos < 0 {
		l.crPos = -1
	}
}
