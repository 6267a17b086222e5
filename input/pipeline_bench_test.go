package input

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/benthos-sse/benthos-sse/internal/corpus"
	"github.com/benthos-sse/benthos-sse/internal/ssetest"
)

// The pipeline benchmarks run a whole Benthos stream in this process: an
// input reading a loopback server, and a drop output. They compare the sse
// input with what users write today without it, http_client in stream mode
// with the lines scanner, on the same stream in the same run.
//
//	go test -run '^$' -bench Pipeline -benchtime 5x ./input

// streamServer serves body in 32 KiB writes with a flush after each. Both
// inputs are configured to end at the end of the body (sse with
// stream_end: stop, http_client with reconnect: false).
func streamServer(b *testing.B, body []byte) *ssetest.Server {
	b.Helper()
	return ssetest.NewServer(b, func(w *ssetest.Writer, _ *http.Request, _ int) {
		for off := 0; off < len(body); off += 32 << 10 {
			if !w.WriteBytes(body[off:min(off+32<<10, len(body))]) {
				return
			}
		}
	})
}

// buildPipeline builds a stream from input YAML into consume, with logging
// off.
func buildPipeline(b *testing.B, inputYAML string, consume service.MessageBatchHandlerFunc) *service.Stream {
	b.Helper()
	sb := service.NewStreamBuilder()
	if err := sb.SetLoggerYAML("level: none"); err != nil {
		b.Fatal(err)
	}
	if err := sb.AddInputYAML(inputYAML); err != nil {
		b.Fatal(err)
	}
	if err := sb.AddBatchConsumerFunc(consume); err != nil {
		b.Fatal(err)
	}
	strm, err := sb.Build()
	if err != nil {
		b.Fatal(err)
	}
	return strm
}

// runPipeline runs input YAML into a counting consumer until the input
// ends, and returns the number of messages.
func runPipeline(b *testing.B, inputYAML string) int64 {
	b.Helper()
	var count atomic.Int64
	strm := buildPipeline(b, inputYAML, func(_ context.Context, batch service.MessageBatch) error {
		count.Add(int64(len(batch)))
		return nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := strm.Run(ctx); err != nil {
		b.Fatal(err)
	}
	return count.Load()
}

func BenchmarkPipeline(b *testing.B) {
	c, _ := corpus.Get(corpus.NameSmallJSON)
	events := len(c.Events)
	cases := []struct {
		name  string
		input func(url string) string
		// want is the number of messages one pass must produce.
		want int
	}{
		{
			name:  "sse",
			input: func(url string) string { return "sse:\n  url: " + url + "\n  stream_end: stop" },
			want:  events,
		},
		{
			name:  "sse/max_batch_size=1",
			input: func(url string) string { return "sse:\n  url: " + url + "\n  stream_end: stop\n  max_batch_size: 1" },
			want:  events,
		},
		{
			// Without stream order: an acknowledgement per event no longer
			// holds up the next read.
			name: "sse/max_batch_size=1/max_in_flight=0",
			input: func(url string) string {
				return "sse:\n  url: " + url + "\n  stream_end: stop\n  max_batch_size: 1\n  max_in_flight: 0"
			},
			want: events,
		},
		{
			// One message per line, id and blank lines included: what the
			// stream looks like without SSE semantics. drop_empty_bodies
			// must be off: with the default, every blank line (one per
			// event) makes the input report a timeout, and Benthos backs
			// off 100 ms to 1 s before the next read, which limits it to
			// a few dozen events per second.
			name: "http_client+lines",
			input: func(url string) string {
				return "http_client:\n  url: " + url + "\n  verb: GET\n  drop_empty_bodies: false\n  stream:\n    enabled: true\n    reconnect: false\n    scanner:\n      lines: {}"
			},
			want: -1,
		},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			srv := streamServer(b, c.Stream)
			b.SetBytes(int64(len(c.Stream)))
			b.ReportAllocs()
			var msgs int64
			for b.Loop() {
				msgs = runPipeline(b, tc.input(srv.URL()))
				if tc.want >= 0 && msgs != int64(tc.want) {
					b.Fatalf("got %d messages, want %d", msgs, tc.want)
				}
			}
			b.ReportMetric(float64(events)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(msgs), "msgs/pass")
		})
	}
}

// BenchmarkPipelineLatency measures the time from the server's write of an
// event to the output's receipt of it, at a steady 1,000 events/s, and
// reports the median and 99th percentile. Each event's data is the write
// time in Unix nanoseconds.
func BenchmarkPipelineLatency(b *testing.B) {
	const rate = time.Millisecond
	samples := 2000
	if s := os.Getenv("SSE_LATENCY_EVENTS"); s != "" {
		samples, _ = strconv.Atoi(s)
	}
	for b.Loop() {
		srv := ssetest.NewServer(b, func(w *ssetest.Writer, _ *http.Request, n int) {
			if n > 1 {
				w.ResponseWriter().WriteHeader(http.StatusNoContent)
				return
			}
			w.Open()
			t := time.NewTicker(rate)
			defer t.Stop()
			for i := range samples {
				<-t.C
				w.Write(fmt.Sprintf("id: %d\ndata: %d\n\n", i, time.Now().UnixNano()))
			}
		})
		var mu sync.Mutex
		lat := make([]time.Duration, 0, samples)
		strm := buildPipeline(b, "sse:\n  url: "+srv.URL(), func(_ context.Context, batch service.MessageBatch) error {
			now := time.Now()
			for _, m := range batch {
				raw, _ := m.AsBytes()
				ns, err := strconv.ParseInt(string(raw), 10, 64)
				if err != nil {
					return err
				}
				mu.Lock()
				lat = append(lat, now.Sub(time.Unix(0, ns)))
				mu.Unlock()
			}
			return nil
		})
		if err := strm.Run(context.Background()); err != nil {
			b.Fatal(err)
		}
		srv.Close()
		if len(lat) != samples {
			b.Fatalf("got %d events, want %d", len(lat), samples)
		}
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
		b.ReportMetric(float64(lat[len(lat)-1].Microseconds()), "max-µs")
	}
}

// BenchmarkPipelineBlockedOutput streams SSE_MEMORY_MIB (default 1024) MiB
// of events through the sse input into an output that blocks for the first
// two seconds and then consumes everything, and reports the peak heap and
// how much the server managed to write while the output was blocked: the
// input must stop reading the socket rather than buffer.
func BenchmarkPipelineBlockedOutput(b *testing.B) {
	mib := 1024
	if s := os.Getenv("SSE_MEMORY_MIB"); s != "" {
		mib, _ = strconv.Atoi(s)
	}
	event := []byte("data: " + fmt.Sprintf("%0990d", 0) + "\n\n") // 998 bytes
	total := int64(mib) << 20
	for b.Loop() {
		var written atomic.Int64
		srv := ssetest.NewServer(b, func(sw *ssetest.Writer, _ *http.Request, n int) {
			w := sw.ResponseWriter()
			if n > 1 {
				w.WriteHeader(http.StatusNoContent)
				return
			}
			// Unflushed writes, as fast as the connection takes them.
			w.Header().Set("Content-Type", "text/event-stream")
			chunk := make([]byte, 0, 64<<10)
			for len(chunk)+len(event) <= cap(chunk) {
				chunk = append(chunk, event...)
			}
			for written.Load() < total {
				n, err := w.Write(chunk)
				written.Add(int64(n))
				if err != nil {
					return
				}
			}
		})
		release := make(chan struct{})
		var got atomic.Int64
		strm := buildPipeline(b, "sse:\n  url: "+srv.URL(), func(_ context.Context, batch service.MessageBatch) error {
			<-release
			got.Add(int64(len(batch)))
			return nil
		})
		var peak uint64
		stop := make(chan struct{})
		sampled := make(chan struct{})
		go func() {
			defer close(sampled)
			var ms runtime.MemStats
			tickUntil(stop, 20*time.Millisecond, func() {
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapInuse)
			})
		}()
		done := make(chan error, 1)
		go func() { done <- strm.Run(context.Background()) }()
		time.Sleep(2 * time.Second) // the output is blocked meanwhile
		whileBlocked := written.Load()
		close(release)
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		close(stop)
		<-sampled
		srv.Close()
		b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
		b.ReportMetric(float64(whileBlocked)/(1<<20), "written-while-blocked-MiB")
		b.ReportMetric(float64(written.Load())/(1<<20), "streamed-MiB")
		b.ReportMetric(float64(got.Load()), "events")
	}
}

// orderSink records what the bench_sink output receives: the message count
// and how many messages carried a smaller sse_id than the one before.
var orderSink struct {
	mu            sync.Mutex
	last          int
	count, breaks int64
	batches, seen int64
}

func init() {
	// bench_sink is an output with a batching policy, so that a benchmark
	// can measure the input against an output that waits to fill batches.
	service.MustRegisterBatchOutput("bench_sink",
		service.NewConfigSpec().Field(service.NewBatchPolicyField("batching")),
		func(conf *service.ParsedConfig, _ *service.Resources) (service.BatchOutput, service.BatchPolicy, int, error) {
			pol, err := conf.FieldBatchPolicy("batching")
			return benchSink{}, pol, 1, err
		})
}

type benchSink struct{}

func (benchSink) Connect(context.Context) error { return nil }
func (benchSink) Close(context.Context) error   { return nil }
func (benchSink) WriteBatch(_ context.Context, batch service.MessageBatch) error {
	orderSink.mu.Lock()
	defer orderSink.mu.Unlock()
	orderSink.batches++
	for _, m := range batch {
		id, _ := m.MetaGet("sse_id")
		n, err := strconv.Atoi(id)
		if err != nil {
			return err
		}
		if n < orderSink.last {
			orderSink.breaks++
		}
		orderSink.last = n
		orderSink.count++
	}
	return nil
}

// BenchmarkPipelineOrder measures what stream order costs. Every case runs
// the small-json corpus through four pipeline threads with a mapping that
// parses each event's JSON, into bench_sink; it reports events/s, the order
// breaks per pass (events that arrived after a later one) and the mean
// output batch size. The unbatched cases compare max_in_flight 0 (no limit:
// batches overtake each other) with the default; the batched ones put a
// batching policy on the output (count 1000, period 50ms), which holds
// each input batch until the batch fills or the period ends, while the
// input waits for that batch's acknowledgement when max_in_flight is 1.
//
//	go test -run '^$' -bench PipelineOrder -benchtime 3x ./input
func BenchmarkPipelineOrder(b *testing.B) {
	c, _ := corpus.Get(corpus.NameSmallJSON)
	events := len(c.Events)
	const batching = "\n    batching: {count: 1000, period: 50ms}"
	cases := []struct {
		name, input, output string
	}{
		{"old defaults: max_in_flight=0/max_batch_size=64", "max_in_flight: 0\n    max_batch_size: 64", ""},
		{"max_in_flight=0", "max_in_flight: 0", ""},
		{"default", "", ""},
		{"batching/old defaults: max_in_flight=0/max_batch_size=64", "max_in_flight: 0\n    max_batch_size: 64", batching},
		{"batching/max_in_flight=0", "max_in_flight: 0", batching},
		{"batching/max_in_flight=0/max_batch_size=1024", "max_in_flight: 0\n    max_batch_size: 1024", batching},
		{"batching/default", "", batching},
		{"batching/max_batch_size=64", "max_batch_size: 64", batching},
		{"batching/max_batch_size=256", "max_batch_size: 256", batching},
		{"batching/max_batch_size=1024", "max_batch_size: 1024", batching},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			srv := streamServer(b, c.Stream)
			b.SetBytes(int64(len(c.Stream)))
			b.ReportAllocs()
			var breaks, batches int64
			for b.Loop() {
				orderSink.mu.Lock()
				orderSink.last, orderSink.count, orderSink.breaks, orderSink.batches = 0, 0, 0, 0
				orderSink.mu.Unlock()
				sb := service.NewStreamBuilder()
				err := sb.SetYAML(fmt.Sprintf(`
logger: {level: none}
input:
  sse:
    url: %s
    stream_end: stop
    %s
pipeline:
  threads: 4
  processors:
    - mapping: 'root = this'
output:
  bench_sink: {%s}
`, srv.URL(), tc.input, tc.output))
				if err != nil {
					b.Fatal(err)
				}
				strm, err := sb.Build()
				if err != nil {
					b.Fatal(err)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
				err = strm.Run(ctx)
				cancel()
				if err != nil {
					b.Fatal(err)
				}
				orderSink.mu.Lock()
				if orderSink.count != int64(events) {
					b.Fatalf("got %d messages, want %d", orderSink.count, events)
				}
				breaks, batches = orderSink.breaks, orderSink.batches
				orderSink.mu.Unlock()
			}
			b.ReportMetric(float64(events)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(breaks), "breaks/pass")
			b.ReportMetric(float64(events)/float64(batches), "events/out-batch")
		})
	}
}
