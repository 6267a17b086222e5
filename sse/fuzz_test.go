package sse

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"
	"unicode/utf8"
)

// fuzzMaxEventSize is small so that fuzz inputs reach the size bound.
const fuzzMaxEventSize = 256

// fuzzStep is one result of Parser.Next: an event, or an error other than
// io.EOF.
type fuzzStep struct {
	ev  Event
	err error
}

// fuzzResult is everything a parser produced from one stream.
type fuzzResult struct {
	steps []fuzzStep
	id    string
	retry time.Duration
	ok    bool
}

// fuzzParse reads r to its end with the given bound and checks the invariants
// that hold for every event: size within max, valid UTF-8, no NUL in an id.
func fuzzParse(t *testing.T, r io.Reader, max, limit int) fuzzResult {
	t.Helper()
	p := NewParser(r, ParserOptions{MaxEventSize: max})
	if max <= 0 {
		max = DefaultMaxEventSize
	}
	var res fuzzResult
	for {
		ev, err := p.Next()
		if err == io.EOF {
			break
		}
		res.steps = append(res.steps, fuzzStep{ev, err})
		if len(res.steps) > limit {
			t.Fatalf("more than %d results from Next; parser not making progress?", limit)
		}
		if err != nil {
			if errors.Is(err, ErrEventTooLarge) {
				continue // recoverable
			}
			break
		}
		if n := len(ev.Data) + len(ev.LastEventID) + len(ev.Type); n > max {
			t.Fatalf("event of %d bytes (type %d, data %d, id %d) exceeds MaxEventSize %d",
				n, len(ev.Type), len(ev.Data), len(ev.LastEventID), max)
		}
		if !utf8.Valid(ev.Data) || !utf8.ValidString(ev.Type) || !utf8.ValidString(ev.LastEventID) {
			t.Fatalf("invalid UTF-8 in event {type %q, data %q, id %q}", ev.Type, ev.Data, ev.LastEventID)
		}
		if ev.Type == "" {
			t.Fatalf("event with empty type (data %q)", ev.Data)
		}
		if strings.IndexByte(ev.LastEventID, 0) >= 0 {
			t.Fatalf("event id %q contains NUL", ev.LastEventID)
		}
	}
	res.id = p.LastEventID()
	res.retry, res.ok = p.Retry()
	if !utf8.ValidString(res.id) || strings.IndexByte(res.id, 0) >= 0 {
		t.Fatalf("LastEventID() = %q: invalid UTF-8 or contains NUL", res.id)
	}
	return res
}

// sameErr reports whether two Next errors are the same outcome.
func sameErr(a, b error) bool {
	switch {
	case a == nil || b == nil:
		return a == b
	case errors.Is(a, ErrEventTooLarge) || errors.Is(b, ErrEventTooLarge):
		return errors.Is(a, ErrEventTooLarge) && errors.Is(b, ErrEventTooLarge)
	default:
		return a.Error() == b.Error()
	}
}

// checkSame fails unless got equals want, the reference run; how names the
// two runs in failure messages.
func checkSame(t *testing.T, how string, got, want fuzzResult) {
	t.Helper()
	if len(got.steps) != len(want.steps) {
		t.Fatalf("%s: %d results, reference gave %d", how, len(got.steps), len(want.steps))
	}
	for i, g := range got.steps {
		w := want.steps[i]
		if !sameErr(g.err, w.err) {
			t.Fatalf("%s: result %d: error %v, reference gave %v", how, i, g.err, w.err)
		}
		if g.ev.Type != w.ev.Type || !bytes.Equal(g.ev.Data, w.ev.Data) || g.ev.LastEventID != w.ev.LastEventID {
			t.Fatalf("%s: result %d: event {%q %q %q}, reference gave {%q %q %q}", how, i,
				g.ev.Type, g.ev.Data, g.ev.LastEventID, w.ev.Type, w.ev.Data, w.ev.LastEventID)
		}
	}
	if got.id != want.id {
		t.Fatalf("%s: LastEventID() = %q, reference gave %q", how, got.id, want.id)
	}
	if got.retry != want.retry || got.ok != want.ok {
		t.Fatalf("%s: Retry() = %v, %v; reference gave %v, %v", how, got.retry, got.ok, want.retry, want.ok)
	}
}

func FuzzParse(f *testing.F) {
	for _, c := range loadConformance(f) {
		f.Add(c.Input)
	}
	long := strings.Repeat("x", fuzzMaxEventSize)
	f.Add([]byte("data: " + long + "\n\ndata: ok\n\n"))
	f.Add([]byte("id: " + long + "\ndata: a\n\ndata: b\n\n"))
	f.Add([]byte("event: " + long[:200] + "\nid: " + long[:50] + "\ndata: " + long[:10] + "\n\n"))
	f.Add([]byte(": " + long + long + "\ndata: a\n\n"))
	f.Add([]byte("data: " + long[:200] + "\r\ndata: " + long[:200] + "\r\n\r\nretry: 10\r\r"))

	f.Fuzz(func(t *testing.T, in []byte) {
		limit := 2*len(in) + 2

		small := fuzzParse(t, bytes.NewReader(in), fuzzMaxEventSize, limit)
		checkSame(t, "OneByteReader, MaxEventSize 256",
			fuzzParse(t, iotest.OneByteReader(bytes.NewReader(in)), fuzzMaxEventSize, limit), small)
		mid := len(in) / 2
		checkSame(t, "split at middle, MaxEventSize 256",
			fuzzParse(t, &splitReader{pieces: [][]byte{in[:mid:mid], in[mid:]}}, fuzzMaxEventSize, limit), small)

		def := fuzzParse(t, bytes.NewReader(in), 0, limit)
		checkSame(t, "OneByteReader, default MaxEventSize",
			fuzzParse(t, iotest.OneByteReader(bytes.NewReader(in)), 0, limit), def)

		// An event is at most the input three times over (data, type and
		// id), so a short input never reaches the default bound.
		if 3*len(in) < DefaultMaxEventSize {
			for i, s := range def.steps {
				if s.err != nil {
					t.Fatalf("default MaxEventSize: result %d: unexpected error %v", i, s.err)
				}
			}
		}
		// If the small bound never triggered, it changed nothing. A line
		// over the bound triggers it even when its event is never
		// dispatched (it is then dropped with the unterminated event, and
		// no error is due), so such inputs are excluded too.
		tooLarge := hasLongLine(in, fuzzMaxEventSize)
		for _, s := range small.steps {
			tooLarge = tooLarge || s.err != nil
		}
		if !tooLarge {
			checkSame(t, "MaxEventSize 256 (bound never reached) vs default", small, def)
		}
	})
}

// hasLongLine reports whether in has a line longer than n bytes.
func hasLongLine(in []byte, n int) bool {
	for _, line := range bytes.FieldsFunc(in, func(r rune) bool { return r == '\n' || r == '\r' }) {
		if len(line) > n {
			return true
		}
	}
	return false
}
