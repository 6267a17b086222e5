//go:build unix

package input

import (
	"context"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	benthossse "github.com/benthos-sse/benthos-sse"
)

// TestFromOpener_CloseEndsABlockedOpen opens a FIFO nobody writes to: the
// open blocks, Connect's context bounds the wait, and close ends the open
// and waits for it.
func TestFromOpener_CloseEndsABlockedOpen(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "fifo")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	o := newFromOpener(fifo)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := o.open(ctx)
	assert.ErrorIs(t, err, context.DeadlineExceeded, "the open is still blocked")

	closeCtx, cancelClose := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancelClose()
	require.NoError(t, o.close(closeCtx), "close ends the blocked open")
	_, err = o.open(context.Background())
	assert.ErrorIs(t, err, errFromClosed)
}

// TestMaxReconnect checks the run-time meaning of reconnect.max_interval,
// whatever the config layer lets through: a cap is never below
// initial_interval, nor the 100ms floor.
func TestMaxReconnect(t *testing.T) {
	tests := []struct {
		name             string
		initial, maxWait time.Duration
		want             time.Duration
	}{
		{"zero (the config refuses it): initial_interval", time.Second, 0, time.Second},
		{"below initial_interval: initial_interval", 2 * time.Second, time.Second, 2 * time.Second},
		{"below the floor: the floor", 0, time.Millisecond, minReconnect},
		{"as configured", time.Second, time.Minute, time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &benthossse.Config{ReconnectInitial: tt.initial, ReconnectMax: tt.maxWait}
			assert.Equal(t, tt.want, maxReconnect(c))
		})
	}
}
