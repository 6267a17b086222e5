// Package freeport picks a 127.0.0.1 TCP port for a test process to hand to
// a server it starts later (the binary's HTTP server, a restarted broker,
// redis-server).
//
// The port is chosen below the kernel's ephemeral range (32768-60999 on
// Linux), at random. Asking the kernel for port 0 and closing the listener
// returned a port from that range, which the next listener on port 0 in any
// test process running in parallel could be given before our server bound
// it: a binary's /ready once answered with another test server's 404.
// Nothing asks the kernel for a port below the range, so only another
// caller of this package can collide, one time in thousands, and the
// bind check below catches a port that is already taken.
package freeport

import (
	"errors"
	"math/rand/v2"
	"net"
	"strconv"
)

// low and high bound the ports handed out: above the registered services
// that a test machine may run, below the ephemeral range.
const (
	low  = 20000
	high = 32768
)

// Addr returns "127.0.0.1:port" for a port that was free a moment ago and
// that the kernel does not hand out on its own.
func Addr() (string, error) {
	for range 100 {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(low+rand.IntN(high-low)))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			continue // taken; try another
		}
		if err := ln.Close(); err != nil {
			return "", err
		}
		return addr, nil
	}
	return "", errors.New("freeport: no free port found in 100 tries")
}

// Port is Addr's port as a number.
func Port() (int, error) {
	addr, err := Addr()
	if err != nil {
		return 0, err
	}
	_, p, _ := net.SplitHostPort(addr)
	return strconv.Atoi(p)
}
