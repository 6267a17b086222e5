package tests

// HTTP-level faults: error status storms with and without Retry-After, a
// wrong content type, a redirect loop, and 204 No Content.

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Reconnect settings of the storm tests, as the input applies them:
// initial_interval 50ms is floored at 100ms, each consecutive failure
// multiplies the wait by 1.5 up to max_interval, and jitter shortens a wait
// by up to half.
const (
	// slowMax is max_interval for the statuses that every retry waits it
	// for.
	slowMax      = 300 * time.Millisecond
	stormInitial = 100 * time.Millisecond
	stormMax     = 5 * time.Second
	stormFactor  = 1.5
	stormJitter  = 0.5
)

// maxAttempts is the most connection attempts the backoff allows in window,
// counting the first one at its start: every wait at its shortest.
func maxAttempts(window time.Duration) int {
	n, elapsed, d := 1, time.Duration(0), stormInitial
	for {
		elapsed += time.Duration(float64(d) * (1 - stormJitter))
		if elapsed > window {
			return n
		}
		n++
		d = min(time.Duration(float64(d)*stormFactor), stormMax)
	}
}

// TestFault_StatusStorms answers every request with an error: each is
// retried as documented (only 204 stops), logged with the status and the
// body's excerpt, counted, and spaced by the backoff, waiting at least the
// Retry-After asked for; 401, 403 and 404, which retrying soon will not fix,
// wait max_interval every time. Requests are counted over a window and
// checked against the most the backoff allows: never a hot loop.
func TestFault_StatusStorms(t *testing.T) {
	noLeaks(t)
	status := func(code int, hdr ...string) func(w http.ResponseWriter, r *http.Request) {
		return func(w http.ResponseWriter, r *http.Request) {
			for i := 0; i+1 < len(hdr); i += 2 {
				w.Header().Set(hdr[i], hdr[i+1])
			}
			w.WriteHeader(code)
			fmt.Fprintf(w, "status %d\n", code)
		}
	}
	for _, tt := range []struct {
		name       string
		respond    func(w http.ResponseWriter, r *http.Request)
		log        string // in the failure's log line
		cause      string // sse_reconnects label
		retryAfter time.Duration
		slow       bool // every retry waits max_interval
		body       bool // the body's excerpt is in the log line
	}{
		{name: "500", respond: status(500), log: "answered 500 Internal Server Error", cause: "status", body: true},
		{name: "502", respond: status(502), log: "answered 502 Bad Gateway", cause: "status", body: true},
		{name: "503", respond: status(503), log: "answered 503 Service Unavailable", cause: "status", body: true},
		{name: "503 Retry-After", respond: status(503, "Retry-After", "1"), log: "answered 503", cause: "status", retryAfter: time.Second, body: true},
		{name: "429 Retry-After", respond: status(429, "Retry-After", "1"), log: "answered 429 Too Many Requests", cause: "status", retryAfter: time.Second, body: true},
		{name: "401", respond: status(401), log: "answered 401 Unauthorized", cause: "status", slow: true, body: true},
		{name: "403", respond: status(403), log: "answered 403 Forbidden", cause: "status", slow: true, body: true},
		{name: "404", respond: status(404), log: "answered 404 Not Found", cause: "status", slow: true, body: true},
		{name: "wrong content type", respond: status(200, "Content-Type", "text/plain"), log: `Content-Type "text/plain"`, cause: "status"},
		{name: "missing content type", respond: func(w http.ResponseWriter, r *http.Request) {
			w.Header()["Content-Type"] = nil
			w.WriteHeader(200)
		}, log: `Content-Type ""`, cause: "status"},
		{name: "redirect loop", respond: func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/loop", http.StatusFound)
		}, log: "stopped after 10 redirects", cause: "network"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newSSEServer(t, func(w *sseWriter, r *http.Request, n int) { tt.respond(w.w, r) })
			window := 1200 * time.Millisecond
			if tt.retryAfter > 0 {
				window = 2*tt.retryAfter + 300*time.Millisecond
			}
			maxInterval := stormMax
			if tt.slow {
				maxInterval = slowMax
			}
			h := runInput(t, runOpts{
				Input:   fmt.Sprintf("sse:\n  url: %q\n  reconnect: {initial_interval: 50ms, max_interval: %v}\n", srv.URL()+"/events", maxInterval),
				Metrics: true,
			})
			first := srv.WaitRequests(1)[0]
			<-time.After(window) // the observation window, not a synchronisation
			h.Stop()

			var attempts []request
			for _, r := range srv.Requests() {
				if r.Path == "/events" && r.At.Sub(first.At) <= window {
					attempts = append(attempts, r)
				}
			}
			limit := maxAttempts(window)
			if tt.retryAfter > 0 {
				limit = 1 + int(window/tt.retryAfter)
			}
			if tt.slow {
				limit = 1 + int(window/slowMax)
			}
			assert.GreaterOrEqual(t, len(attempts), 2, "retried")
			assert.LessOrEqual(t, len(attempts), limit, "more attempts than the backoff allows: a hot loop")
			g := gaps(attempts, func(r request) time.Time { return r.At })
			floor := max(tt.retryAfter, time.Duration(float64(stormInitial)*(1-stormJitter)))
			if tt.slow {
				floor = slowMax
			}
			for _, d := range g {
				assert.GreaterOrEqual(t, d, floor-5*time.Millisecond, "attempts closer than the backoff or Retry-After allows")
			}
			fails := h.Logs.Matching("Failed to connect to sse: ", tt.log)
			require.NotEmpty(t, fails, "the failure is logged with its status; logs:\n%s", h.Logs.All())
			if tt.body {
				assert.Contains(t, fails[0].Msg, "body: status "+tt.name[:3], "the body's excerpt")
			}
			assert.GreaterOrEqual(t, h.Metrics.Get("sse_reconnects", "cause="+tt.cause), int64(len(attempts)-1))
			assert.Zero(t, h.Count(), "no events")
			t.Logf("%s: %d attempts in %v (%.1f/s, backoff allows %d), gaps %v; log: %s", tt.name, len(attempts), window,
				float64(len(attempts))/window.Seconds(), limit, roundAll(g), fails[0].Msg)
		})
	}
}

func roundAll(ds []time.Duration) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = d.Round(time.Millisecond)
	}
	return out
}

// TestFault_NoContentEndsInput delivers two events, ends the response, and
// answers the reconnection with 204 No Content: the input ends, the stream
// drains, and Run returns nil.
func TestFault_NoContentEndsInput(t *testing.T) {
	noLeaks(t)
	srv := newSSEServer(t, func(w *sseWriter, r *http.Request, n int) {
		if n == 1 {
			w.Event(1, "e1")
			w.Event(2, "e2")
			return
		}
		w.w.WriteHeader(http.StatusNoContent)
	})
	h := runInput(t, runOpts{Input: sseYAML(srv.URL() + "/events")})
	require.NoError(t, h.Wait(waitLimit), "Run returns nil when the server answers 204")

	assert.Equal(t, []string{"e1", "e2"}, datas(h.Events()))
	assert.Equal(t, []string{"-", "2"}, lastEventIDs(srv.Requests()))
	assert.NotEmpty(t, h.Logs.Matching("204"), "the end is logged")
}
