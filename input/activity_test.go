package input

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/benthos-sse/benthos-sse/sse"
)

// TestActivity_OneGoroutineForAllInputs checks that the shared watcher runs
// one goroutine while any input is registered, and none once the last one
// is removed.
func TestActivity_OneGoroutineForAllInputs(t *testing.T) {
	var w activityWatcher
	es, err := sse.New("http://127.0.0.1:1/", sse.Options{})
	require.NoError(t, err)
	a, b := &reader{in: &sseInput{}}, &reader{in: &sseInput{}}

	w.add(a, es)
	first := w.done
	require.NotNil(t, first)
	w.add(b, es)
	assert.Equal(t, first, w.done, "a second input must not start a second goroutine")

	w.remove(a)
	w.remove(a) // removing twice is harmless
	select {
	case <-first:
		t.Fatal("the goroutine stopped while an input was still registered")
	default:
	}
	w.update() // nil gauges: must not panic

	w.remove(b)
	select {
	case <-first:
	case <-time.After(5 * time.Second):
		t.Fatal("the goroutine still runs after the last input was removed")
	}
	assert.Nil(t, w.stop)

	w.add(a, es) // a later input starts a new goroutine
	require.NotNil(t, w.done)
	assert.NotEqual(t, first, w.done)
	w.remove(a)
}
