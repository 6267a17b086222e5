package sse

import (
	"bytes"
	"fmt"
	"io"
	"path/filepath"
	"testing"
	"testing/iotest"
	"time"

	"github.com/benthos-sse/benthos-sse/internal/corpus"
)

// loadConformance reads testdata/conformance.json, failing tb if it cannot.
func loadConformance(tb testing.TB) []corpus.Case {
	tb.Helper()
	cases, err := corpus.LoadConformance(filepath.Join("testdata", "conformance.json"))
	if err != nil {
		tb.Fatalf("loading the corpus: %v", err)
	}
	return cases
}

// splitReader returns each of its pieces from separate Read calls, so a test
// controls exactly where one read ends and the next begins.
type splitReader struct {
	pieces [][]byte
}

func (r *splitReader) Read(p []byte) (int, error) {
	for len(r.pieces) > 0 && len(r.pieces[0]) == 0 {
		r.pieces = r.pieces[1:]
	}
	if len(r.pieces) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.pieces[0])
	r.pieces[0] = r.pieces[0][n:]
	return n, nil
}

// readPattern builds the reader a parser reads a stream from.
type readPattern struct {
	name string
	make func(in []byte) io.Reader
}

// readPatterns returns the ways every case is read: whole, byte by byte,
// halved, with io.EOF on the last data, and split in two at every byte
// boundary, so each CR, LF, CRLF, BOM and multi-byte sequence lands across
// two reads at least once.
func readPatterns(in []byte) []readPattern {
	pats := []readPattern{
		{"whole", func(in []byte) io.Reader { return bytes.NewReader(in) }},
		{"OneByteReader", func(in []byte) io.Reader { return iotest.OneByteReader(bytes.NewReader(in)) }},
		{"HalfReader", func(in []byte) io.Reader { return iotest.HalfReader(bytes.NewReader(in)) }},
		{"DataErrReader", func(in []byte) io.Reader { return iotest.DataErrReader(bytes.NewReader(in)) }},
	}
	for i := 1; i < len(in); i++ {
		pats = append(pats, readPattern{
			name: fmt.Sprintf("split@%d", i),
			make: func(in []byte) io.Reader {
				return &splitReader{pieces: [][]byte{bytes.Clone(in[:i]), bytes.Clone(in[i:])}}
			},
		})
	}
	return pats
}

// parseAll reads every event of r until io.EOF. Conformance streams hold no
// oversized event, so any other error fails the test.
func parseAll(t *testing.T, r io.Reader, limit int) (*Parser, []Event) {
	t.Helper()
	p := NewParser(r, ParserOptions{})
	var evs []Event
	eachEvent(t, p, limit, func(ev Event) { evs = append(evs, ev) })
	return p, evs
}

func TestConformance(t *testing.T) {
	for _, tc := range loadConformance(t) {
		t.Run(tc.Name, func(t *testing.T) {
			t.Parallel()
			for _, pat := range readPatterns(tc.Input) {
				p, evs := parseAll(t, pat.make(tc.Input), len(tc.Input)+1)
				if len(evs) != len(tc.Events) {
					t.Fatalf("%s: got %d events %s, want %d", pat.name, len(evs), fmtEvents(evs), len(tc.Events))
				}
				for i, want := range tc.Events {
					got := evs[i]
					if got.Type != want.Type || string(got.Data) != want.Data || got.LastEventID != want.ID {
						t.Fatalf("%s: event %d: got {type %q, data %q, id %q}, want {type %q, data %q, id %q}",
							pat.name, i, got.Type, got.Data, got.LastEventID, want.Type, want.Data, want.ID)
					}
				}
				if got := p.LastEventID(); got != tc.LastEventID {
					t.Fatalf("%s: LastEventID() = %q, want %q", pat.name, got, tc.LastEventID)
				}
				d, ok := p.Retry()
				switch {
				case tc.RetryMS == nil && ok:
					t.Fatalf("%s: Retry() = %v, true; want no retry", pat.name, d)
				case tc.RetryMS != nil && !ok:
					t.Fatalf("%s: Retry() not set; want %dms", pat.name, *tc.RetryMS)
				case tc.RetryMS != nil && d != time.Duration(*tc.RetryMS)*time.Millisecond:
					t.Fatalf("%s: Retry() = %v, want %dms", pat.name, d, *tc.RetryMS)
				}
			}
		})
	}
}

func fmtEvents(evs []Event) string {
	var b bytes.Buffer
	b.WriteByte('[')
	for i, ev := range evs {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "{%q %q %q}", ev.Type, ev.Data, ev.LastEventID)
	}
	b.WriteByte(']')
	return b.String()
}

func TestConformanceCorpus(t *testing.T) {
	cases := loadConformance(t)
	if len(cases) < 60 {
		t.Fatalf("corpus has %d cases, want at least 60", len(cases))
	}
	known := make(map[string]bool)
	for _, r := range corpus.ConformanceRules {
		known[r] = true
	}
	seen := make(map[string]int)
	names := make(map[string]bool)
	for _, c := range cases {
		if c.Name == "" {
			t.Fatalf("case with empty name (rule %q)", c.Rule)
		}
		if names[c.Name] {
			t.Fatalf("duplicate case name %q", c.Name)
		}
		names[c.Name] = true
		if !known[c.Rule] {
			t.Fatalf("case %q: unknown rule tag %q", c.Name, c.Rule)
		}
		seen[c.Rule]++
	}
	for _, r := range corpus.ConformanceRules {
		if seen[r] == 0 {
			t.Fatalf("no case for rule %q", r)
		}
	}
}
