//go:build unix

package input

import (
	"os"
	"syscall"
)

// unblockOpen ends an open of path that is blocked because path is a FIFO
// with no writer: it opens the FIFO for writing without blocking, which
// completes the pending open, and closes it again, which the reader sees as
// the end of the stream. For anything else it does nothing.
func unblockOpen(path string) {
	if st, err := os.Stat(path); err != nil || st.Mode()&os.ModeNamedPipe == 0 {
		return
	}
	fd, err := syscall.Open(path, syscall.O_WRONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err == nil {
		syscall.Close(fd)
	}
}
