package tests

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var updateGolden = flag.Bool("update", false, "rewrite tests/testdata/*.golden from the current output")

// The quickstart is the first thing a user runs: its output is pinned
// byte for byte, and it must end by itself with exit code 0.
func TestQuickstart_Golden(t *testing.T) {
	t.Parallel()
	golden := filepath.Join("testdata", "quickstart.golden")
	res := runBin(t, repoRoot, nil, nil, "-c", filepath.Join("resources", "quickstart.yaml"))
	require.Equal(t, 0, res.code, "benthos-sse -c resources/quickstart.yaml:\n%s", res.output())
	if *updateGolden {
		require.NoError(t, os.WriteFile(golden, []byte(res.stdout), 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err)
	assert.Equal(t, string(want), res.stdout,
		"stdout differs from %s (if the change is intended: go test ./tests -run TestQuickstart_Golden -update)", golden)
	assert.Empty(t, res.stderr)
}
