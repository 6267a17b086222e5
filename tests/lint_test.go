package tests

// Black-box tests of the benthos-sse command line: the example configs in
// resources/ lint clean, bad configs are refused with a message naming the
// field (by `lint`, or by `run` where lint cannot see the problem), the YAML
// unit tests pass, the plugins are listed, and `echo` scrubs secrets.

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// binTimeout bounds every run of the binary. The commands tested here end
// by themselves in well under a second; it is only a failure bound.
const binTimeout = 30 * time.Second

// binResult is what one run of the binary produced.
type binResult struct {
	stdout, stderr string
	code           int
}

// output is stdout and stderr together: Benthos logs to stdout by default,
// while lint and start-up errors go to stderr.
func (r binResult) output() string { return r.stdout + r.stderr }

// runBin runs the benthos-sse binary with args in dir. env holds extra
// NAME=value pairs; drop names variables to remove from the inherited
// environment, so a test does not depend on the developer's shell.
func runBin(t *testing.T, dir string, env, drop []string, args ...string) binResult {
	t.Helper()
	return runBinStdin(t, dir, nil, env, drop, args...)
}

// runBinStdin is runBin with stdin read from in (nil: no input).
func runBinStdin(t *testing.T, dir string, in io.Reader, env, drop []string, args ...string) binResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), binTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, binPath, args...)
	cmd.Dir = dir
	cmd.Stdin = in
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); !slices.Contains(drop, name) {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	require.NoError(t, ctx.Err(), "benthos-sse %s did not finish within %v", strings.Join(args, " "), binTimeout)
	res := binResult{stdout: stdout.String(), stderr: stderr.String()}
	var exitErr *exec.ExitError
	switch {
	case errors.As(err, &exitErr):
		res.code = exitErr.ExitCode()
	default:
		require.NoError(t, err, "running benthos-sse %s", strings.Join(args, " "))
	}
	return res
}

// exampleEnv gives every environment variable the example configs
// reference a harmless value: one that lints and would only ever reach
// 127.0.0.1. A config referencing a variable missing here fails the test,
// so this list stays complete.
var exampleEnv = map[string]string{
	"SSE_URL":         "http://127.0.0.1:1/events",
	"SSE_FROM":        "./resources/sample.sse",
	"NDJSON_PATH":     "./out/test.ndjson",
	"WEBHOOK_URL":     "http://127.0.0.1:1/hook",
	"OPENAI_BASE_URL": "http://127.0.0.1:1",
	"OPENAI_API_KEY":  "sk-test-not-a-key",
	"OPENAI_MODEL":    "test-model",
	"HTTP_ADDRESS":    "127.0.0.1:1",
	"KAFKA_BROKERS":   "127.0.0.1:1",
	"KAFKA_TOPIC":     "test-topic",
	"REDIS_URL":       "redis://127.0.0.1:1",
	"CHECKPOINT_KEY":  "test_key",
	"LOG_LEVEL":       "debug",
}

var (
	envRefRe  = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:[^}]*)?\}`)
	commentRe = regexp.MustCompile(`(?m)^\s*#.*$`)
)

// resourceConfigs returns the example configs that must lint clean with
// this binary: resources/*.yaml.
func resourceConfigs(t *testing.T) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(repoRoot, "resources", "*.yaml"))
	require.NoError(t, err)
	var names []string
	for _, p := range paths {
		names = append(names, filepath.Base(p))
	}
	// The examples the README promises; a rename must update this list.
	for _, want := range []string{
		"quickstart.yaml", "wikimedia.yaml", "openai.yaml", "checkpointed.yaml",
		"to_ndjson.yaml", "to_webhook.yaml", "scanner_stdin.yaml", "kafka.yaml",
	} {
		require.Contains(t, names, want, "resources/%s is missing", want)
	}
	return names
}

func TestLint_ExampleConfigs(t *testing.T) {
	for _, name := range resourceConfigs(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join("resources", name)
			src, err := os.ReadFile(filepath.Join(repoRoot, path))
			require.NoError(t, err)

			assert.True(t, strings.HasPrefix(string(src), "# "),
				"%s must start with a header comment saying what it does and how to run it", path)
			assert.Regexp(t, `(?m)^http:\n  (enabled: false|address: 127\.0\.0\.1:\d+|address: \$\{[A-Z_]+:127\.0\.0\.1:\d+\})$`, string(src),
				"%s must disable the HTTP server or bind it to 127.0.0.1 (by default)", path)

			var names, env []string
			for _, m := range envRefRe.FindAllStringSubmatch(commentRe.ReplaceAllString(string(src), ""), -1) {
				value, ok := exampleEnv[m[1]]
				require.True(t, ok, "%s uses ${%s}: add a harmless value to exampleEnv", path, m[1])
				require.NotEmpty(t, m[2], "%s: ${%s} needs a default (${%s:...}) so that lint passes without it", path, m[1], m[1])
				names = append(names, m[1])
				env = append(env, m[1]+"="+value)
			}

			// Without the variables set, the defaults must lint.
			res := runBin(t, repoRoot, nil, names, "lint", path)
			assert.Equal(t, 0, res.code, "lint %s without its env vars:\n%s", path, res.output())
			assert.Empty(t, res.output())

			if len(env) > 0 {
				res = runBin(t, repoRoot, env, names, "lint", path)
				assert.Equal(t, 0, res.code, "lint %s with %v:\n%s", path, env, res.output())
				assert.Empty(t, res.output())
			}
		})
	}
}

// badConfig is a config the binary must refuse, naming the field.
type badConfig struct {
	name string
	// input is the `input:` section.
	input string
	// extra is more top-level YAML (resources).
	extra string
	// lint is what `lint` reports. Empty means lint cannot see the problem,
	// and `run` must refuse the config instead.
	lint string
	// run is what `run` reports when the constructor refuses the config. For
	// a case lint catches it is checked with `run --chilled` (which skips
	// lint), proving the constructor checks again; empty means only lint
	// checks it.
	run string
}

var badConfigs = []badConfig{
	{
		name:  "both url and from",
		input: "sse:\n    url: http://127.0.0.1:1/events\n    from: ./events.sse",
		lint:  "exactly one of url and from must be set: both are",
		run:   "exactly one of url and from must be set: both are",
	},
	{
		name:  "neither url nor from",
		input: "sse:\n    method: GET",
		lint:  "exactly one of url and from must be set: neither is",
		run:   "exactly one of url and from must be set: neither is",
	},
	{
		name:  "ftp url",
		input: "sse:\n    url: ftp://127.0.0.1/events",
		lint:  "url: ftp://127.0.0.1/events must start with http:// or https://",
		run:   `field "url": ftp://127.0.0.1/events must be an http:// or https:// URL with a host`,
	},
	{
		name:  "negative duration",
		input: "sse:\n    url: http://127.0.0.1:1/events\n    timeout: -1s",
		lint:  "timeout: -1s is not a valid non-negative duration",
		run:   `field "timeout": -1s must not be negative`,
	},
	{
		name:  "invalid duration",
		input: "sse:\n    url: http://127.0.0.1:1/events\n    idle_timeout: banana",
		lint:  "idle_timeout: banana is not a valid non-negative duration",
		run:   `field "idle_timeout"`,
	},
	{
		name:  "negative reconnect max_interval",
		input: "sse:\n    url: http://127.0.0.1:1/events\n    reconnect:\n      max_interval: -5s",
		lint:  "reconnect.max_interval: -5s is not a valid non-negative duration",
		run:   `field "reconnect.max_interval": -5s must not be negative`,
	},
	{
		name:  "unknown field",
		input: "sse:\n    url: http://127.0.0.1:1/events\n    nope: 1",
		lint:  "field nope not recognised",
	},
	{
		name:  "max_event_size not a number",
		input: "sse:\n    url: http://127.0.0.1:1/events\n    max_event_size: big",
		lint:  "max_event_size: big is not an integer",
		run:   `field "max_event_size"`,
	},
	{
		name:  "max_event_size zero",
		input: "sse:\n    url: http://127.0.0.1:1/events\n    max_event_size: 0",
		lint:  "max_event_size: 0 must be a positive integer",
		run:   `field "max_event_size": 0 must be positive`,
	},
	{
		name:  "max_batch_size negative",
		input: "sse:\n    url: http://127.0.0.1:1/events\n    max_batch_size: -1",
		lint:  "max_batch_size: -1 must be a positive integer",
		run:   `field "max_batch_size": -1 must be positive`,
	},
	{
		name:  "dedupe window zero",
		input: "sse:\n    url: http://127.0.0.1:1/events\n    dedupe:\n      mode: window\n      window: 0",
		lint:  "dedupe.window: 0 must be a positive integer",
		run:   `field "dedupe.window": 0 must be positive`,
	},
	{
		// Only lint checks the method; see the report.
		name:  "lower-case method",
		input: "sse:\n    url: http://127.0.0.1:1/events\n    method: get",
		lint:  "method: get is not an HTTP method such as GET or POST",
		run:   `field "method": "get" is not an HTTP method such as GET or POST`,
	},
	{
		name:  "stream_end not an option",
		input: "sse:\n    url: http://127.0.0.1:1/events\n    stream_end: sometimes",
		lint:  "value sometimes is not a valid option for this field",
	},
	{
		name:  "header value with CR LF",
		input: "sse:\n    url: http://127.0.0.1:1/events\n    headers:\n      X-Evil: \"a\\r\\nInjected: yes\"",
		lint:  "headers: names and values must not contain CR or LF",
		run:   `field "headers": header "X-Evil": names and values must not contain CR or LF`,
	},
	{
		name:  "header name with LF",
		input: "sse:\n    url: http://127.0.0.1:1/events\n    headers:\n      \"X-A\\nX-B\": v",
		lint:  "headers: names and values must not contain CR or LF",
		run:   `field "headers"`,
	},
	{
		name:  "proxy_url with another scheme",
		input: "sse:\n    url: http://127.0.0.1:1/events\n    proxy_url: ftp://127.0.0.1:1",
		lint:  "proxy_url: ftp://127.0.0.1:1 must start with http://, https:// or socks5://",
	},
	{
		name:  "scanner max_event_size zero",
		input: "stdin:\n    scanner:\n      sse:\n        max_event_size: 0",
		lint:  "max_event_size: 0 must be a positive integer",
		run:   `field "max_event_size": 0 must be positive`,
	},
	{
		name:  "scanner max_event_size not a number",
		input: "stdin:\n    scanner:\n      sse:\n        max_event_size: big",
		lint:  "max_event_size: big is not an integer",
		run:   `field "max_event_size"`,
	},

	// What lint cannot see: `run` must refuse these before connecting.
	// (Cases that lint also catches are checked with run --chilled.)
	{
		name:  "checkpoint cache resource missing",
		input: "sse:\n    url: http://127.0.0.1:1/events\n    checkpoint:\n      cache: missing",
		run:   `field "checkpoint.cache": cache resource "missing" not found`,
	},
	{
		name:  "from file does not exist",
		input: "sse:\n    from: ./does-not-exist.sse",
		run:   `field "from": stat ./does-not-exist.sse: no such file or directory`,
	},
	{
		name:  "checkpoint key empty",
		input: "sse:\n    url: http://127.0.0.1:1/events\n    checkpoint:\n      cache: mem\n      key: \"\"",
		extra: "cache_resources:\n  - label: mem\n    memory: {}",
		lint:  "checkpoint.key must not be empty when checkpoint.cache is set",
		run:   `field "checkpoint.key": must not be empty when checkpoint.cache is set`,
	},
	{
		name:  "reconnect max_interval below initial_interval",
		input: "sse:\n    url: http://127.0.0.1:1/events\n    reconnect:\n      initial_interval: 10s\n      max_interval: 1s",
		run:   `field "reconnect.max_interval": 1s is below initial_interval 10s`,
	},
	{
		name:  "bearer_token with CR LF",
		input: "sse:\n    url: http://127.0.0.1:1/events\n    bearer_token: \"abc\\r\\nX-Injected: yes\"",
		lint:  "bearer_token must not contain CR or LF",
		run:   `field "bearer_token": must not contain CR or LF`,
	},
	{
		name:  "url without a host",
		input: "sse:\n    url: \"http:///events\"",
		lint:  "url: http:///events has no host",
		run:   `field "url": http:///events must be an http:// or https:// URL with a host`,
	},
}

func TestLint_BadConfigs(t *testing.T) {
	for _, tt := range badConfigs {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			conf := "http:\n  enabled: false\ninput:\n  " + tt.input + "\noutput:\n  drop: {}\n"
			if tt.extra != "" {
				conf += tt.extra + "\n"
			}
			require.NoError(t, os.WriteFile(filepath.Join(dir, "bad.yaml"), []byte(conf), 0o644))

			if tt.lint != "" {
				res := runBin(t, dir, nil, nil, "lint", "bad.yaml")
				assert.Equal(t, 1, res.code, "lint should fail:\n%s", res.output())
				assert.Contains(t, res.stderr, "bad.yaml(", "lint names the file and line")
				assert.Contains(t, res.stderr, tt.lint)

				// A plain run lints first and refuses the config too.
				res = runBin(t, dir, nil, nil, "run", "bad.yaml")
				assert.NotEqual(t, 0, res.code, "run should fail:\n%s", res.output())
				assert.Contains(t, res.output(), tt.lint)
			}
			if tt.run == "" {
				return
			}
			args := []string{"run", "bad.yaml"}
			if tt.lint != "" {
				args = []string{"run", "--chilled", "bad.yaml"}
			}
			res := runBin(t, dir, nil, nil, args...)
			assert.NotEqual(t, 0, res.code, "%s should fail:\n%s", strings.Join(args, " "), res.output())
			assert.Contains(t, res.output(), "failed to init input")
			assert.Contains(t, res.output(), tt.run)
		})
	}
}

func TestUnit_YAMLTests(t *testing.T) {
	t.Parallel()
	res := runBin(t, repoRoot, nil, nil, "test", "./resources/tests/...")
	require.Equal(t, 0, res.code, "benthos-sse test ./resources/tests/...:\n%s", res.output())
	tests, err := filepath.Glob(filepath.Join(repoRoot, "resources", "tests", "*_test.yaml"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(tests), 2)
	for _, p := range tests {
		rel, err := filepath.Rel(repoRoot, p)
		require.NoError(t, err)
		assert.Contains(t, res.stdout, "Test '"+rel+"' succeeded")
	}
	assert.NotContains(t, res.output(), "failed")
}

func TestList_InputsAndScanners(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"inputs", "scanners"} {
		res := runBin(t, repoRoot, nil, nil, "list", kind)
		require.Equal(t, 0, res.code, res.output())
		assert.Regexp(t, `(?m)^  - sse$`, res.stdout, "list %s", kind)
	}
}

func TestEcho_ScrubsSecrets(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	conf := `http:
  enabled: false
input:
  sse:
    url: https://127.0.0.1:1/events
    bearer_token: hunter2
    headers:
      Authorization: "Bearer hunter2"
      X-Api-Key: hunter2
    basic_auth:
      enabled: true
      username: bob
      password: hunter2
output:
  drop: {}
`
	require.NoError(t, os.WriteFile(filepath.Join(dir, "secret.yaml"), []byte(conf), 0o644))
	res := runBin(t, dir, nil, nil, "echo", "secret.yaml")
	require.Equal(t, 0, res.code, res.output())
	assert.NotContains(t, res.output(), "hunter2")
	// The fields are still there, scrubbed, and the rest is intact.
	assert.Contains(t, res.stdout, "bearer_token: '!!!SECRET_SCRUBBED!!!'")
	assert.Contains(t, res.stdout, "Authorization: '!!!SECRET_SCRUBBED!!!'")
	assert.Contains(t, res.stdout, "username: bob")
	assert.Contains(t, res.stdout, "url: https://127.0.0.1:1/events")
}
