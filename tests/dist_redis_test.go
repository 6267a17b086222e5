package tests

// The binary's `redis` cache as an sse input's checkpoint store: the resume
// point outlives the process and its working directory.

import (
	"fmt"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/benthos-sse/benthos-sse/internal/redistest"
)

// readRedisCheckpoint reads the newest valid checkpoint the input wrote to a
// `redis` cache (slots <prefix><key>.a and .b); ok is false when there is
// none.
func readRedisCheckpoint(t *testing.T, srv *redistest.Server, prefix, key string) (id string, ok bool) {
	t.Helper()
	newest := int64(-1)
	for _, slot := range []string{key + ".a", key + ".b"} {
		v, err := srv.Do("GET", prefix+slot)
		require.NoError(t, err)
		s, isString := v.(string)
		if !isString {
			continue // nil: not written yet
		}
		if gen, slotID, valid := parseCheckpoint(s); valid && gen > newest {
			newest, id, ok = gen, slotID, true
		}
	}
	return id, ok
}

// TestDist_RedisCheckpointFailover runs instance A of the binary from one
// working directory with its checkpoint in a real Redis, SIGKILLs it
// mid-stream, and starts instance B with the same config from another
// working directory, as on another machine: B asks the server to resume
// after exactly the checkpoint A left in Redis, and A's and B's outputs
// together hold every event, B's without one that A had checkpointed.
func TestDist_RedisCheckpointFailover(t *testing.T) {
	const (
		last   = 3000
		prefix = "benthos-sse-test:"
		key    = "failover"
	)
	redis := redistest.Start(t)
	srv := newNumberedServer(t, last, 10, 5*time.Millisecond) // 2,000 events/s
	config := fmt.Sprintf(`
http: {enabled: false}
logger: {level: info}
shutdown_timeout: 10s
input:
  sse:
    url: %q
    reconnect: {initial_interval: 50ms, max_interval: 200ms}
    checkpoint: {cache: shared, key: %s}
pipeline:
  threads: 1
  processors:
    # One write per line, so that a SIGKILL cannot tear a line.
    - mapping: 'root = content().string() + "\n"'
cache_resources:
  - label: shared
    redis:
      url: %s
      prefix: %q
      retries: {initial_interval: 50ms, max_interval: 200ms, max_elapsed_time: 5s}
output:
  # Relative to the working directory: each instance writes its own.
  file: {path: out.txt, codec: lines}
`, srv.URL()+"/events", key, redis.URL(), prefix)

	dirA, dirB := t.TempDir(), t.TempDir()
	for _, d := range []string{dirA, dirB} {
		writeConfigFile(t, d, "sse.yaml", config)
	}

	a := startBinaryIn(t, dirA, "sse.yaml")
	// Kill A once it has checkpointed a good part of the stream in Redis, but
	// before the stream ends.
	deadline := time.Now().Add(waitLimit)
	for {
		id, ok := readRedisCheckpoint(t, redis, prefix, key)
		if n, _ := strconv.Atoi(id); ok && n >= 500 {
			break
		}
		require.False(t, a.Exited(), "instance A exited early:\n%s", a.Output())
		require.True(t, time.Now().Before(deadline), "no checkpoint >= 500 in Redis within %v:\n%s", waitLimit, a.Output())
		time.Sleep(10 * time.Millisecond) // polling Redis for the checkpoint
	}
	require.NoError(t, a.cmd.Process.Signal(syscall.SIGKILL))
	a.Wait(waitLimit)
	reqsA := len(srv.Requests())

	ckptID, ok := readRedisCheckpoint(t, redis, prefix, key)
	require.True(t, ok, "a checkpoint in Redis after A died")
	ckpt, err := strconv.Atoi(ckptID)
	require.NoError(t, err)
	require.Less(t, ckpt, last, "A was killed mid-stream")
	outA := readNumbers(t, filepath.Join(dirA, "out.txt"))
	require.GreaterOrEqual(t, len(outA), ckpt, "A wrote at least what it checkpointed")
	assert.Equal(t, seq("", 1, ckpt), intStrings(outA[:ckpt]), "A's output up to its checkpoint")

	b := startBinaryIn(t, dirB, "sse.yaml")
	code := b.Wait(2 * waitLimit) // the server answers 204 after the last event
	require.Equal(t, 0, code, "instance B:\n%s", b.Output())

	reqs := srv.Requests()
	require.Greater(t, len(reqs), reqsA, "B connected")
	first := reqs[reqsA]
	assert.True(t, first.HasLEI, "B's first request carries Last-Event-ID")
	assert.Equal(t, ckptID, first.LastEventID, "B resumes from the checkpoint in Redis")

	outB := readNumbers(t, filepath.Join(dirB, "out.txt"))
	assert.Equal(t, seq("", ckpt+1, last), intStrings(outB), "B writes exactly the events after A's checkpoint")
	final, ok := readRedisCheckpoint(t, redis, prefix, key)
	assert.True(t, ok)
	assert.Equal(t, strconv.Itoa(last), final, "the final checkpoint in Redis")
	t.Logf("A checkpointed %d and wrote %d; B wrote %d: %d duplicates (written by A after its last checkpoint)",
		ckpt, len(outA), len(outB), len(outA)-ckpt)
}

// intStrings formats numbers as decimal strings, to compare with seq.
func intStrings(ns []int) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = strconv.Itoa(n)
	}
	return out
}
