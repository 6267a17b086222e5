package sse

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"
)

// esBound is how long a test waits for something that should happen at once.
// It is only a failure bound: no test waits for it to pass.
//
// Tests synchronise with the code under test on channels (handlers signal
// and block until released), never with sleeps. Where what is tested is
// time passing itself (a reconnection wait, backoff, retry, an idle timeout,
// heartbeats), the wait is the event source's own, and the test asserts only
// that at least the time asked for passed, which a slow machine cannot break.
// One test lets time pass on purpose: TestEventSource_IdleTimeoutIgnoresSlowConsumer
// is a consumer busy for longer than the idle timeout, which a correct event
// source ignores however long it lasts.
const esBound = 5 * time.Second

// esServer is a test server that counts requests and lets handlers block
// until the client goes away or the test ends.
type esServer struct {
	*httptest.Server
	requests atomic.Int32
	done     chan struct{} // closed at cleanup, before the server closes
}

// newESServer starts a server whose handler h gets the server and each
// request's number, counting from 1. It is closed at cleanup, which also
// closes the idle connections of s.Client().
func newESServer(t *testing.T, h esHandler) *esServer {
	t.Helper()
	s := &esServer{done: make(chan struct{})}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h(s, int(s.requests.Add(1)), w, r)
	}))
	t.Cleanup(s.Close)
	t.Cleanup(func() { close(s.done) }) // runs first: releases held handlers
	return s
}

// hold blocks a handler until the client drops the connection or the test
// ends.
func (s *esServer) hold(r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-s.done:
	}
}

// wantRequests fails the test unless s has had n requests.
func (s *esServer) wantRequests(t *testing.T, n int) {
	t.Helper()
	if got := s.requests.Load(); got != int32(n) {
		t.Fatalf("got %d requests, want %d", got, n)
	}
}

// stream starts an event stream response and flushes chunk, which may be
// empty to send just the headers.
func stream(w http.ResponseWriter, chunk string) {
	w.Header().Set("Content-Type", "text/event-stream")
	io.WriteString(w, chunk)
	w.(http.Flusher).Flush()
}

// esHandler is the handler of an esServer: it gets the server and the
// request's number, counting from 1.
type esHandler = func(s *esServer, n int, w http.ResponseWriter, r *http.Request)

// sendAndHold is a handler that streams chunks, flushing each, and then
// keeps the stream open until the client goes away or the test ends.
func sendAndHold(chunks ...string) esHandler {
	return func(s *esServer, n int, w http.ResponseWriter, r *http.Request) {
		for _, c := range chunks {
			stream(w, c)
		}
		s.hold(r)
	}
}

// sendAndEnd is a handler that streams chunk and ends the response body,
// which the client sees as a lost connection.
func sendAndEnd(chunk string) esHandler {
	return func(s *esServer, n int, w http.ResponseWriter, r *http.Request) {
		stream(w, chunk)
	}
}

// numbered is a handler that streams one event whose data is the request's
// number, then keeps the stream open for request holdFrom and the later
// ones, and ends it for those before.
func numbered(holdFrom int) esHandler {
	return func(s *esServer, n int, w http.ResponseWriter, r *http.Request) {
		stream(w, fmt.Sprintf("data: %d\n\n", n))
		if n >= holdFrom {
			s.hold(r)
		}
	}
}

// timed is handler h that first sends the time each request arrived.
func timed(arrived chan<- time.Time, h esHandler) esHandler {
	return func(s *esServer, n int, w http.ResponseWriter, r *http.Request) {
		arrived <- time.Now()
		h(s, n, w, r)
	}
}

// newES returns an event source for s that is closed at cleanup. It uses
// s.Client() unless opts has a client, and a 1ms reconnection time unless
// opts has one.
func newES(t *testing.T, s *esServer, opts Options) *EventSource {
	t.Helper()
	return newESURL(t, s, s.URL, opts)
}

func newESURL(t *testing.T, s *esServer, rawURL string, opts Options) *EventSource {
	t.Helper()
	if opts.Client == nil {
		opts.Client = s.Client()
	}
	if opts.ReconnectionTime == 0 {
		opts.ReconnectionTime = time.Millisecond
	}
	es, err := New(rawURL, opts)
	if err != nil {
		t.Fatalf("New(%q): %v", rawURL, err)
	}
	t.Cleanup(func() { es.Close() })
	return es
}

type nextResult struct {
	ev  Event
	err error
}

// goNext calls es.Next(ctx) on another goroutine and returns where its
// result will arrive. Close at cleanup ends a Next the test abandons.
func goNext(ctx context.Context, es *EventSource) <-chan nextResult {
	ch := make(chan nextResult, 1)
	go func() {
		ev, err := es.Next(ctx)
		ch <- nextResult{ev, err}
	}()
	return ch
}

// await returns the result of a goNext, failing the test after esBound.
func await(t *testing.T, ch <-chan nextResult) (Event, error) {
	t.Helper()
	select {
	case r := <-ch:
		return r.ev, r.err
	case <-time.After(esBound):
		t.Fatalf("Next did not return within %v", esBound)
		return Event{}, nil
	}
}

// next calls es.Next with a background context, bounded by esBound.
func next(t *testing.T, es *EventSource) (Event, error) {
	t.Helper()
	return await(t, goNext(context.Background(), es))
}

// wantData calls Next and fails unless it returns an event with data want.
func wantData(t *testing.T, es *EventSource, want string) Event {
	t.Helper()
	ev, err := next(t, es)
	if err != nil {
		t.Fatalf("Next: got error %v, want event %q", err, want)
	}
	if string(ev.Data) != want {
		t.Fatalf("Next: got data %q, want %q", ev.Data, want)
	}
	return ev
}

// signal waits for ch, failing the test after esBound.
func signal[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(esBound):
		t.Fatalf("%s did not happen within %v", what, esBound)
		var zero T
		return zero
	}
}

// readSignal is a RoundTripper whose response bodies send on reading before
// each Read, so that a test knows Next is (about to be) blocked in a read.
type readSignal struct {
	base    http.RoundTripper
	reading chan struct{}
}

func (rs *readSignal) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := rs.base.RoundTrip(req)
	if err == nil {
		resp.Body = &signalReader{ReadCloser: resp.Body, reading: rs.reading}
	}
	return resp, err
}

type signalReader struct {
	io.ReadCloser
	reading chan struct{}
}

func (r *signalReader) Read(p []byte) (int, error) {
	select {
	case r.reading <- struct{}{}:
	default:
	}
	return r.ReadCloser.Read(p)
}

// newSignalPipe returns the read side of a pipe, which signals on reading
// before each Read, and its write side, which is closed at cleanup.
func newSignalPipe(t *testing.T) (*signalReader, *io.PipeWriter) {
	pr, pw := io.Pipe()
	t.Cleanup(func() { pw.Close() })
	return &signalReader{ReadCloser: pr, reading: make(chan struct{}, 1)}, pw
}

// countingTransport counts the requests it carries.
type countingTransport struct {
	base http.RoundTripper
	n    atomic.Int32
}

func (c *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.base.RoundTrip(req)
}

func TestReadyState_String(t *testing.T) {
	tests := []struct {
		s    ReadyState
		want string
	}{
		{Connecting, "CONNECTING"},
		{Open, "OPEN"},
		{Closed, "CLOSED"},
		{ReadyState(7), "ReadyState(7)"},
	}
	for _, tt := range tests {
		if got := tt.s.String(); got != tt.want {
			t.Errorf("ReadyState(%d).String() = %q, want %q", int32(tt.s), got, tt.want)
		}
	}
}

func TestNew_InvalidURL(t *testing.T) {
	for _, raw := range []string{"ftp://127.0.0.1/", "127.0.0.1:80", "http://", "http://[::1", "/path"} {
		if es, err := New(raw, Options{}); err == nil {
			es.Close()
			t.Errorf("New(%q): got no error, want one", raw)
		}
	}
}

func TestEventSource_OpenMessageErrorOrder(t *testing.T) {
	t.Parallel()
	s := newESServer(t, numbered(2))
	var got []string // appended on the goroutine in Next only
	var es *EventSource
	es = newES(t, s, Options{
		OnOpen: func(resp *http.Response) {
			if resp == nil || resp.StatusCode != http.StatusOK {
				t.Errorf("OnOpen: got response %v, want a 200 response", resp)
			}
			got = append(got, "open "+es.ReadyState().String())
		},
		OnError: func(err error) {
			if !errors.Is(err, ErrStreamEnded) {
				t.Errorf("OnError: got %v, want ErrStreamEnded", err)
			}
			got = append(got, "error "+es.ReadyState().String())
		},
	})
	if es.URL() != s.URL {
		t.Fatalf("URL() = %q, want %q", es.URL(), s.URL)
	}
	if es.WithCredentials() {
		t.Fatalf("WithCredentials() = true, want false")
	}
	if st := es.ReadyState(); st != Connecting {
		t.Fatalf("before Next: ReadyState = %v, want CONNECTING", st)
	}

	wantData(t, es, "1")
	got = append(got, "message 1 "+es.ReadyState().String())
	wantData(t, es, "2")
	got = append(got, "message 2 "+es.ReadyState().String())

	want := []string{
		"open OPEN", "message 1 OPEN",
		"error CONNECTING", // the body ended: reconnecting
		"open OPEN", "message 2 OPEN",
	}
	if strings.Join(got, ", ") != strings.Join(want, ", ") {
		t.Fatalf("got events\n\t%q\nwant\n\t%q", got, want)
	}
	s.wantRequests(t, 2)
	if err := es.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if st := es.ReadyState(); st != Closed {
		t.Fatalf("after Close: ReadyState = %v, want CLOSED", st)
	}
	wantNextClosed(t, es, "Next after Close")
}

func TestEventSource_RequestHeaders(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		lastEventID string // Options.LastEventID
		wantFirst   string // Last-Event-ID of the first request; "" means absent
	}{
		{name: "no last event id on first request", wantFirst: ""},
		{name: "options last event id on first request", lastEventID: "7", wantFirst: "7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			headers := make(chan http.Header, 2)
			s := newESServer(t, func(s *esServer, n int, w http.ResponseWriter, r *http.Request) {
				headers <- r.Header.Clone()
				if n == 1 {
					stream(w, "id: 42\ndata: a\n\n")
					return // reconnect
				}
				stream(w, "data: b\n\n")
				s.hold(r)
			})
			callerHeader := http.Header{
				"X-Custom": {"yes"},
				"Accept":   {"text/html"}, // overridden
			}
			es := newES(t, s, Options{Header: callerHeader, LastEventID: tt.lastEventID})
			callerHeader.Set("X-Custom", "changed after New") // has no effect

			if got := es.LastEventID(); got != tt.lastEventID {
				t.Fatalf("LastEventID() before Next = %q, want %q", got, tt.lastEventID)
			}
			wantData(t, es, "a")
			if got := es.LastEventID(); got != "42" {
				t.Fatalf("LastEventID() = %q, want 42", got)
			}
			ev := wantData(t, es, "b")
			if ev.LastEventID != "42" {
				t.Fatalf("second event: LastEventID %q, want 42 kept across reconnection", ev.LastEventID)
			}

			for i, wantID := range []string{tt.wantFirst, "42"} {
				h := <-headers
				if v, ok := h["Last-Event-Id"]; wantID == "" && ok {
					t.Errorf("request %d: Last-Event-ID %q sent, want none", i+1, v)
				} else if wantID != "" && h.Get("Last-Event-ID") != wantID {
					t.Errorf("request %d: Last-Event-ID %q, want %q", i+1, h.Get("Last-Event-ID"), wantID)
				}
				if got := h.Values("Accept"); len(got) != 1 || got[0] != "text/event-stream" {
					t.Errorf("request %d: Accept %q, want [text/event-stream]", i+1, got)
				}
				if got := h.Get("Cache-Control"); got != "no-cache" {
					t.Errorf("request %d: Cache-Control %q, want no-cache", i+1, got)
				}
				if got := h.Get("X-Custom"); got != "yes" {
					t.Errorf("request %d: X-Custom %q, want yes", i+1, got)
				}
			}
		})
	}
}

func TestEventSource_RetryFieldSetsReconnectionTime(t *testing.T) {
	t.Parallel()
	arrived := make(chan time.Time, 2)
	s := newESServer(t, func(s *esServer, n int, w http.ResponseWriter, r *http.Request) {
		arrived <- time.Now()
		if n == 1 {
			stream(w, "retry: 50\n\n")
			return
		}
		stream(w, "data: x\n\n")
		s.hold(r)
	})
	es := newES(t, s, Options{ReconnectionTime: time.Millisecond})
	wantData(t, es, "x")
	if got := es.ReconnectionTime(); got != 50*time.Millisecond {
		t.Fatalf("ReconnectionTime() = %v, want 50ms", got)
	}
	first, second := <-arrived, <-arrived
	if gap := second.Sub(first); gap < 50*time.Millisecond {
		t.Fatalf("reconnected after %v, want at least the 50ms the server asked for", gap)
	}
}

func TestEventSource_MaxReconnectionTimeCapsRetry(t *testing.T) {
	t.Parallel()
	s := newESServer(t, func(s *esServer, n int, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			stream(w, "retry: 999999999\n\n") // about 11.6 days
			return
		}
		stream(w, "data: x\n\n")
		s.hold(r)
	})
	es := newES(t, s, Options{MaxReconnectionTime: 20 * time.Millisecond})
	wantData(t, es, "x") // within esBound, not 11 days
	if got := es.ReconnectionTime(); got != 20*time.Millisecond {
		t.Fatalf("ReconnectionTime() = %v, want the 20ms cap", got)
	}
}

func TestEventSource_BackoffGrowsAcrossFailures(t *testing.T) {
	t.Parallel()
	const (
		base     = 5 * time.Millisecond
		failures = 4
	)
	arrived := make(chan time.Time, failures+1)
	s := newESServer(t, func(s *esServer, n int, w http.ResponseWriter, r *http.Request) {
		arrived <- time.Now()
		if n <= failures {
			// A network failure: the connection drops before any response.
			conn, _, err := w.(http.Hijacker).Hijack()
			if err != nil {
				t.Errorf("hijack: %v", err)
				return
			}
			conn.Close()
			return
		}
		stream(w, "data: up\n\n")
		s.hold(r)
	})
	var errs atomic.Int32
	es := newES(t, s, Options{
		ReconnectionTime: base,
		BackoffFactor:    2,
		OnError: func(err error) {
			var re *ResponseError
			if errors.As(err, &re) {
				t.Errorf("OnError: got %v, want a network error", err)
			}
			errs.Add(1)
		},
	})
	wantData(t, es, "up")
	if n := errs.Load(); n != failures {
		t.Fatalf("OnError called %d times, want %d", n, failures)
	}
	prev := <-arrived
	for i := 1; i <= failures; i++ {
		at := <-arrived
		want := base << (i - 1)
		if gap := at.Sub(prev); gap < want {
			t.Errorf("attempt %d came %v after failure %d, want at least %v", i+1, gap, i, want)
		}
		prev = at
	}
	if es.backoff.failures != 0 {
		t.Fatalf("after an open: %d failures counted, want 0", es.backoff.failures)
	}
}

func TestEventSource_ResponseFailsConnection(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		status      int
		contentType string // "-" means no Content-Type header at all
	}{
		{name: "204 no content", status: http.StatusNoContent, contentType: "-"},
		{name: "500 with event-stream type", status: http.StatusInternalServerError, contentType: "text/event-stream"},
		{name: "404", status: http.StatusNotFound, contentType: "text/plain; charset=utf-8"},
		{name: "200 text/html", status: http.StatusOK, contentType: "text/html"},
		{name: "200 without content type", status: http.StatusOK, contentType: "-"},
		{name: "200 event-stream prefix", status: http.StatusOK, contentType: "text/event-streamx"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newESServer(t, func(s *esServer, n int, w http.ResponseWriter, r *http.Request) {
				if tt.contentType == "-" {
					w.Header()["Content-Type"] = nil // no sniffing either
				} else {
					w.Header().Set("Content-Type", tt.contentType)
				}
				w.WriteHeader(tt.status)
				if tt.status != http.StatusNoContent {
					io.WriteString(w, "data: not an event stream\n\n")
				}
			})
			var errs []error // appended on the goroutine in Next only
			var es *EventSource
			es = newES(t, s, Options{OnError: func(err error) {
				if st := es.ReadyState(); st != Closed {
					t.Errorf("in OnError: ReadyState = %v, want CLOSED", st)
				}
				errs = append(errs, err)
			}})

			_, err := next(t, es)
			var re *ResponseError
			if !errors.As(err, &re) {
				t.Fatalf("Next: got %v, want a *ResponseError", err)
			}
			wantCT := tt.contentType
			if wantCT == "-" {
				wantCT = ""
			}
			if re.StatusCode != tt.status || re.ContentType != wantCT || re.URL != s.URL {
				t.Fatalf("got %+v, want status %d, content type %q, URL %q", *re, tt.status, wantCT, s.URL)
			}
			if re.Error() == "" {
				t.Fatalf("empty Error()")
			}
			if st := es.ReadyState(); st != Closed {
				t.Fatalf("ReadyState = %v, want CLOSED", st)
			}
			if len(errs) != 1 || errs[0] != err {
				t.Fatalf("OnError got %v, want exactly [%v]", errs, err)
			}
			for range 2 {
				if _, again := next(t, es); again != err {
					t.Fatalf("later Next: got %v, want the same error %v", again, err)
				}
			}
			if ev, ok, err := es.Buffered(); ok || err != nil {
				t.Fatalf("Buffered() = %v, %v, %v; want nothing", ev, ok, err)
			}
			s.wantRequests(t, 1)
			if len(errs) != 1 {
				t.Fatalf("OnError called %d times, want once", len(errs))
			}
		})
	}
}

func TestEventSource_ContentTypeAccepted(t *testing.T) {
	t.Parallel()
	for _, ct := range []string{
		"text/event-stream",
		"text/event-stream; charset=utf-8",
		"text/event-stream;charset=UTF-8",
		"Text/Event-Stream",
		" text/event-stream ; charset", // malformed parameter: the type still counts
	} {
		t.Run(ct, func(t *testing.T) {
			t.Parallel()
			s := newESServer(t, func(s *esServer, n int, w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", ct)
				io.WriteString(w, "data: ok\n\n")
				w.(http.Flusher).Flush()
				s.hold(r)
			})
			es := newES(t, s, Options{})
			wantData(t, es, "ok")
			if st := es.ReadyState(); st != Open {
				t.Fatalf("ReadyState = %v, want OPEN", st)
			}
		})
	}
}

func TestEventSource_RetryResponse(t *testing.T) {
	t.Parallel()
	s := newESServer(t, func(s *esServer, n int, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		stream(w, "data: ok\n\n")
		s.hold(r)
	})
	var errs []error // appended on the goroutine in Next only
	var es *EventSource
	es = newES(t, s, Options{
		RetryResponse: func(re *ResponseError) bool { return re.StatusCode == http.StatusServiceUnavailable },
		OnError: func(err error) {
			if st := es.ReadyState(); st != Connecting {
				t.Errorf("in OnError: ReadyState = %v, want CONNECTING", st)
			}
			errs = append(errs, err)
		},
	})
	wantData(t, es, "ok")
	var re *ResponseError
	if len(errs) != 1 || !errors.As(errs[0], &re) || re.StatusCode != http.StatusServiceUnavailable || re.RetryAfter != 0 {
		t.Fatalf("OnError got %v, want one 503 *ResponseError with RetryAfter 0", errs)
	}
	s.wantRequests(t, 2)
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name, in string
		want     time.Duration
	}{
		{"empty", "", 0},
		{"zero", "0", 0},
		{"seconds", "5", 5 * time.Second},
		{"spaces", "  120 ", 2 * time.Minute},
		{"leading zeros", "007", 7 * time.Second},
		{"negative", "-1", 0},
		{"fraction", "1.5", 0},
		{"garbage", "soon", 0},
		{"http date", now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{"rfc 850 date", now.Add(time.Hour).Format(time.RFC850), time.Hour},
		{"asctime date", now.Add(time.Minute).Format(time.ANSIC), time.Minute},
		{"past date", now.Add(-time.Hour).Format(http.TimeFormat), 0},
		{"now", now.Format(http.TimeFormat), 0},
		{"largest that fits", "9223372036", 9223372036 * time.Second},
		{"just too large", "9223372037", math.MaxInt64},
		{"huge", "99999999999999999999999999", math.MaxInt64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parseRetryAfter(tt.in, now); got != tt.want {
				t.Fatalf("parseRetryAfter(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestEventSource_RedirectFollowed(t *testing.T) {
	t.Parallel()
	auth := make(chan string, 1)
	s := newESServer(t, func(s *esServer, n int, w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/start":
			http.Redirect(w, r, "/stream", http.StatusFound)
		case "/stream":
			auth <- r.Header.Get("Authorization")
			stream(w, "data: moved\n\n")
			s.hold(r)
		default:
			http.NotFound(w, r)
		}
	})
	es := newESURL(t, s, s.URL+"/start", Options{Header: http.Header{"Authorization": {"Bearer t"}}})
	wantData(t, es, "moved")
	if got := es.URL(); got != s.URL+"/start" {
		t.Fatalf("URL() = %q, want the original %q", got, s.URL+"/start")
	}
	if got := <-auth; got != "Bearer t" {
		t.Fatalf("same-host redirect: Authorization %q, want it kept", got)
	}

	// A redirect to a response that fails the connection reports where it ended.
	s2 := newESServer(t, func(s *esServer, n int, w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/start" {
			http.Redirect(w, r, "/gone", http.StatusFound)
			return
		}
		http.NotFound(w, r)
	})
	es2 := newESURL(t, s2, s2.URL+"/start", Options{})
	_, err := next(t, es2)
	var re *ResponseError
	if !errors.As(err, &re) || re.StatusCode != http.StatusNotFound || re.URL != s2.URL+"/gone" {
		t.Fatalf("Next: got %v, want a 404 *ResponseError for %s/gone", err, s2.URL)
	}
	if got := es2.URL(); got != s2.URL+"/start" {
		t.Fatalf("URL() = %q, want the original %q", got, s2.URL+"/start")
	}
}

func TestEventSource_CrossHostRedirectDropsAuthorization(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts Options
	}{
		{name: "options header", opts: Options{Header: http.Header{"Authorization": {"Bearer secret"}}}},
		{name: "prepare request", opts: Options{PrepareRequest: func(r *http.Request) error {
			r.Header.Set("Authorization", "Bearer secret")
			return nil
		}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			type seen struct{ auth, custom string }
			atTarget := make(chan seen, 1)
			target := newESServer(t, func(s *esServer, n int, w http.ResponseWriter, r *http.Request) {
				atTarget <- seen{r.Header.Get("Authorization"), r.Header.Get("X-Custom")}
				stream(w, "data: elsewhere\n\n")
				s.hold(r)
			})
			port := target.Listener.Addr().(*net.TCPAddr).Port
			// The same machine under another name: another host to net/http.
			targetURL := "http://localhost:" + strconv.Itoa(port) + "/stream"

			atOrigin := make(chan string, 1)
			origin := newESServer(t, func(s *esServer, n int, w http.ResponseWriter, r *http.Request) {
				atOrigin <- r.Header.Get("Authorization")
				http.Redirect(w, r, targetURL, http.StatusFound)
			})
			opts := tt.opts
			opts.Header = opts.Header.Clone()
			if opts.Header == nil {
				opts.Header = http.Header{}
			}
			opts.Header.Set("X-Custom", "kept")
			es := newES(t, origin, opts)
			wantData(t, es, "elsewhere")
			if got := <-atOrigin; got != "Bearer secret" {
				t.Fatalf("origin: Authorization %q, want Bearer secret", got)
			}
			got := <-atTarget
			if got.auth != "" {
				t.Fatalf("other host: Authorization %q forwarded, want none", got.auth)
			}
			if got.custom != "kept" {
				t.Fatalf("other host: X-Custom %q, want kept", got.custom)
			}
		})
	}
}

func TestEventSource_PostBodyResentOnReconnect(t *testing.T) {
	t.Parallel()
	type seen struct{ method, contentType, body string }
	requests := make(chan seen, 2)
	s := newESServer(t, func(s *esServer, n int, w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("reading request body: %v", err)
		}
		requests <- seen{r.Method, r.Header.Get("Content-Type"), string(b)}
		stream(w, fmt.Sprintf("data: %d\n\n", n))
		if n > 1 {
			s.hold(r)
		}
	})
	body := []byte(`{"prompt":"hi"}`)
	es := newES(t, s, Options{
		Method: http.MethodPost,
		Body:   body,
		Header: http.Header{"Content-Type": {"application/json"}},
	})
	copy(body, "XXXX") // has no effect: New copied it
	wantData(t, es, "1")
	wantData(t, es, "2")
	for i := range 2 {
		got := <-requests
		want := seen{http.MethodPost, "application/json", `{"prompt":"hi"}`}
		if got != want {
			t.Fatalf("request %d: got %+v, want %+v", i+1, got, want)
		}
	}
}

func TestEventSource_IdleTimeoutReconnects(t *testing.T) {
	t.Parallel()
	// Each stream stalls after its event: the client must give up on its own.
	s := newESServer(t, numbered(1))
	var errs []error // appended on the goroutine in Next only
	es := newES(t, s, Options{
		IdleTimeout: 30 * time.Millisecond,
		OnError:     func(err error) { errs = append(errs, err) },
	})
	wantData(t, es, "1")
	wantData(t, es, "2")
	if len(errs) != 1 || !errors.Is(errs[0], ErrIdleTimeout) {
		t.Fatalf("OnError got %v, want [ErrIdleTimeout]", errs)
	}
	s.wantRequests(t, 2)
}

func TestEventSource_HeartbeatsKeepConnectionAlive(t *testing.T) {
	t.Parallel()
	const (
		timeout    = 240 * time.Millisecond
		heartbeats = 10 // 2.5 timeouts in all
	)
	s := newESServer(t, func(s *esServer, n int, w http.ResponseWriter, r *http.Request) {
		stream(w, "")
		tick := time.NewTicker(timeout / 4)
		defer tick.Stop()
		for range heartbeats {
			select {
			case <-tick.C:
			case <-r.Context().Done():
				return
			}
			stream(w, ":\n")
		}
		stream(w, "data: done\n\n")
		s.hold(r)
	})
	var errs atomic.Int32
	es := newES(t, s, Options{IdleTimeout: timeout, OnError: func(error) { errs.Add(1) }})
	wantData(t, es, "done")
	if n := errs.Load(); n != 0 {
		t.Fatalf("OnError called %d times, want 0", n)
	}
	s.wantRequests(t, 1)
}

func TestEventSource_Close(t *testing.T) {
	t.Parallel()

	t.Run("during connect", func(t *testing.T) {
		t.Parallel()
		arrived := make(chan struct{}, 1)
		s := newESServer(t, func(s *esServer, n int, w http.ResponseWriter, r *http.Request) {
			arrived <- struct{}{}
			s.hold(r) // no headers yet
		})
		var errs atomic.Int32
		es := newES(t, s, Options{OnError: func(error) { errs.Add(1) }})
		res := goNext(context.Background(), es)
		signal(t, arrived, "request")
		if err := es.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		_, err := await(t, res)
		wantClosed(t, es, err)
		if n := errs.Load(); n != 0 {
			t.Fatalf("OnError called %d times, want 0 for Close", n)
		}
	})

	t.Run("during read", func(t *testing.T) {
		t.Parallel()
		s := newESServer(t, sendAndHold(""))
		reading := make(chan struct{}, 1)
		es := newES(t, s, Options{Client: &http.Client{
			Transport: &readSignal{base: s.Client().Transport, reading: reading},
		}})
		res := goNext(context.Background(), es)
		signal(t, reading, "read")
		es.Close()
		_, err := await(t, res)
		wantClosed(t, es, err)
		wantNextClosed(t, es, "later Next")
	})

	t.Run("twice", func(t *testing.T) {
		t.Parallel()
		s := newESServer(t, sendAndHold("data: x\n\n"))
		es := newES(t, s, Options{})
		wantData(t, es, "x")
		for i := range 2 {
			if err := es.Close(); err != nil {
				t.Fatalf("Close #%d: %v", i+1, err)
			}
		}
		wantNextClosed(t, es, "Next")
	})

	t.Run("before next", func(t *testing.T) {
		t.Parallel()
		s := newESServer(t, sendAndEnd("data: x\n\n"))
		es := newES(t, s, Options{})
		es.Close()
		if st := es.ReadyState(); st != Closed {
			t.Fatalf("ReadyState = %v, want CLOSED", st)
		}
		wantNextClosed(t, es, "Next")
		s.wantRequests(t, 0)
	})

	t.Run("from OnOpen", func(t *testing.T) {
		t.Parallel()
		s := newESServer(t, sendAndHold("data: x\n\n"))
		var es *EventSource
		es = newES(t, s, Options{OnOpen: func(*http.Response) { es.Close() }})
		_, err := next(t, es)
		wantClosed(t, es, err)
	})

	t.Run("from OnError", func(t *testing.T) {
		t.Parallel()
		s := newESServer(t, sendAndEnd("data: x\n\n"))
		var es *EventSource
		es = newES(t, s, Options{OnError: func(error) { es.Close() }})
		wantData(t, es, "x")
		_, err := next(t, es)
		wantClosed(t, es, err)
		s.wantRequests(t, 1)
	})
}

func TestEventSource_NextContextCancelled(t *testing.T) {
	t.Parallel()

	t.Run("during read, then reconnect at once", func(t *testing.T) {
		t.Parallel()
		s := newESServer(t, func(s *esServer, n int, w http.ResponseWriter, r *http.Request) {
			if n == 1 {
				stream(w, "")
			} else {
				stream(w, "data: again\n\n")
			}
			s.hold(r)
		})
		reading := make(chan struct{}, 1)
		var errs atomic.Int32
		es := newES(t, s, Options{
			Client: &http.Client{Transport: &readSignal{base: s.Client().Transport, reading: reading}},
			// Far beyond esBound: the caller gave up, which is no reason to wait.
			ReconnectionTime: time.Hour,
			OnError:          func(error) { errs.Add(1) },
		})
		ctx, cancel := context.WithCancel(context.Background())
		res := goNext(ctx, es)
		signal(t, reading, "read")
		cancel()
		if _, err := await(t, res); !errors.Is(err, context.Canceled) {
			t.Fatalf("Next: got %v, want context.Canceled", err)
		}
		if st := es.ReadyState(); st != Connecting {
			t.Fatalf("ReadyState = %v, want CONNECTING", st)
		}
		wantData(t, es, "again") // at once, not after the reconnection time
		s.wantRequests(t, 2)
		if n := errs.Load(); n != 0 {
			t.Fatalf("OnError called %d times, want 0: the caller cancelled", n)
		}
	})

	t.Run("already cancelled", func(t *testing.T) {
		t.Parallel()
		s := newESServer(t, sendAndEnd("data: x\n\n"))
		es := newES(t, s, Options{})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := await(t, goNext(ctx, es)); err != context.Canceled {
			t.Fatalf("Next: got %v, want context.Canceled", err)
		}
		s.wantRequests(t, 0)
	})

	t.Run("during reconnection wait", func(t *testing.T) {
		t.Parallel()
		arrived := make(chan struct{}, 1)
		s := newESServer(t, sendAndEnd("data: x\n\n"))
		es := newES(t, s, Options{
			ReconnectionTime: time.Hour,
			OnError:          func(error) { arrived <- struct{}{} },
		})
		wantData(t, es, "x")
		ctx, cancel := context.WithCancel(context.Background())
		res := goNext(ctx, es)
		signal(t, arrived, "error event") // Next is now waiting to reconnect
		cancel()
		if _, err := await(t, res); err != context.Canceled {
			t.Fatalf("Next: got %v, want context.Canceled", err)
		}
	})
}

func TestEventSource_CustomClientUsed(t *testing.T) {
	t.Parallel()
	s := newESServer(t, numbered(2))
	tr := &countingTransport{base: s.Client().Transport}
	es := newES(t, s, Options{Client: &http.Client{Transport: tr}})
	wantData(t, es, "1")
	wantData(t, es, "2")
	if got, want := tr.n.Load(), s.requests.Load(); got != 2 || want != 2 {
		t.Fatalf("transport carried %d requests, server saw %d; want 2 and 2", got, want)
	}
}

func TestEventSource_Credentials(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name            string
		withCredentials bool
	}{
		{"without credentials", false},
		{"with credentials", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			type seen struct {
				cookie, user, pass string
				basic              bool
			}
			requests := make(chan seen, 1)
			s := newESServer(t, func(s *esServer, n int, w http.ResponseWriter, r *http.Request) {
				var got seen
				if c, err := r.Cookie("session"); err == nil {
					got.cookie = c.Value
				}
				got.user, got.pass, got.basic = r.BasicAuth()
				requests <- got
				http.SetCookie(w, &http.Cookie{Name: "fromserver", Value: "1"})
				stream(w, "data: x\n\n")
				s.hold(r)
			})
			u, err := url.Parse(s.URL)
			if err != nil {
				t.Fatal(err)
			}
			jar, err := cookiejar.New(nil)
			if err != nil {
				t.Fatal(err)
			}
			jar.SetCookies(u, []*http.Cookie{{Name: "session", Value: "s3cret"}})
			client := &http.Client{Transport: s.Client().Transport, Jar: jar}

			withUser := "http://alice:pw@" + u.Host
			es := newESURL(t, s, withUser, Options{Client: client, WithCredentials: tt.withCredentials})
			if es.WithCredentials() != tt.withCredentials {
				t.Fatalf("WithCredentials() = %v, want %v", es.WithCredentials(), tt.withCredentials)
			}
			if got := es.URL(); strings.Contains(got, "pw") || !strings.Contains(got, "alice") {
				t.Fatalf("URL() = %q, want the user with the password redacted", got)
			}
			wantData(t, es, "x")
			if client.Jar != jar {
				t.Fatalf("New changed the caller's client")
			}

			got := <-requests
			stored := false
			for _, c := range jar.Cookies(u) {
				stored = stored || c.Name == "fromserver"
			}
			want := seen{}
			if tt.withCredentials {
				want = seen{cookie: "s3cret", user: "alice", pass: "pw", basic: true}
			}
			if got != want {
				t.Fatalf("server saw %+v, want %+v", got, want)
			}
			if stored != tt.withCredentials {
				t.Fatalf("Set-Cookie stored in the jar: %v, want %v", stored, tt.withCredentials)
			}
		})
	}
}

func TestFrom(t *testing.T) {
	t.Parallel()
	var opens, errs atomic.Int32
	es := From(strings.NewReader("data: a\n\nevent: e\nid: 1\ndata: b\n\ndata: unterminated"), Options{
		OnOpen: func(resp *http.Response) {
			if resp != nil {
				t.Errorf("OnOpen: got %v, want nil for From", resp)
			}
			opens.Add(1)
		},
		OnError: func(err error) { errs.Add(1) },
	})
	t.Cleanup(func() { es.Close() })
	if st := es.ReadyState(); st != Open {
		t.Fatalf("ReadyState = %v, want OPEN", st)
	}
	if es.URL() != "" {
		t.Fatalf("URL() = %q, want empty for From", es.URL())
	}
	wantData(t, es, "a")
	ev := wantData(t, es, "b")
	if ev.Type != "e" || ev.LastEventID != "1" {
		t.Fatalf("got type %q id %q, want e and 1", ev.Type, ev.LastEventID)
	}
	for range 2 {
		if _, err := next(t, es); err != io.EOF {
			t.Fatalf("Next at end: got %v, want io.EOF", err)
		}
	}
	if st := es.ReadyState(); st != Closed {
		t.Fatalf("at end: ReadyState = %v, want CLOSED", st)
	}
	if n := opens.Load(); n != 1 {
		t.Fatalf("OnOpen called %d times, want once", n)
	}
	if n := errs.Load(); n != 0 {
		t.Fatalf("OnError called %d times, want 0 at a clean end", n)
	}
}

func TestFrom_CloseUnblocksNext(t *testing.T) {
	t.Parallel()
	r, pw := newSignalPipe(t)
	es := From(r, Options{})
	res := goNext(context.Background(), es)
	signal(t, r.reading, "read")
	if _, err := io.WriteString(pw, "data: a\n\n"); err != nil {
		t.Fatal(err)
	}
	if ev, err := await(t, res); err != nil || string(ev.Data) != "a" {
		t.Fatalf("Next: got %q, %v; want a", ev.Data, err)
	}
	res = goNext(context.Background(), es)
	signal(t, r.reading, "read")
	es.Close()
	if _, err := await(t, res); err != ErrClosed {
		t.Fatalf("Next: got %v, want ErrClosed", err)
	}
	if _, err := io.WriteString(pw, "data: b\n\n"); err != io.ErrClosedPipe {
		t.Fatalf("write after Close: got %v, want io.ErrClosedPipe", err)
	}
}

func TestFrom_ContextCancelEndsStream(t *testing.T) {
	t.Parallel()
	r, _ := newSignalPipe(t)
	es := From(r, Options{})
	t.Cleanup(func() { es.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	res := goNext(ctx, es)
	signal(t, r.reading, "read")
	cancel()
	if _, err := await(t, res); err != context.Canceled {
		t.Fatalf("Next: got %v, want context.Canceled", err)
	}
	// A From stream cannot be reopened.
	if _, err := next(t, es); err != context.Canceled {
		t.Fatalf("later Next: got %v, want context.Canceled again", err)
	}
	if st := es.ReadyState(); st != Closed {
		t.Fatalf("ReadyState = %v, want CLOSED", st)
	}
}

func TestEventSource_EventTooLarge(t *testing.T) {
	t.Parallel()
	s := newESServer(t, sendAndHold("data: small1\n\n", "data: "+strings.Repeat("x", 1000)+"\n\n", "data: small2\n\n"))
	var errs atomic.Int32
	es := newES(t, s, Options{MaxEventSize: 64, OnError: func(error) { errs.Add(1) }})
	wantData(t, es, "small1")
	if _, err := next(t, es); !errors.Is(err, ErrEventTooLarge) {
		t.Fatalf("Next: got %v, want ErrEventTooLarge", err)
	}
	wantData(t, es, "small2")
	if st := es.ReadyState(); st != Open {
		t.Fatalf("ReadyState = %v, want OPEN", st)
	}
	if n, e := s.requests.Load(), errs.Load(); n != 1 || e != 0 {
		t.Fatalf("got %d requests and %d error events, want 1 and 0", n, e)
	}
}

func TestEventSource_Buffered(t *testing.T) {
	t.Parallel()
	s := newESServer(t, sendAndHold("data: 1\n\ndata: 2\n\ndata: 3\n\n")) // one write, one flush
	es := newES(t, s, Options{})
	if ev, ok, err := es.Buffered(); ok || err != nil {
		t.Fatalf("Buffered() before Next = %v, %v, %v; want nothing", ev, ok, err)
	}
	wantData(t, es, "1")
	for _, want := range []string{"2", "3"} {
		ev, ok, err := es.Buffered()
		if !ok || err != nil || string(ev.Data) != want {
			t.Fatalf("Buffered() = %q, %v, %v; want %q, true, nil", ev.Data, ok, err, want)
		}
	}
	type buffered struct {
		ok  bool
		err error
	}
	res := make(chan buffered, 1)
	go func() {
		_, ok, err := es.Buffered()
		res <- buffered{ok, err}
	}()
	if got := signal(t, res, "Buffered returning"); got.ok || got.err != nil {
		t.Fatalf("Buffered() with nothing left = %v, %v; want false, nil", got.ok, got.err)
	}
	es.Close()
	if _, ok, _ := es.Buffered(); ok {
		t.Fatalf("Buffered() after Close: ok, want nothing")
	}
}

// The methods other than Next and Buffered may be called from any goroutine
// while Next runs. Run it with -race.
func TestEventSource_AccessorsWhileNextRuns(t *testing.T) {
	t.Parallel()
	const events = 20
	s := newESServer(t, func(s *esServer, n int, w http.ResponseWriter, r *http.Request) {
		for i := 1; i <= events; i++ {
			stream(w, fmt.Sprintf("retry: %d\nid: %d\ndata: %d\n\n", i, i, i))
		}
		s.hold(r)
	})
	es := newES(t, s, Options{})
	var rounds atomic.Int64 // only the reader adds: the test never syncs it with Next
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			_ = es.LastEventID()
			_ = es.ReconnectionTime()
			_ = es.ReadyState()
			_ = es.URL()
			_ = es.WithCredentials()
			rounds.Add(1)
		}
	}()
	for i := 1; i <= events; i++ {
		wantData(t, es, strconv.Itoa(i))
		// Let the reader run a whole round after this event was parsed, so
		// that its reads overlap Next's writes on every run.
		deadline := time.Now().Add(esBound)
		for want := rounds.Load() + 2; rounds.Load() < want; runtime.Gosched() {
			if time.Now().After(deadline) {
				t.Fatalf("the reader goroutine made no progress")
			}
		}
	}
	close(stop)
	<-done
	if got := es.LastEventID(); got != strconv.Itoa(events) {
		t.Fatalf("LastEventID() = %q, want %d", got, events)
	}
	if got := es.ReconnectionTime(); got != events*time.Millisecond {
		t.Fatalf("ReconnectionTime() = %v, want %dms", got, events)
	}
}

func TestEventSource_CloseAtEnd(t *testing.T) {
	t.Parallel()

	t.Run("end of body closes", func(t *testing.T) {
		t.Parallel()
		s := newESServer(t, func(s *esServer, n int, w http.ResponseWriter, r *http.Request) {
			stream(w, "data: answer\n\n") // then the body ends
		})
		var errs atomic.Int32
		es := newES(t, s, Options{CloseAtEnd: true, OnError: func(error) { errs.Add(1) }})
		wantData(t, es, "answer")
		for range 2 {
			if _, err := next(t, es); err != io.EOF {
				t.Fatalf("Next at end: got %v, want io.EOF", err)
			}
		}
		if st := es.ReadyState(); st != Closed {
			t.Fatalf("ReadyState = %v, want CLOSED", st)
		}
		if n, e := s.requests.Load(), errs.Load(); n != 1 || e != 0 {
			t.Fatalf("got %d requests and %d error events, want 1 and 0", n, e)
		}
	})

	t.Run("idle timeout still reconnects", func(t *testing.T) {
		t.Parallel()
		s := newESServer(t, numbered(1))
		var errs []error // appended on the goroutine in Next only
		es := newES(t, s, Options{
			CloseAtEnd:  true,
			IdleTimeout: 30 * time.Millisecond,
			OnError:     func(err error) { errs = append(errs, err) },
		})
		wantData(t, es, "1")
		wantData(t, es, "2")
		if len(errs) != 1 || !errors.Is(errs[0], ErrIdleTimeout) {
			t.Fatalf("OnError got %v, want [ErrIdleTimeout]", errs)
		}
	})
}

// TestEventSource_IdleTimeoutIgnoresSlowConsumer holds the consumer between
// two reads for longer than the idle timeout while the server has already
// sent everything: time outside a read must not count as idleness.
func TestEventSource_IdleTimeoutIgnoresSlowConsumer(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "data: 1\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		fmt.Fprint(w, "data: 2\n\n")
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	t.Cleanup(srv.Close)
	var errs []error
	es, err := New(srv.URL, Options{IdleTimeout: 50 * time.Millisecond, ReconnectionTime: time.Millisecond,
		OnError: func(err error) { errs = append(errs, err) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { es.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if ev, err := es.Next(ctx); err != nil || string(ev.Data) != "1" {
		t.Fatalf("first event: %q, %v", ev.Data, err)
	}
	// The consumer is busy for four idle timeouts (on purpose: that is what
	// is tested); the timer must be disarmed meanwhile.
	time.Sleep(200 * time.Millisecond)
	if es.idle.Stop() {
		t.Fatal("the idle timer is armed while no read waits")
	}
	close(release)
	if ev, err := es.Next(ctx); err != nil || string(ev.Data) != "2" {
		t.Fatalf("second event: %q, %v", ev.Data, err)
	}
	if len(errs) != 0 {
		t.Fatalf("idle timeout fired while the consumer was busy: %v", errs)
	}
}

// TestEventSource_WaitResumesAfterCancel gives up during the reconnection
// wait and calls Next again: the deadline is kept, so the second call waits
// only for what is left, and ReconnectDelay reports the wait in OnError.
func TestEventSource_WaitResumesAfterCancel(t *testing.T) {
	t.Parallel()
	const wait = 300 * time.Millisecond
	arrived := make(chan time.Time, 2)
	s := newESServer(t, timed(arrived, numbered(3))) // requests 1 and 2 end their body
	errored := make(chan time.Duration, 1)
	var es *EventSource
	es = newES(t, s, Options{
		ReconnectionTime: wait,
		OnError:          func(error) { errored <- es.ReconnectDelay() },
	})
	wantData(t, es, "1")
	ctx, cancel := context.WithCancel(context.Background())
	res := goNext(ctx, es)
	if d := signal(t, errored, "error event"); d != wait {
		t.Fatalf("ReconnectDelay in OnError = %v, want %v", d, wait)
	}
	cancel()
	if _, err := await(t, res); err != context.Canceled {
		t.Fatalf("Next: got %v, want context.Canceled", err)
	}
	// No Next runs now, so the test may read the deadline: it is kept.
	deadline := es.backoff.retryAt
	if !es.backoff.wait || deadline.IsZero() {
		t.Fatalf("after the cancel: wait %v, deadline %v; want the pending wait kept", es.backoff.wait, deadline)
	}
	wantData(t, es, "2")
	<-arrived
	if at := <-arrived; at.Before(deadline) {
		t.Fatalf("reconnected %v before the deadline: the wait was cut short", deadline.Sub(at))
	}
	if es.backoff.retryAt != deadline {
		t.Fatalf("the second Next moved the deadline by %v: the wait started again", es.backoff.retryAt.Sub(deadline))
	}
	s.wantRequests(t, 2)
}

func TestEventSource_LastActivity(t *testing.T) {
	t.Parallel()
	s := newESServer(t, sendAndHold(": hello\n\ndata: x\n\n"))
	es := newES(t, s, Options{})
	if !es.LastActivity().IsZero() {
		t.Fatalf("LastActivity before any byte = %v, want zero", es.LastActivity())
	}
	before := time.Now()
	wantData(t, es, "x")
	if got := es.LastActivity(); got.Before(before) || got.After(time.Now()) {
		t.Fatalf("LastActivity = %v, want between %v and now", got, before)
	}
}

// TestEventSource_UnfinishedEventIDNotSent drops the connection after an
// event's id line but before its blank line: that id must not become the ID
// of the next connection's events (nor be sent as Last-Event-ID after
// them), or the unfinished event would never be resent.
func TestEventSource_UnfinishedEventIDNotSent(t *testing.T) {
	t.Parallel()
	lastIDs := make(chan string, 2)
	s := newESServer(t, func(s *esServer, n int, w http.ResponseWriter, r *http.Request) {
		lastIDs <- r.Header.Get("Last-Event-ID")
		if n == 1 {
			stream(w, "id: 1\ndata: a\n\nid: 2\ndata: b\n") // dropped mid-event
			return
		}
		stream(w, "data: c\n\n") // an event without its own id
		s.hold(r)
	})
	es := newES(t, s, Options{})
	if ev := wantData(t, es, "a"); ev.LastEventID != "1" {
		t.Fatalf("first event ID %q, want 1", ev.LastEventID)
	}
	if ev := wantData(t, es, "c"); ev.LastEventID != "1" {
		t.Fatalf("event on the new connection has ID %q, want 1: the unfinished event's id leaked", ev.LastEventID)
	}
	if id := es.LastEventID(); id != "1" {
		t.Fatalf("LastEventID() = %q, want 1", id)
	}
	if first, second := <-lastIDs, <-lastIDs; first != "" || second != "1" {
		t.Fatalf("Last-Event-ID per request %q, %q; want \"\", \"1\"", first, second)
	}
}

// TestEventSource_MinReconnectionTime has a server that sets retry: 0 and
// closes every connection at once: the floor keeps that from becoming a
// tight reconnection loop.
func TestEventSource_MinReconnectionTime(t *testing.T) {
	t.Parallel()
	s := newESServer(t, func(s *esServer, n int, w http.ResponseWriter, r *http.Request) {
		stream(w, fmt.Sprintf("retry: 0\ndata: %d\n\n", n))
	})
	es := newES(t, s, Options{MinReconnectionTime: 50 * time.Millisecond})
	wantData(t, es, "1")
	start := time.Now()
	wantData(t, es, "2")
	wantData(t, es, "3")
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Fatalf("two reconnections took %v, want at least 2 × 50ms", d)
	}
	if es.ReconnectionTime() != 0 {
		t.Fatalf("ReconnectionTime = %v, want the server's 0 (the floor applies to the wait)", es.ReconnectionTime())
	}
}

// wantNextClosed fails unless the next Next returns ErrClosed; what names
// the call in the failure.
func wantNextClosed(t *testing.T, es *EventSource, what string) {
	t.Helper()
	if _, err := next(t, es); err != ErrClosed {
		t.Fatalf("%s: got %v, want ErrClosed", what, err)
	}
}

// wantClosed fails unless err, from Next, is ErrClosed and the event source
// is CLOSED: Close is final.
func wantClosed(t *testing.T, es *EventSource, err error) {
	t.Helper()
	if err != ErrClosed {
		t.Fatalf("Next: got %v, want ErrClosed", err)
	}
	if st := es.ReadyState(); st != Closed {
		t.Fatalf("ReadyState = %v, want CLOSED", st)
	}
}

func TestSendableID(t *testing.T) {
	tests := []struct {
		name string
		id   string
		want bool
	}{
		{name: "empty", id: "", want: true},
		{name: "digits", id: "12345", want: true},
		{name: "tab", id: "a\tb", want: true},
		{name: "space and utf-8", id: "a b é 😀", want: true},
		{name: "decoded replacement", id: "a\uFFFDb", want: true},
		{name: "at the bound", id: strings.Repeat("x", MaxIDLength), want: true},
		{name: "over the bound", id: strings.Repeat("x", MaxIDLength+1), want: false},
		{name: "SOH", id: "2\x01x", want: false},
		{name: "ESC", id: "2\x1bx", want: false},
		{name: "DEL", id: "2\x7fx", want: false},
		{name: "unit separator", id: "\x1f", want: false},
		{name: "vertical tab", id: "a\vb", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := SendableID(tt.id); got != tt.want {
				t.Fatalf("SendableID(%q) = %v, want %v", clip(tt.id, 40), got, tt.want)
			}
			// What SendableID promises: net/http sends it as it is.
			req := httptest.NewRequest(http.MethodGet, "http://127.0.0.1/", nil)
			req.Header.Set("Last-Event-ID", tt.id)
			if err := req.Write(io.Discard); tt.want && err != nil {
				t.Fatalf("sendable id %q: net/http refuses it: %v", clip(tt.id, 40), err)
			}
		})
	}
}

// TestEventSource_UnsendableIDKeepsResumePoint has a server send an id that
// cannot be sent as a header and then end the stream: the event carries the
// id, but the reconnection resumes from the last sendable one and the events
// after it are delivered.
func TestEventSource_UnsendableIDKeepsResumePoint(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		id       string
		sendable bool
	}{
		{name: "SOH", id: "2\x01x"},
		{name: "ESC", id: "2\x1b[31m"},
		{name: "DEL", id: "2\x7f"},
		{name: "one byte over MaxIDLength", id: strings.Repeat("2", MaxIDLength+1)},
		{name: "MaxIDLength", id: strings.Repeat("2", MaxIDLength), sendable: true},
		{name: "tab", id: "2\tx", sendable: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			lastIDs := make(chan string, 2)
			s := newESServer(t, func(s *esServer, n int, w http.ResponseWriter, r *http.Request) {
				lastIDs <- r.Header.Get("Last-Event-ID")
				if n == 1 {
					stream(w, "id: 1\ndata: a\n\nid: "+tt.id+"\ndata: b\n\n") // then the body ends
					return
				}
				stream(w, "data: c\n\nid: 3\ndata: d\n\n")
				s.hold(r)
			})
			var unsendable []string // appended on the goroutine in Next only
			var errs []error
			es := newES(t, s, Options{
				OnIDNotSendable: func(id string) { unsendable = append(unsendable, id) },
				OnError:         func(err error) { errs = append(errs, err) },
			})
			if ev := wantData(t, es, "a"); ev.LastEventID != "1" {
				t.Fatalf("event a: LastEventID %q, want 1", ev.LastEventID)
			}
			ev := wantData(t, es, "b")
			if ev.LastEventID != tt.id || !ev.HasID {
				t.Fatalf("event b: LastEventID %q (HasID %v), want the id as sent", clip(ev.LastEventID, 40), ev.HasID)
			}
			resume, wantResent := "1", "1"
			if tt.sendable {
				resume, wantResent = tt.id, tt.id
			}
			if got := es.LastEventID(); got != resume {
				t.Fatalf("LastEventID() after b = %q, want %q", clip(got, 40), clip(resume, 40))
			}
			if ev := wantData(t, es, "c"); ev.LastEventID != resume {
				t.Fatalf("event c: LastEventID %q, want the resume point %q", clip(ev.LastEventID, 40), clip(resume, 40))
			}
			if ev := wantData(t, es, "d"); ev.LastEventID != "3" || es.LastEventID() != "3" {
				t.Fatalf("event d: LastEventID %q, LastEventID() %q; want 3", ev.LastEventID, es.LastEventID())
			}
			if first, second := <-lastIDs, <-lastIDs; first != "" || second != wantResent {
				t.Fatalf("Last-Event-ID per request %q, %q; want \"\", %q", first, clip(second, 40), clip(wantResent, 40))
			}
			wantUnsendable := 1
			if tt.sendable {
				wantUnsendable = 0
			}
			if len(unsendable) != wantUnsendable || wantUnsendable == 1 && unsendable[0] != tt.id {
				t.Fatalf("OnIDNotSendable got %d calls, want %d with the id", len(unsendable), wantUnsendable)
			}
			if len(errs) != 1 || !errors.Is(errs[0], ErrStreamEnded) {
				t.Fatalf("OnError got %v, want just the end of the first stream", errs)
			}
		})
	}
}

func TestNew_RefusesBadOptions(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		is   error // nil: any error
	}{
		{name: "id with SOH", opts: Options{LastEventID: "abc\x01"}, is: ErrIDNotSendable},
		{name: "id with DEL", opts: Options{LastEventID: "abc\x7f"}, is: ErrIDNotSendable},
		{name: "id over MaxIDLength", opts: Options{LastEventID: strings.Repeat("1", MaxIDLength+1)}, is: ErrIDNotSendable},
		{name: "client timeout", opts: Options{Client: &http.Client{Timeout: 700 * time.Millisecond}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			es, err := New("http://127.0.0.1:1/", tt.opts)
			if err == nil {
				es.Close()
				t.Fatal("New: got no error, want one")
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Fatalf("New: got %v, want an error wrapping %v", err, tt.is)
			}
			if len(err.Error()) > 200 {
				t.Fatalf("New: error of %d bytes, want a bounded one: %.80s...", len(err.Error()), err)
			}
		})
	}
	for _, opts := range []Options{
		{LastEventID: strings.Repeat("1", MaxIDLength)},
		{LastEventID: "a\tb"},
		{Client: &http.Client{}},
	} {
		es, err := New("http://127.0.0.1:1/", opts)
		if err != nil {
			t.Fatalf("New(%+v): %v, want no error", opts.Client, err)
		}
		es.Close()
	}
}

// TestFrom_UnsendableLastEventID: From cannot fail, so an unsendable
// starting ID is the events' ID but never the resume point.
func TestFrom_UnsendableLastEventID(t *testing.T) {
	es := From(strings.NewReader("data: a\n\nid: 5\ndata: b\n\n"), Options{LastEventID: "x\x01"})
	defer es.Close()
	if got := es.LastEventID(); got != "" {
		t.Fatalf("LastEventID() = %q, want empty", got)
	}
	if ev, err := es.Next(context.Background()); err != nil || ev.LastEventID != "x\x01" {
		t.Fatalf("Next = %q, %v; want the starting ID", ev.LastEventID, err)
	}
	if ev, err := es.Next(context.Background()); err != nil || es.LastEventID() != "5" {
		t.Fatalf("Next = %+v, %v, LastEventID() %q; want 5", ev, err, es.LastEventID())
	}
}

// TestEventSource_MaxElapsedTime has a server that always refuses: the
// event source gives up after failing for MaxElapsedTime, closes, and says
// why.
func TestEventSource_MaxElapsedTime(t *testing.T) {
	t.Parallel()
	const limit = 100 * time.Millisecond
	s := newESServer(t, func(s *esServer, n int, w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	var errs []error
	var states []ReadyState
	var es *EventSource
	es = newES(t, s, Options{
		ReconnectionTime: 10 * time.Millisecond,
		MaxElapsedTime:   limit,
		RetryResponse:    func(*ResponseError) bool { return true },
		OnError: func(err error) {
			errs = append(errs, err)
			states = append(states, es.ReadyState())
		},
	})
	start := time.Now()
	_, err := next(t, es)
	elapsed := time.Since(start)
	var re *ResponseError
	if !errors.Is(err, ErrGaveUp) || !errors.As(err, &re) || re.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("Next: got %v, want ErrGaveUp wrapping the 503", err)
	}
	if elapsed < limit {
		t.Fatalf("gave up after %v, want at least %v", elapsed, limit)
	}
	if n := s.requests.Load(); n < 3 {
		t.Fatalf("got %d requests, want several attempts over %v", n, limit)
	}
	if st := es.ReadyState(); st != Closed {
		t.Fatalf("ReadyState = %v, want CLOSED", st)
	}
	if last := len(errs) - 1; last < 0 || errs[last] != err || states[last] != Closed {
		t.Fatalf("last OnError got %v in %v, want %v in CLOSED", errs, states, err)
	}
	for i := range len(errs) - 1 {
		if states[i] != Connecting || errors.Is(errs[i], ErrGaveUp) {
			t.Fatalf("OnError %d: %v in %v, want a retried failure in CONNECTING", i, errs[i], states[i])
		}
	}
	if _, again := next(t, es); again != err {
		t.Fatalf("later Next: got %v, want the same error", again)
	}
}

// TestEventSource_MaxElapsedTimeResetByOpen has a server that opens a stream
// after every two refusals: each open restarts the clock, so the event
// source never gives up although it runs far longer than MaxElapsedTime.
func TestEventSource_MaxElapsedTimeResetByOpen(t *testing.T) {
	t.Parallel()
	const (
		limit  = 300 * time.Millisecond
		wait   = 20 * time.Millisecond
		cycles = 10 // each waits at least 3 × wait: 600ms in all
	)
	s := newESServer(t, func(s *esServer, n int, w http.ResponseWriter, r *http.Request) {
		if n%3 != 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		stream(w, fmt.Sprintf("data: %d\n\n", n)) // then the body ends
	})
	es := newES(t, s, Options{
		ReconnectionTime: wait,
		MaxElapsedTime:   limit,
		RetryResponse:    func(*ResponseError) bool { return true },
	})
	start := time.Now()
	for i := range cycles {
		wantData(t, es, strconv.Itoa(3*i+1))
	}
	if d := time.Since(start); d <= limit {
		t.Fatalf("ran for %v, want longer than MaxElapsedTime %v to show the reset", d, limit)
	}
}

// TestEventSource_ResponseBody checks the excerpt of a refused response's
// body: bounded, sanitised, and read without waiting for a body that never
// ends.
func TestEventSource_ResponseBody(t *testing.T) {
	t.Parallel()
	const openAI = `{
    "error": {
        "message": "Incorrect API key provided: sk-abc***xyz. You can find your API key at https://platform.openai.com/account/api-keys.",
        "type": "invalid_request_error",
        "param": null,
        "code": "invalid_api_key"
    }
}
`
	long := strings.Repeat("é", 2000)
	tests := []struct {
		name   string
		status int
		body   string
		never  bool // the body never ends: the handler holds after writing
		want   string
	}{
		{
			name: "openai 401", status: http.StatusUnauthorized, body: openAI,
			want: strings.ReplaceAll(strings.TrimSpace(openAI), "\n", `\n`),
		},
		{name: "empty", status: http.StatusNotFound, body: "", want: ""},
		{
			name: "control characters", status: http.StatusForbidden, body: "no\x1b[31m\x00 way\r\n\xff\u202e!",
			want: `no\u001b[31m\u0000 way\r\n\xff\u202e!`,
		},
		{name: "long", status: http.StatusInternalServerError, body: long, want: strings.Repeat("é", (MaxBodyExcerpt-3)/2) + "..."},
		{name: "never ends", status: http.StatusBadGateway, body: "partial", never: true, want: "partial..."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newESServer(t, func(s *esServer, n int, w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
				if tt.never {
					w.(http.Flusher).Flush()
					s.hold(r)
				}
			})
			es := newES(t, s, Options{})
			_, err := next(t, es)
			var re *ResponseError
			if !errors.As(err, &re) || re.StatusCode != tt.status {
				t.Fatalf("Next: got %v, want a %d *ResponseError", err, tt.status)
			}
			if re.Body != tt.want {
				t.Fatalf("Body = %q, want %q", re.Body, tt.want)
			}
			if len(re.Body) > MaxBodyExcerpt || !utf8.ValidString(re.Body) {
				t.Fatalf("Body of %d bytes (valid UTF-8: %v), want at most %d of valid UTF-8", len(re.Body), utf8.ValidString(re.Body), MaxBodyExcerpt)
			}
			if tt.body != "" && !strings.Contains(err.Error(), "; body: "+tt.want) {
				t.Fatalf("Error() = %q, want it to show the body", err)
			}
		})
	}
}

func TestResponseError_ErrorBounded(t *testing.T) {
	longURL := "http://127.0.0.1/" + strings.Repeat("a", 10_000)
	tests := []struct {
		name string
		err  ResponseError
		want []string
	}{
		{
			name: "status",
			err:  ResponseError{StatusCode: 401, URL: "http://127.0.0.1/x", Body: "nope"},
			want: []string{"sse: http://127.0.0.1/x answered 401 Unauthorized, want 200; body: nope"},
		},
		{
			name: "unknown status",
			err:  ResponseError{StatusCode: 799, URL: "http://127.0.0.1/x"},
			want: []string{"sse: http://127.0.0.1/x answered 799, want 200"},
		},
		{
			name: "long url and body",
			err:  ResponseError{StatusCode: 404, URL: longURL, Body: strings.Repeat("b", 5000)},
			want: []string{"http://127.0.0.1/aaa", "...(10017 bytes) answered 404 Not Found", "...(5000 bytes)"},
		},
		{
			name: "long content type",
			err:  ResponseError{StatusCode: 200, URL: longURL, ContentType: strings.Repeat("t", 5000)},
			want: []string{"...(10017 bytes) answered with Content-Type", "...(5000 bytes)"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.err.Error()
			if len(got) > 1024 {
				t.Fatalf("Error() has %d bytes, want at most 1024", len(got))
			}
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Fatalf("Error() = %q, want it to contain %q", got, w)
				}
			}
		})
	}
}

// TestEventSource_MaxEventSizeAnyValue: the largest bounds mean "no bound
// but memory", not an overflow that skips every event or panics on a line
// longer than the read buffer.
func TestEventSource_MaxEventSizeAnyValue(t *testing.T) {
	big := strings.Repeat("x", 200<<10) // over the 64 KiB read buffer
	for _, max := range []int{math.MaxInt, math.MaxInt - 1, math.MaxInt32, 1 << 40} {
		es := From(strings.NewReader("data: small\n\ndata: "+big+"\n\n"), Options{MaxEventSize: max})
		for _, want := range []string{"small", big} {
			ev, err := es.Next(context.Background())
			if err != nil || string(ev.Data) != want {
				t.Fatalf("MaxEventSize %d: Next = %d bytes, %v; want %d bytes", max, len(ev.Data), err, len(want))
			}
		}
		es.Close()
	}
}

// TestEventSource_NextWithDoneContext calls Next with a context that is
// already done while the stream is open, either cancelled before the call or
// cancelled after an earlier call used it: nothing is abandoned, and the next
// call reads on from the same connection at once (the reconnection time is
// an hour). TestEventSource_NextContextCancelled covers a cancel during a
// read.
func TestEventSource_NextWithDoneContext(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		used bool // the done context got event 1 before it was cancelled
	}{
		{name: "cancelled before the call"},
		{name: "cancelled between calls", used: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			release := make(chan struct{})
			s := newESServer(t, func(s *esServer, n int, w http.ResponseWriter, r *http.Request) {
				stream(w, "data: 1\n\n")
				select {
				case <-release:
				case <-s.done:
					return
				}
				stream(w, "data: 2\n\n")
				s.hold(r)
			})
			var errs atomic.Int32
			es := newES(t, s, Options{ReconnectionTime: time.Hour, OnError: func(error) { errs.Add(1) }})
			ctx, cancel := context.WithCancel(context.Background())
			first := context.Background()
			if tt.used {
				first = ctx
			}
			if ev, err := await(t, goNext(first, es)); err != nil || string(ev.Data) != "1" {
				t.Fatalf("first Next = %q, %v; want event 1", ev.Data, err)
			}
			// The event source's watcher of ctx (when it has one) runs on its
			// own goroutine when ctx is cancelled; waiting for a second one,
			// registered later, lets it run first in practice.
			fired := make(chan struct{})
			context.AfterFunc(ctx, func() { close(fired) })
			cancel()
			signal(t, fired, "cancellation")
			if _, err := await(t, goNext(ctx, es)); err != context.Canceled {
				t.Fatalf("Next with a done context: got %v, want context.Canceled", err)
			}
			if st := es.ReadyState(); st != Open {
				t.Fatalf("ReadyState = %v, want OPEN: nothing was abandoned", st)
			}
			close(release)
			wantData(t, es, "2")
			s.wantRequests(t, 1)
			if n := errs.Load(); n != 0 {
				t.Fatalf("OnError called %d times, want 0", n)
			}
		})
	}
}

func TestEventSource_OnComment(t *testing.T) {
	var got []string
	es := From(strings.NewReader(": ping\ndata: a\n\n:keep-alive\n"), Options{OnComment: func(c string) { got = append(got, c) }})
	defer es.Close()
	if ev, err := es.Next(context.Background()); err != nil || string(ev.Data) != "a" {
		t.Fatalf("Next = %q, %v; want a", ev.Data, err)
	}
	if _, err := es.Next(context.Background()); err != io.EOF {
		t.Fatalf("Next at the end = %v, want io.EOF", err)
	}
	if strings.Join(got, "|") != "ping|keep-alive" {
		t.Fatalf("comments %q, want [ping keep-alive]", got)
	}
}

// TestEventSource_ResolveURL checks that Options.ResolveURL is asked for the
// URL of every attempt, reconnections included, while URL() stays the one
// given to New; and that an error, or a URL that is not http(s) with a host,
// fails only that attempt: it reaches OnError without the URL's text, and
// the next attempt is made.
func TestEventSource_ResolveURL(t *testing.T) {
	t.Parallel()
	paths := make(chan string, 8)
	s := newESServer(t, func(s *esServer, n int, w http.ResponseWriter, r *http.Request) {
		paths <- r.URL.RequestURI()
		stream(w, fmt.Sprintf("data: %d\n\n", n))
	})
	answers := []struct {
		url string
		err error
	}{
		{url: s.URL + "/a?token=one"},
		{err: errors.New("token file missing")},
		{url: "ftp://127.0.0.1/?token=SECRET"},
		{url: "http://[::1?token=SECRET"},
		{url: s.URL + "/b?token=two"},
	}
	calls := 0
	var failures []string
	es := newESURL(t, s, s.URL+"/template", Options{
		ResolveURL: func() (string, error) {
			a := answers[min(calls, len(answers)-1)]
			calls++
			return a.url, a.err
		},
		OnError: func(err error) { failures = append(failures, err.Error()) },
	})
	wantData(t, es, "1")
	wantData(t, es, "2")
	if got := []string{<-paths, <-paths}; got[0] != "/a?token=one" || got[1] != "/b?token=two" {
		t.Fatalf("requested %q, want /a?token=one then /b?token=two", got)
	}
	if calls != 5 {
		t.Fatalf("ResolveURL called %d times, want 5 (one per attempt)", calls)
	}
	// The end of the first stream, then three failed attempts.
	if len(failures) != 4 || !strings.Contains(failures[1], "token file missing") ||
		!strings.Contains(failures[2], "scheme must be http or https") || !strings.Contains(failures[3], "parse url") {
		t.Fatalf("OnError got %q, want the stream's end and the three failed attempts", failures)
	}
	for _, f := range failures {
		if strings.Contains(f, "SECRET") {
			t.Fatalf("OnError got %q, which quotes the resolved URL", f)
		}
	}
	if got := es.URL(); got != s.URL+"/template" {
		t.Fatalf("URL() = %q, want the one given to New", got)
	}
}
