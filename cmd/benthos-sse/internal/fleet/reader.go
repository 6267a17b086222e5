package fleet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Logger is the part of *service.Logger the fleet logs through, so that the
// reader is tested without a Benthos pipeline.
type Logger interface {
	Infof(format string, args ...any)
	Warnf(format string, args ...any)
	Errorf(format string, args ...any)
}

// Runner runs the streams of the partitions this instance owns. The fleet
// input implements it on the `sse` input's changing set of streams; tests
// implement it with a recorder.
type Runner interface {
	// Put starts the stream, or replaces its spec: the stream then reconnects
	// from the same resume point. It must not block on the stream's traffic.
	Put(name string, spec Spec) error
	// Remove stops the stream and returns once the events it already emitted
	// are settled (committed or aborted downstream), or when ctx ends.
	Remove(ctx context.Context, name string) error
}

// Named is a stream with its name.
type Named struct {
	Name string
	Spec Spec
}

// BulkPutter is a Runner that can start many streams at once: a partition
// of thousands of streams then starts in the time of a few checkpoint
// reads, not one after another, and within the rebalance timeout.
type BulkPutter interface {
	PutAll(streams []Named) error
}

// BulkRemover is a Runner that can remove many streams at once, settling
// them together: a revocation then takes as long as the slowest stream,
// not the sum of all, and fits in the rebalance timeout with thousands of
// streams.
type BulkRemover interface {
	RemoveAll(ctx context.Context, names []string) error
}

// Config is what a Reader needs; zero durations take the defaults below.
type Config struct {
	// Brokers are the seed brokers, host:port.
	Brokers []string
	// Topic is the streams topic: key = stream name, value = Spec JSON,
	// tombstone = removed.
	Topic string
	// Group is the consumer group every instance of the fleet joins.
	Group string
	// ClientID names this instance to the brokers (the INSTANCE_ID).
	ClientID string
	// SessionTimeout is how long the group waits for a silent instance
	// before it gives that instance's partitions to others. Zero means 10s.
	SessionTimeout time.Duration
	// RebalanceTimeout bounds how long a rebalance waits for members to
	// revoke (and so settle) their partitions. Zero means 30s.
	RebalanceTimeout time.Duration
	// StableTopic is the offsets topic holding the streams' resume points.
	// Before the streams of a newly assigned partition start, the reader
	// waits until every transaction that had written to this topic when the
	// partition was assigned has ended, so that a stream resumes from what
	// its previous owner really committed. Empty means no wait.
	StableTopic string
	// Logger receives one line per partition change and per bad record.
	Logger Logger
	// Opts are appended to the client options (TLS, SASL, tests' tuning).
	Opts []kgo.Opt
	// OnChange, if set, is called with the number of running streams after
	// every change, and rebalanced true once per completed rebalance: the
	// input's metrics.
	OnChange func(running int64, rebalanced bool)
}

// Reader reads the streams topic as a table through a consumer group and
// drives a Runner: each instance runs the streams of the partitions the group
// gives it. See the package doc for the protocol.
type Reader struct {
	cfg Config
	cl  *kgo.Client
	adm *kadm.Client
	run Runner
	log Logger

	// mu serialises the table and every Runner call: the poll loop and the
	// group callbacks both hold it, so a stream is never Put after its
	// partition was revoked.
	mu    sync.Mutex
	parts map[int32]*partition
	owner map[string]int32 // running stream → its partition

	leases leases

	idOnce sync.Mutex // guards id, the streams topic's ID
	id     [16]byte

	rebalances atomic.Int64
	running    atomic.Int64
	member     atomic.Bool // an assignment completed since the last loss
	badRecords atomic.Int64

	closeOnce sync.Once
}

// partition is the table of one assigned partition of the streams topic.
type partition struct {
	// end is the high watermark when the partition was assigned: the
	// partition is loading, and starts none of its streams, until the
	// reader has read up to it.
	end     int64
	next    int64
	loaded  bool
	stable  map[int32]int64 // StableTopic's high watermarks at assignment
	entries map[string]entry
}

// entry is one key's newest value in a partition.
type entry struct {
	raw  []byte
	spec Spec
	err  error
}

// NewReader makes the client and joins the group; Run then reads.
func NewReader(cfg Config, run Runner) (*Reader, error) {
	if cfg.Topic == "" || cfg.Group == "" || len(cfg.Brokers) == 0 {
		return nil, errors.New("fleet: brokers, topic and group are required")
	}
	if cfg.SessionTimeout == 0 {
		cfg.SessionTimeout = 10 * time.Second
	}
	if cfg.RebalanceTimeout == 0 {
		cfg.RebalanceTimeout = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = nopLogger{}
	}
	r := &Reader{
		cfg:    cfg,
		run:    run,
		log:    cfg.Logger,
		parts:  map[int32]*partition{},
		owner:  map[string]int32{},
		leases: leases{m: map[string]uint64{}},
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ConsumerGroup(cfg.Group),
		kgo.ConsumeTopics(cfg.Topic),
		// Cooperative: a rebalance moves only the partitions that must
		// move, so the other streams keep running through it.
		kgo.Balancers(kgo.CooperativeStickyBalancer()),
		kgo.SessionTimeout(cfg.SessionTimeout),
		kgo.RebalanceTimeout(cfg.RebalanceTimeout),
		kgo.HeartbeatInterval(min(3*time.Second, cfg.SessionTimeout/5)),
		// The topic is a table: never commit a position, and read every
		// newly assigned partition from its start.
		kgo.DisableAutoCommit(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.AdjustFetchOffsetsFn(fromStart),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// A transactional editor's commit marker can be the last offset
		// before the end: kept control records let loading reach it.
		kgo.KeepControlRecords(),
		kgo.BlockRebalanceOnPoll(),
		kgo.OnPartitionsAssigned(r.assigned),
		kgo.OnPartitionsRevoked(r.revoked),
		kgo.OnPartitionsLost(r.lost),
	}
	if cfg.ClientID != "" {
		opts = append(opts, kgo.ClientID(cfg.ClientID))
	}
	cl, err := kgo.NewClient(append(opts, cfg.Opts...)...)
	if err != nil {
		return nil, fmt.Errorf("fleet: %w", err)
	}
	r.cl = cl
	r.adm = kadm.NewClient(cl)
	return r, nil
}

// fromStart is the AdjustFetchOffsetsFn: whatever the group committed, an
// assigned partition is read from its first record.
func fromStart(_ context.Context, in map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
	for _, ps := range in {
		for p := range ps {
			ps[p] = kgo.NewOffset().AtStart().WithEpoch(-1)
		}
	}
	return in, nil
}

// Client is the group's client: the Fence reads the member ID and
// generation from it.
func (r *Reader) Client() *kgo.Client { return r.cl }

// Run reads the topic until ctx ends or Close is called.
//
// The client blocks rebalances from the return of a poll until its records
// are applied (BlockRebalanceOnPoll), so a poll's records always belong to
// partitions this instance still owns, and a revocation never interleaves
// with a half-applied poll.
func (r *Reader) Run(ctx context.Context) error {
	for {
		fs := r.cl.PollFetches(ctx)
		if fs.IsClientClosed() || ctx.Err() != nil {
			r.cl.AllowRebalance()
			return nil
		}
		fs.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.Canceled) {
				r.log.Warnf("fleet: reading %s/%d: %v", t, p, err)
			}
		})
		r.mu.Lock()
		fs.EachPartition(func(fp kgo.FetchTopicPartition) {
			pt := r.parts[fp.Partition]
			if pt == nil {
				return
			}
			for _, rec := range fp.Records {
				r.apply(ctx, fp.Partition, pt, rec)
			}
			r.leases.setPos(fp.Partition, pt.next, true)
			r.maybeLoaded(ctx, r.adm, fp.Partition, pt)
		})
		r.mu.Unlock()
		r.cl.AllowRebalance()
	}
}

// Close leaves the group, which revokes (and so settles) every partition.
func (r *Reader) Close() {
	r.closeOnce.Do(r.cl.Close)
}

// apply records one record in the partition's table and, once the partition
// is loaded, starts, replaces or removes its stream. r.mu is held.
func (r *Reader) apply(ctx context.Context, p int32, pt *partition, rec *kgo.Record) {
	if rec.Offset < pt.next {
		return
	}
	pt.next = rec.Offset + 1
	if rec.Attrs.IsControl() {
		return
	}
	name := string(rec.Key)
	if name == "" {
		r.badRecords.Add(1)
		r.log.Errorf("fleet: %s/%d@%d has no key (the stream's name); ignored", r.cfg.Topic, p, rec.Offset)
		return
	}
	if len(rec.Value) == 0 {
		// A tombstone, or an empty value (what a Benthos pipeline
		// produces for an empty message): the stream is removed.
		delete(pt.entries, name)
		if pt.loaded {
			r.stop(ctx, name, p, false)
		}
		return
	}
	old, had := pt.entries[name]
	e := entry{raw: rec.Value}
	e.spec, e.err = ParseSpec(rec.Value)
	pt.entries[name] = e
	if !pt.loaded || had && bytes.Equal(old.raw, e.raw) {
		return
	}
	if e.err != nil {
		r.badRecords.Add(1)
		r.log.Errorf("fleet: stream %q (%s/%d@%d): %v; the stream is stopped until its record changes", name, r.cfg.Topic, p, rec.Offset, e.err)
		r.stop(ctx, name, p, false)
		return
	}
	r.start(name, p, e.spec)
}

// maybeLoaded starts a partition's streams once it has been read up to the
// end it had when it was assigned, and the previous owners' transactions on
// the offsets topic have ended. r.mu is held.
func (r *Reader) maybeLoaded(ctx context.Context, adm *kadm.Client, p int32, pt *partition) {
	if pt.loaded || pt.next < pt.end {
		return
	}
	if len(pt.entries) == 0 {
		pt.stable = nil // no stream to resume
	}
	if err := r.waitStable(ctx, adm, pt.stable); err != nil {
		r.log.Errorf("fleet: waiting for the offsets topic %s to settle before starting partition %d's streams: %v", r.cfg.StableTopic, p, err)
		return // retried after the next poll of this partition
	}
	pt.loaded = true
	names := make([]string, 0, len(pt.entries))
	for name, e := range pt.entries {
		if e.err != nil {
			r.badRecords.Add(1)
			r.log.Errorf("fleet: stream %q (%s/%d): %v; the stream is stopped until its record changes", name, r.cfg.Topic, p, e.err)
			continue
		}
		names = append(names, name)
	}
	sort.Strings(names)
	r.startAll(p, names, pt)
	r.log.Infof("fleet: partition %d of %s loaded, %d streams", p, r.cfg.Topic, len(names))
}

// startAll starts a loaded partition's streams, at once when the runner
// can (see BulkPutter).
func (r *Reader) startAll(p int32, names []string, pt *partition) {
	bp, ok := r.run.(BulkPutter)
	if !ok || len(names) < 2 {
		for _, name := range names {
			r.start(name, p, pt.entries[name].spec)
		}
		return
	}
	var streams []Named
	for _, name := range names {
		if r.claim(name, p) {
			streams = append(streams, Named{name, pt.entries[name].spec})
		}
	}
	if err := bp.PutAll(streams); err != nil {
		// One by one, each failure logged for its own stream.
		r.log.Warnf("fleet: starting %d streams of partition %d at once: %v; starting them one by one", len(streams), p, err)
		for _, st := range streams {
			r.start(st.Name, p, st.Spec)
		}
		return
	}
	for _, st := range streams {
		if _, ok := r.owner[st.Name]; !ok {
			r.owner[st.Name] = p
			r.running.Add(1)
		}
	}
	r.changed(false)
}

// start puts a stream and gives it a lease if it was not running.
func (r *Reader) start(name string, p int32, spec Spec) {
	if !r.claim(name, p) {
		return
	}
	if err := r.run.Put(name, spec); err != nil {
		r.log.Errorf("fleet: starting stream %q: %v", name, err)
		r.stop(context.Background(), name, p, true)
		return
	}
	if _, ok := r.owner[name]; !ok {
		r.owner[name] = p
		r.running.Add(1)
		r.changed(false)
	}
}

// claim readies name to be put from partition p: false, counted and
// logged, if another partition runs it; otherwise true, with a lease
// granted if it was not running.
func (r *Reader) claim(name string, p int32) bool {
	q, ok := r.owner[name]
	if ok && q != p {
		r.badRecords.Add(1)
		r.log.Errorf("fleet: stream %q is keyed in partitions %d and %d of %s; it runs from partition %d only (produce every record with the same partitioner)", name, q, p, r.cfg.Topic, q)
		return false
	}
	if !ok {
		r.leases.grant(name, p)
	}
	return true
}

// changed reports a change to Config.OnChange.
func (r *Reader) changed(rebalanced bool) {
	if r.cfg.OnChange != nil {
		r.cfg.OnChange(r.running.Load(), rebalanced)
	}
}

// stop removes a running stream of partition p. lost revokes its lease
// before Remove, so its in-flight events cannot commit; otherwise the lease
// holds until they are settled.
func (r *Reader) stop(ctx context.Context, name string, p int32, lost bool) {
	if q, ok := r.owner[name]; !ok || q != p {
		r.leases.revoke(name) // a lease granted to a stream whose Put failed
		return
	}
	if lost {
		r.leases.revoke(name)
	}
	if err := r.run.Remove(ctx, name); err != nil {
		r.log.Errorf("fleet: stopping stream %q: %v", name, err)
	}
	r.leases.revoke(name)
	delete(r.owner, name)
	r.running.Add(-1)
	r.changed(false)
}

// assigned is the OnPartitionsAssigned callback: new partitions start
// loading from their first record.
func (r *Reader) assigned(ctx context.Context, cl *kgo.Client, assigned map[string][]int32) {
	r.rebalances.Add(1)
	r.member.Store(true)
	r.changed(true)
	ps := assigned[r.cfg.Topic]
	if len(ps) == 0 {
		return
	}
	// The callback may run before NewReader has stored r.adm.
	adm := kadm.NewClient(cl)
	ends, err := adm.ListEndOffsets(ctx, r.cfg.Topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		// Loading then ends at the first record read, and tombstones
		// that follow replace or remove what started.
		r.log.Warnf("fleet: listing the end offsets of %s: %v", r.cfg.Topic, err)
	}
	stable := r.snapshotStable(ctx, adm)
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range ps {
		pt := &partition{stable: stable, entries: map[string]entry{}}
		if o, ok := ends.Lookup(r.cfg.Topic, p); ok && o.Err == nil {
			pt.end = o.Offset
		}
		r.parts[p] = pt
		r.leases.setPos(p, 0, true)
	}
	r.log.Infof("fleet: assigned partitions %v of %s", ps, r.cfg.Topic)
	starts, err := adm.ListStartOffsets(ctx, r.cfg.Topic)
	if err == nil {
		err = starts.Error()
	}
	for _, p := range ps {
		if o, ok := starts.Lookup(r.cfg.Topic, p); err == nil && ok && o.Offset >= r.parts[p].end {
			r.parts[p].next = o.Offset
			r.maybeLoaded(ctx, adm, p, r.parts[p]) // empty: nothing to read
		}
	}
}

// revoked is the OnPartitionsRevoked callback: it returns, and so lets the
// group give the partitions to another instance, only once their streams
// are stopped and settled.
func (r *Reader) revoked(ctx context.Context, _ *kgo.Client, revoked map[string][]int32) {
	r.drop(ctx, revoked[r.cfg.Topic], false)
}

// lost is the OnPartitionsLost callback: the group already gave the
// partitions to others, so their leases end before anything else and no
// in-flight event of theirs can commit.
func (r *Reader) lost(ctx context.Context, _ *kgo.Client, lost map[string][]int32) {
	r.member.Store(false)
	r.drop(ctx, lost[r.cfg.Topic], true)
	r.changed(false)
}

func (r *Reader) drop(ctx context.Context, ps []int32, lost bool) {
	if len(ps) == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var names []string
	gone := map[int32]bool{}
	for _, p := range ps {
		gone[p] = true
		delete(r.parts, p)
		r.leases.setPos(p, 0, false)
	}
	for name, p := range r.owner {
		if gone[p] {
			names = append(names, name)
			if lost {
				r.leases.revoke(name)
			}
		}
	}
	// Streams settle independently, so they are removed together: the
	// revocation takes as long as the slowest stream, not the sum.
	if br, ok := r.run.(BulkRemover); ok {
		if err := br.RemoveAll(ctx, names); err != nil {
			r.log.Errorf("fleet: stopping %d streams: %v", len(names), err)
		}
	} else {
		var wg sync.WaitGroup
		errs := make([]error, len(names))
		for i, name := range names {
			wg.Go(func() { errs[i] = r.run.Remove(ctx, name) })
		}
		wg.Wait()
		for i, name := range names {
			if errs[i] != nil {
				r.log.Errorf("fleet: stopping stream %q: %v", name, errs[i])
			}
		}
	}
	for _, name := range names {
		r.leases.revoke(name)
		delete(r.owner, name)
	}
	r.running.Add(-int64(len(names)))
	r.changed(false)
	if len(names) > 0 {
		releaser.release()
	}
	verb := "revoked"
	if lost {
		verb = "lost"
	}
	r.log.Infof("fleet: %s partitions %v of %s, stopped %d streams", verb, ps, r.cfg.Topic, len(names))
}

// snapshotStable lists StableTopic's high watermarks.
func (r *Reader) snapshotStable(ctx context.Context, adm *kadm.Client) map[int32]int64 {
	if r.cfg.StableTopic == "" {
		return nil
	}
	ends, err := adm.ListEndOffsets(ctx, r.cfg.StableTopic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		r.log.Warnf("fleet: listing the end offsets of %s: %v", r.cfg.StableTopic, err)
		return nil
	}
	out := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
	return out
}

// waitStable returns once every partition's last stable offset (what a
// read_committed reader may read up to) has reached the snapshot: every
// transaction that had written to the offsets topic at the snapshot has
// then committed or aborted. A dead or fenced owner's open transaction ends
// at the transaction timeout, which bounds this wait.
func (r *Reader) waitStable(ctx context.Context, adm *kadm.Client, want map[int32]int64) error {
	if len(want) == 0 {
		return nil
	}
	for delay := 10 * time.Millisecond; ; delay = min(2*delay, 500*time.Millisecond) {
		lsos, err := adm.ListCommittedOffsets(ctx, r.cfg.StableTopic)
		if err == nil {
			err = lsos.Error()
		}
		if err != nil {
			return err
		}
		behind := false
		for p, hwm := range want {
			if o, ok := lsos.Lookup(r.cfg.StableTopic, p); !ok || o.Offset < hwm {
				behind = true
			}
		}
		if !behind {
			return nil
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Stream is one running stream, for the listing endpoint.
type Stream struct {
	Name      string `json:"name"`
	Partition int32  `json:"partition"`
}

// Streams lists the streams this instance runs now, by name. It does not
// wait for a revocation in progress: the streams being settled are listed.
func (r *Reader) Streams() []Stream {
	r.leases.mu.RLock()
	out := make([]Stream, 0, len(r.leases.part))
	for name, p := range r.leases.part {
		out = append(out, Stream{Name: name, Partition: p})
	}
	r.leases.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Member reports whether this instance is in the group: an assignment
// completed (possibly of no partition) and nothing was lost since.
func (r *Reader) Member() bool { return r.member.Load() }

// Running is the number of streams this instance runs now.
func (r *Reader) Running() int64 { return r.running.Load() }

// Rebalances counts the group sessions this instance has joined.
func (r *Reader) Rebalances() int64 { return r.rebalances.Load() }

// BadRecords counts the streams-topic records that could not be run.
func (r *Reader) BadRecords() int64 { return r.badRecords.Load() }

type nopLogger struct{}

func (nopLogger) Infof(string, ...any)  {}
func (nopLogger) Warnf(string, ...any)  {}
func (nopLogger) Errorf(string, ...any) {}
