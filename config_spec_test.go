package benthossse

import (
	"fmt"
	"strings"
	"testing"
	"time"

	_ "github.com/redpanda-data/benthos/v4/public/components/io" // file() for the interpolations
	_ "github.com/redpanda-data/benthos/v4/public/components/pure"
	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/benthos-sse/benthos-sse/sse"
)

// testEnv is an environment with the sse input (of spec) and the sse
// scanner registered, as package input registers them, but with
// constructors that are never called.
func testEnv(t *testing.T, spec *service.ConfigSpec) *service.Environment {
	t.Helper()
	env := service.NewEmptyEnvironment()
	require.NoError(t, env.RegisterBatchInput("sse", spec,
		func(*service.ParsedConfig, *service.Resources) (service.BatchInput, error) { return nil, nil }))
	require.NoError(t, env.RegisterBatchScannerCreator("sse", ScannerConfigSpec(),
		func(*service.ParsedConfig, *service.Resources) (service.BatchScannerCreator, error) { return nil, nil }))
	return env
}

// lintWhats is what each lint says.
func lintWhats(lints []service.Lint) []string {
	var whats []string
	for _, l := range lints {
		whats = append(whats, l.What)
	}
	return whats
}

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
	// Benthos' backoff policy (FieldBackOff): ×1.5, jitter 0.5.
	assert.Equal(t, 1.5, c.BackoffFactor)
	assert.Equal(t, 0.5, c.Jitter)
	assert.Equal(t, sse.DefaultMaxEventSize, c.MaxEventSize)
	assert.Equal(t, defaultMaxBatchSize, c.MaxBatchSize)
	assert.Equal(t, DefaultCheckpointKey("https://example.com/events"), c.CheckpointKey)
	assert.Empty(t, c.CheckpointCache)
	assert.Nil(t, c.TLS, "TLS customisation is off by default; the transport still verifies")
	assert.False(t, c.StopAtStreamEnd)
	assert.Equal(t, DedupeNone, c.DedupeMode)
	assert.Equal(t, 1, c.MaxInFlight)
	assert.Empty(t, c.FailOn)
}

// TestParseConfig_CheckpointKey: an empty key, as `create` writes it, is
// derived from the source like an unset one, so that templates never pin one
// key that every input of a shared cache would resume from.
func TestParseConfig_CheckpointKey(t *testing.T) {
	tests := []struct{ name, yaml, want string }{
		{"unset", "url: http://a/x\ncheckpoint: {cache: c}", DefaultCheckpointKey("http://a/x")},
		{"empty", "url: http://a/x\ncheckpoint: {cache: c, key: \"\"}", DefaultCheckpointKey("http://a/x")},
		{"empty, from", "from: ./s.sse\ncheckpoint: {cache: c, key: \"\"}", DefaultCheckpointKey("./s.sse")},
		{"set", "url: http://a/x\ncheckpoint: {cache: c, key: mine}", "mine"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pc, err := ConfigSpec().ParseYAML(tt.yaml, nil)
			require.NoError(t, err)
			c, err := ParseConfig(pc)
			require.NoError(t, err)
			assert.Equal(t, tt.want, c.CheckpointKey)
		})
	}
	assert.NotEqual(t, DefaultCheckpointKey("http://a/x"), DefaultCheckpointKey("http://a/y"))
}

func TestParseConfig_FailOn(t *testing.T) {
	pc, err := ConfigSpec().ParseYAML("url: http://a/\nfail_on: [401, 403]", nil)
	require.NoError(t, err)
	c, err := ParseConfig(pc)
	require.NoError(t, err)
	assert.Equal(t, map[int]bool{401: true, 403: true}, c.FailOn)
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
		{"header with CR LF", "url: http://a/\nheaders: {X-A: \"a\\r\\nb\"}", `field "headers.X-A": the value holds a control character such as CR or LF, which cannot be sent`},
		{"header value with ESC", "url: http://a/\nheaders: {X-A: ok, X-B: \"a\\x1bb\"}", `field "headers.X-B": the value holds a control character`},
		{"header name with a space", "url: http://a/\nheaders: {X-A: ok, \"X B\": ok}", `field "headers.X B": is not a valid HTTP header name`},
		{"header name with LF", "url: http://a/\nheaders: {\"X\\nB\": ok}", `field "headers.X\nB": is not a valid HTTP header name`},
		{"bearer token with LF", "url: http://a/\nbearer_token: \"a\\nb\"", `field "bearer_token": must not contain CR, LF or other control characters`},
		{"last_event_id with a control byte", "url: http://a/\nlast_event_id: \"2\\x01x\"", `field "last_event_id": "2\x01x" holds a control character, which cannot be sent in a Last-Event-ID header`},
		{"last_event_id with DEL", "url: http://a/\nlast_event_id: \"2\\x7f\"", `field "last_event_id"`},
		{"last_event_id too long", "url: http://a/\nlast_event_id: " + strings.Repeat("a", 4097), `field "last_event_id": is 4097 bytes, over the 4096 a Last-Event-ID header may hold`},
		{"negative timeout", "url: http://a/\ntimeout: -1s", `field "timeout"`},
		{"bad idle timeout", "url: http://a/\nidle_timeout: soon", `field "idle_timeout"`},
		{"max below initial", "url: http://a/\nreconnect: {initial_interval: 10s, max_interval: 1s}", `field "reconnect.max_interval": 1s is below initial_interval 10s`},
		{"max below the default initial", "url: http://a/\nreconnect: {max_interval: 1s}", `field "reconnect.max_interval": 1s is below initial_interval 3s`},
		{"zero max_interval", "url: http://a/\nreconnect: {max_interval: 0s}", `field "reconnect.max_interval": 0s must be above zero`},
		{"zero max_event_size", "url: http://a/\nmax_event_size: 0", `field "max_event_size": 0 must be positive`},
		{"zero byte size", "url: http://a/\nmax_event_size: 0KiB", `field "max_event_size": 0KiB must be positive`},
		{"word max_event_size", "url: http://a/\nmax_event_size: big", `field "max_event_size": "big" is not a byte size such as 1048576 or 1MiB`},
		{"unknown unit", "url: http://a/\nmax_event_size: 1TiB", `field "max_event_size": "1TiB" is not a byte size`},
		{"fractional max_event_size", "url: http://a/\nmax_event_size: 1.5", `field "max_event_size": 1.5 is not a byte size`},
		{"huge max_event_size", "url: http://a/\nmax_event_size: 9223372036854775807", `field "max_event_size": 9223372036854775807 is over the maximum of 1GiB (1073741824 bytes)`},
		{"huge byte size", "url: http://a/\nmax_event_size: 99999999999999999999MiB", `field "max_event_size": 99999999999999999999MiB is over the maximum of 1GiB`},
		{"word max_batch_size", "url: http://a/\nmax_batch_size: lots", `field "max_batch_size": lots is not an integer`},
		{"fractional max_batch_size", "url: http://a/\nmax_batch_size: 1.5", `field "max_batch_size": 1.5 is not an integer`},
		{"huge max_batch_size", "url: http://a/\nmax_batch_size: 100001", `field "max_batch_size": 100001 is over the maximum of 100000`},
		{"negative linger", "url: http://a/\nlinger: -1ms", `field "linger"`},
		{"long linger", "url: http://a/\nlinger: 61s", `field "linger": 1m1s is above the maximum of 1m0s`},
		{"huge dedupe window", "url: http://a/\ndedupe: {mode: window, window: 50000000}", `field "dedupe.window": 50000000 is over the maximum of 1000000`},
		{"dedupe mode not an option", "url: http://a/\ndedupe: {mode: Window}", `field "dedupe.mode": "Window" is not one of none, monotonic, window`},
		{"stream_end not an option", "url: http://a/\nstream_end: STOP", `field "stream_end": "STOP" is not one of reconnect, stop`},
		{"proxy scheme", "url: http://a/\nproxy_url: ftp://p", `field "proxy_url"`},
		{"negative max_in_flight", "url: http://a/\nmax_in_flight: -1", `field "max_in_flight": -1 must not be negative`},
		{"huge max_in_flight", "url: http://a/\nmax_in_flight: 100001", `field "max_in_flight": 100001 is over the maximum of 100000`},
		{"fail_on not a status", "url: http://a/\nfail_on: [401, 99]", `field "fail_on": 99 is not an HTTP status code`},
		{"fail_on word", "url: http://a/\nfail_on: [unauthorized]", `field 'fail_on'`},
	}
	spec := ConfigSpec()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pc, err := spec.ParseYAML(tt.yaml, nil)
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
	// Benthos' own Bloblang functions (env, file) for the interpolations.
	env := service.NewEnvironment()
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
		{"int", "sse: {url: http://a/x, max_event_size: big}", "max_event_size: big is not a byte size such as 1048576 or 1MiB"},
		{"byte size", "sse: {url: http://a/x, max_event_size: 1MiB}", ""},
		{"byte size over the bound", "sse: {url: http://a/x, max_event_size: 2GiB}", "max_event_size: 2GiB is over the maximum of 1GiB (1073741824 bytes)"},
		{"int over the bound", "sse: {url: http://a/x, max_event_size: 9223372036854775807}", "max_event_size: 9223372036854775807 is over the maximum of 1GiB (1073741824 bytes)"},
		{"fraction", "sse: {url: http://a/x, max_batch_size: 1.5}", "max_batch_size: 1.5 must be a positive integer"},
		{"batch over the bound", "sse: {url: http://a/x, max_batch_size: 100001}", "max_batch_size: 100001 is over the maximum of 100000"},
		{"linger", "sse: {url: http://a/x, linger: 5ms}", ""},
		{"linger over the bound", "sse: {url: http://a/x, linger: 2m}", "linger: 2m is above the maximum of 1m0s"},
		{"linger not a duration", "sse: {url: http://a/x, linger: soon}", "linger: soon is not a valid"},
		{"in flight over the bound", "sse: {url: http://a/x, max_in_flight: 100001}", "max_in_flight: 100001 is over the maximum of 100000"},
		{"window over the bound", "sse: {url: http://a/x, dedupe: {window: 50000000}}", "dedupe.window: 50000000 is over the maximum of 1000000"},
		{"neither", "sse: {method: GET}", "exactly one of url and from must be set: neither is"},
		{"headers", "sse: {url: http://a/x, headers: {A: \"b\\nc\"}}", "headers: the value on this line holds a control character such as CR or LF, which cannot be sent"},
		{"header name", "sse: {url: http://a/x, headers: {\"A B\": c}}", `headers: "A B" is not a valid HTTP header name`},
		{"last_event_id", "sse: {url: http://a/x, last_event_id: \"a\\u0001\"}", `last_event_id: "a\x01" holds a control character, which cannot be sent in a Last-Event-ID header`},
		{"last_event_id with a tab", "sse: {url: http://a/x, last_event_id: \"a\\tb\"}", ""},
		{"zero max_interval", "sse: {url: http://a/x, reconnect: {max_interval: 0s}}", "reconnect.max_interval: 0s must be above zero"},
		{"max_interval below initial", "sse: {url: http://a/x, reconnect: {initial_interval: 1m, max_interval: 59s}}", "reconnect.max_interval: 59s is below initial_interval 1m"},
		{"max_interval equal to initial", "sse: {url: http://a/x, reconnect: {initial_interval: 1m, max_interval: 60s}}", ""},
		{"enum", "sse: {url: http://a/x, stream_end: STOP}", "stream_end: STOP is not one of reconnect, stop"},
		{"dedupe enum", "sse: {url: http://a/x, dedupe: {mode: sometimes}}", "dedupe.mode: sometimes is not one of none, monotonic, window"},
		{"fail_on", "sse: {url: http://a/x, fail_on: [401, 600]}", "fail_on: [401 600] must list HTTP status codes between 100 and 599"},
		{"fail_on ok", "sse: {url: http://a/x, fail_on: [401, 403]}", ""},
		{"interpolated url", `sse: {url: 'http://a/x?token=${! env("T") }&after=${! @sse_cursor.or("0") }'}`, ""},
		{"interpolated host", `sse: {url: 'http://${! env("HOST") }/x'}`, "url: the scheme and host must be written out"},
		// Benthos' own lint of an interpolation: at its line and column.
		{"malformed interpolation", `sse: {url: 'http://a/x?t=${! env( }'}`, "expected function argument"},
		{"malformed header interpolation", "sse: {url: http://a/x, headers: {X-Key: '${! file(\"k\" }'}}", "expected comma or closing bracket"},
		{"malformed bearer interpolation", `sse: {url: http://a/x, bearer_token: '${! env("T").trim( }'}`, "expected"},
		{"interpolated bearer", `sse: {url: http://a/x, bearer_token: '${! env("T").or("").trim() }'}`, ""},
		{"oauth2", "sse: {url: http://a/x, oauth2: {enabled: true, client_key: k, client_secret: s, token_url: http://a/token}}", ""},
		{"oauth2 and bearer", "sse: {url: http://a/x, bearer_token: t, oauth2: {enabled: true, token_url: http://a/token}}", "oauth2 and bearer_token both set the Authorization header"},
		{"oauth2 and header", "sse: {url: http://a/x, headers: {authorization: t}, oauth2: {enabled: true, token_url: http://a/token}}", "oauth2 and headers.Authorization both set"},
		{"oauth2 and basic_auth", "sse: {url: http://a/x, basic_auth: {enabled: true, username: u}, oauth2: {enabled: true, token_url: http://a/token}}", "oauth2 and basic_auth both set"},
		{"oauth2 without token_url", "sse: {url: http://a/x, oauth2: {enabled: true, client_key: k}}", "oauth2.token_url must be set when oauth2 is enabled"},
		{"oauth2 disabled and bearer", "sse: {url: http://a/x, bearer_token: t, oauth2: {enabled: false}}", ""},
		{"oauth2 token_url", "sse: {url: http://a/x, oauth2: {enabled: true, token_url: ftp://a}}", "oauth2.token_url: ftp://a must start with http:// or https://"},
		{"oauth2 endpoint_params", "sse: {url: http://a/x, oauth2: {enabled: true, token_url: http://a/t, endpoint_params: {audience: x}}}", "oauth2.endpoint_params: values must be arrays of strings"},
		{"resume cursor", "sse: {url: http://a/x, resume: {cursor: this.sequence_number}}", ""},
		{"malformed resume cursor", "sse: {url: http://a/x, resume: {cursor: 'this.('}}", "expected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lints, err := linter.LintInputYAML([]byte(tt.yaml))
			require.NoError(t, err)
			if tt.want == "" {
				assert.Empty(t, lints)
				return
			}
			whats := lintWhats(lints)
			require.NotEmpty(t, whats)
			assert.Contains(t, strings.Join(whats, " | "), tt.want)
		})
	}
}

// TestScannerConfigSpec checks that the scanner's max_event_size is the
// input's: the same lint wording, and the same error from parsing.
func TestScannerConfigSpec(t *testing.T) {
	linter := testEnv(t, ConfigSpec()).NewComponentConfigLinter()
	tests := []struct {
		name, yaml, lint, parse string
		want                    int
	}{
		{name: "default", yaml: "{}", want: sse.DefaultMaxEventSize},
		{name: "set", yaml: "max_event_size: 4096", want: 4096},
		{name: "byte size", yaml: "max_event_size: 64KB", want: 64000},
		{name: "word", yaml: "max_event_size: big", lint: "max_event_size: big is not a byte size such as 1048576 or 1MiB", parse: `field "max_event_size": "big" is not a byte size such as 1048576 or 1MiB`},
		{name: "zero", yaml: "max_event_size: 0", lint: "max_event_size: 0 must be positive", parse: `field "max_event_size": 0 must be positive`},
		{name: "over the bound", yaml: "max_event_size: 1073741825", lint: "max_event_size: 1073741825 is over the maximum of 1GiB (1073741824 bytes)", parse: `field "max_event_size": 1073741825 is over the maximum of 1GiB (1073741824 bytes)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lints, err := linter.LintScannerYAML([]byte("sse:\n  " + tt.yaml))
			require.NoError(t, err)
			whats := lintWhats(lints)
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

func TestParseConfig_ByteSizes(t *testing.T) {
	tests := []struct {
		in   string
		want int
	}{
		{"4096", 4096},
		{"1MiB", 1 << 20},
		{"1mib", 1 << 20},
		{"64KB", 64000},
		{"64 kb", 64000},
		{"16MiB", 16 << 20},
		{"1GB", 1e9},
		{"1GiB", 1 << 30},
		{"100B", 100},
		{`"2048"`, 2048},
	}
	spec := ConfigSpec()
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			pc, err := spec.ParseYAML("url: http://a/\nmax_event_size: "+tt.in, nil)
			require.NoError(t, err)
			c, err := ParseConfig(pc)
			require.NoError(t, err)
			assert.Equal(t, tt.want, c.MaxEventSize)
		})
	}
}

// TestConfigSpec_LintAgreesWithParse runs values through lint and through
// ParseConfig, which checks again for run --chilled: both must accept the
// same values, since each rule is written twice, once in each language.
func TestConfigSpec_LintAgreesWithParse(t *testing.T) {
	spec := ConfigSpec()
	linter := testEnv(t, spec).NewComponentConfigLinter()
	fields := map[string][]string{
		"max_event_size":             {"1", "1MiB", "1 MiB", "64kb", "1GiB", "1073741824", "1073741825", "0", "-1", "1.5", "2.0", "big", "1TB", "1KiBs", "MiB", "\"\"", "99999999999999999999", "[1]"},
		"max_batch_size":             {"1", "100000", "100001", "0", "-1", "1.5", "2.0", "lots", "\"5\""},
		"max_in_flight":              {"0", "1", "100000", "100001", "-1", "1.5"},
		"linger":                     {"0s", "5ms", "1m", "60s", "61s", "-1ms", "soon"},
		"dedupe.window":              {"1", "1000000", "1000001", "0", "x"},
		"dedupe.mode":                {"none", "monotonic", "window", "Window", "sometimes"},
		"stream_end":                 {"reconnect", "stop", "STOP", "end"},
		"last_event_id":              {"abc", `"a\tb"`, `"a\u0001"`, `"a\u007f"`, `"a\u001b"`, `"é"`, strings.Repeat("a", 4096), strings.Repeat("a", 4097)},
		"bearer_token":               {"abc", `"a\u0001"`, `"a\nb"`},
		"reconnect.max_interval":     {"1m", "3s", "2s", "0s", "0", "1x", "-1s", "0h0m", "1h"},
		"reconnect.initial_interval": {"0s", "1s", "1m", "61s", "soon"},
		"headers.X-A":                {"ok", `"a\tb"`, `"a\rb"`, `"a\u0000"`},
		"headers.X B":                {"ok"},
		"headers.X-B_c.d~":           {"ok"},
	}
	for path, values := range fields {
		for _, v := range values {
			t.Run(path+"="+v, func(t *testing.T) {
				var yaml string
				if parent, child, nested := strings.Cut(path, "."); nested {
					yaml = fmt.Sprintf("url: http://a/\n%s:\n  %q: %s", parent, child, v)
				} else {
					yaml = fmt.Sprintf("url: http://a/\n%s: %s", path, v)
				}
				lints, err := linter.LintInputYAML([]byte("sse:\n  " + strings.ReplaceAll(yaml, "\n", "\n  ")))
				require.NoError(t, err)
				pc, err := spec.ParseYAML(yaml, nil)
				if err == nil {
					_, err = ParseConfig(pc)
				}
				if len(lints) == 0 {
					assert.NoError(t, err, "lint accepts %s: %s, ParseConfig must too", path, v)
				} else {
					assert.Error(t, err, "lint rejects %s: %s (%v), ParseConfig must too", path, v, lints)
				}
			})
		}
	}
}

// TestDocumentedType keeps the table honest: every field declared any has
// a documented type, and every entry names such a field.
func TestDocumentedType(t *testing.T) {
	env := testEnv(t, ConfigSpec())
	// WalkScanners walks the global registry, so the scanner's spec is
	// registered as an input here only to be walked.
	require.NoError(t, env.RegisterBatchInput("sse_scanner", ScannerConfigSpec(),
		func(*service.ParsedConfig, *service.Resources) (service.BatchInput, error) { return nil, nil }))
	var views []*service.ConfigView
	env.WalkInputs(func(_ string, v *service.ConfigView) { views = append(views, v) })
	require.Len(t, views, 2)
	declaredAny := map[string]bool{}
	for _, v := range views {
		td, err := v.TemplateData()
		require.NoError(t, err)
		for _, f := range td.Fields {
			if f.Type == "unknown" {
				declaredAny[f.FullName] = true
				typ, ok := DocumentedType(f.FullName)
				assert.True(t, ok, "field %s is declared any: give it a documented type", f.FullName)
				assert.NotEqual(t, "unknown", typ)
			}
		}
	}
	for path := range documentedTypes {
		assert.True(t, declaredAny[path], "documentedTypes names %s, which is not declared any", path)
	}
}

func TestFormatByteSize(t *testing.T) {
	for n, want := range map[int64]string{1 << 30: "1GiB", 3 << 20: "3MiB", 2048: "2KiB", 1536: "1536", 1000: "1000", 1: "1"} {
		assert.Equal(t, want, formatByteSize(n), "%d", n)
	}
}

// TestParseConfig_Request checks the fields evaluated at each attempt: an
// interpolated url keeps its text (which the default checkpoint key hashes,
// so a rotating secret in it never changes the key) and gives the event
// source the written-out part; oauth2 and resume.cursor are read; and the
// pairs lint refuses are refused again for `run --chilled`.
func TestParseConfig_Request(t *testing.T) {
	const tmpl = `https://a.example/v1/r/${! env("ID") }?stream=true&after=${! @sse_cursor.or("0") }`
	pc, err := ConfigSpec().ParseYAML(fmt.Sprintf(`
url: '%s'
headers: {X-Key: '${! env("KEY") }', X-Static: s}
oauth2: {enabled: true, client_key: k, client_secret: s, token_url: "https://auth.example/token", scopes: [a, b], endpoint_params: {audience: [x]}}
resume: {cursor: this.sequence_number}
`, tmpl), nil)
	require.NoError(t, err)
	c, err := ParseConfig(pc)
	require.NoError(t, err)
	assert.Equal(t, tmpl, c.URL)
	assert.NotNil(t, c.URLTemplate)
	assert.Equal(t, "https://a.example/v1/r/", c.URLBase)
	assert.Equal(t, DefaultCheckpointKey(tmpl), c.CheckpointKey, "the key hashes the url as written")
	assert.Len(t, c.Headers, 2)
	assert.Nil(t, c.BearerToken)
	require.NotNil(t, c.OAuth2)
	assert.Equal(t, OAuth2Config{ClientKey: "k", ClientSecret: "s", TokenURL: "https://auth.example/token", Scopes: []string{"a", "b"}, EndpointParams: map[string][]string{"audience": {"x"}}}, *c.OAuth2)
	assert.NotNil(t, c.ResumeCursor)

	static, err := ParseConfig(mustParse(t, "url: https://a.example/x?k=v"))
	require.NoError(t, err)
	assert.Nil(t, static.URLTemplate, "a static url is not evaluated")
	assert.Equal(t, "https://a.example/x?k=v", static.URLBase)
	assert.Nil(t, static.OAuth2)
	assert.Nil(t, static.ResumeCursor)

	for _, tt := range []struct{ name, yaml, want string }{
		{"interpolated host", `url: 'https://${! env("H") }/x'`, `field "url": the scheme and host must be written out`},
		{"interpolated port", `url: 'https://a:${! env("P") }/x'`, `field "url"`},
		{"oauth2 and bearer", "url: http://a/x\nbearer_token: t\noauth2: {enabled: true, token_url: http://a/t}", "oauth2 and bearer_token"},
		{"oauth2 and header", "url: http://a/x\nheaders: {AUTHORIZATION: t}\noauth2: {enabled: true, token_url: http://a/t}", "oauth2 and headers.Authorization"},
		{"oauth2 without token_url", "url: http://a/x\noauth2: {enabled: true}", `field "oauth2.token_url"`},
		{"bad interpolation", `url: 'http://a/x?${! env( }'`, `field "url"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig(mustParse(t, tt.yaml))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func mustParse(t *testing.T, yaml string) *service.ParsedConfig {
	t.Helper()
	pc, err := ConfigSpec().ParseYAML(yaml, nil)
	require.NoError(t, err)
	return pc
}
