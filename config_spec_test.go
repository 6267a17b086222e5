package benthossse

import (
	"strings"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/benthos-sse/benthos-sse/sse"
)

func TestParseConfig_Defaults(t *testing.T) {
	pc, err := ConfigSpec().ParseYAML("url: https://example.com/events", nil)
	require.NoError(t, err)
	c, err := ParseConfig(pc)
	require.NoError(t, err)
	assert.Equal(t, "https://example.com/events", c.URL)
	assert.Equal(t, "GET", c.Method)
	assert.Equal(t, defaultTimeout, c.Timeout)
	assert.Equal(t, time.Duration(0), c.IdleTimeout)
	assert.Equal(t, sse.DefaultReconnectionTime, c.ReconnectInitial)
	assert.Equal(t, time.Minute, c.ReconnectMax)
	assert.Equal(t, time.Duration(0), c.ReconnectMaxElapsed)
	assert.Equal(t, sse.DefaultMaxEventSize, c.MaxEventSize)
	assert.Equal(t, defaultMaxBatchSize, c.MaxBatchSize)
	assert.Equal(t, defaultCheckpointKey, c.CheckpointKey)
	assert.Empty(t, c.CheckpointCache)
	assert.Nil(t, c.TLS, "TLS customisation is off by default; the transport still verifies")
	assert.False(t, c.StopAtStreamEnd)
	assert.Equal(t, DedupeNone, c.DedupeMode)
	assert.Equal(t, 0, c.MaxInFlight)
}

// TestParseConfig_Errors feeds configurations that lint would reject (or
// cannot check) straight to ParseConfig, as `run --chilled` does: each
// error names the field.
func TestParseConfig_Errors(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"neither url nor from", "method: GET", "exactly one of url and from must be set: neither is"},
		{"both url and from", "url: http://a/\nfrom: x", "exactly one of url and from must be set: both are"},
		{"ftp url", "url: ftp://a/x", `field "url"`},
		{"url without host", "url: http:///x", `field "url"`},
		{"lower-case method", "url: http://a/\nmethod: get", `field "method"`},
		{"header with CR LF", "url: http://a/\nheaders: {X-A: \"a\\r\\nb\"}", `field "headers"`},
		{"bearer token with LF", "url: http://a/\nbearer_token: \"a\\nb\"", `field "bearer_token"`},
		{"negative timeout", "url: http://a/\ntimeout: -1s", `field "timeout"`},
		{"bad idle timeout", "url: http://a/\nidle_timeout: soon", `field "idle_timeout"`},
		{"max below initial", "url: http://a/\nreconnect: {initial_interval: 10s, max_interval: 1s}", `field "reconnect.max_interval"`},
		{"zero max_event_size", "url: http://a/\nmax_event_size: 0", `field "max_event_size"`},
		{"word max_batch_size", "url: http://a/\nmax_batch_size: lots", `field "max_batch_size"`},
		{"empty checkpoint key", "url: http://a/\ncheckpoint: {cache: c, key: \"\"}", `field "checkpoint.key"`},
		{"proxy scheme", "url: http://a/\nproxy_url: ftp://p", `field "proxy_url"`},
		{"negative max_in_flight", "url: http://a/\nmax_in_flight: -1", `field "max_in_flight"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pc, err := ConfigSpec().ParseYAML(tt.yaml, nil)
			if err == nil {
				_, err = ParseConfig(pc)
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

// TestConfigSpec_Lint checks the lint rules, which lint would otherwise
// skip for integers, durations and URL schemes.
func TestConfigSpec_Lint(t *testing.T) {
	env := service.NewEmptyEnvironment()
	require.NoError(t, env.RegisterBatchInput("sse", ConfigSpec(),
		func(*service.ParsedConfig, *service.Resources) (service.BatchInput, error) { return nil, nil }))
	linter := env.NewComponentConfigLinter()
	tests := []struct {
		name, yaml, want string
	}{
		{"ok", "sse: {url: http://a/x}", ""},
		{"ftp", "sse: {url: ftp://a/x}", "url: ftp://a/x must start with http:// or https://"},
		{"duration", "sse: {url: http://a/x, timeout: banana}", "timeout: banana is not a valid non-negative duration"},
		{"negative", "sse: {url: http://a/x, idle_timeout: -5s}", "idle_timeout: -5s is not a valid non-negative duration"},
		{"reconnect", "sse: {url: http://a/x, reconnect: {max_interval: x}}", "reconnect.max_interval: x is not a valid"},
		{"int", "sse: {url: http://a/x, max_event_size: big}", "max_event_size: big is not an integer"},
		{"fraction", "sse: {url: http://a/x, max_batch_size: 1.5}", "max_batch_size: 1.5 must be a positive integer"},
		{"neither", "sse: {method: GET}", "exactly one of url and from must be set: neither is"},
		{"headers", "sse: {url: http://a/x, headers: {A: \"b\\nc\"}}", "headers: names and values must not contain CR or LF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lints, err := linter.LintInputYAML([]byte(tt.yaml))
			require.NoError(t, err)
			if tt.want == "" {
				assert.Empty(t, lints)
				return
			}
			var whats []string
			for _, l := range lints {
				whats = append(whats, l.What)
			}
			require.NotEmpty(t, whats)
			assert.Contains(t, strings.Join(whats, " | "), tt.want)
		})
	}
}

// TestScannerConfigSpec checks that the scanner's max_event_size is the
// input's: the same lint wording, and the same error from parsing.
func TestScannerConfigSpec(t *testing.T) {
	env := service.NewEmptyEnvironment()
	require.NoError(t, env.RegisterBatchScannerCreator("sse", ScannerConfigSpec(),
		func(*service.ParsedConfig, *service.Resources) (service.BatchScannerCreator, error) { return nil, nil }))
	linter := env.NewComponentConfigLinter()
	tests := []struct {
		name, yaml, lint, parse string
		want                    int
	}{
		{name: "default", yaml: "{}", want: sse.DefaultMaxEventSize},
		{name: "set", yaml: "max_event_size: 4096", want: 4096},
		{name: "word", yaml: "max_event_size: big", lint: "max_event_size: big is not an integer", parse: `field "max_event_size"`},
		{name: "zero", yaml: "max_event_size: 0", lint: "max_event_size: 0 must be a positive integer", parse: `field "max_event_size": 0 must be positive`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lints, err := linter.LintScannerYAML([]byte("sse:\n  " + tt.yaml))
			require.NoError(t, err)
			var whats []string
			for _, l := range lints {
				whats = append(whats, l.What)
			}
			if tt.lint == "" {
				assert.Empty(t, whats)
			} else {
				assert.Equal(t, []string{tt.lint}, whats)
			}

			pc, err := ScannerConfigSpec().ParseYAML(tt.yaml, nil)
			require.NoError(t, err)
			c, err := ParseScannerConfig(pc)
			if tt.parse != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.parse)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, c.MaxEventSize)
		})
	}
}
