// Package kafka registers the `kafka_franz` output of the benthos-sse
// binary: it writes messages to Kafka with the franz-go client (kgo) and
// acknowledges a batch only once the broker has acknowledged every record of
// it. Only cmd/benthos-sse imports this package, so a Redpanda Connect build
// that imports the `sse` input gets no second `kafka_franz`.
package kafka

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dustin/go-humanize"

	benthossse "github.com/benthos-sse/benthos-sse"
	"github.com/benthos-sse/benthos-sse/cmd/benthos-sse/internal/fleet"
	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/oauth"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

const (
	fieldSeedBrokers     = "seed_brokers"
	fieldTopic           = "topic"
	fieldKey             = "key"
	fieldPartitioner     = "partitioner"
	fieldPartition       = "partition"
	fieldClientID        = "client_id"
	fieldIdempotentWrite = "idempotent_write"
	fieldMetadata        = "metadata"
	fieldTimestampMs     = "timestamp_ms"
	fieldTimeout         = "timeout"
	fieldBatching        = "batching"
	fieldMaxMessageBytes = "max_message_bytes"
	fieldBrokerWriteMax  = "broker_write_max_bytes"
	fieldCompression     = "compression"
	fieldTLS             = "tls"
	fieldSASL            = "sasl"
	fieldMetadataMaxAge  = "metadata_max_age"
	fieldReqTimeoutExtra = "request_timeout_overhead"
	fieldConnIdleTimeout = "conn_idle_timeout"
	fieldAutoTopicCreate = "allow_auto_topic_creation"
	fieldTransactionalID = "transactional_id"
	fieldOffsetsTopic    = "offsets_topic"
	fieldTxnTimeout      = "transaction_timeout"
	fieldSASLMechanism   = "mechanism"
	fieldSASLUsername    = "username"
	fieldSASLPassword    = "password"
	fieldSASLToken       = "token"
	fieldSASLExtensions  = "extensions"
	partitionerManual    = "manual"
)

// durationBounds are the durations each duration field accepts, from the
// first to the second (0: no maximum): franz-go's own limits (kgo's
// cfg.validate), and above zero for the output's own timeout, which a
// zero would expire before any write. The lint rule and the parsing code
// both use them, so lint refuses exactly what would fail at run time.
var durationBounds = map[string][2]time.Duration{
	fieldTimeout:          {time.Millisecond, 0},
	fieldMetadataMaxAge:   {5 * time.Second, time.Hour}, // not below kgo's metadata min age, 5s
	fieldReqTimeoutExtra:  {100 * time.Millisecond, 15 * time.Minute},
	fieldConnIdleTimeout:  {100 * time.Millisecond, 15 * time.Minute},
	fieldTxnTimeout:       {time.Second, 15 * time.Minute}, // Kafka's default transaction.max.timeout.ms
	offsetsFieldWriterCap: {time.Millisecond, 0},           // kafka_offsets; its timeout is fieldTimeout's
}

// durationRule is the lint rule of a duration field: lint does not parse
// durations by itself.
func durationRule(name string) string {
	b := durationBounds[name]
	return benthossse.DurationRangeRule(name, b[0], b[1])
}

// duration reads a duration field, refusing what its lint rule refuses.
func duration(conf *service.ParsedConfig, name string) (time.Duration, error) {
	v, err := conf.FieldDuration(name)
	if err != nil {
		return 0, err
	}
	b := durationBounds[name]
	if v < b[0] || b[1] > 0 && v > b[1] {
		if b[1] > 0 {
			return 0, fmt.Errorf("%s: %v is not between %v and %v", name, v, b[0], b[1])
		}
		return 0, fmt.Errorf("%s: %v is below the minimum of %v", name, v, b[0])
	}
	return v, nil
}

// The spec is written out in full, like the other components' here (same
// shape: field-name constants, then one chain): Benthos spec boilerplate
// that reads best inline, so it is not shared on purpose.
func outputSpec() *service.ConfigSpec {
	return service.NewConfigSpec().
		Beta().
		Categories("Services").
		Summary("Writes messages to Kafka topics with the franz-go client, acknowledging a batch only once the brokers have acknowledged every record of it.").
		Description(`
The field names and defaults are those of Redpanda Connect's `+"`kafka_franz`"+` output, so a Connect config
carries over; where this one differs, the field's description says so. Not implemented: `+"`rack_id`"+` (franz-go
uses it only to consume), `+"`tcp`"+` (dialer tuning), the SASL mechanism `+"`AWS_MSK_IAM`"+` with its `+"`aws`"+`
fields, and the deprecated `+"`timestamp`"+`.

A batch is written with one produce call per message, and `+"`WriteBatch`"+` returns only when the brokers have
acknowledged every record (with `+"`acks=all`"+`). A record that fails (the broker refused it, it is larger than
`+"`max_message_bytes`"+`, or `+"`timeout`"+` passed) nacks its message alone; the others of the batch are
acknowledged. An input with a checkpoint, such as `+"`sse`"+`, therefore never moves its resume point past an
event that Kafka does not hold, and a nacked event is delivered again (with `+"`auto_replay_nacks: true`"+`).

Message metadata selected by `+"`metadata`"+` becomes record headers: `+"`include_prefixes: [ sse_ ]`"+` carries
`+"`sse_id`"+` and `+"`sse_event`"+` with every record.

With `+"`max_in_flight: 1`"+` batches are written one at a time, and records of one partition keep the order of
the stream while the brokers accept them (idempotent writes keep the client's retries in order too). A batch that
fails is replayed by the input after later ones may have been written, so after a failure a partition can hold an
event again, after events that followed it.`).
		Fields(
			seedBrokersField(),
			service.NewInterpolatedStringField(fieldTopic).
				Description("The topic to write each message to.").
				Example("sse-events").
				Example(`${! @sse_event }`),
			service.NewInterpolatedStringField(fieldKey).
				Description("The record key of each message. Unset, records have no key.").
				Example(`${! @sse_id }`).
				Optional(),
			service.NewStringEnumField(fieldPartitioner, "murmur2_hash", "round_robin", "least_backup", partitionerManual).
				Description("How records are spread over the partitions of a topic. `murmur2_hash`: by the Kafka (Java client) murmur2 hash of the key, with records without a key sticking to one partition per batch. `round_robin`: one partition after the other. `least_backup`: the partition with the fewest records waiting. `manual`: the partition given by `partition`. Unset: franz-go's default, which hashes keys with murmur2 too and spreads records without a key by bytes written.").
				Example("murmur2_hash").
				Example(partitionerManual).
				Optional().
				Advanced(),
			service.NewInterpolatedStringField(fieldPartition).
				Description("The partition of each message, an integer. Only used, and then required, with `partitioner: manual`.").
				Example(`${! @partition }`).
				Example("0").
				Optional(),
			clientIDField(),
			service.NewBoolField(fieldIdempotentWrite).
				Description("Write idempotently: the brokers drop a record the client sends again after a lost response, and keep the records of a partition in the order sent. It needs the `IDEMPOTENT_WRITE` permission on the cluster; set it to `false` where that is not granted.").
				Example(false).
				Default(true).
				Advanced(),
			service.NewMetadataFilterField(fieldMetadata).
				Description("Which message metadata becomes record headers (key = metadata key, value = its string value). By default none does.").
				Example(map[string]any{"include_prefixes": []string{"sse_"}}).
				Example(map[string]any{"include_patterns": []string{"^sse_(id|event)$"}}).
				Optional(),
			service.NewInterpolatedStringField(fieldTimestampMs).
				Description("The record timestamp, in milliseconds since the Unix epoch. Unset: the time the record is written.").
				Example(`${! timestamp_unix_milli() }`).
				Example(`${! metadata("kafka_timestamp_ms") }`).
				Optional().
				Advanced(),
			service.NewOutputMaxInFlightField().
				Description("The maximum number of batches written at once. Use 1 to keep the stream's order within a partition.").
				Example(1).
				Default(10),
			service.NewDurationField(fieldTimeout).
				Description("How long writing a batch may wait for the brokers to acknowledge its records. When it passes, the records not yet acknowledged fail, their messages are nacked and the input delivers them again. The client checks it before sending a request and after a response, so a write that waits on retries can take a few seconds longer.").
				Example("30s").
				Default("10s").
				LintRule(durationRule(fieldTimeout)).
				Advanced(),
			service.NewBatchPolicyField(fieldBatching).
				Description("Groups messages into batches before they are written; a batch is written as one produce call per message, which the client groups into requests by partition.").
				Example(map[string]any{"count": 100, "period": "50ms"}),
			service.NewStringField(fieldMaxMessageBytes).
				Description("The largest record batch, before compression, that the client sends: Kafka's `max.message.bytes`. A record larger than this fails (its message is nacked) without reaching the broker. Units: `B`, `KB`, `MB`, `KiB`, `MiB`, ...").
				Example("100B").
				Example("50mib").
				Default("1MB").
				Advanced(),
			service.NewStringField(fieldBrokerWriteMax).
				Description("The largest request the client writes to a broker, at least `max_message_bytes`: Kafka's `socket.request.max.bytes`.").
				Example("128MB").
				Example("50mib").
				Default("100MB").
				Advanced(),
			service.NewStringEnumField(fieldCompression, "none", "snappy", "lz4", "gzip", "zstd").
				Description("The compression of record batches. Unset: franz-go's default, snappy (a batch that does not get smaller is sent uncompressed).").
				Example("lz4").
				Example("none").
				Optional().
				Advanced(),
			service.NewTLSToggledField(fieldTLS),
			saslField(),
			service.NewDurationField(fieldMetadataMaxAge).
				Description("How often the client refreshes the cluster's metadata (brokers, partitions, leaders) without a reason to.").
				Example("5m").
				Default("1m").
				LintRule(durationRule(fieldMetadataMaxAge)).
				Advanced(),
			service.NewDurationField(fieldReqTimeoutExtra).
				Description("Added to a request's own timeout to bound how long the client waits for the response before it closes the connection.").
				Example("5s").
				Default("10s").
				LintRule(durationRule(fieldReqTimeoutExtra)).
				Advanced(),
			service.NewDurationField(fieldConnIdleTimeout).
				Description("How long an idle connection to a broker stays open.").
				Example("1m").
				Default("20s").
				LintRule(durationRule(fieldConnIdleTimeout)).
				Advanced(),
			service.NewBoolField(fieldAutoTopicCreate).
				Description("Let the brokers create a topic that does not exist when it is first written to (if the cluster allows it).").
				Example(false).
				Default(true).
				Advanced(),
		).
		Fields(transactionFields()...).
		LintRule(`root = match {
  this.partitioner.or("") == "manual" && this.partition.or("") == "" => [ "partition must be set when partitioner is manual" ],
  this.partitioner.or("") != "manual" && this.partition.or("") != "" => [ "partition is only used with partitioner: manual" ],`+transactionLint+`
}`).
		Example("SSE to Kafka", "Every event becomes a record keyed by its ID, with `sse_id` and `sse_event` as headers; one batch at a time keeps the stream's order.", `
input:
  sse:
    url: https://stream.wikimedia.org/v2/stream/recentchange
    checkpoint: {cache: checkpoints, key: recentchange}
output:
  kafka_franz:
    seed_brokers: [ "${KAFKA_BROKERS:127.0.0.1:9092}" ]
    topic: recentchange
    key: ${! @sse_id }
    metadata:
      include_prefixes: [ sse_ ]
    max_in_flight: 1
    batching: {count: 100, period: 50ms}
`)
}

// The fields every component of this package shares, as Connect's Kafka
// components name them.

func seedBrokersField() *service.ConfigField {
	return service.NewStringListField(fieldSeedBrokers).
		Description("A list of broker addresses to connect to, as `host:port`. An entry may hold several addresses separated by commas.").
		Example([]string{"localhost:9092"}).
		Example([]string{"foo:9092", "bar:9092"}).
		Example([]string{"foo:9092,bar:9092"})
}

func clientIDField() *service.ConfigField {
	return service.NewStringField(fieldClientID).
		Description("The client ID the brokers see. Redpanda Connect defaults to its own product name; this binary defaults to `benthos-sse`.").
		Example("my-pipeline").
		Default("benthos-sse").
		Advanced()
}

func saslField() *service.ConfigField {
	return service.NewObjectListField(fieldSASL,
		service.NewStringEnumField(fieldSASLMechanism, "none", "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER").
			Description("The SASL mechanism. `none` skips the entry. Connect's `AWS_MSK_IAM` is not available in this binary.").
			Example("SCRAM-SHA-512"),
		service.NewStringField(fieldSASLUsername).
			Description("The user name, for `PLAIN` and `SCRAM-*`.").
			Example("${KAFKA_USER}").
			Default(""),
		service.NewStringField(fieldSASLPassword).
			Description("The password, for `PLAIN` and `SCRAM-*`.").
			Example("${KAFKA_PASSWORD}").
			Default("").
			Secret(),
		service.NewStringField(fieldSASLToken).
			Description("The OAuth bearer token, for `OAUTHBEARER`.").
			Example("${KAFKA_TOKEN}").
			Default("").
			Secret(),
		service.NewStringMapField(fieldSASLExtensions).
			Description("Key/value pairs sent with the token, for `OAUTHBEARER`.").
			Example(map[string]string{"logicalCluster": "lkc-123"}).
			Optional(),
	).
		Description("SASL authentication, tried in the order given until a mechanism the brokers support is found.").
		Example([]map[string]any{{"mechanism": "SCRAM-SHA-512", "username": "${KAFKA_USER}", "password": "${KAFKA_PASSWORD}"}}).
		Optional().
		Advanced()
}

func init() {
	service.MustRegisterBatchOutput("kafka_franz", outputSpec(),
		func(conf *service.ParsedConfig, res *service.Resources) (service.BatchOutput, service.BatchPolicy, int, error) {
			out, err := newOutput(conf, res)
			if err != nil {
				return nil, service.BatchPolicy{}, 0, err
			}
			policy, err := conf.FieldBatchPolicy(fieldBatching)
			if err != nil {
				return nil, service.BatchPolicy{}, 0, err
			}
			maxInFlight, err := conf.FieldMaxInFlight()
			if err != nil {
				return nil, service.BatchPolicy{}, 0, err
			}
			if maxInFlight < 1 {
				return nil, service.BatchPolicy{}, 0, fmt.Errorf("max_in_flight must be at least 1, not %d", maxInFlight)
			}
			return out, policy, maxInFlight, nil
		})
}

// output is the kafka_franz output.
type output struct {
	opts      []kgo.Opt
	topic     *service.InterpolatedString
	key       *service.InterpolatedString // nil: no key
	partition *service.InterpolatedString // nil: the partitioner chooses
	timestamp *service.InterpolatedString // nil: the write time
	headers   *service.MetadataFilter
	timeout   time.Duration
	log       *service.Logger

	txn *transaction // nil without transactional_id

	mu     sync.Mutex
	client *kgo.Client
}

func newOutput(conf *service.ParsedConfig, res *service.Resources) (*output, error) {
	o := &output{log: res.Logger()}
	conn, err := connOpts(conf, res)
	if err != nil {
		return nil, err
	}
	if o.topic, err = conf.FieldInterpolatedString(fieldTopic); err != nil {
		return nil, err
	}
	if conf.Contains(fieldKey) {
		if o.key, err = conf.FieldInterpolatedString(fieldKey); err != nil {
			return nil, err
		}
	}
	if conf.Contains(fieldTimestampMs) {
		if o.timestamp, err = conf.FieldInterpolatedString(fieldTimestampMs); err != nil {
			return nil, err
		}
	}
	if conf.Contains(fieldMetadata) {
		if o.headers, err = conf.FieldMetadataFilter(fieldMetadata); err != nil {
			return nil, err
		}
	}
	if o.timeout, err = duration(conf, fieldTimeout); err != nil {
		return nil, err
	}

	o.opts = append(conn,
		kgo.RequiredAcks(kgo.AllISRAcks()),
		// The partition's records wait no longer than the batch does.
		kgo.ProducerLinger(0),
	)

	partitioner := ""
	if conf.Contains(fieldPartitioner) {
		if partitioner, err = conf.FieldString(fieldPartitioner); err != nil {
			return nil, err
		}
	}
	hasPartition := conf.Contains(fieldPartition)
	switch {
	case partitioner == partitionerManual && !hasPartition:
		return nil, errors.New("partition must be set when partitioner is manual")
	case partitioner != partitionerManual && hasPartition:
		return nil, errors.New("partition is only used with partitioner: manual")
	}
	switch partitioner {
	case "":
	case "murmur2_hash":
		o.opts = append(o.opts, kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)))
	case "round_robin":
		o.opts = append(o.opts, kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	case "least_backup":
		o.opts = append(o.opts, kgo.RecordPartitioner(kgo.LeastBackupPartitioner()))
	case partitionerManual:
		o.opts = append(o.opts, kgo.RecordPartitioner(kgo.ManualPartitioner()))
		if o.partition, err = conf.FieldInterpolatedString(fieldPartition); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("partitioner: unknown %q", partitioner)
	}

	idempotent, err := conf.FieldBool(fieldIdempotentWrite)
	if err != nil {
		return nil, err
	}
	if !idempotent {
		o.opts = append(o.opts, kgo.DisableIdempotentWrite())
	}

	maxMessage, err := byteSize(conf, fieldMaxMessageBytes)
	if err != nil {
		return nil, err
	}
	brokerWrite, err := byteSize(conf, fieldBrokerWriteMax)
	if err != nil {
		return nil, err
	}
	if maxMessage < 512 {
		return nil, fmt.Errorf("max_message_bytes must be at least 512B, not %dB", maxMessage)
	}
	if brokerWrite < maxMessage {
		return nil, fmt.Errorf("broker_write_max_bytes (%dB) must be at least max_message_bytes (%dB)", brokerWrite, maxMessage)
	}
	o.opts = append(o.opts, kgo.ProducerBatchMaxBytes(maxMessage), kgo.BrokerMaxWriteBytes(brokerWrite))

	if conf.Contains(fieldCompression) {
		name, err := conf.FieldString(fieldCompression)
		if err != nil {
			return nil, err
		}
		codec, err := compressionCodec(name)
		if err != nil {
			return nil, err
		}
		o.opts = append(o.opts, kgo.ProducerBatchCompression(codec))
	}

	for _, d := range []struct {
		field string
		opt   func(time.Duration) kgo.Opt
	}{
		{fieldMetadataMaxAge, kgo.MetadataMaxAge},
		{fieldReqTimeoutExtra, kgo.RequestTimeoutOverhead},
		{fieldConnIdleTimeout, kgo.ConnIdleTimeout},
	} {
		v, err := duration(conf, d.field)
		if err != nil {
			return nil, err
		}
		o.opts = append(o.opts, d.opt(v))
	}
	autoCreate, err := conf.FieldBool(fieldAutoTopicCreate)
	if err != nil {
		return nil, err
	}
	if autoCreate {
		o.opts = append(o.opts, kgo.AllowAutoTopicCreation())
	}
	if err := o.parseTransaction(conf, idempotent, conn); err != nil {
		return nil, err
	}
	return o, nil
}

// connOpts are the client options of the fields every component of this
// package shares: seed_brokers, client_id, tls and sasl.
func connOpts(conf *service.ParsedConfig, res *service.Resources) ([]kgo.Opt, error) {
	entries, err := conf.FieldStringList(fieldSeedBrokers)
	if err != nil {
		return nil, err
	}
	brokers := fleet.SplitBrokers(entries)
	if len(brokers) == 0 {
		return nil, errors.New("seed_brokers: at least one broker address is required")
	}
	clientID, err := conf.FieldString(fieldClientID)
	if err != nil {
		return nil, err
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(brokers...),
		kgo.ClientID(clientID),
		kgo.WithLogger(kgoLogger{res.Logger()}),
	}
	tlsConf, tlsOn, err := conf.FieldTLSToggled(fieldTLS)
	if err != nil {
		return nil, err
	}
	if tlsOn {
		opts = append(opts, kgo.DialTLSConfig(tlsConf))
	}
	if conf.Contains(fieldSASL) {
		mechs, err := saslMechanisms(conf)
		if err != nil {
			return nil, err
		}
		if len(mechs) > 0 {
			opts = append(opts, kgo.SASL(mechs...))
		}
	}
	return opts, nil
}

// byteSize reads a size such as "1MB" or "50mib".
func byteSize(conf *service.ParsedConfig, field string) (int32, error) {
	s, err := conf.FieldString(field)
	if err != nil {
		return 0, err
	}
	n, err := humanize.ParseBytes(s)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", field, err)
	}
	if n > math.MaxInt32 {
		return 0, fmt.Errorf("%s: %s is more than 2GiB", field, s)
	}
	return int32(n), nil
}

func compressionCodec(name string) (kgo.CompressionCodec, error) {
	switch name {
	case "none":
		return kgo.NoCompression(), nil
	case "snappy":
		return kgo.SnappyCompression(), nil
	case "lz4":
		return kgo.Lz4Compression(), nil
	case "gzip":
		return kgo.GzipCompression(), nil
	case "zstd":
		return kgo.ZstdCompression(), nil
	}
	return kgo.CompressionCodec{}, fmt.Errorf("compression: unknown %q", name)
}

// The field reads are written out one by one, as in the other components'
// config readers: Benthos boilerplate, kept inline on purpose so that each
// error points at its own field.
func saslMechanisms(conf *service.ParsedConfig) ([]sasl.Mechanism, error) {
	entries, err := conf.FieldObjectList(fieldSASL)
	if err != nil {
		return nil, err
	}
	var mechs []sasl.Mechanism
	for i, e := range entries {
		mech, err := e.FieldString(fieldSASLMechanism)
		if err != nil {
			return nil, err
		}
		user, err := e.FieldString(fieldSASLUsername)
		if err != nil {
			return nil, err
		}
		pass, err := e.FieldString(fieldSASLPassword)
		if err != nil {
			return nil, err
		}
		switch mech {
		case "none":
		case "PLAIN":
			mechs = append(mechs, plain.Auth{User: user, Pass: pass}.AsMechanism())
		case "SCRAM-SHA-256":
			mechs = append(mechs, scram.Auth{User: user, Pass: pass}.AsSha256Mechanism())
		case "SCRAM-SHA-512":
			mechs = append(mechs, scram.Auth{User: user, Pass: pass}.AsSha512Mechanism())
		case "OAUTHBEARER":
			token, err := e.FieldString(fieldSASLToken)
			if err != nil {
				return nil, err
			}
			if token == "" {
				return nil, fmt.Errorf("sasl[%d]: OAUTHBEARER needs a token", i)
			}
			var ext map[string]string
			if e.Contains(fieldSASLExtensions) {
				if ext, err = e.FieldStringMap(fieldSASLExtensions); err != nil {
					return nil, err
				}
			}
			mechs = append(mechs, oauth.Auth{Token: token, Extensions: ext}.AsMechanism())
		default:
			return nil, fmt.Errorf("sasl[%d]: unknown mechanism %q", i, mech)
		}
	}
	return mechs, nil
}

// Connect creates the client and checks that a broker answers.
func (o *output) Connect(ctx context.Context) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.client != nil {
		return nil
	}
	cl, err := kgo.NewClient(o.opts...)
	if err != nil {
		return err
	}
	if err := cl.Ping(ctx); err != nil {
		cl.Close()
		return fmt.Errorf("no Kafka broker answered: %w", err)
	}
	if o.txn != nil {
		if err := o.connectTransaction(ctx, cl); err != nil {
			cl.Close()
			return err
		}
	}
	o.client = cl
	return nil
}

// WriteBatch produces every message of the batch and returns once the
// brokers acknowledged all of them, or with the failed ones marked in a
// service.BatchError (the others are acknowledged).
func (o *output) WriteBatch(ctx context.Context, batch service.MessageBatch) error {
	o.mu.Lock()
	cl := o.client
	o.mu.Unlock()
	if cl == nil {
		return service.ErrNotConnected
	}
	if o.txn != nil {
		return o.writeTransaction(ctx, cl, batch)
	}

	errs := make([]error, len(batch))
	records := make([]*kgo.Record, len(batch))
	x := o.executors(batch)
	for i := range batch {
		records[i], errs[i] = o.record(x, batch, i)
	}

	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	var wg sync.WaitGroup
	for i, r := range records {
		if r == nil {
			continue
		}
		wg.Add(1)
		cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
			errs[i] = err
			wg.Done()
		})
	}
	wg.Wait()

	var batchErr *service.BatchError
	for i, err := range errs {
		if err == nil {
			continue
		}
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("not acknowledged within timeout %v: %w", o.timeout, err)
		}
		if batchErr == nil {
			batchErr = service.NewBatchError(batch, fmt.Errorf("kafka_franz: %d of %d records failed, first: %w", countErrs(errs), len(batch), err))
		}
		batchErr.Failed(i, err)
	}
	if batchErr != nil {
		return batchErr
	}
	return nil
}

func countErrs(errs []error) int {
	n := 0
	for _, err := range errs {
		if err != nil {
			n++
		}
	}
	return n
}

// executors resolve the output's interpolations on one batch. Building
// one converts the batch once, where MessageBatch.TryInterpolatedString
// converts it on every call: quadratic in the batch size, which made a
// batch of 8192 events take 2,942 events/s.
type executors struct {
	topic, key, partition, timestamp *service.MessageBatchInterpolationExecutor
}

func (o *output) executors(batch service.MessageBatch) *executors {
	x := &executors{topic: batch.InterpolationExecutor(o.topic)}
	if o.key != nil {
		x.key = batch.InterpolationExecutor(o.key)
	}
	if o.partition != nil {
		x.partition = batch.InterpolationExecutor(o.partition)
	}
	if o.timestamp != nil {
		x.timestamp = batch.InterpolationExecutor(o.timestamp)
	}
	return x
}

// record builds the record of message i of batch, resolving the
// interpolations with x.
func (o *output) record(x *executors, batch service.MessageBatch, i int) (*kgo.Record, error) {
	msg := batch[i]
	value, err := msg.AsBytes()
	if err != nil {
		return nil, err
	}
	r := &kgo.Record{Value: value}
	if r.Topic, err = x.topic.TryString(i); err != nil {
		return nil, fmt.Errorf("topic: %w", err)
	}
	if r.Topic == "" {
		return nil, errors.New("topic: the interpolation gave an empty topic")
	}
	if o.key != nil {
		if r.Key, err = x.key.TryBytes(i); err != nil {
			return nil, fmt.Errorf("key: %w", err)
		}
	}
	if o.partition != nil {
		s, err := x.partition.TryString(i)
		if err != nil {
			return nil, fmt.Errorf("partition: %w", err)
		}
		p, err := strconv.ParseInt(strings.TrimSpace(s), 10, 32)
		if err != nil || p < 0 {
			return nil, fmt.Errorf("partition: %q is not a partition number", s)
		}
		r.Partition = int32(p)
	}
	if o.timestamp != nil {
		s, err := x.timestamp.TryString(i)
		if err != nil {
			return nil, fmt.Errorf("timestamp_ms: %w", err)
		}
		ms, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("timestamp_ms: %q is not a number of milliseconds", s)
		}
		r.Timestamp = time.UnixMilli(ms)
	}
	if err := o.headers.Walk(msg, func(k, v string) error {
		r.Headers = append(r.Headers, kgo.RecordHeader{Key: k, Value: []byte(v)})
		return nil
	}); err != nil {
		return nil, err
	}
	return r, nil
}

// Close closes the client; WriteBatch has already waited for every record
// it produced.
func (o *output) Close(context.Context) error {
	o.mu.Lock()
	cl := o.client
	o.client = nil
	o.mu.Unlock()
	if cl != nil {
		cl.Close()
	}
	return nil
}

// kgoLogger passes franz-go's warnings and errors to the Benthos logger.
type kgoLogger struct{ l *service.Logger }

func (kgoLogger) Level() kgo.LogLevel { return kgo.LogLevelWarn }

func (k kgoLogger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	l := k.l.With(keyvals...)
	switch level {
	case kgo.LogLevelError:
		l.Error(msg)
	case kgo.LogLevelWarn:
		l.Warn(msg)
	default:
		l.Debug(msg)
	}
}
