package input

import (
	"errors"
	"sync"
)

// failures holds why sse inputs of this process ended because they could
// not go on. Benthos gives a component no way to choose the exit code (an
// input that ends, for any reason, ends the pipeline with code 0), so the
// input records the reason here and the distribution's main reads it with
// [Failure] once the CLI returns.
var failures struct {
	mu   sync.Mutex
	errs []error
}

// recordFailure notes that an input ended because of err.
func recordFailure(err error) {
	failures.mu.Lock()
	defer failures.mu.Unlock()
	failures.errs = append(failures.errs, err)
}

// Failure reports why the sse inputs of this process that ended because
// they could not go on did so: reconnect.max_elapsed_time ran out, the
// server answered a status listed in fail_on, or the `from` source could
// not be read. It is nil when every input ended normally (a 204, the end of
// a stream with stream_end: stop, end_on_data, the end of a `from` file) or
// is still running. Several reasons are joined, in the order they happened.
//
// A Benthos distribution calls it after [service.RunCLIToCode] returns and
// exits non-zero when it is not nil, as cmd/benthos-sse does; it holds for
// `run` and `streams` alike, since it covers every input of the process.
func Failure() error {
	failures.mu.Lock()
	defer failures.mu.Unlock()
	return errors.Join(failures.errs...)
}
