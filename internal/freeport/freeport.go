// Package freeport hands tests and benchmarks TCP ports that are free on a
// loopback address, never the same port twice in one process.
//
// Asking the kernel for port 0 and closing the probe is the usual way to find a
// free port, but it has two holes. The kernel picks at random and may offer
// the same port again once the probe is closed: a test asking for four ports
// sees two equal ones in about 1 run in 1,250 (measured on Linux 6.1). And the
// port comes from the ephemeral range, which every port-0 listener and every
// outgoing connection on the machine also draws from: between the probe and
// the bind, a daemon's own port-0 HTTP listener took the port a test had
// given HAProxy (seen in a stress run), and HAProxy could not start.
//
// So ports are taken below the ephemeral range (ip_local_port_range), where
// the kernel never assigns one by itself, starting at a random place so that
// test processes running side by side rarely probe the same ports, and never
// the same port twice in one process.
package freeport

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
)

// handedOut are the ports Take has returned in this process.
var handedOut sync.Map // int → struct{}

// lowest is the bottom of the range ports are taken from: above the ports
// services are configured on by habit (8080, 8123, 9090…).
const lowest = 10000

// Take returns a TCP port free on ip at the time of the call that it has not
// returned before in this process, below the kernel's ephemeral range.
func Take(ip string) (int, error) {
	lo, hi := lowest, ephemeralLow()-1
	if hi-lo < 1000 {
		return takeEphemeral(ip)
	}
	n := hi - lo + 1
	start := rand.IntN(n)
	for i := range n {
		port := lo + (start+i)%n
		if _, dup := handedOut.Load(port); dup {
			continue
		}
		l, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
		if err != nil {
			continue // in use
		}
		l.Close()
		if _, dup := handedOut.LoadOrStore(port, struct{}{}); !dup {
			return port, nil
		}
	}
	return 0, fmt.Errorf("finding a free port on %s: none free in %d-%d", ip, lo, hi)
}

// ephemeralLow is the first port of the kernel's ephemeral range (32768 when
// it cannot be read, Linux's default).
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 32768
	}
	lo, err := strconv.Atoi(f[0])
	if err != nil {
		return 32768
	}
	return lo
}

// takeEphemeral is Take where the range below the ephemeral one is too small:
// a port the kernel offers for port 0.
func takeEphemeral(ip string) (int, error) {
	for range 1000 {
		l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
		if err != nil {
			return 0, fmt.Errorf("finding a free port on %s: %w", ip, err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if _, dup := handedOut.LoadOrStore(port, struct{}{}); !dup {
			return port, nil
		}
	}
	return 0, fmt.Errorf("finding a free port on %s: every port offered was handed out already", ip)
}

// TakeRange returns the first of n consecutive ports that are all free on
// every address (a listener on the wildcard address takes each) and that Take
// has not returned, and reserves them: Take never returns one of them
// afterwards. Tests and benchmarks give such a range to the simulated
// cluster's service ports, where HAProxy binds a frontend per app; a port of
// the daemon's own taken by Take inside that range would keep HAProxy from
// starting.
func TakeRange(n int) (int, error) {
	lo, hi := lowest, ephemeralLow()-n
	if hi <= lo {
		return 0, fmt.Errorf("finding %d free ports: no room below the ephemeral range", n)
	}
	for range 200 {
		base := lo + rand.IntN(hi-lo)
		if !reserve(base, n) {
			continue
		}
		free := true
		for p := base; p < base+n && free; p++ {
			l, err := net.Listen("tcp", ":"+strconv.Itoa(p))
			if err != nil {
				free = false
				continue
			}
			l.Close()
		}
		if free {
			return base, nil
		}
		for p := base; p < base+n; p++ {
			handedOut.Delete(p)
		}
	}
	return 0, fmt.Errorf("finding %d consecutive free ports in %d-%d: none after 200 tries", n, lo, hi+n-1)
}

// reserve marks ports base to base+n-1 handed out, all or (when one of them
// already is) none.
func reserve(base, n int) bool {
	for p := base; p < base+n; p++ {
		if _, dup := handedOut.LoadOrStore(p, struct{}{}); dup {
			for q := base; q < p; q++ {
				handedOut.Delete(q)
			}
			return false
		}
	}
	return true
}
