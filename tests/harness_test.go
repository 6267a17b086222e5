package tests

// The harness of the fault-injection suite (fault_*_test.go), one file per
// part: harness_plugins_test.go (a Benthos environment with two test plugins,
// a metrics exporter and a cache that record what the input does to them),
// harness_logs_test.go (a log capture), harness_server_test.go (the scripted
// SSE server of internal/ssetest, whose every connection is scripted by the
// test and whose every request is recorded), harness_input_test.go (a
// runner for the real `sse` input in a stream) and harness_helpers_test.go.
// The runner of the binary is in main_test.go.

import (
	"testing"

	_ "github.com/redpanda-data/benthos/v4/public/components/io"
	_ "github.com/redpanda-data/benthos/v4/public/components/pure"
	"go.uber.org/goleak"

	_ "github.com/benthos-sse/benthos-sse/input"
	"github.com/benthos-sse/benthos-sse/internal/ssetest"
)

// waitLimit bounds every wait for something the test expects to happen.
// It is a failure bound, never a synchronisation device.
const waitLimit = ssetest.WaitLimit

// noLeaks checks, when the test ends (after every other cleanup, so after
// the servers and streams closed), that the test left no goroutine behind.
// Call it first in a test that does not run in parallel.
func noLeaks(t *testing.T) {
	t.Helper()
	opt := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, opt) })
}
