package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Runs of the example configs that need no network: they read
// resources/sample.sse and end by themselves.

// The scanner parses exactly as the input does, and scanner_stdin.yaml uses
// the quickstart's mapping, so piping the sample through it must print the
// quickstart's golden output.
func TestExamples_ScannerStdinMatchesQuickstart(t *testing.T) {
	t.Parallel()
	sample, err := os.Open(filepath.Join(repoRoot, "resources", "sample.sse"))
	require.NoError(t, err)
	defer sample.Close()
	res := runBinStdin(t, repoRoot, sample, nil, nil, "-c", filepath.Join("resources", "scanner_stdin.yaml"))
	require.Equal(t, 0, res.code, res.output())
	want, err := os.ReadFile(filepath.Join("testdata", "quickstart.golden"))
	require.NoError(t, err)
	assert.Equal(t, string(want), res.stdout)
	assert.Empty(t, res.stderr)
}

func TestExamples_ToNDJSON(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	out := filepath.Join(dir, "events.ndjson")
	env := []string{
		"SSE_FROM=" + filepath.Join(repoRoot, "resources", "sample.sse"),
		"NDJSON_PATH=" + out,
	}
	res := runBin(t, dir, env, nil, "-c", filepath.Join(repoRoot, "resources", "to_ndjson.yaml"))
	require.Equal(t, 0, res.code, res.output())
	got, err := os.ReadFile(out)
	require.NoError(t, err)
	want := []string{
		`{"seq":1,"price":101.25,"sse_event":"tick","sse_id":"1"}`,
		`{"seq":2,"price":101.5,"sse_event":"tick","sse_id":"2"}`,
		`{"seq":3,"headline":"markets open","sse_event":"news","sse_id":"3"}`,
		`{"seq":4,"note":"a message event: no event field","sse_event":"message","sse_id":"4"}`,
		`{"seq":5,"price":101.75,"sse_event":"tick","sse_id":"5"}`,
		`{"seq":6,"price":99.5,"sse_event":"tick","sse_id":"6"}`,
	}
	lines := strings.Split(strings.TrimSuffix(string(got), "\n"), "\n")
	require.Len(t, lines, len(want), "%s:\n%s", out, got)
	for i := range want {
		assert.JSONEq(t, want[i], lines[i], "line %d", i+1)
	}
}
