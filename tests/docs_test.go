package tests

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	_ "github.com/benthos-sse/benthos-sse/input"
)

// docFiles are the pages cmd/gendocs writes into docs/.
var docFiles = []string{"sse_input.md", "sse_scanner.md"}

// The committed docs must be exactly what cmd/gendocs generates from the
// current specs, so that they never go stale.
func TestDocs_UpToDate(t *testing.T) {
	t.Parallel()
	out := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*binTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "run", "./cmd/gendocs", "-out", out)
	cmd.Dir = repoRoot
	msg, err := cmd.CombinedOutput()
	require.NoError(t, err, "go run ./cmd/gendocs:\n%s", msg)

	generated, err := filepath.Glob(filepath.Join(out, "*"))
	require.NoError(t, err)
	var names []string
	for _, p := range generated {
		names = append(names, filepath.Base(p))
	}
	require.ElementsMatch(t, docFiles, names, "cmd/gendocs writes an unexpected set of files")

	for _, name := range docFiles {
		want, err := os.ReadFile(filepath.Join(out, name))
		require.NoError(t, err)
		got, err := os.ReadFile(filepath.Join(repoRoot, "docs", name))
		require.NoError(t, err, "docs/%s is missing: run go generate . (go run ./cmd/gendocs)", name)
		assert.NotContains(t, string(got), "| unknown |", "docs/%s shows a field of type unknown", name)
		if line, w, g, differ := firstDiff(string(want), string(got)); differ {
			t.Errorf("docs/%s is stale: run go generate . (go run ./cmd/gendocs)\nfirst difference at line %d:\n  generated: %q\n  committed: %q", name, line, w, g)
		}
	}
}

// firstDiff returns the first line (1-based) where a and b differ, and that
// line of each ("" past the end).
func firstDiff(a, b string) (line int, la, lb string, differ bool) {
	if a == b {
		return 0, "", "", false
	}
	as, bs := strings.SplitAfter(a, "\n"), strings.SplitAfter(b, "\n")
	for i := 0; ; i++ {
		if i < len(as) {
			la = as[i]
		} else {
			la = ""
		}
		if i < len(bs) {
			lb = bs[i]
		} else {
			lb = ""
		}
		if la != lb {
			return i + 1, la, lb, true
		}
	}
}

// missingDocs is what TemplateData puts in place of an empty description.
const missingDocs = "Sorry! This field is missing documentation."

// benthosFieldsWithoutExamples are fields that the `sse` input takes from
// Benthos' own helpers (NewTLSToggledField, NewHTTPRequestAuthSignerFields,
// NewAutoRetryNacksToggleField) and that Benthos documents without an
// example. They are the only exemptions from the rule that every field has
// one; every field the project defines itself must have an example.
var benthosFieldsWithoutExamples = map[string][]string{
	"input": {
		"tls",
		"tls.enabled",
		"tls.skip_cert_verify",
		"tls.enable_renegotiation",
		"tls.client_certs[].cert",
		"tls.client_certs[].key",
		"tls.client_certs[].cert_file",
		"tls.client_certs[].key_file",
		"oauth",
		"oauth.enabled",
		"oauth.consumer_key",
		"oauth.consumer_secret",
		"oauth.access_token",
		"oauth.access_token_secret",
		"basic_auth",
		"basic_auth.enabled",
		"basic_auth.username",
		"basic_auth.password",
		"jwt",
		"jwt.enabled",
		"jwt.private_key_file",
		"jwt.signing_method",
		"jwt.claims",
		"jwt.headers",
		"auto_replay_nacks",
	},
	"scanner": nil,
}

func sseTemplateData(t *testing.T, kind string) service.TemplateDataPlugin {
	t.Helper()
	var view *service.ConfigView
	visit := func(name string, v *service.ConfigView) {
		if name == "sse" {
			view = v
		}
	}
	switch kind {
	case "input":
		service.GlobalEnvironment().WalkInputs(visit)
	case "scanner":
		service.GlobalEnvironment().WalkScanners(visit)
	}
	require.NotNil(t, view, "no %s named sse is registered", kind)
	td, err := view.TemplateData()
	require.NoError(t, err)
	return td
}

func TestDocs_EveryFieldHasDescriptionAndExample(t *testing.T) {
	for _, kind := range []string{"input", "scanner"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			td := sseTemplateData(t, kind)
			assert.NotEmpty(t, td.Summary, "summary")
			assert.NotEmpty(t, td.Description, "description")
			assert.NotEmpty(t, td.Examples, "config examples")
			require.NotEmpty(t, td.Fields)

			exempt := benthosFieldsWithoutExamples[kind]
			seen := map[string]bool{}
			for _, f := range td.Fields {
				seen[f.FullName] = true
				assert.NotEmpty(t, f.Description, "field %s has no description", f.FullName)
				assert.NotEqual(t, missingDocs, f.Description, "field %s has no description", f.FullName)
				if slices.Contains(exempt, f.FullName) {
					// Keep the exemption list honest: drop a name once
					// Benthos gives the field an example.
					assert.Empty(t, f.ExamplesMarshalled, "field %s now has an example: remove it from benthosFieldsWithoutExamples", f.FullName)
					continue
				}
				assert.NotEmpty(t, f.ExamplesMarshalled, "field %s has no example", f.FullName)
			}
			for _, name := range exempt {
				assert.True(t, seen[name], "exempt field %s does not exist: remove it from benthosFieldsWithoutExamples", name)
			}
		})
	}
}

// createExampleRe finds the `create` examples in help text.
var createExampleRe = regexp.MustCompile(`benthos-sse create ([a-z_,]*/[a-z_,]*/[a-z_,]*)`)

// Every `create` example the help shows must work in this binary, and its
// config lint clean: the help must not suggest components it lacks.
func TestHelp_CreateExamplesWork(t *testing.T) {
	t.Parallel()
	var exprs []string
	for _, cmd := range [][]string{{"--help"}, {"create", "--help"}, {"run", "--help"}, {"lint", "--help"}, {"echo", "--help"}, {"list", "--help"}, {"help"}} {
		res := runBin(t, repoRoot, nil, nil, cmd...)
		require.Equal(t, 0, res.code, "%v:\n%s", cmd, res.output())
		for _, m := range createExampleRe.FindAllStringSubmatch(res.stdout, -1) {
			exprs = append(exprs, m[1])
		}
	}
	require.GreaterOrEqual(t, len(exprs), 3, "the help has create examples")
	for _, expr := range exprs {
		res := runBin(t, repoRoot, nil, nil, "create", expr)
		require.Equal(t, 0, res.code, "create %s:\n%s", expr, res.output())
		dir := t.TempDir()
		writeConfigFile(t, dir, "created.yaml", res.stdout)
		res = runBin(t, dir, nil, nil, "lint", "created.yaml")
		assert.Equal(t, 0, res.code, "lint of create %s:\n%s", expr, res.output())
	}
}

// The YAML snippets of the README and of the input's page must lint clean
// in this binary (Benthos' lint reads every yaml block of a markdown file as
// a whole config; the scanner's page shows the scanner's own object, which
// is not one).
func TestDocs_SnippetsLintClean(t *testing.T) {
	t.Parallel()
	args := []string{"lint", "README.md", filepath.Join("docs", "sse_input.md")}
	res := runBin(t, repoRoot, nil, nil, args...)
	assert.Equal(t, 0, res.code, "benthos-sse %s:\n%s", strings.Join(args, " "), res.output())
	assert.Empty(t, res.output())
}

// readmeBlocks returns the fenced blocks of README.md in the given language.
func readmeBlocks(t *testing.T, lang string) []string {
	t.Helper()
	readme, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	require.NoError(t, err)
	var blocks []string
	rest := string(readme)
	fence := "```" + lang + "\n"
	for {
		i := strings.Index(rest, fence)
		if i < 0 {
			return blocks
		}
		rest = rest[i+len(fence):]
		j := strings.Index(rest, "```\n")
		require.GreaterOrEqual(t, j, 0, "unterminated %s block in README.md", lang)
		blocks = append(blocks, rest[:j])
		rest = rest[j:]
	}
}

// The README's pipeline is an excerpt of the shipped example, not a
// variant of it that drifts.
func TestReadme_PipelineIsTheWikimediaExample(t *testing.T) {
	file, err := os.ReadFile(filepath.Join(repoRoot, "resources", "wikimedia.yaml"))
	require.NoError(t, err)
	blocks := readmeBlocks(t, "yaml")
	require.NotEmpty(t, blocks)
	assert.Contains(t, string(file), blocks[0], "the README's first yaml block must be an excerpt of resources/wikimedia.yaml")
	assert.Contains(t, blocks[0], "url: https://stream.wikimedia.org/")
}

// Every Go block of the README compiles: each is vetted as a program of
// its own inside this module, so its imports resolve to this code.
func TestReadme_GoSnippetsCompile(t *testing.T) {
	t.Parallel()
	goTool, err := exec.LookPath("go")
	require.NoError(t, err)
	blocks := readmeBlocks(t, "go")
	require.GreaterOrEqual(t, len(blocks), 2, "the README has its Go snippets")
	for i, src := range blocks {
		t.Run(fmt.Sprint("block ", i+1), func(t *testing.T) {
			require.True(t, strings.HasPrefix(src, "package main\n"), "README Go block %d is not a whole program:\n%s", i+1, src)
			dir, err := os.MkdirTemp(filepath.Join(repoRoot, "tests", "testdata"), "readme-go-")
			require.NoError(t, err)
			t.Cleanup(func() { os.RemoveAll(dir) })
			require.NoError(t, os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644))
			cmd := exec.Command(goTool, "vet", "main.go")
			cmd.Dir = dir
			out, err := cmd.CombinedOutput()
			assert.NoError(t, err, "README Go block %d does not compile:\n%s\n%s", i+1, out, src)
		})
	}
}
