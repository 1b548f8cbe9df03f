package testpg

import (
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
)

// Outage stands between a test and the PostgreSQL server, so the test can make the server
// unreachable for a while, as a restart or a failover does, without touching the server that
// other tests share. Down drops every connection through it and refuses new ones; Up takes
// them again on the same address.
type Outage struct {
	t      testing.TB
	addr   string // the address the DSN names
	target string // the server's

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

// WithOutage returns dsn pointed at a loopback relay to its server, and the relay's control.
// The relay is up; it stops when the test ends.
func WithOutage(t testing.TB, dsn string) (*Outage, string) {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("parse DSN: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o := &Outage{t: t, addr: ln.Addr().String(), target: u.Host, conns: map[net.Conn]bool{}}
	o.serve(ln)
	t.Cleanup(o.Down)
	u.Host = o.addr
	return o, u.String()
}

// Down closes every relayed connection and stops listening: a connection is refused until Up.
func (o *Outage) Down() {
	o.mu.Lock()
	if o.ln != nil {
		o.ln.Close()
		o.ln = nil
	}
	for c := range o.conns {
		c.Close()
	}
	o.mu.Unlock()
	o.wg.Wait()
}

// Up listens again on the same address.
func (o *Outage) Up() {
	o.t.Helper()
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		o.t.Fatalf("relay: listen again on %s: %v", o.addr, err)
	}
	o.serve(ln)
}

func (o *Outage) serve(ln net.Listener) {
	o.mu.Lock()
	o.ln = ln
	o.mu.Unlock()
	o.wg.Add(1)
	go func() {
		defer o.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", o.target)
			if err != nil {
				c.Close()
				continue
			}
			if !o.track(c, s) {
				return
			}
			o.wg.Add(2)
			go o.pipe(c, s)
			go o.pipe(s, c)
		}
	}()
}

// track records a relayed pair, or closes it and reports false when the relay went down meanwhile.
func (o *Outage) track(c, s net.Conn) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.ln == nil {
		c.Close()
		s.Close()
		return false
	}
	o.conns[c], o.conns[s] = true, true
	return true
}

func (o *Outage) pipe(dst, src net.Conn) {
	defer o.wg.Done()
	_, _ = io.Copy(dst, src)
	dst.Close()
	src.Close()
	o.mu.Lock()
	delete(o.conns, dst)
	delete(o.conns, src)
	o.mu.Unlock()
}
