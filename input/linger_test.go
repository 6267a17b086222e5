package input

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// gatedServer serves one event, then waits for release before serving two
// more, then holds the connection until the client leaves.
func gatedServer(t *testing.T, release <-chan struct{}) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "id: 1\ndata: one\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		fmt.Fprint(w, "id: 2\ndata: two\n\nid: 3\ndata: three\n\n")
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	t.Cleanup(srv.Close)
	return srv
}

// lingerStreams starts a Streams input of one stream from srv, and waits
// until its first event is queued.
func lingerStreams(ctx context.Context, t *testing.T, yaml string, srv *httptest.Server) *Streams {
	t.Helper()
	s, _ := newTestStreams(t, yaml, StreamsOptions{})
	require.NoError(t, s.Put(ctx, StreamConfig{Name: "a", URL: srv.URL}))
	require.NoError(t, s.Connect(ctx))
	require.Eventually(t, func() bool {
		return s.in.h.locked(func() bool { return s.in.h.events == 1 })
	}, 5*time.Second, time.Millisecond, "the first event was never queued")
	return s
}

// readBatch runs ReadBatch on its own goroutine.
func readBatch(ctx context.Context, s *Streams) <-chan []string {
	out := make(chan []string, 1)
	go func() {
		b, ack, err := s.ReadBatch(ctx)
		if err != nil {
			out <- []string{"error: " + err.Error()}
			return
		}
		var data []string
		for _, m := range b {
			p, _ := m.AsBytes()
			data = append(data, string(p))
		}
		_ = ack(ctx, nil)
		out <- data
	}()
	return out
}

// TestLinger_GathersUntilTheBatchIsFull: with a linger far longer than the
// test, the batch waits for the events that arrive after its first, and is
// handed out as soon as it holds max_batch_size of them.
func TestLinger_GathersUntilTheBatchIsFull(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	release := make(chan struct{})
	s := lingerStreams(ctx, t, "linger: 1m\nmax_batch_size: 3\n", gatedServer(t, release))
	got := readBatch(ctx, s)
	close(release)
	select {
	case b := <-got:
		assert.Equal(t, []string{"one", "two", "three"}, b)
	case <-ctx.Done():
		t.Fatal("a full batch was not handed out before linger passed")
	}
}

// TestLinger_Zero hands out what arrived at once: the same stream gives a
// batch of its first event alone.
func TestLinger_Zero(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	release := make(chan struct{})
	s := lingerStreams(ctx, t, "max_batch_size: 3\n", gatedServer(t, release))
	assert.Equal(t, []string{"one"}, <-readBatch(ctx, s))
	close(release)
	assert.Equal(t, []string{"two", "three"}, <-readBatch(ctx, s))
}

// TestLinger_HandsOutWhenItPasses: a batch that does not fill is handed
// out once linger has passed since its first event.
func TestLinger_HandsOutWhenItPasses(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	release := make(chan struct{})
	defer close(release)
	s := lingerStreams(ctx, t, "linger: 50ms\n", gatedServer(t, release))
	assert.Equal(t, []string{"one"}, <-readBatch(ctx, s))
}

// TestLinger_CloseEndsTheWait: Close does not wait for a lingering batch.
func TestLinger_CloseEndsTheWait(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	release := make(chan struct{})
	defer close(release)
	s := lingerStreams(ctx, t, "linger: 1m\n", gatedServer(t, release))
	got := readBatch(ctx, s)
	require.Eventually(t, func() bool {
		return s.in.h.locked(func() bool { return s.in.h.filled != nil })
	}, 5*time.Second, time.Millisecond, "ReadBatch never lingered")
	require.NoError(t, s.Close(ctx))
	select {
	case <-got:
		// Handed out, or ended by Close: either way not a minute later.
	case <-ctx.Done():
		t.Fatal("Close left ReadBatch lingering")
	}
}
