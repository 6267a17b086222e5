package sse

import (
	"errors"
	"io"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestBackoff_Delay checks the wait the policy picks for each combination
// of its inputs, through an event source as Next drives it.
func TestBackoff_Delay(t *testing.T) {
	const ms = time.Millisecond
	backoff := Options{ReconnectionTime: 10 * ms, MaxReconnectionTime: 100 * ms, BackoffFactor: 2}
	tests := []struct {
		name       string
		opts       Options
		stream     string // parsed first, to set the server's retry
		failures   int
		retryAfter time.Duration
		slow       bool          // the failed response's status is a slow one
		want       time.Duration // before jitter
	}{
		{name: "after an open connection", opts: backoff, failures: 0, want: 10 * ms},
		{name: "failure 1", opts: backoff, failures: 1, want: 10 * ms},
		{name: "failure 2", opts: backoff, failures: 2, want: 20 * ms},
		{name: "failure 3", opts: backoff, failures: 3, want: 40 * ms},
		{name: "failure 4", opts: backoff, failures: 4, want: 80 * ms},
		{name: "failure 5 capped", opts: backoff, failures: 5, want: 100 * ms},
		{name: "failure 1000 capped", opts: backoff, failures: 1000, want: 100 * ms},
		{name: "factor 1 is constant", opts: Options{ReconnectionTime: 10 * ms, BackoffFactor: 1}, failures: 5, want: 10 * ms},
		{name: "factor 0 is constant", opts: Options{ReconnectionTime: 10 * ms}, failures: 5, want: 10 * ms},
		{name: "factor 1.5", opts: Options{ReconnectionTime: 8 * ms, BackoffFactor: 1.5}, failures: 3, want: 18 * ms},
		{name: "defaults", opts: Options{}, failures: 3, want: DefaultReconnectionTime},
		{name: "server retry is the base", opts: backoff, stream: "retry: 30\n\n", failures: 2, want: 60 * ms},
		{name: "server retry capped", opts: backoff, stream: "retry: 999999999999999999999\n\n", failures: 1, want: 100 * ms},
		{name: "retry-after longer", opts: backoff, failures: 1, retryAfter: 70 * ms, want: 70 * ms},
		{name: "retry-after shorter", opts: backoff, failures: 3, retryAfter: 5 * ms, want: 40 * ms},
		{name: "retry-after capped", opts: backoff, failures: 1, retryAfter: time.Hour, want: 100 * ms},
		{name: "retry-after huge", opts: backoff, failures: 1, retryAfter: math.MaxInt64, want: 100 * ms},
		{
			name:     "no cap does not overflow",
			opts:     Options{ReconnectionTime: ms, MaxReconnectionTime: math.MaxInt64, BackoffFactor: 2},
			failures: 100, want: math.MaxInt64,
		},
		{
			name:     "jitter",
			opts:     Options{ReconnectionTime: 10 * ms, MaxReconnectionTime: 100 * ms, BackoffFactor: 2, Jitter: 0.5},
			failures: 3, want: 40 * ms,
		},
		{name: "slow status: the cap", opts: backoff, failures: 1, slow: true, want: 100 * ms},
		{name: "slow status: the default cap", opts: Options{ReconnectionTime: 10 * ms}, failures: 1, slow: true, want: DefaultMaxReconnectionTime},
		{
			name:     "slow status: no jitter",
			opts:     Options{ReconnectionTime: 10 * ms, MaxReconnectionTime: 100 * ms, Jitter: 0.5},
			failures: 1, slow: true, want: 100 * ms,
		},
		{
			name:     "jitter above 1 is 1",
			opts:     Options{ReconnectionTime: 10 * ms, Jitter: 3},
			failures: 1, want: 10 * ms,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			es := newEventSource(tt.opts)
			if tt.stream != "" {
				es.parser.Reset(strings.NewReader(tt.stream))
				if _, err := es.parser.Next(); err != io.EOF {
					t.Fatalf("parsing %q: got %v, want io.EOF", tt.stream, err)
				}
				es.publish() // as Next does after each parser call
			}
			es.backoff.failures, es.backoff.retryAfter, es.backoff.slow = tt.failures, tt.retryAfter, tt.slow
			j := min(tt.opts.Jitter, 1)
			if tt.slow {
				j = 0
			}
			lo := tt.want - time.Duration(float64(tt.want)*j)
			varied := false
			for range 200 {
				got := es.backoff.next(es.ReconnectionTime())
				if got < lo || got > tt.want {
					t.Fatalf("next() = %v, want within [%v, %v]", got, lo, tt.want)
				}
				varied = varied || got != tt.want
			}
			if j > 0 && !varied {
				t.Fatalf("next() was %v every time, want jitter", tt.want)
			}
		})
	}
}

// TestBackoff_Failed checks what the policy learns from a failed attempt:
// the slow statuses, Retry-After, and the time spent failing that gives up.
func TestBackoff_Failed(t *testing.T) {
	const ms = time.Millisecond
	opts := Options{ReconnectionTime: 10 * ms, MaxReconnectionTime: 100 * ms, MaxElapsedTime: time.Second, SlowRetryStatuses: []int{401, 404}}
	b := newBackoff(&opts)
	start := time.Now()
	steps := []struct {
		name    string
		at      time.Duration // after start
		re      *ResponseError
		want    time.Duration
		giveUp  bool
		failing time.Duration
	}{
		{name: "network error", at: 0, want: 10 * ms},
		{name: "slow status", at: 10 * ms, re: &ResponseError{StatusCode: 401}, want: 100 * ms, failing: 10 * ms},
		{name: "other status", at: 20 * ms, re: &ResponseError{StatusCode: 503}, want: 10 * ms, failing: 20 * ms},
		{name: "other slow status", at: 30 * ms, re: &ResponseError{StatusCode: 404, RetryAfter: 50 * ms}, want: 100 * ms, failing: 30 * ms},
		{name: "retry-after", at: 40 * ms, re: &ResponseError{StatusCode: 503, RetryAfter: 50 * ms}, want: 50 * ms, failing: 40 * ms},
		{name: "network error forgets retry-after", at: 50 * ms, want: 10 * ms, failing: 50 * ms},
		{name: "too long", at: time.Second, want: 10 * ms, failing: time.Second, giveUp: true},
	}
	for _, st := range steps {
		failing, ok := b.failed(start.Add(st.at), st.re)
		if failing != st.failing || ok == st.giveUp {
			t.Fatalf("%s: failed() = %v, %v; want %v, %v", st.name, failing, ok, st.failing, !st.giveUp)
		}
		if got := b.next(opts.ReconnectionTime); got != st.want {
			t.Fatalf("%s: next() = %v, want %v", st.name, got, st.want)
		}
	}
	b.opened()
	if got := b.next(opts.ReconnectionTime); got != 10*ms || b.failures != 0 || !b.failingAt.IsZero() {
		t.Fatalf("after an open: next() = %v, %d failures, failing since %v; want 10ms, none, never", got, b.failures, b.failingAt)
	}
}

// TestEventSource_SlowRetryStatuses checks, end to end, that a retried
// response with a slow status waits the longest wait, and that
// ReconnectDelay reports that wait in OnError.
func TestEventSource_SlowRetryStatuses(t *testing.T) {
	t.Parallel()
	const longest = 100 * time.Millisecond
	arrived := make(chan time.Time, 2)
	s := newESServer(t, func(s *esServer, n int, w http.ResponseWriter, r *http.Request) {
		arrived <- time.Now()
		if n == 1 {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		sendAndHold("data: in\n\n")(s, n, w, r)
	})
	var es *EventSource
	delays := make(chan time.Duration, 1)
	es = newES(t, s, Options{
		ReconnectionTime:    time.Millisecond,
		MaxReconnectionTime: longest,
		Jitter:              0.5, // a slow wait has none
		RetryResponse:       func(*ResponseError) bool { return true },
		SlowRetryStatuses:   []int{http.StatusUnauthorized},
		OnError: func(err error) {
			if re := (*ResponseError)(nil); !errors.As(err, &re) || re.StatusCode != http.StatusUnauthorized {
				t.Errorf("OnError: got %v, want the 401", err)
			}
			delays <- es.ReconnectDelay()
		},
	})
	wantData(t, es, "in")
	if d := signal(t, delays, "error event"); d != longest {
		t.Fatalf("ReconnectDelay in OnError = %v, want the longest wait %v", d, longest)
	}
	first, second := <-arrived, <-arrived
	if gap := second.Sub(first); gap < longest {
		t.Fatalf("retried after %v, want at least %v", gap, longest)
	}
}
