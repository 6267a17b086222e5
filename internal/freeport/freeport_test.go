package freeport

import (
	"net"
	"strconv"
	"testing"
)

func TestAddr_BelowTheEphemeralRange(t *testing.T) {
	for range 50 {
		addr, err := Addr()
		if err != nil {
			t.Fatal(err)
		}
		host, p, err := net.SplitHostPort(addr)
		if err != nil {
			t.Fatal(err)
		}
		port, _ := strconv.Atoi(p)
		if host != "127.0.0.1" || port < low || port >= high {
			t.Fatalf("Addr() = %s, want 127.0.0.1 and a port in [%d, %d)", addr, low, high)
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("the port Addr returned cannot be bound: %v", err)
		}
		ln.Close()
	}
}

func TestAddr_SkipsATakenPort(t *testing.T) {
	// A port held by a listener is never handed out while it is held.
	held, err := Addr()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", held)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for range 200 {
		addr, err := Addr()
		if err != nil {
			t.Fatal(err)
		}
		if addr == held {
			t.Fatalf("Addr returned %s, which is held by a listener", addr)
		}
	}
}
