package connlimit

import (
	"io"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// dialFrom connects to addr from the loopback address src and returns the
// connection and the server's first byte ("" when the server closed it).
func dialFrom(t *testing.T, src, addr string) (net.Conn, string) {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b := make([]byte, 1)
	if _, err := io.ReadFull(c, b); err != nil {
		return c, ""
	}
	return c, string(b)
}

// A client at its cap has its next connection closed; other clients are
// served; a closed connection gives its slot back.
func TestPerClientCap(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var refused []netip.Prefix
	ln := Listen(raw, 10, 2, func(p netip.Prefix) {
		mu.Lock()
		refused = append(refused, p)
		mu.Unlock()
	})
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = c.Write([]byte("y"))
				_, _ = io.Copy(io.Discard, c) // held until the client closes
			}()
		}
	}()
	addr := raw.Addr().String()
	first, got := dialFrom(t, "127.0.0.2", addr)
	if got != "y" {
		t.Fatal("first connection not served")
	}
	if _, got := dialFrom(t, "127.0.0.2", addr); got != "y" {
		t.Fatal("second connection not served")
	}
	if _, got := dialFrom(t, "127.0.0.2", addr); got != "" {
		t.Fatal("third connection from one client served past its cap of 2")
	}
	if _, got := dialFrom(t, "127.0.0.3", addr); got != "y" {
		t.Fatal("another client refused")
	}
	mu.Lock()
	if len(refused) != 1 || refused[0] != netip.MustParsePrefix("127.0.0.2/32") {
		t.Errorf("refused = %v, want [127.0.0.2/32]", refused)
	}
	mu.Unlock()
	first.Close()
	// The slot comes back once the server side has closed too.
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, got := dialFrom(t, "127.0.0.2", addr); got == "y" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a closed connection did not give its slot back")
		}
	}
}

func TestClientOfIPv6Slash64(t *testing.T) {
	p, ok := clientOf(&net.TCPAddr{IP: net.ParseIP("2001:db8::1:2:3:4")})
	if !ok || p != netip.MustParsePrefix("2001:db8::/64") {
		t.Errorf("clientOf = %v %v", p, ok)
	}
	p, ok = clientOf(&net.TCPAddr{IP: net.ParseIP("::ffff:10.1.2.3")})
	if !ok || p != netip.MustParsePrefix("10.1.2.3/32") {
		t.Errorf("clientOf(v4-mapped) = %v %v", p, ok)
	}
}
