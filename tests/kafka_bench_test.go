package tests

// SSE -> Kafka through the binary, the broker in another process
// (tests/kafkabroker, in memory), no checkpoint:
//
//	go test -run '^$' -bench Kafka -benchtime 1x ./tests/
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
var kafkaBenchConfigs = []struct{ name, input, output string }{
	{name: "defaults"},
	{name: "kafka.yaml", input: "max_batch_size: 256\n    max_in_flight: 1", output: "max_in_flight: 1"},
	{name: "tuned", input: "max_batch_size: 1024", output: "max_in_flight: 64\n    compression: lz4"},
}

func BenchmarkKafka(b *testing.B) {
	for _, c := range kafkaBenchConfigs {
		for _, mode := range []string{"throughput", "latency"} {
			b.Run(c.name+"/"+mode, func(b *testing.B) {
				b.ReportAllocs()
				var rate float64
				var lat []time.Duration
				for range b.N {
					r, l := runKafkaBench(b, c.input, c.output, mode == "latency")
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
func runKafkaBench(b *testing.B, inputExtra, outputExtra string, paced bool) (float64, []time.Duration) {
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
`, srv.Addr(), inputExtra, broker.addr, topic, outputExtra))

	// The consumer, started first so that it is fetching when records come.
	cl, err := kgo.NewClient(kgo.SeedBrokers(broker.addr), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
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
