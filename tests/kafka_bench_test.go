package tests

// SSE -> Kafka through the binary, the broker in another process
// (tests/kafkabroker, in memory); BenchmarkKafka without a checkpoint,
// BenchmarkKafkaExactlyOnce also transactional:
//
//	go test -run '^$' -bench 'Kafka$' -benchtime 1x ./tests/
//	go test -run '^$' -bench KafkaExactlyOnce -benchtime 1x ./tests/
//
// throughput: the server writes the events as fast as the pipeline takes
// them; events/s is from the first event written to the last record
// readable in Kafka. latency: 2,000 events/s; the time from the server's
// write of an event to a consumer's fetch of its record. The allocations
// reported are the harness's, not the binary's.

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/benthos-sse/benthos-sse/internal/ssetest"
)

// kafkaBenchConfigs are the settings compared: the components' defaults,
// resources/kafka.yaml's (one batch in flight on each side: stream order
// even across replays), and tuned for throughput.
var kafkaBenchConfigs = []kafkaBenchConfig{
	{name: "defaults"},
	{name: "kafka.yaml", input: "max_batch_size: 256\n    max_in_flight: 1", output: "max_in_flight: 1"},
	{name: "tuned", input: "max_batch_size: 1024", output: "max_in_flight: 64\n    compression: lz4"},
}

// kafkaBenchConfig is one set of settings: YAML lines for the sse input and
// the kafka_franz output, and whether the pipeline is exactly once (then
// the input resumes through a kafka_offsets cache, the output commits a
// transaction per batch, and the consumer reads committed records only).
type kafkaBenchConfig struct {
	name, input, output string
	exactlyOnce         bool
}

// kafkaEOSBenchConfigs compare exactly once with at least once on the same
// stream, in the same run: resources/kafka.yaml's settings, then each mode
// with the input's default batch (1024, resources/kafka_exactly_once.yaml's)
// and a tuned one. Every config has one batch in flight on each side, as
// exactly once requires.
//
//	go test -run '^$' -bench KafkaExactlyOnce -benchtime 1x ./tests/
var kafkaEOSBenchConfigs = []kafkaBenchConfig{
	{name: "at-least-once/kafka.yaml", input: "max_batch_size: 256\n    max_in_flight: 1", output: "max_in_flight: 1"},
	{name: "exactly-once/batch-256", input: "max_batch_size: 256\n    max_in_flight: 1", output: "max_in_flight: 1", exactlyOnce: true},
	{name: "at-least-once/batch-1024", input: "max_batch_size: 1024\n    max_in_flight: 1", output: "max_in_flight: 1"},
	{name: "exactly-once/batch-1024", input: "max_batch_size: 1024\n    max_in_flight: 1", output: "max_in_flight: 1", exactlyOnce: true},
	{name: "at-least-once/batch-8192", input: "max_batch_size: 8192\n    max_in_flight: 1", output: "max_in_flight: 1\n    compression: lz4"},
	{name: "exactly-once/batch-8192", input: "max_batch_size: 8192\n    max_in_flight: 1", output: "max_in_flight: 1\n    compression: lz4", exactlyOnce: true},
}

func BenchmarkKafka(b *testing.B) { benchmarkKafka(b, kafkaBenchConfigs) }

func BenchmarkKafkaExactlyOnce(b *testing.B) { benchmarkKafka(b, kafkaEOSBenchConfigs) }

func benchmarkKafka(b *testing.B, configs []kafkaBenchConfig) {
	for _, c := range configs {
		for _, mode := range []string{"throughput", "latency"} {
			b.Run(c.name+"/"+mode, func(b *testing.B) {
				b.ReportAllocs()
				var rate float64
				var lat []time.Duration
				for range b.N {
					r, l := runKafkaBench(b, c, mode == "latency")
					rate += r
					lat = append(lat, l...)
				}
				slices.Sort(lat)
				if mode == "throughput" {
					b.ReportMetric(rate/float64(b.N), "events/s")
				} else {
					b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
					b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
					b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
				}
				b.ReportMetric(0, "ns/op")
			})
		}
	}
}

// runKafkaBench runs one stream through the binary and returns its rate
// and, when paced, every event's latency.
func runKafkaBench(b *testing.B, c kafkaBenchConfig, paced bool) (float64, []time.Duration) {
	b.Helper()
	n := 200000
	if paced {
		n = 10000
	}
	const topic = "bench"
	broker := startMemoryKafkaBroker(b, topic)

	// The server: event i carries its write time; after the last event a
	// request resuming after it gets 204, which ends the pipeline.
	var firstWrite atomic.Int64
	pad := strings.Repeat("x", 64)
	srv := ssetest.NewServer(b, func(w *ssetest.Writer, r *http.Request, _ int) {
		if r.Header.Get("Last-Event-ID") != "" {
			w.ResponseWriter().WriteHeader(http.StatusNoContent)
			return
		}
		var sb strings.Builder
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		per := 256
		if paced {
			per = 10 // every 5ms: 2,000 events/s
		}
		firstWrite.CompareAndSwap(0, time.Now().UnixNano())
		for i := 1; i <= n; {
			sb.Reset()
			now := time.Now().UnixNano()
			for end := min(i+per, n+1); i < end; i++ {
				fmt.Fprintf(&sb, "id: %d\ndata: {\"n\":%d,\"t\":%d,\"pad\":%q}\n\n", i, i, now, pad)
			}
			if !w.Write(sb.String()) {
				return
			}
			if paced {
				select {
				case <-tick.C:
				case <-r.Context().Done():
					return
				}
			}
		}
	})
	defer srv.Close()

	inputExtra, outputExtra, resources := c.input, c.output, ""
	isolation := kgo.ReadUncommitted()
	if c.exactlyOnce {
		inputExtra += "\n    checkpoint: {cache: offsets, key: bench}"
		outputExtra += "\n    transactional_id: bench\n    offsets_topic: offsets"
		resources = fmt.Sprintf("cache_resources:\n  - label: offsets\n    kafka_offsets: {seed_brokers: [ %q ], topic: offsets}\n", broker.addr)
		isolation = kgo.ReadCommitted()
	}
	config := writeConfigFile(b, "", "bench.yaml", fmt.Sprintf(`
http: {enabled: false}
logger: {level: warn}
input:
  sse:
    url: http://%s/events
    reconnect: {initial_interval: 100ms}
    %s
output:
  kafka_franz:
    seed_brokers: [ %q ]
    topic: %s
    key: ${! @sse_id }
    metadata: {include_prefixes: [ sse_ ]}
    %s
%s`, srv.Addr(), inputExtra, broker.addr, topic, outputExtra, resources))

	// The consumer, started first so that it is fetching when records come.
	cl, err := kgo.NewClient(kgo.SeedBrokers(broker.addr), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond),
		kgo.FetchIsolationLevel(isolation))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	bin := startBin(b, binOpts{}, "run", config)
	defer bin.Kill()

	var lat []time.Duration
	got := 0
	var lastAt time.Time
	for got < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			b.Fatalf("%d of %d records within the time limit; binary output:\n%s", got, n, bin.Output())
		}
		at := time.Now()
		fs.EachRecord(func(r *kgo.Record) {
			got++
			if paced {
				// {"n":N,"t":T,...}
				v := string(r.Value)
				i := strings.Index(v, `"t":`) + 4
				j := strings.IndexByte(v[i:], ',')
				t, err := strconv.ParseInt(v[i:i+j], 10, 64)
				if err == nil {
					lat = append(lat, at.Sub(time.Unix(0, t)))
				}
			}
		})
		lastAt = at
	}
	if got != n {
		b.Fatalf("%d records, want %d", got, n)
	}
	rate := float64(n) / lastAt.Sub(time.Unix(0, firstWrite.Load())).Seconds()
	return rate, lat
}
