package input

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/benthos-sse/benthos-sse/internal/corpus"
)

// BenchmarkInput reads the small-JSON corpus through the registered sse
// input, as Benthos builds it for a pipeline (the input wrapped in Benthos'
// reader), but without the rest of a pipeline: each batch is acknowledged
// as soon as it is read. It reports what each event costs the input itself,
// allocations included, from a file (from) and over loopback HTTP (url),
// and with a resume cursor taken from every event.
//
//	go test -run '^$' -bench 'BenchmarkInput$' -benchmem ./input
func BenchmarkInput(b *testing.B) {
	c, _ := corpus.Get(corpus.NameSmallJSON)
	path := filepath.Join(b.TempDir(), "stream.sse")
	if err := os.WriteFile(path, c.Stream, 0o644); err != nil {
		b.Fatal(err)
	}
	cases := []struct {
		name  string
		input func(url string) string
	}{
		{"from", func(string) string { return "sse:\n  from: " + path }},
		{"from/max_batch_size=1", func(string) string { return "sse:\n  from: " + path + "\n  max_batch_size: 1" }},
		{"url", func(url string) string { return "sse:\n  url: " + url + "\n  stream_end: stop" }},
		// The cost of resume.cursor: a Bloblang mapping over every event.
		{"from/resume.cursor", func(string) string { return "sse:\n  from: " + path + "\n  resume: {cursor: this.seq}" }},
	}
	spec := service.NewConfigSpec().Field(service.NewInputField("input"))
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			srv := streamServer(b, c.Stream)
			yaml := "input:\n  " + indent(tc.input(srv.URL()))
			b.SetBytes(int64(len(c.Stream)))
			b.ReportAllocs()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			events := 0
			for b.Loop() {
				n, err := readAll(spec, yaml)
				if err != nil {
					b.Fatal(err)
				}
				if n != len(c.Events) {
					b.Fatalf("got %d events, want %d", n, len(c.Events))
				}
				events += n
			}
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(events), "allocs/event")
		})
	}
}

// readAll builds the input from yaml, reads it to its end, acknowledging
// every batch, and returns the number of messages.
func readAll(spec *service.ConfigSpec, yaml string) (int, error) {
	conf, err := spec.ParseYAML(yaml, nil)
	if err != nil {
		return 0, err
	}
	in, err := conf.FieldInput("input")
	if err != nil {
		return 0, err
	}
	ctx := context.Background()
	defer in.Close(ctx)
	n := 0
	for {
		batch, ack, err := in.ReadBatch(ctx)
		if errors.Is(err, service.ErrEndOfInput) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		n += len(batch)
		if err := ack(ctx, nil); err != nil {
			return n, err
		}
	}
}

// indent indents every line of s after the first by two more spaces.
func indent(s string) string {
	out := make([]byte, 0, len(s)+16)
	for i := 0; i < len(s); i++ {
		out = append(out, s[i])
		if s[i] == '\n' {
			out = append(out, ' ', ' ')
		}
	}
	return string(out)
}
