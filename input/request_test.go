package input

import (
	"context"
	"errors"
	"io/fs"
	"net/http"
	"strings"
	"testing"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	benthossse "github.com/benthos-sse/benthos-sse"
	"github.com/benthos-sse/benthos-sse/sse"
)

func interp(t *testing.T, s string) *service.InterpolatedString {
	t.Helper()
	is, err := service.NewInterpolatedString(s)
	require.NoError(t, err)
	return is
}

// TestRequestTemplate_Prepare checks one attempt's request: evaluated
// headers and token, the headers the input keeps for itself, and the
// values that fail the attempt instead of being sent, with errors that
// name the field, match errRequest, and quote no value.
func TestRequestTemplate_Prepare(t *testing.T) {
	tests := []struct {
		name    string
		headers map[string]string
		bearer  string
		cursor  bool
		vars    attemptVars
		want    http.Header // checked keys
		err     string
	}{
		{name: "static and evaluated", headers: map[string]string{"X-Static": "s", "x-cursor": `${! @sse_cursor }`, "X-Id": `${! @sse_id }`},
			bearer: `${! "tok-" + "1" }`, vars: attemptVars{lastID: "7", cursor: "42", hasCursor: true},
			want: http.Header{"X-Static": {"s"}, "X-Cursor": {"42"}, "X-Id": {"7"}, "Authorization": {"Bearer tok-1"}, "Last-Event-Id": {"core"}}},
		{name: "reserved headers stay the input's", headers: map[string]string{"Accept": "x", "Last-Event-ID": "mine"},
			want: http.Header{"Accept": {"text/event-stream"}, "Last-Event-Id": {"core"}}},
		{name: "cursor mode: Last-Event-ID is the user's", headers: map[string]string{"Last-Event-ID": `${! @sse_cursor }`}, cursor: true,
			vars: attemptVars{cursor: "9", hasCursor: true}, want: http.Header{"Last-Event-Id": {"9"}}},
		{name: "cursor mode: no Last-Event-ID", cursor: true, want: http.Header{"Last-Event-Id": nil}},
		{name: "empty evaluated token", bearer: `${! "" }`, err: "bearer_token: evaluated to an empty string"},
		{name: "unset variable", headers: map[string]string{"X-Key": `${! @nope }`}, err: "headers.X-Key: evaluated to null"},
		{name: "trailing newline", bearer: `${! "tok\n" }`, err: "bearer_token: evaluated to a value holding a control character"},
		{name: "failing expression, value not quoted", bearer: `${! "s3cr3t".number() }`, err: `bearer_token: `},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &benthossse.Config{Headers: map[string]*service.InterpolatedString{}, ResumeCursor: nil,
				Sign: func(fs.FS, *http.Request) error { return nil }}
			for k, v := range tt.headers {
				c.Headers[k] = interp(t, v)
			}
			if tt.bearer != "" {
				c.BearerToken = interp(t, tt.bearer)
			}
			tmpl := newRequestTemplate(c, nil, nil)
			tmpl.cursor = tt.cursor
			req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, "http://127.0.0.1/x", nil)
			require.NoError(t, err)
			req.Header.Set("Accept", "text/event-stream")
			req.Header.Set("Last-Event-ID", "core")
			err = tmpl.prepare(req, tt.vars)
			if tt.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.err)
				assert.NotContains(t, err.Error(), "s3cr3t")
				assert.True(t, errors.Is(err, errRequest))
				assert.Equal(t, causeRequest, causeOf(err))
				return
			}
			require.NoError(t, err)
			for k, v := range tt.want {
				assert.Equal(t, v, req.Header[k], k)
			}
		})
	}
}

// TestResumer_Observe checks what becomes the cursor: the mapping's value
// as a string, numbers written out; anything that yields nothing keeps the
// previous cursor, and a cursor that cannot be sent in a header is ignored.
func TestResumer_Observe(t *testing.T) {
	pc, err := service.NewConfigSpec().Field(service.NewBloblangField("c")).ParseYAML("c: this.sequence_number", nil)
	require.NoError(t, err)
	mapping, err := pc.FieldBloblang("c")
	require.NoError(t, err)
	var unsendable []string
	r := resumer{mapping: mapping, unsendable: func(c string) { unsendable = append(unsendable, c) }}
	es := sse.From(strings.NewReader(""), sse.Options{})
	r.start("5")
	for _, tt := range []struct{ data, want string }{
		{`{"sequence_number": 6}`, "6"},
		{`{"sequence_number": 12345678901}`, "12345678901"},
		{`{}`, "12345678901"},
		{`{"sequence_number": null}`, "12345678901"},
		{`[DONE]`, "12345678901"},
		{`{"sequence_number": "abc"}`, "abc"},
		{`{"sequence_number": ""}`, "abc"},
		{`{"sequence_number": "a\nb"}`, "abc"},
	} {
		r.observe(sse.Event{Data: []byte(tt.data)})
		assert.Equal(t, tt.want, r.point(es), "after %s", tt.data)
	}
	assert.Equal(t, []string{"a\nb"}, unsendable)
	v := r.vars(es)
	assert.Equal(t, attemptVars{cursor: "abc", hasCursor: true}, v)
}

// TestRequestTemplate_StreamHeadersReplaceTheInputs checks that a stream's
// own headers replace the input's of the same name however a Go caller
// spells the name, literal or interpolated.
func TestRequestTemplate_StreamHeadersReplaceTheInputs(t *testing.T) {
	c := &benthossse.Config{Headers: map[string]*service.InterpolatedString{"X-Key": interp(t, "input"), "X-Tenant": interp(t, "input")},
		Sign: func(fs.FS, *http.Request) error { return nil }}
	tmpl := newRequestTemplate(c, nil, nil).withHeaders(http.Header{"x-key": {"literal"}},
		map[string]*service.InterpolatedString{"x-tenant": interp(t, `${! "evaluated" }`)})
	for range 20 { // the order of equal names once depended on an unstable sort
		req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, "http://127.0.0.1/x", nil)
		require.NoError(t, err)
		require.NoError(t, tmpl.prepare(req, attemptVars{}))
		assert.Equal(t, []string{"literal"}, req.Header.Values("X-Key"))
		assert.Equal(t, []string{"evaluated"}, req.Header.Values("X-Tenant"))
	}
}
