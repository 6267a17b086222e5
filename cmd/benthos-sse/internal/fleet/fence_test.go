package fleet

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func newProducer(t *testing.T, c *kfake.Cluster, txnID string) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(c.ListenAddrs()...),
		kgo.TransactionalID(txnID),
		kgo.TransactionTimeout(5*time.Second),
		kgo.DefaultProduceTopic("out"),
	)
	require.NoError(t, err)
	t.Cleanup(cl.Close)
	return cl
}

// leasesOf are the live leases of the streams a runner runs.
func leasesOf(t *testing.T, r *Reader, f *fakeRunner) []Lease {
	t.Helper()
	var out []Lease
	for name := range f.snapshot() {
		l, ok := r.Lease(name)
		require.True(t, ok, name)
		out = append(out, l)
	}
	require.NotEmpty(t, out)
	return out
}

// txn produces value in a transaction that commits only if the fleet's
// Commit accepts it, as the transactional output does. It returns Commit's
// error; the other steps must succeed.
func txn(r *Reader, p *kgo.Client, value string, held []Lease) error {
	ctx := context.Background()
	if err := p.BeginTransaction(); err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := p.ProduceSync(ctx, &kgo.Record{Value: []byte(value)}).FirstErr(); err != nil {
		return fmt.Errorf("produce: %w", err)
	}
	err := r.Commit(ctx, p, held)
	if endErr := p.EndTransaction(ctx, kgo.TransactionEndTry(err == nil)); endErr != nil {
		return fmt.Errorf("end: %w", endErr)
	}
	return err
}

// committed reads "out" with read_committed up to its end, after every
// transaction on it has ended.
func committed(t *testing.T, c *kfake.Cluster) []string {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumeTopics("out"),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())
	require.NoError(t, err)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, "out")
	require.NoError(t, err)
	end, _ := ends.Lookup("out", 0)
	var out []string
	for next := int64(0); next < end.Offset; {
		fs := cl.PollFetches(ctx)
		require.NoError(t, ctx.Err(), "reading out")
		fs.EachRecord(func(r *kgo.Record) {
			if !r.Attrs.IsControl() {
				out = append(out, string(r.Value))
			}
			next = r.Offset + 1
		})
	}
	return out
}

// pauseHeartbeats leaves the heartbeats of one member unanswered, as a
// SIGSTOP would: the coordinator removes it at its session timeout while it
// still believes it owns its partitions, until its request times out.
func pauseHeartbeats(c *kfake.Cluster, member string) (resume func()) {
	var paused atomic.Bool
	paused.Store(true)
	c.ControlKey(int16(kmsg.Heartbeat), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if paused.Load() && req.(*kmsg.HeartbeatRequest).MemberID == member {
			return nil, nil, true
		}
		return nil, nil, false
	})
	return func() { paused.Store(false) }
}

func TestCommitFencesZombie(t *testing.T) {
	c := newCluster(t)
	ed := newEditor(t, c)
	for i := range 8 {
		ed.url(fmt.Sprintf("s%d", i), fmt.Sprintf("http://127.0.0.1:1/s%d", i))
	}
	clk := newClock()
	a, b := newFakeRunner(clk), newFakeRunner(clk)
	ra := startReader(t, c, "a", a, "", kgo.RequestTimeoutOverhead(10*time.Second))
	clk.waitFor(t, "a runs all", func() bool { return len(a.snapshot()) == 8 })
	pa, pb := newProducer(t, c, "txn-a"), newProducer(t, c, "txn-b")

	held := leasesOf(t, ra, a)
	require.NoError(t, txn(ra, pa, "a-owner", held))

	// a stops heartbeating; the group gives everything to b.
	member, _ := ra.Client().GroupMetadata()
	resume := pauseHeartbeats(c, member)
	rb := startReader(t, c, "b", b, "")
	clk.waitFor(t, "b runs all", func() bool { return len(b.snapshot()) == 8 })
	require.NoError(t, txn(rb, pb, "b-owner", leasesOf(t, rb, b)))

	// a has not noticed: its leases are live, and only the coordinator
	// can refuse it.
	require.Len(t, a.snapshot(), 8, "a noticed the loss before the zombie commit")
	err := txn(ra, pa, "zombie", held)
	require.ErrorIs(t, err, ErrFenced)
	assert.ErrorIs(t, err, kerr.UnknownMemberID)

	// a wakes: it loses its streams, rejoins as a new member, and its old
	// leases stay ended even once it runs some streams again.
	resume()
	clk.waitFor(t, "a rejoins and shares", func() bool {
		return len(a.snapshot()) > 0 && len(b.snapshot()) > 0 && len(a.snapshot())+len(b.snapshot()) == 8
	})
	for _, l := range held {
		_, ok := a.snapshot()[l.Stream]
		if ok {
			err := txn(ra, pa, "old-lease", []Lease{l})
			require.ErrorIs(t, err, ErrFenced)
			assert.Contains(t, err.Error(), "has ended")
		}
	}
	require.NoError(t, txn(ra, pa, "a-again", leasesOf(t, ra, a)))

	assert.Equal(t, []string{"a-owner", "b-owner", "a-again"}, committed(t, c))
}

func TestCommitWhileRevoking(t *testing.T) {
	c := newCluster(t)
	ed := newEditor(t, c)
	for i := range 8 {
		ed.url(fmt.Sprintf("s%d", i), fmt.Sprintf("http://127.0.0.1:1/s%d", i))
	}
	clk := newClock()
	a := &settlingRunner{fakeRunner: newFakeRunner(clk)}
	ra := startReader(t, c, "a", a, "")
	var one sync.Mutex // one transaction at a time, as the output runs them
	a.settle = func(name string) error {
		one.Lock()
		defer one.Unlock()
		l, ok := ra.Lease(name)
		if !ok {
			return fmt.Errorf("%s has no lease while settling", name)
		}
		return txn(ra, a.producer, "settled-"+name, []Lease{l})
	}
	a.producer = newProducer(t, c, "txn-a")
	clk.waitFor(t, "a runs all", func() bool { return len(a.snapshot()) == 8 })

	b := newFakeRunner(clk)
	startReader(t, c, "b", b, "")
	clk.waitFor(t, "b takes a share", func() bool { return len(b.snapshot()) > 0 && len(a.snapshot())+len(b.snapshot()) == 8 })
	a.mu.Lock()
	defer a.mu.Unlock()
	require.NotEmpty(t, a.settled)
	for name, err := range a.settled {
		assert.NoError(t, err, "the in-flight commit of %s during its clean revocation", name)
	}
}

// settlingRunner commits a transaction for each stream it removes, as the
// output does for a stream's in-flight events while the stream is revoked.
type settlingRunner struct {
	*fakeRunner
	producer *kgo.Client
	settle   func(name string) error

	mu      sync.Mutex
	settled map[string]error
}

func (s *settlingRunner) Remove(ctx context.Context, name string) error {
	err := s.settle(name)
	s.mu.Lock()
	if s.settled == nil {
		s.settled = map[string]error{}
	}
	s.settled[name] = err
	s.mu.Unlock()
	return s.fakeRunner.Remove(ctx, name)
}

func TestStartWaitsForOpenTransactions(t *testing.T) {
	c := newCluster(t)
	ed := newEditor(t, c)
	ed.url("s0", "http://127.0.0.1:1/s0")

	// A previous owner's transaction is open on the offsets topic.
	prev := newProducer(t, c, "txn-prev")
	ctx := context.Background()
	require.NoError(t, prev.BeginTransaction())
	require.NoError(t, prev.ProduceSync(ctx, &kgo.Record{Topic: "offsets", Key: []byte("s0"), Value: []byte("7")}).FirstErr())

	clk := newClock()
	a := newFakeRunner(clk)
	startReader(t, c, "a", a, "offsets")
	// The chance for a wrong reader to start s0 early.
	time.Sleep(time.Second)
	ended := clk.tick()
	require.NoError(t, prev.EndTransaction(ctx, kgo.TryAbort))
	clk.waitFor(t, "s0 starts", func() bool { return len(a.snapshot()) == 1 })
	assert.Greater(t, a.callsOf("s0")[0].at, ended, "s0 started while the previous owner's transaction was open")
}
