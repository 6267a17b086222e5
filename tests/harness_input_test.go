package tests

// Running the real `sse` input in a stream of this process, recording what
// it delivers.

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/require"

	"github.com/benthos-sse/benthos-sse/internal/ssetest"
)

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
	calls    atomic.Int64     // consumer calls
	problems ssetest.Problems // from consumer callbacks, reported by Wait*
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
		h.problems.Check(t)
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
	// It fails when no event arrives for waitLimit: a wedged stream, not
	// a slow machine (a race-enabled run on two busy cores once took over
	// 15s for 32 MiB). The overall bound keeps the loop bounded in time.
	stall := time.NewTimer(waitLimit)
	defer stall.Stop()
	overall := time.After(10 * waitLimit)
	seen := -1
	for {
		h.problems.Check(h.t)
		c := h.Count()
		if c >= n {
			return h.Events()
		}
		if c > seen {
			seen = c
			stall.Reset(waitLimit)
		}
		select {
		case <-h.notify:
		case err := <-h.done:
			h.done <- err
			if e := h.Events(); len(e) >= n {
				return e
			}
			h.t.Fatalf("the stream ended (%v) after %d of %d events; logs:\n%s", err, h.Count(), n, h.Logs.All())
		case <-stall.C:
			h.t.Fatalf("no event for %v, waiting for %d events; got %d; logs:\n%s", waitLimit, n, h.Count(), h.Logs.All())
		case <-overall:
			h.t.Fatalf("waited %v for %d events; got %d; logs:\n%s", 10*waitLimit, n, h.Count(), h.Logs.All())
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
