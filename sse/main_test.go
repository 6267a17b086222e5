package sse

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if any test leaves a goroutine behind: a reader the
// parser started, a connection the event source did not release, or a test
// server or transport that was not closed.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
