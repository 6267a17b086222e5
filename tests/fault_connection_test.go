package tests

// Connection faults: drops mid-event and between events, a server restart
// on the same port, a refused connection, and hosts that cannot be reached.

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFault_DropMidEvent drops the connection after an event's `id:` and
// `data:` lines but before its blank line: the partial event is never
// emitted, the reconnection carries the previous ID, and the server's
// resend is delivered once.
func TestFault_DropMidEvent(t *testing.T) {
	for _, tt := range []struct {
		name string
		drop func(w *sseWriter)
	}{
		{"connection reset", func(w *sseWriter) { w.Abort() }},
		{"response ends", func(w *sseWriter) {}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			noLeaks(t)
			srv := newSSEServer(t, func(w *sseWriter, r *http.Request, n int) {
				from := w.ResumeAfter() + 1
				w.Events("e", from, from+2)
				if n == 1 {
					w.Write(fmt.Sprintf("id: %d\ndata: partial-%d\n", from+3, from+3))
					tt.drop(w)
					return
				}
				w.Hold()
			})
			h := runInput(t, runOpts{Input: sseYAML(srv.URL() + "/events")})
			evs := h.WaitEvents(6)
			reqs := srv.WaitRequests(2)
			h.Stop()

			assert.Equal(t, seq("e", 1, 6), datas(evs), "no partial event, no loss, no duplicate")
			assert.Equal(t, []string{"-", "3"}, lastEventIDs(srv.Requests()), "Last-Event-ID per request")
			assert.Equal(t, "4", evs[3].ID)
			t.Logf("requests: %d, Last-Event-ID per request: %q", len(reqs), lastEventIDs(srv.Requests()))
		})
	}
}

// TestFault_DropMidEventThenIDlessEvent drops an event that carried `id: 2`
// before its blank line; the next connection first sends an event without
// an id and ends. The aborted event's id must not become the last event ID:
// the third connection still resumes after 1, so event 2 is not lost.
func TestFault_DropMidEventThenIDlessEvent(t *testing.T) {
	noLeaks(t)
	srv := newSSEServer(t, func(w *sseWriter, r *http.Request, n int) {
		switch n {
		case 1:
			w.Event(1, "e1")
			w.Write("id: 2\ndata: partial-2\n")
			w.Abort()
		case 2:
			w.Write("data: welcome\n\n")
		default:
			from := w.ResumeAfter() + 1
			w.Events("e", from, 3)
			w.Hold()
		}
	})
	h := runInput(t, runOpts{Input: sseYAML(srv.URL() + "/events")})
	srv.WaitRequests(3)
	evs := h.WaitEvents(3)
	// Whatever the third connection resumed from, e3 is the last event the
	// server sends: waiting for it means everything has arrived.
	for len(evs) == 0 || evs[len(evs)-1].Data != "e3" {
		evs = h.WaitEvents(len(evs) + 1)
	}
	h.Stop()

	assert.Equal(t, []string{"-", "1", "1"}, lastEventIDs(srv.Requests()), "Last-Event-ID per request")
	assert.Equal(t, []string{"e1", "welcome", "e2", "e3"}, datas(evs))
	assert.Equal(t, "1", evs[1].ID, "the id-less event carries the last dispatched ID, not the aborted event's")
}

// TestFault_DropBetweenEvents ends one response cleanly and resets the next
// between two events: each reconnection resumes after the last event.
func TestFault_DropBetweenEvents(t *testing.T) {
	noLeaks(t)
	srv := newSSEServer(t, func(w *sseWriter, r *http.Request, n int) {
		from := w.ResumeAfter() + 1
		w.Events("e", from, from+2)
		switch n {
		case 1: // the response ends
		case 2:
			w.Abort()
		default:
			w.Hold()
		}
	})
	h := runInput(t, runOpts{Input: sseYAML(srv.URL() + "/events"), Metrics: true})
	evs := h.WaitEvents(9)
	srv.WaitRequests(3)
	h.Stop()

	assert.Equal(t, seq("e", 1, 9), datas(evs))
	assert.Equal(t, []string{"-", "3", "6"}, lastEventIDs(srv.Requests()))
	assert.Equal(t, int64(1), h.Metrics.Get("sse_reconnects", "cause=eof"))
	assert.Equal(t, int64(1), h.Metrics.Get("sse_reconnects", "cause=network"))
}

// threeAndHold sends the three events after the request's Last-Event-ID
// (e1 to e3 on the first) and holds the connection open.
func threeAndHold(w *sseWriter, _ *http.Request, _ int) {
	from := w.ResumeAfter() + 1
	w.Events("e", from, from+2)
	w.Hold()
}

// TestFault_ServerRestartSamePort closes the server, its port included,
// and listens again on the same address: the input reconnects there with
// the last ID.
func TestFault_ServerRestartSamePort(t *testing.T) {
	noLeaks(t)
	srv := newSSEServer(t, threeAndHold)
	h := runInput(t, runOpts{Input: sseYAML(srv.URL() + "/events")})
	h.WaitEvents(3)
	srv.Restart()
	evs := h.WaitEvents(6)
	h.Stop()

	assert.Equal(t, seq("e", 1, 6), datas(evs))
	assert.Equal(t, []string{"-", "3"}, lastEventIDs(srv.Requests()))
}

// TestFault_ConnectionRefusedForAWhile closes the port until the input has
// been refused several times, then listens again: the attempts are spaced
// by the backoff, and the input resumes with the last ID.
func TestFault_ConnectionRefusedForAWhile(t *testing.T) {
	noLeaks(t)
	srv := newSSEServer(t, threeAndHold)
	h := runInput(t, runOpts{Input: sseYAML(srv.URL() + "/events"), Metrics: true})
	h.WaitEvents(3)
	srv.Close()
	const refusals = 4
	fails := h.Logs.WaitFor(t, refusals, "Failed to connect to sse: ", "connection refused")
	srv.Relisten()
	evs := h.WaitEvents(6)
	h.Stop()

	assert.Equal(t, seq("e", 1, 6), datas(evs))
	assert.Equal(t, []string{"-", "3"}, lastEventIDs(srv.Requests()))
	g := gaps(fails[:refusals], func(r logRecord) time.Time { return r.At })
	for _, d := range g {
		// initial_interval is floored at 100ms and jitter shortens a wait by
		// up to half: no two attempts are closer than 50ms.
		assert.GreaterOrEqual(t, d, 45*time.Millisecond, "attempts %v apart: a hot loop", d)
	}
	assert.GreaterOrEqual(t, h.Metrics.Get("sse_reconnects", "cause=network"), int64(refusals))
	t.Logf("gaps between refused attempts: %v", g)
}

// TestFault_HostUnreachable points the input at a closed 127.0.0.1 port
// and at a name that never resolves (.invalid): each attempt fails fast and
// is retried with backoff, never in a hot loop, for as long as it runs.
func TestFault_HostUnreachable(t *testing.T) {
	for _, tt := range []struct {
		name, url, want string
	}{
		{"closed port", "http://" + freePort(t) + "/events", "connection refused"},
		{"unresolvable host", "http://nonexistent.invalid/events", "nonexistent.invalid"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			noLeaks(t)
			h := runInput(t, runOpts{Input: sseYAML(tt.url, "timeout: 2s"), Metrics: true})
			start := time.Now()
			first := h.Logs.WaitFor(t, 1, "Failed to connect to sse: ", tt.want)
			latency := first[0].At.Sub(start)
			const window = 1500 * time.Millisecond
			<-time.After(window) // the observation window, not a synchronisation
			h.Stop()
			fails := h.Logs.Matching("Failed to connect to sse: ", tt.want)
			n := len(fails)
			// Waits are at least 50, 50, 75, then 100ms (the 200ms
			// max_interval halved by jitter): at most 17 attempts fit in
			// 1.5s. A hot loop would make thousands.
			assert.GreaterOrEqual(t, n, 3, "retried")
			assert.LessOrEqual(t, n, 18, "a hot loop")
			assert.Less(t, latency, 2*time.Second, "the first attempt fails fast")
			for _, d := range gaps(fails, func(r logRecord) time.Time { return r.At }) {
				assert.GreaterOrEqual(t, d, 45*time.Millisecond)
			}
			assert.Equal(t, int64(n), h.Metrics.Get("sse_reconnects", "cause=network"))
			require.NotEmpty(t, fails)
			t.Logf("%s: first failure after %v; %d attempts in %v (%.1f/s); e.g. %s", tt.name,
				latency.Round(time.Millisecond), n, window, float64(n)/window.Seconds(), fails[0].Msg)
		})
	}
}
