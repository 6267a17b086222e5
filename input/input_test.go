package input

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	_ "github.com/redpanda-data/benthos/v4/public/components/io"
	_ "github.com/redpanda-data/benthos/v4/public/components/pure"
	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	benthossse "github.com/benthos-sse/benthos-sse"
	"github.com/benthos-sse/benthos-sse/internal/ssetest"
	"github.com/benthos-sse/benthos-sse/sse"
)

// got is one message as the output saw it.
type got struct{ event, id, data string }

func (g got) String() string { return g.event + "|" + g.id + "|" + g.data }

// collector is an output that records messages and can fail or block.
type collector struct {
	mu   sync.Mutex
	msgs []got
	// fail, if set, decides whether to reject a message.
	fail func(got) error
}

func newCollector() *collector { return &collector{} }

func (c *collector) consume(_ context.Context, m *service.Message) error {
	b, err := m.AsBytes()
	if err != nil {
		return err
	}
	ev, _ := m.MetaGet("sse_event")
	id, _ := m.MetaGet("sse_id")
	g := got{ev, id, string(b)}
	if c.fail != nil {
		if err := c.fail(g); err != nil {
			return err
		}
	}
	c.mu.Lock()
	c.msgs = append(c.msgs, g)
	c.mu.Unlock()
	return nil
}

func (c *collector) snapshot() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, len(c.msgs))
	for i, m := range c.msgs {
		out[i] = m.String()
	}
	return out
}

type stream struct {
	*service.Stream
	done chan error
}

// startStream builds and runs a stream with the given sse input YAML and
// extra resources YAML, consuming into c.
func startStream(t *testing.T, inputYAML, resourcesYAML string, c *collector) *stream {
	t.Helper()
	sb := service.NewStreamBuilder()
	require.NoError(t, sb.SetLoggerYAML("level: none"))
	require.NoError(t, sb.AddInputYAML(inputYAML))
	if resourcesYAML != "" {
		require.NoError(t, sb.AddResourcesYAML(resourcesYAML))
	}
	require.NoError(t, sb.AddConsumerFunc(c.consume))
	s, err := sb.Build()
	require.NoError(t, err)
	st := &stream{Stream: s, done: make(chan error, 1)}
	go func() { st.done <- s.Run(context.Background()) }()
	t.Cleanup(func() { _ = st.StopWithin(5 * time.Second) })
	return st
}

// wait returns Run's result, failing if the stream does not end by itself.
func (s *stream) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-s.done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("stream did not end by itself")
		return nil
	}
}

// script is a test server: each request gets the next body, sent with
// text/event-stream. After the last body the server answers 204, which
// ends the input.
type script struct {
	*ssetest.Server
	// srv.URL is URL(), for tests written when the server was an
	// httptest.Server.
	srv struct{ URL string }
}

func newScript(t *testing.T, bodies ...string) *script {
	s := &script{Server: ssetest.NewServer(t, func(w *ssetest.Writer, _ *http.Request, n int) {
		if n > len(bodies) {
			w.ResponseWriter().WriteHeader(http.StatusNoContent)
			return
		}
		w.Write(bodies[n-1])
	})}
	s.srv.URL = s.URL()
	return s
}

// requests returns the Last-Event-ID of each request so far ("" when it
// had none).
func (s *script) requests() []string {
	var ids []string
	for _, r := range s.Requests() {
		ids = append(ids, r.LastEventID)
	}
	return ids
}

func sseYAML(url string, extra ...string) string {
	return "sse:\n  url: " + url + "\n  reconnect: {initial_interval: 1ms, max_interval: 10ms}\n" + strings.Join(extra, "\n")
}

func TestInput_PayloadMetadataAndEnd(t *testing.T) {
	s := newScript(t,
		"id: 1\nevent: tick\ndata: {\"n\":1}\n\n: comment\n\ndata: line1\ndata: line2\n\n",
		"id: 2\ndata: after reconnect\n\ndata: unterminated",
	)
	c := newCollector()
	st := startStream(t, sseYAML(s.URL()), "", c)
	require.NoError(t, st.wait(t), "204 ends the input and Run returns nil")
	assert.Equal(t, []string{
		`tick|1|{"n":1}`,
		"message|1|line1\nline2",
		"message|2|after reconnect",
	}, c.snapshot())
	assert.Equal(t, []string{"", "1", "2"}, s.requests(), "Last-Event-ID on each request")
}

func TestInput_InitialLastEventID(t *testing.T) {
	s := newScript(t, "id: 8\ndata: x\n\n")
	c := newCollector()
	st := startStream(t, sseYAML(s.URL(), "  last_event_id: \"7\""), "", c)
	require.NoError(t, st.wait(t))
	assert.Equal(t, []string{"7", "8"}, s.requests())
}

func TestInput_EventFilters(t *testing.T) {
	s := newScript(t, "event: a\ndata: 1\n\nevent: b\ndata: 2\n\nevent: ping\ndata: 3\n\ndata: 4\n\n")
	c := newCollector()
	st := startStream(t, sseYAML(s.URL(), "  events: [a, b, ping]", "  exclude_events: [b]"), "", c)
	require.NoError(t, st.wait(t))
	assert.Equal(t, []string{"a||1", "ping||3"}, c.snapshot())
}

func TestInput_OneShotStream(t *testing.T) {
	t.Run("stream_end stop", func(t *testing.T) {
		s := newScript(t, "data: a\n\ndata: b\n\n", "data: never\n\n")
		c := newCollector()
		st := startStream(t, sseYAML(s.URL(), "  stream_end: stop"), "", c)
		require.NoError(t, st.wait(t))
		assert.Equal(t, []string{"message||a", "message||b"}, c.snapshot())
		assert.Len(t, s.requests(), 1, "no reconnect after a normal end")
	})
	t.Run("end_on_data sentinel not emitted", func(t *testing.T) {
		s := newScript(t, "data: a\n\ndata: [DONE]\n\ndata: after\n\n")
		c := newCollector()
		st := startStream(t, sseYAML(s.URL(), `  end_on_data: "[DONE]"`), "", c)
		require.NoError(t, st.wait(t))
		assert.Equal(t, []string{"message||a"}, c.snapshot())
	})
}

func TestInput_StatusPolicyRetriesThenOpens(t *testing.T) {
	srv := ssetest.NewServer(t, func(sw *ssetest.Writer, _ *http.Request, n int) {
		w := sw.ResponseWriter()
		switch n {
		case 1:
			w.WriteHeader(http.StatusServiceUnavailable)
		case 2:
			w.Header().Set("Content-Type", "text/html")
			_, _ = fmt.Fprint(w, "<html>")
		case 3:
			sw.Write("id: 1\ndata: ok\n\n")
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	})
	c := newCollector()
	st := startStream(t, sseYAML(srv.URL()), "", c)
	require.NoError(t, st.wait(t))
	assert.Equal(t, []string{"message|1|ok"}, c.snapshot())
}

// TestInput_CheckpointResumesAfterRestart runs two streams, one after the
// other, on the same file cache: the second resumes at the first's
// watermark.
func TestInput_CheckpointResumesAfterRestart(t *testing.T) {
	dir := t.TempDir()
	res := fmt.Sprintf("cache_resources:\n  - label: ck\n    file:\n      directory: %s\n", dir)
	in := func(url string) string {
		return sseYAML(url, "  checkpoint: {cache: ck, key: test}")
	}

	s1 := newScript(t, "id: 1\ndata: a\n\nid: 2\ndata: b\n\n")
	c1 := newCollector()
	require.NoError(t, startStream(t, in(s1.URL()), res, c1).wait(t))
	assert.Equal(t, []string{"message|1|a", "message|2|b"}, c1.snapshot())

	s2 := newScript(t, "id: 3\ndata: c\n\n")
	c2 := newCollector()
	require.NoError(t, startStream(t, in(s2.URL()), res, c2).wait(t))
	assert.Equal(t, []string{"2", "3"}, s2.requests(), "the restarted input resumes at the checkpoint")
}

// TestInput_NacksReplayedInOrderAndNotCheckpointed rejects messages until
// released: they are replayed in order, and the checkpoint does not pass
// them meanwhile.
func TestInput_NacksReplayedInOrderAndNotCheckpointed(t *testing.T) {
	release := make(chan struct{})
	rejected := make(chan struct{}, 1)
	s := newScript(t, "id: 1\ndata: a\n\nid: 2\ndata: b\n\nid: 3\ndata: c\n\n")
	c := newCollector()
	c.fail = func(g got) error {
		select {
		case <-release:
			return nil
		default:
		}
		if g.id == "2" {
			select {
			case rejected <- struct{}{}:
			default:
			}
			return errors.New("output down")
		}
		return nil
	}

	sb := service.NewStreamBuilder()
	require.NoError(t, sb.SetLoggerYAML("level: none"))
	require.NoError(t, sb.AddInputYAML(sseYAML(s.URL(), "  max_batch_size: 1", "  checkpoint: {cache: ck, key: k}")))
	require.NoError(t, sb.AddCacheYAML("label: ck\nmemory: {}"))
	require.NoError(t, sb.AddConsumerFunc(c.consume))
	strm, err := sb.Build()
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- strm.Run(context.Background()) }()
	t.Cleanup(func() { _ = strm.StopWithin(5 * time.Second) })

	select {
	case <-rejected:
	case <-time.After(10 * time.Second):
		t.Fatal("event 2 was never delivered")
	}
	close(release)
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("stream did not end")
	}
	msgs := c.snapshot()
	// Event 1 and 3 may pass while 2 is being retried, but 2 is delivered
	// and nothing is lost.
	assert.ElementsMatch(t, []string{"message|1|a", "message|2|b", "message|3|c"}, msgs)
}

func TestTracker_ContiguousWatermark(t *testing.T) {
	var tr tracker
	s1 := tr.track("1", 2)
	s2 := tr.track("2", 1)
	s3 := tr.track("3", 4)
	assert.Equal(t, 7, tr.unsettled())

	assert.False(t, tr.settle(s3), "acks out of order do not move the watermark")
	_, ok := tr.watermark()
	assert.False(t, ok)
	assert.False(t, tr.settle(s2))
	assert.True(t, tr.settle(s1), "the oldest ack releases everything behind it")
	id, ok := tr.watermark()
	assert.True(t, ok)
	assert.Equal(t, "3", id)
	assert.Equal(t, 0, tr.unsettled())
	assert.False(t, tr.settle(s1), "a second ack is ignored")

	s4 := tr.track("4", 1)
	s5 := tr.track("5", 1)
	assert.True(t, tr.settle(s4))
	id, _ = tr.watermark()
	assert.Equal(t, "4", id)
	assert.True(t, tr.settle(s5))
	id, _ = tr.watermark()
	assert.Equal(t, "5", id)
}

func TestTracker_ConcurrentAcks(t *testing.T) {
	var tr tracker
	const n = 1000
	seqs := make([]uint64, n)
	for i := range seqs {
		seqs[i] = tr.track(fmt.Sprint(i), 1)
	}
	var wg sync.WaitGroup
	for i := n - 1; i >= 0; i-- {
		wg.Add(1)
		go func(seq uint64) {
			defer wg.Done()
			tr.settle(seq)
		}(seqs[i])
	}
	wg.Wait()
	id, ok := tr.watermark()
	require.True(t, ok)
	assert.Equal(t, fmt.Sprint(n-1), id)
}

func TestCheckpoint_EncodeDecode(t *testing.T) {
	for _, id := range []string{"", "42", "with spaces in it", "üñí\u00a0code"} {
		gen, got, ok := decodeCheckpoint(encodeCheckpoint(7, id))
		assert.True(t, ok, id)
		assert.Equal(t, uint64(7), gen)
		assert.Equal(t, id, got)
	}
	full := encodeCheckpoint(9, "event-123")
	for i := range len(full) {
		_, _, ok := decodeCheckpoint(full[:i])
		assert.False(t, ok, "a value torn at byte %d must be rejected", i)
	}
	_, _, ok := decodeCheckpoint([]byte("sse-checkpoint/1 9 00000000 event-123"))
	assert.False(t, ok, "a bad checksum is rejected")
}

// TestCheckpoint_TornWriteFallsBack tears the newest slot as a crash during
// the core file cache's truncate-then-write would, and checks that loading
// falls back to the previous generation.
func TestCheckpoint_TornWriteFallsBack(t *testing.T) {
	res := service.MockResources(service.MockResourcesOptAddCache("ck"))
	store := &checkpointStore{res: res, cache: "ck", key: "k"}
	ctx := context.Background()

	_, _, ok, invalid, _, err := store.load(ctx)
	require.NoError(t, err)
	assert.False(t, ok, "no checkpoint yet")
	assert.Empty(t, invalid)

	require.NoError(t, store.save(ctx, 1, "10"))
	require.NoError(t, store.save(ctx, 2, "20"))
	gen, id, ok, _, _, err := store.load(ctx)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, uint64(2), gen)
	assert.Equal(t, "20", id)

	// Generation 3 goes to slot b and is torn: empty, then truncated.
	for _, torn := range [][]byte{{}, encodeCheckpoint(3, "30")[:10]} {
		require.NoError(t, res.AccessCache(ctx, "ck", func(c service.Cache) {
			require.NoError(t, c.Set(ctx, store.slot(3), torn, nil))
		}))
		var invalid []string
		gen, id, ok, invalid, _, err = store.load(ctx)
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, []string{"k.b"}, invalid, "the torn slot is reported")
		assert.Equal(t, uint64(2), gen, "falls back to the last whole write")
		assert.Equal(t, "20", id)
	}
}

func TestDeduper(t *testing.T) {
	type ev struct {
		id    string
		hasID bool
	}
	tests := []struct {
		name   string
		mode   benthossse.DedupeMode
		window int
		in     []ev
		drop   []bool
	}{
		{
			name: "monotonic drops replays, keeps events without their own id",
			mode: benthossse.DedupeMonotonic,
			in:   []ev{{"1", true}, {"2", true}, {"2", false}, {"1", true}, {"2", true}, {"3", true}, {"x", true}},
			drop: []bool{false, false, false, true, true, false, false},
		},
		{
			name:   "window remembers the last N ids",
			mode:   benthossse.DedupeWindow,
			window: 2,
			in:     []ev{{"a", true}, {"b", true}, {"a", true}, {"c", true}, {"a", true}, {"c", true}},
			drop:   []bool{false, false, true, false, false, true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDeduper(tt.mode, tt.window)
			for i, e := range tt.in {
				got := d.seen(sseEvent(e.id, e.hasID))
				assert.Equal(t, tt.drop[i], got, "event %d (%s)", i, e.id)
			}
		})
	}
}

func sseEvent(id string, hasID bool) sse.Event {
	return sse.Event{Type: "message", LastEventID: id, HasID: hasID}
}

// TestInput_MaxInFlightOneKeepsOrderAcrossReplays rejects the first
// deliveries of several events: with max_in_flight: 1 the output still sees
// every event once, in stream order.
func TestInput_MaxInFlightOneKeepsOrderAcrossReplays(t *testing.T) {
	var body strings.Builder
	var want []string
	for i := 1; i <= 30; i++ {
		fmt.Fprintf(&body, "id: %d\ndata: e%d\n\n", i, i)
		want = append(want, fmt.Sprintf("message|%d|e%d", i, i))
	}
	s := newScript(t, body.String())
	c := newCollector()
	var mu sync.Mutex
	rejected := map[string]int{}
	c.fail = func(g got) error {
		mu.Lock()
		defer mu.Unlock()
		// Every third event is rejected twice before it goes through.
		if n := len(g.id); n > 0 && g.id[n-1]%3 == 0 && rejected[g.id] < 2 {
			rejected[g.id]++
			return errors.New("output down")
		}
		return nil
	}
	// One event per batch: a rejected batch is replayed whole, so larger
	// batches would repeat the events before the rejected one.
	st := startStream(t, sseYAML(s.URL(), "  max_in_flight: 1", "  max_batch_size: 1"), "", c)
	require.NoError(t, st.wait(t))
	assert.Equal(t, want, c.snapshot())
	mu.Lock()
	defer mu.Unlock()
	assert.NotEmpty(t, rejected, "the test rejected nothing")
}

// TestScanner_FileInput reads an event stream from a file through the core
// file input with the sse scanner: metadata as the input sets it, an
// oversized event skipped without ending the file, and the unterminated
// last event dropped.
func TestScanner_FileInput(t *testing.T) {
	path := t.TempDir() + "/stream.sse"
	body := "\xEF\xBB\xBFid: 1\nevent: tick\ndata: a\r\n\r\ndata: " + strings.Repeat("x", 100) + "\n\nid: 3\ndata: c\r\rdata: unterminated"
	require.NoError(t, os.WriteFile(path, []byte(body), 0o600))
	c := newCollector()
	st := startStream(t, fmt.Sprintf("file:\n  paths: [%q]\n  scanner:\n    sse:\n      max_event_size: 50", path), "", c)
	require.NoError(t, st.wait(t))
	assert.Equal(t, []string{"tick|1|a", "message|3|c"}, c.snapshot())
}

// TestInput_NoReplayDropsAndSettles turns auto_replay_nacks off: a rejected
// event is dropped, as Benthos defines that setting, and counts as settled,
// so the checkpoint moves past it instead of stalling for good.
func TestInput_NoReplayDropsAndSettles(t *testing.T) {
	dir := t.TempDir()
	s := newScript(t, "id: 1\ndata: a\n\nid: 2\ndata: b\n\nid: 3\ndata: c\n\n")
	c := newCollector()
	c.fail = func(g got) error {
		if g.id == "2" {
			return errors.New("rejected")
		}
		return nil
	}
	res := fmt.Sprintf("cache_resources:\n  - label: ck\n    file:\n      directory: %s\n", dir)
	st := startStream(t, sseYAML(s.URL(), "  auto_replay_nacks: false", "  max_batch_size: 1", "  checkpoint: {cache: ck, key: k}"), res, c)
	require.NoError(t, st.wait(t))
	assert.Equal(t, []string{"message|1|a", "message|3|c"}, c.snapshot())

	newest := ""
	var newestGen uint64
	for _, slot := range []string{"k.a", "k.b"} {
		v, err := os.ReadFile(dir + "/" + slot)
		if err != nil {
			continue
		}
		if gen, id, ok := decodeCheckpoint(v); ok && gen >= newestGen {
			newest, newestGen = id, gen
		}
	}
	assert.Equal(t, "3", newest, "the checkpoint passed the dropped event")
}

// TestInput_GivesUpAfterMaxElapsedTime has a server that always answers
// 503: with reconnect.max_elapsed_time set, the input ends by itself after
// failing for that long, instead of retrying for ever.
func TestInput_GivesUpAfterMaxElapsedTime(t *testing.T) {
	srv := ssetest.NewServer(t, func(w *ssetest.Writer, _ *http.Request, _ int) {
		w.ResponseWriter().WriteHeader(http.StatusServiceUnavailable)
	})
	c := newCollector()
	start := time.Now()
	st := startStream(t, "sse:\n  url: "+srv.URL()+"\n  reconnect: {initial_interval: 100ms, max_interval: 100ms, max_elapsed_time: 300ms}", "", c)
	require.NoError(t, st.wait(t))
	assert.GreaterOrEqual(t, time.Since(start), 300*time.Millisecond, "it kept trying for max_elapsed_time")
	assert.GreaterOrEqual(t, len(srv.Requests()), 3, "it retried before giving up")
	assert.Empty(t, c.snapshot())
}

func TestTracker_CopiesEachIDOnce(t *testing.T) {
	var tr tracker
	view := strings.Repeat("x", 64)[:8] // a view of a larger block, as the event source's IDs are
	s := tr.track(view, 1)
	tr.settle(s)
	mark, _ := tr.watermark()
	assert.Equal(t, view, mark)
	assert.NotSame(t, unsafe.StringData(view), unsafe.StringData(mark), "the watermark must not keep the event's block alive")

	// A stream without new IDs, a batch at a time, as at many idle streams:
	// neither the ID nor the pending list is allocated again.
	allocs := testing.AllocsPerRun(100, func() { tr.settle(tr.track(view, 1)) })
	assert.Zero(t, allocs)
	again, _ := tr.watermark()
	assert.Same(t, unsafe.StringData(mark), unsafe.StringData(again))
}

func TestTake_SharesPerStreamInArrivalOrder(t *testing.T) {
	in := &sseInput{conf: &benthossse.Config{MaxBatchSize: 4}, h: newHandoff()}
	a, b, c := &reader{in: in}, &reader{in: in}, &reader{in: in}
	msgs := func(names ...string) service.MessageBatch {
		var out service.MessageBatch
		for _, n := range names {
			out = append(out, service.NewMessage([]byte(n)))
		}
		return out
	}
	for _, ch := range []*chunk{
		{r: a, msgs: msgs("a1", "a2"), id: "a2"},
		{r: b, msgs: msgs("b1"), id: "b1"},
		{r: a, msgs: msgs("a3"), id: "a3"},
		{r: c, msgs: msgs("c1", "c2"), id: "c2"},
	} {
		ch.r.queued++
		ch.r.last = ch
		in.h.queue = append(in.h.queue, ch)
		in.h.events += len(ch.msgs)
	}
	contents := func(batch service.MessageBatch) []string {
		var out []string
		for _, m := range batch {
			b, _ := m.AsBytes()
			out = append(out, string(b))
		}
		return out
	}

	batch, parts := in.take()
	assert.Equal(t, []string{"a1", "a2", "b1", "a3"}, contents(batch), "whole chunks in arrival order, up to max_batch_size")
	require.Len(t, parts, 2, "one share per stream")
	assert.Same(t, a, parts[0].r)
	assert.Same(t, b, parts[1].r)
	assert.Equal(t, 3, a.tracker.unsettled(), "a's share: both its chunks")
	assert.Equal(t, 1, b.tracker.unsettled())
	for _, r := range []*reader{a, b, c} {
		assert.Zero(t, r.share, "take leaves no share index behind")
	}
	assert.True(t, a.tracker.settle(parts[0].seq))
	mark, _ := a.tracker.watermark()
	assert.Equal(t, "a3", mark, "a stream's share ends at its last chunk's resume point")

	batch, parts = in.take()
	assert.Equal(t, []string{"c1", "c2"}, contents(batch))
	require.Len(t, parts, 1)
	assert.Same(t, c, parts[0].r)
	assert.Empty(t, in.h.queue)
	assert.Zero(t, in.h.events)
}
