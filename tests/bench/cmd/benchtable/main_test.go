package main

import (
	"bytes"
	"strings"
	"testing"
)

const sample = `goos: linux
goarch: amd64
pkg: github.com/benthos-sse/benthos-sse/tests/bench
cpu: Test CPU
BenchmarkParser/small-json/benthos-sse-2   100  1000 ns/op  900.00 MB/s  1.000 allocs/event  5000000 events/s  10 B/op  1 allocs/op
BenchmarkParser/small-json/benthos-sse-2   100  1000 ns/op  1000.00 MB/s  1.000 allocs/event  5000000 events/s  10 B/op  1 allocs/op
BenchmarkParser/small-json/benthos-sse-2   100  1000 ns/op  100.00 MB/s  1.000 allocs/event  5000000 events/s  10 B/op  1 allocs/op
BenchmarkParser/small-json/go-sse-2        100  1000 ns/op  400.00 MB/s  2.000 allocs/event  3000000 events/s  10 B/op  2 allocs/op
BenchmarkParser/small-json/r3labs-2        100  1000 ns/op  450.00 MB/s  6.000 allocs/event  300000 events/s  10 B/op  6 allocs/op
BenchmarkParser/small-json/bufio-2         100  1000 ns/op  4000.00 MB/s  0.0000610 allocs/event  30000000 events/s  10 B/op  0 allocs/op
BenchmarkParser/small-json/bufio+alloc-2   100  1000 ns/op  2000.00 MB/s  1.000 allocs/event  1000000 events/s  10 B/op  1 allocs/op
BenchmarkParser/large/benthos-sse-2        100  1000 ns/op  3000.00 MB/s  1.156 allocs/event  50000 events/s  10 B/op  1 allocs/op
BenchmarkParser/large/go-sse-2             100  1000 ns/op  500.00 MB/s  3.000 allocs/event  7000 events/s  10 B/op  1 allocs/op
BenchmarkParser/large/bufio-2              100  1000 ns/op  9000.00 MB/s  0.06 allocs/event  150000 events/s  10 B/op  1 allocs/op
BenchmarkClient/llm/benthos-sse-2          100  1000 ns/op  500.00 MB/s  1.02 allocs/event  2200000 events/s  10 B/op  1 allocs/op
BenchmarkClient/llm/go-sse-2               100  1000 ns/op  300.00 MB/s  2.02 allocs/event  1000000 events/s  10 B/op  1 allocs/op
PASS
ok  	github.com/benthos-sse/benthos-sse/tests/bench	10.0s
`

func TestRender(t *testing.T) {
	res, err := parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := render(&out, res, "benthos-sse", "bufio", []string{"bufio+alloc"}); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{
		"cpu: Test CPU",
		"### Parser: MB/s, allocs/event (median of 3)",
		"| library | small-json | large |",
		"| **benthos-sse** | 900, 1.00 | 3000, 1.16 |", // the median, not the mean
		"| bufio (bound) | 4000, 0 | 9000, 0.06 |",
		"| benthos-sse ÷ fastest peer | 2.00× (r3labs) | 6.00× (go-sse) |",
		"| bufio ÷ benthos-sse | 4.44× | 3.00× |",
		"| bufio+alloc (floor) | 2000, 1.00 | – |",
		"| bufio ÷ bufio+alloc | 2.00× | – |",
		"| **benthos-sse** | 2.20M, 1.02 |",
		"| benthos-sse ÷ fastest peer | 2.20× (go-sse) |",
		"- parser MB/s >= 2x the fastest peer on every corpus: **met**",
		"- parser within 3x of the bufio bound: **missed** (small-json 4.44×)",
		"- parser <= 1 alloc/event (per-stream setup included): **missed** (large 1.16)",
		"- client events/s >= 2x the fastest peer client: **met**",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q; got:\n%s", want, got)
		}
	}
}

func TestParse_NoBenchmarks(t *testing.T) {
	if _, err := parse(strings.NewReader("PASS\nok x 1s\n")); err == nil {
		t.Fatal("got no error for input without benchmark lines")
	}
}
