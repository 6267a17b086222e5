package benthossse

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/redpanda-data/benthos/v4/public/service"
)

// This file holds the `streams` list of the input: many streams in one
// input, each entry naming one stream and the request settings it overrides,
// with everything else shared (see SharedFields).

// maxStreamName bounds a stream's name, which appears in metadata, log lines
// and metric labels.
const maxStreamName = 256

// Stream is one stream of an input that runs many: an entry of `streams`,
// or what input.Streams.Put is given. Zero fields take the input's own
// settings.
type Stream struct {
	// Name identifies the stream within its input: sse_stream, the stream's
	// checkpoint key (see StreamCheckpointKey), log lines and metric labels.
	// In YAML it defaults to DefaultStreamName(URL).
	Name string
	// URL is the stream's http or https URL.
	URL string
	// Method and Body replace the input's when set (Body when not nil).
	Method string
	Body   []byte
	// Headers are added to the input's headers, replacing those of the
	// same name. Their values are sent as written: a Go caller passes
	// literal values, which evaluate nothing. This is the safe home for
	// values from a source the operator does not control, such as a fleet's
	// stream records: an interpolation there could read this machine's
	// files and environment (file(), env()).
	Headers http.Header
	// InterpolatedHeaders are added like Headers, but evaluated before every
	// connection attempt as the input's own headers are: a rotated
	// credential is used from the next attempt on; an evaluation that fails,
	// comes out empty or holds a control character fails the attempt (and
	// is retried with the backoff); values are never logged, and are not
	// sent after a redirect to another origin. The headers of a `streams`
	// entry in YAML come here. A Go caller opts in by parsing each value
	// with service.NewInterpolatedString itself, only for values it trusts.
	// A name may not be in both maps.
	InterpolatedHeaders map[string]*service.InterpolatedString
	// LastEventID is where the stream starts when it has no checkpoint.
	LastEventID string
}

// Check validates s as ParseConfig validates an entry of `streams`: a name
// of 1 to 256 bytes with no control character, an http(s) URL with a host,
// an upper-case method, header names that are HTTP tokens and values and a
// last event ID that can be sent. Every error names the field.
func (s Stream) Check() error {
	switch {
	case s.Name == "":
		return FieldError(fieldStreamName, errors.New("must not be empty"))
	case len(s.Name) > maxStreamName:
		return FieldError(fieldStreamName, fmt.Errorf("is %d bytes, over the maximum of %d", len(s.Name), maxStreamName))
	case hasControlChars(s.Name) || strings.ContainsRune(s.Name, '\t'):
		return FieldError(fieldStreamName, fmt.Errorf("%q holds a control character", s.Name))
	}
	if err := checkURL(s.URL); err != nil {
		return err
	}
	if s.Method != "" && strings.TrimLeft(s.Method, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
		return FieldError(fieldMethod, fmt.Errorf("%q is not an HTTP method such as GET or POST", s.Method))
	}
	for _, k := range slices.Sorted(maps.Keys(s.Headers)) {
		if err := checkHeader(k, s.Headers[k]...); err != nil {
			return err
		}
	}
	for _, k := range slices.Sorted(maps.Keys(s.InterpolatedHeaders)) {
		v := s.InterpolatedHeaders[k]
		if v == nil {
			return FieldError(fieldHeaders+"."+k, errors.New("is nil"))
		}
		// A dynamic value is checked as it is evaluated, at each attempt.
		static, _ := v.Static()
		if err := checkHeader(k, static); err != nil {
			return err
		}
		for l := range s.Headers {
			if http.CanonicalHeaderKey(l) == http.CanonicalHeaderKey(k) {
				return FieldError(fieldHeaders+"."+k, errors.New("is set both in Headers and in InterpolatedHeaders"))
			}
		}
	}
	if err := checkSendableID(s.LastEventID); err != nil {
		return FieldError(fieldLastEventID, err)
	}
	return nil
}

// CheckStream checks s against the input's own settings, as Check checks
// it alone: a stream may not set an Authorization header of its own when a
// field of the input (Authorization) sets that header on every request,
// after the headers, which would send the input's credential in place of
// the stream's without a word.
func (c *Config) CheckStream(s Stream) error {
	if c.Authorization == "" {
		return nil
	}
	k, ok := authorizationKey(maps.Keys(s.Headers))
	if !ok {
		k, ok = authorizationKey(maps.Keys(s.InterpolatedHeaders))
	}
	if ok {
		return FieldError(fieldHeaders+"."+k, fmt.Errorf("the input's %s sets the Authorization header of every request, replacing the stream's own: keep one", c.Authorization))
	}
	return nil
}

// checkStreams is CheckStream for every entry of `streams`.
func (c *Config) checkStreams() error {
	for i, s := range c.Streams {
		if err := c.CheckStream(s); err != nil {
			return fmt.Errorf("%s.%d (%s): %w", fieldStreams, i, s.Name, err)
		}
	}
	return nil
}

// checkHeader checks a header of a stream: a name that is an HTTP token,
// and values that can be sent.
func checkHeader(name string, values ...string) error {
	if !isToken(name) {
		return FieldError(fieldHeaders+"."+name, errors.New("is not a valid HTTP header name"))
	}
	for _, v := range values {
		if hasControlChars(v) {
			return FieldError(fieldHeaders+"."+name, errors.New("the value holds a control character such as CR or LF, which cannot be sent"))
		}
	}
	return nil
}

// checkURL accepts an http or https URL with a host.
func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return FieldError(fieldURL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return FieldError(fieldURL, fmt.Errorf("%s must be an http:// or https:// URL with a host", u.Redacted()))
	}
	return nil
}

// DefaultStreamName is the name of an entry of `streams` that sets none:
// its URL without the scheme, user information, query and fragment, such as
// `stream.wikimedia.org/v2/stream/recentchange`. Readable, and free of the
// secrets a query or user information may hold; two entries that differ
// only there must be given names (lint says so).
func DefaultStreamName(rawURL string) string {
	return defaultNameRe.ReplaceAllString(rawURL, "")
}

// defaultNameRe matches what DefaultStreamName removes; streamsRule applies
// the same pattern in bloblang.
var defaultNameRe = regexp.MustCompile(defaultNamePattern)

const defaultNamePattern = `^[a-zA-Z][a-zA-Z0-9+.-]*://([^/?#@]*@)?|[?#].*$`

// plainNameRe matches the names StreamCheckpointKey uses as they are.
var plainNameRe = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// StreamCheckpointKey is the checkpoint key of the stream called name in an
// input whose checkpoint key is key: `<key>.<name>` when the name is 1 to 64
// letters, digits, `_` or `-`, and otherwise `<key>.~` followed by 16 hex
// digits of the SHA-256 of the name. The plain form keeps keys readable in
// the common case; the hashed form makes any name (a URL, a Kafka record
// key) a safe key for every cache: no `/` for the file cache to take as a
// directory, bounded length. Two names never share a key (a plain key has
// no `~`), so the streams of one input never resume from each other's
// checkpoint, and the key of a stream stays the same across restarts and
// across a change of its URL.
func StreamCheckpointKey(key, name string) string {
	if plainNameRe.MatchString(name) {
		return key + "." + name
	}
	sum := sha256.Sum256([]byte(name))
	return key + ".~" + hex.EncodeToString(sum[:8])
}

// streamsField declares `streams`.
func streamsField() *service.ConfigField {
	return service.NewObjectListField(fieldStreams,
		service.NewStringField(fieldStreamName).
			Description("The stream's name: the `sse_stream` metadata of its messages, its metric label and log lines, and part of its checkpoint key. Unique within the input. Empty, it is the URL without its scheme, user information and query.").
			Example("recentchange").
			Default("").
			LintRule(fmt.Sprintf(`root = if this.length() > %[1]d {
  [ "streams: name is %%d bytes, over the maximum of %[1]d".format(this.length()) ]
} else if this.re_match("[\\x00-\\x1f\\x7f]") {
  [ "streams: name %%q holds a control character".format(this) ]
}`, maxStreamName)),
		service.NewURLField(fieldURL).
			Description("The stream's `http` or `https` URL.").
			Example("https://stream.wikimedia.org/v2/stream/recentchange").
			LintRule(urlRule(fieldStreams+": url")),
		service.NewStringField(fieldMethod).
			Description("Replaces the input's `method` for this stream.").
			Example("POST").
			Default("").
			LintRule(`root = if this != "" && !this.re_match("^[A-Z]+$") { [ "streams: method %v is not an HTTP method such as GET or POST".format(this) ] }`),
		service.NewStringField(fieldBody).
			Description("Replaces the input's `body` for this stream.").
			Example(`{"topic":"prices"}`).
			Optional(),
		service.NewInterpolatedStringMapField(fieldHeaders).
			Description("Headers added to the input's `headers` for this stream, replacing those of the same name. Interpolated, evaluated at every attempt, and secrets, as the input's are: a per-stream credential rotates the same way (see `headers`). An `Authorization` header of a stream's own is refused (by lint, at start, and by a Go `Put`) when the input sets that header for every request (`bearer_token`, `oauth2`, `basic_auth`, `jwt` or `oauth`), which would replace it: to give some streams a credential of their own, set the default in the input's `headers.Authorization` instead, which an entry's replaces.").
			Example(map[string]any{"X-Tenant": "acme"}).
			Example(map[string]any{"X-Api-Key": `${! file(path: "/var/run/secrets/acme-key", no_cache: true).string().trim() }`}).
			Default(map[string]any{}).Secret().
			LintRule(headersRuleFor(fieldStreams+": "+fieldHeaders)),
		service.NewStringField(fieldLastEventID).
			Description("Where this stream starts when it has no checkpoint, sent as `Last-Event-ID`.").
			Example("1700000000000-0").
			Default("").
			LintRule(lastEventIDRuleFor(fieldStreams+": "+fieldLastEventID)),
	).
		Description("Many streams in one input, instead of `url`: each entry names one stream and may override `method`, `body`, `headers` and `last_event_id`; every other field is shared. Each stream has its own connection, reconnection backoff, `retry:`, dedupe state, readiness and resume point, checkpointed under its own key (`checkpoint.key`, a dot and the name; see the README). Every message carries `sse_stream`, the stream's name. A batch holds the events that have already arrived, from any streams, in arrival order, and each stream's events stay in order. A stream that ends (204, `stream_end: stop`, `fail_on`) ends alone; the input ends once every stream has ended. Exclusive with `url` and `from`.").
		Example([]any{
			map[string]any{"name": "recentchange", "url": "https://stream.wikimedia.org/v2/stream/recentchange"},
			map[string]any{"name": "page-create", "url": "https://stream.wikimedia.org/v2/stream/page-create", "last_event_id": ""},
		}).
		Optional().
		LintRule(streamsRule)
}

// streamsRule refuses two entries with the same name, given or derived
// from the URL; lint reports it on the list's first line. It sorts the
// names and compares neighbours: comparing every pair took minutes for
// 10,000 streams. Benthos also
// runs a list's rule on each entry, which this one ignores.
var streamsRule = `root = if this.type() == "array" { this.apply("duplicate_names") }

map duplicate_names {
  let names = this.map_each(s -> if s.name.or("") != "" { s.name } else { s.url.or("").re_replace_all("` + strings.ReplaceAll(defaultNamePattern, `\`, `\\`) + `", "") })
  let sorted = $names.sort()
  root = $sorted.enumerated().filter(e -> e.index > 0 && e.value == $sorted.index(e.index - 1)).map_each(e -> e.value).unique().map_each(n -> "streams: two streams are named %q; give each a unique name".format(n))
}`

// parseStreams reads `streams`, validating every entry with Stream.Check
// and refusing duplicate names.
func parseStreams(conf *service.ParsedConfig) ([]Stream, error) {
	if !conf.Contains(fieldStreams) {
		return nil, nil
	}
	entries, err := conf.FieldObjectList(fieldStreams)
	if err != nil {
		return nil, FieldError(fieldStreams, err)
	}
	seen := map[string]bool{}
	out := make([]Stream, 0, len(entries))
	for i, e := range entries {
		var s Stream
		path := fmt.Sprintf("%s.%d", fieldStreams, i)
		if s.URL, err = e.FieldString(fieldURL); err != nil {
			return nil, FieldError(path+"."+fieldURL, err)
		}
		if s.Name, err = e.FieldString(fieldStreamName); err != nil {
			return nil, FieldError(path+"."+fieldStreamName, err)
		}
		if s.Name == "" {
			s.Name = DefaultStreamName(s.URL)
		}
		if s.Method, err = e.FieldString(fieldMethod); err != nil {
			return nil, FieldError(path+"."+fieldMethod, err)
		}
		if e.Contains(fieldBody) {
			body, err := e.FieldString(fieldBody)
			if err != nil {
				return nil, FieldError(path+"."+fieldBody, err)
			}
			s.Body = []byte(body)
		}
		headers, err := e.FieldInterpolatedStringMap(fieldHeaders)
		if err != nil {
			return nil, FieldError(path+"."+fieldHeaders, err)
		}
		raw, err := e.FieldStringMap(fieldHeaders)
		if err != nil {
			return nil, FieldError(path+"."+fieldHeaders, err)
		}
		for _, k := range slices.Sorted(maps.Keys(headers)) {
			// The value as written: a dynamic one is checked again as it
			// is evaluated.
			if err := checkHeader(k, raw[k]); err != nil {
				return nil, fmt.Errorf("%s (%s): %w", path, s.Name, err)
			}
			if s.InterpolatedHeaders == nil {
				s.InterpolatedHeaders = map[string]*service.InterpolatedString{}
			}
			s.InterpolatedHeaders[http.CanonicalHeaderKey(k)] = headers[k]
		}
		if s.LastEventID, err = e.FieldString(fieldLastEventID); err != nil {
			return nil, FieldError(path+"."+fieldLastEventID, err)
		}
		if err := s.Check(); err != nil {
			return nil, fmt.Errorf("%s (%s): %w", path, s.Name, err)
		}
		if seen[s.Name] {
			return nil, FieldError(path+"."+fieldStreamName, fmt.Errorf("two streams are named %q; give each a unique name", s.Name))
		}
		seen[s.Name] = true
		out = append(out, s)
	}
	return out, nil
}
