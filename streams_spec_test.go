package benthossse

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStreamCheckpointKey(t *testing.T) {
	hashed := func(name string) string {
		sum := sha256.Sum256([]byte(name))
		return "k.~" + hex.EncodeToString(sum[:8])
	}
	for _, tt := range []struct{ name, want string }{
		{"prices", "k.prices"},
		{"a_b-9", "k.a_b-9"},
		{strings.Repeat("a", 64), "k." + strings.Repeat("a", 64)},
		{strings.Repeat("a", 65), hashed(strings.Repeat("a", 65))},
		{"stream.example.com/v2/x", hashed("stream.example.com/v2/x")},
		{"../../etc", hashed("../../etc")},
		{"a.b", hashed("a.b")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := StreamCheckpointKey("k", tt.name)
			assert.Equal(t, tt.want, got)
			assert.NotContains(t, got, "/")
		})
	}
}

func TestDefaultStreamName(t *testing.T) {
	for _, tt := range []struct{ url, want string }{
		{"https://stream.wikimedia.org/v2/stream/recentchange", "stream.wikimedia.org/v2/stream/recentchange"},
		{"http://user:secret@h:8080/s/1?api_key=x#f", "h:8080/s/1"},
		{"http://h", "h"},
	} {
		assert.Equal(t, tt.want, DefaultStreamName(tt.url), tt.url)
	}
}

// TestStreams_Lint checks the streams list's lint rules, each on its line.
func TestStreams_Lint(t *testing.T) {
	linter := testEnv(t, ConfigSpec()).NewComponentConfigLinter()
	tests := []struct {
		name, yaml string
		line       int
		want       string
	}{
		{"ok", "sse:\n  streams:\n    - url: http://a/1\n    - url: http://a/2\n", 0, ""},
		{"duplicate names", "sse:\n  streams:\n    - {name: x, url: http://a/1}\n    - {name: x, url: http://a/2}\n", 3, `streams: two streams are named "x"; give each a unique name`},
		{"duplicate derived names", "sse:\n  streams:\n    - url: http://a/1\n    - url: \"http://u:p@a/1?k=v\"\n", 3, `streams: two streams are named "a/1"`},
		{"mixed with url", "sse:\n  url: http://a/\n  streams:\n    - url: http://a/1\n", 2, "streams cannot be set with url or from"},
		{"mixed with from", "sse:\n  from: x\n  streams:\n    - url: http://a/1\n", 2, "streams cannot be set with url or from"},
		{"empty list", "sse:\n  streams: []\n", 2, "exactly one of url and from must be set: neither is"},
		{"bad url", "sse:\n  streams:\n    - url: http://a/1\n    - url: ftp://a/2\n", 4, "streams: url: ftp://a/2 must start with http:// or https://"},
		{"url without host", "sse:\n  streams:\n    - url: http:///x\n", 3, "has no host"},
		{"bad header value", "sse:\n  streams:\n    - url: http://a/1\n      headers:\n        X: \"a\\nb\"\n", 5, "streams: headers: the value on this line holds a control character"},
		{"bad header name", "sse:\n  streams:\n    - url: http://a/1\n      headers:\n        \"X Y\": a\n", 5, `streams: headers: "X Y" is not a valid HTTP header name`},
		{"bad last_event_id", "sse:\n  streams:\n    - url: http://a/1\n      last_event_id: \"a\\x01\"\n", 4, `streams: last_event_id: "a\x01" holds a control character, which cannot be sent in a Last-Event-ID header`},
		{"long last_event_id", "sse:\n  streams:\n    - url: http://a/1\n      last_event_id: " + strings.Repeat("a", 4097) + "\n", 4, "streams: last_event_id: is 4097 bytes"},
		{"bad name", "sse:\n  streams:\n    - url: http://a/1\n      name: \"a\\x01\"\n", 4, "streams: name"},
		{"malformed header interpolation", "sse:\n  streams:\n    - url: http://a/1\n    - url: http://a/2\n      headers:\n        X-Key: '${! file(\"k\" }'\n", 6, "expected comma or closing bracket"},
		{"bad method", "sse:\n  streams:\n    - url: http://a/1\n      method: get\n", 4, "streams: method get is not an HTTP method"},
		{"own Authorization and bearer_token", "sse:\n  bearer_token: t\n  streams:\n    - url: http://a/1\n    - name: b\n      url: http://a/2\n      headers:\n        authorization: Basic x\n", 2, "streams.1 (b): headers.Authorization: the input's bearer_token sets the Authorization header of every request, replacing the stream's own: keep one"},
		{"own Authorization and oauth2", "sse:\n  oauth2: {enabled: true, token_url: http://a/t}\n  streams:\n    - url: http://a/1\n      headers: {Authorization: Basic x}\n", 2, "streams.0: headers.Authorization: the input's oauth2 sets"},
		{"own Authorization and basic_auth", "sse:\n  basic_auth: {enabled: true, username: u}\n  streams:\n    - url: http://a/1\n      headers: {Authorization: Basic x}\n", 2, "streams.0: headers.Authorization: the input's basic_auth sets"},
		{"own Authorization alone", "sse:\n  streams:\n    - url: http://a/1\n      headers: {Authorization: Basic x}\n", 0, ""},
		{"bearer_token and other headers", "sse:\n  bearer_token: t\n  streams:\n    - url: http://a/1\n      headers: {X-Key: x}\n", 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lints, err := linter.LintInputYAML([]byte(tt.yaml))
			require.NoError(t, err)
			if tt.want == "" {
				assert.Empty(t, lints)
				return
			}
			var found bool
			for _, l := range lints {
				if strings.Contains(l.What, tt.want) {
					found = true
					assert.Equal(t, tt.line, l.Line, l.What)
				}
			}
			assert.True(t, found, "want %q in %v", tt.want, lintWhats(lints))
		})
	}
}

// TestStreams_ParseConfig checks what ParseConfig makes of the list, and
// the errors it returns for what lint would refuse (run --chilled).
func TestStreams_ParseConfig(t *testing.T) {
	c, err := parseYAML(t, `
streams:
  - url: http://a/1?key=x
  - name: two
    url: http://a/2
    method: POST
    body: "{}"
    headers: {X-Tenant: acme, x-key: '${! env("KEY") }'}
    last_event_id: "7"
headers: {X-Shared: s}
`)
	require.NoError(t, err)
	require.Len(t, c.Streams, 2)
	assert.Equal(t, Stream{Name: "a/1", URL: "http://a/1?key=x"}, c.Streams[0])
	two := c.Streams[1]
	require.Len(t, two.InterpolatedHeaders, 2)
	tenant, static := two.InterpolatedHeaders["X-Tenant"].Static()
	assert.True(t, static)
	assert.Equal(t, "acme", tenant)
	_, static = two.InterpolatedHeaders["X-Key"].Static()
	assert.False(t, static, "a stream's header is interpolated, as the input's are")
	two.InterpolatedHeaders = nil
	assert.Equal(t, Stream{Name: "two", URL: "http://a/2", Method: "POST", Body: []byte("{}"), LastEventID: "7"}, two)
	assert.Equal(t, "sse_streams", c.CheckpointKey, "the default key of a streams input")

	for _, tt := range []struct{ yaml, want string }{
		{"streams: [{url: http://a/1}, {url: http://a/1}]", `field "streams.1.name": two streams are named "a/1"`},
		{"streams: [{url: ftp://a/1}]", `streams.0 (a/1): field "url"`},
		{"streams: [{url: http://a/1, last_event_id: \"\\x01\"}]", `field "last_event_id"`},
		{"url: http://a/\nstreams: [{url: http://a/1}]", "streams cannot be set with url or from"},
		{"streams: [{url: http://a/1, headers: {X-K: '${! env(\"K\" }'}}]", `field "streams.0.headers"`},
		{"streams: [{url: http://a/1, headers: {X-K: \"a\\nb\"}}]", `streams.0 (a/1): field "headers.X-K": the value holds a control character`},
		{"bearer_token: t\nstreams: [{url: http://a/1}, {url: http://a/2, headers: {authorization: x}}]", `streams.1 (a/2): field "headers.Authorization": the input's bearer_token sets the Authorization header of every request, replacing the stream's own: keep one`},
		{"jwt: {enabled: true, private_key_file: k}\nstreams: [{url: http://a/1, headers: {Authorization: x}}]", `streams.0 (a/1): field "headers.Authorization": the input's jwt sets`},
	} {
		_, err := parseYAML(t, tt.yaml)
		require.Error(t, err, tt.yaml)
		assert.Contains(t, err.Error(), tt.want)
	}
}

// parseYAML parses yaml with the input's spec and ParseConfig.
func parseYAML(t *testing.T, yaml string) (*Config, error) {
	t.Helper()
	pc, err := ConfigSpec().ParseYAML(yaml, nil)
	if err != nil {
		return nil, err
	}
	return ParseConfig(pc)
}
