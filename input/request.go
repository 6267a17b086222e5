package input

import (
	"errors"
	"io/fs"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/redpanda-data/benthos/v4/public/service"

	benthossse "github.com/benthos-sse/benthos-sse"
)

// requestTemplate is what a stream's connection attempts send beyond the
// fixed method and body: the url, the headers and the bearer token,
// evaluated anew for every attempt (reconnections included), the OAuth 2
// token, and the auth signers. It owns no goroutine and no state of the
// stream: the stream passes what the interpolations may read (attemptVars)
// to each call. A failure of any part fails that attempt, never the input:
// the event source passes it to OnError and retries with its backoff.
//
// Evaluated values are secrets: no error it returns quotes one.
type requestTemplate struct {
	url     *service.InterpolatedString // nil: the url is static
	headers []headerTemplate            // sorted by name
	bearer  *service.InterpolatedString // nil: no bearer token
	tokens  *tokenSource                // nil: oauth2 is off
	sign    func(fs.FS, *http.Request) error
	fs      fs.FS
	// cursor: the stream resumes from resume.cursor, so Last-Event-ID is
	// not the input's to send.
	cursor bool
}

type headerTemplate struct {
	name   string
	value  *service.InterpolatedString // nil: literal
	static bool
	// literal is the value when value is nil: a stream's own header given
	// from Go in benthossse.Stream.Headers, sent as written.
	literal string
}

// attemptVars is what url, headers and bearer_token see of the stream, as
// the metadata of the message they are evaluated against.
type attemptVars struct {
	lastID    string // sse_id: the last event ID
	cursor    string // sse_cursor, when hasCursor
	hasCursor bool
}

// errRequest is wrapped by every error of a requestTemplate: the request of
// an attempt could not be made.
var errRequest = errors.New("cannot make the request")

// requestError says which field failed to give a value, and why.
type requestError struct {
	field string
	err   error
}

func (e *requestError) Error() string   { return e.field + ": " + e.err.Error() }
func (e *requestError) Unwrap() []error { return []error{errRequest, e.err} }

func newRequestTemplate(c *benthossse.Config, tokens *tokenSource, fsys fs.FS) *requestTemplate {
	t := &requestTemplate{url: c.URLTemplate, bearer: c.BearerToken, tokens: tokens, sign: c.Sign, fs: fsys, cursor: c.ResumeCursor != nil}
	t.headers = interpolatedHeaders(nil, c.Headers)
	return t
}

// interpolatedHeaders appends to hs the templates of headers, evaluated at
// each attempt (static when they hold no interpolation), by name.
func interpolatedHeaders(hs []headerTemplate, headers map[string]*service.InterpolatedString) []headerTemplate {
	for _, k := range slices.Sorted(maps.Keys(headers)) {
		_, static := headers[k].Static()
		hs = append(hs, headerTemplate{name: http.CanonicalHeaderKey(k), value: headers[k], static: static})
	}
	return hs
}

// withHeaders returns a copy of t with a stream's own headers added,
// replacing the input's of the same name: literal ones, sent as written,
// and interpolated ones, evaluated at each attempt as the input's are.
func (t *requestTemplate) withHeaders(literal http.Header, interpolated map[string]*service.InterpolatedString) *requestTemplate {
	c := *t
	c.headers = nil
	own := map[string]bool{} // canonical names: a Go caller's may not be
	for k := range literal {
		own[http.CanonicalHeaderKey(k)] = true
	}
	for k := range interpolated {
		own[http.CanonicalHeaderKey(k)] = true
	}
	for _, h := range t.headers {
		if !own[h.name] {
			c.headers = append(c.headers, h)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(literal)) {
		var v string
		if vs := literal[k]; len(vs) > 0 {
			v = vs[0] // not Get, which looks up the canonical name only
		}
		c.headers = append(c.headers, headerTemplate{name: http.CanonicalHeaderKey(k), static: true, literal: v})
	}
	c.headers = interpolatedHeaders(c.headers, interpolated)
	slices.SortFunc(c.headers, func(a, b headerTemplate) int { return strings.Compare(a.name, b.name) })
	return &c
}

// dynamicURL reports whether the url has to be evaluated for every
// attempt.
func (t *requestTemplate) dynamicURL() bool { return t.url != nil }

// resolveURL evaluates the url for one attempt.
func (t *requestTemplate) resolveURL(v attemptVars) (string, error) {
	u, err := t.url.TryString(v.message())
	if err != nil {
		return "", &requestError{field: "url", err: scrubbed(err)}
	}
	return u, nil
}

// prepare completes the request of one attempt: the headers, the bearer or
// OAuth 2 token, then the signers (oauth v1 signs the whole request).
func (t *requestTemplate) prepare(req *http.Request, v attemptVars) error {
	if t.cursor {
		// The cursor is the resume point; a header of the user's may
		// carry it.
		req.Header.Del("Last-Event-ID")
	}
	var msg *service.Message
	for _, h := range t.headers {
		if reserved(h.name, t.cursor) {
			continue
		}
		if h.value == nil {
			req.Header.Set(h.name, h.literal)
			continue
		}
		if msg == nil {
			msg = v.message()
		}
		val, err := evalSecret(h.value, msg, !h.static)
		if err != nil {
			return &requestError{field: "headers." + h.name, err: err}
		}
		req.Header.Set(h.name, val)
	}
	if t.bearer != nil {
		if msg == nil {
			msg = v.message()
		}
		_, static := t.bearer.Static()
		tok, err := evalSecret(t.bearer, msg, !static)
		if err != nil {
			return &requestError{field: "bearer_token", err: err}
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if t.tokens != nil {
		tok, err := t.tokens.token(req.Context())
		if err != nil {
			return &requestError{field: "oauth2", err: err}
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	return t.sign(t.fs, req)
}

// reserved reports whether the input sets header name itself: Accept and
// Cache-Control always, Last-Event-ID unless the stream resumes from a
// cursor.
func reserved(name string, cursor bool) bool {
	switch name {
	case "Accept", "Cache-Control":
		return true
	case "Last-Event-Id":
		return !cursor
	}
	return false
}

// message is what the interpolations are evaluated against.
func (v attemptVars) message() *service.Message {
	msg := service.NewMessage(nil)
	msg.MetaSetMut(benthossse.MetaLastEventID, v.lastID)
	if v.hasCursor {
		msg.MetaSetMut(benthossse.MetaCursor, v.cursor)
	}
	return msg
}

// evalSecret evaluates a header value or token. A dynamic one that comes
// out empty, or as "null" (what an unset env() or a missing field renders
// to), fails rather than send no secret; one holding a control character
// could not be sent at all.
func evalSecret(s *service.InterpolatedString, msg *service.Message, dynamic bool) (string, error) {
	val, err := s.TryString(msg)
	switch {
	case err != nil:
		return "", scrubbed(err)
	case dynamic && val == "":
		return "", errors.New("evaluated to an empty string")
	case dynamic && val == "null":
		return "", errors.New("evaluated to null (an unset variable, or a missing field?)")
	case hasControlChars(val):
		return "", errors.New("evaluated to a value holding a control character such as CR or LF, which cannot be sent (a file's trailing newline? add .trim())")
	}
	return val, nil
}

// quoted matches a quoted string in an error message.
var quoted = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)

// scrubbed returns an interpolation's error with every quoted string
// replaced: Bloblang quotes the value it failed on (`parsing "s3cr3t":
// invalid syntax`), which may be the secret being evaluated.
func scrubbed(err error) error {
	return &boundedErr{msg: quoted.ReplaceAllString(err.Error(), `"xxxxx"`), err: err}
}

// hasControlChars reports whether s holds a byte that cannot be sent in a
// header value: below 0x20 but tab, or 0x7f.
func hasControlChars(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f })
}
