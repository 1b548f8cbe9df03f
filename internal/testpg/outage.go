package testpg

import (
	"bufio"
	"encoding/binary"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
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
	fault commitFault // what happens to the next COMMIT (LoseNextCommit, LoseNextCommitAnswer)
	lost  int         // how many COMMITs or answers were lost so far (CommitsLost)
}

// commitFault is what the relay does to the next COMMIT a client sends.
type commitFault int

const (
	passCommit       commitFault = iota // relay it
	loseCommit                          // drop it and the connection: the server rolls back
	loseCommitAnswer                    // relay it, then drop the connection before its answer
)

// LoseNextCommit has the relay cut the connection that next sends COMMIT, instead of relaying it:
// the client waits for an answer that never comes, and the server rolls the transaction back.
func (o *Outage) LoseNextCommit() { o.setFault(loseCommit) }

// LoseNextCommitAnswer has the relay relay the next COMMIT, and cut its connection when the server
// answers, instead of relaying the answer: the transaction is committed, and the client never hears.
func (o *Outage) LoseNextCommitAnswer() { o.setFault(loseCommitAnswer) }

func (o *Outage) setFault(f commitFault) {
	o.mu.Lock()
	o.fault = f
	o.mu.Unlock()
}

// CommitsLost says how many COMMITs, or their answers, the relay has lost as it was asked to.
func (o *Outage) CommitsLost() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.lost
}

// takeFault returns what to do to a COMMIT now sent, and arms nothing for the next one.
func (o *Outage) takeFault() commitFault {
	o.mu.Lock()
	defer o.mu.Unlock()
	f := o.fault
	if f != passCommit {
		o.lost++
	}
	o.fault = passCommit
	return f
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
			var mute atomic.Bool // set: what the server sends next is dropped, and the connection with it
			go o.fromClient(s, c, &mute)
			go o.pipe(c, s, &mute)
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

// pipe relays what src sends to dst until either is closed, or until mute is set: then it drops
// what src sends next, and closes both.
func (o *Outage) pipe(dst, src net.Conn, mute *atomic.Bool) {
	defer o.closePair(dst, src)
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && mute.Load() {
			return
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// fromClient relays what the client c sends to the server s, message by message of PostgreSQL's
// protocol, so that it can tell a COMMIT and do to it what takeFault says. A client that asks for
// TLS is relayed without looking (the tests' DSNs say sslmode=disable).
func (o *Outage) fromClient(s, c net.Conn, mute *atomic.Bool) {
	defer o.closePair(s, c)
	r := bufio.NewReader(c)
	// The start-up message, and a request for TLS or GSS encryption before it, have no type byte.
	for startup := true; startup; {
		msg, err := readMessage(r, false)
		if err != nil || len(msg) < 8 {
			return
		}
		if _, err := s.Write(msg); err != nil {
			return
		}
		switch binary.BigEndian.Uint32(msg[4:8]) {
		case 80877103: // SSLRequest
			_, _ = io.Copy(s, r)
			return
		case 80877104: // GSSENCRequest: refused by a server without GSS, and the start-up follows
		default:
			startup = false
		}
	}
	for {
		msg, err := readMessage(r, true)
		if err != nil {
			return
		}
		if msg[0] == 'Q' && strings.EqualFold(strings.TrimSpace(strings.TrimRight(string(msg[5:]), "\x00")), "commit") {
			switch o.takeFault() {
			case loseCommit:
				return
			case loseCommitAnswer:
				mute.Store(true)
			}
		}
		if _, err := s.Write(msg); err != nil {
			return
		}
	}
}

// readMessage reads one message of PostgreSQL's protocol: a type byte when typed, then a length
// that counts itself and the body.
func readMessage(r *bufio.Reader, typed bool) ([]byte, error) {
	head := 4
	if typed {
		head = 5
	}
	msg := make([]byte, head, 64)
	if _, err := io.ReadFull(r, msg); err != nil {
		return nil, err
	}
	n := int(binary.BigEndian.Uint32(msg[head-4:]))
	if n < 4 || n > 1<<30 {
		return nil, io.ErrUnexpectedEOF
	}
	msg = append(msg, make([]byte, n-4)...)
	if _, err := io.ReadFull(r, msg[head:]); err != nil {
		return nil, err
	}
	return msg, nil
}

// closePair closes both ends of a relayed connection and forgets them.
func (o *Outage) closePair(a, b net.Conn) {
	a.Close()
	b.Close()
	o.mu.Lock()
	delete(o.conns, a)
	delete(o.conns, b)
	o.mu.Unlock()
	o.wg.Done()
}
