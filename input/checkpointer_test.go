package input

import (
	"context"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCheckpointer_WritesThenStops checks that the background writer writes
// every watermark it is told about and holds no goroutine once it has
// nothing to write, and that close writes the final watermark.
func TestCheckpointer_WritesThenStops(t *testing.T) {
	res := service.MockResources(service.MockResourcesOptAddCache("ck"))
	store := &checkpointStore{res: res, cache: "ck", key: "k"}
	var tr tracker
	c := newCheckpointer(store, &tr, 0, res.Logger(), nil, nil)
	ctx := context.Background()

	// waitFor waits until the store holds id and the writer has returned.
	waitFor := func(id string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			_, got, ok, _, _, err := store.load(ctx)
			require.NoError(t, err)
			c.mu.Lock()
			running := c.done != nil
			c.mu.Unlock()
			if ok && got == id && !running {
				return
			}
			require.True(t, time.Now().Before(deadline), "store holds %q (ok %v), writer running %v; want %q and stopped", got, ok, running, id)
			time.Sleep(5 * time.Millisecond)
		}
	}
	for _, id := range []string{"1", "2", "3"} {
		require.True(t, tr.settle(tr.track(id, 1)))
		c.changed()
		waitFor(id)
	}

	require.True(t, tr.settle(tr.track("4", 1)))
	require.NoError(t, c.close(ctx)) // no changed call: close writes it
	_, id, ok, _, _, err := store.load(ctx)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, "4", id)
	c.changed() // after close: ignored, starts nothing
	c.mu.Lock()
	assert.Nil(t, c.done, "no writer runs")
	c.mu.Unlock()
	assert.NoError(t, c.close(ctx)) // idempotent
}

// TestCheckpointer_CloseReturnsTheFinalWriteError checks that close reports
// a failed final write instead of dropping it.
func TestCheckpointer_CloseReturnsTheFinalWriteError(t *testing.T) {
	res := service.MockResources()
	store := &checkpointStore{res: res, cache: "missing", key: "k"}
	var tr tracker
	c := newCheckpointer(store, &tr, 0, res.Logger(), nil, nil)
	require.True(t, tr.settle(tr.track("1", 1)))
	err := c.close(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), `checkpoint "1":`)
	assert.Contains(t, err.Error(), `checkpoint.cache "missing"`)
}

// TestCheckpointer_ReleaseWritesNothing checks that release, unlike close,
// makes no final write, and that a watermark moving afterwards starts no
// writer: the stream was given up on, and its checkpoint may belong to its
// next run by then.
func TestCheckpointer_ReleaseWritesNothing(t *testing.T) {
	res := service.MockResources(service.MockResourcesOptAddCache("ck"))
	store := &checkpointStore{res: res, cache: "ck", key: "k"}
	var tr tracker
	c := newCheckpointer(store, &tr, 0, res.Logger(), nil, nil)
	require.True(t, tr.settle(tr.track("1", 1)))
	if done := c.release(); done != nil {
		<-done
	}
	require.True(t, tr.settle(tr.track("2", 1)))
	c.changed()
	c.mu.Lock()
	assert.Nil(t, c.done, "no writer runs")
	c.mu.Unlock()
	_, _, ok, _, _, err := store.load(context.Background())
	require.NoError(t, err)
	assert.False(t, ok, "a checkpoint was written")
	assert.NoError(t, c.close(context.Background()), "close after release does nothing")
	_, _, ok, _, _, err = store.load(context.Background())
	require.NoError(t, err)
	assert.False(t, ok, "close after release wrote a checkpoint")
}
