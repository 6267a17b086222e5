package input

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if any test or benchmark leaves a goroutine behind:
// a reader goroutine Close did not wait for, an ack or checkpoint goroutine,
// a stream or test server that was not closed, or an idle connection of a
// transport nobody closed. Nothing needs ignoring: Benthos' streams and the
// shared transports are all closed by the tests that start them.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
