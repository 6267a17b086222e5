package tests

// The scripted SSE server of the tests is internal/ssetest's, shared with
// package input. These names keep the tests' own spelling; sseWriter adds
// the fields w (the response) and stop (closed when the test ends) that
// the handlers here use.

import (
	"net/http"
	"testing"

	"github.com/benthos-sse/benthos-sse/internal/ssetest"
)

type (
	// sseServer is the one scripted server of the tests: see ssetest.Server.
	sseServer = ssetest.Server
	// request is what the server saw of one request.
	request = ssetest.Request
)

// sseWriter writes to one response, flushing after every write: see
// ssetest.Writer.
type sseWriter struct {
	*ssetest.Writer
	w    http.ResponseWriter
	stop <-chan struct{}
}

// handle adapts a handler written against sseWriter.
func handle(handler func(w *sseWriter, r *http.Request, n int)) ssetest.Handler {
	return func(w *ssetest.Writer, r *http.Request, n int) {
		handler(&sseWriter{Writer: w, w: w.ResponseWriter(), stop: w.Stopped()}, r, n)
	}
}

// newSSEServer starts a server on 127.0.0.1:0; it is closed when the test
// ends.
func newSSEServer(t *testing.T, handler func(w *sseWriter, r *http.Request, n int)) *sseServer {
	t.Helper()
	return ssetest.NewServer(t, handle(handler))
}

// newTLSSSEServer is newSSEServer over TLS, with httptest's self-signed
// certificate for 127.0.0.1 (see CAFile).
func newTLSSSEServer(t *testing.T, handler func(w *sseWriter, r *http.Request, n int)) *sseServer {
	t.Helper()
	return ssetest.NewTLSServer(t, handle(handler))
}

// lastEventIDs returns the Last-Event-ID of each request ("-" when absent).
func lastEventIDs(reqs []request) []string { return ssetest.LastEventIDs(reqs) }
