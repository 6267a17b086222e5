// Package benthossse holds the configuration of the Benthos `sse` input: its
// [service.ConfigSpec], the field names, and the typed [Config] that the
// parsed YAML becomes. The input itself lives in package input, which
// registers it; import that package to get the input and scanner:
//
//	import _ "github.com/benthos-sse/benthos-sse/input"
package benthossse

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/benthos-sse/benthos-sse/sse"
)

// Field names of the `sse` input, used by the spec and the parsing code.
const (
	FieldURL            = "url"
	FieldFrom           = "from"
	FieldMethod         = "method"
	FieldBody           = "body"
	FieldHeaders        = "headers"
	FieldBearerToken    = "bearer_token"
	FieldLastEventID    = "last_event_id"
	FieldEvents         = "events"
	FieldExcludeEvents  = "exclude_events"
	FieldExtractHeaders = "extract_headers"
	FieldTLS            = "tls"
	FieldProxyURL       = "proxy_url"
	FieldTimeout        = "timeout"
	FieldIdleTimeout    = "idle_timeout"
	FieldReconnect      = "reconnect"
	FieldMaxEventSize   = "max_event_size"
	FieldMaxBatchSize   = "max_batch_size"
	FieldCheckpoint     = "checkpoint"
	FieldCheckpointCach = "cache"
	FieldCheckpointKey  = "key"
	FieldStreamEnd      = "stream_end"
	FieldEndOnData      = "end_on_data"
	FieldDedupe         = "dedupe"
	FieldMetadata       = "metadata"
	FieldMaxInFlight    = "max_in_flight"
)

// Metadata keys set on every message.
const (
	MetaEvent       = "sse_event"
	MetaLastEventID = "sse_id"
	MetaRetry       = "sse_retry"
	MetaAttempt     = "sse_attempt"
	MetaStatus      = "sse_status"
	MetaURL         = "sse_url"
)

// Defaults shared by the spec and the code.
const (
	DefaultTimeout       = 10 * time.Second
	DefaultMaxBatchSize  = 64
	DefaultCheckpointKey = "sse_last_event_id"
	DefaultDedupeWindow  = 1000
	DefaultMaxInFlight   = 1
)

// durationPattern matches what time.ParseDuration accepts, without a sign.
// Lint rules cannot use parse_duration: that method belongs to Benthos'
// pure components, which may register after this package.
const durationPattern = `^(0|([0-9]*(\\.[0-9]*)?(ns|us|µs|μs|ms|s|m|h))+)$`

// durationExpr is a bloblang expression that is an error message when v is
// not a non-negative duration, and null otherwise.
func durationExpr(name, v string) string {
	return fmt.Sprintf(`if %[2]s.type() != "string" || !%[2]s.re_match("%[3]s") {
  "%[1]s: %%v is not a valid non-negative duration such as 10s".format(%[2]s)
} else { null }`, name, v, durationPattern)
}

// durationRule rejects a value that is not a duration or is negative,
// naming the field. Lint does not parse durations by itself.
func durationRule(name string) string {
	return "root = [" + durationExpr(name, "this") + "].filter(x -> x != null)"
}

// positiveIntRule rejects anything but a positive integer. Lint does not
// type-check int fields by itself, so these fields are declared as any and
// checked here. (Numbers reach lint rules as Go ints, which compare only
// after .number().)
func positiveIntRule(name string) string {
	return fmt.Sprintf(`root = if this.type() != "number" {
  [ "%[1]s: %%v is not an integer".format(this) ]
} else if this.number() <= 0 || this.number().round() != this.number() {
  [ "%[1]s: %%v must be a positive integer".format(this) ]
}`, name)
}

const headersRule = `root = if this.type() == "object" && this.key_values().any(kv -> kv.key.contains("\n") || kv.key.contains("\r") || kv.value.string().contains("\n") || kv.value.string().contains("\r")) {
  [ "headers: names and values must not contain CR or LF" ]
}`

// ConfigSpec returns the specification of the `sse` input.
func ConfigSpec() *service.ConfigSpec {
	return service.NewConfigSpec().
		Beta().
		Categories("Network").
		Summary("Reads a Server-Sent Events (EventSource) stream, one message per event, resuming from the last acknowledged event ID.").
		Description(inputDescription).
		Fields(
			service.NewURLField(FieldURL).
				Description("The URL of the event stream. Only `http` and `https` URLs are accepted. Exactly one of `url` and `from` must be set.").
				Example("https://stream.wikimedia.org/v2/stream/recentchange").
				Optional().
				LintRule(`root = if !this.has_prefix("http://") && !this.has_prefix("https://") {
  [ "url: %v must start with http:// or https://".format(this) ]
} else if !this.re_match("^https?://[^/?#]+") {
  [ "url: %v has no host".format(this) ]
}`),
			service.NewStringField(FieldFrom).
				Description("Read an existing event stream instead of connecting: a file path, or `-` for stdin (the `EventSource.from` mode). The input ends at the end of the stream. Exactly one of `url` and `from` must be set.").
				Examples("-", "./resources/sample.sse").
				Optional(),
			service.NewStringField(FieldMethod).
				Description("The HTTP method of the request. Streaming APIs that take a request document (LLM APIs) use `POST` with `body`.").
				Default(http.MethodGet).Examples("GET", "POST").
				LintRule(`root = if !this.re_match("^[A-Z]+$") { [ "method: %v is not an HTTP method such as GET or POST".format(this) ] }`),
			service.NewStringField(FieldBody).
				Description("A request body, sent on the first connection and again on every reconnection.").
				Example(`{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"Hello"}]}`).
				Optional().Advanced(),
			service.NewStringMapField(FieldHeaders).
				Description("Extra request headers. `Accept`, `Cache-Control` and `Last-Event-ID` are set by the input. Values are treated as secrets: `echo` and logs show them scrubbed unless they are environment variable references, and none of these headers is sent after a redirect to another origin (scheme, host or port). Names and values must not contain CR or LF.").
				Example(map[string]any{"X-Api-Key": "${API_KEY}"}).
				Default(map[string]any{}).Secret().
				LintRule(headersRule),
			service.NewStringField(FieldBearerToken).
				Description("A token sent as `Authorization: Bearer <token>` on the first request of every connection. It is not sent after a redirect to another origin (scheme, host or port).").
				Example("${OPENAI_API_KEY}").
				Optional().Secret().
				LintRule(`root = if this.contains("\n") || this.contains("\r") { [ "bearer_token must not contain CR or LF" ] }`),
			service.NewStringField(FieldLastEventID).
				Description("The last event ID to resume from on the first connection, sent as `Last-Event-ID`. A checkpoint read from `checkpoint.cache` wins over it.").
				Example("1700000000000-0").
				Default(""),
			service.NewStringListField(FieldEvents).
				Description("Keep only events of these types (the `event:` field; `message` when it is absent). Empty keeps every type. Dropped events still advance the resume point.").
				Example([]string{"message"}).Example([]string{"update", "delete"}).
				Default([]string{}),
			service.NewStringListField(FieldExcludeEvents).
				Description("Drop events of these types, after `events` is applied. Dropped events still advance the resume point.").
				Example([]string{"ping", "heartbeat"}).
				Default([]string{}),
			service.NewMetadataFilterField(FieldExtractHeaders).
				Description("Response headers to add to every message as metadata (keys lower-cased, first value only), like `http_client`'s `extract_headers`.").
				Example(map[string]any{"include_prefixes": []string{"x-"}}).
				Advanced(),
			service.NewTLSToggledField(FieldTLS),
		).
		Fields(service.NewHTTPRequestAuthSignerFields()...).
		Fields(
			service.NewStringField(FieldProxyURL).
				Description("An HTTP proxy URL for the requests. Empty uses the `HTTP_PROXY` / `HTTPS_PROXY` / `NO_PROXY` environment variables.").
				Example("http://proxy.internal:3128").
				Optional().Advanced().Secret().
				LintRule(`root = if this != "" && !this.has_prefix("http://") && !this.has_prefix("https://") && !this.has_prefix("socks5://") { [ "proxy_url: %v must start with http://, https:// or socks5://".format(this) ] }`),
			service.NewDurationField(FieldTimeout).
				Description("How long to wait to connect and for the response headers. It does not limit how long a stream stays open; see `idle_timeout` for that.").
				Default(DefaultTimeout.String()).Examples("5s", "30s").
				LintRule(durationRule(FieldTimeout)),
			service.NewDurationField(FieldIdleTimeout).
				Description("Reconnect when no bytes (comments included) arrive for this long. Set it a little above the server's heartbeat interval to detect a silently dead connection. `0s` disables it.").
				Default("0s").Examples("0s", "45s").
				LintRule(durationRule(FieldIdleTimeout)),
			service.NewBackOffField(FieldReconnect, true, reconnectDefaults()).
				Description("How long to wait before reconnecting. `initial_interval` is the wait used until the server sets another with a `retry:` field; consecutive failed attempts then multiply it by 1.5, up to `max_interval`, shortened by up to 50% at random (jitter). `max_interval` also caps the server's `retry:` and `Retry-After`. After a successful connection the wait starts again from the beginning. Every wait is at least 100ms, even after `retry: 0`, so that a server closing every connection at once cannot cause a hot loop. With `max_elapsed_time` above zero, the input gives up (and ends) after failing to connect for that long.").
				Example(map[string]any{"initial_interval": "1s", "max_interval": "30s", "max_elapsed_time": "0s"}).
				LintRule(reconnectRule),
			service.NewAnyField(FieldMaxEventSize).
				Description("The largest event accepted, in bytes (data, type and ID together). A larger event is skipped to its end, logged and counted in the `sse_events_oversized` metric; the stream continues. It also bounds the length of any line, so a hostile server cannot exhaust memory.").
				Default(sse.DefaultMaxEventSize).Examples(1048576, 16777216).
				LintRule(positiveIntRule(FieldMaxEventSize)),
			service.NewAnyField(FieldMaxBatchSize).
				Description("The most events handed to the pipeline as one batch. The input never waits to fill a batch: a batch holds only events that already arrived, so latency does not grow. `1` sends every event alone.").
				Default(DefaultMaxBatchSize).Examples(1, 256).
				Advanced().
				LintRule(positiveIntRule(FieldMaxBatchSize)),
			service.NewObjectField(FieldCheckpoint,
				service.NewStringField(FieldCheckpointCach).
					Description("The name of a cache resource that stores the resume point. Empty disables checkpointing.").
					Example("sse_checkpoint").
					Default(""),
				service.NewStringField(FieldCheckpointKey).
					Description("The cache key to store the resume point under. Two keys are used, `<key>.a` and `<key>.b`, written in turn, so a crash during a write never loses the previous checkpoint. Give each input of a shared cache its own key.").
					Example("wikimedia_recentchange").
					Default(DefaultCheckpointKey),
			).
				Description("Persist the resume point: the ID of the newest event such that it and every earlier event have been acknowledged. It is read when the input starts (it wins over `last_event_id`), and written as it advances and when the input closes.").
				Example(map[string]any{"cache": "sse_checkpoint", "key": "my_stream"}).
				LintRule(`root = if this.cache.or("") != "" && this.key.or("x") == "" { [ "checkpoint.key must not be empty when checkpoint.cache is set" ] }`),
			service.NewStringEnumField(FieldStreamEnd, "reconnect", "stop").
				Description("What to do when the server ends the response normally: `reconnect`, as EventSource does, or `stop`, which ends the input cleanly. `stop` suits one-shot streams such as LLM completions.").
				Default("reconnect").Examples("reconnect", "stop"),
			service.NewStringField(FieldEndOnData).
				Description("End the input cleanly when an event's data equals this sentinel, without emitting that event. OpenAI-compatible APIs send `[DONE]`. Empty disables it.").
				Default("").Examples("[DONE]"),
			service.NewObjectField(FieldDedupe,
				service.NewStringEnumField("mode", "none", "monotonic", "window").
					Description("`none` keeps every event. `monotonic` treats IDs as increasing integers and drops an event whose ID is not above the highest delivered one (events with a non-integer ID are kept). `window` drops an event whose ID is among the last `window` IDs delivered.").
					Default("none").Examples("none", "monotonic", "window"),
				service.NewAnyField("window").
					Description("How many recent IDs `window` mode remembers.").
					Default(DefaultDedupeWindow).Examples(1000, 100000).
					LintRule(positiveIntRule(FieldDedupe+".window")),
			).
				Description("Drop events a server replays after a reconnection with `Last-Event-ID`. Dropped events are counted in `sse_events_deduplicated` and still advance the resume point. Off by default: it trades memory (`window`) or an assumption about the IDs (`monotonic`) for exactly-once delivery of replays.").
				Example(map[string]any{"mode": "monotonic"}).
				Advanced(),
			service.NewObjectField(FieldMetadata,
				service.NewBoolField("retry").
					Description("Add `sse_retry`: the reconnection time in milliseconds when the event carried a `retry:` field.").
					Default(false).Example(true),
				service.NewBoolField("connection").
					Description("Add `sse_attempt` (the connection's number, from 1), `sse_status` (the HTTP status) and `sse_url` (the URL after redirects).").
					Default(false).Example(true),
			).
				Description("Optional metadata beyond `sse_event` and `sse_id`.").
				Example(map[string]any{"retry": true, "connection": true}).
				Advanced(),
			service.NewAnyField(FieldMaxInFlight).
				Description("The most batches handed out and not yet acknowledged; `0` means no limit. The default, `1`, delivers events in stream order whatever `pipeline.threads` is: Benthos processes batches on several threads at once (by default one per CPU) and acknowledges them concurrently, so with more than one batch in flight a later batch can overtake an earlier one, and a batch replayed after a rejection (`auto_replay_nacks`) can be delivered after batches read later. Raise it, or set `0`, to trade order for throughput when events are independent of each other.").
				Default(DefaultMaxInFlight).Examples(1, 0, 8).
				Advanced().
				LintRule(`root = if this.type() != "number" {
  [ "max_in_flight: %v is not an integer".format(this) ]
} else if this.number() < 0 || this.number().round() != this.number() {
  [ "max_in_flight: %v must be zero or a positive integer".format(this) ]
}`),
			service.NewAutoRetryNacksToggleField(),
		).
		LintRule(`root = if this.url.or("") == "" && this.from.or("") == "" {
  [ "exactly one of url and from must be set: neither is" ]
} else if this.url.or("") != "" && this.from.or("") != "" {
  [ "exactly one of url and from must be set: both are" ]
}`).
		Example("Live stream",
			"Reads Wikimedia's public recent-changes feed, resuming from a checkpoint after a restart.",
			`
input:
  sse:
    url: https://stream.wikimedia.org/v2/stream/recentchange
    idle_timeout: 60s
    checkpoint:
      cache: checkpoints
      key: wikimedia

cache_resources:
  - label: checkpoints
    file:
      directory: ./checkpoints
`).
		Example("From a file",
			"Parses a recorded event stream and ends at its end.",
			`
input:
  sse:
    from: ./resources/sample.sse
`)
}

// reconnectRule checks the durations inside the reused backoff field, which
// has no lint rules of its own.
var reconnectRule = func() string {
	var parts []string
	for _, child := range []string{"initial_interval", "max_interval", "max_elapsed_time"} {
		parts = append(parts, durationExpr("reconnect."+child, `this.`+child+`.or("0s")`))
	}
	return "root = [\n  " + strings.Join(parts, ",\n  ") + "\n].filter(x -> x != null)"
}()

func reconnectDefaults() *backoff.ExponentialBackOff {
	return &backoff.ExponentialBackOff{
		InitialInterval: sse.DefaultReconnectionTime,
		MaxInterval:     time.Minute,
		MaxElapsedTime:  0,
	}
}

const inputDescription = `
Connects to an event stream (or reads one from a file or stdin with ` + "`from`" + `) and turns every event into one
message, following the WHATWG EventSource processing model exactly: BOM, CR/LF/CRLF line endings split across reads,
comments, multi-line data, ` + "`retry`" + `, ` + "`Last-Event-ID`" + ` and reconnection.

### Metadata

- ` + "`sse_event`" + `: the event type (` + "`message`" + ` when the event has no ` + "`event:`" + ` field).
- ` + "`sse_id`" + `: the last event ID at dispatch (empty when the stream has sent none).
- Response headers selected by ` + "`extract_headers`" + `, and the optional keys of ` + "`metadata`" + `.

### Acknowledgements and resuming

The resume point is the ID of the newest event such that it and every earlier event have been acknowledged by the
output: a contiguous watermark, never just the newest acknowledgement. With ` + "`checkpoint.cache`" + ` set it is stored
as it advances and when the input closes, and read back when the input starts, so a restarted pipeline resumes with
` + "`Last-Event-ID`" + ` = the last fully acknowledged event. Delivery is at least once: after a crash, the events that
were in flight are delivered again. Within one process a reconnection resumes from the newest received event, so it
causes no duplicates. With ` + "`auto_replay_nacks: true`" + ` (the default) a rejected message is retried until it is
delivered, and the resume point waits for it; with ` + "`false`" + ` a rejected message is dropped and counts as settled.

### Status policy

- 200 with ` + "`Content-Type: text/event-stream`" + `: open.
- 204 No Content: the server asks its clients to stop; the input ends and the pipeline drains and exits.
- Any other status, a wrong content type, or a network error: logged with the status and URL, counted, and retried after
  the ` + "`reconnect`" + ` backoff, waiting at least the ` + "`Retry-After`" + ` a 429 or 503 asks for.
- The end of a response body: reconnect (or end, with ` + "`stream_end: stop`" + `).

### Metrics

` + "`sse_events_received`, `sse_bytes_received`, `sse_events_oversized`, `sse_events_filtered`, `sse_events_deduplicated`, `sse_reconnects` (label `cause`: `network`, `eof`, `idle_timeout`, `status`), `sse_ready_state` (0 connecting, 1 open, 2 closed), `sse_backoff_seconds` (the wait before the next connection attempt), `sse_last_byte_age_seconds` (seconds since the last byte, heartbeats included, updated every second), `sse_checkpoint_lag` (events handed out but not yet acknowledged) and `sse_checkpoint_errors`."

// Config is the parsed configuration of one `sse` input.
type Config struct {
	URL            string
	From           string
	Method         string
	Body           []byte
	Headers        http.Header
	BearerToken    string
	LastEventID    string
	Events         []string
	ExcludeEvents  []string
	ExtractHeaders *service.MetadataFilter
	// TLS is nil when TLS customisation is disabled.
	TLS *tls.Config
	// Sign applies the oauth, basic_auth and jwt settings to a request.
	Sign     func(fs.FS, *http.Request) error
	ProxyURL *url.URL
	Timeout  time.Duration

	IdleTimeout         time.Duration
	ReconnectInitial    time.Duration
	ReconnectMax        time.Duration
	ReconnectMaxElapsed time.Duration
	BackoffFactor       float64
	Jitter              float64

	MaxEventSize int
	MaxBatchSize int

	CheckpointCache string
	CheckpointKey   string

	StopAtStreamEnd bool
	EndOnData       string
	DedupeMode      string
	DedupeWindow    int
	MetaRetry       bool
	MetaConnection  bool
	MaxInFlight     int
}

// ParseConfig reads a parsed `sse` input configuration. Every error names
// the field it is about.
func ParseConfig(conf *service.ParsedConfig) (*Config, error) {
	c := &Config{}
	var err error

	if conf.Contains(FieldURL) {
		if c.URL, err = conf.FieldString(FieldURL); err != nil {
			return nil, fieldErr(FieldURL, err)
		}
	}
	if conf.Contains(FieldFrom) {
		if c.From, err = conf.FieldString(FieldFrom); err != nil {
			return nil, fieldErr(FieldFrom, err)
		}
	}
	switch {
	case c.URL == "" && c.From == "":
		return nil, errors.New("exactly one of url and from must be set: neither is")
	case c.URL != "" && c.From != "":
		return nil, errors.New("exactly one of url and from must be set: both are")
	case c.URL != "":
		u, err := url.Parse(c.URL)
		if err != nil {
			return nil, fieldErr(FieldURL, err)
		}
		if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
			return nil, fieldErr(FieldURL, fmt.Errorf("%s must be an http:// or https:// URL with a host", u.Redacted()))
		}
	}
	if c.Method, err = conf.FieldString(FieldMethod); err != nil {
		return nil, fieldErr(FieldMethod, err)
	}
	if c.Method == "" || strings.TrimLeft(c.Method, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
		return nil, fieldErr(FieldMethod, fmt.Errorf("%q is not an HTTP method such as GET or POST", c.Method))
	}
	if conf.Contains(FieldBody) {
		body, err := conf.FieldString(FieldBody)
		if err != nil {
			return nil, fieldErr(FieldBody, err)
		}
		c.Body = []byte(body)
	}
	headers, err := conf.FieldStringMap(FieldHeaders)
	if err != nil {
		return nil, fieldErr(FieldHeaders, err)
	}
	c.Headers = http.Header{}
	for k, v := range headers {
		if strings.ContainsAny(k, "\r\n") || strings.ContainsAny(v, "\r\n") {
			return nil, fieldErr(FieldHeaders, fmt.Errorf("header %q: names and values must not contain CR or LF", k))
		}
		c.Headers.Set(k, v)
	}
	if conf.Contains(FieldBearerToken) {
		if c.BearerToken, err = conf.FieldString(FieldBearerToken); err != nil {
			return nil, fieldErr(FieldBearerToken, err)
		}
		if strings.ContainsAny(c.BearerToken, "\r\n") {
			return nil, fieldErr(FieldBearerToken, errors.New("must not contain CR or LF"))
		}
	}
	if c.LastEventID, err = conf.FieldString(FieldLastEventID); err != nil {
		return nil, fieldErr(FieldLastEventID, err)
	}
	if c.Events, err = conf.FieldStringList(FieldEvents); err != nil {
		return nil, fieldErr(FieldEvents, err)
	}
	if c.ExcludeEvents, err = conf.FieldStringList(FieldExcludeEvents); err != nil {
		return nil, fieldErr(FieldExcludeEvents, err)
	}
	if c.ExtractHeaders, err = conf.FieldMetadataFilter(FieldExtractHeaders); err != nil {
		return nil, fieldErr(FieldExtractHeaders, err)
	}
	tlsConf, tlsOn, err := conf.FieldTLSToggled(FieldTLS)
	if err != nil {
		return nil, fieldErr(FieldTLS, err)
	}
	if tlsOn {
		c.TLS = tlsConf
	}
	if c.Sign, err = conf.HTTPRequestAuthSignerFromParsed(); err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	if conf.Contains(FieldProxyURL) {
		p, err := conf.FieldString(FieldProxyURL)
		if err != nil {
			return nil, fieldErr(FieldProxyURL, err)
		}
		if p != "" {
			if c.ProxyURL, err = url.Parse(p); err != nil {
				return nil, fieldErr(FieldProxyURL, err)
			}
			switch c.ProxyURL.Scheme {
			case "http", "https", "socks5":
			default:
				return nil, fieldErr(FieldProxyURL, fmt.Errorf("%s must start with http://, https:// or socks5://", c.ProxyURL.Redacted()))
			}
		}
	}
	if c.Timeout, err = nonNegativeDuration(conf, FieldTimeout); err != nil {
		return nil, err
	}
	if c.IdleTimeout, err = nonNegativeDuration(conf, FieldIdleTimeout); err != nil {
		return nil, err
	}
	if c.ReconnectInitial, err = nonNegativeDuration(conf, FieldReconnect, "initial_interval"); err != nil {
		return nil, err
	}
	if c.ReconnectMax, err = nonNegativeDuration(conf, FieldReconnect, "max_interval"); err != nil {
		return nil, err
	}
	if c.ReconnectMaxElapsed, err = nonNegativeDuration(conf, FieldReconnect, "max_elapsed_time"); err != nil {
		return nil, err
	}
	if c.ReconnectMax > 0 && c.ReconnectMax < c.ReconnectInitial {
		return nil, fieldErr(FieldReconnect+".max_interval", fmt.Errorf("%v is below initial_interval %v", c.ReconnectMax, c.ReconnectInitial))
	}
	c.BackoffFactor, c.Jitter = 1.5, 0.5
	if c.MaxEventSize, err = positiveInt(conf, FieldMaxEventSize); err != nil {
		return nil, err
	}
	if c.MaxBatchSize, err = positiveInt(conf, FieldMaxBatchSize); err != nil {
		return nil, err
	}
	if c.CheckpointCache, err = conf.FieldString(FieldCheckpoint, FieldCheckpointCach); err != nil {
		return nil, fieldErr(FieldCheckpoint+"."+FieldCheckpointCach, err)
	}
	if c.CheckpointKey, err = conf.FieldString(FieldCheckpoint, FieldCheckpointKey); err != nil {
		return nil, fieldErr(FieldCheckpoint+"."+FieldCheckpointKey, err)
	}
	if c.CheckpointCache != "" && c.CheckpointKey == "" {
		return nil, fieldErr(FieldCheckpoint+"."+FieldCheckpointKey, errors.New("must not be empty when checkpoint.cache is set"))
	}
	end, err := conf.FieldString(FieldStreamEnd)
	if err != nil {
		return nil, fieldErr(FieldStreamEnd, err)
	}
	c.StopAtStreamEnd = end == "stop"
	if c.EndOnData, err = conf.FieldString(FieldEndOnData); err != nil {
		return nil, fieldErr(FieldEndOnData, err)
	}
	if c.DedupeMode, err = conf.FieldString(FieldDedupe, "mode"); err != nil {
		return nil, fieldErr(FieldDedupe+".mode", err)
	}
	if c.DedupeWindow, err = positiveInt(conf, FieldDedupe, "window"); err != nil {
		return nil, err
	}
	if c.MetaRetry, err = conf.FieldBool(FieldMetadata, "retry"); err != nil {
		return nil, fieldErr(FieldMetadata+".retry", err)
	}
	if c.MetaConnection, err = conf.FieldBool(FieldMetadata, "connection"); err != nil {
		return nil, fieldErr(FieldMetadata+".connection", err)
	}
	if c.MaxInFlight, err = conf.FieldInt(FieldMaxInFlight); err != nil {
		return nil, fieldErr(FieldMaxInFlight, err)
	}
	if c.MaxInFlight < 0 {
		return nil, fieldErr(FieldMaxInFlight, fmt.Errorf("%d must not be negative", c.MaxInFlight))
	}
	return c, nil
}

// fieldErr names the field an error is about, as every config error does.
func fieldErr(name string, err error) error { return fmt.Errorf("field %q: %w", name, err) }

func nonNegativeDuration(conf *service.ParsedConfig, path ...string) (time.Duration, error) {
	d, err := conf.FieldDuration(path...)
	if err != nil {
		return 0, fieldErr(strings.Join(path, "."), err)
	}
	if d < 0 {
		return 0, fieldErr(strings.Join(path, "."), fmt.Errorf("%v must not be negative", d))
	}
	return d, nil
}

func positiveInt(conf *service.ParsedConfig, path ...string) (int, error) {
	n, err := conf.FieldInt(path...)
	if err != nil {
		return 0, fieldErr(strings.Join(path, "."), err)
	}
	if n <= 0 {
		return 0, fieldErr(strings.Join(path, "."), fmt.Errorf("%d must be positive", n))
	}
	return n, nil
}
