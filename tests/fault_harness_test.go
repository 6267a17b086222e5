package tests

// The harness of the fault-injection suite (fault_*_test.go): a Benthos
// environment with two test plugins (a metrics exporter and a cache that
// record what the input does to them), a log capture, an SSE server whose
// every connection is scripted by the test and whose every request is
// recorded, and a runner for the real `sse` input in a stream.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/redpanda-data/benthos/v4/public/components/io"
	_ "github.com/redpanda-data/benthos/v4/public/components/pure"
	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	_ "github.com/benthos-sse/benthos-sse/input"
)

// waitLimit bounds every wait for something the test expects to happen.
// It is a failure bound, never a synchronisation device.
const waitLimit = 15 * time.Second

// noLeaks checks, when the test ends (after every other cleanup, so after
// the servers and streams closed), that the test left no goroutine behind.
// Call it first in a test that does not run in parallel.
func noLeaks(t *testing.T) {
	t.Helper()
	opt := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, opt) })
}

// ---------------------------------------------------------------------------
// Test plugins, registered on a private environment so that the global one
// (which the docs and lint tests walk) stays as the binary has it.

var (
	metricStores sync.Map // id -> *metricStore
	spyCaches    sync.Map // id -> *spyCache
)

// faultEnv is the global environment plus the `fault_metrics` exporter and
// the `fault_spy` cache.
var faultEnv = sync.OnceValue(func() *service.Environment {
	env := service.NewEnvironment()
	if err := env.RegisterMetricsExporter("fault_metrics",
		service.NewConfigSpec().Field(service.NewStringField("id")),
		func(conf *service.ParsedConfig, _ *service.Logger) (service.MetricsExporter, error) {
			id, err := conf.FieldString("id")
			if err != nil {
				return nil, err
			}
			s, ok := metricStores.Load(id)
			if !ok {
				return nil, fmt.Errorf("no metric store %q", id)
			}
			return s.(*metricStore), nil
		}); err != nil {
		panic(err)
	}
	if err := env.RegisterCache("fault_spy",
		service.NewConfigSpec().Field(service.NewStringField("id")),
		func(conf *service.ParsedConfig, _ *service.Resources) (service.Cache, error) {
			id, err := conf.FieldString("id")
			if err != nil {
				return nil, err
			}
			c, ok := spyCaches.Load(id)
			if !ok {
				return nil, fmt.Errorf("no spy cache %q", id)
			}
			return c.(*spyCache), nil
		}); err != nil {
		panic(err)
	}
	return env
})

// metricStore is a metrics exporter that keeps every counter and gauge in
// memory, keyed `name` or `name{key=value,...}`.
type metricStore struct {
	mu     sync.Mutex
	values map[string]int64
}

func newMetricStore(t *testing.T) (*metricStore, string) {
	s := &metricStore{values: map[string]int64{}}
	id := t.Name() + "/" + strconv.FormatInt(time.Now().UnixNano(), 36)
	metricStores.Store(id, s)
	t.Cleanup(func() { metricStores.Delete(id) })
	return s, id
}

func metricKey(name string, keys, values []string) string {
	if len(keys) == 0 {
		return name
	}
	parts := make([]string, len(keys))
	for i := range keys {
		parts[i] = keys[i] + "=" + values[i]
	}
	return name + "{" + strings.Join(parts, ",") + "}"
}

// Get returns the sum of the counters (or gauges) called name whose labels
// include every "key=value" of labels; Benthos adds `label` and `path`.
func (s *metricStore) Get(name string, labels ...string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var sum int64
	for k, v := range s.values {
		n, ls, _ := strings.Cut(strings.TrimSuffix(k, "}"), "{")
		if n != name {
			continue
		}
		have := strings.Split(ls, ",")
		ok := true
		for _, l := range labels {
			ok = ok && slices.Contains(have, l)
		}
		if ok {
			sum += v
		}
	}
	return sum
}

type metricFunc func(int64)

func (f metricFunc) Incr(n int64)   { f(n) }
func (f metricFunc) Set(n int64)    { f(n) }
func (f metricFunc) Timing(n int64) {}

func (s *metricStore) NewCounterCtor(name string, keys ...string) service.MetricsExporterCounterCtor {
	return func(values ...string) service.MetricsExporterCounter {
		k := metricKey(name, keys, values)
		return metricFunc(func(n int64) { s.mu.Lock(); s.values[k] += n; s.mu.Unlock() })
	}
}

func (s *metricStore) NewTimerCtor(name string, keys ...string) service.MetricsExporterTimerCtor {
	return func(...string) service.MetricsExporterTimer { return metricFunc(nil) }
}

func (s *metricStore) NewGaugeCtor(name string, keys ...string) service.MetricsExporterGaugeCtor {
	return func(values ...string) service.MetricsExporterGauge {
		k := metricKey(name, keys, values)
		return metricFunc(func(n int64) { s.mu.Lock(); s.values[k] = n; s.mu.Unlock() })
	}
}

func (s *metricStore) Close(context.Context) error { return nil }

// spyCache is an in-memory cache that calls onSet, under its lock, with
// every value written: a test sees each checkpoint write as it happens.
type spyCache struct {
	mu     sync.Mutex
	values map[string][]byte
	onSet  func(key string, value []byte)
}

func newSpyCache(t *testing.T, onSet func(key string, value []byte)) (*spyCache, string) {
	c := &spyCache{values: map[string][]byte{}, onSet: onSet}
	id := t.Name() + "/" + strconv.FormatInt(time.Now().UnixNano(), 36)
	spyCaches.Store(id, c)
	t.Cleanup(func() { spyCaches.Delete(id) })
	return c, id
}

func (c *spyCache) Get(_ context.Context, key string) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.values[key]
	if !ok {
		return nil, service.ErrKeyNotFound
	}
	return slices.Clone(v), nil
}

func (c *spyCache) Set(_ context.Context, key string, value []byte, _ *time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.values[key] = slices.Clone(value)
	if c.onSet != nil {
		c.onSet(key, value)
	}
	return nil
}

func (c *spyCache) Add(ctx context.Context, key string, value []byte, ttl *time.Duration) error {
	if _, err := c.Get(ctx, key); err == nil {
		return service.ErrKeyAlreadyExists
	}
	return c.Set(ctx, key, value, ttl)
}

func (c *spyCache) Delete(_ context.Context, key string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.values, key)
	return nil
}

func (c *spyCache) Close(context.Context) error { return nil }

// ---------------------------------------------------------------------------
// Failures off the test goroutine.

// problems collects what went wrong in an HTTP handler or a consumer
// callback, where require (t.FailNow) must not be called: it would stop
// that goroutine instead of the test and leave the test waiting. The test
// goroutine reports them: at once in the Wait* helpers, and when the test
// ends.
type problems struct {
	mu   sync.Mutex
	errs []string
}

// Add records a problem; it may be called from any goroutine.
func (p *problems) Add(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.errs = append(p.errs, fmt.Sprintf(format, args...))
}

// check fails the test, on the test goroutine, if any problem was recorded.
func (p *problems) check(t *testing.T) {
	t.Helper()
	p.mu.Lock()
	errs := slices.Clone(p.errs)
	p.errs = nil
	p.mu.Unlock()
	if len(errs) > 0 {
		t.Fatalf("failed off the test goroutine:\n%s", strings.Join(errs, "\n"))
	}
}

// ---------------------------------------------------------------------------
// Log capture.

// logRecord is one captured log line.
type logRecord struct {
	Level slog.Level
	Msg   string // the message and every attribute, as one line
	At    time.Time
}

// logCapture is a slog.Handler that keeps every record.
type logCapture struct {
	mu      sync.Mutex
	records []logRecord
	notify  chan struct{}
	attrs   []slog.Attr
	root    *logCapture
}

func newLogCapture() *logCapture {
	l := &logCapture{notify: make(chan struct{}, 1)}
	l.root = l
	return l
}

func (l *logCapture) Enabled(context.Context, slog.Level) bool { return true }

func (l *logCapture) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	for _, a := range l.attrs {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
	}
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	root := l.root
	root.mu.Lock()
	root.records = append(root.records, logRecord{Level: r.Level, Msg: b.String(), At: time.Now()})
	root.mu.Unlock()
	select {
	case root.notify <- struct{}{}:
	default:
	}
	return nil
}

func (l *logCapture) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &logCapture{root: l.root, attrs: append(slices.Clip(l.attrs), attrs...)}
}

func (l *logCapture) WithGroup(string) slog.Handler { return l }

// Matching returns the records whose line contains every one of subs.
func (l *logCapture) Matching(subs ...string) []logRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []logRecord
	for _, r := range l.records {
		ok := true
		for _, s := range subs {
			ok = ok && strings.Contains(r.Msg, s)
		}
		if ok {
			out = append(out, r)
		}
	}
	return out
}

// All returns every captured line.
func (l *logCapture) All() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	for _, r := range l.records {
		fmt.Fprintf(&b, "%s %s\n", r.Level, r.Msg)
	}
	return b.String()
}

// WaitFor waits until n records match subs and returns them.
func (l *logCapture) WaitFor(t *testing.T, n int, subs ...string) []logRecord {
	t.Helper()
	deadline := time.After(waitLimit)
	for {
		if m := l.Matching(subs...); len(m) >= n {
			return m
		}
		select {
		case <-l.notify:
		case <-deadline:
			t.Fatalf("waited %v for %d log lines containing %q; logs:\n%s", waitLimit, n, subs, l.All())
		}
	}
}

// ---------------------------------------------------------------------------
// The scripted SSE server.

// request is what the server saw of one request.
type request struct {
	N           int // 1-based
	LastEventID string
	HasLEI      bool
	Header      http.Header
	Path        string
	Query       url.Values
	At          time.Time
}

// sseServer is the one scripted server of the tests, in the spirit of
// httptest.Server: it serves a handler per connection attempt on 127.0.0.1
// and records every request. The handler gets the request's number, from 1,
// and reports what goes wrong with w.Fail (never require: it runs off the
// test goroutine).
type sseServer struct {
	t        *testing.T
	handler  func(w *sseWriter, r *http.Request, n int)
	problems problems

	mu     sync.Mutex
	reqs   []request
	notify chan struct{}

	addr string
	tls  *tls.Config // nil: plain HTTP
	cert *x509.Certificate
	srv  *http.Server
	ln   net.Listener
	wg   sync.WaitGroup
	stop chan struct{} // closed when the test ends: unblocks handlers
}

// newSSEServer starts a server on 127.0.0.1:0; it is closed when the test
// ends.
func newSSEServer(t *testing.T, handler func(w *sseWriter, r *http.Request, n int)) *sseServer {
	t.Helper()
	return startSSEServer(t, handler, nil, nil)
}

// newTLSSSEServer is newSSEServer over TLS, with httptest's self-signed
// certificate for 127.0.0.1 (see Certificate and CAFile).
func newTLSSSEServer(t *testing.T, handler func(w *sseWriter, r *http.Request, n int)) *sseServer {
	t.Helper()
	// Borrowed from an httptest server, which makes the certificate.
	donor := httptest.NewUnstartedServer(http.NotFoundHandler())
	donor.StartTLS()
	conf, cert := donor.TLS.Clone(), donor.Certificate()
	donor.Close()
	return startSSEServer(t, handler, conf, cert)
}

func startSSEServer(t *testing.T, handler func(w *sseWriter, r *http.Request, n int), conf *tls.Config, cert *x509.Certificate) *sseServer {
	t.Helper()
	s := &sseServer{t: t, handler: handler, notify: make(chan struct{}, 1), stop: make(chan struct{}), tls: conf, cert: cert}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s.addr = ln.Addr().String()
	s.serve(ln)
	t.Cleanup(func() {
		close(s.stop)
		s.Close()
		s.problems.check(t)
	})
	return s
}

// URL returns the server's base URL.
func (s *sseServer) URL() string {
	if s.tls != nil {
		return "https://" + s.addr
	}
	return "http://" + s.addr
}

// CAFile writes the certificate of a TLS server to a PEM file and returns
// its path, for tls.root_cas_file.
func (s *sseServer) CAFile() string {
	s.t.Helper()
	path := filepath.Join(s.t.TempDir(), "ca.pem")
	require.NoError(s.t, os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.cert.Raw}), 0o600))
	return path
}

func (s *sseServer) serve(ln net.Listener) {
	s.srv = &http.Server{Handler: http.HandlerFunc(s.serveHTTP)}
	if s.tls != nil {
		ln = tls.NewListener(ln, s.tls)
		s.srv.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes
	}
	s.ln = ln
	s.wg.Add(1)
	srv := s.srv
	go func() {
		defer s.wg.Done()
		_ = srv.Serve(ln)
	}()
}

func (s *sseServer) serveHTTP(w http.ResponseWriter, r *http.Request) {
	s.wg.Add(1)
	defer s.wg.Done()
	lei, has := r.Header["Last-Event-Id"]
	s.mu.Lock()
	n := len(s.reqs) + 1
	rq := request{N: n, HasLEI: has, Header: r.Header.Clone(), Path: r.URL.Path, Query: r.URL.Query(), At: time.Now()}
	if has {
		rq.LastEventID = lei[0]
	}
	s.reqs = append(s.reqs, rq)
	s.mu.Unlock()
	select {
	case s.notify <- struct{}{}:
	default:
	}
	s.handler(&sseWriter{w: w, r: r, stop: s.stop, problems: &s.problems}, r, n)
}

// Close stops the server and closes every connection; handlers must return
// when their request's context ends.
func (s *sseServer) Close() {
	if s.srv == nil {
		return
	}
	_ = s.srv.Close()
	s.srv = nil
	s.wg.Wait()
}

// Restart closes the server (every connection dropped, the port closed) and
// listens again on the same address.
func (s *sseServer) Restart() {
	s.t.Helper()
	s.Close()
	s.Relisten()
}

// Relisten listens again on the address of a closed server.
func (s *sseServer) Relisten() {
	s.t.Helper()
	// The port was just ours and Go sets SO_REUSEADDR, so this succeeds
	// unless another process took the port in between.
	ln, err := net.Listen("tcp", s.addr)
	require.NoError(s.t, err, "re-listen on %s", s.addr)
	s.serve(ln)
}

// Requests returns a copy of the requests so far.
func (s *sseServer) Requests() []request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.reqs)
}

// WaitRequests waits until the server saw n requests and returns them.
func (s *sseServer) WaitRequests(n int) []request {
	s.t.Helper()
	deadline := time.After(waitLimit)
	for {
		s.problems.check(s.t)
		if r := s.Requests(); len(r) >= n {
			return r
		}
		select {
		case <-s.notify:
		case <-deadline:
			s.t.Fatalf("waited %v for request %d; saw %d", waitLimit, n, len(s.Requests()))
		}
	}
}

// lastEventIDs returns the Last-Event-ID of each request ("-" when absent).
func lastEventIDs(reqs []request) []string {
	out := make([]string, len(reqs))
	for i, r := range reqs {
		out[i] = r.LastEventID
		if !r.HasLEI {
			out[i] = "-"
		}
	}
	return out
}

// sseWriter writes to one response, flushing after every write.
type sseWriter struct {
	w        http.ResponseWriter
	r        *http.Request
	stop     chan struct{}
	hdr      bool
	problems *problems // nil: Fail panics (a handler outside an sseServer)
}

// Fail records a problem for the test goroutine to report and drops the
// connection.
func (w *sseWriter) Fail(format string, args ...any) {
	if w.problems != nil {
		w.problems.Add(format, args...)
	}
	panic(http.ErrAbortHandler)
}

// ResumeAfter returns the integer Last-Event-ID of the request, 0 when it has
// none; another value fails the test (through Fail).
func (w *sseWriter) ResumeAfter() int {
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
func (w *sseWriter) Open() {
	if w.w.Header().Get("Content-Type") == "" {
		w.w.Header().Set("Content-Type", "text/event-stream")
	}
	w.w.WriteHeader(http.StatusOK)
	w.w.(http.Flusher).Flush()
	w.hdr = true
}

// Write sends s and flushes; it reports false once the client is gone.
func (w *sseWriter) Write(s string) bool {
	if !w.hdr {
		w.Open()
	}
	if _, err := io.WriteString(w.w, s); err != nil { // no copy of s
		return false
	}
	w.w.(http.Flusher).Flush()
	return w.r.Context().Err() == nil
}

// Event sends one event with an integer id.
func (w *sseWriter) Event(id int, data string) bool {
	return w.Write(fmt.Sprintf("id: %d\ndata: %s\n\n", id, data))
}

// Hold blocks until the client goes away or the test ends: a stalled
// connection.
func (w *sseWriter) Hold() {
	select {
	case <-w.r.Context().Done():
	case <-w.stop:
	}
}

// Abort drops the connection at once, mid-response (no chunked terminator).
func (w *sseWriter) Abort() {
	if !w.hdr {
		w.Open()
	}
	panic(http.ErrAbortHandler)
}

// ---------------------------------------------------------------------------
// Running the input.

// event is one message the stream delivered.
type event struct {
	Data string
	ID   string // sse_id metadata
	Type string // sse_event metadata
}

// runOpts configures runInput.
type runOpts struct {
	// Input is the YAML of the input (starting `sse:`).
	Input string
	// Resources is extra resources YAML (cache_resources: ...).
	Resources string
	// Consume, if set, replaces the default consumer; it must call
	// h.record for the messages it accepts.
	Consume func(h *running, ctx context.Context, b service.MessageBatch) error
	// Metrics attaches a metric store (h.Metrics).
	Metrics bool
}

// running is a stream running the real `sse` input.
type running struct {
	t       *testing.T
	stream  *service.Stream
	Logs    *logCapture
	Metrics *metricStore
	done    chan error // Run's result

	mu       sync.Mutex
	events   []event
	notify   chan struct{}
	calls    atomic.Int64 // consumer calls
	problems problems     // from consumer callbacks, reported by Wait*
}

// runInput builds a stream of the given input and the consumer and runs it
// until the test ends (or it ends by itself).
func runInput(t *testing.T, o runOpts) *running {
	t.Helper()
	h := &running{t: t, Logs: newLogCapture(), notify: make(chan struct{}, 1), done: make(chan error, 1)}
	b := faultEnv().NewStreamBuilder()
	b.SetLogger(slog.New(h.Logs))
	require.NoError(t, b.AddInputYAML(o.Input))
	if o.Resources != "" {
		require.NoError(t, b.AddResourcesYAML(o.Resources))
	}
	if o.Metrics {
		var id string
		h.Metrics, id = newMetricStore(t)
		require.NoError(t, b.SetMetricsYAML(fmt.Sprintf("fault_metrics: {id: %q}", id)))
	}
	consume := o.Consume
	if consume == nil {
		consume = func(h *running, _ context.Context, b service.MessageBatch) error {
			h.record(b)
			return nil
		}
	}
	require.NoError(t, b.AddBatchConsumerFunc(func(ctx context.Context, b service.MessageBatch) error {
		h.calls.Add(1)
		return consume(h, ctx, b)
	}))
	strm, err := b.Build()
	require.NoError(t, err)
	h.stream = strm
	go func() { h.done <- strm.Run(context.Background()) }()
	t.Cleanup(func() {
		h.Stop()
		h.problems.check(t)
	})
	return h
}

// Fail records a problem found in a consumer callback for the test
// goroutine to report.
func (h *running) Fail(format string, args ...any) { h.problems.Add(format, args...) }

// record keeps the messages of b as delivered events.
func (h *running) record(b service.MessageBatch) {
	evs := make([]event, 0, len(b))
	for _, m := range b {
		data, err := m.AsBytes()
		if err != nil {
			h.Fail("message %d of a batch: %v", len(evs), err)
			continue
		}
		id, _ := m.MetaGet("sse_id")
		typ, _ := m.MetaGet("sse_event")
		evs = append(evs, event{Data: string(data), ID: id, Type: typ})
	}
	h.mu.Lock()
	h.events = append(h.events, evs...)
	h.mu.Unlock()
	select {
	case h.notify <- struct{}{}:
	default:
	}
}

// Events returns the events delivered so far.
func (h *running) Events() []event {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.events)
}

// Count returns how many events were delivered so far.
func (h *running) Count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.events)
}

// WaitEvents waits until n events were delivered and returns them all.
func (h *running) WaitEvents(n int) []event {
	h.t.Helper()
	deadline := time.After(waitLimit)
	for {
		h.problems.check(h.t)
		if e := h.Events(); len(e) >= n {
			return e
		}
		select {
		case <-h.notify:
		case err := <-h.done:
			h.done <- err
			if e := h.Events(); len(e) >= n {
				return e
			}
			h.t.Fatalf("the stream ended (%v) after %d of %d events; logs:\n%s", err, h.Count(), n, h.Logs.All())
		case <-deadline:
			h.t.Fatalf("waited %v for %d events; got %d; logs:\n%s", waitLimit, n, h.Count(), h.Logs.All())
		}
	}
}

// Wait waits for Run to return by itself and returns its error.
func (h *running) Wait(limit time.Duration) error {
	h.t.Helper()
	select {
	case err := <-h.done:
		h.done <- err
		return err
	case <-time.After(limit):
		h.t.Fatalf("the stream did not end within %v; logs:\n%s", limit, h.Logs.All())
		return nil
	}
}

// Stop stops the stream (idempotent) and waits for Run to return.
func (h *running) Stop() {
	h.t.Helper()
	select {
	case err := <-h.done:
		h.done <- err
		return
	default:
	}
	start := time.Now()
	require.NoError(h.t, h.stream.StopWithin(10*time.Second))
	if d := time.Since(start); d > 5*time.Second {
		h.t.Errorf("stopping took %v", d)
	}
	select {
	case err := <-h.done:
		h.done <- err
	case <-time.After(waitLimit):
		h.t.Fatal("Run did not return after Stop")
	}
}

// ---------------------------------------------------------------------------
// Small helpers.

// datas returns the data of each event.
func datas(evs []event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Data
	}
	return out
}

// seq returns the strings "<prefix><i>" for i in [from, to].
func seq(prefix string, from, to int) []string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, prefix+strconv.Itoa(i))
	}
	return out
}

// freePort returns a 127.0.0.1 address nothing listens on.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// heapSampler records the peak HeapInuse while it runs.
type heapSampler struct {
	stop chan struct{}
	done chan struct{}
	peak atomic.Uint64
}

func sampleHeap(every time.Duration) *heapSampler {
	// From a collected heap: the garbage an earlier test left (such as
	// TestFault_BlockedOutput's buffers) is not this test's peak.
	runtime.GC()
	s := &heapSampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > s.peak.Load() {
				s.peak.Store(ms.HeapInuse)
			}
			select {
			case <-tick.C:
			case <-s.stop:
				return
			}
		}
	}()
	return s
}

// Stop ends sampling and returns the peak in bytes.
func (s *heapSampler) Stop() uint64 {
	close(s.stop)
	<-s.done
	return s.peak.Load()
}

const mib = 1 << 20

// sseYAML returns the YAML of an `sse` input for url with a fast reconnect
// (50ms asked, which the input floors at 100ms; 200ms at most) and the
// extra field lines given, each like "idle_timeout: 1s".
func sseYAML(url string, extra ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "sse:\n  url: %q\n  reconnect: {initial_interval: 50ms, max_interval: 200ms}\n", url)
	for _, e := range extra {
		b.WriteString("  " + e + "\n")
	}
	return b.String()
}

// gaps returns the times between consecutive records.
func gaps[T any](xs []T, at func(T) time.Time) []time.Duration {
	var out []time.Duration
	for i := 1; i < len(xs); i++ {
		out = append(out, at(xs[i]).Sub(at(xs[i-1])))
	}
	return out
}
