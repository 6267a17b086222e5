package tests

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// replayServer sends events 1..3 and ends the body; the next connection
// replays from 2 whatever Last-Event-ID says (as a buggy or coarse server
// does) up to 5, with an id-less event after 5; the third gets 204.
func replayServer(t *testing.T) *sseServer {
	t.Helper()
	return newSSEServer(t, func(w *sseWriter, r *http.Request, n int) {
		switch n {
		case 1:
			w.Write("retry: 1\n\nid: 1\ndata: e1\n\nid: 2\ndata: e2\n\nid: 3\ndata: e3\n\n")
		case 2:
			w.Write("id: 2\ndata: e2\n\nid: 3\ndata: e3\n\nid: 4\ndata: e4\n\nid: 5\ndata: e5\n\ndata: no-id\n\n")
		default:
			w.w.WriteHeader(http.StatusNoContent)
		}
	})
}

// TestFeature_DedupeThroughBinary runs replay de-duplication through the
// binary: without it the replayed events come out twice; with either mode
// each event comes out once, and an event without its own id is kept.
func TestFeature_DedupeThroughBinary(t *testing.T) {
	t.Parallel()
	tests := []struct {
		mode string
		want string
	}{
		{"none", "e1 e2 e3 e2 e3 e4 e5 no-id"},
		{"monotonic", "e1 e2 e3 e4 e5 no-id"},
		{"window", "e1 e2 e3 e4 e5 no-id"},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			t.Parallel()
			srv := replayServer(t)
			cfg := writeConfigFile(t, "", "dedupe.yaml", `
http: {enabled: false}
input:
  sse:
    url: `+srv.URL()+`
    reconnect: {initial_interval: 10ms, max_interval: 100ms}
    dedupe: {mode: `+tt.mode+`, window: 100}
pipeline:
  threads: 1
output:
  stdout: {codec: lines}
logger: {level: warn}
`)
			res := runBin(t, repoRoot, nil, nil, "-c", cfg)
			require.Equal(t, 0, res.code, "stderr:\n%s", res.stderr)
			assert.Equal(t, tt.want, strings.Join(strings.Fields(res.stdout), " "))
		})
	}
}

// metaEvent is a delivered message with all its metadata.
type metaEvent struct {
	data string
	meta map[string]string
}

// TestFeature_MetadataAndMetrics checks the opt-in metadata (retry,
// connection attempt, status, URL after a redirect), extract_headers, the
// event filters and the SSE metrics through the real input.
func TestFeature_MetadataAndMetrics(t *testing.T) {
	noLeaks(t)
	var conns atomic.Int32
	srv := newSSEServer(t, func(w *sseWriter, r *http.Request, n int) {
		if r.URL.Path == "/start" {
			http.Redirect(w.w, r, "/events", http.StatusFound)
			return
		}
		w.w.Header().Set("X-Stream-Name", "ticker")
		switch conns.Add(1) {
		case 1:
			w.Write("id: 1\nretry: 20\ndata: first\n\nevent: ping\ndata: filtered\n\nid: 2\ndata: second\n\n")
		case 2:
			w.Write("id: 3\ndata: third\n\n")
		default:
			w.w.WriteHeader(http.StatusNoContent)
		}
	})

	var mu sync.Mutex
	var got []metaEvent
	h := runInput(t, runOpts{
		Input: sseYAML(srv.URL()+"/start",
			"exclude_events: [ping]",
			"extract_headers: {include_prefixes: [x-stream]}",
			"metadata: {retry: true, connection: true}"),
		Metrics: true,
		Consume: func(h *running, _ context.Context, b service.MessageBatch) error {
			for _, m := range b {
				data, _ := m.AsBytes()
				e := metaEvent{data: string(data), meta: map[string]string{}}
				_ = m.MetaWalk(func(k, v string) error {
					e.meta[k] = v
					return nil
				})
				mu.Lock()
				got = append(got, e)
				mu.Unlock()
			}
			h.record(b)
			return nil
		},
	})
	require.NoError(t, h.Wait(10*time.Second), "204 ends the input")

	mu.Lock()
	defer mu.Unlock()
	require.Len(t, got, 3)
	want := []struct {
		data, id, retry, attempt string
	}{
		{"first", "1", "20", "1"},
		{"second", "2", "", "1"},
		{"third", "3", "", "2"},
	}
	for i, w := range want {
		e := got[i]
		assert.Equal(t, w.data, e.data)
		assert.Equal(t, w.id, e.meta["sse_id"])
		assert.Equal(t, "message", e.meta["sse_event"])
		if w.retry == "" {
			assert.NotContains(t, e.meta, "sse_retry", "event %d carried no retry", i)
		} else {
			assert.Equal(t, w.retry, e.meta["sse_retry"])
		}
		assert.Equal(t, w.attempt, e.meta["sse_attempt"])
		assert.Equal(t, "200", e.meta["sse_status"])
		assert.Equal(t, srv.URL()+"/events", e.meta["sse_url"], "the URL after the redirect")
		assert.Equal(t, "ticker", e.meta["x-stream-name"])
	}

	m := h.Metrics
	assert.Equal(t, int64(4), m.Get("sse_events_received"))
	assert.Equal(t, int64(len("first")+len("filtered")+len("second")+len("third")), m.Get("sse_bytes_received"))
	assert.Equal(t, int64(1), m.Get("sse_events_filtered"))
	assert.Equal(t, int64(2), m.Get("sse_reconnects", "cause=eof"))
	assert.Equal(t, int64(0), m.Get("sse_checkpoint_lag"), "everything was acknowledged")
	assert.Equal(t, int64(2), m.Get("sse_ready_state"), "closed at the end")
}

// TestFeature_LivenessGauges checks sse_last_byte_age_seconds, which grows
// while a stream is silent, sse_backoff_seconds after a failed attempt,
// and sse_checkpoint_lag while the output holds events.
func TestFeature_LivenessGauges(t *testing.T) {
	noLeaks(t)
	srv := newSSEServer(t, func(w *sseWriter, r *http.Request, n int) {
		if n == 1 {
			w.w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Write("id: 1\ndata: a\n\nid: 2\ndata: b\n\n")
		w.Hold() // silent from here on
	})
	release := make(chan struct{})
	h := runInput(t, runOpts{
		// Two batches in flight at once, so that the lag counts both.
		Input:   sseYAML(srv.URL(), "max_batch_size: 1", "max_in_flight: 0"),
		Metrics: true,
		Consume: func(h *running, ctx context.Context, b service.MessageBatch) error {
			select {
			case <-release:
			case <-ctx.Done():
				return ctx.Err()
			}
			h.record(b)
			return nil
		},
	})
	m := h.Metrics
	deadline := time.Now().Add(10 * time.Second)
	for m.Get("sse_checkpoint_lag") < 2 || m.Get("sse_last_byte_age_seconds") < 1 {
		require.True(t, time.Now().Before(deadline), "lag %d, age %d", m.Get("sse_checkpoint_lag"), m.Get("sse_last_byte_age_seconds"))
		time.Sleep(50 * time.Millisecond) // polling a gauge that a 1 s ticker updates
	}
	assert.Equal(t, int64(1), m.Get("sse_reconnects", "cause=status"))
	assert.Equal(t, int64(0), m.Get("sse_backoff_seconds"), "reset once connected")
	assert.Equal(t, int64(1), m.Get("sse_ready_state"))
	close(release)
	h.WaitEvents(2)
	for m.Get("sse_checkpoint_lag") != 0 {
		require.True(t, time.Now().Before(deadline), "lag stays %d", m.Get("sse_checkpoint_lag"))
		time.Sleep(10 * time.Millisecond)
	}
}

// TestFeature_RetryZeroIsNoHotLoop has a server that answers every
// connection with "retry: 0" and closes it at once: the input's floor of
// 100 ms bounds the reconnection rate.
func TestFeature_RetryZeroIsNoHotLoop(t *testing.T) {
	noLeaks(t)
	srv := newSSEServer(t, func(w *sseWriter, r *http.Request, n int) {
		w.Write("retry: 0\n\n")
	})
	h := runInput(t, runOpts{Input: sseYAML(srv.URL())})
	start := time.Now()
	time.Sleep(time.Second) // the observation window
	n := int32(len(srv.Requests()))
	elapsed := time.Since(start)
	h.Stop()
	assert.GreaterOrEqual(t, n, int32(2), "it does reconnect")
	assert.LessOrEqual(t, float64(n), elapsed.Seconds()/0.1+2, "%d connections in %v: faster than one per 100 ms", n, elapsed)
}
