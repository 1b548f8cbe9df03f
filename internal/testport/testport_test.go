package testport

import (
	"net"
	"os"
	"strconv"
	"strings"
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

// TestEphemeralLowIsTheKernels: the range Addr stays below starts where Linux's
// ip_local_port_range says, so that no port Addr gives is one the kernel hands out itself.
func TestEphemeralLowIsTheKernels(t *testing.T) {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		t.Skipf("no ip_local_port_range here: %v", err)
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		t.Fatalf("ip_local_port_range = %q", b)
	}
	want, err := strconv.Atoi(f[0])
	if err != nil {
		t.Fatal(err)
	}
	if want-span <= 1024 {
		want = 32768 // too low a range to keep a span below it: the default
	}
	if got := ephemeralLow(); got != want {
		t.Errorf("ephemeralLow() = %d, want %d (ip_local_port_range %q)", got, want, strings.TrimSpace(string(b)))
	}
}
