package sse

// This file is what a response that fails the connection tells the caller:
// the ResponseError, and the bounded, sanitised parts of it that are safe
// to log whatever the server sends.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// ResponseError reports a response that "fails the connection": a status
// other than 200 or a Content-Type other than text/event-stream. Unless
// [Options.RetryResponse] says otherwise the event source is then closed and
// does not reconnect, as the standard requires; this is how a server tells
// its clients to stop (HTTP 204 No Content, for instance).
type ResponseError struct {
	StatusCode  int
	ContentType string
	// RetryAfter is the wait the response's Retry-After header asked for, or
	// zero when it had none.
	RetryAfter time.Duration
	// URL is the URL that gave the response, after redirects, with any
	// password redacted.
	URL string
	// Body is an excerpt of the response body when the status is not 200,
	// which is where APIs explain a refusal ("Incorrect API key provided").
	// It is at most [MaxBodyExcerpt] bytes of valid UTF-8, with control and
	// other non-printable characters escaped (\n, \x01, \u202e; a backslash
	// is left as it is) so that it is safe to log, and ends in "..." when
	// the body was longer. At
	// most that many bytes are read, for at most about a second: a body that
	// is slow to arrive is cut where it stands.
	Body string
}

// MaxBodyExcerpt bounds [ResponseError.Body], in bytes.
const MaxBodyExcerpt = 512

// Bounds on the other server-chosen parts of [ResponseError.Error].
const (
	maxURLInError         = 256
	maxContentTypeInError = 128
)

// bodyExcerptTimeout bounds the time spent reading [ResponseError.Body].
var bodyExcerptTimeout = time.Second

// Error describes the response in a bounded line: a long URL or content
// type is cut, with its full length shown.
func (e *ResponseError) Error() string {
	u := clip(e.URL, maxURLInError)
	if e.StatusCode != http.StatusOK {
		s := fmt.Sprintf("sse: %s answered %d", u, e.StatusCode)
		if text := http.StatusText(e.StatusCode); text != "" {
			s += " " + text
		}
		s += ", want 200"
		if e.Body != "" {
			s += "; body: " + clip(e.Body, MaxBodyExcerpt)
		}
		return s
	}
	return fmt.Sprintf("sse: %s answered with Content-Type %q, want text/event-stream", u, clip(e.ContentType, maxContentTypeInError))
}

// checkResponse returns the error of a response that fails the connection,
// or nil for an event stream. cancel, the request's, bounds the time spent
// reading a refused response's body.
func checkResponse(resp *http.Response, cancel context.CancelCauseFunc) *ResponseError {
	// spec: "if res's status is not 200, or if res's `Content-Type` is not
	// `text/event-stream`, then fail the connection."
	ct := resp.Header.Get("Content-Type")
	if resp.StatusCode == http.StatusOK && isEventStream(ct) {
		return nil
	}
	re := &ResponseError{
		StatusCode:  resp.StatusCode,
		ContentType: ct,
		RetryAfter:  parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()),
		URL:         resp.Request.URL.Redacted(),
	}
	if resp.StatusCode != http.StatusOK {
		re.Body = readExcerpt(resp.Body, cancel)
	}
	return re
}

// isEventStream reports whether a Content-Type is text/event-stream, with
// any parameters; a value mime cannot parse is judged by its media type.
func isEventStream(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt, _, _ = strings.Cut(contentType, ";")
		mt = strings.ToLower(strings.TrimSpace(mt))
	}
	return mt == "text/event-stream"
}

// parseRetryAfter reads a Retry-After header: delay-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if d, ok := parseDigits([]byte(v)); ok {
		// parseDigits reads milliseconds; Retry-After counts seconds.
		secs := int64(d / time.Millisecond)
		if secs > int64(math.MaxInt64/time.Second) {
			return math.MaxInt64
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// readExcerpt reads the start of a refused response's body for
// [ResponseError.Body], bounded in bytes and in time: cancel (the request's)
// and a close of the body end a read that waits too long.
func readExcerpt(body io.ReadCloser, cancel context.CancelCauseFunc) string {
	t := time.AfterFunc(bodyExcerptTimeout, func() {
		cancel(errExcerptTimeout)
		body.Close()
	})
	b, err := io.ReadAll(io.LimitReader(body, MaxBodyExcerpt+1))
	t.Stop()
	// A read that failed (or was cut short) leaves the body unfinished.
	return excerpt(b, MaxBodyExcerpt, len(b) > MaxBodyExcerpt || err != nil)
}

var errExcerptTimeout = errors.New("sse: reading the response body took too long")

// Excerpt returns the start of b as [ResponseError.Body] holds a refused
// response's body: at most [MaxBodyExcerpt] bytes of valid UTF-8, with
// surrounding white space trimmed and control and other non-printable
// characters escaped, ending in "..." when b was longer. It makes other
// answers safe to log the same way, such as a token endpoint's refusal.
func Excerpt(b []byte) string {
	return excerpt(b, MaxBodyExcerpt, false)
}

// excerpt returns b as at most limit bytes of valid UTF-8 that are safe to
// log: surrounding white space trimmed, and control, format and other
// non-printable characters escaped. It ends in "..." when it was cut, or
// when more is set (b itself was cut).
func excerpt(b []byte, limit int, more bool) string {
	const ellipsis = "..."
	b = bytes.TrimSpace(b)
	out := make([]byte, 0, min(len(b), limit))
	cut := 0 // len(out) at the last character boundary that leaves room for the ellipsis
	var esc [16]byte
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		var s []byte
		switch {
		case r == utf8.RuneError && n == 1:
			s = fmt.Appendf(esc[:0], `\x%02x`, b[0])
		case r == '\n':
			s = append(esc[:0], `\n`...)
		case r == '\r':
			s = append(esc[:0], `\r`...)
		case r == '\t':
			s = append(esc[:0], `\t`...)
		case !unicode.IsPrint(r):
			if r > 0xFFFF {
				s = fmt.Appendf(esc[:0], `\U%08x`, r)
			} else {
				s = fmt.Appendf(esc[:0], `\u%04x`, r)
			}
		default:
			s = b[:n]
		}
		if len(out)+len(s) > limit {
			more = true
			break
		}
		out = append(out, s...)
		if len(out) <= limit-len(ellipsis) {
			cut = len(out)
		}
		b = b[n:]
	}
	if more {
		out = append(out[:cut], ellipsis...)
	}
	return string(out)
}

// clip returns s, or when it is longer than limit bytes, its start cut at a
// character boundary with its full length shown, in at most about limit
// bytes.
func clip(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	n := max(limit-24, 0)
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return fmt.Sprintf("%s...(%d bytes)", s[:n], len(s))
}
