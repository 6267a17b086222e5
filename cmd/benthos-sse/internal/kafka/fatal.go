package kafka

import (
	"errors"
	"sync"
)

// fatal holds why a component of this package stopped the process:
// Benthos gives an output no way to end the pipeline or choose the exit
// code, so the component records the reason here and closes stop, and the
// distribution's main cancels the run on [Stop] and exits 1 with
// [Failure].
var fatal = struct {
	mu   sync.Mutex
	errs []error
	stop chan struct{}
}{stop: make(chan struct{})}

// stopProcess records err and asks main to stop the process.
func stopProcess(err error) {
	fatal.mu.Lock()
	defer fatal.mu.Unlock()
	fatal.errs = append(fatal.errs, err)
	if len(fatal.errs) == 1 {
		close(fatal.stop)
	}
}

// Stop is closed when a component of this package must stop the process: a
// transactional kafka_franz output was fenced by another instance with the
// same transactional ID (re-initialising would fence that one in turn), the
// outcome of one of its commits could not be settled, or its producer ID
// failed beyond what franz-go recovers from (a transaction that outlived
// transaction_timeout, for one); or a kafka_offsets cache
// serves resume points that no transactional output of the process writes.
func Stop() <-chan struct{} { return fatal.stop }

// Failure reports why Stop was closed, or nil.
func Failure() error {
	fatal.mu.Lock()
	defer fatal.mu.Unlock()
	return errors.Join(fatal.errs...)
}
