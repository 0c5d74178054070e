// Package connlimit bounds the connections a listener hands to its server, in
// total and per client, so that one client cannot hold every file descriptor
// of the process (and with them DNS over TCP, forwarding and master polling).
//
// Past the total, Accept waits: further clients queue in the kernel's listen
// backlog, as with golang.org/x/net/netutil.LimitListener. Past a client's own
// cap, its new connection is closed at once, so that a client holding many
// connections cannot fill the total and lock everyone else out.
package connlimit

import (
	"net"
	"net/netip"
	"sync"

	"golang.org/x/net/netutil"
)

// Refused is called (from Accept's goroutine) for every connection closed
// because its client was at its cap.
type Refused func(client netip.Prefix)

// Listen wraps ln: at most total connections open at once (0: no total) and at
// most perClient per client (0: no per-client cap). A client is one IPv4
// address or one IPv6 /64 (what one host usually gets).
func Listen(ln net.Listener, total, perClient int, refused Refused) net.Listener {
	if total > 0 {
		ln = netutil.LimitListener(ln, total)
	}
	if perClient <= 0 {
		return ln
	}
	return &listener{Listener: ln, perClient: perClient, refused: refused, open: map[netip.Prefix]int{}}
}

type listener struct {
	net.Listener
	perClient int
	refused   Refused

	mu   sync.Mutex
	open map[netip.Prefix]int
}

func (l *listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		client, ok := clientOf(c.RemoteAddr())
		if !ok {
			return c, nil // not an IP connection: nothing to count by
		}
		l.mu.Lock()
		full := l.open[client] >= l.perClient
		if !full {
			l.open[client]++
		}
		l.mu.Unlock()
		if full {
			_ = c.Close()
			if l.refused != nil {
				l.refused(client)
			}
			continue
		}
		return &conn{Conn: c, release: func() { l.release(client) }}, nil
	}
}

func (l *listener) release(client netip.Prefix) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[client]--; l.open[client] <= 0 {
		delete(l.open, client)
	}
}

// clientOf is the prefix a remote address is counted under.
func clientOf(a net.Addr) (netip.Prefix, bool) {
	tcp, ok := a.(*net.TCPAddr)
	if !ok {
		return netip.Prefix{}, false
	}
	ip, ok := netip.AddrFromSlice(tcp.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	ip = ip.Unmap()
	bits := 32
	if ip.Is6() {
		bits = 64
	}
	p, _ := ip.Prefix(bits)
	return p, true
}

// conn gives its client's slot back once, on the first Close.
type conn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
