package tests

// End to end through the binary and resources/kafka.yaml: an SSE server
// with Last-Event-ID replay -> `sse` input with its checkpoint in a real
// Redis -> `kafka_franz` -> a Kafka broker in another process
// (tests/kafkabroker, franz-go's kfake), read back with a franz-go consumer.

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/benthos-sse/benthos-sse/internal/redistest"
)

// kafkaBrokerBin builds tests/kafkabroker once, next to the binary.
var kafkaBrokerBin = sync.OnceValues(func() (string, error) {
	path := filepath.Join(filepath.Dir(binPath), "kafkabroker")
	build := exec.Command("go", "build", "-o", path, "./tests/kafkabroker")
	build.Dir = repoRoot
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building tests/kafkabroker: %v\n%s", err, out)
	}
	return path, nil
})

// kafkaBroker is a tests/kafkabroker process whose state is kept in a
// directory with every acknowledged produce synced to disk, so that it can
// be SIGKILLed and started again on the same address without losing what it
// acknowledged.
type kafkaBroker struct {
	t       *testing.T
	addr    string
	dataDir string
	cmd     *exec.Cmd
	done    chan struct{}
	log     *syncBuffer
}

func startKafkaBroker(t *testing.T, topic string) *kafkaBroker {
	t.Helper()
	b := &kafkaBroker{t: t, addr: "127.0.0.1:0", dataDir: t.TempDir()}
	b.start(topic)
	t.Cleanup(b.Kill)
	return b
}

func (b *kafkaBroker) start(topic string) {
	b.t.Helper()
	bin, err := kafkaBrokerBin()
	require.NoError(b.t, err)
	b.log, b.done = &syncBuffer{}, make(chan struct{})
	b.cmd = exec.Command(bin, "-addr", b.addr, "-data-dir", b.dataDir, "-sync", "-topics", topic)
	b.cmd.Stderr = b.log
	stdout, err := b.cmd.StdoutPipe()
	require.NoError(b.t, err)
	require.NoError(b.t, b.cmd.Start())
	// The first line is "kafkabroker listening on ADDR"; then the output
	// is drained until the broker exits.
	first := make(chan string, 1)
	go func() {
		rd := bufio.NewReader(stdout)
		line, _ := rd.ReadString('\n')
		first <- line
		_, _ = io.Copy(io.Discard, rd)
		_ = b.cmd.Wait()
		close(b.done)
	}()
	var line string
	select {
	case line = <-first:
	case <-time.After(waitLimit):
		b.t.Fatalf("kafkabroker did not start within %v: %s", waitLimit, b.log.String())
	}
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "kafkabroker listening on ")
	require.True(b.t, ok, "kafkabroker said %q: %s", line, b.log.String())
	b.addr = addr
}

// Kill SIGKILLs the broker and waits for it to exit.
func (b *kafkaBroker) Kill() {
	if b.cmd == nil {
		return
	}
	_ = b.cmd.Process.Kill()
	<-b.done
	b.cmd = nil
}

// Restart starts a killed broker again on the same address and data.
func (b *kafkaBroker) Restart(topic string) {
	b.t.Helper()
	b.start(topic)
}

// readTopic reads every record of topic (one partition), in offset order.
func readTopic(t *testing.T, brokers, topic string) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	require.NoError(t, err)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	require.NoError(t, err)
	var want int64
	ends.Each(func(o kadm.ListedOffset) {
		require.NoError(t, o.Err)
		want += o.Offset
	})
	var recs []*kgo.Record
	for int64(len(recs)) < want {
		fs := cl.PollFetches(ctx)
		require.NoError(t, ctx.Err(), "read %d of %d records of %s", len(recs), want, topic)
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", topic, p, err) })
		recs = append(recs, fs.Records()...)
	}
	return recs
}

// recordNumbers returns the event numbers of the records (value = data =
// the event id), checking that each carries its id in the key and the
// sse_id header and its type in sse_event.
func recordNumbers(t *testing.T, recs []*kgo.Record) []int {
	t.Helper()
	out := make([]int, len(recs))
	for i, r := range recs {
		n, err := strconv.Atoi(string(r.Value))
		require.NoError(t, err, "record %d: value %q", i, r.Value)
		h := map[string]string{}
		for _, kv := range r.Headers {
			h[kv.Key] = string(kv.Value)
		}
		require.Equal(t, map[string]string{"sse_id": string(r.Value), "sse_event": "message"}, h, "record %d headers", i)
		require.Equal(t, string(r.Value), string(r.Key), "record %d key", i)
		out[i] = n
	}
	return out
}

// kafkaPipeline is resources/kafka.yaml wired to the test's servers.
type kafkaPipeline struct {
	t      *testing.T
	config string
	env    []string
	http   string
}

func newKafkaPipeline(t *testing.T, srv *numberedServer, broker *kafkaBroker, redis *redistest.Server, topic string) *kafkaPipeline {
	p := &kafkaPipeline{t: t, config: filepath.Join(repoRoot, "resources", "kafka.yaml"), http: freePort(t)}
	p.env = append(p.env,
		"SSE_URL="+srv.URL()+"/events",
		"KAFKA_BROKERS="+broker.addr,
		"KAFKA_TOPIC="+topic,
		"REDIS_URL="+redis.URL(),
		"CHECKPOINT_KEY="+topic,
		"HTTP_ADDRESS="+p.http,
		"LOG_LEVEL=info",
	)
	return p
}

// start runs the binary on the config from dir.
func (p *kafkaPipeline) start(dir string) *binProc {
	p.t.Helper()
	return startBin(p.t, binOpts{Dir: dir, Env: p.env}, "run", p.config)
}

// redisCheckpoint returns the checkpoint resources/kafka.yaml keeps in
// Redis (0: none).
func redisCheckpoint(t *testing.T, redis *redistest.Server, topic string) int {
	t.Helper()
	id, ok := readRedisCheckpoint(t, redis, "benthos-sse:", topic)
	if !ok {
		return 0
	}
	n, err := strconv.Atoi(id)
	require.NoError(t, err)
	return n
}

var eventsReceivedRe = regexp.MustCompile(`(?m)^sse_events_received(\{[^}]*\})? ([0-9.e+]+)$`)

// scrapeEventsReceived reads sse_events_received from the Prometheus
// /metrics endpoint of a running binary.
func scrapeEventsReceived(t *testing.T, addr string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
	m := eventsReceivedRe.FindSubmatch(body)
	require.NotNil(t, m, "no sse_events_received in /metrics:\n%s", body)
	v, err := strconv.ParseFloat(string(m[2]), 64)
	require.NoError(t, err)
	return v
}

// TestKafka_CrashRestartFailover runs resources/kafka.yaml on a stream of
// 20,000 events. The binary is SIGKILLed at ten seeded random points and
// started again each time, alternately from two working directories, as
// instance A and instance B on two machines sharing Redis; the last run
// reads to the end of the stream. Every run asks the server to resume after
// exactly the checkpoint the previous one left in Redis; Kafka holds every
// event with its sse_id header; and the duplicates are exactly the events
// that a killed run had written to Kafka but not yet checkpointed.
func TestKafka_CrashRestartFailover(t *testing.T) {
	t.Parallel()
	const (
		last   = 20000
		rounds = 10
		seed   = 20261201
		topic  = "crash"
	)
	rng := rand.New(rand.NewPCG(seed, 0))
	redis := redistest.Start(t)
	broker := startKafkaBroker(t, topic)
	srv := newNumberedServer(t, last, 20, 2*time.Millisecond) // 10,000 events/s
	p := newKafkaPipeline(t, srv, broker, redis, topic)
	dirs := []string{t.TempDir(), t.TempDir()}
	start := time.Now()

	type round struct{ killAt, records, kafkaMax, ckpt int }
	var stats []round
	resume := 0
	var metricsSeen float64
	for r := range rounds + 1 {
		before := len(srv.Requests())
		killAt := 0
		if r < rounds {
			killAt = resume + 500 + rng.IntN(1500)
			srv.killAt.Store(int64(killAt))
		} else {
			srv.killAt.Store(0)
		}
		proc := p.start(dirs[r%2])
		reqs := srv.WaitRequests(before + 1)
		want := "-"
		if resume > 0 {
			want = strconv.Itoa(resume)
		}
		require.Equal(t, want, lastEventIDs(reqs[before : before+1])[0],
			"run %d (directory %d) resumes at the checkpoint in Redis", r+1, r%2)
		if r == rounds {
			require.Equal(t, 0, proc.Wait(2*waitLimit), "the last run ends with the stream:\n%s", proc.Output())
			break
		}
		select {
		case <-srv.reached:
		case <-proc.done:
			t.Fatalf("run %d exited before event %d:\n%s", r+1, killAt, proc.Output())
		case <-time.After(waitLimit):
			t.Fatalf("run %d: event %d was never sent:\n%s", r+1, killAt, proc.Output())
		}
		if r == 0 {
			metricsSeen = scrapeEventsReceived(t, p.http)
		}
		require.Equal(t, -1, proc.Signal(syscall.SIGKILL))
		ckpt := redisCheckpoint(t, redis, topic)
		require.GreaterOrEqual(t, ckpt, resume, "the checkpoint went back")
		nums := recordNumbers(t, readTopic(t, broker.addr, topic))
		kafkaMax := 0
		for _, n := range nums {
			kafkaMax = max(kafkaMax, n)
		}
		require.LessOrEqual(t, ckpt, kafkaMax, "the checkpoint passed what Kafka holds")
		stats = append(stats, round{killAt, len(nums), kafkaMax, ckpt})
		resume = ckpt
	}
	elapsed := time.Since(start)
	assert.Greater(t, metricsSeen, 0.0, "sse_events_received on the Prometheus /metrics during run 1")

	nums := recordNumbers(t, readTopic(t, broker.addr, topic))
	// One partition and one batch in flight on each side: each run's
	// records follow the previous run's in the topic, in stream order,
	// starting right after the checkpoint the previous run left.
	from, resumed := 0, 0
	for r := range rounds + 1 {
		to := len(nums)
		if r < rounds {
			to = stats[r].records
		}
		for i := from; i < to; i++ {
			require.Equal(t, resumed+1+i-from, nums[i], "record %d: run %d writes the events after %d in order", i, r+1, resumed)
		}
		if r < rounds {
			from, resumed = to, stats[r].ckpt
		}
	}
	require.Equal(t, last, nums[len(nums)-1], "the last record is the last event")
	count := make([]int, last+1)
	for _, n := range nums {
		count[n]++
	}
	for n := 1; n <= last; n++ {
		require.NotZero(t, count[n], "event %d lost", n)
	}
	dups, inFlight := len(nums)-last, 0
	var perKill []int
	for _, s := range stats {
		perKill = append(perKill, s.kafkaMax-s.ckpt)
		inFlight += s.kafkaMax - s.ckpt
	}
	// A duplicate is an event a run writes again because the previous run
	// wrote it but died before checkpointing it: at most what was in
	// Kafka but not checkpointed at each kill (exactly that when every
	// run gets past the previous run's last record before it is killed).
	assert.LessOrEqual(t, dups, inFlight, "duplicates beyond the events in flight at the kills")
	assert.Equal(t, last, redisCheckpoint(t, redis, topic), "final checkpoint in Redis")
	t.Logf("seed %d: %d events at 10,000/s, %d runs (%d SIGKILL, alternating two working directories), %d records in Kafka, %d duplicates; per kill (in Kafka, not checkpointed): %v; %v in all",
		seed, last, rounds+1, rounds, len(nums), dups, perKill, elapsed.Round(time.Millisecond))
	for i, s := range stats {
		t.Logf("kill %2d: at server event %5d; Kafka max %5d; Redis checkpoint %5d", i+1, s.killAt, s.kafkaMax, s.ckpt)
	}
}
