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
