package tests

// Exit codes of the binary: an input that cannot go on exits non-zero with
// its reason as the last line; an input that ends normally exits 0.

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// lastLine returns the last line of s.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

func TestExit_Codes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sample := filepath.Join(repoRoot, "resources", "sample.sse")
	ended := newSSEServer(t, func(w *sseWriter, r *http.Request, n int) {
		w.Event(n, "once")
	})
	noContent := newSSEServer(t, func(w *sseWriter, r *http.Request, n int) {
		w.w.WriteHeader(http.StatusNoContent)
	})
	unauthorized := newSSEServer(t, func(w *sseWriter, r *http.Request, n int) {
		w.w.Header().Set("Content-Type", "application/json")
		w.w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w.w, `{"error": {"message": "Incorrect API key provided",`+"\n"+`"type": "invalid_request_error"}}`)
	})
	tests := []struct {
		name  string
		input string
		cache string // a cache_resources entry, if any
		code  int
		// last is what the last line of the output must contain (all of
		// it, for a non-zero code).
		last []string
		// notStarted: the input must refuse to start, before reading
		// anything.
		notStarted bool
	}{
		{
			name:  "gives up after max_elapsed_time",
			input: fmt.Sprintf("url: http://%s/\n    reconnect: {initial_interval: 50ms, max_interval: 100ms, max_elapsed_time: 300ms}", freePort(t)),
			code:  1,
			last:  []string{"level=error", "Exiting with code 1", "reconnect.max_elapsed_time", "connection refused"},
		},
		{
			// Refused when the input is built, before the stream starts.
			name:       "from source fails",
			input:      fmt.Sprintf("from: %q", dir),
			code:       1,
			last:       []string{`field "from"`, "is a directory"},
			notStarted: true,
		},
		{
			name:       "checkpoint cache cannot be written",
			input:      fmt.Sprintf("from: %q\n    checkpoint: {cache: ck}", sample),
			cache:      fmt.Sprintf("cache_resources:\n  - label: ck\n    file: {directory: %q}\n", filepath.Join(dir, "missing")),
			code:       1,
			last:       []string{"checkpoint.cache", `cache "ck" cannot hold checkpoints`, "no such file or directory"},
			notStarted: true,
		},
		{
			name:  "a status listed in fail_on",
			input: fmt.Sprintf("url: %s\n    fail_on: [401, 403]", unauthorized.URL()),
			code:  1,
			// The body's excerpt, its newline escaped (and then quoted by
			// logfmt).
			last: []string{"level=error", "Exiting with code 1", "answered 401 Unauthorized", "Incorrect API key provided", `\\n\"type\"`, "fail_on"},
		},
		{
			name:  "end of a from file",
			input: fmt.Sprintf("from: %q", sample),
			code:  0,
		},
		{
			name:  "stream_end: stop",
			input: fmt.Sprintf("url: %s\n    stream_end: stop", ended.URL()),
			code:  0,
		},
		{
			name:  "204 No Content",
			input: fmt.Sprintf("url: %s", noContent.URL()),
			code:  0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := writeConfigFile(t, "", "exit.yaml", fmt.Sprintf(`
http: {enabled: false}
logger: {level: info}
input:
  sse:
    %s
%soutput:
  drop: {}
`, tt.input, tt.cache))
			// Logs go to stdout (the output is not stdout); errors of the
			// CLI itself to stderr, after them.
			res := runBin(t, repoRoot, nil, nil, "run", cfg)
			stderr, code := res.output(), res.code
			require.Equal(t, tt.code, code, "stderr:\n%s", stderr)
			if tt.notStarted {
				assert.NotContains(t, stderr, "Input type sse is now active")
			}
			last := lastLine(stderr)
			for _, want := range tt.last {
				assert.Contains(t, last, want, "the last line")
			}
			if tt.code == 0 {
				assert.NotContains(t, stderr, "Exiting with code")
			}
			assert.NotContains(t, stderr, "Failed to write checkpoint", "no per-event checkpoint errors")
		})
	}
}

// TestExit_StreamsMode runs `benthos-sse streams` with two streams: one
// whose input gives up, one that keeps streaming. Streams mode runs until
// it is stopped; stopped with SIGINT, it exits 1, the last line giving the
// failed input's reason.
func TestExit_StreamsMode(t *testing.T) {
	t.Parallel()
	live := newSSEServer(t, func(w *sseWriter, r *http.Request, n int) {
		w.Event(n, "live")
		w.Hold()
	})
	dir := t.TempDir()
	mainCfg := writeConfigFile(t, dir, "main.yaml", "http: {enabled: false}\nlogger: {level: info}\n")
	streams := map[string]string{
		"gives_up": fmt.Sprintf("url: http://%s/\n    reconnect: {initial_interval: 50ms, max_interval: 100ms, max_elapsed_time: 300ms}", freePort(t)),
		"live":     fmt.Sprintf("url: %s/events", live.URL()),
	}
	var files []string
	for name, input := range streams {
		f := writeConfigFile(t, dir, name+".yaml", fmt.Sprintf("input:\n  sse:\n    %s\noutput:\n  drop: {}\n", input))
		files = append(files, f)
	}
	p := startBin(t, binOpts{}, append([]string{"streams", "--no-api", "-o", mainCfg}, files...)...)
	deadline := time.Now().Add(waitLimit)
	for !strings.Contains(p.Output(), "Giving up on") {
		require.True(t, time.Now().Before(deadline), "the input never gave up; output:\n%s", p.Output())
		require.False(t, p.Exited(), "streams mode exited by itself; output:\n%s", p.Output())
		time.Sleep(20 * time.Millisecond) // polling a log; nothing to wait on
	}
	live.WaitRequests(1)
	require.False(t, p.Exited(), "streams mode runs until stopped")
	code := p.Signal(os.Interrupt)
	require.Equal(t, 1, code, "output:\n%s", p.Output())
	last := lastLine(p.Output())
	for _, want := range []string{"level=error", "Exiting with code 1", "reconnect.max_elapsed_time", "connection refused"} {
		assert.Contains(t, last, want, "the last line")
	}
}
