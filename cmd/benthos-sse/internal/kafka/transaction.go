package kafka

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	benthossse "github.com/benthos-sse/benthos-sse"
	"github.com/benthos-sse/benthos-sse/cmd/benthos-sse/internal/fleet"
	"github.com/benthos-sse/benthos-sse/internal/kafkaread"
)

// The transactional mode of kafka_franz: each batch is one Kafka
// transaction holding the batch's records and, per SSE stream in the batch,
// the stream's new resume point, written to the offsets topic under the
// stream's checkpoint key. The kafka_offsets cache reads those back for the
// sse input, so the resume point an input starts from is always the one
// committed with the records.

// transactionFields are the fields of the transactional mode.
func transactionFields() []*service.ConfigField {
	return []*service.ConfigField{
		service.NewStringField(fieldTransactionalID).
			Description("Write every batch in one Kafka transaction under this transactional ID, together with the resume point of each SSE stream in the batch, which goes to `offsets_topic`: a `read_committed` consumer then sees every event exactly once (see the README's exactly-once section). The ID must be stable for one instance, so that its restart fences what its previous run left open, and unique across instances that run at once: a second instance started with the same ID fences the first, which then exits 1. Needs `idempotent_write: true` and `max_in_flight: 1`; the sse input needs `max_in_flight: 1` and a `kafka_offsets` cache on the same `offsets_topic` as its `checkpoint.cache`. Unset: no transactions (at least once).").
			Example("sse-recentchange-1").
			Example("${TRANSACTIONAL_ID}").
			Optional(),
		service.NewStringField(fieldOffsetsTopic).
			Description("With `transactional_id`: the topic the resume points are committed to, one record per SSE stream and batch, keyed by the stream's checkpoint key (`sse_checkpoint_key` metadata), with the resume point (`sse_resume_point`) as plain text. A compacted topic; created with one partition and `cleanup.policy=compact` when it does not exist. Messages without `sse_checkpoint_key` add no resume point.").
			Example("sse-offsets").
			Example("${OFFSETS_TOPIC}").
			Optional(),
		service.NewDurationField(fieldTxnTimeout).
			Description("With `transactional_id`: how long the brokers let a transaction stay open before they abort it (Kafka's `transaction.timeout.ms`). A crashed instance's open transaction holds back `read_committed` consumers of its partitions until then, or until its restart fences it; a batch must be written and committed within it. Also how long a commit may wait for a broker that is down.").
			Example("30s").
			Default("1m").
			LintRule(durationRule(fieldTxnTimeout)).
			Advanced(),
	}
}

// transactionLint refuses the combinations that cannot be exactly once,
// each naming its field.
const transactionLint = `
  this.transactional_id.or("") != "" && this.offsets_topic.or("") == "" => [ "offsets_topic must be set with transactional_id: the resume points are committed there" ],
  this.transactional_id.or("") == "" && this.offsets_topic.or("") != "" => [ "offsets_topic is only used with transactional_id" ],
  this.transactional_id.or("") != "" && this.idempotent_write.or(true) == false => [ "idempotent_write: false cannot be exactly once: transactional_id needs idempotent writes" ],
  this.transactional_id.or("") != "" && this.max_in_flight.or(10) != 1 => [ "max_in_flight: %v cannot be exactly once with transactional_id: batches must commit one at a time, in order".format(this.max_in_flight.or(10)) ],`

// transaction is the state of the transactional mode; an output without
// transactional_id has none.
type transaction struct {
	id           string
	offsetsTopic string
	timeout      time.Duration // transaction_timeout
	conn         []kgo.Opt     // connection options, for reading the offsets topic

	// Owned by WriteBatch, which max_in_flight: 1 serialises.
	open      bool              // a transaction is open in the client
	failed    error             // set once the process must stop: every later write fails with it
	committed map[string]string // the resume point committed last, per checkpoint key (absent: none)
}

func (o *output) parseTransaction(conf *service.ParsedConfig, idempotent bool, conn []kgo.Opt) error {
	id, err := optionalString(conf, fieldTransactionalID)
	offsets := ""
	if err == nil {
		offsets, err = optionalString(conf, fieldOffsetsTopic)
	}
	switch {
	case err != nil:
		return err
	case id == "" && offsets != "":
		return errors.New("offsets_topic is only used with transactional_id")
	case id == "":
		return nil
	case offsets == "":
		return errors.New("offsets_topic must be set with transactional_id: the resume points are committed there")
	}
	t := &transaction{id: id, offsetsTopic: offsets, conn: conn, committed: map[string]string{}}
	if !idempotent {
		return errors.New("idempotent_write: false cannot be exactly once: transactional_id needs idempotent writes")
	}
	if n, err := conf.FieldMaxInFlight(); err != nil || n != 1 {
		if err != nil {
			return err
		}
		return fmt.Errorf("max_in_flight: %d cannot be exactly once with transactional_id: batches must commit one at a time, in order", n)
	}
	if t.timeout, err = duration(conf, fieldTxnTimeout); err != nil {
		return err
	}
	o.opts = append(o.opts, kgo.TransactionalID(id), kgo.TransactionTimeout(t.timeout))
	o.txn = t
	offsetWriters.add(t.offsetsTopic)
	return nil
}

// optionalString reads an optional string field: "" when it is unset.
func optionalString(conf *service.ParsedConfig, name string) (string, error) {
	if !conf.Contains(name) {
		return "", nil
	}
	return conf.FieldString(name)
}

// connectTransaction creates the offsets topic when it is missing, and
// initialises the producer ID now rather than at the first batch: that
// fences an earlier instance with the same transactional ID and aborts the
// transaction it left open, which the kafka_offsets cache of this process
// may be waiting on before the input can start.
func (o *output) connectTransaction(ctx context.Context, cl *kgo.Client) error {
	t := o.txn
	adm := kadm.NewClient(cl)
	topics, err := adm.ListTopics(ctx, t.offsetsTopic)
	if err != nil {
		return fmt.Errorf("offsets_topic %q: %w", t.offsetsTopic, err)
	}
	if !topics.Has(t.offsetsTopic) {
		compact := "compact"
		resp, err := adm.CreateTopic(ctx, 1, -1, map[string]*string{"cleanup.policy": &compact}, t.offsetsTopic)
		if err == nil {
			err = resp.Err
		}
		switch {
		case err == nil:
			o.log.Infof("Created the offsets topic %q (compacted)", t.offsetsTopic)
		case !errors.Is(err, kerr.TopicAlreadyExists): // another instance's creation won
			return fmt.Errorf("creating offsets_topic %q: %w", t.offsetsTopic, err)
		}
	}
	if _, _, err := cl.ProducerID(ctx); err != nil {
		return fmt.Errorf("initialising transactional_id %q: %w", t.id, err)
	}
	// The resume points committed so far, to settle a commit whose outcome
	// will be unknown (see settleUnknown). The initialisation has just
	// ended what an earlier instance left open, so this read waits for
	// nobody.
	recs, err := kafkaread.ToEnd(ctx, t.conn, t.offsetsTopic)
	if err != nil {
		return fmt.Errorf("offsets_topic %q: %w", t.offsetsTopic, err)
	}
	t.committed = kafkaread.Newest(recs)
	return nil
}

// resumePoint is a stream's resume point after a batch.
type resumePoint struct{ key, value string }

// resumePoints returns, for each checkpoint key in the batch, the resume
// point of its last message, in the order the keys first appear.
func resumePoints(batch service.MessageBatch) []resumePoint {
	var points []resumePoint
	index := map[string]int{}
	for _, m := range batch {
		key, ok := m.MetaGet(benthossse.MetaCheckpointKey)
		if !ok {
			continue
		}
		value, ok := m.MetaGet(benthossse.MetaResumePoint)
		if !ok {
			continue
		}
		if i, seen := index[key]; seen {
			points[i].value = value
			continue
		}
		index[key] = len(points)
		points = append(points, resumePoint{key, value})
	}
	return points
}

// writeTransaction writes the batch and its resume points in one
// transaction. It returns nil once the transaction is committed; an error
// when it is not (aborted: the input writes the batch again); and stops
// the process (see [Stop]) when this instance was fenced, which only a new
// instance may resolve, when the outcome of a commit is unknown and the
// offsets topic cannot tell it (see settleUnknown), or when franz-go's
// producer ID holds an error it cannot recover from (see commitRefused and
// retry), which a transaction that outlived transaction_timeout leaves.
func (o *output) writeTransaction(ctx context.Context, cl *kgo.Client, batch service.MessageBatch) error {
	t := o.txn
	if t.failed != nil {
		return t.failed
	}
	if t.open {
		if err := o.abort(ctx, cl); err != nil {
			return err
		}
	}
	// A batch of a fleet: events read under a lease that has ended are
	// acknowledged without being written (their stream's owner reads them
	// again from the committed resume point), and the transaction is tied
	// to the group membership below.
	fenced, err := fleet.Split(batch)
	if err != nil {
		return fmt.Errorf("kafka_franz: %w", err)
	}
	if len(fenced.Stale) > 0 {
		o.log.Debugf("Dropping %d of %d messages read under an ownership of their stream this fleet instance no longer holds", len(fenced.Stale), len(batch))
		if len(fenced.Live) == 0 {
			return nil
		}
		live := make(service.MessageBatch, 0, len(fenced.Live))
		for _, i := range fenced.Live {
			live = append(live, batch[i])
		}
		batch = live
	}
	records := make([]*kgo.Record, 0, len(batch)+1)
	x := o.executors(batch)
	for i := range batch {
		r, err := o.record(x, batch, i)
		if err != nil {
			return fmt.Errorf("kafka_franz: message %d of %d: %w; nothing of the batch is written", i+1, len(batch), err)
		}
		records = append(records, r)
	}
	points := resumePoints(batch)
	for _, p := range points {
		records = append(records, &kgo.Record{Topic: t.offsetsTopic, Key: []byte(p.key), Value: []byte(p.value)})
	}

	if err := cl.BeginTransaction(); err != nil {
		if f := o.fenced(err); f != nil {
			return f
		}
		// franz-go refuses to begin only when its producer ID holds an
		// error it cannot recover from: every later batch would fail
		// the same way, nacked and read again forever.
		return o.stop(fmt.Errorf("kafka_franz: transactional_id %q: beginning a transaction: %w; stopping, so that a restart re-initialises the transactional ID and resumes from the resume point Kafka committed", t.id, err))
	}
	t.open = true
	pctx, cancel := context.WithTimeout(ctx, o.timeout)
	results := cl.ProduceSync(pctx, records...)
	cancel()
	var produceErr error
	for _, r := range results {
		if r.Err != nil {
			if f := o.fenced(r.Err); f != nil {
				return f
			}
			produceErr = r.Err
		}
	}
	if produceErr != nil {
		if errors.Is(produceErr, context.DeadlineExceeded) {
			produceErr = fmt.Errorf("not acknowledged within timeout %v: %w", o.timeout, produceErr)
		}
		err := fmt.Errorf("kafka_franz: %d records of the transaction failed, last: %w; aborted, the batch is written again", countResultErrs(results), produceErr)
		if aerr := o.abort(ctx, cl); aerr != nil {
			return errors.Join(err, aerr)
		}
		return err
	}

	if fenced.Reader != nil {
		if err := fenced.Reader.Commit(ctx, cl, fenced.Leases); err != nil {
			if f := o.fenced(err); f != nil {
				return f
			}
			ferr := fmt.Errorf("kafka_franz: %w; aborted, the batch is written again or dropped by its stream's new owner", err)
			if aerr := o.abort(ctx, cl); aerr != nil {
				return errors.Join(ferr, aerr)
			}
			return ferr
		}
	}

	// Not cancelled with ctx: cancelling a commit in flight makes its
	// outcome unknown. transaction_timeout bounds it, so that a broker
	// outage shorter than that holds the pipeline and is ridden out.
	ectx, cancel := context.WithTimeout(context.Background(), t.timeout)
	err = cl.EndTransaction(ectx, kgo.TryCommit)
	cancel()
	if err == nil {
		t.open = false
		for _, p := range points {
			t.committed[p.key] = p.value
		}
		return nil
	}
	if f := o.fenced(err); f != nil {
		return f
	}
	if errors.Is(err, kerr.OperationNotAttempted) || errors.Is(err, kerr.TransactionAbortable) {
		// The commit was not made: abort, and write the batch again.
		cerr := fmt.Errorf("kafka_franz: the commit was refused: %w; aborted, the batch is written again", err)
		if aerr := o.abort(ctx, cl); aerr != nil {
			return errors.Join(cerr, aerr)
		}
		return cerr
	}
	if refused(err) {
		return o.commitRefused(ctx, cl, err)
	}
	return o.settleUnknown(ctx, cl, points, err)
}

// refused reports whether err is a definitive answer of the brokers: an
// error code Kafka does not call retriable, other than
// UNKNOWN_SERVER_ERROR (whose outcome franz-go, and so settleUnknown,
// treats as unknown). franz-go fails its producer ID with such an answer,
// and recovers from only a few of them (UNKNOWN_PRODUCER_ID, for one):
// after any other, everything that needs the producer ID fails with it
// again, however often it is retried.
func refused(err error) bool {
	var ke *kerr.Error
	return errors.As(err, &ke) && !ke.Retriable && ke.Code != kerr.UnknownServerError.Code
}

// commitRefused handles a commit the brokers refused with a definitive
// answer: the transaction is not committed. It aborts, and if franz-go
// recovers its producer ID, the batch is nacked and written again; if it
// cannot (INVALID_TXN_STATE, which is what a commit gets when the brokers
// already aborted the transaction after transaction_timeout), the process
// stops, rather than retrying an abort or failing every later batch
// forever. Re-initialising with a new client would fence any other
// instance with the same transactional ID.
func (o *output) commitRefused(ctx context.Context, cl *kgo.Client, cause error) error {
	t := o.txn
	if err := o.abort(ctx, cl); err != nil {
		return errors.Join(fmt.Errorf("kafka_franz: the commit was refused: %w", cause), err)
	}
	err := o.producerID(ctx, cl)
	if refused(err) {
		why := ""
		if errors.Is(cause, kerr.InvalidTxnState) {
			why = fmt.Sprintf(": the transaction was no longer open, so it outlived transaction_timeout (%v; was the process paused, or a batch slower than that?) and the brokers aborted it, or another instance with the same transactional ID fenced this one", t.timeout)
		}
		if !errors.Is(err, cause) {
			why += fmt.Sprintf("; the producer ID then failed with %v", err)
		}
		return o.stop(fmt.Errorf("kafka_franz: transactional_id %q: the brokers refused the commit (%w)%s; nothing of the batch is committed, and franz-go cannot re-initialise the producer ID after that answer; stopping, so that a restart resumes from the resume point Kafka committed", t.id, cause, why))
	}
	if err != nil {
		if err := o.retry(ctx, "Re-initialising the producer ID", func() error {
			return o.producerID(ctx, cl)
		}); err != nil {
			return err
		}
	}
	return fmt.Errorf("kafka_franz: the commit was refused: %w; aborted, the batch is written again", cause)
}

// producerID asks franz-go for the producer ID, which (re-)initialises it
// when an abort left that to the next use, bounded by the output's timeout.
func (o *output) producerID(ctx context.Context, cl *kgo.Client) error {
	pctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	_, _, err := cl.ProducerID(pctx)
	return err
}

// settleUnknown decides a commit whose outcome is unknown (the brokers went
// away mid-commit, or answered an unknown error). franz-go allows only an
// abort now, made by re-initialising the transactional ID: that ends the
// transaction if the commit never arrived, and leaves it committed if it
// did. Once the brokers answer, the offsets topic is read to its end as a
// read_committed consumer sees it, and for the batch's streams the
// committed resume point:
//   - is the batch's: the commit happened; the batch is acknowledged;
//   - is the one committed before: it did not; the batch is nacked, and
//     the input writes it again;
//   - is anything else: another instance committed, so this one is a
//     zombie, and stops.
//
// Against Kafka, a zombie's re-initialisation is refused as fenced. kfake
// accepts it and fences the other instance instead, which then stops: one
// instance survives either way, and no transaction commits twice.
//
// A batch without resume points, or whose resume points equal the previous
// ones (events without new IDs), cannot be decided this way: the process
// stops, and a restart resumes from what Kafka committed.
func (o *output) settleUnknown(ctx context.Context, cl *kgo.Client, points []resumePoint, cause error) error {
	t := o.txn
	unknown := func(why string) error {
		return o.stop(fmt.Errorf("kafka_franz: transactional_id %q: the outcome of a commit is unknown (%w) and %s; stopping, so that a restart settles it and resumes from the resume point Kafka committed", t.id, cause, why))
	}
	decidable := len(points) > 0
	for _, p := range points {
		if t.committed[p.key] == p.value {
			decidable = false
		}
	}
	if !decidable {
		return unknown("the batch's resume points cannot tell")
	}
	o.log.Warnf("The outcome of a commit of transactional_id %q is unknown (%v); aborting and reading the offsets topic %q to settle it", t.id, cause, t.offsetsTopic)
	if err := o.abort(ctx, cl); err != nil {
		return err
	}
	var newest map[string]string
	if err := o.retry(ctx, "Settling the unknown commit", func() error {
		// The abort re-initialises the ID lazily: now, so that a
		// transaction whose commit never arrived is ended before the read.
		if err := o.producerID(ctx, cl); err != nil {
			return err
		}
		rctx, cancel := context.WithTimeout(ctx, t.timeout)
		recs, err := kafkaread.ToEnd(rctx, t.conn, t.offsetsTopic)
		cancel()
		newest = kafkaread.Newest(recs)
		return err
	}); err != nil {
		return err
	}
	committed, aborted := 0, 0
	for _, p := range points {
		switch newest[p.key] {
		case p.value:
			committed++
		case t.committed[p.key]:
			aborted++
		}
	}
	switch {
	case committed == len(points):
		for _, p := range points {
			t.committed[p.key] = p.value
		}
		o.log.Infof("The commit of transactional_id %q had succeeded", t.id)
		return nil
	case aborted == len(points):
		return fmt.Errorf("kafka_franz: transactional_id %q: the commit did not happen (%w); aborted, the batch is written again", t.id, cause)
	}
	return o.stop(fmt.Errorf("kafka_franz: transactional_id %q was fenced: another instance committed resume points %v while the outcome of this one's commit was unknown (%w); stopping without re-initialising", t.id, newest, cause))
}

// maxRefusals is how many definitive answers of the brokers (see
// [refused]) in a row retry accepts before it stops the process: franz-go
// recovers from the few it can at the next attempt.
const maxRefusals = 3

// retry runs fn until it succeeds, backing off up to 5s and logging the
// 1st, 2nd, 4th... failure, so that a broker outage holds the batch and
// back-pressures the pipeline. It gives up when ctx ends, and stops the
// process when fn's error says this instance was fenced or fn was refused
// maxRefusals times in a row: no retry can succeed then, and the batch
// would be held, and the pipeline wedged, until shutdown.
func (o *output) retry(ctx context.Context, what string, fn func() error) error {
	wait := 100 * time.Millisecond
	refusals := 0
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil {
			return nil
		}
		if f := o.fenced(err); f != nil {
			return f
		}
		if refusals++; !refused(err) {
			refusals = 0
		}
		if refusals == maxRefusals {
			return o.stop(fmt.Errorf("kafka_franz: transactional_id %q: %s was refused %d times in a row (%w), which franz-go does not recover from; stopping, so that a restart re-initialises the transactional ID and resumes from the resume point Kafka committed", o.txn.id, strings.ToLower(what[:1])+what[1:], refusals, err))
		}
		if attempt&(attempt-1) == 0 {
			o.log.Warnf("%s for transactional_id %q failed (attempt %d), retrying in %v: %v", what, o.txn.id, attempt, wait, err)
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return fmt.Errorf("kafka_franz: %s: %w (last: %v)", strings.ToLower(what[:1])+what[1:], ctx.Err(), err)
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// abort ends the open transaction with an abort, retrying until that
// succeeds, so that a broker outage holds the batch and back-pressures the
// pipeline; it gives up when ctx ends or the instance was fenced.
func (o *output) abort(ctx context.Context, cl *kgo.Client) error {
	err := o.retry(ctx, "Aborting a transaction", func() error {
		actx, cancel := context.WithTimeout(context.Background(), o.timeout)
		defer cancel()
		if err := cl.AbortBufferedRecords(actx); err != nil {
			return err
		}
		return cl.EndTransaction(actx, kgo.TryAbort)
	})
	if err == nil {
		o.txn.open = false
	}
	return err
}

// fenced returns the error that stops the process when err says that
// another producer with the same transactional ID fenced this one (or that
// the brokers aborted its transaction after transaction_timeout, bumping
// its epoch the same way), and nil for any other error.
func (o *output) fenced(err error) error {
	if !errors.Is(err, kerr.ProducerFenced) && !errors.Is(err, kerr.InvalidProducerEpoch) {
		return nil
	}
	return o.stop(fmt.Errorf("kafka_franz: transactional_id %q was fenced: another instance started with the same transactional ID, or a transaction outlived transaction_timeout (%w); stopping without re-initialising, which would fence the other instance in turn", o.txn.id, err))
}

// stop fails every later write with err, logs it and stops the process.
func (o *output) stop(err error) error {
	if o.txn.failed == nil {
		o.txn.failed = err
		o.log.Error(err.Error())
		stopProcess(err)
	}
	return o.txn.failed
}

func countResultErrs(rs kgo.ProduceResults) int {
	n := 0
	for _, r := range rs {
		if r.Err != nil {
			n++
		}
	}
	return n
}

// offsetWriters counts the transactional outputs of this process per
// offsets topic, so that a kafka_offsets cache can refuse to serve resume
// points nobody writes.
var offsetWriters = writers{topics: map[string]int{}, changed: make(chan struct{})}

type writers struct {
	mu      sync.Mutex
	topics  map[string]int
	changed chan struct{} // closed and replaced on every add
}

func (w *writers) add(topic string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.topics[topic]++
	close(w.changed)
	w.changed = make(chan struct{})
}

// wait reports whether a transactional output writes topic, waiting for
// one to be built until ctx ends: Benthos may start the input, and so the
// cache's first read, before it builds the output.
func (w *writers) wait(ctx context.Context, topic string) bool {
	for {
		w.mu.Lock()
		n, ch := w.topics[topic], w.changed
		w.mu.Unlock()
		if n > 0 {
			return true
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return false
		}
	}
}
