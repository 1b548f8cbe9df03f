// Package testport picks loopback addresses for servers that a test (or the load test) starts
// after choosing their address: a provider that comes up late, a server whose address goes into
// its own configuration.
//
// Asking the kernel for port 0 and closing the listener gives a port from the ephemeral range,
// the one the kernel also hands out as the local port of outgoing connections; on a machine busy
// with loopback traffic (the tests of several packages at once, a browser) an outgoing
// connection took such a port before the server listened on it ("bind: address already in use").
// The ports given here lie just below that range, where the kernel gives none by itself.
package testport

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
)

// span is how many ports below the ephemeral range Addr picks from.
const span = 8000

// Addr returns "127.0.0.1:PORT" where nothing listened a moment ago, PORT picked at random below
// the kernel's ephemeral range. Another caller picking the same port by chance (about 1 in 8,000
// for two at once) may still take it first; the server then fails to start, saying so.
func Addr() (string, error) {
	low := ephemeralLow()
	for range 200 {
		port := low - 1 - rand.IntN(span)
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		if err := ln.Close(); err != nil {
			return "", fmt.Errorf("testport: %w", err)
		}
		return addr, nil
	}
	return "", errors.New("testport: no free port found below the ephemeral range")
}

// ephemeralLow is the first port of the kernel's ephemeral range: Linux's
// ip_local_port_range, or its default, 32768, where that cannot be read (other systems'
// ranges start higher).
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil && n-span > 1024 {
				return n
			}
		}
	}
	return 32768
}
