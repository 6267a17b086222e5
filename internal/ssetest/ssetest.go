// Package ssetest is the one scripted event-stream server of the tests of
// package input and of the black-box tests in tests/, in the spirit of
// net/http/httptest: it serves a handler per connection attempt on
// 127.0.0.1, records every request, and reports what goes wrong in a
// handler on the test goroutine.
//
// It imports only the standard library and testify, so that the library
// stays light: a program importing sse or input never builds it.
package ssetest

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// WaitLimit bounds every wait for something a test expects to happen. It
// is a failure bound, never a synchronisation device.
const WaitLimit = 15 * time.Second

// Problems collects what went wrong in an HTTP handler or a consumer
// callback, where require (t.FailNow) must not be called: it would stop
// that goroutine instead of the test and leave the test waiting. The test
// goroutine reports them with Check: at once in the Wait* helpers, and when
// the test ends. The zero value is ready to use.
type Problems struct {
	mu   sync.Mutex
	errs []string
}

// Add records a problem; it may be called from any goroutine.
func (p *Problems) Add(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.errs = append(p.errs, fmt.Sprintf(format, args...))
}

// Check fails the test, on the test goroutine, if any problem was recorded.
func (p *Problems) Check(t testing.TB) {
	t.Helper()
	p.mu.Lock()
	errs := slices.Clone(p.errs)
	p.errs = nil
	p.mu.Unlock()
	if len(errs) > 0 {
		t.Fatalf("failed off the test goroutine:\n%s", strings.Join(errs, "\n"))
	}
}

// Request is what the server saw of one request.
type Request struct {
	N           int // 1-based
	LastEventID string
	HasLEI      bool
	Header      http.Header
	Path        string
	Query       url.Values
	At          time.Time
}

// LastEventIDs returns the Last-Event-ID of each request ("-" when absent).
func LastEventIDs(reqs []Request) []string {
	out := make([]string, len(reqs))
	for i, r := range reqs {
		out[i] = r.LastEventID
		if !r.HasLEI {
			out[i] = "-"
		}
	}
	return out
}

// Handler answers the n-th request (from 1). It reports what goes wrong
// with w.Fail, never with require: it runs off the test goroutine.
type Handler func(w *Writer, r *http.Request, n int)

// Server is a scripted event-stream server on 127.0.0.1.
type Server struct {
	t        testing.TB
	handler  Handler
	problems Problems

	mu     sync.Mutex
	reqs   []Request
	notify chan struct{}

	addr string
	tls  *tls.Config // nil: plain HTTP
	cert *x509.Certificate
	srv  *http.Server
	wg   sync.WaitGroup
	stop chan struct{} // closed when the test ends: unblocks handlers
}

// NewServer starts a server on 127.0.0.1:0; it is closed, and the problems
// its handlers reported are checked, when the test ends.
func NewServer(t testing.TB, handler Handler) *Server {
	t.Helper()
	return start(t, handler, nil, nil)
}

// NewTLSServer is NewServer over TLS, with httptest's self-signed
// certificate for 127.0.0.1 (see CAFile).
func NewTLSServer(t testing.TB, handler Handler) *Server {
	t.Helper()
	// Borrowed from an httptest server, which makes the certificate.
	donor := httptest.NewUnstartedServer(http.NotFoundHandler())
	donor.StartTLS()
	conf, cert := donor.TLS.Clone(), donor.Certificate()
	donor.Close()
	return start(t, handler, conf, cert)
}

func start(t testing.TB, handler Handler, conf *tls.Config, cert *x509.Certificate) *Server {
	t.Helper()
	s := &Server{t: t, handler: handler, notify: make(chan struct{}, 1), stop: make(chan struct{}), tls: conf, cert: cert}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s.addr = ln.Addr().String()
	s.serve(ln)
	t.Cleanup(func() {
		close(s.stop)
		s.Close()
		s.problems.Check(t)
	})
	return s
}

// URL returns the server's base URL.
func (s *Server) URL() string {
	if s.tls != nil {
		return "https://" + s.addr
	}
	return "http://" + s.addr
}

// Addr returns the server's host:port.
func (s *Server) Addr() string { return s.addr }

// CAFile writes the certificate of a TLS server to a PEM file and returns
// its path, for tls.root_cas_file.
func (s *Server) CAFile() string {
	s.t.Helper()
	path := filepath.Join(s.t.TempDir(), "ca.pem")
	require.NoError(s.t, os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.cert.Raw}), 0o600))
	return path
}

func (s *Server) serve(ln net.Listener) {
	s.srv = &http.Server{Handler: http.HandlerFunc(s.serveHTTP)}
	if s.tls != nil {
		ln = tls.NewListener(ln, s.tls)
		s.srv.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes
	}
	s.wg.Add(1)
	srv := s.srv
	go func() {
		defer s.wg.Done()
		_ = srv.Serve(ln)
	}()
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	s.wg.Add(1)
	defer s.wg.Done()
	lei, has := r.Header["Last-Event-Id"]
	s.mu.Lock()
	n := len(s.reqs) + 1
	rq := Request{N: n, HasLEI: has, Header: r.Header.Clone(), Path: r.URL.Path, Query: r.URL.Query(), At: time.Now()}
	if has {
		rq.LastEventID = lei[0]
	}
	s.reqs = append(s.reqs, rq)
	s.mu.Unlock()
	select {
	case s.notify <- struct{}{}:
	default:
	}
	s.handler(&Writer{w: w, r: r, stop: s.stop, problems: &s.problems}, r, n)
}

// Close stops the server and closes every connection; handlers must return
// when their request's context ends.
func (s *Server) Close() {
	if s.srv == nil {
		return
	}
	_ = s.srv.Close()
	s.srv = nil
	s.wg.Wait()
}

// Restart closes the server (every connection dropped, the port closed) and
// listens again on the same address.
func (s *Server) Restart() {
	s.t.Helper()
	s.Close()
	s.Relisten()
}

// Relisten listens again on the address of a closed server.
func (s *Server) Relisten() {
	s.t.Helper()
	// The port was just ours and Go sets SO_REUSEADDR, so this succeeds
	// unless another process took the port in between.
	ln, err := net.Listen("tcp", s.addr)
	require.NoError(s.t, err, "re-listen on %s", s.addr)
	s.serve(ln)
}

// Requests returns a copy of the requests so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.reqs)
}

// WaitRequests waits until the server saw n requests and returns them.
func (s *Server) WaitRequests(n int) []Request {
	s.t.Helper()
	deadline := time.After(WaitLimit)
	for {
		s.problems.Check(s.t)
		if r := s.Requests(); len(r) >= n {
			return r
		}
		select {
		case <-s.notify:
		case <-deadline:
			s.t.Fatalf("waited %v for request %d; saw %d", WaitLimit, n, len(s.Requests()))
		}
	}
}

// Writer writes to one response, flushing after every write.
type Writer struct {
	w        http.ResponseWriter
	r        *http.Request
	stop     chan struct{}
	hdr      bool
	problems *Problems
}

// ResponseWriter returns the response itself, for a handler that answers
// with something other than a stream (a status, a redirect, an error).
func (w *Writer) ResponseWriter() http.ResponseWriter { return w.w }

// Stopped returns a channel closed when the test ends, which a handler
// that loops should watch besides its request's context.
func (w *Writer) Stopped() <-chan struct{} { return w.stop }

// Fail records a problem for the test goroutine to report and drops the
// connection.
func (w *Writer) Fail(format string, args ...any) {
	w.problems.Add(format, args...)
	panic(http.ErrAbortHandler)
}

// ResumeAfter returns the integer Last-Event-ID of the request, 0 when it has
// none; another value fails the test (through Fail).
func (w *Writer) ResumeAfter() int {
	v := w.r.Header.Get("Last-Event-ID")
	if v == "" {
		return 0
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		w.Fail("request %s: Last-Event-ID %q is not an integer: %v", w.r.URL.Path, v, err)
	}
	return n
}

// Open sends the 200 header, with Content-Type text/event-stream unless the
// handler set one.
func (w *Writer) Open() {
	if w.w.Header().Get("Content-Type") == "" {
		w.w.Header().Set("Content-Type", "text/event-stream")
	}
	w.w.WriteHeader(http.StatusOK)
	w.w.(http.Flusher).Flush()
	w.hdr = true
}

// Write sends s and flushes; it reports false once the client is gone.
func (w *Writer) Write(s string) bool {
	return w.send(func() error {
		_, err := io.WriteString(w.w, s) // no copy of s
		return err
	})
}

// WriteBytes is Write for bytes, without a copy.
func (w *Writer) WriteBytes(b []byte) bool {
	return w.send(func() error {
		_, err := w.w.Write(b)
		return err
	})
}

// send opens the response if needed, writes, and flushes.
func (w *Writer) send(write func() error) bool {
	if !w.hdr {
		w.Open()
	}
	if write() != nil {
		return false
	}
	w.w.(http.Flusher).Flush()
	return w.r.Context().Err() == nil
}

// Event sends one event with an integer id.
func (w *Writer) Event(id int, data string) bool {
	return w.Write(fmt.Sprintf("id: %d\ndata: %s\n\n", id, data))
}

// Events sends the events from to to (inclusive), each with its integer id
// and the data prefix followed by the id, one write each, as seq in tests
// names them; it stops, reporting false, once the client is gone.
func (w *Writer) Events(prefix string, from, to int) bool {
	for i := from; i <= to; i++ {
		if !w.Event(i, prefix+strconv.Itoa(i)) {
			return false
		}
	}
	return true
}

// Hold blocks until the client goes away or the test ends: a stalled
// connection.
func (w *Writer) Hold() {
	select {
	case <-w.r.Context().Done():
	case <-w.stop:
	}
}

// Abort drops the connection at once, mid-response (no chunked terminator).
func (w *Writer) Abort() {
	if !w.hdr {
		w.Open()
	}
	panic(http.ErrAbortHandler)
}
