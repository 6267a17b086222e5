package tests

// Exactly once into Kafka, end to end through the binary and
// resources/kafka_exactly_once.yaml: an SSE server with Last-Event-ID
// replay -> `sse` input resuming through the `kafka_offsets` cache ->
// transactional `kafka_franz` -> a Kafka broker in another process
// (tests/kafkabroker, franz-go's kfake, its state on disk), read back by a
// read_committed consumer to the last stable offset.

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/benthos-sse/benthos-sse/internal/kafkaread"
)

const (
	eosOffsets = "offsets"
	eosKey     = "stream"
)

// eosPipeline is resources/kafka_exactly_once.yaml (or a variant of it)
// wired to the test's servers through exactly the variables it documents.
type eosPipeline struct {
	t      *testing.T
	config string
	env    []string
	http   string
}

func newEOSPipeline(t *testing.T, srv *numberedServer, broker *kafkaBroker, topic, txnID string) *eosPipeline {
	p := &eosPipeline{t: t, config: filepath.Join(repoRoot, "resources", "kafka_exactly_once.yaml"), http: freePort(t)}
	p.env = []string{
		"SSE_URL=" + srv.URL() + "/events",
		"KAFKA_BROKERS=" + broker.addr,
		"KAFKA_TOPIC=" + topic,
		"OFFSETS_TOPIC=" + eosOffsets,
		"CHECKPOINT_KEY=" + eosKey,
		"TRANSACTIONAL_ID=" + txnID,
		"HTTP_ADDRESS=" + p.http,
	}
	return p
}

// withVariant runs a copy of the example with extra YAML: replace maps a
// line of the example to its replacement.
func (p *eosPipeline) withVariant(replace map[string]string) {
	p.t.Helper()
	b, err := os.ReadFile(p.config)
	require.NoError(p.t, err)
	s := string(b)
	for old, repl := range replace {
		require.Contains(p.t, s, old)
		s = strings.Replace(s, old, repl, 1)
	}
	p.config = filepath.Join(p.t.TempDir(), "variant.yaml")
	require.NoError(p.t, os.WriteFile(p.config, []byte(s), 0o644))
}

// start runs the binary; http is its HTTP address ("" keeps the pipeline's).
func (p *eosPipeline) start(http string) *binProc {
	p.t.Helper()
	env := p.env
	if http != "" {
		env = append(env[:len(env):len(env)], "HTTP_ADDRESS="+http)
	}
	return startBin(p.t, binOpts{Dir: p.t.TempDir(), Env: env}, "run", p.config)
}

// readCommitted reads topic to its last stable offset as a read_committed
// consumer, checking that every record is transactional. It does not wait
// for a transaction that a killed instance left open.
func readCommitted(t *testing.T, brokers, topic string) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	recs, err := kafkaread.ToStable(ctx, []kgo.Opt{kgo.SeedBrokers(brokers)}, topic)
	require.NoError(t, err)
	for i, r := range recs {
		require.True(t, r.Attrs.IsTransactional(), "record %d of %s is not transactional", i, topic)
	}
	return recs
}

// committedResume returns the resume point committed under eosKey (0: none).
func committedResume(t *testing.T, brokers string) int {
	t.Helper()
	v, ok := kafkaread.Newest(readCommitted(t, brokers, eosOffsets))[eosKey]
	if !ok {
		return 0
	}
	n, err := strconv.Atoi(v)
	require.NoError(t, err)
	return n
}

// waitCommit returns as soon as a read_committed consumer that started at
// the end of the offsets topic sees a new resume point: just after a commit.
func waitCommit(t *testing.T, brokers string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.ConsumeTopics(eosOffsets),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.FetchMaxWait(10*time.Millisecond))
	require.NoError(t, err)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	for {
		fs := cl.PollFetches(ctx)
		require.NoError(t, ctx.Err(), "no commit within %v", waitLimit)
		if fs.NumRecords() > 0 {
			return
		}
	}
}

// requireExactlyOnce checks that nums holds each event from 1 to last that
// kept passes exactly once, in stream order.
func requireExactlyOnce(t *testing.T, nums []int, last int, kept func(int) bool) {
	t.Helper()
	var want []int
	for n := 1; n <= last; n++ {
		if kept(n) {
			want = append(want, n)
		}
	}
	seen := make(map[int]int, len(nums))
	dups := 0
	for _, n := range nums {
		if seen[n]++; seen[n] > 1 {
			dups++
		}
	}
	lost := 0
	for _, n := range want {
		if seen[n] == 0 {
			lost++
		}
	}
	require.Zero(t, lost, "lost events")
	require.Zero(t, dups, "duplicated events")
	require.Equal(t, want, nums, "every event once, in stream order")
}

func all(int) bool { return true }

// TestKafkaEOS_Clean: 20,000 events through the example on topics created
// before it starts; the binary exits 0 at the 204, a read_committed
// consumer sees every event once and in order, the records are
// transactional, the broker knows the transactional ID, and the committed
// resume point is the last event.
func TestKafkaEOS_Clean(t *testing.T) {
	t.Parallel()
	const last, topic, txnID = 20000, "eos-clean", "clean-1"
	broker := startKafkaBroker(t, topic+","+eosOffsets)
	srv := newNumberedServer(t, last, 40, 2*time.Millisecond) // 20,000 events/s
	p := newEOSPipeline(t, srv, broker, topic, txnID)
	start := time.Now()
	proc := p.start("")
	require.Equal(t, 0, proc.Wait(2*waitLimit), "exits 0 at the 204:\n%s", proc.Output())
	elapsed := time.Since(start)

	requireExactlyOnce(t, recordNumbers(t, readCommitted(t, broker.addr, topic)), last, all)
	assert.Equal(t, last, committedResume(t, broker.addr), "the committed resume point")

	cl, err := kgo.NewClient(kgo.SeedBrokers(broker.addr))
	require.NoError(t, err)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	txns, err := kadm.NewClient(cl).DescribeTransactions(ctx, txnID)
	require.NoError(t, err)
	d, ok := txns[txnID]
	require.True(t, ok, "the broker knows transactional ID %s", txnID)
	require.NoError(t, d.Err)
	assert.GreaterOrEqual(t, d.ProducerID, int64(0), "a transactional producer under %s", txnID)
	t.Logf("%d events exactly once in %v; transactional ID %s: producer %d epoch %d, state %s",
		last, elapsed.Round(time.Millisecond), txnID, d.ProducerID, d.ProducerEpoch, d.State)
}

// TestKafkaEOS_KillRestart SIGKILLs the binary ten times at seeded random
// moments, half of them within a few milliseconds of a commit seen in the
// offsets topic, and starts it again each time; the last run reads to the
// 204. Each run resumes at the resume point committed when the previous one
// died, and a read_committed consumer sees every event exactly once.
func TestKafkaEOS_KillRestart(t *testing.T) {
	t.Parallel()
	const (
		last   = 20000
		rounds = 10
		topic  = "eos-kill"
	)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	broker := startKafkaBroker(t, topic)
	srv := newNumberedServer(t, last, 20, 2*time.Millisecond) // 10,000 events/s
	p := newEOSPipeline(t, srv, broker, topic, "kill-1")
	start := time.Now()

	resume := 0
	var kills []string
	for r := range rounds + 1 {
		before := len(srv.Requests())
		killAt := 0
		if r < rounds {
			killAt = min(resume+300+rng.IntN(1000), last-1)
		}
		srv.killAt.Store(int64(killAt))
		proc := p.start("")
		require.Equal(t, resumeID(resume), srv.resumedAfter(before), "run %d resumes at the committed resume point", r+1)
		if r == rounds {
			require.Equal(t, 0, proc.Wait(2*waitLimit), "the last run ends with the stream:\n%s", proc.Output())
			break
		}
		srv.awaitKillAt(t, proc, r+1, killAt)
		how := "at a random moment"
		if r%2 == 1 {
			// Wait for a commit, then kill within a few milliseconds of it.
			waitCommit(t, broker.addr)
			d := time.Duration(rng.IntN(3000)) * time.Microsecond
			time.Sleep(d) // the kill moment, not a synchronisation
			how = "within " + d.String() + " of a commit"
		}
		require.Equal(t, -1, proc.Signal(syscall.SIGKILL))
		resume = committedResume(t, broker.addr)
		kills = append(kills, strconv.Itoa(killAt)+" ("+how+") -> resume "+strconv.Itoa(resume))
	}
	requireExactlyOnce(t, recordNumbers(t, readCommitted(t, broker.addr, topic)), last, all)
	t.Logf("seed %d: %d events, %d SIGKILLs, lost 0, dup 0, %v", seed, last, rounds, time.Since(start).Round(time.Millisecond))
	for i, k := range kills {
		t.Logf("kill %2d: server event %s", i+1, k)
	}
}

// TestKafkaEOS_BrokerOutage stops the broker cleanly mid-stream and starts
// it again from its data 3 s later, on a variant of the example whose
// pipeline drops every seventh event and whose output batches: the
// pipeline holds while the broker is down (the input stops reading the
// stream), then carries on in the same process, and a
// read_committed consumer sees every event that was not dropped, once.
func TestKafkaEOS_BrokerOutage(t *testing.T) {
	t.Parallel()
	const last, topic = 8000, "eos-outage"
	broker := startKafkaBroker(t, topic)
	srv := newNumberedServer(t, last, 10, 2*time.Millisecond) // 5,000 events/s
	p := newEOSPipeline(t, srv, broker, topic, "outage-1")
	p.withVariant(map[string]string{
		"\noutput:\n": "\npipeline:\n  processors:\n    - mapping: 'root = if content().number() % 7 == 0 { deleted() }'\n\noutput:\n",
		"    max_in_flight: 1\n    transactional_id": "    max_in_flight: 1\n    batching: {count: 100, period: 5ms}\n    transactional_id",
	})
	srv.killAt.Store(2000)
	proc := p.start("")
	select {
	case <-srv.reached:
	case <-proc.done:
		t.Fatalf("exited before event 2000:\n%s", proc.Output())
	case <-time.After(waitLimit):
		t.Fatalf("event 2000 never sent:\n%s", proc.Output())
	}
	broker.Stop()
	receivedAtStop := metricValue(t, p.http, "sse_events_received")
	time.Sleep(3 * time.Second) // the outage
	assert.False(t, proc.Exited(), "the binary rides out the outage:\n%s", proc.Output())
	receivedDuring := metricValue(t, p.http, "sse_events_received") - receivedAtStop
	// Back-pressure: the stream runs on at 5,000 events/s, but the input
	// reads ahead at most one batch (max_batch_size 1024) behind the one
	// the output holds; twice that leaves room for the batch being formed.
	assert.LessOrEqual(t, receivedDuring, 2*1024.0, "with the broker down the input stops reading the stream")
	broker.Restart(topic)
	require.Equal(t, 0, proc.Wait(2*waitLimit), "exits 0 at the 204:\n%s", proc.Output())
	kept := func(n int) bool { return n%7 != 0 }
	requireExactlyOnce(t, recordNumbers(t, readCommitted(t, broker.addr, topic)), last, kept)
	assert.Equal(t, last, committedResume(t, broker.addr), "the committed resume point")
	t.Logf("broker down 3 s: %v events read meanwhile; %d events, every seventh dropped, exactly once", receivedDuring, last)
}

// TestKafkaEOS_Fencing pauses instance A (SIGSTOP), starts B with the same
// transactional ID, and resumes A once B has committed: A exits 1 with a
// last log line naming the transactional ID, and B ends the stream with
// every event committed once.
func TestKafkaEOS_Fencing(t *testing.T) {
	t.Parallel()
	const last, topic, txnID = 8000, "eos-fence", "fence-1"
	broker := startKafkaBroker(t, topic)
	srv := newNumberedServer(t, last, 10, 2*time.Millisecond) // 5,000 events/s
	p := newEOSPipeline(t, srv, broker, topic, txnID)
	srv.killAt.Store(1000)
	a := p.start("")
	select {
	case <-srv.reached:
	case <-time.After(waitLimit):
		t.Fatalf("event 1000 never sent:\n%s", a.Output())
	}
	require.NoError(t, a.cmd.Process.Signal(syscall.SIGSTOP))
	paused := committedResume(t, broker.addr)
	b := p.start(freePort(t))
	deadline := time.Now().Add(waitLimit)
	for committedResume(t, broker.addr) <= paused {
		require.True(t, time.Now().Before(deadline), "B committed nothing within %v:\n%s", waitLimit, b.Output())
	}
	require.NoError(t, a.cmd.Process.Signal(syscall.SIGCONT))
	require.Equal(t, 1, a.Wait(waitLimit), "the fenced instance exits 1:\n%s", a.Output())
	lines := strings.Split(strings.TrimSpace(a.Output()), "\n")
	lastLine := lines[len(lines)-1]
	for _, w := range []string{"Exiting with code 1", "fenced", `transactional_id \"` + txnID + `\"`} {
		assert.Contains(t, lastLine, w)
	}
	require.Equal(t, 0, b.Wait(2*waitLimit), "B ends with the stream:\n%s", b.Output())
	requireExactlyOnce(t, recordNumbers(t, readCommitted(t, broker.addr, topic)), last, all)
	t.Logf("A paused at resume point %d; its last line: %s", paused, lastLine)
}

// TestKafkaEOS_PausePastTransactionTimeout: the binary is paused (SIGSTOP)
// for longer than its transaction_timeout (1 s here), again and again at
// random moments, until a pause falls inside a transaction: the broker then
// aborts that transaction and bumps the epoch, and the binary exits 1 with a
// line naming the ID and saying why (a commit refused as INVALID_TXN_STATE,
// or a produce fenced). Every pause ends within 8 s in an exit or a new
// commit: the output used to retry settling the refused commit forever,
// holding its batch. A restart resumes; after its clean stop (SIGTERM) the
// topic holds every event up to the committed resume point exactly once.
func TestKafkaEOS_PausePastTransactionTimeout(t *testing.T) {
	t.Parallel()
	const topic, txnID = "eos-pause", "pause-1"
	broker := startKafkaBroker(t, topic)
	srv := newNumberedServer(t, 1_000_000, 40, 2*time.Millisecond) // 20,000 events/s, never ends here
	p := newEOSPipeline(t, srv, broker, topic, txnID)
	p.withVariant(map[string]string{"    offsets_topic: ${OFFSETS_TOPIC:sse-offsets}\n": "    offsets_topic: ${OFFSETS_TOPIC:sse-offsets}\n    transaction_timeout: 1s\n"})
	// advanced waits until the committed resume point passes after, or
	// the binary exits.
	advanced := func(bin *binProc, after int, limit time.Duration) bool {
		end := time.Now().Add(limit)
		for !bin.Exited() && committedResume(t, broker.addr) <= after {
			if time.Now().After(end) {
				return false
			}
			time.Sleep(20 * time.Millisecond)
		}
		return true
	}
	a := p.start("")
	require.True(t, advanced(a, 0, waitLimit), "nothing committed within %v:\n%s", waitLimit, a.Output())
	pauses := 0
	for ; pauses < 8 && !a.Exited(); pauses++ {
		time.Sleep(time.Duration(100+rand.IntN(300)) * time.Millisecond)
		require.NoError(t, a.cmd.Process.Signal(syscall.SIGSTOP))
		time.Sleep(1500 * time.Millisecond)
		before := committedResume(t, broker.addr)
		require.NoError(t, a.cmd.Process.Signal(syscall.SIGCONT))
		if !advanced(a, before, 8*time.Second) {
			out := a.Output()
			t.Fatalf("pause %d: neither a commit nor an exit within 8 s of SIGCONT; the log's tail:\n%s", pauses+1, out[max(0, len(out)-4096):])
		}
	}
	if !a.Exited() {
		t.Logf("none of %d pauses fell inside a transaction", pauses)
		require.Equal(t, 0, a.Signal(syscall.SIGTERM), "%s", a.Output())
	} else {
		lines := strings.Split(strings.TrimSpace(a.Output()), "\n")
		lastLine := lines[len(lines)-1]
		require.Equal(t, 1, a.Wait(waitLimit), "%s", a.Output())
		for _, w := range []string{"Exiting with code 1", `transactional_id \"` + txnID + `\"`} {
			assert.Contains(t, lastLine, w)
		}
		assert.True(t, strings.Contains(lastLine, "outlived transaction_timeout (1s") || strings.Contains(lastLine, "was fenced"), "says why: %s", lastLine)
		t.Logf("exit 1 after pause %d: %s", pauses, lastLine)
		b := p.start("")
		require.True(t, advanced(b, committedResume(t, broker.addr)+1000, waitLimit), "the restart commits nothing:\n%s", b.Output())
		require.Equal(t, 0, b.Signal(syscall.SIGTERM), "%s", b.Output())
	}
	requireExactlyOnce(t, recordNumbers(t, readCommitted(t, broker.addr, topic)), committedResume(t, broker.addr), all)
}

// TestKafkaEOS_Refusals: lint refuses a transactional output that cannot
// be exactly once, naming the line and the field; the input's max_in_flight
// with a kafka_offsets checkpoint cache, which lint cannot see together
// (a component's lint rule sees only its own fields, not the resources it
// names), is refused when the binary starts, naming both fields.
func TestKafkaEOS_Refusals(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, conf string) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(conf), 0o644))
	}
	write("idempotent.yaml", `http: {enabled: false}
input:
  generate: {count: 1, mapping: 'root = "x"'}
output:
  kafka_franz:
    seed_brokers: [ 127.0.0.1:1 ]
    topic: t
    max_in_flight: 1
    idempotent_write: false
    transactional_id: a
    offsets_topic: o
`)
	res := runBin(t, dir, nil, nil, "lint", "idempotent.yaml")
	assert.Equal(t, 1, res.code, "%s", res.output())
	assert.Contains(t, res.stderr, "idempotent.yaml(6,1) idempotent_write: false cannot be exactly once")

	write("inflight.yaml", `http: {enabled: false}
input:
  sse:
    url: http://127.0.0.1:1/events
    max_in_flight: 4
    checkpoint: {cache: offsets, key: k}
cache_resources:
  - label: offsets
    kafka_offsets: {seed_brokers: [ 127.0.0.1:1 ], topic: o}
output:
  kafka_franz: {seed_brokers: [ 127.0.0.1:1 ], topic: t, max_in_flight: 1, transactional_id: a, offsets_topic: o}
`)
	res = runBin(t, dir, nil, nil, "lint", "inflight.yaml")
	assert.Equal(t, 0, res.code, "lint cannot see the cache's type: %s", res.output())
	res = runBin(t, dir, nil, nil, "run", "inflight.yaml")
	assert.NotEqual(t, 0, res.code, "%s", res.output())
	assert.Contains(t, res.output(), `field "max_in_flight": 4 cannot be exactly once with checkpoint.cache "offsets"`)
}
