//go:build !unix

package input

// unblockOpen does nothing where an open of a FIFO does not block.
func unblockOpen(string) {}
