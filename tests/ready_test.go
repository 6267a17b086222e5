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

// eventNAndHold sends the request's number as one event (id n, data en)
// and holds the connection open.
func eventNAndHold(w *sseWriter, _ *http.Request, n int) {
	w.Event(n, fmt.Sprintf("e%d", n))
	w.Hold()
}

// readyConfig writes a config serving the HTTP API on api, with an sse
// input of the fields in sse (indented under it) and a drop output.
func readyConfig(t *testing.T, api, sse string) string {
	t.Helper()
	return writeConfigFile(t, "", "ready.yaml", fmt.Sprintf(`
http: {address: %q}
logger: {level: info}
input:
  sse:%s
output:
  drop: {}
`, api, sse))
}

// TestReady_FollowsTheStream points the binary at a closed port: /ready
// answers 503 with the input not connected, on every poll for a while (the
// input keeps retrying); once a server listens there and the stream opens,
// 200; when the server goes away, 503 again; when it is back, 200.
func TestReady_FollowsTheStream(t *testing.T) {
	t.Parallel()
	srv := newSSEServer(t, eventNAndHold)
	srv.Close() // the port is closed until Relisten
	api := freePort(t)
	p := startBinary(t, readyConfig(t, api, fmt.Sprintf(`
    url: %s/events
    reconnect: {initial_interval: 50ms, max_interval: 200ms}`, srv.URL())))

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

// TestReady_ManyStreams: with a streams list, /ready answers 200 while at
// least one stream is open; once none is, 503 with an error naming the
// streams that are not open and why; 200 again once one reopens.
func TestReady_ManyStreams(t *testing.T) {
	t.Parallel()
	srv := newSSEServer(t, eventNAndHold)
	down := "http://" + freePort(t) // nothing listens there
	api := freePort(t)
	p := startBinary(t, readyConfig(t, api, fmt.Sprintf(`
    reconnect: {initial_interval: 50ms, max_interval: 200ms}
    streams:
      - {name: up, url: %s/up}
      - {name: down, url: %s/down}`, srv.URL(), down)))

	ready := func(r readiness) bool { return r.Code == http.StatusOK && r.Input }
	waitReady(t, p, api, "became ready with one of two streams open", ready)
	srv.Close()
	r := waitReady(t, p, api, "said which streams are not open", func(r readiness) bool {
		return r.Code == http.StatusServiceUnavailable && strings.Contains(r.InputErr, "2 of 2 streams not open")
	})
	assert.False(t, r.Input)
	assert.Contains(t, r.InputErr, `"down": `)
	assert.Contains(t, r.InputErr, `"up": `)
	assert.Contains(t, r.InputErr, "connection refused")
	srv.Relisten()
	waitReady(t, p, api, "became ready again", ready)
	assert.Equal(t, 0, p.Signal(os.Interrupt))
}
