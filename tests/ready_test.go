package tests

// Readiness through the binary's HTTP server: /ready tells whether the
// input has an open stream.

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// readiness is one answer of GET /ready.
type readiness struct {
	Code     int
	Input    bool   // "connected" of the input
	InputErr string // its "error"
}

func getReady(t *testing.T, addr string) (readiness, bool) {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/ready")
	if err != nil {
		return readiness{}, false // not listening yet
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var doc struct {
		Statuses []struct {
			Path      string `json:"path"`
			Connected bool   `json:"connected"`
			Error     string `json:"error"`
		} `json:"statuses"`
	}
	require.NoError(t, json.Unmarshal(body, &doc), "%s", body)
	r := readiness{Code: resp.StatusCode}
	for _, s := range doc.Statuses {
		if s.Path == "input" {
			r.Input, r.InputErr = s.Connected, s.Error
		}
	}
	return r, true
}

// waitReady polls /ready until want holds for an answer, and returns it.
func waitReady(t *testing.T, p *binProc, addr string, what string, want func(readiness) bool) readiness {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	var last readiness
	for time.Now().Before(deadline) {
		if r, ok := getReady(t, addr); ok {
			if want(r) {
				return r
			}
			last = r
		}
		require.False(t, p.Exited(), "benthos-sse exited; output:\n%s", p.stderr.String())
		time.Sleep(20 * time.Millisecond) // polling an endpoint; nothing to wait on
	}
	t.Fatalf("/ready never %s; last answer %+v; output:\n%s", what, last, p.stderr.String())
	return last
}

// TestReady_FollowsTheStream points the binary at a closed port: /ready
// answers 503 with the input not connected, on every poll for a while (the
// input keeps retrying); once a server listens there and the stream opens,
// 200; when the server goes away, 503 again; when it is back, 200.
func TestReady_FollowsTheStream(t *testing.T) {
	t.Parallel()
	srv := newSSEServer(t, func(w *sseWriter, r *http.Request, n int) {
		w.Event(n, fmt.Sprintf("e%d", n))
		w.Hold()
	})
	srv.Close() // the port is closed until Relisten
	api := freePort(t)
	cfg := writeConfigFile(t, "", "ready.yaml", fmt.Sprintf(`
http: {address: %q}
logger: {level: info}
input:
  sse:
    url: %s/events
    reconnect: {initial_interval: 50ms, max_interval: 200ms}
output:
  drop: {}
`, api, srv.URL()))
	p := startBinary(t, cfg)

	notReady := func(r readiness) bool { return r.Code == http.StatusServiceUnavailable && !r.Input }
	ready := func(r readiness) bool { return r.Code == http.StatusOK && r.Input }
	r := waitReady(t, p, api, "answered", func(readiness) bool { return true })
	assert.True(t, notReady(r), "no stream yet: %+v", r)
	r = waitReady(t, p, api, "said why", func(r readiness) bool { return strings.Contains(r.InputErr, "connection refused") })
	assert.True(t, notReady(r), "no stream yet: %+v", r)
	// Several connection attempts fail meanwhile (each waits at most
	// 200ms): every answer says not ready.
	for range 10 {
		r, ok := getReady(t, api)
		require.True(t, ok)
		assert.True(t, notReady(r), "no stream yet: %+v", r)
		time.Sleep(50 * time.Millisecond)
	}

	srv.Relisten()
	waitReady(t, p, api, "became ready once the stream opened", ready)
	srv.Close()
	waitReady(t, p, api, "became not ready once the stream was lost", notReady)
	srv.Relisten()
	waitReady(t, p, api, "became ready again", ready)
	assert.Equal(t, 0, p.Signal(os.Interrupt))
}
