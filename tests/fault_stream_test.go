package tests

// Faults in the bytes of a stream: a slow drip, stalls with and without
// heartbeats, garbage, invalid UTF-8, NUL in an id, and events far over
// max_event_size.

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFault_SlowDrip sends a stream one byte per write, flushing each, so
// that a BOM, every CR and the LF of every CRLF arrive apart: the events are
// exactly those of the stream sent at once, with no reconnection.
func TestFault_SlowDrip(t *testing.T) {
	noLeaks(t)
	const stream = "\xEF\xBB\xBF" +
		"id: 1\r\ndata: a\r\n\r\n" +
		"id: 2\rdata: b\rdata: c\r\r" +
		"id: 3\ndata: d\n\n" +
		": comment\r\n" +
		"event: t\r\nid: 4\r\ndata:e\r\n\r\n"
	srv := newSSEServer(t, func(w *sseWriter, r *http.Request, n int) {
		if n == 1 {
			for i := range len(stream) {
				if !w.Write(stream[i : i+1]) {
					return
				}
			}
		}
		w.Hold()
	})
	h := runInput(t, runOpts{Input: sseYAML(srv.URL()+"/events", "idle_timeout: 5s"), Metrics: true})
	evs := h.WaitEvents(4)
	h.Stop()

	assert.Equal(t, []event{
		{Data: "a", ID: "1", Type: "message"},
		{Data: "b\nc", ID: "2", Type: "message"},
		{Data: "d", ID: "3", Type: "message"},
		{Data: "e", ID: "4", Type: "t"},
	}, evs)
	assert.Len(t, srv.Requests(), 1)
	assert.Zero(t, h.Metrics.Get("sse_reconnects"))
	t.Logf("%d single-byte writes", len(stream))
}

// TestFault_StallWithoutBytes stops sending without closing: after
// idle_timeout the input gives up on the connection, counts it, and
// reconnects with the last ID.
func TestFault_StallWithoutBytes(t *testing.T) {
	noLeaks(t)
	const idle = 300 * time.Millisecond
	lastByte := make(chan time.Time, 1)
	srv := newSSEServer(t, func(w *sseWriter, r *http.Request, n int) {
		from := w.ResumeAfter() + 1
		w.Event(from, fmt.Sprintf("e%d", from))
		w.Event(from+1, fmt.Sprintf("e%d", from+1))
		if n == 1 {
			lastByte <- time.Now()
		}
		w.Hold()
	})
	h := runInput(t, runOpts{Input: sseYAML(srv.URL()+"/events", fmt.Sprintf("idle_timeout: %v", idle)), Metrics: true})
	reqs := srv.WaitRequests(2)
	evs := h.WaitEvents(4)
	h.Stop()

	assert.Equal(t, seq("e", 1, 4), datas(evs)[:4])
	assert.Equal(t, []string{"-", "2"}, lastEventIDs(reqs[:2]))
	stalled := reqs[1].At.Sub(<-lastByte)
	assert.GreaterOrEqual(t, stalled, idle, "reconnected before idle_timeout")
	assert.GreaterOrEqual(t, h.Metrics.Get("sse_reconnects", "cause=idle_timeout"), int64(1))
	assert.NotEmpty(t, h.Logs.Matching("idle timeout"), "the reconnection is logged")
	t.Logf("reconnected %v after the last byte (idle_timeout %v)", stalled.Round(time.Millisecond), idle)
}

// TestFault_StallWithHeartbeats sends only `:` comments, one every sixth
// of idle_timeout, for twice idle_timeout: they keep the connection alive,
// so there is no reconnection.
func TestFault_StallWithHeartbeats(t *testing.T) {
	noLeaks(t)
	const idle = 600 * time.Millisecond
	srv := newSSEServer(t, func(w *sseWriter, r *http.Request, n int) {
		w.Event(1, "e1")
		// The server's own pacing: 12 heartbeats 100ms apart.
		tick := time.NewTicker(idle / 6)
		defer tick.Stop()
		for range 12 {
			select {
			case <-tick.C:
			case <-r.Context().Done():
				return
			}
			if !w.Write(":\n") {
				return
			}
		}
		w.Event(2, "e2")
		w.Hold()
	})
	h := runInput(t, runOpts{Input: sseYAML(srv.URL()+"/events", fmt.Sprintf("idle_timeout: %v", idle)), Metrics: true})
	evs := h.WaitEvents(2)
	h.Stop()

	assert.Equal(t, []string{"e1", "e2"}, datas(evs))
	assert.Len(t, srv.Requests(), 1, "heartbeats must keep the connection")
	assert.Zero(t, h.Metrics.Get("sse_reconnects"))
}

// TestFault_Garbage sends seeded random bytes (binary, NULs, stray CR and
// LF, no colon) before well-formed events: the garbage dispatches nothing,
// and the events after it arrive intact on the same connection.
func TestFault_Garbage(t *testing.T) {
	noLeaks(t)
	rng := rand.New(rand.NewPCG(1, 2))
	garbage := make([]byte, 256<<10)
	for i := range garbage {
		garbage[i] = byte(rng.IntN(256))
		if garbage[i] == ':' {
			garbage[i] = 0
		}
	}
	srv := newSSEServer(t, func(w *sseWriter, r *http.Request, n int) {
		for off := 0; off < len(garbage); off += 4096 {
			if !w.Write(string(garbage[off:min(off+4096, len(garbage))])) {
				return
			}
		}
		w.Write("\n\n")
		w.Events("e", 1, 3)
		w.Hold()
	})
	h := runInput(t, runOpts{Input: sseYAML(srv.URL() + "/events"), Metrics: true})
	evs := h.WaitEvents(3)
	h.Stop()

	assert.Equal(t, seq("e", 1, 3), datas(evs))
	assert.Len(t, srv.Requests(), 1)
	assert.Zero(t, h.Metrics.Get("sse_reconnects"))
}

// TestFault_InvalidUTF8AndNULInID checks the decoding of hostile bytes end
// to end: invalid UTF-8 becomes U+FFFD as the WHATWG decoder does it, and an
// id containing NUL is ignored, so the reconnection still carries the
// previous ID.
func TestFault_InvalidUTF8AndNULInID(t *testing.T) {
	noLeaks(t)
	srv := newSSEServer(t, func(w *sseWriter, r *http.Request, n int) {
		if n == 1 {
			w.Write("id: 1\ndata: a\xffb\xe4\xb8A\xc0\xaf\n\n")
			w.Write("event: t\xff\nid: 1\x002\ndata: nul\n\n")
			w.Write("id: bad\xfe\ndata: x\n\n")
			return
		}
		w.Event(7, "after")
		w.Hold()
	})
	h := runInput(t, runOpts{Input: sseYAML(srv.URL() + "/events")})
	evs := h.WaitEvents(4)
	h.Stop()

	assert.Equal(t, []event{
		{Data: "a\uFFFDb\uFFFDA\uFFFD\uFFFD", ID: "1", Type: "message"},
		{Data: "nul", ID: "1", Type: "t\uFFFD"},
		{Data: "x", ID: "bad\uFFFD", Type: "message"},
		{Data: "after", ID: "7", Type: "message"},
	}, evs)
	assert.Equal(t, []string{"-", "bad\uFFFD"}, lastEventIDs(srv.Requests()))
}

// TestFault_Oversized sends, with max_event_size 1 MiB, a 10 MiB single
// line, a 10 MiB event of 1 KiB lines and a 10 MiB comment: the first two
// are skipped with a log line and the sse_events_oversized metric, the
// comment is dropped silently, the stream continues on the same connection,
// and the heap stays bounded.
func TestFault_Oversized(t *testing.T) {
	noLeaks(t)
	const size = 10 * mib
	chunk := strings.Repeat("x", 64<<10)
	line := "data: " + strings.Repeat("y", 1018) + "\n" // 1 KiB
	srv := newSSEServer(t, func(w *sseWriter, r *http.Request, n int) {
		w.Event(1, "before")
		send := func(prefix, unit string, total int) bool {
			if !w.Write(prefix) {
				return false
			}
			for sent := 0; sent < total; sent += len(unit) {
				if !w.Write(unit) {
					return false
				}
			}
			return w.Write("\n\n")
		}
		_ = send("id: 2\ndata: ", chunk, size) &&
			w.Event(3, "after-line") &&
			send("id: 4\n", strings.Repeat(line, 64), size) &&
			w.Event(5, "after-event") &&
			send(":", chunk, size) &&
			w.Event(6, "after-comment")
		w.Hold()
	})
	heap := sampleHeap(5 * time.Millisecond)
	h := runInput(t, runOpts{Input: sseYAML(srv.URL()+"/events", "max_event_size: 1048576"), Metrics: true})
	evs := h.WaitEvents(4)
	peak := heap.Stop()
	h.Stop()

	assert.Equal(t, []event{
		{Data: "before", ID: "1", Type: "message"},
		{Data: "after-line", ID: "3", Type: "message"},
		{Data: "after-event", ID: "5", Type: "message"},
		{Data: "after-comment", ID: "6", Type: "message"},
	}, evs)
	assert.Len(t, srv.Requests(), 1, "the stream continues on the same connection")
	assert.Equal(t, int64(2), h.Metrics.Get("sse_events_oversized"))
	skipped := h.Logs.Matching("Skipped an event over max_event_size")
	require.Len(t, skipped, 2)
	assert.Equal(t, slog.LevelWarn, skipped[0].Level)
	assert.Less(t, peak, uint64(64*mib), "peak HeapInuse")
	t.Logf("3 × %d MiB hostile payloads; peak HeapInuse %.1f MiB; log: %s", size/mib, float64(peak)/mib, skipped[0].Msg)
}
