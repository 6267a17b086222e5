package tests

// The importable packages stay light: a program that imports the input (for
// its own Redpanda Connect build) or the sse client gets none of the
// binary's Kafka, Redis or Prometheus libraries.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// distributionModules are the libraries only cmd/benthos-sse may pull in.
var distributionModules = []string{
	"github.com/twmb/franz-go",
	"github.com/redis/go-redis",
	"github.com/prometheus/",
}

// goModule runs the go command in dir, a throwaway importer module, with
// the environment's module proxy. It used to run with GOPROXY=off, which
// passed only on a warm cache: `go mod tidy` in the importer loads the go.mod
// files of module versions that only the module graph names (for example
// github.com/go-logr/logr@v1.2.2, required by stdr), which `go mod download`
// in the repository never fetches, so a newcomer's fresh cache failed.
// Online, the go command fetches them; offline, it finds them in the cache
// the first run filled. The importer's go.sum is seeded from the
// repository's, so no checksum lookup is needed for what the repository
// already verified, and tidy then drops every entry the importer does not
// need: the assertions below read what is left.
func goModule(t *testing.T, dir string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"GOFLAGS=-mod=mod",
		"GOWORK=off",
		"GOTOOLCHAIN=local",
	)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go %s in %s:\n%s", strings.Join(args, " "), dir, out)
	return string(out)
}

func TestDist_LibraryStaysLight(t *testing.T) {
	tests := []struct {
		name    string
		imports []string
		// wantMentions lists what must appear: the control case proves
		// that the check sees a dependency when there is one.
		wantMentions []string
	}{
		{name: "input", imports: []string{"github.com/benthos-sse/benthos-sse/input"}},
		{name: "sse", imports: []string{"github.com/benthos-sse/benthos-sse/sse"}},
		{
			name:         "control: importing go-redis directly",
			imports:      []string{"github.com/benthos-sse/benthos-sse/input", "github.com/redis/go-redis/v9"},
			wantMentions: []string{"github.com/redis/go-redis"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			var imp strings.Builder
			for _, p := range tt.imports {
				fmt.Fprintf(&imp, "\t_ %q\n", p)
			}
			require.NoError(t, os.WriteFile(filepath.Join(dir, "main.go"),
				[]byte("package main\n\nimport (\n"+imp.String()+")\n\nfunc main() {}\n"), 0o644))
			require.NoError(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte(fmt.Sprintf(`module example.com/importer

go 1.26.6

require github.com/benthos-sse/benthos-sse v0.0.0

replace github.com/benthos-sse/benthos-sse => %s
`, repoRoot)), 0o644))

			repoSum, err := os.ReadFile(filepath.Join(repoRoot, "go.sum"))
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join(dir, "go.sum"), repoSum, 0o644))

			goModule(t, dir, "mod", "tidy")
			deps := goModule(t, dir, "list", "-deps", "-f", "{{.ImportPath}} {{with .Module}}{{.Path}}@{{.Version}}{{end}}", ".")
			sum, err := os.ReadFile(filepath.Join(dir, "go.sum"))
			require.NoError(t, err)
			mod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
			require.NoError(t, err)
			require.Contains(t, deps, tt.imports[0], "the build includes the imported package")

			for _, m := range distributionModules {
				want := false
				for _, w := range tt.wantMentions {
					want = want || strings.HasPrefix(w, m)
				}
				if want {
					assert.Contains(t, deps, m, "build")
					assert.Contains(t, string(sum), m, "go.sum")
					continue
				}
				assert.NotContains(t, deps, m, "the build of a program importing %v", tt.imports)
				assert.NotContains(t, string(sum), m, "go.sum of a program importing %v", tt.imports)
				assert.NotContains(t, string(mod), m, "go.mod of a program importing %v", tt.imports)
			}
			if tt.name == "sse" {
				// sse imports only the standard library.
				for _, line := range strings.Split(strings.TrimSpace(deps), "\n") {
					path, module, _ := strings.Cut(line, " ")
					if module != "" && path != "example.com/importer" {
						assert.True(t, strings.HasPrefix(path, "github.com/benthos-sse/benthos-sse/sse"),
							"sse depends on %s (module %s)", path, module)
					}
				}
			}
		})
	}
}
