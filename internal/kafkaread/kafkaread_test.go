package kafkaread

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// txn writes values in one transaction of cl, committed or aborted.
func txn(t *testing.T, cl *kgo.Client, commit bool, values ...string) {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, cl.BeginTransaction())
	for _, v := range values {
		require.NoError(t, cl.ProduceSync(ctx, &kgo.Record{Topic: "t", Key: []byte("k"), Value: []byte(v)}).FirstErr())
	}
	require.NoError(t, cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)))
}

func values(recs []*kgo.Record) []string {
	var out []string
	for _, r := range recs {
		out = append(out, string(r.Value))
	}
	return out
}

// TestRead: aborted records are skipped, and a read ends on a commit
// marker; ToStable returns what is committed without waiting for an open
// transaction, while ToEnd waits for it (here, until its ctx ends); a
// missing topic has no records.
func TestRead(t *testing.T) {
	c, err := kfake.NewCluster(kfake.SeedTopics(2, "t"))
	require.NoError(t, err)
	t.Cleanup(c.Close)
	opts := []kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)}
	cl, err := kgo.NewClient(append(opts, kgo.TransactionalID("w"), kgo.DefaultProduceTopic("t"))...)
	require.NoError(t, err)
	t.Cleanup(cl.Close)

	txn(t, cl, true, "1", "2")
	txn(t, cl, false, "x")
	txn(t, cl, true, "3")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	recs, err := ToEnd(ctx, opts, "t")
	require.NoError(t, err)
	assert.Equal(t, []string{"1", "2", "3"}, values(recs))
	assert.Equal(t, map[string]string{"k": "3"}, Newest(recs))

	require.NoError(t, cl.BeginTransaction())
	require.NoError(t, cl.ProduceSync(ctx, &kgo.Record{Topic: "t", Key: []byte("k"), Value: []byte("open")}).FirstErr())
	recs, err = ToStable(ctx, opts, "t")
	require.NoError(t, err)
	assert.Equal(t, []string{"1", "2", "3"}, values(recs), "ToStable does not wait for the open transaction")
	short, cancelShort := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancelShort()
	_, err = ToEnd(short, opts, "t")
	assert.ErrorIs(t, err, context.DeadlineExceeded, "ToEnd waits for the open transaction")
	require.NoError(t, cl.EndTransaction(ctx, kgo.TryCommit))
	recs, err = ToEnd(ctx, opts, "t")
	require.NoError(t, err)
	assert.Equal(t, []string{"1", "2", "3", "open"}, values(recs))

	recs, err = ToEnd(ctx, opts, "missing")
	require.NoError(t, err)
	assert.Empty(t, recs)
}

func TestTable(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "offsets"))
	require.NoError(t, err)
	defer c.Close()
	opts := []kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)}
	p, err := kgo.NewClient(append(opts, kgo.TransactionalID("w"), kgo.DefaultProduceTopic("offsets"))...)
	require.NoError(t, err)
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	txn := func(commit bool, kv ...string) {
		t.Helper()
		require.NoError(t, p.BeginTransaction())
		for i := 0; i < len(kv); i += 2 {
			require.NoError(t, p.ProduceSync(ctx, &kgo.Record{Key: []byte(kv[i]), Value: []byte(kv[i+1])}).FirstErr())
		}
		require.NoError(t, p.EndTransaction(ctx, kgo.TransactionEndTry(commit)))
	}
	tab := NewTable(opts, "offsets")
	defer tab.Close()
	get := func(key string) (string, bool) {
		t.Helper()
		v, ok, err := tab.Get(ctx, key)
		require.NoError(t, err)
		recs, err := ToEnd(ctx, opts, "offsets")
		require.NoError(t, err)
		w, wok := Newest(recs)[key]
		assert.Equal(t, [2]any{w, wok}, [2]any{v, ok}, "Table and ToEnd agree on %s", key)
		return v, ok
	}

	_, ok := get("a")
	assert.False(t, ok, "an empty topic")
	txn(true, "a", "1", "b", "1")
	txn(false, "a", "aborted")
	txn(true, "a", "2")
	v, _ := get("a")
	assert.Equal(t, "2", v)
	v, _ = get("b")
	assert.Equal(t, "1", v)

	// An open transaction holds the answer back until it ends.
	require.NoError(t, p.BeginTransaction())
	require.NoError(t, p.ProduceSync(ctx, &kgo.Record{Key: []byte("a"), Value: []byte("3")}).FirstErr())
	short, cancelShort := context.WithTimeout(ctx, 300*time.Millisecond)
	_, _, err = tab.Get(short, "a")
	cancelShort()
	require.ErrorIs(t, err, context.DeadlineExceeded)
	got := make(chan string, 1)
	go func() {
		v, _, err := tab.Get(ctx, "a")
		if err != nil {
			v = err.Error()
		}
		got <- v
	}()
	require.NoError(t, p.EndTransaction(ctx, kgo.TryCommit))
	assert.Equal(t, "3", <-got)
}
