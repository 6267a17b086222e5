package input

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	benthossse "github.com/benthos-sse/benthos-sse"
	"github.com/benthos-sse/benthos-sse/sse"
)

// streamsServer serves /s/<name>: three events `<name>-<n>` with id n,
// resuming after the request's Last-Event-ID, then holds the connection
// until the client leaves. It records every request's Last-Event-ID by
// path ("-" when absent).
type streamsServer struct {
	*httptest.Server
	mu   sync.Mutex
	seen map[string][]string
	open map[string]int // connections being served, by path
}

func newStreamsServer(t *testing.T) *streamsServer {
	s := &streamsServer{seen: map[string][]string{}, open: map[string]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/s/")
		lei, has := r.Header["Last-Event-Id"]
		s.mu.Lock()
		if has {
			s.seen[name] = append(s.seen[name], lei[0])
		} else {
			s.seen[name] = append(s.seen[name], "-")
		}
		s.open[name]++
		s.mu.Unlock()
		defer func() {
			s.mu.Lock()
			s.open[name]--
			s.mu.Unlock()
		}()
		from := 1
		if has {
			n, err := strconv.Atoi(lei[0])
			if err != nil {
				http.Error(w, "bad id", http.StatusBadRequest)
				return
			}
			from = n + 1
		}
		w.Header().Set("Content-Type", "text/event-stream")
		for i := from; i < from+3; i++ {
			fmt.Fprintf(w, "id: %d\ndata: %s-%d\n\n", i, name, i)
		}
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *streamsServer) requests(name string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.seen[name]...)
}

func (s *streamsServer) connections(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.open[name]
}

// ackAndAwait acknowledges every held event, then waits for done, which
// must deliver nil before ctx ends (failing with msg otherwise).
func ackAndAwait(ctx context.Context, t *testing.T, all []held, done <-chan error, msg string) {
	t.Helper()
	for _, h := range all {
		require.NoError(t, h.ack(ctx, nil))
	}
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-ctx.Done():
		t.Fatal(msg)
	}
}

// newFleetStreams is the setup of the tests that drive Streams as the
// fleet does: a streams server, an input that keeps running with no stream
// and checkpoints to cache ck, and a context bounding the test.
func newFleetStreams(t *testing.T) (*streamsServer, *Streams, *service.Resources, context.Context) {
	t.Helper()
	srv := newStreamsServer(t)
	s, res := newTestStreams(t, `
max_in_flight: 0
reconnect: {initial_interval: 10ms, max_interval: 100ms}
checkpoint: {cache: ck, key: fleet}
`, StreamsOptions{KeepRunning: true})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return srv, s, res, ctx
}

// newTestStreams builds a Streams input with the shared fields of yaml and
// a memory cache "ck".
func newTestStreams(t *testing.T, yaml string, opts StreamsOptions) (*Streams, *service.Resources) {
	t.Helper()
	spec := service.NewConfigSpec().Fields(benthossse.SharedFields()...)
	conf, err := spec.ParseYAML(yaml, nil)
	require.NoError(t, err)
	res := service.MockResources(service.MockResourcesOptAddCache("ck"))
	s, err := NewStreams(conf, res, opts)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		assert.NoError(t, s.Close(ctx))
	})
	return s, res
}

// held is a batch read and not yet acknowledged.
type held struct {
	msgs []string // sse_stream|sse_id|data|sse_checkpoint_key|sse_resume_point
	ack  service.AckFunc
}

// readUntil reads batches until want holds for all messages read so far.
func readUntil(t *testing.T, s *Streams, all *[]held, want func(msgs []string) bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		var msgs []string
		for _, h := range *all {
			msgs = append(msgs, h.msgs...)
		}
		if want(msgs) {
			return
		}
		b, ack, err := s.ReadBatch(ctx)
		if err == service.ErrNotConnected {
			require.NoError(t, s.Connect(ctx))
			continue
		}
		require.NoError(t, err, "read so far: %v", msgs)
		var h held
		for _, m := range b {
			data, _ := m.AsBytes()
			name, _ := m.MetaGet(benthossse.MetaStream)
			id, _ := m.MetaGet(benthossse.MetaLastEventID)
			key, _ := m.MetaGet(benthossse.MetaCheckpointKey)
			resume, _ := m.MetaGet(benthossse.MetaResumePoint)
			h.msgs = append(h.msgs, strings.Join([]string{name, id, string(data), key, resume}, "|"))
		}
		h.ack = ack
		*all = append(*all, h)
	}
}

func countPrefix(msgs []string, prefix string) int {
	n := 0
	for _, m := range msgs {
		if strings.HasPrefix(m, prefix) {
			n++
		}
	}
	return n
}

// TestStreams_PutReplaceRemove drives the Go API while events are in
// flight: Remove and a replacing Put return only once the stream's events
// handed out are acknowledged; a replaced stream resumes from what was
// acknowledged; a removed stream's connection closes; the input keeps
// running with no stream.
func TestStreams_PutReplaceRemove(t *testing.T) {
	srv, s, res, ctx := newFleetStreams(t)

	require.NoError(t, s.Put(ctx, StreamConfig{Name: "a", URL: srv.URL + "/s/a"}))
	require.NoError(t, s.Put(ctx, StreamConfig{Name: "b", URL: srv.URL + "/s/b", LastEventID: "10"}))
	require.NoError(t, s.Connect(ctx))

	var all []held
	readUntil(t, s, &all, func(m []string) bool { return countPrefix(m, "a|") == 3 && countPrefix(m, "b|") == 3 })
	var msgs []string
	for _, h := range all {
		msgs = append(msgs, h.msgs...)
	}
	// Each stream's events in order, with its name and its own checkpoint
	// key and resume point.
	var a, b []string
	for _, m := range msgs {
		switch {
		case strings.HasPrefix(m, "a|"):
			a = append(a, m)
		case strings.HasPrefix(m, "b|"):
			b = append(b, m)
		}
	}
	assert.Equal(t, []string{"a|1|a-1|fleet.a|1", "a|2|a-2|fleet.a|2", "a|3|a-3|fleet.a|3"}, a)
	assert.Equal(t, []string{"b|11|b-11|fleet.b|11", "b|12|b-12|fleet.b|12", "b|13|b-13|fleet.b|13"}, b)

	// Remove waits for a's events in flight.
	removed := make(chan error, 1)
	go func() { removed <- s.Remove(ctx, "a") }()
	select {
	case err := <-removed:
		t.Fatalf("Remove returned (%v) with a's events unacknowledged", err)
	case <-time.After(100 * time.Millisecond):
	}
	// A replacing Put waits for b's too.
	replaced := make(chan error, 1)
	go func() {
		replaced <- s.Put(ctx, StreamConfig{Name: "b", URL: srv.URL + "/s/b", Headers: http.Header{"X-New": {"1"}}})
	}()
	ackAndAwait(ctx, t, all, removed, "Remove did not return once a's events were acknowledged")
	select {
	case err := <-replaced:
		require.NoError(t, err)
	case <-ctx.Done():
		t.Fatal("Put did not return once b's events were acknowledged")
	}

	// a's final checkpoint holds its watermark; b resumed from its own.
	store := &checkpointStore{res: res, cache: "ck", key: "fleet.a"}
	_, id, ok, _, _, err := store.load(ctx)
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, "3", id)
	all = nil
	readUntil(t, s, &all, func(m []string) bool { return countPrefix(m, "b|") == 3 })
	assert.Equal(t, []string{"10", "13"}, srv.requests("b"), "the new b resumes from the old one's watermark")
	assert.Equal(t, []string{"-"}, srv.requests("a"))
	require.Eventually(t, func() bool { return srv.connections("a") == 0 }, 5*time.Second, 10*time.Millisecond, "a's connection stays open")

	list := s.List()
	require.Len(t, list, 1)
	assert.Equal(t, "b", list[0].Name)
	assert.Equal(t, sse.Open, list[0].State)
	assert.Equal(t, 3, list[0].Lag)
	assert.Equal(t, "13", list[0].ResumePoint)
	for _, h := range all {
		require.NoError(t, h.ack(ctx, nil))
	}

	// With no stream left, the input keeps running: ReadBatch waits.
	require.NoError(t, s.Remove(ctx, "b"))
	assert.Empty(t, s.List())
	short, cancelShort := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancelShort()
	_, _, err = s.ReadBatch(short)
	assert.ErrorIs(t, err, service.ErrNotConnected)
}

// TestStreams_EndsWhenEveryStreamEnded checks that an input without
// KeepRunning ends once its last stream ended, and that a stream that ends
// ends alone.
func TestStreams_EndsWhenEveryStreamEnded(t *testing.T) {
	var mu sync.Mutex
	done := map[string]bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		ended := done[r.URL.Path]
		done[r.URL.Path] = true
		mu.Unlock()
		if ended {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprintf(w, "id: 1\ndata: %s\n\n", r.URL.Path)
	}))
	defer srv.Close()
	s, _ := newTestStreams(t, "reconnect: {initial_interval: 10ms, max_interval: 100ms}", StreamsOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, s.Put(ctx, StreamConfig{Name: "x", URL: srv.URL + "/x"}))
	require.NoError(t, s.Put(ctx, StreamConfig{Name: "y", URL: srv.URL + "/y"}))
	require.NoError(t, s.Connect(ctx))
	assert.ElementsMatch(t, []string{"/x", "/y"}, readToEnd(ctx, t, s))
	for _, st := range s.List() {
		assert.Equal(t, sse.Closed, st.State, st.Name)
	}
}

// readToEnd reads and acknowledges batches until the input ends, and
// returns the data of every message.
func readToEnd(ctx context.Context, t *testing.T, s *Streams) []string {
	t.Helper()
	var datas []string
	for {
		b, ack, err := s.ReadBatch(ctx)
		if err == service.ErrEndOfInput {
			return datas
		}
		if err == service.ErrNotConnected {
			if err := s.Connect(ctx); err == service.ErrEndOfInput {
				return datas
			} else {
				require.NoError(t, err)
			}
			continue
		}
		require.NoError(t, err)
		for _, m := range b {
			d, _ := m.AsBytes()
			datas = append(datas, string(d))
		}
		require.NoError(t, ack(ctx, nil))
	}
}

// TestStreams_PutRefusesBadStreams checks that Put validates as the YAML
// does, naming the field.
func TestStreams_PutRefusesBadStreams(t *testing.T) {
	s, _ := newTestStreams(t, "", StreamsOptions{KeepRunning: true})
	ctx := context.Background()
	for _, tt := range []struct {
		sc   StreamConfig
		want string
	}{
		{StreamConfig{URL: "http://a/"}, `field "name": must not be empty`},
		{StreamConfig{Name: "n", URL: "ftp://a/"}, `field "url"`},
		{StreamConfig{Name: "n\x01", URL: "http://a/"}, `field "name"`},
		{StreamConfig{Name: "n", URL: "http://a/", LastEventID: "a\nb"}, `field "last_event_id"`},
		{StreamConfig{Name: "n", URL: "http://a/", Headers: http.Header{"X": {"a\rb"}}}, `field "headers.X"`},
		{StreamConfig{Name: "n", URL: "http://a/", Method: "get"}, `field "method"`},
	} {
		err := s.Put(ctx, tt.sc)
		require.Error(t, err, "%+v", tt.sc)
		assert.Contains(t, err.Error(), tt.want)
	}
	assert.Empty(t, s.List())

	// Against the input's settings: its bearer_token would replace a
	// stream's own Authorization header.
	s, _ = newTestStreams(t, "bearer_token: t", StreamsOptions{KeepRunning: true})
	own := StreamConfig{Name: "n", URL: "http://a/", Headers: http.Header{"authorization": {"Basic x"}}}
	for _, put := range []func() error{
		func() error { return s.Put(ctx, own) },
		func() error { return s.PutAll(ctx, []StreamConfig{own}) },
	} {
		err := put()
		require.Error(t, err)
		assert.Contains(t, err.Error(), `field "headers.authorization": the input's bearer_token sets the Authorization header of every request, replacing the stream's own: keep one`)
	}
	assert.Empty(t, s.List())
}

// TestStreams_RemoveAll removes several streams at once: it returns only
// once the events in flight of every one are acknowledged, writes each
// one's final checkpoint and closes each connection, and leaves the others
// running.
func TestStreams_RemoveAll(t *testing.T) {
	srv, s, res, ctx := newFleetStreams(t)
	for _, n := range []string{"a", "b", "c"} {
		require.NoError(t, s.Put(ctx, StreamConfig{Name: n, URL: srv.URL + "/s/" + n}))
	}
	require.NoError(t, s.Connect(ctx))
	var all []held
	readUntil(t, s, &all, func(m []string) bool {
		return countPrefix(m, "a|") >= 2 && countPrefix(m, "b|") >= 2 && countPrefix(m, "c|") >= 1
	})

	removed := make(chan error, 1)
	go func() { removed <- s.RemoveAll(ctx, []string{"a", "b", "missing"}) }()
	select {
	case err := <-removed:
		t.Fatalf("RemoveAll returned (%v) with events unacknowledged", err)
	case <-time.After(100 * time.Millisecond):
	}
	ackAndAwait(ctx, t, all, removed, "RemoveAll did not return once the events were acknowledged")
	for _, n := range []string{"a", "b"} {
		store := &checkpointStore{res: res, cache: "ck", key: "fleet." + n}
		_, _, ok, _, _, err := store.load(ctx)
		require.NoError(t, err)
		assert.True(t, ok, "%s's final checkpoint", n)
		require.Eventually(t, func() bool { return srv.connections(n) == 0 }, 5*time.Second, 10*time.Millisecond, "%s's connection stays open", n)
	}
	list := s.List()
	require.Len(t, list, 1)
	assert.Equal(t, "c", list[0].Name)
}

// TestStreams_PutAll puts several streams at once: new ones start from
// their checkpoints, read ahead, and one that exists is replaced.
func TestStreams_PutAll(t *testing.T) {
	srv, s, _, ctx := newFleetStreams(t)
	require.Error(t, s.PutAll(ctx, []StreamConfig{{Name: "a", URL: srv.URL + "/s/a"}, {Name: "bad", URL: "ftp://x"}}), "an invalid stream")
	assert.Empty(t, s.List(), "nothing is put when one stream is invalid")
	require.NoError(t, s.PutAll(ctx, []StreamConfig{{Name: "a", URL: srv.URL + "/s/a"}, {Name: "b", URL: srv.URL + "/s/b"}}))
	require.NoError(t, s.Connect(ctx))
	var all []held
	readUntil(t, s, &all, func(m []string) bool { return countPrefix(m, "a|") >= 2 && countPrefix(m, "b|") >= 2 })
	for _, h := range all {
		require.NoError(t, h.ack(ctx, nil))
	}
	require.NoError(t, s.Remove(ctx, "a")) // its final checkpoint
	acked := srv.requests("a")
	require.NoError(t, s.PutAll(ctx, []StreamConfig{
		{Name: "a", URL: srv.URL + "/s/a"},
		{Name: "b", URL: srv.URL + "/s/b", Headers: http.Header{"X-New": {"1"}}},
	}))
	all = nil
	readUntil(t, s, &all, func(m []string) bool { return countPrefix(m, "a|") >= 1 && countPrefix(m, "b|") >= 1 })
	a := srv.requests("a")
	require.Len(t, a, len(acked)+1)
	assert.NotEqual(t, "-", a[len(a)-1], "a resumes from its checkpoint, read ahead")
	assert.Len(t, srv.requests("b"), 2, "b was replaced")
	for _, h := range all {
		require.NoError(t, h.ack(ctx, nil))
	}
	require.NoError(t, s.RemoveAll(ctx, []string{"a", "b"}))
}

// TestStreams_HeadersPerStream checks that a stream's own headers are added
// to the input's and replace those of the same name, sent as written.
func TestStreams_HeadersPerStream(t *testing.T) {
	got := make(chan http.Header, 2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Clone()
		h.Set("X-Path", r.URL.Path)
		got <- h
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	s, _ := newTestStreams(t, "headers: {X-Shared: s, X-Over: input}", StreamsOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, s.Put(ctx, StreamConfig{Name: "a", URL: srv.URL + "/a", Headers: http.Header{"X-Over": {"a ${! 1 }"}}}))
	require.NoError(t, s.Put(ctx, StreamConfig{Name: "b", URL: srv.URL + "/b"}))
	// Both streams end at once (204): Connect starts them, then reports the
	// end of the input.
	assert.ErrorIs(t, s.Connect(ctx), service.ErrEndOfInput)
	seen := map[string]http.Header{}
	for range 2 {
		select {
		case h := <-got:
			seen[h.Get("X-Path")] = h
		case <-ctx.Done():
			t.Fatal("no request")
		}
	}
	assert.Equal(t, "s", seen["/a"].Get("X-Shared"))
	assert.Equal(t, "a ${! 1 }", seen["/a"].Get("X-Over"), "a stream's header replaces the input's, sent as written")
	assert.Equal(t, "s", seen["/b"].Get("X-Shared"))
	assert.Equal(t, "input", seen["/b"].Get("X-Over"))
}

// TestStreams_InterpolatedHeadersPerStream checks a stream's interpolated
// headers against the input's rules: evaluated at every attempt (a file
// rotated during the first connection is read by the second), an
// evaluation that fails or comes out empty fails the attempt without
// sending a request and says which header, and neither they nor the
// stream's literal headers are sent after a redirect to another origin.
func TestStreams_InterpolatedHeadersPerStream(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "key")
	var mu sync.Mutex
	var sent []http.Header // by the origin, then by the other origin
	record := func(r *http.Request) int {
		mu.Lock()
		defer mu.Unlock()
		sent = append(sent, r.Header.Clone())
		return len(sent)
	}
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		record(r)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer other.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if record(r) > 1 {
			http.Redirect(w, r, other.URL+"/elsewhere", http.StatusFound)
			return
		}
		// Rotated while the first connection is open.
		if err := os.WriteFile(keyFile, []byte("key-two\n"), 0o600); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "id: 1\ndata: one\n\n")
	}))
	defer srv.Close()

	s, _ := newTestStreams(t, "reconnect: {initial_interval: 10ms, max_interval: 50ms}", StreamsOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, s.Put(ctx, StreamConfig{
		Name: "a", URL: srv.URL + "/a",
		Headers: http.Header{"X-Literal": {"${! 1 }"}},
		InterpolatedHeaders: map[string]*service.InterpolatedString{
			"X-Key": interp(t, fmt.Sprintf(`${! file(path: %q, no_cache: true).string().trim() }`, keyFile)),
		},
	}))
	// connectUntil calls Connect until its error holds want.
	connectUntil := func(want string) {
		t.Helper()
		for {
			err := s.Connect(ctx)
			require.Error(t, err, "connected; wanted a failure holding %q", want)
			require.NoError(t, ctx.Err(), "no failure holding %q", want)
			if strings.Contains(err.Error(), want) {
				return
			}
		}
	}
	connectUntil("headers.X-Key: open " + keyFile)
	require.NoError(t, os.WriteFile(keyFile, nil, 0o600))
	connectUntil("headers.X-Key: evaluated to an empty string")
	require.NoError(t, os.WriteFile(keyFile, []byte("key-one\n"), 0o600))
	assert.Equal(t, []string{"one"}, readToEnd(ctx, t, s))

	mu.Lock()
	defer mu.Unlock()
	require.Len(t, sent, 3, "no request while the header could not be evaluated; then the stream, the redirect, the other origin")
	assert.Equal(t, "key-one", sent[0].Get("X-Key"))
	assert.Equal(t, "key-two", sent[1].Get("X-Key"), "evaluated again for the next attempt")
	assert.Equal(t, "${! 1 }", sent[0].Get("X-Literal"), "a literal header is sent as written")
	assert.Empty(t, sent[2].Values("X-Key"), "dropped once the redirect leaves the origin")
	assert.Empty(t, sent[2].Values("X-Literal"), "dropped once the redirect leaves the origin")
}

// TestStreams_GivingUpReleasesTheStream: a Remove, RemoveAll or replacing
// Put whose ctx ends while the stream's events are in flight returns ctx's
// error, and nothing of the stream is left: its checkpoint writer is
// closed, so an acknowledgement that arrives afterwards writes no
// checkpoint (the stream may run elsewhere by then, from its checkpoint);
// its activity entry is gone; and once the input and the server are
// closed, no goroutine is left.
func TestStreams_GivingUpReleasesTheStream(t *testing.T) {
	for _, tt := range []struct {
		name string
		op   func(ctx context.Context, s *Streams, url string) error
	}{
		{"Remove", func(ctx context.Context, s *Streams, _ string) error { return s.Remove(ctx, "a") }},
		{"RemoveAll", func(ctx context.Context, s *Streams, _ string) error { return s.RemoveAll(ctx, []string{"a"}) }},
		{"replacing Put", func(ctx context.Context, s *Streams, url string) error {
			return s.Put(ctx, StreamConfig{Name: "a", URL: url})
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ignore := goleak.IgnoreCurrent()
			srv, s, res, ctx := newFleetStreams(t)
			url := srv.URL + "/s/a"
			require.NoError(t, s.Put(ctx, StreamConfig{Name: "a", URL: url}))
			require.NoError(t, s.Connect(ctx))
			var all []held
			readUntil(t, s, &all, func(m []string) bool { return countPrefix(m, "a|") == 3 })
			h := s.in.h
			h.mu.Lock()
			r := h.readers["a"]
			h.mu.Unlock()
			require.NotNil(t, r)

			short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
			defer cancel()
			assert.ErrorIs(t, tt.op(short, s, url), context.DeadlineExceeded)
			assert.Empty(t, s.List(), "the stream is gone, and no new one started")
			activity.mu.Lock()
			_, watched := activity.inputs[r]
			activity.mu.Unlock()
			assert.False(t, watched, "its activity entry is left")

			for _, h := range all {
				require.NoError(t, h.ack(ctx, nil))
			}
			r.ckpt.mu.Lock()
			closed, writing := r.ckpt.closed, r.ckpt.done != nil
			r.ckpt.mu.Unlock()
			assert.True(t, closed, "its checkpoint writer is left open")
			assert.False(t, writing, "an acknowledgement after it was given up starts a checkpoint write")
			store := &checkpointStore{res: res, cache: "ck", key: "fleet.a"}
			_, _, ok, _, _, err := store.load(ctx)
			require.NoError(t, err)
			assert.False(t, ok, "a checkpoint written after it was given up")

			require.NoError(t, s.Close(ctx))
			srv.Close()
			goleak.VerifyNone(t, ignore)
		})
	}
}

// TestStreams_OperationsPerStream: operations on different streams run
// side by side, operations on one stream one after the other. A Put of
// stream b completes, and b delivers, while a Remove of stream a waits for
// a's acknowledgements; a Put of a itself waits for that Remove, then
// resumes a from what was acknowledged.
func TestStreams_OperationsPerStream(t *testing.T) {
	srv, s, _, ctx := newFleetStreams(t)
	require.NoError(t, s.Put(ctx, StreamConfig{Name: "a", URL: srv.URL + "/s/a"}))
	require.NoError(t, s.Connect(ctx))
	var heldA []held
	readUntil(t, s, &heldA, func(m []string) bool { return countPrefix(m, "a|") == 3 })
	h := s.in.h
	h.mu.Lock()
	a := h.readers["a"]
	h.mu.Unlock()

	removed := make(chan error, 1)
	go func() { removed <- s.Remove(ctx, "a") }()
	// The Remove has stopped a and waits for its acknowledgements.
	require.Eventually(t, func() bool { return h.locked(func() bool { return a.end != nil }) }, 5*time.Second, time.Millisecond)

	putB := make(chan error, 1)
	go func() { putB <- s.Put(ctx, StreamConfig{Name: "b", URL: srv.URL + "/s/b"}) }()
	select {
	case err := <-putB:
		require.NoError(t, err)
	case err := <-removed:
		t.Fatalf("Remove of a returned (%v) with a's events unacknowledged", err)
	case <-time.After(5 * time.Second):
		t.Fatal("the Put of b waits for the Remove of a")
	}
	var heldB []held
	readUntil(t, s, &heldB, func(m []string) bool { return countPrefix(m, "b|") == 3 })

	putA := make(chan error, 1)
	go func() { putA <- s.Put(ctx, StreamConfig{Name: "a", URL: srv.URL + "/s/a"}) }()
	select {
	case err := <-putA:
		t.Fatalf("a Put of a returned (%v) while the Remove of a waits", err)
	case <-time.After(100 * time.Millisecond):
	}
	ackAndAwait(ctx, t, heldA, removed, "Remove did not return once a's events were acknowledged")
	select {
	case err := <-putA:
		require.NoError(t, err)
	case <-ctx.Done():
		t.Fatal("the Put of a did not return after the Remove of a")
	}
	var again []held
	readUntil(t, s, &again, func(m []string) bool { return countPrefix(m, "a|") == 3 })
	assert.Equal(t, []string{"-", "3"}, srv.requests("a"), "a resumes from its final checkpoint")
	for _, h := range append(heldB, again...) {
		require.NoError(t, h.ack(ctx, nil))
	}
}

// TestStreams_PutRacingClose: a replacing Put that began before Close,
// and waits for the old stream's acknowledgements meanwhile, does not
// start the new stream once Close was called: Close stopped every stream
// there was, and one started after it would run for ever.
func TestStreams_PutRacingClose(t *testing.T) {
	srv, s, _, ctx := newFleetStreams(t)
	require.NoError(t, s.Put(ctx, StreamConfig{Name: "a", URL: srv.URL + "/s/a"}))
	require.NoError(t, s.Connect(ctx))
	var all []held
	readUntil(t, s, &all, func(m []string) bool { return countPrefix(m, "a|") == 3 })
	h := s.in.h
	h.mu.Lock()
	a := h.readers["a"]
	h.mu.Unlock()

	put := make(chan error, 1)
	go func() { put <- s.Put(ctx, StreamConfig{Name: "a", URL: srv.URL + "/s/a"}) }()
	require.Eventually(t, func() bool { return h.locked(func() bool { return a.end != nil }) }, 5*time.Second, time.Millisecond)
	require.NoError(t, s.Close(ctx))
	for _, h := range all {
		require.NoError(t, h.ack(ctx, nil))
	}
	select {
	case err := <-put:
		assert.ErrorIs(t, err, errInputClosed)
	case <-ctx.Done():
		t.Fatal("the Put did not return")
	}
	assert.Empty(t, s.List(), "a stream started after Close")
	assert.Equal(t, []string{"-"}, srv.requests("a"))
	assert.ErrorIs(t, s.Put(ctx, StreamConfig{Name: "b", URL: srv.URL + "/s/b"}), errInputClosed)
}

// TestStreams_PutAllSameNameTwice: of two entries with one name, PutAll
// runs the later, as two Puts would leave it, and no reader of the
// earlier is left running (goleak, at the end of the package's tests).
func TestStreams_PutAllSameNameTwice(t *testing.T) {
	srv, s, _, ctx := newFleetStreams(t)
	require.NoError(t, s.PutAll(ctx, []StreamConfig{{Name: "a", URL: srv.URL + "/s/first"}, {Name: "a", URL: srv.URL + "/s/second"}}))
	require.NoError(t, s.Connect(ctx))
	var all []held
	readUntil(t, s, &all, func(m []string) bool { return countPrefix(m, "a|") == 3 })
	assert.Len(t, s.List(), 1)
	assert.Empty(t, srv.requests("first"))
	assert.Equal(t, []string{"-"}, srv.requests("second"))
	for _, h := range all {
		require.NoError(t, h.ack(ctx, nil))
	}
}

// TestStreams_CloseOutOfTime: a Close whose ctx has ended returns its
// error and lets every stream go, not only those it reached: none is left
// in the activity watcher, none writes a checkpoint when its events in
// flight are acknowledged afterwards, and no goroutine is left.
func TestStreams_CloseOutOfTime(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	srv, s, res, ctx := newFleetStreams(t)
	names := []string{"a", "b", "c"}
	for _, n := range names {
		require.NoError(t, s.Put(ctx, StreamConfig{Name: n, URL: srv.URL + "/s/" + n}))
	}
	require.NoError(t, s.Connect(ctx))
	var all []held
	readUntil(t, s, &all, func(m []string) bool {
		return countPrefix(m, "a|") >= 2 && countPrefix(m, "b|") >= 2 && countPrefix(m, "c|") >= 2
	})
	h := s.in.h
	h.mu.Lock()
	readers := slices.Collect(maps.Values(h.readers))
	h.mu.Unlock()

	expired, cancel := context.WithCancel(ctx)
	cancel()
	assert.ErrorIs(t, s.Close(expired), context.Canceled)
	for _, r := range readers {
		activity.mu.Lock()
		_, watched := activity.inputs[r]
		activity.mu.Unlock()
		assert.False(t, watched, "stream %s is left in the activity watcher", r.name)
	}
	for _, h := range all {
		require.NoError(t, h.ack(ctx, nil))
	}
	for _, r := range readers {
		r.ckpt.mu.Lock()
		closed, writing := r.ckpt.closed, r.ckpt.done != nil
		r.ckpt.mu.Unlock()
		assert.True(t, closed, "stream %s's checkpoint writer is left open", r.name)
		assert.False(t, writing, "an acknowledgement after Close starts a checkpoint write of stream %s", r.name)
		store := &checkpointStore{res: res, cache: "ck", key: "fleet." + r.name}
		_, _, ok, _, _, err := store.load(ctx)
		require.NoError(t, err)
		assert.False(t, ok, "stream %s wrote a checkpoint after Close", r.name)
	}
	srv.Close()
	goleak.VerifyNone(t, ignore)
}
