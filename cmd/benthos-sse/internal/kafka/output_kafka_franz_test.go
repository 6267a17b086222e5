package kafka

import (
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "github.com/redpanda-data/benthos/v4/public/components/pure"
	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// waitLimit bounds every wait for something the test expects; it is a
// failure bound, never a synchronisation device.
const waitLimit = 15 * time.Second

// newCluster starts an in-process Kafka cluster on 127.0.0.1 with topic t
// of the given number of partitions.
func newCluster(t *testing.T, partitions int32, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.SeedTopics(partitions, "t")}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

// newOut builds the output from YAML (the fields after seed_brokers) and
// connects it; opts are added to its client's options (test hooks).
func newOut(t *testing.T, c *kfake.Cluster, yaml string, opts ...kgo.Opt) *output {
	t.Helper()
	conf, err := outputSpec().ParseYAML(fmt.Sprintf("seed_brokers: [ %q ]\n%s", strings.Join(c.ListenAddrs(), ","), yaml), nil)
	require.NoError(t, err)
	o, err := newOutput(conf, service.MockResources())
	require.NoError(t, err)
	o.opts = append(o.opts, opts...)
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	require.NoError(t, o.Connect(ctx))
	t.Cleanup(func() { _ = o.Close(context.Background()) })
	return o
}

func write(o *output, batch service.MessageBatch) error {
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	return o.WriteBatch(ctx, batch)
}

// msg is a message with data and metadata given as key, value pairs.
func msg(data string, meta ...string) *service.Message {
	m := service.NewMessage([]byte(data))
	for i := 0; i+1 < len(meta); i += 2 {
		m.MetaSetMut(meta[i], meta[i+1])
	}
	return m
}

// consume reads topic from the start until it has n records.
func consume(t *testing.T, c *kfake.Cluster, topic string, n int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	require.NoError(t, err)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	var recs []*kgo.Record
	for len(recs) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d records of %s before the time limit", len(recs), n, topic)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", topic, p, err) })
		recs = append(recs, fs.Records()...)
	}
	return recs
}

func headers(r *kgo.Record) map[string]string {
	h := map[string]string{}
	for _, kv := range r.Headers {
		h[kv.Key] = string(kv.Value)
	}
	return h
}

func TestOutput_RecordsCarryValueKeyAndHeaders(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 1)
	o := newOut(t, c, `
topic: t
key: ${! @sse_id }
metadata:
  include_prefixes: [ sse_ ]
timestamp_ms: ${! @ts }
`)
	require.NoError(t, write(o, service.MessageBatch{
		msg("first", "sse_id", "1", "sse_event", "tick", "other", "x", "ts", "1700000000123"),
		msg(`{"n":2}`, "sse_id", "2", "sse_event", "tock", "ts", "1700000000456"),
	}))
	recs := consume(t, c, "t", 2)
	require.Len(t, recs, 2)
	assert.Equal(t, "first", string(recs[0].Value))
	assert.Equal(t, "1", string(recs[0].Key))
	assert.Equal(t, map[string]string{"sse_id": "1", "sse_event": "tick"}, headers(recs[0]), "only sse_ metadata becomes headers")
	assert.Equal(t, int64(1700000000123), recs[0].Timestamp.UnixMilli())
	assert.Equal(t, `{"n":2}`, string(recs[1].Value))
	assert.Equal(t, "2", string(recs[1].Key))
	assert.Equal(t, map[string]string{"sse_id": "2", "sse_event": "tock"}, headers(recs[1]))
}

func TestOutput_NoKeyNoHeadersByDefault(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 1)
	o := newOut(t, c, `topic: t`)
	before := time.Now().Add(-time.Second)
	require.NoError(t, write(o, service.MessageBatch{msg("a", "sse_id", "1")}))
	recs := consume(t, c, "t", 1)
	assert.Nil(t, recs[0].Key)
	assert.Empty(t, recs[0].Headers)
	assert.True(t, recs[0].Timestamp.After(before), "timestamp %v is the write time", recs[0].Timestamp)
}

func TestOutput_InterpolatedTopic(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 1, kfake.SeedTopics(1, "ev-tick", "ev-tock"))
	o := newOut(t, c, `topic: ev-${! @sse_event }`)
	require.NoError(t, write(o, service.MessageBatch{msg("1", "sse_event", "tick"), msg("2", "sse_event", "tock"), msg("3", "sse_event", "tick")}))
	assert.Equal(t, []string{"1", "3"}, values(consume(t, c, "ev-tick", 2)))
	assert.Equal(t, []string{"2"}, values(consume(t, c, "ev-tock", 1)))
}

func values(recs []*kgo.Record) []string {
	var out []string
	for _, r := range recs {
		out = append(out, string(r.Value))
	}
	return out
}

func TestOutput_Partitioners(t *testing.T) {
	t.Parallel()
	const parts = 4
	cases := []struct {
		name  string
		yaml  string
		check func(t *testing.T, byValue map[string]int32)
	}{
		{
			name: "manual",
			yaml: "partitioner: manual\npartition: ${! @p }",
			check: func(t *testing.T, byValue map[string]int32) {
				for v, p := range byValue {
					n, _ := strconv.Atoi(v)
					assert.Equal(t, int32(n%parts), p, "record %s", v)
				}
			},
		},
		{
			name: "round_robin",
			yaml: "partitioner: round_robin",
			check: func(t *testing.T, byValue map[string]int32) {
				count := map[int32]int{}
				for _, p := range byValue {
					count[p]++
				}
				assert.Equal(t, map[int32]int{0: 10, 1: 10, 2: 10, 3: 10}, count)
			},
		},
		{
			name: "murmur2_hash",
			yaml: "partitioner: murmur2_hash\nkey: k${! @p }",
			check: func(t *testing.T, byValue map[string]int32) {
				// Kafka's Java client partition for a key: murmur2 of
				// the key, positive, modulo the partition count.
				seen := map[int32]bool{}
				for v, p := range byValue {
					n, _ := strconv.Atoi(v)
					key := []byte("k" + strconv.Itoa(n%parts))
					assert.Equal(t, int32((murmur2(key)&0x7fffffff)%parts), p, "record %s", v)
					seen[p] = true
				}
				assert.Greater(t, len(seen), 1, "keys spread over partitions")
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newCluster(t, parts)
			o := newOut(t, c, "topic: t\n"+tc.yaml)
			var batch service.MessageBatch
			for i := range 40 {
				batch = append(batch, msg(strconv.Itoa(i), "p", strconv.Itoa(i%parts)))
			}
			// One record per write, so that round_robin moves on each
			// time.
			for _, m := range batch {
				require.NoError(t, write(o, service.MessageBatch{m}))
			}
			byValue := map[string]int32{}
			for _, r := range consume(t, c, "t", len(batch)) {
				byValue[string(r.Value)] = r.Partition
			}
			require.Len(t, byValue, len(batch))
			tc.check(t, byValue)
		})
	}
}

// murmur2 is Kafka's Utils.murmur2 (the Java client's key hash), written
// out here so that the test does not check franz-go against itself.
func murmur2(b []byte) uint32 {
	const (
		seed uint32 = 0x9747b28c
		m    uint32 = 0x5bd1e995
		r           = 24
	)
	h := seed ^ uint32(len(b))
	for len(b) >= 4 {
		k := uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
		b = b[4:]
		k *= m
		k ^= k >> r
		k *= m
		h *= m
		h ^= k
	}
	switch len(b) {
	case 3:
		h ^= uint32(b[2]) << 16
		fallthrough
	case 2:
		h ^= uint32(b[1]) << 8
		fallthrough
	case 1:
		h ^= uint32(b[0])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return h
}

// TestOutput_StreamOrderWithMaxInFlightOne runs the output in a Benthos
// stream fed faster than it writes: with max_in_flight 1 every partition
// holds its records in the order generated, and none is missing.
func TestOutput_StreamOrderWithMaxInFlightOne(t *testing.T) {
	t.Parallel()
	const n = 3000
	c := newCluster(t, 3)
	b := service.NewStreamBuilder()
	require.NoError(t, b.SetYAML(fmt.Sprintf(`
input:
  generate:
    count: %d
    interval: ""
    mapping: |
      root = counter().string()
      meta k = (counter() %% 3).string()
output:
  kafka_franz:
    seed_brokers: [ %q ]
    topic: t
    key: ${! @k }
    max_in_flight: 1
    batching: {count: 64, period: 20ms}
logger: {level: warn}
`, n, strings.Join(c.ListenAddrs(), ","))))
	strm, err := b.Build()
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	require.NoError(t, strm.Run(ctx))

	last := map[int32]int{}
	seen := map[int]bool{}
	for _, r := range consume(t, c, "t", n) {
		v, err := strconv.Atoi(string(r.Value))
		require.NoError(t, err)
		require.Greater(t, v, last[r.Partition], "partition %d: %d after %d", r.Partition, v, last[r.Partition])
		last[r.Partition] = v
		seen[v] = true
	}
	assert.Len(t, seen, n)
	assert.Greater(t, len(last), 1, "the keys spread over more than one partition")
}

// refuseProduce makes the cluster answer every produce request with code
// until the returned function is called.
func refuseProduce(c *kfake.Cluster, code int16) (stop func()) {
	stopped := make(chan struct{})
	c.ControlKey(int16(kmsg.Produce), func(kr kmsg.Request) (kmsg.Response, error, bool) {
		select {
		case <-stopped:
			c.DropControl()
			return nil, nil, false
		default:
		}
		c.KeepControl()
		req := kr.(*kmsg.ProduceRequest)
		resp := req.ResponseKind().(*kmsg.ProduceResponse)
		for _, rt := range req.Topics {
			st := kmsg.NewProduceResponseTopic()
			st.Topic, st.TopicID = rt.Topic, rt.TopicID
			for _, rp := range rt.Partitions {
				sp := kmsg.NewProduceResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	return func() { close(stopped) }
}

// failedIndexes returns the indexes a BatchError marks as failed.
func failedIndexes(t *testing.T, err error) []int {
	t.Helper()
	var berr *service.BatchError
	require.ErrorAs(t, err, &berr)
	var idx []int
	//lint:ignore SA1019 the indexes are those of the batch WriteBatch got, which is what the test compares them with; WalkMessagesIndexedBy is for a batch split on its way to the output
	berr.WalkMessages(func(i int, _ *service.Message, err error) bool {
		if err != nil {
			idx = append(idx, i)
		}
		return true
	})
	return idx
}

func TestOutput_FailuresNack(t *testing.T) {
	t.Parallel()
	t.Run("broker refuses the records", func(t *testing.T) {
		t.Parallel()
		c := newCluster(t, 1)
		o := newOut(t, c, "topic: t\ntimeout: 5s")
		stop := refuseProduce(c, kerr.TopicAuthorizationFailed.Code)
		err := write(o, service.MessageBatch{msg("a"), msg("b"), msg("c")})
		require.Error(t, err)
		assert.ErrorIs(t, err, kerr.TopicAuthorizationFailed)
		assert.Equal(t, []int{0, 1, 2}, failedIndexes(t, err))
		stop()
		// The refused records are not in the topic: the next record
		// written is the first one there.
		require.NoError(t, write(o, service.MessageBatch{msg("after")}))
		assert.Equal(t, []string{"after"}, values(consume(t, c, "t", 1)))
	})
	t.Run("broker keeps failing until timeout", func(t *testing.T) {
		t.Parallel()
		c := newCluster(t, 1)
		o := newOut(t, c, "topic: t\ntimeout: 1s")
		// A retriable error: the client retries until the timeout.
		stop := refuseProduce(c, kerr.NotEnoughReplicas.Code)
		start := time.Now()
		err := write(o, service.MessageBatch{msg("a"), msg("b")})
		require.Error(t, err)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Contains(t, err.Error(), "not acknowledged within timeout 1s")
		assert.Equal(t, []int{0, 1}, failedIndexes(t, err))
		// The client checks the deadline before a request and after a
		// response; a retriable error waits for a metadata refresh, at
		// most every 5s (franz-go's MetadataMinAge).
		took := time.Since(start)
		assert.GreaterOrEqual(t, took, time.Second, "the write retried until timeout")
		assert.Less(t, took, 8*time.Second, "the write gives up soon after timeout")
		stop()
		require.NoError(t, write(o, service.MessageBatch{msg("after")}))
		assert.Equal(t, []string{"after"}, values(consume(t, c, "t", 1)))
	})
	t.Run("broker gone", func(t *testing.T) {
		t.Parallel()
		c := newCluster(t, 1)
		o := newOut(t, c, "topic: t\ntimeout: 500ms")
		c.Close()
		err := write(o, service.MessageBatch{msg("a")})
		require.Error(t, err)
		assert.Equal(t, []int{0}, failedIndexes(t, err))
	})
	t.Run("one record too large", func(t *testing.T) {
		t.Parallel()
		c := newCluster(t, 1)
		o := newOut(t, c, "topic: t\nmax_message_bytes: 1KiB")
		err := write(o, service.MessageBatch{msg("small"), msg(strings.Repeat("x", 2048)), msg("small too")})
		require.Error(t, err)
		assert.ErrorIs(t, err, kerr.MessageTooLarge)
		assert.Equal(t, []int{1}, failedIndexes(t, err), "only the large record fails")
		assert.Equal(t, []string{"small", "small too"}, values(consume(t, c, "t", 2)))
	})
	t.Run("bad partition interpolation", func(t *testing.T) {
		t.Parallel()
		c := newCluster(t, 2)
		o := newOut(t, c, "topic: t\npartitioner: manual\npartition: ${! @p }")
		err := write(o, service.MessageBatch{msg("a", "p", "0"), msg("b", "p", "zero")})
		require.Error(t, err)
		assert.Contains(t, err.Error(), `"zero" is not a partition number`)
		assert.Equal(t, []int{1}, failedIndexes(t, err))
		assert.Equal(t, []string{"a"}, values(consume(t, c, "t", 1)))
	})
}

// TestOutput_StreamNacksRefusedRecords checks the acknowledgement a
// producer of a Benthos stream sees: an error while the broker refuses the
// record, success once it accepts it.
func TestOutput_StreamNacksRefusedRecords(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 1)
	b := service.NewStreamBuilder()
	produce, err := b.AddProducerFunc()
	require.NoError(t, err)
	require.NoError(t, b.AddOutputYAML(fmt.Sprintf(`
kafka_franz:
  seed_brokers: [ %q ]
  topic: t
  timeout: 2s
`, c.ListenAddrs()[0])))
	require.NoError(t, b.SetLoggerYAML(`level: none`))
	strm, err := b.Build()
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- strm.Run(ctx) }()

	stop := refuseProduce(c, kerr.TopicAuthorizationFailed.Code)
	err = produce(ctx, msg("refused"))
	require.Error(t, err, "the producer sees the nack")
	stop()
	require.NoError(t, produce(ctx, msg("accepted")))
	assert.Equal(t, []string{"accepted"}, values(consume(t, c, "t", 1)))
	require.NoError(t, strm.Stop(ctx))
	require.NoError(t, <-done)
}

func TestOutput_SASL(t *testing.T) {
	t.Parallel()
	cases := []struct {
		mechanism, password string
		ok                  bool
	}{
		{"PLAIN", "secret", true},
		{"SCRAM-SHA-256", "secret", true},
		{"SCRAM-SHA-512", "secret", true},
		{"SCRAM-SHA-256", "wrong", false},
		{"PLAIN", "wrong", false},
	}
	for _, tc := range cases {
		t.Run(tc.mechanism+"/"+tc.password, func(t *testing.T) {
			t.Parallel()
			c := newCluster(t, 1, kfake.EnableSASL(), kfake.Superuser(tc.mechanism, "alice", "secret"))
			conf, err := outputSpec().ParseYAML(fmt.Sprintf(`
seed_brokers: [ %q ]
topic: t
sasl:
  - mechanism: none
  - mechanism: %s
    username: alice
    password: %s
`, c.ListenAddrs()[0], tc.mechanism, tc.password), nil)
			require.NoError(t, err)
			o, err := newOutput(conf, service.MockResources())
			require.NoError(t, err)
			defer o.Close(context.Background())
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err = o.Connect(ctx)
			if !tc.ok {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.NoError(t, write(o, service.MessageBatch{msg("authenticated")}))
			// Reading needs the credentials too.
			mechs, err := saslMechanisms(conf)
			require.NoError(t, err)
			cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumeTopics("t"),
				kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.SASL(mechs...))
			require.NoError(t, err)
			defer cl.Close()
			fs := cl.PollFetches(ctx)
			require.NoError(t, fs.Err())
			assert.Equal(t, []string{"authenticated"}, values(fs.Records()))
		})
	}
}

func TestOutput_SASLMechanismNames(t *testing.T) {
	t.Parallel()
	conf, err := outputSpec().ParseYAML(`
seed_brokers: [ "127.0.0.1:9092" ]
topic: t
sasl:
  - {mechanism: PLAIN, username: u, password: p}
  - {mechanism: SCRAM-SHA-256, username: u, password: p}
  - {mechanism: SCRAM-SHA-512, username: u, password: p}
  - {mechanism: OAUTHBEARER, token: tok, extensions: {a: b}}
  - {mechanism: none}
`, nil)
	require.NoError(t, err)
	mechs, err := saslMechanisms(conf)
	require.NoError(t, err)
	var names []string
	for _, m := range mechs {
		names = append(names, m.Name())
	}
	assert.Equal(t, []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"}, names)

	conf, err = outputSpec().ParseYAML("seed_brokers: [ x ]\ntopic: t\nsasl: [ {mechanism: OAUTHBEARER} ]", nil)
	require.NoError(t, err)
	_, err = saslMechanisms(conf)
	assert.ErrorContains(t, err, "OAUTHBEARER needs a token")
}

func TestOutput_CompressionAndIdempotence(t *testing.T) {
	t.Parallel()
	for _, yaml := range []string{
		"compression: none", "compression: snappy", "compression: lz4", "compression: gzip", "compression: zstd",
		"idempotent_write: false", "idempotent_write: false\ncompression: zstd",
	} {
		t.Run(yaml, func(t *testing.T) {
			t.Parallel()
			c := newCluster(t, 1)
			o := newOut(t, c, "topic: t\n"+yaml)
			big := strings.Repeat("compressible ", 500)
			var batch service.MessageBatch
			for i := range 20 {
				batch = append(batch, msg(strconv.Itoa(i)+big))
			}
			require.NoError(t, write(o, batch))
			recs := consume(t, c, "t", 20)
			for i, r := range recs {
				assert.Equal(t, strconv.Itoa(i)+big, string(r.Value))
			}
		})
	}
}

func TestOutput_SeedBrokersCommaSeparated(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 1)
	// The first address of the entry has no broker: the client finds the
	// cluster through the second.
	conf, err := outputSpec().ParseYAML(fmt.Sprintf("seed_brokers: [ \"127.0.0.1:1, %s\" ]\ntopic: t", c.ListenAddrs()[0]), nil)
	require.NoError(t, err)
	o, err := newOutput(conf, service.MockResources())
	require.NoError(t, err)
	defer o.Close(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	require.NoError(t, o.Connect(ctx))
	require.NoError(t, write(o, service.MessageBatch{msg("via the second seed")}))
	assert.Equal(t, []string{"via the second seed"}, values(consume(t, c, "t", 1)))
}

func TestOutput_ConnectFailsWithoutBroker(t *testing.T) {
	t.Parallel()
	conf, err := outputSpec().ParseYAML("seed_brokers: [ \"127.0.0.1:1\" ]\ntopic: t", nil)
	require.NoError(t, err)
	o, err := newOutput(conf, service.MockResources())
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	require.Error(t, o.Connect(ctx))
	assert.ErrorIs(t, o.WriteBatch(ctx, service.MessageBatch{msg("a")}), service.ErrNotConnected)
}

func TestOutput_ConfigErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, yaml, lint, build string
	}{
		{name: "partition without manual", yaml: "partition: '1'", lint: "partition is only used with partitioner: manual"},
		{name: "manual without partition", yaml: "partitioner: manual", lint: "partition must be set when partitioner is manual"},
		{name: "bad timeout", yaml: "timeout: soon", lint: "timeout: soon is not a valid non-negative duration"},
		{name: "unknown partitioner", yaml: "partitioner: sticky", lint: "sticky"},
		{name: "unknown compression", yaml: "compression: brotli", lint: "brotli"},
		{name: "unknown sasl mechanism", yaml: "sasl: [ {mechanism: GSSAPI} ]", lint: "GSSAPI"},
		{name: "bad size", yaml: "max_message_bytes: lots", build: "max_message_bytes"},
		{name: "size too small", yaml: "max_message_bytes: 100B", build: "at least 512B"},
		{name: "write max below message max", yaml: "max_message_bytes: 2MB\nbroker_write_max_bytes: 1MB", build: "must be at least max_message_bytes"},
		{name: "no brokers", yaml: "seed_brokers: [ ' , ' ]", build: "at least one broker"},
		{name: "max_in_flight zero", yaml: "max_in_flight: 0", build: "max_in_flight must be at least 1"},
		// Durations: lint refuses what the runtime refuses, zero included.
		{name: "zero timeout", yaml: "timeout: 0s", lint: "timeout: 0s is below the minimum of 1ms"},
		{name: "zero conn_idle_timeout", yaml: "conn_idle_timeout: 0s", lint: "conn_idle_timeout: 0s is below the minimum of 100ms"},
		{name: "zero request_timeout_overhead", yaml: "request_timeout_overhead: 0s", lint: "request_timeout_overhead: 0s is below the minimum of 100ms"},
		{name: "metadata_max_age below kgo's min age", yaml: "metadata_max_age: 1s", lint: "metadata_max_age: 1s is below the minimum of 5s"},
		{name: "metadata_max_age above an hour", yaml: "metadata_max_age: 2h", lint: "metadata_max_age: 2h is above the maximum of 1h0m0s"},
		{name: "zero transaction_timeout", yaml: "transactional_id: x\noffsets_topic: o\nmax_in_flight: 1\ntransaction_timeout: 0s", lint: "transaction_timeout: 0s is below the minimum of 1s"},
		// The combinations that cannot be exactly once.
		{name: "transactional without idempotence", yaml: "transactional_id: x\noffsets_topic: o\nmax_in_flight: 1\nidempotent_write: false", lint: "idempotent_write: false cannot be exactly once"},
		{name: "transactional with default max_in_flight", yaml: "transactional_id: x\noffsets_topic: o", lint: "max_in_flight: 10 cannot be exactly once with transactional_id"},
		{name: "transactional with max_in_flight 2", yaml: "transactional_id: x\noffsets_topic: o\nmax_in_flight: 2", lint: "max_in_flight: 2 cannot be exactly once with transactional_id"},
		{name: "transactional without offsets_topic", yaml: "transactional_id: x\nmax_in_flight: 1", lint: "offsets_topic must be set with transactional_id"},
		{name: "offsets_topic without transactional", yaml: "offsets_topic: o", lint: "offsets_topic is only used with transactional_id"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			yaml := tc.yaml
			if !strings.Contains(yaml, "seed_brokers") {
				yaml += "\nseed_brokers: [ 127.0.0.1:9092 ]"
			}
			b := service.NewStreamBuilder()
			err := b.AddOutputYAML("kafka_franz:\n  topic: t\n" + indent(yaml))
			if tc.lint != "" {
				var lints service.LintError
				require.ErrorAs(t, err, &lints)
				assert.Contains(t, err.Error(), tc.lint)
				return
			}
			require.NoError(t, err, "lint")
			require.NoError(t, b.AddInputYAML(`generate: {count: 1, mapping: 'root = "x"'}`))
			strm, err := b.Build()
			if err == nil {
				ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
				defer cancel()
				err = strm.Run(ctx)
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.build)
		})
	}
}

func indent(s string) string {
	lines := strings.Split(s, "\n")
	for i := range lines {
		lines[i] = "  " + lines[i]
	}
	return strings.Join(lines, "\n")
}

// benthosFieldsWithoutExamples are fields the output takes from Benthos'
// helpers (NewTLSToggledField, NewBatchPolicyField) that Benthos documents
// without an example; every field defined here has one.
var benthosFieldsWithoutExamples = []string{
	"tls", "tls.enabled", "tls.skip_cert_verify", "tls.enable_renegotiation",
	"tls.client_certs[].cert", "tls.client_certs[].key", "tls.client_certs[].cert_file", "tls.client_certs[].key_file",
	"batching.count", "batching.byte_size",
}

func TestOutput_EveryFieldHasDescriptionAndExample(t *testing.T) {
	t.Parallel()
	var view *service.ConfigView
	service.GlobalEnvironment().WalkOutputs(func(name string, v *service.ConfigView) {
		if name == "kafka_franz" {
			view = v
		}
	})
	require.NotNil(t, view, "kafka_franz is registered")
	td, err := view.TemplateData()
	require.NoError(t, err)
	assert.NotEmpty(t, td.Summary)
	assert.NotEmpty(t, td.Description)
	assert.NotEmpty(t, td.Examples)
	seen := map[string]bool{}
	for _, f := range td.Fields {
		seen[f.FullName] = true
		assert.NotEmpty(t, f.Description, "field %s has no description", f.FullName)
		if slices.Contains(benthosFieldsWithoutExamples, f.FullName) {
			assert.Empty(t, f.ExamplesMarshalled, "field %s now has an example: drop it from the list", f.FullName)
			continue
		}
		assert.NotEmpty(t, f.ExamplesMarshalled, "field %s has no example", f.FullName)
	}
	for _, name := range benthosFieldsWithoutExamples {
		assert.True(t, seen[name], "exempt field %s does not exist", name)
	}
	for _, name := range []string{"seed_brokers", "topic", "key", "partition", "partitioner", "client_id",
		"metadata.include_prefixes", "metadata.include_patterns", "max_in_flight", "batching", "timeout",
		"max_message_bytes", "compression", "idempotent_write", "tls", "sasl", "sasl[].mechanism",
		"transactional_id", "offsets_topic", "transaction_timeout"} {
		assert.True(t, seen[name], "field %s is missing", name)
	}
}

// The importable packages must stay free of franz-go and of this package,
// so that a Redpanda Connect build importing the input gets no second
// kafka_franz.
func TestInputDoesNotImportKafka(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-deps", "github.com/benthos-sse/benthos-sse", "github.com/benthos-sse/benthos-sse/input").CombinedOutput()
	require.NoError(t, err, "%s", out)
	for _, dep := range strings.Fields(string(out)) {
		assert.False(t, strings.HasPrefix(dep, "github.com/twmb/franz-go"), "the input imports %s", dep)
		assert.NotEqual(t, "github.com/benthos-sse/benthos-sse/cmd/benthos-sse/internal/kafka", dep, "the input imports the kafka output")
	}
}
