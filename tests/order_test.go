package tests

// Stream order through the binary with default settings: more than one
// pipeline thread, a mapping processor, a file output.

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// orderBreaks returns how many numbers are smaller than the one before.
func orderBreaks(ns []int) int {
	breaks := 0
	for i := 1; i < len(ns); i++ {
		if ns[i] < ns[i-1] {
			breaks++
		}
	}
	return breaks
}

// TestOrder_DefaultsKeepStreamOrder runs 10,000 events through the binary
// with the input's default settings, four pipeline threads (the default is
// the CPU count) and a mapping processor, from a `from` file and from a
// live HTTP stream, and requires every event exactly once in stream order.
// (With max_in_flight: 0, the old default, batches processed by different
// threads overtake each other.)
func TestOrder_DefaultsKeepStreamOrder(t *testing.T) {
	t.Parallel()
	const events = 10000
	var stream strings.Builder
	for i := 1; i <= events; i++ {
		fmt.Fprintf(&stream, "id: %d\ndata: %d\n\n", i, i)
	}
	dir := t.TempDir()
	from := filepath.Join(dir, "stream.sse")
	require.NoError(t, os.WriteFile(from, []byte(stream.String()), 0o600))
	srv := newNumberedServer(t, events, 500, time.Millisecond)

	tests := []struct {
		name  string
		input string
	}{
		{"from file", fmt.Sprintf("from: %q", from)},
		{"http stream", fmt.Sprintf("url: %q\n    reconnect: {initial_interval: 50ms}", srv.URL())},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out.txt")
			cfg := writeConfigFile(t, "", "order.yaml", fmt.Sprintf(`
http: {enabled: false}
logger: {level: warn}
input:
  sse:
    %s
pipeline:
  threads: 4
  processors:
    - mapping: 'root = content().number().string()'
output:
  file: {path: %q, codec: lines}
`, tt.input, out))
			res := runBin(t, repoRoot, nil, nil, "run", cfg)
			stderr, code := res.stderr, res.code
			require.Equal(t, 0, code, "stderr:\n%s", stderr)
			got := readNumbers(t, out)
			require.Len(t, got, events, "stderr:\n%s", stderr)
			assert.Zero(t, orderBreaks(got), "order breaks")
		})
	}
}
