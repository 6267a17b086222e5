package input

import (
	"github.com/redpanda-data/benthos/v4/public/bloblang"
	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/benthos-sse/benthos-sse/sse"
)

// resumer computes a stream's resume point: what a reconnection resumes
// from, what the tracker commits once acknowledged, and so what the
// checkpoint holds. It is the one place that decides it. By default it is
// the event source's last event ID (the Last-Event-ID of the next
// reconnection). With resume.cursor it is the cursor the mapping extracted
// from the newest event that had one, which url, headers and bearer_token
// see as @sse_cursor. Only the reader goroutine uses it.
type resumer struct {
	mapping *bloblang.Executor // nil: the event ID
	cursor  string
	has     bool
	// unsendable is called with a cursor that could not be sent in a
	// header, which is ignored.
	unsendable func(cursor string)
}

// cursorMode reports whether the resume point is a cursor.
func (r *resumer) cursorMode() bool { return r.mapping != nil }

// start sets the resume point to start from (a checkpoint, or
// last_event_id) in cursor mode.
func (r *resumer) start(cursor string) {
	r.cursor, r.has = cursor, cursor != ""
}

// observe reads the cursor of an event, in cursor mode. An event for which
// the mapping gives nothing (null, deleted, an error such as data that is
// not JSON, an empty string) keeps the previous cursor.
func (r *resumer) observe(ev sse.Event) {
	if r.mapping == nil {
		return
	}
	res, err := service.NewMessage(ev.Data).BloblangQuery(r.mapping)
	if err != nil || res == nil {
		return
	}
	if v, err := res.AsStructured(); err == nil && v == nil {
		return // null
	}
	b, err := res.AsBytes()
	if err != nil || len(b) == 0 {
		return
	}
	cursor := string(b)
	if !sse.SendableID(cursor) {
		if r.unsendable != nil {
			r.unsendable(cursor)
		}
		return
	}
	r.cursor, r.has = cursor, true
}

// point returns the resume point after the events read so far from es.
func (r *resumer) point(es *sse.EventSource) string {
	if r.mapping != nil {
		return r.cursor
	}
	return es.LastEventID()
}

// vars returns what the interpolations of the next attempt see.
func (r *resumer) vars(es *sse.EventSource) attemptVars {
	return attemptVars{lastID: es.LastEventID(), cursor: r.cursor, hasCursor: r.mapping != nil && r.has}
}
