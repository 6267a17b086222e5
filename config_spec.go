// Package benthossse holds the configuration of the Benthos `sse` input and
// the `sse` scanner: their [service.ConfigSpec]s, their lint rules, and the
// typed [Config] and [ScannerConfig] that the parsed YAML becomes. The
// components themselves live in package input, which registers them; import
// that package to get the input and scanner:
//
//	import _ "github.com/benthos-sse/benthos-sse/input"
package benthossse

// The reference docs in docs/ are generated from the specs; tests/docs_test.go
// fails while they are stale.
//go:generate go run ./cmd/gendocs

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/redpanda-data/benthos/v4/public/bloblang"
	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/benthos-sse/benthos-sse/sse"
)

// Field names of the `sse` input, used by the spec and the parsing code.
const (
	fieldURL            = "url"
	fieldFrom           = "from"
	fieldStreams        = "streams"
	fieldMethod         = "method"
	fieldBody           = "body"
	fieldHeaders        = "headers"
	fieldBearerToken    = "bearer_token"
	fieldLastEventID    = "last_event_id"
	fieldEvents         = "events"
	fieldExcludeEvents  = "exclude_events"
	fieldExtractHeaders = "extract_headers"
	fieldTLS            = "tls"
	fieldProxyURL       = "proxy_url"
	fieldTimeout        = "timeout"
	fieldIdleTimeout    = "idle_timeout"
	fieldReconnect      = "reconnect"
	fieldMaxEventSize   = "max_event_size"
	fieldMaxBatchSize   = "max_batch_size"
	fieldCheckpoint     = "checkpoint"
	fieldStreamEnd      = "stream_end"
	fieldEndOnData      = "end_on_data"
	fieldDedupe         = "dedupe"
	fieldMetadata       = "metadata"
	fieldMaxInFlight    = "max_in_flight"
	fieldLinger         = "linger"
	fieldFailOn         = "fail_on"
	fieldOAuth2         = "oauth2"
	fieldResume         = "resume"

	// Children of reconnect (the names Benthos' backoff field uses),
	// checkpoint, dedupe and metadata.
	fieldReconnectInitial    = "initial_interval"
	fieldReconnectMax        = "max_interval"
	fieldReconnectMaxElapsed = "max_elapsed_time"
	fieldCheckpointCache     = "cache"
	fieldCheckpointKey       = "key"
	fieldDedupeMode          = "mode"
	fieldDedupeWindow        = "window"
	fieldMetadataRetry       = "retry"
	fieldMetadataConnection  = "connection"
	fieldStreamName          = "name" // child of streams, beside url, method, body, headers and last_event_id
	fieldResumeCursor        = "cursor"

	// Children of oauth2: the names and types of http_client's oauth2.
	fieldOAuth2Enabled        = "enabled"
	fieldOAuth2ClientKey      = "client_key"
	fieldOAuth2ClientSecret   = "client_secret"
	fieldOAuth2TokenURL       = "token_url"
	fieldOAuth2Scopes         = "scopes"
	fieldOAuth2EndpointParams = "endpoint_params"
)

// Paths of the fields that package input names in the errors it finds at
// run time (with [FieldError]).
const (
	FieldFrom            = fieldFrom
	FieldCheckpointCache = fieldCheckpoint + "." + fieldCheckpointCache
	FieldMaxInFlight     = fieldMaxInFlight
)

// DedupeMode is the value of `dedupe.mode`: how the input drops events a
// server replays.
type DedupeMode string

// The dedupe modes.
const (
	// DedupeNone keeps every event.
	DedupeNone DedupeMode = "none"
	// DedupeMonotonic drops an event whose integer ID is not above the
	// highest delivered one.
	DedupeMonotonic DedupeMode = "monotonic"
	// DedupeWindow drops an event whose ID is among the last
	// `dedupe.window` IDs delivered.
	DedupeWindow DedupeMode = "window"
)

// streamEnd is the value of `stream_end`; [Config.StopAtStreamEnd] is what
// it decides.
type streamEnd string

const (
	streamEndReconnect streamEnd = "reconnect"
	streamEndStop      streamEnd = "stop"
)

// Metadata keys set on every message.
const (
	MetaEvent       = "sse_event"
	MetaLastEventID = "sse_id"
	MetaRetry       = "sse_retry"
	MetaAttempt     = "sse_attempt"
	MetaStatus      = "sse_status"
	MetaURL         = "sse_url"
	// MetaStream is the stream's name, on every message of an input with a
	// `streams` list (or built with input.NewStreams).
	MetaStream = "sse_stream"
	// MetaCheckpointKey and MetaResumePoint are set only with
	// checkpoint.cache: the stream's checkpoint key, and its resume point
	// after this event, which an output that commits resume points with
	// its records (kafka_franz with transactional_id) writes under that key.
	MetaCheckpointKey = "sse_checkpoint_key"
	MetaResumePoint   = "sse_resume_point"
	// MetaCursor is the resume cursor (resume.cursor) on the message that
	// url, headers and bearer_token are evaluated against.
	MetaCursor = "sse_cursor"
)

// Defaults shared by the spec and the parsing code.
const (
	defaultTimeout      = 10 * time.Second
	defaultReconnectMax = time.Minute
	defaultMaxBatchSize = 1024
	defaultDedupeWindow = 1000
	defaultMaxInFlight  = 1
)

// Bounds of the numeric fields. Each is documented in its field's
// description and checked by lint and again by the parsing code.
const (
	// maxMaxEventSize bounds max_event_size: the parser may buffer this much
	// for one event, and a value near the int limit once overflowed it.
	maxMaxEventSize = 1 << 30 // 1GiB
	// maxLinger bounds linger: a batch that waits longer is a batching
	// output's job (its batching.period).
	maxLinger = time.Minute
	// maxMaxBatchSize bounds max_batch_size.
	maxMaxBatchSize = 100_000
	// maxMaxInFlight bounds max_in_flight.
	maxMaxInFlight = 100_000
	// maxDedupeWindow bounds dedupe.window: a window of 50,000,000 once
	// took 1.79 GB at start, and a full one holds that many IDs.
	maxDedupeWindow = 1_000_000
)

// ConfigSpec returns the specification of the `sse` input.
func ConfigSpec() *service.ConfigSpec {
	return service.NewConfigSpec().
		Beta().
		Categories("Network").
		Summary("Reads a Server-Sent Events (EventSource) stream, one message per event, resuming from the last acknowledged event ID.").
		Description(inputDescription).
		Fields(sourceFields()...).
		Fields(SharedFields()...).
		// One rule: a spec keeps only the last LintRule it is given.
		LintRule(`let streams = this.streams.or([]).length() > 0
`+authorizationLet+`
root = if this.url.or("") == "" && this.from.or("") == "" && !$streams {
  [ "`+errNoSource+`" ]
} else if this.url.or("") != "" && this.from.or("") != "" {
  [ "`+errBothSources+`" ]
} else if $streams && (this.url.or("") != "" || this.from.or("") != "") {
  [ "`+errStreamsAndSource+`" ]
} else {
  (`+oauth2ExclusiveExpr+`).or([]).merge(`+streamAuthorizationExpr+`)
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

// sourceFields are the fields that say where the events come from: exactly
// one of url, from and streams.
func sourceFields() []*service.ConfigField {
	return []*service.ConfigField{
		service.NewInterpolatedStringField(fieldURL).
			Description("The URL of the event stream. Only `http` and `https` URLs are accepted. Exactly one of `url`, `from` and `streams` must be set. "+interpolatedDoc+" The scheme and host must be written out (an environment variable such as `${HOST}` is fine: it is substituted once, at start); interpolations may follow them, in the path or the query, such as `?starting_after=${! @sse_cursor }` or a token read from a file. A query value is logged as `xxxxx`.").
			Examples("https://stream.wikimedia.org/v2/stream/recentchange", `https://api.openai.com/v1/responses/${! env("RESPONSE_ID") }?stream=true&starting_after=${! @sse_cursor.or("0") }`).
			Optional().
			LintRule(`root = if !this.has_prefix("http://") && !this.has_prefix("https://") {
  [ "url: %v must start with http:// or https://".format(this) ]
} else if !this.re_match("^https?://[^/?#]+") {
  [ "url: %v has no host".format(this) ]
} else if this.re_match("^https?://[^/?#]*\\$\\{!") {
  [ "url: the scheme and host must be written out; an interpolation may only follow them" ]
}`),
		service.NewStringField(fieldFrom).
			Description("Read an existing event stream instead of connecting: a file path, or `-` for stdin (the `EventSource.from` mode). The input ends at the end of the stream. Exactly one of `url`, `from` and `streams` must be set.").
			Examples("-", "./resources/sample.sse").
			Default(""),
		streamsField(),
	}
}

// SharedFields returns the fields of the `sse` input other than `url`,
// `from` and `streams`: the settings every stream of an input shares. A
// component that runs a changing set of streams through input.NewStreams
// (the fleet of the distribution) embeds them in its own spec, and
// [ParseSharedConfig] reads them.
func SharedFields() []*service.ConfigField {
	fields := []*service.ConfigField{
		service.NewStringField(fieldMethod).
			Description("The HTTP method of the request. Streaming APIs that take a request document (LLM APIs) use `POST` with `body`.").
			Default(http.MethodGet).Examples("GET", "POST").
			LintRule(`root = if !this.re_match("^[A-Z]+$") { [ "method: %v is not an HTTP method such as GET or POST".format(this) ] }`),
		service.NewStringField(fieldBody).
			Description("A request body, sent on the first connection and again on every reconnection.").
			Example(`{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"Hello"}]}`).
			Default("").Advanced(),
		service.NewInterpolatedStringMapField(fieldHeaders).
			Description("Extra request headers. `Accept`, `Cache-Control` and `Last-Event-ID` are set by the input (in `resume.cursor` mode `Last-Event-ID` is yours to set). " + interpolatedDoc + " Values are secrets: `echo` prints every one that is not empty as `!!!SECRET_SCRUBBED!!!`, after substituting environment variables (so a `${API_KEY}` reference is scrubbed too), and the input logs neither them nor what they evaluate to; and none of these headers is sent after a redirect to another origin (scheme, host or port). A value that evaluates to an empty string, or to one holding a control character (a file's trailing newline: add `.trim()`), fails the attempt instead of being sent. A name must be an HTTP token (letters, digits and ``!#$%&'*+-.^_`|~``), and a value must hold no control character but tab (no CR or LF), or no request could be sent.").
			Example(map[string]any{"X-Api-Key": "${API_KEY}"}).
			Example(map[string]any{"X-Api-Key": `${! file(path: "/var/run/secrets/api-key", no_cache: true).string().trim() }`}).
			Default(map[string]any{}).Secret().
			LintRule(headersRule),
		service.NewInterpolatedStringField(fieldBearerToken).
			Description("A token sent as `Authorization: Bearer <token>` on the first request of every connection. "+interpolatedDoc+" It is a secret, scrubbed by `echo` and never logged, and it is not sent after a redirect to another origin (scheme, host or port). Empty (the default) sends none; a token that evaluates to an empty string fails the attempt instead of sending none.").
			Examples("${OPENAI_API_KEY}", `${! file(path: "/var/run/secrets/token", no_cache: true).string().trim() }`, `${! env(name: "API_TOKEN", no_cache: true) }`).
			Default("").Secret().
			LintRule(`root = if this.re_match("` + controlCharsPattern + `") { [ "bearer_token must not contain CR, LF or other control characters" ] }`),
		service.NewStringField(fieldLastEventID).
			Description(fmt.Sprintf("The last event ID to resume from on the first connection, sent as `Last-Event-ID` (with `resume.cursor`: the first cursor). A checkpoint read from `checkpoint.cache` wins over it. It must be at most %d bytes with no control character but tab, as only such an ID can be sent as a header.", sse.MaxIDLength)).
			Example("1700000000000-0").
			Default("").
			LintRule(lastEventIDRule),
		service.NewStringListField(fieldEvents).
			Description("Keep only events of these types (the `event:` field; `message` when it is absent). Empty keeps every type. Dropped events still advance the resume point.").
			Example([]string{"message"}).Example([]string{"update", "delete"}).
			Default([]string{}),
		service.NewStringListField(fieldExcludeEvents).
			Description("Drop events of these types, after `events` is applied. Dropped events still advance the resume point.").
			Example([]string{"ping", "heartbeat"}).
			Default([]string{}),
		service.NewMetadataFilterField(fieldExtractHeaders).
			Description("Response headers to add to every message as metadata (keys lower-cased, first value only), like `http_client`'s `extract_headers`.").
			Example(map[string]any{"include_prefixes": []string{"x-"}}).
			Advanced(),
		service.NewTLSToggledField(fieldTLS),
	}
	fields = append(fields, service.NewHTTPRequestAuthSignerFields()...)
	fields = append(fields, oauth2Field())
	return append(fields,
		service.NewStringField(fieldProxyURL).
			Description("An HTTP proxy URL for the requests. Empty uses the `HTTP_PROXY` / `HTTPS_PROXY` / `NO_PROXY` environment variables.").
			Example("http://proxy.internal:3128").
			Default("").Advanced().Secret().
			LintRule(`root = if this != "" && !this.has_prefix("http://") && !this.has_prefix("https://") && !this.has_prefix("socks5://") { [ "proxy_url: %v must start with http://, https:// or socks5://".format(this) ] }`),
		service.NewDurationField(fieldTimeout).
			Description("How long to wait to connect and for the response headers. It does not limit how long a stream stays open; see `idle_timeout` for that.").
			Default(defaultTimeout.String()).Examples("5s", "30s").
			LintRule(durationRule(fieldTimeout)),
		service.NewDurationField(fieldIdleTimeout).
			Description("Reconnect when no bytes (comments included) arrive for this long. Set it a little above the server's heartbeat interval to detect a silently dead connection. `0s` disables it.").
			Default("0s").Examples("0s", "45s").
			LintRule(durationRule(fieldIdleTimeout)),
		// Not service.NewBackOffField, whose durations have no lint
		// rules and cannot be given any: the same names and defaults,
		// each checked on its own line, read with FieldBackOff.
		service.NewObjectField(fieldReconnect,
			service.NewDurationField(fieldReconnectInitial).
				Description("The wait before reconnecting, until the server sets another with a `retry:` field.").
				Default(sse.DefaultReconnectionTime.String()).Examples("1s", "3s").
				LintRule(durationRule(fieldReconnect+"."+fieldReconnectInitial)),
			service.NewDurationField(fieldReconnectMax).
				Description("The longest wait between attempts; it also caps the server's `retry:` and `Retry-After`. It must be above zero and not below `initial_interval`.").
				Default(defaultReconnectMax.String()).Examples("30s", "5m").
				LintRule(positiveDurationRule(fieldReconnect+"."+fieldReconnectMax)),
			service.NewDurationField(fieldReconnectMaxElapsed).
				Description("Give up, and end the input, after failing to connect for this long. `0s` retries for ever.").
				Default("0s").Examples("0s", "1h"),
		).
			Description("How long to wait before reconnecting. `initial_interval` is the wait used until the server sets another with a `retry:` field; consecutive failed attempts then multiply it by "+strconv.FormatFloat(backoff.DefaultMultiplier, 'f', -1, 64)+", up to `max_interval`, shortened by up to "+strconv.Itoa(int(backoff.DefaultRandomizationFactor*100))+"% at random (jitter): the multiplier and jitter of Benthos' backoff fields, the jitter only ever shortening a wait. `max_interval` also caps the server's `retry:` and `Retry-After`. After a successful connection the wait starts again from the beginning. Every wait is at least 100ms, even after `retry: 0`, so that a server closing every connection at once cannot cause a hot loop. With `max_elapsed_time` above zero, the input gives up (and ends) after failing to connect for that long.").
			Example(map[string]any{"initial_interval": "1s", "max_interval": "30s", "max_elapsed_time": "0s"}).
			LintRule(reconnectOrderRule),
		service.NewIntListField(fieldFailOn).
			Description("HTTP statuses that end the input with an error instead of being retried: the pipeline drains and `benthos-sse` exits 1 with the status and the server's explanation as its last log line. Use it for answers that retrying will not fix, such as a revoked API key (`401`). See the status policy above for what every other status does.").
			Default([]any{}).Example([]int{401, 403}).Example([]int{401, 403, 404, 410}).
			LintRule(`root = if this.type() == "array" && this.any(s -> s.type() != "number" || s.number() < 100 || s.number() > 599 || s.number().round() != s.number()) {
  [ "fail_on: %v must list HTTP status codes between 100 and 599".format(this) ]
}`),
		maxEventSizeField().
			Description("The largest event accepted (data, type and ID together). A larger event is skipped to its end, logged and counted in the `sse_events_oversized` metric; the stream continues. It also bounds the length of any line, so a hostile server cannot exhaust memory. "+maxEventSizeDoc),
		service.NewAnyField(fieldMaxBatchSize).
			Description(fmt.Sprintf("The most events handed to the pipeline as one batch, from 1 to %d. The input never waits to fill a batch: while a batch is in flight it reads ahead, and the next batch holds the events that arrived meanwhile (up to this many, and up to 4 MiB of data), so latency does not grow. With `max_in_flight: 1` an output that batches (`batching.count`, `batching.period`) acknowledges one input batch per period at best, so keep this at least `batching.count`. `1` sends every event alone.", maxMaxBatchSize)).
			Default(defaultMaxBatchSize).Examples(1, 256, 4096).
			Advanced().
			LintRule(intRule(fieldMaxBatchSize, 1, maxMaxBatchSize)),
		service.NewDurationField(fieldLinger).
			Description(fmt.Sprintf("How long a batch may wait for more events, as Kafka producers' `linger.ms`: once an event is read, the batch holding it is handed out when it holds `max_batch_size` events (or 4 MiB of data), or when this long has passed since that event arrived, whichever comes first. `0s` (the default) hands out what arrived at once, never waiting. It makes fewer, larger batches where events arrive one at a time (quiet streams, many of them in one `streams` list) and the output's cost is per batch (a Kafka transaction, an HTTP request), at the price of up to this much latency. At most %v.", maxLinger)).
			Default("0s").Examples("0s", "5ms", "50ms").
			Advanced().
			LintRule(DurationRangeRule(fieldLinger, 0, maxLinger)),
		service.NewObjectField(fieldCheckpoint,
			service.NewStringField(fieldCheckpointCache).
				Description("The name of a cache resource that stores the resume point. Empty disables checkpointing. A name with no such resource is refused when the input starts: lint cannot see resources.").
				Example("sse_checkpoint").
				Default(""),
			service.NewStringField(fieldCheckpointKey).
				Description("The cache key to store the resume point under. Two keys are used, `<key>.a` and `<key>.b`, written in turn, so a crash during a write never loses the previous checkpoint. Empty (the default), it is `sse_` followed by 16 hex digits of the SHA-256 of `url` as written (or of `from`), so two inputs of a shared cache never resume from each other's checkpoint by accident; the key then changes with the URL, query included. An interpolated `url` is hashed as written, before evaluation, so a rotating secret or the cursor in it never changes the key (an environment variable such as `${TOKEN}` is substituted before, so it does). Set it to keep a checkpoint across a change of URL, or to resume from one written under the default of earlier versions, `sse_last_event_id`.").
				Example("wikimedia_recentchange").
				Default(""),
		).
			Description("Persist the resume point: the ID (or, with `resume.cursor`, the cursor) of the newest event such that it and every earlier event have been acknowledged. It is read when the input starts (it wins over `last_event_id`), and written as it advances and when the input closes.").
			Example(map[string]any{"cache": "sse_checkpoint", "key": "my_stream"}),
		service.NewObjectField(fieldResume,
			service.NewBloblangField(fieldResumeCursor).
				Description("A Bloblang mapping that extracts a resume cursor from each event's data, for APIs that resume from a field of the payload rather than from the SSE `id:` (OpenAI's background responses: `starting_after=<sequence_number>`). An event for which it yields nothing (null, an error, data that is not JSON) keeps the previous cursor. The cursor then replaces the event ID as the resume point: it is what the checkpoint holds, `last_event_id` gives the first one, and `url`, `headers` and `bearer_token` see the newest cursor received as the metadata `@sse_cursor` at every connection attempt (absent before the first). `Last-Event-ID` is then not sent. Empty (the default) resumes from the event ID. Wherever the input reports the resume point, it reports the cursor. A cursor that could not be sent in a header (over 4096 bytes, or holding a control character) is ignored and counted in `sse_ids_unsendable`.").
				Examples("this.sequence_number", `root = this.sequence_number.string()`).
				Default(""),
		).
			Description("Resume from a cursor carried in the events' data instead of the SSE event ID.").
			Example(map[string]any{"cursor": "this.sequence_number"}).
			Optional(),
		service.NewStringEnumField(fieldStreamEnd, string(streamEndReconnect), string(streamEndStop)).
			Description("What to do when the server ends the response normally: `reconnect`, as EventSource does, or `stop`, which ends the input cleanly. `stop` suits one-shot streams such as LLM completions.").
			Default(string(streamEndReconnect)).Examples(string(streamEndReconnect), string(streamEndStop)).
			LintRule(enumRule(fieldStreamEnd, string(streamEndReconnect), string(streamEndStop))),
		service.NewStringField(fieldEndOnData).
			Description("End the input cleanly when an event's data equals this sentinel, without emitting that event. OpenAI-compatible APIs send `[DONE]`. Empty disables it.").
			Default("").Examples("[DONE]"),
		service.NewObjectField(fieldDedupe,
			service.NewStringEnumField(fieldDedupeMode, string(DedupeNone), string(DedupeMonotonic), string(DedupeWindow)).
				Description("`none` keeps every event. `monotonic` treats IDs as increasing integers and drops an event whose ID is not above the highest delivered one (events with a non-integer ID are kept). `window` drops an event whose ID is among the last `window` IDs delivered.").
				Default(string(DedupeNone)).Examples(string(DedupeNone), string(DedupeMonotonic), string(DedupeWindow)).
				LintRule(enumRule(fieldDedupe+"."+fieldDedupeMode, string(DedupeNone), string(DedupeMonotonic), string(DedupeWindow))),
			service.NewAnyField(fieldDedupeWindow).
				Description(fmt.Sprintf("How many recent IDs `window` mode remembers, from 1 to %d. It keeps a copy of each, so memory grows with the IDs seen up to this many.", maxDedupeWindow)).
				Default(defaultDedupeWindow).Examples(1000, 100000).
				LintRule(intRule(fieldDedupe+"."+fieldDedupeWindow, 1, maxDedupeWindow)),
		).
			Description("Drop events a server replays after a reconnection with `Last-Event-ID`. Dropped events are counted in `sse_events_deduplicated` and still advance the resume point. Off by default: it trades memory (`window`) or an assumption about the IDs (`monotonic`) for exactly-once delivery of replays.").
			Example(map[string]any{"mode": "monotonic"}).
			Advanced(),
		service.NewObjectField(fieldMetadata,
			service.NewBoolField(fieldMetadataRetry).
				Description("Add `sse_retry`: the reconnection time in milliseconds when the event carried a `retry:` field.").
				Default(false).Example(true),
			service.NewBoolField(fieldMetadataConnection).
				Description("Add `sse_attempt` (the connection's number, from 1), `sse_status` (the HTTP status) and `sse_url` (the URL after redirects).").
				Default(false).Example(true),
		).
			Description("Optional metadata beyond `sse_event` and `sse_id`.").
			Example(map[string]any{"retry": true, "connection": true}).
			Advanced(),
		service.NewAnyField(fieldMaxInFlight).
			Description("The most batches handed out and not yet acknowledged, up to "+strconv.Itoa(maxMaxInFlight)+"; `0` means no limit. The default, `1`, delivers events in stream order whatever `pipeline.threads` is: Benthos processes batches on several threads at once (by default one per CPU) and acknowledges them concurrently, so with more than one batch in flight a later batch can overtake an earlier one, and a batch replayed after a rejection (`auto_replay_nacks`) can be delivered after batches read later. Raise it, or set `0`, to trade order for throughput when events are independent of each other.").
			Default(defaultMaxInFlight).Examples(1, 0, 8).
			Advanced().
			LintRule(intRule(fieldMaxInFlight, 0, maxMaxInFlight)),
		service.NewAutoRetryNacksToggleField(),
	)
}

// urlRule accepts an http or https URL with a host; name starts the message.
func urlRule(name string) string {
	return fmt.Sprintf(`root = if !this.has_prefix("http://") && !this.has_prefix("https://") {
  [ "%[1]s: %%v must start with http:// or https://".format(this) ]
} else if !this.re_match("^https?://[^/?#]+") {
  [ "%[1]s: %%v has no host".format(this) ]
}`, name)
}

// reconnectOrderRule rejects a max_interval below initial_interval, which
// would override it. It sits on the object, the narrowest field that sees
// both, so lint reports it on the object's first line.
var reconnectOrderRule = `let i = ` + durationNanosExpr("this."+fieldReconnectInitial) + `
let m = ` + durationNanosExpr("this."+fieldReconnectMax) + `
root = if $i != null && $m != null && $m > 0 && $m < $i {
  [ "` + fieldReconnect + "." + fieldReconnectMax + `: %v is below ` + fieldReconnectInitial + ` %v".format(this.` + fieldReconnectMax + `, this.` + fieldReconnectInitial + `) ]
}`

// headersRule checks the names on the map (lint reports it on the map's
// first line) and the values one by one (on each value's own line, the
// only way Benthos gives a map entry its line; the rule cannot see the key
// there, and does not show the value, which is a secret).
var headersRule = headersRuleFor(fieldHeaders)

// headersRuleFor is headersRule with its messages starting with path, the
// field's path: `headers`, or `streams: headers` for an entry of the list,
// whose rules cannot know the entry's index (its line says which it is).
func headersRuleFor(path string) string {
	return `root = if this.type() == "object" {
  this.keys().sort().filter(k -> !k.re_match("` + tokenPattern + `")).map_each(k -> "` + path + `: %q is not a valid HTTP header name".format(k))
} else if this.type() == "string" && this.re_match("` + controlCharsPattern + `") {
  [ "` + path + `: the value on this line holds a control character such as CR or LF, which cannot be sent" ]
}`
}

// lastEventIDRule is sse.SendableID in bloblang: an ID that cannot be sent
// as a Last-Event-ID header value would fail every connection.
var lastEventIDRule = lastEventIDRuleFor(fieldLastEventID)

// lastEventIDRuleFor is lastEventIDRule with its messages starting with
// path, as headersRuleFor.
func lastEventIDRuleFor(path string) string {
	return fmt.Sprintf(`root = if this.length() > %[2]d {
  [ "%[1]s: is %%d bytes, over the %[2]d a Last-Event-ID header may hold".format(this.length()) ]
} else if this.re_match("%[3]s") {
  [ "%[1]s: %%q holds a control character, which cannot be sent in a Last-Event-ID header".format(this) ]
}`, path, sse.MaxIDLength, controlCharsPattern)
}

// maxEventSizeField is `max_event_size` of the input and the scanner,
// without its description, which each gives in its own words.
func maxEventSizeField() *service.ConfigField {
	return service.NewAnyField(fieldMaxEventSize).
		Default(sse.DefaultMaxEventSize).Examples(1048576, "16MiB").
		LintRule(byteSizeRule(fieldMaxEventSize, maxMaxEventSize))
}

// maxEventSizeDoc is what both descriptions of max_event_size end with.
var maxEventSizeDoc = fmt.Sprintf("A number of bytes, or a byte size such as `1MiB` or `64KB` (units B, KB, MB, GB, KiB, MiB, GiB, in any case), at most %s.", formatByteSize(maxMaxEventSize))

const inputDescription = `
Connects to an event stream (or reads one from a file or stdin with ` + "`from`" + `) and turns every event into one
message, following the WHATWG EventSource processing model exactly: BOM, CR/LF/CRLF line endings split across reads,
comments, multi-line data, ` + "`retry`" + `, ` + "`Last-Event-ID`" + ` and reconnection.

### Metadata

- ` + "`sse_event`" + `: the event type (` + "`message`" + ` when the event has no ` + "`event:`" + ` field).
- ` + "`sse_id`" + `: the last event ID at dispatch (empty when the stream has sent none).
- ` + "`sse_stream`" + `: with ` + "`streams`" + `, the stream's name.
- ` + "`sse_checkpoint_key`" + ` and ` + "`sse_resume_point`" + `: with ` + "`checkpoint.cache`" + `, the stream's checkpoint key and its
  resume point once this event is settled (what a transactional output can store beside the events).
- Response headers selected by ` + "`extract_headers`" + `, and the optional keys of ` + "`metadata`" + `.
- With ` + "`checkpoint.cache`" + ` set: ` + "`sse_checkpoint_key`" + `, the checkpoint key, and ` + "`sse_resume_point`" + `, the resume point
  after this event (the last event ID up to and including this one that can be sent as ` + "`Last-Event-ID`" + `, or the
  ` + "`resume.cursor`" + ` when one is set): what the input checkpoints once this event is acknowledged. A transactional ` + "`kafka_franz`" + ` output commits it with the
  records, so keep both keys through the pipeline.

### Acknowledgements and resuming

The resume point is the ID of the newest event such that it and every earlier event have been acknowledged by the
output: a contiguous watermark, never just the newest acknowledgement. With ` + "`checkpoint.cache`" + ` set it is stored
as it advances and when the input closes, and read back when the input starts, so a restarted pipeline resumes with
` + "`Last-Event-ID`" + ` = the last fully acknowledged event. Delivery is at least once: after a crash, the events that
were in flight are delivered again. Within one process a reconnection resumes from the newest received event, so it
causes no duplicates. With ` + "`auto_replay_nacks: true`" + ` (the default) a rejected message is retried until it is
delivered, and the resume point waits for it; with ` + "`false`" + ` a rejected message is dropped and counts as settled.

### Status policy

- 200 with ` + "`Content-Type: text/event-stream`" + `: open. The input reports itself connected (the ` + "`/ready`" + ` endpoint
  answers 200) only while a stream is open.
- 204 No Content: the server asks its clients to stop; the input ends, the pipeline drains and exits 0.
- A status listed in ` + "`fail_on`" + `: the input ends with an error; the pipeline drains and ` + "`benthos-sse`" + ` exits 1,
  its last log line giving the status and the server's explanation.
- 401, 403, 404 and 410, unless listed in ` + "`fail_on`" + `: answers that will not fix themselves, so every retry waits the
  longest wait, ` + "`reconnect.max_interval`" + `, rather than hammering the server.
- Any other status (429, 5xx, ...), a wrong content type, or a network error: retried after the ` + "`reconnect`" + ` backoff,
  waiting at least the ` + "`Retry-After`" + ` a 429 or 503 asks for.
- Every failed attempt is logged once, with the URL, the status, the wait before the next attempt and, for a non-200
  answer, up to 512 bytes of the response body (control characters escaped), which is where APIs explain a refusal
  ("Incorrect API key provided"); it is counted in ` + "`sse_reconnects`" + `.
- A request that cannot be made (an interpolation of ` + "`url`" + `, ` + "`headers`" + ` or ` + "`bearer_token`" + ` fails, or the ` + "`oauth2`" + `
  token endpoint refuses): retried after the ` + "`reconnect`" + ` backoff, logged with the reason (the token endpoint's
  answer, up to 512 bytes), never sent with a missing secret.
- The end of a response body: reconnect (or end, with ` + "`stream_end: stop`" + `).
- With ` + "`reconnect.max_elapsed_time`" + ` above zero, failing to connect for that long ends the input with an error:
  exit 1, like ` + "`fail_on`" + `.

### Metrics

` + "`sse_events_received`, `sse_bytes_received`, `sse_events_oversized`, `sse_events_filtered`, `sse_events_deduplicated`, `sse_reconnects` (label `cause`: `network`, `eof`, `idle_timeout`, `status`, `request`: an interpolation of `url`, `headers` or `bearer_token`, or the `oauth2` token endpoint, failed), `sse_ready_state` (0 connecting, 1 open, 2 closed), `sse_backoff_seconds` (the wait before the next connection attempt), `sse_last_byte_age_seconds` (seconds since the last byte, heartbeats included, updated every second), `sse_checkpoint_lag` (events handed out but not yet acknowledged) and `sse_checkpoint_errors`. With `streams`, every one also has the label `stream`: the stream's name for the first 100 streams of the input, and `_other` for the rest, which count in the counters but set no gauge (so the series stay bounded; `/ready` and the logs name every stream)."

// The errors of an input with no source or with two.
const (
	errNoSource         = "exactly one of url and from must be set: neither is"
	errBothSources      = "exactly one of url and from must be set: both are"
	errStreamsAndSource = "streams cannot be set with url or from: a streams list replaces them"
)

// documentedTypes maps the path of every field of the input and the scanner
// that is declared `any` only so that lint can check its value (see
// intRule) to the type its documentation shows.
var documentedTypes = map[string]string{
	fieldMaxEventSize:                     "int or string",
	fieldMaxBatchSize:                     "int",
	fieldMaxInFlight:                      "int",
	fieldDedupe + "." + fieldDedupeWindow: "int",
}

// DocumentedType returns the type that the documentation shows for the
// field at path (dotted, as in TemplateData's FullName) of the `sse` input
// or scanner, when it differs from the declared one. Integer fields are
// declared `any` because Benthos' lint runs no rule on a field declared int
// whose value is not an integer (and reads 1.5 as 1); their rules check
// that they hold integers, or byte sizes, within bounds. Benthos' own
// `list --format jsonschema` still shows them untyped: it has no way to say
// "an int, checked by a rule".
func DocumentedType(path string) (string, bool) {
	t, ok := documentedTypes[path]
	return t, ok
}

// Config is the parsed configuration of one `sse` input.
type Config struct {
	// URL is the url as written: with `${! ... }` interpolations when
	// URLTemplate is not nil. The default checkpoint key hashes it.
	URL string
	// URLTemplate is url when it has interpolations, to evaluate at every
	// connection attempt; nil when it is static.
	URLTemplate *service.InterpolatedString
	// URLBase is url up to its first interpolation (all of it when it has
	// none): a URL with the scheme and host every attempt uses.
	URLBase string
	From    string
	// Streams is the `streams` list; empty unless the input runs many
	// streams, when URL and From are empty.
	Streams []Stream
	Method  string
	Body    []byte
	// Headers and BearerToken (nil when unset) are evaluated at every
	// connection attempt.
	Headers     map[string]*service.InterpolatedString
	BearerToken *service.InterpolatedString
	// OAuth2 is nil when oauth2 is disabled.
	OAuth2 *OAuth2Config
	// ResumeCursor extracts the resume cursor from an event's data; nil
	// resumes from the event ID.
	ResumeCursor   *bloblang.Executor
	LastEventID    string
	Events         []string
	ExcludeEvents  []string
	ExtractHeaders *service.MetadataFilter
	// TLS is nil when TLS customisation is disabled.
	TLS *tls.Config
	// Sign applies the oauth, basic_auth and jwt settings to a request.
	Sign func(fs.FS, *http.Request) error
	// Authorization is the field that sets the Authorization header of
	// every request, after the headers: bearer_token, oauth2, basic_auth,
	// jwt or oauth; empty when none does. A stream's own Authorization
	// header would be replaced by it, so CheckStream refuses one.
	Authorization string
	ProxyURL      *url.URL
	Timeout       time.Duration

	IdleTimeout         time.Duration
	ReconnectInitial    time.Duration
	ReconnectMax        time.Duration
	ReconnectMaxElapsed time.Duration
	BackoffFactor       float64
	Jitter              float64

	MaxEventSize int
	MaxBatchSize int
	// Linger is how long a batch may wait for more events after its first.
	Linger time.Duration

	CheckpointCache string
	CheckpointKey   string

	StopAtStreamEnd bool
	EndOnData       string
	DedupeMode      DedupeMode
	DedupeWindow    int
	MetaRetry       bool
	MetaConnection  bool
	MaxInFlight     int
	// FailOn holds the statuses that end the input with an error.
	FailOn map[int]bool
}

// DefaultCheckpointKey is the checkpoint key of an input that sets none:
// "sse_" and 16 hex digits of the SHA-256 of its source (the url, or the
// from path). Derived, so that two inputs sharing a cache never share a
// key by accident (with one fixed default, B resumed from A's checkpoint
// and A then skipped its own events); hashed, so that a secret in the URL
// does not become a cache key.
func DefaultCheckpointKey(source string) string {
	sum := sha256.Sum256([]byte(source))
	return "sse_" + hex.EncodeToString(sum[:8])
}

// defaultStreamsCheckpointKey is the checkpoint key of an input with many
// streams that sets none; each stream's key derives from it (see
// StreamCheckpointKey).
const defaultStreamsCheckpointKey = "sse_streams"

// ParseConfig reads a parsed `sse` input configuration. Every error names
// the field it is about.
func ParseConfig(conf *service.ParsedConfig) (*Config, error) {
	c := &Config{}
	var err error

	if err := parseRequest(conf, c); err != nil {
		return nil, err
	}
	if conf.Contains(fieldFrom) {
		if c.From, err = conf.FieldString(fieldFrom); err != nil {
			return nil, FieldError(fieldFrom, err)
		}
	}
	if c.Streams, err = parseStreams(conf); err != nil {
		return nil, err
	}
	switch {
	case len(c.Streams) > 0 && (c.URL != "" || c.From != ""):
		return nil, errors.New(errStreamsAndSource)
	case c.URL == "" && c.From == "" && len(c.Streams) == 0:
		return nil, errors.New(errNoSource)
	case c.URL != "" && c.From != "":
		return nil, errors.New(errBothSources)
	}
	if err := parseShared(conf, c); err != nil {
		return nil, err
	}
	return c, c.checkStreams()
}

// ParseSharedConfig reads the fields of SharedFields from conf (and
// `streams`, when conf has it), for a component that embeds them to run
// streams it is given through input.NewStreams: URL and From stay empty.
func ParseSharedConfig(conf *service.ParsedConfig) (*Config, error) {
	c := &Config{}
	if err := parseRequest(conf, c); err != nil {
		return nil, err
	}
	var err error
	if c.Streams, err = parseStreams(conf); err != nil {
		return nil, err
	}
	if err := parseShared(conf, c); err != nil {
		return nil, err
	}
	return c, c.checkStreams()
}

// parseShared reads the fields of SharedFields into c.
func parseShared(conf *service.ParsedConfig, c *Config) error {
	var err error
	if c.Method, err = conf.FieldString(fieldMethod); err != nil {
		return FieldError(fieldMethod, err)
	}
	if c.Method == "" || strings.TrimLeft(c.Method, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
		return FieldError(fieldMethod, fmt.Errorf("%q is not an HTTP method such as GET or POST", c.Method))
	}
	body, err := conf.FieldString(fieldBody)
	if err != nil {
		return FieldError(fieldBody, err)
	}
	if body != "" {
		c.Body = []byte(body)
	}
	if c.LastEventID, err = conf.FieldString(fieldLastEventID); err != nil {
		return FieldError(fieldLastEventID, err)
	}
	// Refused here, the one place it is checked, rather than by every
	// Connect, which would retry it for ever.
	if err := checkSendableID(c.LastEventID); err != nil {
		return FieldError(fieldLastEventID, err)
	}
	if c.Events, err = conf.FieldStringList(fieldEvents); err != nil {
		return FieldError(fieldEvents, err)
	}
	if c.ExcludeEvents, err = conf.FieldStringList(fieldExcludeEvents); err != nil {
		return FieldError(fieldExcludeEvents, err)
	}
	if c.ExtractHeaders, err = conf.FieldMetadataFilter(fieldExtractHeaders); err != nil {
		return FieldError(fieldExtractHeaders, err)
	}
	tlsConf, tlsOn, err := conf.FieldTLSToggled(fieldTLS)
	if err != nil {
		return FieldError(fieldTLS, err)
	}
	if tlsOn {
		c.TLS = tlsConf
	}
	if c.Sign, err = conf.HTTPRequestAuthSignerFromParsed(); err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	if err := parseOAuth2(conf, c); err != nil {
		return err
	}
	c.Authorization = authorizationField(conf, c)
	if err := parseResume(conf, c); err != nil {
		return err
	}
	if conf.Contains(fieldProxyURL) {
		p, err := conf.FieldString(fieldProxyURL)
		if err != nil {
			return FieldError(fieldProxyURL, err)
		}
		if p != "" {
			if c.ProxyURL, err = url.Parse(p); err != nil {
				return FieldError(fieldProxyURL, err)
			}
			switch c.ProxyURL.Scheme {
			case "http", "https", "socks5":
			default:
				return FieldError(fieldProxyURL, fmt.Errorf("%s must start with http://, https:// or socks5://", c.ProxyURL.Redacted()))
			}
		}
	}
	if c.Timeout, err = nonNegativeDuration(conf, fieldTimeout); err != nil {
		return err
	}
	if c.IdleTimeout, err = nonNegativeDuration(conf, fieldIdleTimeout); err != nil {
		return err
	}
	// Each duration is checked first, for an error that names it; then the
	// policy is read as Benthos reads a backoff field, which also gives the
	// multiplier and the jitter (cenkalti/backoff's defaults).
	for _, child := range []string{fieldReconnectInitial, fieldReconnectMax, fieldReconnectMaxElapsed} {
		if _, err := nonNegativeDuration(conf, fieldReconnect, child); err != nil {
			return err
		}
	}
	policy, err := conf.FieldBackOff(fieldReconnect)
	if err != nil {
		return FieldError(fieldReconnect, err)
	}
	c.ReconnectInitial, c.ReconnectMax, c.ReconnectMaxElapsed = policy.InitialInterval, policy.MaxInterval, policy.MaxElapsedTime
	c.BackoffFactor, c.Jitter = policy.Multiplier, policy.RandomizationFactor
	if c.ReconnectMax == 0 {
		return FieldError(fieldReconnect+"."+fieldReconnectMax, errors.New("0s must be above zero"))
	}
	if c.ReconnectMax < c.ReconnectInitial {
		return FieldError(fieldReconnect+"."+fieldReconnectMax, fmt.Errorf("%v is below initial_interval %v", c.ReconnectMax, c.ReconnectInitial))
	}
	if c.MaxEventSize, err = maxEventSize(conf); err != nil {
		return err
	}
	if c.MaxBatchSize, err = boundedInt(conf, 1, maxMaxBatchSize, fieldMaxBatchSize); err != nil {
		return err
	}
	if c.Linger, err = nonNegativeDuration(conf, fieldLinger); err != nil {
		return err
	}
	if c.Linger > maxLinger {
		return FieldError(fieldLinger, fmt.Errorf("%v is above the maximum of %v", c.Linger, maxLinger))
	}
	if c.CheckpointCache, err = conf.FieldString(fieldCheckpoint, fieldCheckpointCache); err != nil {
		return FieldError(FieldCheckpointCache, err)
	}
	if c.CheckpointKey, err = conf.FieldString(fieldCheckpoint, fieldCheckpointKey); err != nil {
		return FieldError(fieldCheckpoint+"."+fieldCheckpointKey, err)
	}
	if c.CheckpointKey == "" {
		// Empty, so that a template written by `create` derives the key
		// too instead of pinning one example key shared by every input.
		c.CheckpointKey = DefaultCheckpointKey(c.URL + c.From)
		if c.URL == "" && c.From == "" {
			c.CheckpointKey = defaultStreamsCheckpointKey
		}
	}
	end, err := conf.FieldString(fieldStreamEnd)
	if err != nil {
		return FieldError(fieldStreamEnd, err)
	}
	if err := oneOf(fieldStreamEnd, end, string(streamEndReconnect), string(streamEndStop)); err != nil {
		return err
	}
	c.StopAtStreamEnd = streamEnd(end) == streamEndStop
	if c.EndOnData, err = conf.FieldString(fieldEndOnData); err != nil {
		return FieldError(fieldEndOnData, err)
	}
	mode, err := conf.FieldString(fieldDedupe, fieldDedupeMode)
	if err != nil {
		return FieldError(fieldDedupe+"."+fieldDedupeMode, err)
	}
	if err := oneOf(fieldDedupe+"."+fieldDedupeMode, mode, string(DedupeNone), string(DedupeMonotonic), string(DedupeWindow)); err != nil {
		return err
	}
	c.DedupeMode = DedupeMode(mode)
	if c.DedupeWindow, err = boundedInt(conf, 1, maxDedupeWindow, fieldDedupe, fieldDedupeWindow); err != nil {
		return err
	}
	if c.MetaRetry, err = conf.FieldBool(fieldMetadata, fieldMetadataRetry); err != nil {
		return FieldError(fieldMetadata+"."+fieldMetadataRetry, err)
	}
	if c.MetaConnection, err = conf.FieldBool(fieldMetadata, fieldMetadataConnection); err != nil {
		return FieldError(fieldMetadata+"."+fieldMetadataConnection, err)
	}
	if c.MaxInFlight, err = boundedInt(conf, 0, maxMaxInFlight, fieldMaxInFlight); err != nil {
		return err
	}
	failOn, err := conf.FieldIntList(fieldFailOn)
	if err != nil {
		return FieldError(fieldFailOn, err)
	}
	for _, code := range failOn {
		if code < 100 || code > 599 {
			return FieldError(fieldFailOn, fmt.Errorf("%d is not an HTTP status code", code))
		}
		if c.FailOn == nil {
			c.FailOn = map[int]bool{}
		}
		c.FailOn[code] = true
	}
	return nil
}

// maxEventSize reads the field that maxEventSizeField declares.
func maxEventSize(conf *service.ParsedConfig) (int, error) {
	return byteSize(conf, maxMaxEventSize, fieldMaxEventSize)
}

// checkSendableID is lastEventIDRule for the parsing code.
func checkSendableID(id string) error {
	switch {
	case sse.SendableID(id):
		return nil
	case len(id) > sse.MaxIDLength:
		return fmt.Errorf("is %d bytes, over the %d a Last-Event-ID header may hold", len(id), sse.MaxIDLength)
	default:
		return fmt.Errorf("%q holds a control character, which cannot be sent in a Last-Event-ID header", id)
	}
}
