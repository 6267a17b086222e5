package sse

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"time"
	"unicode/utf8"
	"unsafe"
)

// DefaultMaxEventSize is the event size bound a zero [ParserOptions.MaxEventSize]
// selects. It is far above what real streams send (a few KiB, rarely a few
// hundred KiB for a large JSON document) and low enough that a hostile server
// cannot make one connection hold more than a few tens of MiB.
const DefaultMaxEventSize = 8 << 20

var (
	// ErrEventTooLarge is returned by [Parser.Next] for an event whose data,
	// type and ID together exceed the size bound, or that holds a line longer
	// than the bound. The parser has already skipped to the end of that event;
	// call Next again to read the following one.
	ErrEventTooLarge = errors.New("sse: event too large")

	// errWouldBlock tells the non-blocking path that the buffered bytes hold
	// no complete line.
	errWouldBlock = errors.New("sse: would block")
)

// ParserOptions configures a [Parser]. The zero value is ready to use.
type ParserOptions struct {
	// MaxEventSize bounds one event: the bytes of its data, type and last
	// event ID together, and the length of any line in it. Zero means
	// [DefaultMaxEventSize]. An event over it is skipped to its end and
	// reported as [ErrEventTooLarge]. The parser holds at most about twice
	// this many bytes at once. Any value is safe, up to math.MaxInt (which
	// means no bound but memory); a negative one means the default.
	MaxEventSize int

	// OnComment, if set, is called with each comment line (one starting
	// with a colon) without the colon and one following space, decoded as
	// UTF-8 like data. The standard ignores comments; some servers put
	// meaning in them. It runs inside [Parser.Next] and [Parser.Buffered],
	// so it must not call the parser. A comment line longer than
	// MaxEventSize is dropped unreported. Nil, the default, skips comments
	// at no cost.
	OnComment func(comment string)
}

// Event is one dispatched server-sent event: the MessageEvent of the
// standard.
type Event struct {
	// Type is the event type: the value of the last event field, or
	// "message" when the event had none.
	Type string
	// Data is the event's data: its data lines joined with LF, without the
	// final LF. It belongs to the caller; the parser never touches it again.
	// Small events (up to 1 KiB of data, ID and type) share blocks of up
	// to 16 KiB, no larger than what was already read (one allocation
	// serves the events of a read), so an event kept for
	// long, or its LastEventID or Type string, keeps its block alive: copy
	// them first to keep many small events for a long time. A larger
	// event's data has an allocation of its own, apart from its strings,
	// so keeping its ID never keeps its data.
	Data []byte
	// LastEventID is the last event ID string at dispatch: the value of the
	// most recent id field, in this event or an earlier one.
	LastEventID string
	// HasID reports whether this event's own lines held a valid id field,
	// rather than LastEventID being carried over from an earlier event.
	HasID bool
	// Retry is the reconnection time from a valid retry field in this
	// event's own lines, when HasRetry is true.
	Retry    time.Duration
	HasRetry bool
}

// Parser reads events from an event stream. It implements the standard's
// "interpret an event stream" algorithm exactly, including the parts most
// parsers skip: one leading BOM, a CR at the end of one read and an LF at the
// start of the next as one line ending, the WHATWG UTF-8 decoder's U+FFFD
// replacement, ids containing NUL ignored, retry only when all ASCII digits,
// and an unterminated event at the end of the stream discarded.
//
// A Parser reads only inside [Parser.Next], never ahead of what that call
// needs. It is not safe for concurrent use.
type Parser struct {
	lines lineReader   // the stream being read, split into lines (lines.go)
	cur   pendingEvent // the event being built: reset for each one

	max       int // MaxEventSize
	onComment func(string)

	// What outlives a stream, because it belongs to the event source
	// rather than to one connection: the last event ID (its buffer, raw,
	// and its decoded string) and the reconnection time.
	id       []byte
	idStr    string
	retry    time.Duration
	hasRetry bool

	typStr string // the last non-default event type handed out, for reuse
	block  []byte // the unused rest of the block events are carved from
}

// pendingEvent is the event being built from the lines since the last
// dispatch: the standard's data and event type buffers, and what its own
// lines set. The last event ID buffer is not here: it outlives the event.
type pendingEvent struct {
	data []byte // data buffer
	typ  []byte // event type buffer
	// line is the event's only data line so far, still in the read
	// buffer; hasLine tells an empty line from none. It moves to data
	// before the read buffer changes.
	line    []byte
	hasLine bool
	// hasID and hasRetry: the event's lines held a valid id or retry.
	hasID, hasRetry bool
	tooLarge        bool // over the size bound: skipping to its end
}

// reset empties e for the next event, keeping its buffers.
func (e *pendingEvent) reset() {
	e.data, e.typ = e.data[:0], e.typ[:0]
	e.line, e.hasLine = nil, false
	e.hasID, e.hasRetry, e.tooLarge = false, false, false
}

// NewParser returns a parser that reads the event stream r.
func NewParser(r io.Reader, opts ParserOptions) *Parser {
	p := &Parser{max: opts.MaxEventSize, onComment: opts.OnComment}
	if p.max <= 0 {
		p.max = DefaultMaxEventSize
	}
	p.Reset(r)
	return p
}

// Reset makes p read a new stream from r, as for a new connection. The
// stream state is cleared; the last event ID and the reconnection time are
// kept, because they belong to the event source rather than to one
// connection.
func (p *Parser) Reset(r io.Reader) {
	p.lines.reset(r)
	p.cur.reset()
	if cap(p.cur.data) > 4*readBufferSize {
		p.cur.data = nil // let a long event's buffer go
	}
	// The last event ID buffer goes back to the last dispatched ID: an id
	// field of an event the old stream never finished must not become the
	// ID of the new stream's next event, nor be sent as Last-Event-ID after
	// it, or the unfinished event would never be resent.
	p.id = append(p.id[:0], p.idStr...)
	p.block = nil
}

// LastEventID returns the last event ID string: the value of the most recent
// valid id field, or the value given to [Parser.SetLastEventID].
func (p *Parser) LastEventID() string { return p.idStr }

// SetLastEventID sets the last event ID, as if an id field had carried it.
// Use it to resume a stream whose previous ID is known.
func (p *Parser) SetLastEventID(id string) {
	p.id = append(p.id[:0], id...)
	p.idStr = id
}

// Retry returns the reconnection time set by the most recent valid retry
// field, and whether there was one.
func (p *Parser) Retry() (time.Duration, bool) { return p.retry, p.hasRetry }

// Next returns the next event. At the end of the stream it returns io.EOF,
// discarding an event that was not terminated by a blank line, as the
// standard requires; any other error from the reader is returned as it is.
// [ErrEventTooLarge] reports a skipped event; parsing can continue.
func (p *Parser) Next() (Event, error) { return p.next(true) }

// Buffered returns the next event if the bytes already read hold all of it,
// without reading more. It lets a caller collect the events that have
// already arrived into one batch without waiting for the network. ok is
// false when a read would be needed; err is as for [Parser.Next].
func (p *Parser) Buffered() (ev Event, ok bool, err error) {
	ev, err = p.next(false)
	if err == errWouldBlock {
		return Event{}, false, nil
	}
	return ev, err == nil, err
}

func (p *Parser) next(block bool) (Event, error) {
	for {
		line, ok := p.lines.next()
		if !ok {
			if err := p.more(block); err != nil {
				if err != errWouldBlock {
					// spec: "Once the end of the file is reached, any
					// pending data must be discarded."
					p.cur.reset()
				}
				return Event{}, err
			}
			continue
		}
		if len(line) == 0 {
			ev, ok, err := p.dispatch()
			if ok || err != nil {
				return ev, err
			}
			continue
		}
		p.processLine(line)
	}
}

// more reads more bytes into the buffer, when block allows. It enforces
// the line length bound: a partial line that would outgrow it is dropped,
// and makes its event too large unless it is a comment.
func (p *Parser) more(block bool) error {
	l := &p.lines
	if l.err != nil {
		return l.err
	}
	if !block {
		return errWouldBlock
	}
	p.flushPending() // the buffer's bytes are about to move
	if l.discardLine || l.buffered() == 0 {
		// Nothing is buffered: the read may wait for long. The rest of the
		// carving block is dropped, so that it does not outlive the events
		// carved from it while the stream is quiet.
		p.block = nil
	}
	tooLarge, err := l.fill(p.max)
	if tooLarge {
		p.cur.tooLarge = true
	}
	return err
}

// processLine applies one non-empty line to the event being built.
func (p *Parser) processLine(line []byte) {
	// spec: "If the line starts with a U+003A COLON character (:) Ignore the
	// line."
	if line[0] == ':' {
		if p.onComment != nil && len(line) <= p.max {
			p.comment(line[1:])
		}
		return
	}
	if len(line) > p.max {
		p.cur.tooLarge = true
		return
	}
	f, value := splitField(line)
	switch f {
	case fieldData:
		// spec: "Append the field value to the data buffer, then append a
		// single U+000A LINE FEED (LF) character to the data buffer."
		e := &p.cur
		if e.tooLarge {
			return
		}
		held := len(e.data)
		if e.hasLine {
			held = len(e.line) + 1
		}
		if held+len(value) > p.max {
			e.tooLarge = true
			e.data = e.data[:0]
			e.line, e.hasLine = nil, false
			return
		}
		if !e.hasLine && len(e.data) == 0 {
			// Most events have one data line: keep it where it is in the
			// read buffer and copy it once, at dispatch.
			e.line, e.hasLine = value, true
			return
		}
		p.flushPending()
		e.data = append(e.data, value...)
		e.data = append(e.data, '\n')
	case fieldEvent:
		// spec: "Set the event type buffer to field value."
		p.cur.typ = append(p.cur.typ[:0], value...)
	case fieldID:
		// spec: "If the field value does not contain U+0000 NULL, then set
		// the last event ID buffer to the field value. Otherwise, ignore the
		// field."
		if bytes.IndexByte(value, 0) < 0 {
			p.id = append(p.id[:0], value...)
			p.cur.hasID = true
		}
	case fieldRetry:
		// spec: "If the field value consists of only ASCII digits, then
		// interpret the field value as an integer in base ten, and set the
		// event stream's reconnection time to that integer. Otherwise, ignore
		// the field."
		if ms, ok := parseDigits(value); ok {
			p.retry, p.hasRetry = ms, true
			p.cur.hasRetry = true
		}
	}
	// spec: "Otherwise: The field is ignored."
}

// field is a field name the standard gives meaning to.
type field uint8

const (
	fieldOther field = iota // ignored
	fieldData
	fieldEvent
	fieldID
	fieldRetry
)

// splitField splits a line that is not a comment into its field and value.
func splitField(line []byte) (field, []byte) {
	// spec: "If the line contains a U+003A COLON character (:) Collect the
	// characters on the line before the first U+003A COLON character (:), and
	// let field be that string. Collect the characters on the line after the
	// first U+003A COLON character (:), and let value be that string. If value
	// starts with a U+0020 SPACE character, remove it from value."
	// "Otherwise, ... Process the field using the whole line as the field
	// name, and the empty string as the field value."
	//
	// The usual "data:" and "id:" are recognised from the first bytes at
	// once (none of the names holds a colon, so the colon after the name is
	// the first); anything else takes the general path.
	var f field
	var value []byte
	switch n := len(line); {
	case n >= 5 && binary.LittleEndian.Uint32(line) == 'd'|'a'<<8|'t'<<16|'a'<<24 && line[4] == ':':
		f, value = fieldData, line[5:]
	case n >= 3 && line[0] == 'i' && line[1] == 'd' && line[2] == ':':
		f, value = fieldID, line[3:]
	default:
		name := line
		value = line[:0]
		if i := bytes.IndexByte(line, ':'); i >= 0 {
			name, value = line[:i], line[i+1:]
		}
		switch string(name) {
		case "data":
			f = fieldData
		case "event":
			f = fieldEvent
		case "id":
			f = fieldID
		case "retry":
			f = fieldRetry
		}
	}
	if len(value) > 0 && value[0] == ' ' {
		value = value[1:]
	}
	return f, value
}

// comment hands a comment line's text to the OnComment callback.
func (p *Parser) comment(text []byte) {
	if len(text) > 0 && text[0] == ' ' {
		text = text[1:]
	}
	if isValidUTF8(text) {
		p.onComment(string(text))
	} else {
		p.onComment(string(appendDecoded(nil, text)))
	}
}

// flushPending moves a data line kept in the read buffer to the data
// buffer.
func (p *Parser) flushPending() {
	if e := &p.cur; e.hasLine {
		e.data = append(e.data, e.line...)
		e.data = append(e.data, '\n')
		e.line, e.hasLine = nil, false
	}
}

// isValidUTF8 is utf8.Valid with a faster path for short ASCII, which most
// event data is: it ORs eight bytes at a time without a branch per word.
// Measured on go1.26 (BenchmarkIsValidUTF8, medians of 15 runs): about 1.6x
// utf8.Valid's speed on the small-json events (100-200 bytes), level on LLM
// tokens, and about 0.65x on 64 KiB events, so long data goes to utf8.Valid.
func isValidUTF8(b []byte) bool {
	const highs = 0x8080808080808080
	if len(b) >= utf8ValidFrom {
		return utf8.Valid(b)
	}
	var acc uint64
	for ; len(b) >= 32; b = b[32:] {
		acc |= binary.LittleEndian.Uint64(b) | binary.LittleEndian.Uint64(b[8:]) |
			binary.LittleEndian.Uint64(b[16:]) | binary.LittleEndian.Uint64(b[24:])
		if acc&highs != 0 {
			return utf8.Valid(b)
		}
	}
	// The rest, under 32 bytes: whole words, then the last word again,
	// overlapping, rather than a byte at a time (ids are often shorter
	// than a word: two overlapping halves then).
	switch n := len(b); {
	case n >= 8:
		for t := b; len(t) >= 8; t = t[8:] {
			acc |= binary.LittleEndian.Uint64(t)
		}
		acc |= binary.LittleEndian.Uint64(b[n-8:])
	case n >= 4:
		acc |= uint64(binary.LittleEndian.Uint32(b) | binary.LittleEndian.Uint32(b[n-4:]))
	case n > 0:
		acc |= uint64(b[0] | b[n/2] | b[n-1])
	}
	return acc&highs == 0 || utf8.Valid(b)
}

// utf8ValidFrom is the length from which utf8.Valid is faster.
const utf8ValidFrom = 512

// parseDigits parses a reconnection time in milliseconds, saturating at the
// largest time.Duration rather than overflowing.
func parseDigits(b []byte) (time.Duration, bool) {
	if len(b) == 0 {
		return 0, false
	}
	const limit = math.MaxInt64 / int64(time.Millisecond)
	var ms int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		if ms <= limit {
			ms = ms*10 + int64(c-'0')
		}
	}
	if ms > limit {
		return time.Duration(math.MaxInt64), true
	}
	return time.Duration(ms) * time.Millisecond, true
}

// dispatch implements "dispatch the event". ok is false when no event is
// dispatched because the data buffer is empty.
func (p *Parser) dispatch() (ev Event, ok bool, err error) {
	e := &p.cur
	// The buffers' bytes stay where they are until the next line: reset
	// only their lengths, and use the slices taken here.
	data := e.data[:max(len(e.data)-1, 0)]
	if e.hasLine {
		data = e.line // the only data line, without its LF
	}
	hasData := len(e.data) > 0 || e.hasLine
	typ, tooLarge, hasID, hasRetry := e.typ, e.tooLarge, e.hasID, e.hasRetry
	e.reset()
	// spec: "Set the last event ID string of the event source to the value
	// of the last event ID buffer."
	// Only an id field since the last dispatch can have changed the buffer.
	newID := hasID && string(p.id) != p.idStr
	if newID && !isValidUTF8(p.id) {
		p.idStr, newID = string(appendDecoded(nil, p.id)), false
	}
	// spec: "If the data buffer is an empty string, set the data buffer and
	// the event type buffer to the empty string and return."
	if !hasData && !tooLarge {
		if newID {
			p.idStr = string(p.id)
		}
		return Event{}, false, nil
	}
	// spec: "If the data buffer's last character is a U+000A LINE FEED (LF)
	// character, then remove the last character from the data buffer." (data,
	// above.)
	typLen := len(typ)
	if typLen == 0 {
		typLen = len("message")
	}
	idLen := len(p.idStr) // decoded
	if newID {
		idLen = len(p.id) // valid UTF-8, about to become the ID string
	}
	if tooLarge || len(data)+idLen+typLen > p.max {
		if newID {
			p.idStr = string(p.id)
		}
		return Event{}, false, ErrEventTooLarge
	}
	// spec: "Initialize event's type attribute to "message" ... If the event
	// type buffer has a value other than the empty string, change the type of
	// the newly created event to equal the value of the event type buffer."
	newType := len(typ) > 0 && string(typ) != p.typStr
	if !isValidUTF8(data) || newType && !utf8.Valid(typ) {
		ev = p.dispatchDecoded(data, typ, newID)
		ev.HasID, ev.HasRetry = hasID, hasRetry
		if hasRetry {
			ev.Retry = p.retry
		}
		// Each invalid byte becomes a three-byte U+FFFD: check again.
		if len(ev.Data)+len(ev.LastEventID)+len(ev.Type) > p.max {
			return Event{}, false, ErrEventTooLarge
		}
		return ev, true, nil
	}
	// For a small event, one carving carries the data, and the ID and type
	// when they differ from the last event's: the strings are views of its
	// tail, which the caller cannot reach through Data because Data's
	// capacity ends first. A large event's data gets its own allocation and
	// the strings theirs, so that a kept ID (a dedupe window's) never keeps
	// a large event's data alive.
	n := len(data)
	if newID {
		n += len(p.id)
	}
	if newType {
		n += len(typ)
	}
	if n > maxCarved {
		ev.Data = p.alloc(len(data))
		copy(ev.Data, data)
		if newID {
			p.idStr = p.allocString(p.id)
		}
		if newType {
			p.typStr = p.allocString(typ)
		}
	} else {
		b := p.alloc(n)
		k := copy(b, data)
		ev.Data = b[:k:k]
		if newID {
			m := copy(b[k:], p.id)
			p.idStr = unsafe.String(unsafe.SliceData(b[k:]), m)
			k += m
		}
		if newType {
			m := copy(b[k:], typ)
			p.typStr = unsafe.String(unsafe.SliceData(b[k:]), m)
		}
	}
	ev.LastEventID = p.idStr
	ev.HasID, ev.HasRetry = hasID, hasRetry
	if hasRetry {
		ev.Retry = p.retry
	}
	ev.Type = "message"
	if len(typ) > 0 {
		ev.Type = p.typStr
	}
	return ev, true, nil
}

// Small events are carved from shared blocks: one allocation then serves
// dozens of events, which is most of the cost of a small event. A block is
// freed when the last event carved from it is. A block is no larger than
// what is already buffered, and its rest is dropped when a read starts
// with nothing buffered (see more): the lone event of a quiet stream gets
// an allocation of its own size, and an idle stream holds no block.
const (
	blockSize = 16 << 10
	maxCarved = 1 << 10
)

// alloc returns n bytes for an event that nothing else will ever write.
func (p *Parser) alloc(n int) []byte {
	if n > maxCarved {
		return make([]byte, n)
	}
	if len(p.block) < n {
		// The buffered bytes overstate the events in them by their field
		// names and line endings: a little waste, never more than a block.
		p.block = make([]byte, min(blockSize, n+p.lines.buffered()))
	}
	b := p.block[:n:n]
	p.block = p.block[n:]
	if len(p.block) == 0 {
		p.block = nil // an empty rest would still hold the block
	}
	return b
}

// allocString returns a copy of b that nothing else will ever write.
func (p *Parser) allocString(b []byte) string {
	c := p.alloc(len(b))
	copy(c, b)
	return unsafe.String(unsafe.SliceData(c), len(c))
}

// dispatchDecoded is dispatch's path for invalid UTF-8, where the bytes
// change size as they are decoded.
func (p *Parser) dispatchDecoded(data, typ []byte, newID bool) Event {
	if newID {
		p.idStr = string(p.id)
	}
	ev := Event{Type: "message", Data: appendDecoded(nil, data), LastEventID: p.idStr}
	if len(typ) > 0 {
		ev.Type = string(appendDecoded(nil, typ))
	}
	return ev
}

// appendDecoded appends src to dst decoded as the WHATWG Encoding Standard's
// UTF-8 decoder does: each maximal subpart of an ill-formed sequence becomes
// one U+FFFD. (utf8.DecodeRune differs: it replaces one byte at a time, so
// E4 B8 41 gives two U+FFFD where the standard gives one.)
func appendDecoded(dst, src []byte) []byte {
	const replacement = "\uFFFD"
	for i := 0; i < len(src); {
		b := src[i]
		if b < utf8.RuneSelf {
			dst = append(dst, b)
			i++
			continue
		}
		need, lower, upper := 0, byte(0x80), byte(0xBF)
		// The three- and four-byte arms look alike on purpose: each is a
		// row of the Encoding Standard's UTF-8 decoder table, written out
		// so that it can be checked against the standard line by line.
		switch {
		case b >= 0xC2 && b <= 0xDF:
			need = 1
		case b >= 0xE0 && b <= 0xEF:
			need = 2
			if b == 0xE0 {
				lower = 0xA0
			} else if b == 0xED {
				upper = 0x9F
			}
		case b >= 0xF0 && b <= 0xF4:
			need = 3
			if b == 0xF0 {
				lower = 0x90
			} else if b == 0xF4 {
				upper = 0x8F
			}
		default:
			dst = append(dst, replacement...)
			i++
			continue
		}
		j := i + 1
		for ; need > 0; need-- {
			if j >= len(src) || src[j] < lower || src[j] > upper {
				break
			}
			lower, upper = 0x80, 0xBF
			j++
		}
		if need == 0 {
			dst = append(dst, src[i:j]...)
		} else {
			// The byte that broke the sequence is not consumed: it starts
			// the next one.
			dst = append(dst, replacement...)
		}
		i = j
	}
	return dst
}
