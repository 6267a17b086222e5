package tests

// Black-box tests of the benthos-sse command line: the example configs in
// resources/ lint clean, bad configs are refused with a message naming the
// field (by `lint`, or by `run` where lint cannot see the problem), the YAML
// unit tests pass, the plugins are listed, and `echo` scrubs secrets.

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// exampleEnv gives every environment variable the example configs
// reference a harmless value: one that lints and would only ever reach
// 127.0.0.1. A config referencing a variable missing here fails the test,
// so this list stays complete.
var exampleEnv = map[string]string{
	"SSE_URL":             "http://127.0.0.1:1/events",
	"SSE_FROM":            "./resources/sample.sse",
	"NDJSON_PATH":         "./out/test.ndjson",
	"WEBHOOK_URL":         "http://127.0.0.1:1/hook",
	"OPENAI_BASE_URL":     "http://127.0.0.1:1",
	"OPENAI_API_KEY":      "sk-test-not-a-key",
	"OPENAI_MODEL":        "test-model",
	"HTTP_ADDRESS":        "127.0.0.1:1",
	"KAFKA_BROKERS":       "127.0.0.1:1",
	"KAFKA_TOPIC":         "test-topic",
	"REDIS_URL":           "redis://127.0.0.1:1",
	"CHECKPOINT_KEY":      "test_key",
	"LOG_LEVEL":           "debug",
	"RESPONSE_ID":         "resp_test",
	"OPENAI_API_KEY_FILE": "./no-such.key",
	"OFFSETS_TOPIC":       "test-offsets",
	"STREAMS_TOPIC":       "test-streams",
	"FLEET_GROUP":         "test-fleet",
	"INSTANCE_ID":         "test-instance",
	"TRANSACTIONAL_ID":    "test-txn",
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
		"to_ndjson.yaml", "to_webhook.yaml", "scanner_stdin.yaml", "kafka.yaml", "kafka_exactly_once.yaml", "openai_resume.yaml",
		"many_streams.yaml", "fleet.yaml", "fleet_streams.yaml",
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
	// line is the line of bad.yaml that lint reports it on, where input
	// starts on line 4.
	line int
	// run is what `run` reports when the constructor refuses the config. For
	// a case lint catches it is checked with `run --chilled` (which skips
	// lint), proving the constructor checks again; empty means only lint
	// checks it.
	run string
}

var badConfigs = []badConfig{
	{
		// Benthos gives a rule over several fields the line of the
		// object's first key.
		name:  "both url and from",
		input: "sse:\n    url: http://127.0.0.1:1/events\n    from: ./events.sse",
		lint:  "exactly one of url and from must be set: both are",
		line:  5,
		run:   "exactly one of url and from must be set: both are",
	},
	{
		name:  "neither url nor from",
		input: "sse:\n    method: GET",
		lint:  "exactly one of url and from must be set: neither is",
		line:  5,
		run:   "exactly one of url and from must be set: neither is",
	},
	{
		name:  "ftp url",
		input: "sse:\n    url: ftp://127.0.0.1/events",
		lint:  "url: ftp://127.0.0.1/events must start with http:// or https://",
		line:  5,
		run:   `field "url": ftp://127.0.0.1/events must be an http:// or https:// URL with a host`,
	},
	{
		name:  "negative duration",
		input: "sse:\n    url: http://127.0.0.1:1/events\n    timeout: -1s",
		lint:  "timeout: -1s is not a valid non-negative duration such as 10s",
		line:  6,
		run:   `field "timeout": -1s must not be negative`,
	},
	{
		name:  "invalid duration",
		input: "sse:\n    url: http://127.0.0.1:1/events\n    idle_timeout: banana",
		lint:  "idle_timeout: banana is not a valid non-negative duration such as 10s",
		line:  6,
		run:   `field "idle_timeout"`,
	},
	{
		name:  "negative reconnect max_interval",
		input: "sse:\n    url: http://127.0.0.1:1/events\n    reconnect:\n      max_interval: -5s",
		lint:  "reconnect.max_interval: -5s is not a valid non-negative duration such as 10s",
		line:  7,
		run:   `field "reconnect.max_interval": -5s must not be negative`,
	},
	{
		// Reported on its own line, not on initial_interval's.
		name:  "reconnect max_interval not a duration",
		input: "sse:\n    url: http://127.0.0.1:1/events\n    reconnect:\n      initial_interval: 1s\n      max_interval: 1x",
		lint:  "reconnect.max_interval: 1x is not a valid non-negative duration such as 10s",
		line:  8,
		run:   `field "reconnect.max_interval"`,
	},
	{
		name:  "reconnect max_interval zero",
		input: "sse:\n    url: http://127.0.0.1:1/events\n    reconnect:\n      initial_interval: 1s\n      max_interval: 0s",
		lint:  "reconnect.max_interval: 0s must be above zero",
		line:  8,
		run:   `field "reconnect.max_interval": 0s must be above zero`,
	},
	{
		name:  "unknown field",
		input: "sse:\n    url: http://127.0.0.1:1/events\n    nope: 1",
		lint:  "field nope not recognised",
		line:  6,
	},
	{
		name:  "max_event_size not a number",
		input: "sse:\n    url: http://127.0.0.1:1/events\n    max_event_size: big",
		lint:  "max_event_size: big is not a byte size such as 1048576 or 1MiB",
		line:  6,
		run:   `field "max_event_size": "big" is not a byte size such as 1048576 or 1MiB`,
	},
	{
		name:  "max_event_size zero",
		input: "sse:\n    url: http://127.0.0.1:1/events\n    max_event_size: 0",
		lint:  "max_event_size: 0 must be positive",
		line:  6,
		run:   `field "max_event_size": 0 must be positive`,
	},
	{
		name:  "max_event_size over the bound",
		input: "sse:\n    url: http://127.0.0.1:1/events\n    max_event_size: 9223372036854775807",
		lint:  "max_event_size: 9223372036854775807 is over the maximum of 1GiB (1073741824 bytes)",
		line:  6,
		run:   `field "max_event_size": 9223372036854775807 is over the maximum of 1GiB (1073741824 bytes)`,
	},
	{
		name:  "max_batch_size negative",
		input: "sse:\n    url: http://127.0.0.1:1/events\n    max_batch_size: -1",
		lint:  "max_batch_size: -1 must be a positive integer",
		line:  6,
		run:   `field "max_batch_size": -1 must be positive`,
	},
	{
		name:  "max_batch_size over the bound",
		input: "sse:\n    url: http://127.0.0.1:1/events\n    max_batch_size: 100001",
		lint:  "max_batch_size: 100001 is over the maximum of 100000",
		line:  6,
		run:   `field "max_batch_size": 100001 is over the maximum of 100000`,
	},
	{
		name:  "max_in_flight over the bound",
		input: "sse:\n    url: http://127.0.0.1:1/events\n    max_in_flight: 100001",
		lint:  "max_in_flight: 100001 is over the maximum of 100000",
		line:  6,
		run:   `field "max_in_flight": 100001 is over the maximum of 100000`,
	},
	{
		name:  "dedupe window zero",
		input: "sse:\n    url: http://127.0.0.1:1/events\n    dedupe:\n      mode: window\n      window: 0",
		lint:  "dedupe.window: 0 must be a positive integer",
		line:  8,
		run:   `field "dedupe.window": 0 must be positive`,
	},
	{
		name:  "dedupe window over the bound",
		input: "sse:\n    url: http://127.0.0.1:1/events\n    dedupe:\n      mode: window\n      window: 50000000",
		lint:  "dedupe.window: 50000000 is over the maximum of 1000000",
		line:  8,
		run:   `field "dedupe.window": 50000000 is over the maximum of 1000000`,
	},
	{
		name:  "dedupe mode not an option",
		input: "sse:\n    url: http://127.0.0.1:1/events\n    dedupe:\n      mode: Window",
		lint:  "dedupe.mode: Window is not one of none, monotonic, window",
		line:  7,
		run:   `field "dedupe.mode": "Window" is not one of none, monotonic, window`,
	},
	{
		name:  "lower-case method",
		input: "sse:\n    url: http://127.0.0.1:1/events\n    method: get",
		lint:  "method: get is not an HTTP method such as GET or POST",
		line:  6,
		run:   `field "method": "get" is not an HTTP method such as GET or POST`,
	},
	{
		name:  "stream_end not an option",
		input: "sse:\n    url: http://127.0.0.1:1/events\n    stream_end: sometimes",
		lint:  "stream_end: sometimes is not one of reconnect, stop",
		line:  6,
		run:   `field "stream_end": "sometimes" is not one of reconnect, stop`,
	},
	{
		// Benthos' own enum lint ignores case; the input does not.
		name:  "stream_end in capitals",
		input: "sse:\n    url: http://127.0.0.1:1/events\n    stream_end: STOP",
		lint:  "stream_end: STOP is not one of reconnect, stop",
		line:  6,
		run:   `field "stream_end": "STOP" is not one of reconnect, stop`,
	},
	{
		name:  "header value with CR LF",
		input: "sse:\n    url: http://127.0.0.1:1/events\n    headers:\n      X-Evil: \"a\\r\\nInjected: yes\"",
		lint:  "headers: the value on this line holds a control character such as CR or LF, which cannot be sent",
		line:  7,
		run:   `field "headers.X-Evil": the value holds a control character such as CR or LF, which cannot be sent`,
	},
	{
		// On the line of the third header, not the first.
		name:  "third header value with CR LF",
		input: "sse:\n    url: http://127.0.0.1:1/events\n    headers:\n      X-A: a\n      X-B: b\n      X-C: \"c\\r\\nInjected: yes\"",
		lint:  "headers: the value on this line holds a control character such as CR or LF, which cannot be sent",
		line:  9,
		run:   `field "headers.X-C": the value holds a control character`,
	},
	{
		// A name is checked on the map, which Benthos reports on the first
		// header's line; the message names the header.
		name:  "header name with LF",
		input: "sse:\n    url: http://127.0.0.1:1/events\n    headers:\n      X-A: a\n      \"X-B\\nX-C\": v",
		lint:  `headers: "X-B\nX-C" is not a valid HTTP header name`,
		line:  7,
		run:   `field "headers.X-B\nX-C": is not a valid HTTP header name`,
	},
	{
		name:  "header name with a space",
		input: "sse:\n    url: http://127.0.0.1:1/events\n    headers:\n      X-A: a\n      X-B: b\n      X Api Key: c",
		lint:  `headers: "X Api Key" is not a valid HTTP header name`,
		line:  7,
		run:   `field "headers.X Api Key": is not a valid HTTP header name`,
	},
	{
		name:  "last_event_id that cannot be sent",
		input: "sse:\n    url: http://127.0.0.1:1/events\n    last_event_id: \"abc\\u0001\"",
		lint:  `last_event_id: "abc\x01" holds a control character, which cannot be sent in a Last-Event-ID header`,
		line:  6,
		run:   `field "last_event_id": "abc\x01" holds a control character, which cannot be sent in a Last-Event-ID header`,
	},
	{
		name:  "last_event_id over 4096 bytes",
		input: "sse:\n    url: http://127.0.0.1:1/events\n    last_event_id: " + strings.Repeat("7", 4097),
		lint:  "last_event_id: is 4097 bytes, over the 4096 a Last-Event-ID header may hold",
		line:  6,
		run:   `field "last_event_id": is 4097 bytes, over the 4096 a Last-Event-ID header may hold`,
	},
	{
		name:  "proxy_url with another scheme",
		input: "sse:\n    url: http://127.0.0.1:1/events\n    proxy_url: ftp://127.0.0.1:1",
		lint:  "proxy_url: ftp://127.0.0.1:1 must start with http://, https:// or socks5://",
		line:  6,
	},
	{
		name:  "scanner max_event_size zero",
		input: "stdin:\n    scanner:\n      sse:\n        max_event_size: 0",
		lint:  "max_event_size: 0 must be positive",
		line:  7,
		run:   `field "max_event_size": 0 must be positive`,
	},
	{
		name:  "scanner max_event_size not a number",
		input: "stdin:\n    scanner:\n      sse:\n        max_event_size: big",
		lint:  "max_event_size: big is not a byte size such as 1048576 or 1MiB",
		line:  7,
		run:   `field "max_event_size": "big" is not a byte size such as 1048576 or 1MiB`,
	},

	// What lint cannot see: `run` must refuse these before connecting.
	// (Cases that lint also catches are checked with run --chilled.)
	{
		// A lint rule sees only its own field's value, never the
		// resources, so only the constructor can check this.
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
		// A rule over two fields sits on their object: its first line.
		name:  "reconnect max_interval below initial_interval",
		input: "sse:\n    url: http://127.0.0.1:1/events\n    reconnect:\n      initial_interval: 10s\n      max_interval: 1s",
		lint:  "reconnect.max_interval: 1s is below initial_interval 10s",
		line:  7,
		run:   `field "reconnect.max_interval": 1s is below initial_interval 10s`,
	},
	{
		name:  "bearer_token with CR LF",
		input: "sse:\n    url: http://127.0.0.1:1/events\n    bearer_token: \"abc\\r\\nX-Injected: yes\"",
		lint:  "bearer_token must not contain CR, LF or other control characters",
		line:  6,
		run:   `field "bearer_token": must not contain CR, LF or other control characters`,
	},
	{
		name:  "streams with url",
		input: "sse:\n    url: http://127.0.0.1:1/events\n    streams:\n      - url: http://127.0.0.1:1/a",
		lint:  "streams cannot be set with url or from: a streams list replaces them",
		line:  5,
		run:   "streams cannot be set with url or from: a streams list replaces them",
	},
	{
		// On the list's first line; the derived names are the URLs
		// without scheme and query.
		name:  "streams with duplicate names",
		input: "sse:\n    streams:\n      - url: http://127.0.0.1:1/a\n      - url: \"http://127.0.0.1:1/a?k=v\"",
		lint:  `streams: two streams are named "127.0.0.1:1/a"; give each a unique name`,
		line:  6,
		run:   `field "streams.1.name": two streams are named "127.0.0.1:1/a"`,
	},
	{
		name:  "a stream's bad url",
		input: "sse:\n    streams:\n      - url: http://127.0.0.1:1/a\n      - url: ftp://127.0.0.1:1/b",
		lint:  "streams: url: ftp://127.0.0.1:1/b must start with http:// or https://",
		line:  7,
		run:   `streams.1 (127.0.0.1:1/b): field "url"`,
	},
	{
		name:  "a stream's bad header",
		input: "sse:\n    streams:\n      - url: http://127.0.0.1:1/a\n        headers:\n          X-A: \"a\\nb\"",
		lint:  "streams: headers: the value on this line holds a control character such as CR or LF, which cannot be sent",
		line:  8,
		run:   `field "headers.X-A"`,
	},
	{
		// On the input's first line: only the input sees both.
		name:  "a stream's own Authorization with bearer_token",
		input: "sse:\n    bearer_token: t\n    streams:\n      - url: http://127.0.0.1:1/a\n      - name: b\n        url: http://127.0.0.1:1/b\n        headers:\n          Authorization: Basic eDp5",
		lint:  "streams.1 (b): headers.Authorization: the input's bearer_token sets the Authorization header of every request, replacing the stream's own: keep one",
		line:  5,
		run:   `streams.1 (b): field "headers.Authorization": the input's bearer_token sets the Authorization header`,
	},
	{
		name:  "url without a host",
		input: "sse:\n    url: \"http:///events\"",
		lint:  "url: http:///events has no host",
		line:  5,
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
			writeConfigFile(t, dir, "bad.yaml", conf)

			if tt.lint != "" {
				res := runBin(t, dir, nil, nil, "lint", "bad.yaml")
				assert.Equal(t, 1, res.code, "lint should fail:\n%s", res.output())
				require.NotZero(t, tt.line, "every lint case names its line")
				assert.Contains(t, res.stderr, fmt.Sprintf("bad.yaml(%d,1) %s\n", tt.line, tt.lint), "lint names the file, the line and the field:\n%s", res.stderr)

				// A plain run lints first and refuses the config too.
				res = runBin(t, dir, nil, nil, "run", "bad.yaml")
				assert.NotEqual(t, 0, res.code, "run should fail:\n%s", res.output())
				// The log line quotes the lint in logfmt.
				quoted := strconv.Quote(tt.lint)
				assert.True(t, strings.Contains(res.output(), tt.lint) || strings.Contains(res.output(), quoted[1:len(quoted)-1]),
					"run should log %q:\n%s", tt.lint, res.output())
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

// A config template from `create` must lint clean in the binary that made
// it, as the core components' templates do.
func TestCreate_TemplatesLintClean(t *testing.T) {
	for _, args := range [][]string{
		{"create", "sse//stdout"},
		{"create", "-s", "sse//stdout"},
		{"create", "sse/mapping/file"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			t.Parallel()
			res := runBin(t, repoRoot, nil, slices.Collect(maps.Keys(exampleEnv)), args...)
			require.Equal(t, 0, res.code, res.output())
			require.Contains(t, res.stdout, "\n  sse:\n", "the template holds the sse input")
			dir := t.TempDir()
			writeConfigFile(t, dir, "created.yaml", res.stdout)
			res = runBin(t, dir, nil, slices.Collect(maps.Keys(exampleEnv)), "lint", "created.yaml")
			assert.Equal(t, 0, res.code, "lint of the template:\n%s", res.output())
			assert.Empty(t, res.output())
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
    proxy_url: http://bob:hunter2@127.0.0.1:3128
    headers:
      Authorization: "Bearer hunter2"
      X-Api-Key: hunter2
      X-From-Env: "${SSE_TEST_SECRET}"
      X-Unset-Env: "${SSE_TEST_UNSET:}"
      X-Interpolated: '${! env("SSE_TEST_SECRET") + "hunter2" }'
    oauth2:
      enabled: false
      client_key: bob
      client_secret: hunter2
    basic_auth:
      enabled: true
      username: bob
      password: hunter2
output:
  drop: {}
`
	writeConfigFile(t, dir, "secret.yaml", conf)
	// What the headers field's description says: every non-empty value
	// is scrubbed, environment variables being substituted first.
	res := runBin(t, dir, []string{"SSE_TEST_SECRET=hunter2"}, []string{"SSE_TEST_UNSET"}, "echo", "secret.yaml")
	require.Equal(t, 0, res.code, res.output())
	assert.NotContains(t, res.output(), "hunter2")
	assert.Contains(t, res.stdout, "X-Api-Key: '!!!SECRET_SCRUBBED!!!'")
	assert.Contains(t, res.stdout, "X-From-Env: '!!!SECRET_SCRUBBED!!!'")
	assert.Contains(t, res.stdout, `X-Unset-Env: ""`)
	assert.Contains(t, res.stdout, "X-Interpolated: '!!!SECRET_SCRUBBED!!!'", "an interpolation is scrubbed as written")
	assert.Contains(t, res.stdout, "client_secret: '!!!SECRET_SCRUBBED!!!'")
	assert.Contains(t, res.stdout, "proxy_url: '!!!SECRET_SCRUBBED!!!'")
	// The fields are still there, scrubbed, and the rest is intact.
	assert.Contains(t, res.stdout, "bearer_token: '!!!SECRET_SCRUBBED!!!'")
	assert.Contains(t, res.stdout, "Authorization: '!!!SECRET_SCRUBBED!!!'")
	assert.Contains(t, res.stdout, "username: bob")
	assert.Contains(t, res.stdout, "url: https://127.0.0.1:1/events")
}
