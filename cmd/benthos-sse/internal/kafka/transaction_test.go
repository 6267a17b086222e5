package kafka

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	benthossse "github.com/benthos-sse/benthos-sse"
	"github.com/benthos-sse/benthos-sse/input"
	"github.com/benthos-sse/benthos-sse/internal/kafkaread"
)

// event is a message of stream key with event ID id as data, key and
// resume point.
func event(key, id string) *service.Message {
	return msg(id, benthossse.MetaCheckpointKey, key, benthossse.MetaResumePoint, id)
}

// txnYAML is the output's YAML for transactional ID id and offsets topic.
func txnYAML(id, offsets string) string {
	return "topic: t\nkey: ${! content() }\nmax_in_flight: 1\ntransactional_id: " + id + "\noffsets_topic: " + offsets + "\ntransaction_timeout: 2s"
}

func readCommitted(t *testing.T, c *kfake.Cluster, topic string) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	recs, err := kafkaread.ToEnd(ctx, []kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)}, topic)
	require.NoError(t, err)
	return recs
}

// newOffsetsCache builds a kafka_offsets cache on cluster c.
func newOffsetsCache(t *testing.T, c *kfake.Cluster, topic string) *offsetsCache {
	t.Helper()
	conf, err := offsetsCacheSpec().ParseYAML("seed_brokers: [ "+strings.Join(c.ListenAddrs(), ",")+" ]\ntopic: "+topic+"\nwriter_wait: 10ms", nil)
	require.NoError(t, err)
	conn, err := connOpts(conf, service.MockResources())
	require.NoError(t, err)
	cache := &offsetsCache{conn: conn, topic: topic, timeout: waitLimit}
	cache.writerWait, err = duration(conf, offsetsFieldWriterCap)
	require.NoError(t, err)
	return cache
}

// TestTransaction_CommitsRecordsWithResumePoints: a batch of two streams is
// one transaction: its records are transactional, the offsets topic (which
// the output created) holds each stream's last resume point, and the
// kafka_offsets cache serves it to the input in the input's slot format.
func TestTransaction_CommitsRecordsWithResumePoints(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 1)
	o := newOut(t, c, txnYAML("commit-1", "offsets-commit"))
	require.NoError(t, write(o, service.MessageBatch{event("a", "1"), event("b", "7"), event("a", "2"), msg("no-stream")}))
	require.NoError(t, write(o, service.MessageBatch{event("a", "3")}))

	recs := readCommitted(t, c, "t")
	assert.Equal(t, []string{"1", "7", "2", "no-stream", "3"}, values(recs))
	for _, r := range recs {
		assert.True(t, r.Attrs.IsTransactional(), "record %s", r.Value)
	}
	offsets := readCommitted(t, c, "offsets-commit")
	assert.Equal(t, []string{"2", "7", "3"}, values(offsets), "one resume point per stream and batch")
	assert.Equal(t, map[string]string{"a": "3", "b": "7"}, kafkaread.Newest(offsets))

	cache := newOffsetsCache(t, c, "offsets-commit")
	ctx := context.Background()
	v, err := cache.Get(ctx, "a.a")
	require.NoError(t, err)
	assert.Equal(t, string(input.EncodeOwnedCheckpoint("3")), string(v))
	v, err = cache.Get(ctx, "a"+input.OwnedMarkerSuffix)
	require.NoError(t, err)
	assert.Equal(t, input.OwnedMarker, string(v))
	for _, k := range []string{"a.b", "zzz.a", "a.probe"} {
		_, err = cache.Get(ctx, k)
		assert.ErrorIs(t, err, service.ErrKeyNotFound, k)
	}
	assert.ErrorIs(t, cache.Set(ctx, "a.a", []byte("x"), nil), errReadOnly)
	assert.ErrorIs(t, cache.Add(ctx, "a.probe", []byte("x"), nil), errReadOnly)
	assert.ErrorIs(t, cache.Delete(ctx, "a.probe"), errReadOnly)
}

// TestTransaction_AbortedBatchInvisible: a batch whose records the broker
// refuses is aborted and nacked; nothing of it reaches a read_committed
// reader, and the next batch commits.
func TestTransaction_AbortedBatchInvisible(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 1)
	o := newOut(t, c, txnYAML("abort-1", "offsets-abort"))
	require.NoError(t, write(o, service.MessageBatch{event("a", "1")}))
	stop := refuseProduce(c, kerr.MessageTooLarge.Code)
	err := write(o, service.MessageBatch{event("a", "2"), event("a", "3")})
	stop()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "aborted, the batch is written again")
	require.NoError(t, write(o, service.MessageBatch{event("a", "4")}))
	assert.Equal(t, []string{"1", "4"}, values(readCommitted(t, c, "t")))
	assert.Equal(t, map[string]string{"a": "4"}, kafkaread.Newest(readCommitted(t, c, "offsets-abort")))
}

// TestTransaction_FencedInstanceStops: a second output with the same
// transactional ID fences the first at its Connect; the first then fails
// every write with an error naming the ID, asks the process to stop, and
// never re-initialises (the second keeps committing).
func TestTransaction_FencedInstanceStops(t *testing.T) {
	c := newCluster(t, 1)
	a := newOut(t, c, txnYAML("fence-1", "offsets-fence"))
	require.NoError(t, write(a, service.MessageBatch{event("a", "1")}))
	b := newOut(t, c, txnYAML("fence-1", "offsets-fence"))
	err := write(a, service.MessageBatch{event("a", "2")})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `transactional_id "fence-1" was fenced`)
	assert.True(t, errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.InvalidProducerEpoch), "wraps the broker's answer: %v", err)
	select {
	case <-Stop():
	default:
		t.Fatal("the fenced output did not ask the process to stop")
	}
	assert.Contains(t, Failure().Error(), `transactional_id "fence-1" was fenced`)
	assert.Equal(t, err, write(a, service.MessageBatch{event("a", "3")}), "every later write fails the same way, without a new attempt")
	require.NoError(t, write(b, service.MessageBatch{event("a", "4")}), "the new instance is not fenced back")
	assert.Equal(t, []string{"1", "4"}, values(readCommitted(t, c, "t")))
}

// TestTransaction_UnknownCommitOutcome: the brokers answer a commit with an
// unknown error, leaving its outcome unknown. The output reads the offsets
// topic until the transaction is settled (here, aborted by the brokers
// after transaction_timeout), finds its previous resume point there, and
// nacks the batch; the next batch commits. A batch whose resume point
// cannot tell (the same as the one committed before) stops the process
// instead of guessing.
func TestTransaction_UnknownCommitOutcome(t *testing.T) {
	c := newCluster(t, 1)
	o := newOut(t, c, txnYAML("unknown-1", "offsets-unknown"))
	require.NoError(t, write(o, service.MessageBatch{event("a", "1")}))
	var failing, dropping atomic.Bool
	c.ControlKey(int16(kmsg.EndTxn), func(kr kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if dropping.Load() {
			return nil, errors.New("connection dropped"), true
		}
		if !failing.Load() {
			return nil, nil, false
		}
		resp := kr.ResponseKind().(*kmsg.EndTxnResponse)
		resp.ErrorCode = kerr.UnknownServerError.Code
		return resp, nil, true
	})
	failing.Store(true)
	err := write(o, service.MessageBatch{event("a", "2")})
	failing.Store(false)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `transactional_id "unknown-1": the commit did not happen`)
	require.NoError(t, write(o, service.MessageBatch{event("a", "3")}))
	assert.Equal(t, []string{"1", "3"}, values(readCommitted(t, c, "t")))

	// The connection drops under the commit: a transport error.
	dropping.Store(true)
	err = write(o, service.MessageBatch{event("a", "4")})
	dropping.Store(false)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `transactional_id "unknown-1": the commit did not happen`)
	assert.Equal(t, map[string]string{"a": "3"}, kafkaread.Newest(readCommitted(t, c, "offsets-unknown")))

	failing.Store(true)
	err = write(o, service.MessageBatch{event("a", "3")})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `transactional_id "unknown-1": the outcome of a commit is unknown`)
	assert.Contains(t, Failure().Error(), "the batch's resume points cannot tell")
}

// TestOffsetsCache_RefusesWithoutWriter: a kafka_offsets cache whose topic
// no transactional output of the process writes refuses to serve it and
// asks the process to stop, rather than start every run from scratch.
func TestOffsetsCache_RefusesWithoutWriter(t *testing.T) {
	c := newCluster(t, 1)
	cache := newOffsetsCache(t, c, "offsets-nobody-writes")
	_, err := cache.Get(context.Background(), "a.a")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `no transactional kafka_franz output of this process writes the offsets topic "offsets-nobody-writes"`)
	assert.Contains(t, Failure().Error(), "offsets-nobody-writes")
}

func TestOffsetsCache_Lint(t *testing.T) {
	t.Parallel()
	for yaml, want := range map[string]string{
		"timeout: 0s":        "timeout: 0s is below the minimum of 1ms",
		"writer_wait: never": "writer_wait: never is not a valid non-negative duration",
	} {
		err := service.NewStreamBuilder().AddCacheYAML("label: c\nkafka_offsets:\n  seed_brokers: [ 127.0.0.1:9092 ]\n  topic: o\n  " + yaml)
		var lints service.LintError
		require.ErrorAs(t, err, &lints, yaml)
		assert.Contains(t, err.Error(), want)
	}
}
