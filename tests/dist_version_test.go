package tests

// benthos-sse --version reports where the binary came from.

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// runVersion runs bin --version and returns its Version and Date lines.
func runVersion(t *testing.T, bin string) (version, date string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "--version").CombinedOutput()
	require.NoError(t, err, "%s --version: %s", bin, out)
	m := regexp.MustCompile(`(?m)^Version: (.*)\nDate: (.*)$`).FindStringSubmatch(string(out))
	require.NotNil(t, m, "--version output: %q", out)
	return m[1], m[2]
}

// buildBinary builds ./cmd/benthos-sse from dir with extra go build
// arguments into a temporary file.
func buildBinary(t *testing.T, dir string, args ...string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "benthos-sse")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", append(append([]string{"build", "-o", bin}, args...), "./cmd/benthos-sse")...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

func TestDist_Version(t *testing.T) {
	t.Run("a plain build reports a version and when it was built", func(t *testing.T) {
		// binPath is built by TestMain as the README says, with whatever
		// GOFLAGS the environment has (.ci/run sets -buildvcs=false).
		v, d := runVersion(t, binPath)
		assert.NotContains(t, []string{"", "0.1.0-dev", "unknown"}, v)
		at, err := time.Parse(time.RFC3339, d)
		require.NoError(t, err, "Date %q is a time", d)
		assert.False(t, at.IsZero())
		fi, err := os.Stat(binPath)
		require.NoError(t, err)
		if !strings.HasPrefix(v, "v0.0.0-") { // not VCS-stamped: the time the binary was written
			assert.Equal(t, fi.ModTime().UTC().Truncate(time.Second), at, "Date is the binary's build time")
		}
	})

	t.Run("ldflags set both", func(t *testing.T) {
		bin := buildBinary(t, repoRoot, "-ldflags", "-X main.Version=v9.8.7 -X main.DateBuilt=2026-12-01T10:00:00Z")
		v, d := runVersion(t, bin)
		assert.Equal(t, "v9.8.7", v)
		assert.Equal(t, "2026-12-01T10:00:00Z", d)
	})

	t.Run("a build in a git clone reports the commit", func(t *testing.T) {
		if _, err := exec.LookPath("git"); err != nil {
			t.Skip("git not installed")
		}
		head, err := exec.Command("git", "-C", repoRoot, "rev-parse", "HEAD").Output()
		if err != nil {
			t.Skipf("%s is not a git checkout: %v", repoRoot, err)
		}
		commitTime, err := exec.Command("git", "-C", repoRoot, "log", "-1", "--format=%cI").Output()
		require.NoError(t, err)
		// A fresh clone of HEAD: Go stamps a clone (not a git worktree,
		// whose .git is a file) with the commit.
		clone := filepath.Join(t.TempDir(), "clone")
		out, err := exec.Command("git", "clone", "--quiet", "--no-hardlinks", repoRoot, clone).CombinedOutput()
		require.NoError(t, err, "git clone: %s", out)
		bin := buildBinary(t, clone, "-buildvcs=true")
		v, d := runVersion(t, bin)
		rev := strings.TrimSpace(string(head))[:12]
		assert.Regexp(t, `^v\d+\.\d+\.\d+-(0\.)?\d{14}-`+rev+`$`, v, "a pseudo-version naming HEAD")
		want, err := time.Parse(time.RFC3339, strings.TrimSpace(string(commitTime)))
		require.NoError(t, err)
		assert.Equal(t, want.UTC().Format(time.RFC3339), d, "Date is HEAD's commit time")
	})
}
