package input

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	benthossse "github.com/benthos-sse/benthos-sse"
)

// checkFrom refuses a `from` path that cannot be a byte stream: a missing
// file, or a directory (which opens, then fails at the first read, and
// used to end the input with exit code 0).
func checkFrom(path string) error {
	if path == "" || path == "-" {
		return nil
	}
	st, err := os.Stat(path)
	if err != nil {
		return benthossse.FieldError(benthossse.FieldFrom, err)
	}
	if st.IsDir() {
		return benthossse.FieldError(benthossse.FieldFrom, fmt.Errorf("%s is a directory, not a file of events", path))
	}
	return nil
}

// fromOpener opens the `from` file without ever blocking shutdown. Opening
// a FIFO blocks until a writer opens it, possibly forever, so the open runs
// in its own goroutine: Connect waits for it or for its context, and Close
// ends it (see unblockOpen) and waits for it. It used to run under the lock
// Close needs, which held SIGTERM for the whole shutdown_timeout.
type fromOpener struct {
	path string

	once sync.Once
	done chan struct{} // closed when the open returned
	f    *os.File
	err  error

	mu     sync.Mutex
	closed bool
	taken  bool // f was handed to the event source, which closes it
}

func newFromOpener(path string) *fromOpener {
	return &fromOpener{path: path, done: make(chan struct{})}
}

// errFromClosed is returned by open once close was called.
var errFromClosed = errors.New("input closed")

// open returns the opened file, waiting at most until ctx ends (the open
// goes on, and a later call picks up its result).
func (o *fromOpener) open(ctx context.Context) (*os.File, error) {
	o.once.Do(func() {
		go func() {
			defer close(o.done)
			o.f, o.err = os.Open(o.path)
		}()
	})
	select {
	case <-o.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	switch {
	case o.closed:
		return nil, errFromClosed
	case o.err != nil:
		return nil, benthossse.FieldError(benthossse.FieldFrom, o.err)
	}
	o.taken = true
	return o.f, nil
}

// close ends a pending open and waits for it, up to ctx; it closes the file
// unless open handed it out.
func (o *fromOpener) close(ctx context.Context) error {
	o.mu.Lock()
	o.closed = true
	o.mu.Unlock()
	o.once.Do(func() { close(o.done) }) // never started: nothing to end
	pending := false
	select {
	case <-o.done:
	default:
		pending = true
	}
	// The opening goroutine may not have reached its open yet, and a FIFO
	// with no reader refuses the writer unblockOpen opens: try again until
	// the open returned (a SIGTERM just after start-up waited the whole
	// shutdown_timeout).
	for pending {
		unblockOpen(o.path)
		t := time.NewTimer(10 * time.Millisecond)
		select {
		case <-o.done:
			pending = false
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
		t.Stop()
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.f != nil && !o.taken {
		o.f.Close()
	}
	return nil
}
