package kafka

import (
	"context"
	"sync"
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

	"github.com/benthos-sse/benthos-sse/cmd/benthos-sse/internal/fleet"
	"github.com/benthos-sse/benthos-sse/internal/kafkaread"
)

// streamSet is a fleet.Runner that only records which streams run.
type streamSet struct {
	mu      sync.Mutex
	running map[string]bool
}

func (s *streamSet) Put(name string, _ fleet.Spec) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.running[name] = true
	return nil
}

func (s *streamSet) Remove(_ context.Context, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.running, name)
	return nil
}

func (s *streamSet) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.running)
}

func startFleet(t *testing.T, c *kfake.Cluster, id string, opts ...kgo.Opt) (*fleet.Reader, *streamSet) {
	t.Helper()
	set := &streamSet{running: map[string]bool{}}
	r, err := fleet.NewReader(fleet.Config{
		Brokers: c.ListenAddrs(), Topic: "streams", Group: "fleet", ClientID: id,
		SessionTimeout: 3 * time.Second, Opts: opts, // room for a loaded machine
	}, set)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = r.Run(ctx) }()
	t.Cleanup(func() { r.Close(); cancel(); <-done })
	return r, set
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	require.Eventually(t, cond, waitLimit, 10*time.Millisecond, what)
}

// fleetMsg is an event of stream, tagged with r's lease for it.
func fleetMsg(r *fleet.Reader, stream, id string) *service.Message {
	m := msg(stream+"-"+id, "sse_stream", stream, "sse_id", id,
		"sse_checkpoint_key", "fleet/"+stream, "sse_resume_point", id)
	r.Tag(m, stream)
	return m
}

// TestOutput_FleetFencing runs the transactional output on the batches of
// a fleet instance: events of a stream it no longer owns are acknowledged
// without being written, and once the group removed the instance (its
// heartbeats unanswered, as under SIGSTOP) the coordinator refuses its
// transaction, which aborts: a read_committed reader sees none of it.
func TestOutput_FleetFencing(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 2, kfake.SeedTopics(1, "offsets"), kfake.SeedTopics(2, "streams"),
		kfake.BrokerConfigs(map[string]string{"group.min.session.timeout.ms": "1000"}))
	ed, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.DefaultProduceTopic("streams"))
	require.NoError(t, err)
	defer ed.Close()
	for _, s := range []string{"s0", "s1", "s2", "s3"} {
		require.NoError(t, ed.ProduceSync(context.Background(), &kgo.Record{Key: []byte(s), Value: []byte(`{"url":"http://127.0.0.1:1/` + s + `"}`)}).FirstErr())
	}

	ra, a := startFleet(t, c, "a", kgo.RequestTimeoutOverhead(10*time.Second))
	eventually(t, "a runs every stream", func() bool { return a.len() == 4 })
	unregister, err := fleet.Register(ra)
	require.NoError(t, err)
	defer unregister()
	o := newOut(t, c, `
topic: t
key: ${! @sse_stream }
max_in_flight: 1
transactional_id: fleet-a
offsets_topic: offsets
`)

	require.NoError(t, write(o, service.MessageBatch{fleetMsg(ra, "s0", "1"), fleetMsg(ra, "s1", "1")}))
	// A stream this instance does not own: acknowledged, not written.
	require.NoError(t, write(o, service.MessageBatch{fleetMsg(ra, "elsewhere", "1"), fleetMsg(ra, "s0", "2")}))

	// a stops answering; the group gives its partitions to b.
	var paused atomic.Bool
	paused.Store(true)
	member, _ := ra.Client().GroupMetadata()
	c.ControlKey(int16(kmsg.Heartbeat), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if paused.Load() && req.(*kmsg.HeartbeatRequest).MemberID == member {
			return nil, nil, true
		}
		return nil, nil, false
	})
	_, b := startFleet(t, c, "b")
	eventually(t, "b runs every stream", func() bool { return b.len() == 4 })
	require.Equal(t, 4, a.len(), "a noticed before the zombie write")
	err = write(o, service.MessageBatch{fleetMsg(ra, "s0", "3"), fleetMsg(ra, "s1", "2")})
	require.ErrorIs(t, err, fleet.ErrFenced)
	assert.ErrorIs(t, err, kerr.UnknownMemberID)

	// Once a notices, the same events are stale, even if their stream
	// comes back to a: acknowledged, never written.
	zombie := service.MessageBatch{fleetMsg(ra, "s0", "3")}
	paused.Store(false)
	eventually(t, "a loses its streams", func() bool { return a.len() < 4 })
	require.NoError(t, write(o, zombie))

	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	recs, err := kafkaread.ToEnd(ctx, []kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)}, "t")
	require.NoError(t, err)
	var got []string
	for _, r := range recs {
		got = append(got, string(r.Value))
	}
	assert.ElementsMatch(t, []string{"s0-1", "s1-1", "s0-2"}, got)
	points, err := kafkaread.ToEnd(ctx, []kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)}, "offsets")
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"fleet/s0": "2", "fleet/s1": "1"}, kafkaread.Newest(points))
}

// TestOutput_FleetTakeoverStops: while a fleet instance's batch is between
// its produce and its commit, another instance starts with the same
// transactional ID and fences it. The coordinator answers the fenced
// instance's offset commit PRODUCER_FENCED, and it stops without
// re-initialising. (It used to abort at its old epoch, which kfake takes for
// a retried abort and answers with the new instance's epoch: the fenced
// instance carried on, and fenced the new one instead.)
func TestOutput_FleetTakeoverStops(t *testing.T) {
	c := newCluster(t, 2, kfake.SeedTopics(1, "offsets"), kfake.SeedTopics(2, "streams"),
		kfake.BrokerConfigs(map[string]string{"group.min.session.timeout.ms": "1000"}))
	ed, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.DefaultProduceTopic("streams"))
	require.NoError(t, err)
	defer ed.Close()
	require.NoError(t, ed.ProduceSync(context.Background(), &kgo.Record{Key: []byte("s0"), Value: []byte(`{"url":"http://127.0.0.1:1/s0"}`)}).FirstErr())
	ra, a := startFleet(t, c, "a")
	eventually(t, "a runs the stream", func() bool { return a.len() == 1 })
	unregister, err := fleet.Register(ra)
	require.NoError(t, err)
	defer unregister()

	held, release := make(chan struct{}), make(chan struct{})
	pause := &stall{wait: func() { close(held); <-release }}
	yaml := "topic: t\nkey: ${! @sse_stream }\nmax_in_flight: 1\ntransactional_id: takeover-1\noffsets_topic: offsets"
	o := newOut(t, c, yaml, kgo.WithHooks(pause))
	require.NoError(t, write(o, service.MessageBatch{fleetMsg(ra, "s0", "1")}))
	pause.armed.Store(true)
	done := make(chan error, 1)
	go func() { done <- write(o, service.MessageBatch{fleetMsg(ra, "s0", "2")}) }()
	<-held
	newer := newOut(t, c, yaml)
	close(release)
	err = <-done
	require.Error(t, err)
	assert.ErrorIs(t, err, kerr.ProducerFenced)
	assert.Contains(t, err.Error(), `transactional_id "takeover-1" was fenced`)
	assert.Contains(t, Failure().Error(), `transactional_id "takeover-1" was fenced`)
	assert.Equal(t, err, write(o, service.MessageBatch{fleetMsg(ra, "s0", "3")}), "the fenced instance writes nothing more")
	require.NoError(t, write(newer, service.MessageBatch{msg("newer")}), "the newer instance is not fenced back")
	assert.Equal(t, []string{"s0-1", "newer"}, values(readCommitted(t, c, "t")))
}
