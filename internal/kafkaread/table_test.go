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
