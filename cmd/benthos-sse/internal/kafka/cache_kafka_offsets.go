package kafka

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/benthos-sse/benthos-sse/input"
	"github.com/benthos-sse/benthos-sse/internal/kafkaread"
)

const (
	offsetsCacheName      = "kafka_offsets"
	offsetsFieldTimeout   = "timeout"
	offsetsFieldWriterCap = "writer_wait"
)

// The spec is written out in full, like the other components' here (same
// shape: field-name constants, then one chain): Benthos spec boilerplate
// that reads best inline, so it is not shared on purpose.
func offsetsCacheSpec() *service.ConfigSpec {
	return service.NewConfigSpec().
		Beta().
		Categories("Services").
		Summary("Serves the sse input the resume points that a transactional `kafka_franz` output commits to an offsets topic, together with the records: name it in the input's `checkpoint.cache` for exactly once from an SSE stream into Kafka.").
		Description(`
A read of a checkpoint key reads the offsets topic to its end as a `+"`read_committed`"+` consumer does, and answers
the newest value of the key: the resume point committed in the same transaction as the records of its stream.
"Its end" is the topic's high watermark at the time of the read, and the read waits until every transaction open at
that time has ended, so that a commit in progress is never missed; `+"`timeout`"+` bounds the wait.

The input only reads through this cache. Writes are refused: the resume points are written by the transactional
output inside its transactions, and a write outside them would be wrong whenever a transaction's outcome is
unknown. The cache declares this to the input, which then writes no checkpoints of its own and refuses
`+"`max_in_flight`"+` other than 1 and `+"`auto_replay_nacks: false`"+`.

Paired with no transactional `+"`kafka_franz`"+` output on the same `+"`topic`"+` in the process, nothing would ever
write the resume points and every start would begin from the stream's live end: the cache refuses that at start-up
(the binary exits 1 with the reason).`).
		Fields(
			seedBrokersField(),
			service.NewStringField(fieldTopic).
				Description("The offsets topic: the `offsets_topic` of the transactional `kafka_franz` output.").
				Example("sse-offsets").
				Example("${OFFSETS_TOPIC}"),
			clientIDField(),
			service.NewTLSToggledField(fieldTLS),
			saslField(),
			service.NewDurationField(offsetsFieldTimeout).
				Description("How long a read may take, waiting for transactions open on the offsets topic to end. A read that times out fails the input's connection attempt, which is retried.").
				Example("1m").
				Default("30s").
				LintRule(durationRule(offsetsFieldTimeout)),
			service.NewDurationField(offsetsFieldWriterCap).
				Description("How long the first read waits for the transactional `kafka_franz` output writing `topic` to be built in this process, before the cache refuses to serve resume points nobody writes.").
				Example("30s").
				Default("10s").
				LintRule(durationRule(offsetsFieldWriterCap)).
				Advanced(),
		).
		Example("Exactly once from an SSE stream into Kafka", "The input resumes from the resume point that the output commits with the records.", `
input:
  sse:
    url: https://stream.wikimedia.org/v2/stream/recentchange
    max_in_flight: 1
    checkpoint: {cache: offsets, key: recentchange}
cache_resources:
  - label: offsets
    kafka_offsets:
      seed_brokers: [ "${KAFKA_BROKERS:127.0.0.1:9092}" ]
      topic: sse-offsets
output:
  kafka_franz:
    seed_brokers: [ "${KAFKA_BROKERS:127.0.0.1:9092}" ]
    topic: recentchange
    key: ${! @sse_id }
    max_in_flight: 1
    transactional_id: recentchange-1
    offsets_topic: sse-offsets
`)
}

func init() {
	service.MustRegisterCache(offsetsCacheName, offsetsCacheSpec(),
		func(conf *service.ParsedConfig, res *service.Resources) (service.Cache, error) {
			conn, err := connOpts(conf, res)
			if err != nil {
				return nil, err
			}
			topic, err := conf.FieldString(fieldTopic)
			if err != nil {
				return nil, err
			}
			if topic == "" {
				return nil, errors.New("topic: the offsets topic is required")
			}
			c := &offsetsCache{conn: conn, topic: topic}
			if c.timeout, err = duration(conf, offsetsFieldTimeout); err != nil {
				return nil, err
			}
			if c.writerWait, err = duration(conf, offsetsFieldWriterCap); err != nil {
				return nil, err
			}
			return c, nil
		})
}

// offsetsCache is the kafka_offsets cache.
type offsetsCache struct {
	conn  []kgo.Opt
	topic string
	// table tails the offsets topic from the first read on, so that a read
	// costs one ListOffsets request rather than a read of the whole topic:
	// a fleet instance asks for the resume points of every stream it takes
	// over at once.
	tableOnce  sync.Once
	table      *kafkaread.Table
	timeout    time.Duration
	writerWait time.Duration
}

// errReadOnly is returned by every write.
var errReadOnly = errors.New("kafka_offsets: read-only: the resume points are written by the transactional kafka_franz output, inside its transactions")

// Get answers the input's reads: the owner marker, and the first slot of a
// checkpoint key with the resume point committed under it (the second slot
// and every other key are not found).
func (c *offsetsCache) Get(ctx context.Context, key string) ([]byte, error) {
	if ck, ok := strings.CutSuffix(key, input.OwnedMarkerSuffix); ok && ck != "" {
		return []byte(input.OwnedMarker), nil
	}
	ck, ok := input.OwnedCheckpointKey(key)
	if !ok {
		return nil, service.ErrKeyNotFound
	}
	wctx, cancel := context.WithTimeout(ctx, c.writerWait)
	found := offsetWriters.wait(wctx, c.topic)
	cancel()
	if !found {
		err := fmt.Errorf("kafka_offsets: no transactional kafka_franz output of this process writes the offsets topic %q: set its transactional_id and offsets_topic, or the resume points are never written", c.topic)
		stopProcess(err)
		return nil, err
	}
	ctx, cancel = context.WithTimeout(ctx, c.timeout)
	defer cancel()
	c.tableOnce.Do(func() { c.table = kafkaread.NewTable(c.conn, c.topic) })
	v, ok, err := c.table.Get(ctx, ck)
	if err != nil {
		return nil, fmt.Errorf("kafka_offsets: reading offsets topic %q: %w", c.topic, err)
	}
	if !ok {
		return nil, service.ErrKeyNotFound
	}
	return input.EncodeOwnedCheckpoint(v), nil
}

func (*offsetsCache) Set(context.Context, string, []byte, *time.Duration) error { return errReadOnly }
func (*offsetsCache) Add(context.Context, string, []byte, *time.Duration) error { return errReadOnly }
func (*offsetsCache) Delete(context.Context, string) error                      { return errReadOnly }

// Close stops the offsets topic's tail.
func (c *offsetsCache) Close(context.Context) error {
	c.tableOnce.Do(func() {}) // no table after Close
	if c.table != nil {
		c.table.Close()
	}
	return nil
}
