package freeport

import (
	"net"
	"strconv"
	"testing"
)

// TestTakeNeverRepeats takes more ports than the kernel's random choice lets
// pass without a repeat (birthday bound over ~14,000 odd ports: a repeat is
// all but certain by 500) and checks each is new and bindable.
func TestTakeNeverRepeats(t *testing.T) {
	seen := map[int]bool{}
	for range 500 {
		p, err := Take("127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		if seen[p] {
			t.Fatalf("port %d handed out twice", p)
		}
		// Below the ephemeral range: no port-0 listener or outgoing
		// connection on the machine can take it between Take and the bind.
		if low := ephemeralLow(); low-lowest >= 1000 && (p < lowest || p >= low) {
			t.Fatalf("port %d is not in %d-%d, below the ephemeral range", p, lowest, low-1)
		}
		seen[p] = true
	}
	for p := range seen {
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			t.Fatalf("port %d was handed out but cannot be bound: %v", p, err)
		}
		l.Close()
		break
	}
}
