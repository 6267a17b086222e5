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

	"github.com/benthos-sse/benthos-sse/internal/syncbuf"
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

// kafkaBroker is a tests/kafkabroker process. startKafkaBroker's keeps its
// state in a directory with every acknowledged produce synced to disk, so
// that it can be SIGKILLed and started again on the same address without
// losing what it acknowledged; startMemoryKafkaBroker's keeps it in memory,
// as a benchmark wants.
type kafkaBroker struct {
	t       testing.TB
	addr    string
	dataDir string
	cmd     *exec.Cmd
	done    chan struct{}
	log     *syncbuf.Buffer
}

func startKafkaBroker(t testing.TB, topic string) *kafkaBroker {
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
	b.log, b.done = &syncbuf.Buffer{}, make(chan struct{})
	args := []string{"-addr", b.addr, "-topics", topic}
	if b.dataDir != "" {
		args = append(args, "-data-dir", b.dataDir, "-sync")
	}
	b.cmd = exec.Command(bin, args...)
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

func startMemoryKafkaBroker(t testing.TB, topic string) *kafkaBroker {
	t.Helper()
	b := &kafkaBroker{t: t, addr: "127.0.0.1:0"}
	b.start(topic)
	t.Cleanup(b.Kill)
	return b
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

// Stop stops the broker with its clean shutdown (SIGTERM: the cluster is
// closed and its data directory flushed) and waits for it to exit.
func (b *kafkaBroker) Stop() {
	if b.cmd == nil {
		return
	}
	_ = b.cmd.Process.Signal(syscall.SIGTERM)
	<-b.done
	b.cmd = nil
}

// Restart starts a stopped broker again on the same address and data.
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

// scrapeMetrics returns the Prometheus /metrics page of a running binary.
func scrapeMetrics(t *testing.T, addr string) []byte {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
	return body
}

// scrapeEventsReceived reads sse_events_received from the Prometheus
// /metrics endpoint of a running binary.
func scrapeEventsReceived(t *testing.T, addr string) float64 {
	t.Helper()
	body := scrapeMetrics(t, addr)
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
		require.Equal(t, resumeID(resume), srv.resumedAfter(before),
			"run %d (directory %d) resumes at the checkpoint in Redis", r+1, r%2)
		if r == rounds {
			require.Equal(t, 0, proc.Wait(2*waitLimit), "the last run ends with the stream:\n%s", proc.Output())
			break
		}
		srv.awaitKillAt(t, proc, r+1, killAt)
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

// metricValue reads one sse_* series (summed over its labels) from the
// Prometheus /metrics endpoint of a running binary; a counter never
// incremented is not listed, and reads 0.
func metricValue(t *testing.T, addr, name string) float64 {
	t.Helper()
	body := scrapeMetrics(t, addr)
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `(\{[^}]*\})? ([0-9.e+-]+)$`)
	var sum float64
	for _, m := range re.FindAllSubmatch(body, -1) {
		v, err := strconv.ParseFloat(string(m[2]), 64)
		require.NoError(t, err)
		sum += v
	}
	return sum
}

// TestKafka_BrokerAndRedisOutages runs resources/kafka.yaml on a stream
// while first the Kafka broker is SIGKILLed for a while and started again,
// then Redis is stopped for a while and started again (empty: it keeps
// nothing on disk). While the broker is down the pipeline holds at most one
// batch and the checkpoint stays within what Kafka acknowledged; while
// Redis is down events still reach Kafka but the checkpoint cannot advance;
// after both recover the checkpoint moves again, and Kafka holds every
// event, in stream order.
func TestKafka_BrokerAndRedisOutages(t *testing.T) {
	t.Parallel()
	const (
		last   = 12000
		topic  = "outage"
		outage = 1500 * time.Millisecond
	)
	redis := redistest.Start(t)
	broker := startKafkaBroker(t, topic)
	srv := newNumberedServer(t, last, 10, 5*time.Millisecond) // 2,000 events/s
	p := newKafkaPipeline(t, srv, broker, redis, topic)
	start := time.Now()

	srv.killAt.Store(1000)
	proc := p.start(t.TempDir())
	waitSent := func(what string) {
		t.Helper()
		select {
		case <-srv.reached:
		case <-proc.done:
			t.Fatalf("the binary exited before %s:\n%s", what, proc.Output())
		case <-time.After(waitLimit):
			t.Fatalf("%s never came:\n%s", what, proc.Output())
		}
	}
	// waitCheckpoint waits until the checkpoint in Redis passes after.
	waitCheckpoint := func(after int, what string) int {
		t.Helper()
		deadline := time.Now().Add(waitLimit)
		for {
			if ck := redisCheckpoint(t, redis, topic); ck > after {
				return ck
			}
			require.True(t, time.Now().Before(deadline), "%s: the checkpoint did not pass %d within %v:\n%s", what, after, waitLimit, proc.Output())
			time.Sleep(20 * time.Millisecond) // polling Redis
		}
	}

	// Broker outage.
	waitSent("event 1000")
	broker.Kill()
	receivedAtKill := metricValue(t, p.http, "sse_events_received")
	time.Sleep(outage)
	ckDuringBroker := redisCheckpoint(t, redis, topic)
	lag := metricValue(t, p.http, "sse_checkpoint_lag")
	receivedDuring := metricValue(t, p.http, "sse_events_received") - receivedAtKill
	assert.LessOrEqual(t, lag, 256.0, "with the broker down the pipeline holds at most one batch (max_batch_size 256)")
	// The input reads ahead at most max_batch_size events while a batch
	// is in flight (input/reader.go); twice that leaves room for the batch
	// that was being formed at the kill. The stream itself runs on.
	assert.LessOrEqual(t, receivedDuring, 2*256.0, "with the broker down the input stops reading the stream")
	broker.Restart(topic)
	inKafka := recordNumbers(t, readTopic(t, broker.addr, topic))
	for n := 1; n <= ckDuringBroker; n++ {
		require.Contains(t, inKafka, n, "event %d was checkpointed during the broker outage but Kafka does not hold it", n)
	}
	ckAfterBroker := waitCheckpoint(ckDuringBroker, "after the broker came back")

	// Redis outage, as soon as the pipeline has recovered from the broker's.
	redis.Stop()
	kafkaAtStop := len(readTopic(t, broker.addr, topic))
	time.Sleep(outage)
	kafkaDuringRedis := len(readTopic(t, broker.addr, topic)) - kafkaAtStop
	ckptErrors := metricValue(t, p.http, "sse_checkpoint_errors")
	assert.Positive(t, kafkaDuringRedis, "events reach Kafka while Redis is down")
	redis.Restart()
	ckAfterRedis := waitCheckpoint(0, "after Redis came back")
	assert.Greater(t, ckAfterRedis, ckAfterBroker, "the checkpoint moved on after Redis came back")

	require.Equal(t, 0, proc.Wait(2*waitLimit), "the binary ends with the stream:\n%s", proc.Output())
	elapsed := time.Since(start)
	nums := recordNumbers(t, readTopic(t, broker.addr, topic))
	count := make([]int, last+1)
	for i, n := range nums {
		require.True(t, n >= 1 && n <= last, "record %d: event %d", i, n)
		count[n]++
	}
	for n := 1; n <= last; n++ {
		require.NotZero(t, count[n], "event %d lost", n)
	}
	dups := len(nums) - last
	// With one batch in flight on each side, the only way back in the
	// topic is a batch written again after its acknowledgement was lost.
	prev := 0
	for i, n := range nums {
		require.LessOrEqual(t, n, prev+1, "record %d: event %d skips ahead of %d", i, n, prev)
		prev = max(prev, n)
	}
	assert.Equal(t, last, redisCheckpoint(t, redis, topic), "final checkpoint in Redis")
	t.Logf("%d events at 2,000/s in %v; broker down %v: checkpoint %d, pipeline lag %v, %v events read meanwhile; Redis down %v: %d records still reached Kafka, %v checkpoint errors; %d records in Kafka, %d duplicates",
		last, elapsed.Round(time.Millisecond), outage, ckDuringBroker, lag, receivedDuring, outage, kafkaDuringRedis, ckptErrors, len(nums), dups)
}
