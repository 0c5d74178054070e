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

// TestTakeRangeIsNeverTakenFrom reserves a range and takes ports until,
// without the reservation, one would all but certainly fall inside it (3,000
// of ~22,000 ports, 64 of them reserved: a miss every time has odds of about
// 1 in 4,000).
func TestTakeRangeIsNeverTakenFrom(t *testing.T) {
	const n = 64
	handedOut.Clear() // what other tests took would leave few free ranges
	base, err := TakeRange(n)
	if err != nil {
		t.Fatal(err)
	}
	if other, err := TakeRange(n); err != nil {
		t.Fatal(err)
	} else if other < base+n && base < other+n {
		t.Fatalf("ranges %d and %d of %d ports overlap", base, other, n)
	}
	for p := base; p < base+n; p++ {
		l, err := net.Listen("tcp", ":"+strconv.Itoa(p))
		if err != nil {
			t.Fatalf("port %d of the range %d-%d cannot be bound: %v", p, base, base+n-1, err)
		}
		l.Close()
	}
	for range 3000 {
		p, err := Take("127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		if p >= base && p < base+n {
			t.Fatalf("Take returned %d, inside the reserved range %d-%d", p, base, base+n-1)
		}
	}
}
