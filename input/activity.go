package input

import (
	"sync"
	"time"

	"github.com/benthos-sse/benthos-sse/sse"
)

// activityInterval is how often sse_last_byte_age_seconds is updated.
const activityInterval = time.Second

// activity keeps the sse_last_byte_age_seconds gauge of every connected
// stream current, so that an alert can tell a silently dead stream from a
// quiet one even when no event arrives to update anything. One goroutine
// and one ticker serve every input in the process, rather than one each:
// a process following ten thousand streams would otherwise hold ten
// thousand goroutines and wake each of them every second. Only the streams
// with gauges of their own are watched (see maxLabelledStreams).
var activity activityWatcher

type activityWatcher struct {
	mu     sync.Mutex
	inputs map[*reader]*sse.EventSource
	stop   chan struct{} // closes to end the running goroutine, nil if none
	done   chan struct{} // closed when that goroutine has returned
}

// add starts updating in's gauge from es, starting the goroutine if in is
// the first stream.
func (w *activityWatcher) add(in *reader, es *sse.EventSource) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.inputs == nil {
		w.inputs = map[*reader]*sse.EventSource{}
	}
	w.inputs[in] = es
	if w.stop == nil {
		w.stop, w.done = make(chan struct{}), make(chan struct{})
		go w.run(w.stop, w.done)
	}
}

// remove stops updating in's gauge. Removing the last stream stops the
// goroutine and waits for it, so that no goroutine outlives the inputs.
func (w *activityWatcher) remove(in *reader) {
	w.mu.Lock()
	if _, ok := w.inputs[in]; !ok {
		w.mu.Unlock()
		return
	}
	delete(w.inputs, in)
	var done chan struct{}
	if len(w.inputs) == 0 && w.stop != nil {
		close(w.stop)
		done = w.done
		w.stop, w.done = nil, nil
	}
	w.mu.Unlock()
	if done != nil {
		<-done
	}
}

func (w *activityWatcher) run(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	tickUntil(stop, activityInterval, w.update)
}

// tickUntil calls f every d until stop is closed.
func tickUntil(stop <-chan struct{}, d time.Duration, f func()) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			f()
		}
	}
}

// update sets every input's gauge. It holds the lock throughout: setting a
// gauge is quick, and an input removed meanwhile must not be updated after
// its Close returned.
func (w *activityWatcher) update() {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := time.Now()
	for in, es := range w.inputs {
		if last := es.LastActivity(); !last.IsZero() {
			in.in.m.lastByteAge.SetFloat64(now.Sub(last).Seconds(), in.labels...)
		}
	}
}
