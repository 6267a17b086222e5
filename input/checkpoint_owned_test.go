package input

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	benthossse "github.com/benthos-sse/benthos-sse"
)

// ownedCache returns the resources YAML of a file cache in a new directory
// that declares the checkpoint "test" owned by an output, with resume
// point resume (none when empty), and the directory.
func ownedCache(t *testing.T, resume string) (string, string) {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "test"+OwnedMarkerSuffix), []byte(OwnedMarker), 0o600))
	if resume != "" {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "test.a"), EncodeOwnedCheckpoint(resume), 0o600))
	}
	return fmt.Sprintf("cache_resources:\n  - label: ck\n    file:\n      directory: %s\n", dir), dir
}

// TestInput_OwnedCheckpoint: with a cache that declares its checkpoints
// owned by an output, the input resumes from the cache's resume point,
// sets sse_checkpoint_key and sse_resume_point on every message (an ID
// that cannot be sent does not move the resume point), and writes nothing
// to the cache: no checkpoint slot, no probe key.
func TestInput_OwnedCheckpoint(t *testing.T) {
	res, dir := ownedCache(t, "2")
	s := newScript(t, "id: 3\ndata: c\n\ndata: d\n\nid: x\x01y\ndata: e\n\nid: 6\ndata: f\n\n")

	var meta []string
	st := ownedStream(t, res, sseYAML(s.srv.URL, "  checkpoint: {cache: ck, key: test}"), func(m *service.Message) {
		b, _ := m.AsBytes()
		k, _ := m.MetaGet(benthossse.MetaCheckpointKey)
		p, _ := m.MetaGet(benthossse.MetaResumePoint)
		meta = append(meta, string(b)+"|"+k+"|"+p)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, st.Run(ctx))

	assert.Equal(t, []string{"2", "6"}, s.requests(), "resumes at the cache's resume point")
	assert.Equal(t, []string{"c|test|3", "d|test|3", "e|test|3", "f|test|6"}, meta)
	files, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, f := range files {
		names = append(names, f.Name())
	}
	assert.ElementsMatch(t, []string{"test.a", "test" + OwnedMarkerSuffix}, names, "the input wrote nothing to the cache")
	v, err := os.ReadFile(filepath.Join(dir, "test.a"))
	require.NoError(t, err)
	assert.Equal(t, string(EncodeOwnedCheckpoint("2")), string(v))
}

// TestInput_OwnedCheckpointRefusals: the settings under which one resume
// point per stream cannot be exactly once are refused at start-up, naming
// both fields.
func TestInput_OwnedCheckpointRefusals(t *testing.T) {
	for _, tt := range []struct {
		name, extra string
		want        []string
	}{
		{"two batches in flight", "  max_in_flight: 2", []string{`"max_in_flight"`, "2 cannot be exactly once", `checkpoint.cache "ck"`}},
		{"unlimited batches in flight", "  max_in_flight: 0", []string{`"max_in_flight"`, "0 cannot be exactly once", `checkpoint.cache "ck"`}},
		{"nacks dropped", "  auto_replay_nacks: false", []string{`"auto_replay_nacks"`, `checkpoint.cache "ck"`}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res, _ := ownedCache(t, "")
			st := ownedStream(t, res, sseYAML("http://127.0.0.1:1/", "  checkpoint: {cache: ck, key: test}", tt.extra), func(*service.Message) {})
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err := st.Run(ctx) // builds the input, which refuses to start
			require.Error(t, err)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestOwnedCheckpointKey(t *testing.T) {
	for in, want := range map[string]string{"k.a": "k", "a.b.a": "a.b"} {
		got, ok := OwnedCheckpointKey(in)
		assert.True(t, ok, in)
		assert.Equal(t, want, got)
	}
	for _, in := range []string{"k.b", "k" + OwnedMarkerSuffix, "k.probe", "k"} {
		_, ok := OwnedCheckpointKey(in)
		assert.False(t, ok, in)
	}
	gen, id, ok := decodeCheckpoint(EncodeOwnedCheckpoint("a b"))
	assert.True(t, ok)
	assert.Equal(t, uint64(0), gen)
	assert.Equal(t, "a b", id)
}

// TestInput_OwnedCheckpointCursor: with resume.cursor, sse_resume_point is
// the cursor, from the checkpoint the input started from on.
func TestInput_OwnedCheckpointCursor(t *testing.T) {
	res, _ := ownedCache(t, "c2")
	s := newScript(t, "data: {\"seq\":\"c3\"}\n\ndata: {}\n\ndata: {\"seq\":\"c5\"}\n\n")
	var points []string
	st := ownedStream(t, res, sseYAML(s.srv.URL, "  checkpoint: {cache: ck, key: test}", "  resume: {cursor: this.seq}"), func(m *service.Message) {
		p, _ := m.MetaGet(benthossse.MetaResumePoint)
		points = append(points, p)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, st.Run(ctx))
	assert.Equal(t, []string{"c3", "c3", "c5"}, points, "an event without a cursor keeps the previous one")
}

// ownedStream builds a stream of the input in inputYAML on the resources
// res, whose messages go to each, called for one message at a time.
func ownedStream(t *testing.T, res, inputYAML string, each func(*service.Message)) *service.Stream {
	t.Helper()
	var mu sync.Mutex
	sb := service.NewStreamBuilder()
	require.NoError(t, sb.SetLoggerYAML("level: none"))
	require.NoError(t, sb.AddInputYAML(inputYAML))
	require.NoError(t, sb.AddResourcesYAML(res))
	require.NoError(t, sb.AddConsumerFunc(func(_ context.Context, m *service.Message) error {
		mu.Lock()
		defer mu.Unlock()
		each(m)
		return nil
	}))
	st, err := sb.Build()
	require.NoError(t, err)
	return st
}
