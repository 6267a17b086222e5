package input

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// flightContext bounds a test.
func flightContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// flightStreams starts a Streams input, with the shared fields of yaml, of
// one stream whose server sends body and then ends it (204), and waits
// until want events are queued.
func flightStreams(ctx context.Context, t *testing.T, yaml, body string, want int) *Streams {
	t.Helper()
	srv := newScript(t, body)
	s, _ := newTestStreams(t, "reconnect: {initial_interval: 10ms, max_interval: 100ms}\n"+yaml, StreamsOptions{})
	require.NoError(t, s.Put(ctx, StreamConfig{Name: "a", URL: srv.URL()}))
	require.NoError(t, s.Connect(ctx))
	require.Eventually(t, func() bool {
		return s.in.h.locked(func() bool { return s.in.h.events == want })
	}, 5*time.Second, time.Millisecond, "the events were never queued")
	return s
}

// awaitEnded waits until the stream ended (its server answered 204).
func awaitEnded(t *testing.T, s *Streams) {
	t.Helper()
	require.Eventually(t, func() bool {
		return s.in.h.locked(func() bool { return s.in.h.ended == len(s.in.h.readers) })
	}, 5*time.Second, time.Millisecond, "the stream never ended")
}

// trackerOf returns the tracker of stream name.
func trackerOf(s *Streams, name string) *tracker {
	s.in.h.mu.Lock()
	defer s.in.h.mu.Unlock()
	return &s.in.h.readers[name].tracker
}

func contents(t *testing.T, b service.MessageBatch) []string {
	t.Helper()
	var out []string
	for _, m := range b {
		p, err := m.AsBytes()
		require.NoError(t, err)
		out = append(out, string(p))
	}
	return out
}

const fourEvents = "id: 1\ndata: e1\n\nid: 2\ndata: e2\n\nid: 3\ndata: e3\n\nid: 4\ndata: e4\n\n"

// TestFlight_Replays: a rejected batch comes back before anything else,
// untouched by what the pipeline did to it: whole for an error, only the
// messages a batch error names for that.
func TestFlight_Replays(t *testing.T) {
	for _, tt := range []struct {
		name   string
		reject func(b service.MessageBatch) error
		want   []string
	}{
		{"whole batch", func(service.MessageBatch) error { return errors.New("output down") }, []string{"e1", "e2", "e3", "e4"}},
		{"batch error", func(b service.MessageBatch) error {
			err := errors.New("two failed")
			return service.NewBatchError(b, err).Failed(1, err).Failed(3, err)
		}, []string{"e2", "e4"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := flightContext(t)
			s := flightStreams(ctx, t, "", fourEvents, 4)
			b, ack, err := s.ReadBatch(ctx)
			require.NoError(t, err)
			require.Equal(t, []string{"e1", "e2", "e3", "e4"}, contents(t, b))
			for _, m := range b {
				m.SetBytes([]byte("changed by a processor"))
				m.MetaSetMut("sse_id", "changed")
			}
			require.NoError(t, ack(ctx, tt.reject(b)))

			again, ack2, err := s.ReadBatch(ctx)
			require.NoError(t, err)
			assert.Equal(t, tt.want, contents(t, again))
			for _, m := range again {
				id, _ := m.MetaGet("sse_id")
				assert.NotEqual(t, "changed", id, "a replay carries the metadata as the input set it")
			}
			assert.Equal(t, 4, trackerOf(s, "a").unsettled(), "nothing is settled before the replay is accepted")
			require.NoError(t, ack(ctx, nil), "a second acknowledgement of one hand-out is ignored")
			assert.Equal(t, 4, trackerOf(s, "a").unsettled())

			require.NoError(t, ack2(ctx, nil))
			assert.Zero(t, trackerOf(s, "a").unsettled(), "the whole batch is settled once its replay is accepted")
			awaitEnded(t, s)
			_, _, err = s.ReadBatch(ctx)
			assert.ErrorIs(t, err, service.ErrEndOfInput)
		})
	}
}

// TestFlight_MaxInFlight: ReadBatch waits while max_in_flight batches are
// in flight, and goes on once one is acknowledged.
func TestFlight_MaxInFlight(t *testing.T) {
	ctx := flightContext(t)
	s := flightStreams(ctx, t, "max_in_flight: 2\nmax_batch_size: 1", fourEvents, 1)
	_, ack1, err := s.ReadBatch(ctx)
	require.NoError(t, err)
	_, _, err = s.ReadBatch(ctx)
	require.NoError(t, err)

	short, cancelShort := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancelShort()
	_, _, err = s.ReadBatch(short)
	assert.ErrorIs(t, err, context.DeadlineExceeded, "a third batch was handed out with two in flight")

	require.NoError(t, ack1(ctx, nil))
	b, _, err := s.ReadBatch(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"e3"}, contents(t, b))
}

// TestFlight_EndWaitsForWhatIsInFlight: once the stream ended, Connect
// still reports the input connected and ReadBatch waits while a batch is
// in flight, hands out its replay if it is rejected, and ends only once it
// is accepted.
func TestFlight_EndWaitsForWhatIsInFlight(t *testing.T) {
	ctx := flightContext(t)
	s := flightStreams(ctx, t, "", "id: 1\ndata: e1\n\n", 1)
	b, ack, err := s.ReadBatch(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"e1"}, contents(t, b))
	awaitEnded(t, s)

	assert.NoError(t, s.Connect(ctx), "the input ended while a batch is in flight")
	next := make(chan error, 1)
	var replay service.MessageBatch
	var ackReplay service.AckFunc
	go func() {
		var err error
		replay, ackReplay, err = s.ReadBatch(ctx)
		next <- err
	}()
	select {
	case err := <-next:
		t.Fatalf("ReadBatch returned %v with a batch in flight", err)
	case <-time.After(50 * time.Millisecond):
	}
	require.NoError(t, ack(ctx, errors.New("rejected")))
	require.NoError(t, <-next)
	assert.Equal(t, []string{"e1"}, contents(t, replay))
	require.NoError(t, ackReplay(ctx, nil))
	_, _, err = s.ReadBatch(ctx)
	assert.ErrorIs(t, err, service.ErrEndOfInput)
	assert.ErrorIs(t, s.Connect(ctx), service.ErrEndOfInput)
}

// TestFlight_NoReplay: with auto_replay_nacks: false a rejected batch is
// settled, not handed out again.
func TestFlight_NoReplay(t *testing.T) {
	ctx := flightContext(t)
	s := flightStreams(ctx, t, "auto_replay_nacks: false", fourEvents, 4)
	_, ack, err := s.ReadBatch(ctx)
	require.NoError(t, err)
	require.NoError(t, ack(ctx, errors.New("rejected")))
	assert.Zero(t, trackerOf(s, "a").unsettled())
	awaitEnded(t, s)
	_, _, err = s.ReadBatch(ctx)
	assert.ErrorIs(t, err, service.ErrEndOfInput)
}

// TestFlight_PauseBeforeLaterReplays: the first two replays of a batch are
// made at once; a later one waits, which ctx's end interrupts (no replay
// made) and Close's ends (the replay made, as linger's wait ends).
func TestFlight_PauseBeforeLaterReplays(t *testing.T) {
	closed := make(chan struct{})
	close(closed)
	var d delivery
	assert.True(t, d.pause(closed, nil), "the first replay waits for nothing")
	assert.True(t, d.pause(closed, nil), "the second replay waits for nothing")
	d.wait = maxReplayWait // a wait no timer ends before ctx's end is seen
	assert.False(t, d.pause(closed, nil), "the third waited through ctx's end")
	assert.True(t, d.pause(nil, closed), "Close ends the wait")

	later := delivery{replays: 2}
	later.pause(nil, closed)
	assert.Equal(t, firstReplayWait, later.wait)
	later.pause(nil, closed)
	assert.Greater(t, later.wait, firstReplayWait, "the wait grows")
	for range 100 {
		later.pause(nil, closed)
	}
	assert.Equal(t, maxReplayWait, later.wait, "up to its bound")
}
