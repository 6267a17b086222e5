package kafka

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

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

// stall is a client hook that, once armed, runs wait when the next record
// is acknowledged, before the producer sees the acknowledgement: the
// process pausing (as under SIGSTOP, or a long GC pause) between a
// transaction's produce and its commit.
type stall struct {
	armed atomic.Bool
	wait  func()
}

func (s *stall) OnProduceRecordUnbuffered(_ *kgo.Record, err error) {
	if err == nil && s.armed.Swap(false) {
		s.wait()
	}
}

// TestTransaction_OutlivedTimeoutStops: the process pauses between a
// batch's produce and its commit for longer than transaction_timeout, and
// the brokers abort the transaction and bump the producer epoch. The commit
// is answered INVALID_TXN_STATE, after which franz-go's producer ID is
// failed for good: the output stops the process, saying why, instead of
// retrying forever (it used to take the answer for an unknown outcome and
// retry reading the producer ID until the write's ctx ended, which in
// Benthos is shutdown). Nothing of the batch is committed.
func TestTransaction_OutlivedTimeoutStops(t *testing.T) {
	c := newCluster(t, 1)
	pause := &stall{wait: func() { time.Sleep(1300 * time.Millisecond) }}
	o := newOut(t, c, "topic: t\nkey: ${! content() }\nmax_in_flight: 1\ntransactional_id: outlived-1\noffsets_topic: offsets-outlived\ntransaction_timeout: 1s", kgo.WithHooks(pause))
	require.NoError(t, write(o, service.MessageBatch{event("a", "1")}))
	pause.armed.Store(true)
	err := write(o, service.MessageBatch{event("a", "2")})
	require.Error(t, err)
	assert.ErrorIs(t, err, kerr.InvalidTxnState)
	assert.Contains(t, err.Error(), `transactional_id "outlived-1": the brokers refused the commit`)
	assert.Contains(t, err.Error(), "outlived transaction_timeout (1s")
	assert.NotContains(t, err.Error(), "deadline exceeded", "ended by the write's ctx, not by the output")
	select {
	case <-Stop():
	default:
		t.Fatal("the output did not ask the process to stop")
	}
	assert.Contains(t, Failure().Error(), `transactional_id "outlived-1": the brokers refused the commit`)
	assert.Equal(t, err, write(o, service.MessageBatch{event("a", "3")}), "every later write fails the same way")
	assert.Equal(t, []string{"1"}, values(readCommitted(t, c, "t")))
	assert.Equal(t, map[string]string{"a": "1"}, kafkaread.Newest(readCommitted(t, c, "offsets-outlived")))
}

// TestTransaction_UnrecoverableProducerIDStops: once franz-go's producer ID
// holds an error it cannot recover from, nothing this output retries can
// succeed, so it stops the process rather than hold a batch, or nack every
// batch, until shutdown.
func TestTransaction_UnrecoverableProducerIDStops(t *testing.T) {
	// answer makes the brokers answer every later request of key with code.
	answer := func(c *kfake.Cluster, key kmsg.Key, code int16, only func(kmsg.Request) bool) {
		c.ControlKey(int16(key), func(kr kmsg.Request) (kmsg.Response, error, bool) {
			c.KeepControl()
			if !only(kr) {
				return nil, nil, false
			}
			resp := kr.ResponseKind()
			switch r := resp.(type) {
			case *kmsg.EndTxnResponse:
				r.ErrorCode = code
			case *kmsg.InitProducerIDResponse:
				r.ErrorCode = code
			}
			return resp, nil, true
		})
	}
	all := func(kmsg.Request) bool { return true }
	for _, tc := range []struct {
		name, want string
		setup      func(c *kfake.Cluster)
	}{{
		// An abort refused definitively: franz-go reports the retried
		// abort done, and then refuses to begin any transaction.
		name: "abort refused",
		want: "beginning a transaction: producer ID has a fatal, unrecoverable error",
		setup: func(c *kfake.Cluster) {
			answer(c, kmsg.EndTxn, kerr.InvalidTxnState.Code, func(kr kmsg.Request) bool { return !kr.(*kmsg.EndTxnRequest).Commit })
			refuseProduce(c, kerr.MessageTooLarge.Code)
		},
	}, {
		// A commit of unknown outcome, whose settling needs the
		// producer ID re-initialised, which the brokers refuse.
		name: "re-initialisation refused",
		want: "settling the unknown commit was refused 3 times in a row",
		setup: func(c *kfake.Cluster) {
			answer(c, kmsg.EndTxn, kerr.UnknownServerError.Code, all)
			answer(c, kmsg.InitProducerID, kerr.TransactionalIDAuthorizationFailed.Code, all)
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t, 1)
			id := "unrecoverable-" + strings.ReplaceAll(tc.name, " ", "-")
			o := newOut(t, c, txnYAML(id, "offsets-"+id))
			require.NoError(t, write(o, service.MessageBatch{event("a", "1")}))
			tc.setup(c)
			var errs []string
			for i := 2; i <= 3; i++ { // the first failure may only be a nack
				err := write(o, service.MessageBatch{event("a", strconv.Itoa(i))})
				require.Error(t, err)
				errs = append(errs, err.Error())
			}
			for _, err := range errs {
				assert.NotContains(t, err, "deadline exceeded", "ended by the write's ctx, not by the output")
			}
			assert.Contains(t, errs[1], `transactional_id "`+id+`": `+tc.want)
			require.Error(t, Failure())
			assert.Contains(t, Failure().Error(), `transactional_id "`+id+`": `+tc.want)
			assert.Equal(t, []string{"1"}, values(readCommitted(t, c, "t")))
		})
	}
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
