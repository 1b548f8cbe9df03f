package testport

import (
	"net"
	"strconv"
	"testing"
)

// TestAddrBelowTheEphemeralRange: the addresses are on loopback, below the range the kernel
// gives outgoing connections, free to listen on, and spread over that span.
func TestAddrBelowTheEphemeralRange(t *testing.T) {
	low := ephemeralLow()
	seen := map[string]bool{}
	for range 50 {
		addr, err := Addr()
		if err != nil {
			t.Fatal(err)
		}
		host, p, err := net.SplitHostPort(addr)
		if err != nil {
			t.Fatal(err)
		}
		port, err := strconv.Atoi(p)
		if err != nil {
			t.Fatal(err)
		}
		if host != "127.0.0.1" || port >= low || port < low-span {
			t.Errorf("Addr() = %s, want 127.0.0.1 and a port in [%d, %d)", addr, low-span, low)
		}
		seen[addr] = true
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("listen on %s: %v", addr, err)
		}
		ln.Close()
	}
	// 50 picks from 8,000 ports are all different but for a rare pair: a fixed port fails.
	if len(seen) < 45 {
		t.Errorf("50 calls gave %d different addresses, want them spread over the span", len(seen))
	}
}
