package fleet

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Spec is one stream of the fleet: the value of its record in the streams
// topic, whose key is the stream's name. It carries what the `sse` input's
// `streams` entries may set per stream; everything else (reconnect policy,
// timeouts, TLS, auth, filters, checkpoint cache) is the input's, the same on
// every instance.
//
// The JSON is strict: an unknown field is an error, so that a typo such as
// "header" stops that one stream with a logged reason instead of silently
// connecting without the header.
type Spec struct {
	// URL is the stream's http or https address. Required.
	URL string `json:"url"`
	// Headers are sent on every request of the stream, beside the input's,
	// as written: a record is not interpolated, so whoever can write to the
	// topic cannot make an instance evaluate file() or env().
	Headers map[string]string `json:"headers,omitempty"`
	// Method is the request method; empty means GET.
	Method string `json:"method,omitempty"`
	// Body is the request body, for a POST stream.
	Body string `json:"body,omitempty"`
	// LastEventID is sent as Last-Event-ID on the first connection when the
	// stream has no resume point yet.
	LastEventID string `json:"last_event_id,omitempty"`
}

// errNoURL is returned by ParseSpec for a value without a url.
var errNoURL = errors.New(`"url" is required`)

// ParseSpec decodes and checks the value of a streams-topic record. A
// tombstone or an empty value removes the stream and is not passed here.
func ParseSpec(value []byte) (Spec, error) {
	var s Spec
	dec := json.NewDecoder(bytes.NewReader(value))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return Spec{}, fmt.Errorf("decode stream spec: %w", err)
	}
	if dec.More() {
		return Spec{}, errors.New("decode stream spec: trailing data after the JSON object")
	}
	if s.URL == "" {
		return Spec{}, errNoURL
	}
	u, err := url.Parse(s.URL)
	if err != nil {
		return Spec{}, fmt.Errorf(`"url": %w`, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return Spec{}, fmt.Errorf(`"url": %q is not an http or https URL`, u.Redacted())
	}
	for k, v := range s.Headers {
		if k == "" || strings.ContainsAny(k, " :\r\n") || strings.ContainsAny(v, "\r\n") {
			return Spec{}, fmt.Errorf(`"headers": %q is not a valid header`, k)
		}
	}
	return s, nil
}
