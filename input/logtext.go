package input

import (
	"fmt"
	"net/url"
	"regexp"
	"unicode/utf8"

	"github.com/redpanda-data/benthos/v4/public/service"
)

// maxLogText bounds each piece of server-controlled text (an event ID, a
// URL, an error that quotes a response, a header value) in a log line, so
// that a hostile server cannot turn every reconnection into megabytes of
// log: a 1 MB ID logged whole at each of 90 reconnections made 90 MB.
const maxLogText = 256

// maxLogErr bounds an error in a log line: room for a URL and the response
// body excerpt a sse.ResponseError carries (at most 512 bytes).
const maxLogErr = 1024

// logText returns s cut to maxLogText bytes (at a rune boundary) with its
// full length shown, so that a log line stays bounded and still says how
// big the original was.
func logText(s string) string { return clip(s, maxLogText) }

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s...(%d bytes)", s[:cut], len(s))
}

// logID renders an event ID for a log line: bounded, then quoted so that
// control characters are escaped.
func logID(id string) string { return fmt.Sprintf("%q", logText(id)) }

// queryValue matches the value of a query parameter in a URL, wherever the
// URL appears in a text: after "?" or "&", a name, "=" and the value up to
// the next separator.
var queryValue = regexp.MustCompile(`([?&][^?&=#\s"']*=)[^&#\s"']*`)

// redactQuery replaces every query value in s with "xxxxx", as
// url.URL.Redacted does for a password: keys such as ?api_key=... are a
// common way to pass credentials, and must not reach the logs.
func redactQuery(s string) string {
	return queryValue.ReplaceAllString(s, "${1}xxxxx")
}

// logURL renders a URL for a log line: without its password or query
// values, and bounded.
func logURL(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		raw = u.Redacted()
	}
	return logText(redactQuery(raw))
}

// logErr renders an error for a log line: bounded, and without the query
// values of any URL it quotes (net/http errors quote the request's URL).
func logErr(err error) string {
	if err == nil {
		return "<nil>"
	}
	return clip(redactQuery(err.Error()), maxLogErr)
}

// boundedErr is an error whose message is bounded and without query values,
// for errors that leave the input as text (the exit message), while
// errors.Is and errors.As still see the original.
type boundedErr struct {
	msg string
	err error
}

func (e *boundedErr) Error() string { return e.msg }
func (e *boundedErr) Unwrap() error { return e.err }

// boundErr returns err with the message logErr gives it.
func boundErr(err error) error {
	if err == nil {
		return nil
	}
	return &boundedErr{msg: logErr(err), err: err}
}

// logger is what the input logs through: a *service.Logger, or a stream's
// streamLogger.
type logger interface {
	Infof(format string, args ...any)
	Warnf(format string, args ...any)
	Errorf(format string, args ...any)
}

// streamLogger logs a line of one of many streams with the field
// stream=<name>. It derives that logger for each line rather than holding
// one: lines are rare (a connection, a failure), and a logger held by
// each stream (its own copy of the fields) cost 10,000 streams 7 MiB of
// live heap, twice that in memory held once the GC's headroom is counted.
type streamLogger struct {
	log  *service.Logger
	name string
}

func (l streamLogger) Infof(format string, args ...any) {
	l.log.With("stream", l.name).Infof(format, args...)
}

func (l streamLogger) Warnf(format string, args ...any) {
	l.log.With("stream", l.name).Warnf(format, args...)
}

func (l streamLogger) Errorf(format string, args ...any) {
	l.log.With("stream", l.name).Errorf(format, args...)
}
