package mesos

import (
	"bytes"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"unsafe"

	"github.com/discovery-mesos/discovery/state"
)

// splitPID splits a libprocess id ("master@10.0.0.1:5050",
// "scheduler(1)@[2001:db8::1]:25501") into its host and port. ok is false when the
// id is malformed; then host and port are empty.
func splitPID(pid string) (host string, port int, ok bool) {
	at := strings.LastIndexByte(pid, '@')
	if at <= 0 {
		return "", 0, false
	}
	h, p, err := net.SplitHostPort(pid[at+1:])
	if err != nil || h == "" {
		return "", 0, false
	}
	n, err := strconv.ParseUint(p, 10, 16)
	if err != nil {
		return "", 0, false
	}
	return h, int(n), true
}

// appendPortRanges parses a Mesos port range string ("[31000-31001, 31005-31005]",
// "[]", "") and appends its ranges to dst. Malformed ranges are skipped, as
// mesos-dns skips them; a single port ("31000") is taken as a range of one.
func appendPortRanges(dst []state.PortRange, s []byte) []state.PortRange {
	s = bytes.TrimSpace(s)
	s = bytes.TrimPrefix(s, []byte("["))
	s = bytes.TrimSuffix(s, []byte("]"))
	for len(s) > 0 {
		var item []byte
		if i := bytes.IndexByte(s, ','); i >= 0 {
			item, s = s[:i], s[i+1:]
		} else {
			item, s = s, nil
		}
		item = bytes.TrimSpace(item)
		if len(item) == 0 {
			continue
		}
		lo, hi := item, item
		if i := bytes.IndexByte(item, '-'); i >= 0 {
			lo, hi = bytes.TrimSpace(item[:i]), bytes.TrimSpace(item[i+1:])
		}
		b, ok1 := parseRangePort(lo)
		e, ok2 := parseRangePort(hi)
		if !ok1 || !ok2 || b > e {
			continue
		}
		dst = append(dst, state.PortRange{Begin: b, End: e})
	}
	return dst
}

// parseRangePort parses a decimal port number, 0 to 65535.
func parseRangePort(b []byte) (uint32, bool) {
	if len(b) == 0 || len(b) > 5 {
		return 0, false
	}
	var n uint32
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint32(c-'0')
	}
	return n, n <= 65535
}

// parseTaskIP parses an IPv4 or IPv6 address as mesos-dns accepts them: no zone, and
// IPv4-mapped IPv6 addresses taken as IPv4.
func parseTaskIP(b []byte) (netip.Addr, bool) {
	if len(b) == 0 {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(unsafe.String(unsafe.SliceData(b), len(b)))
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// mesosInfoIP decodes the "ip" of a Mesos MasterInfo: an IPv4 address in network
// byte order, read as a little-endian integer.
func mesosInfoIP(n uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(n), byte(n >> 8), byte(n >> 16), byte(n >> 24)})
}

// stringInterner shares one copy of the strings that repeat across a state
// document. get interns for good (agent and framework ids, states, label keys: few
// distinct values, repeated on every task); share only looks in a small
// direct-mapped cache of recent strings (task names, label values: many distinct
// values, repeated in runs), which keeps the map small and fast. New strings are
// copied into the arena either way.
type stringInterner struct {
	m     map[string]string
	cache [1024]string
	// arena holds the copies; other strings of the document may share it.
	arena byteArena
}

func cacheSlot(b []byte) uint {
	n := len(b)
	return (uint(n)*31 + uint(b[0])*7 + uint(b[n/2])*13 + uint(b[n-1])*17 + uint(b[n*3/4])*5) & 1023
}

func (in *stringInterner) get(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	h := cacheSlot(b)
	if s := in.cache[h]; s == string(b) {
		return s
	}
	s, ok := in.m[string(b)]
	if !ok {
		if in.m == nil {
			in.m = map[string]string{}
		}
		s = in.arena.str(b)
		in.m[s] = s
	}
	in.cache[h] = s
	return s
}

func (in *stringInterner) share(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	h := cacheSlot(b)
	if s := in.cache[h]; s == string(b) {
		return s
	}
	s := in.arena.str(b)
	in.cache[h] = s
	return s
}

// slabAlloc hands out small slices carved from large shared blocks, so that the many
// short per-task slices (labels, addresses, port ranges) cost a few allocations
// per document instead of several per task. Each slice is capped, so appending to
// one never writes into its neighbour.
// Blocks start small and double up to a limit, so a small document stays small.
type slabAlloc[T any] struct {
	block []T
	next  int
}

const maxSlabAllocBlock = 4096

func (s *slabAlloc[T]) grow(n int) {
	if cap(s.block)-len(s.block) >= n {
		return
	}
	s.next = min(max(2*s.next, 16), maxSlabAllocBlock)
	s.block = make([]T, 0, max(s.next, n))
}

// copy returns a copy of items carved from the current block; nil when empty.
func (s *slabAlloc[T]) copy(items []T) []T {
	n := len(items)
	if n == 0 {
		return nil
	}
	s.grow(n)
	start := len(s.block)
	s.block = append(s.block, items...)
	return s.block[start : start+n : start+n]
}

// one returns a pointer to a copy of v carved from the current block.
func (s *slabAlloc[T]) one(v T) *T {
	s.grow(1)
	s.block = append(s.block, v)
	return &s.block[len(s.block)-1]
}

// byteArena makes strings by copying bytes into large shared blocks: one
// allocation per block instead of one per string. A block is never written again
// where a string points into it, so the strings stay immutable.
type byteArena struct{ block []byte }

const arenaBlock = 32 << 10

func (a *byteArena) str(b []byte) string {
	n := len(b)
	if n == 0 {
		return ""
	}
	if n > arenaBlock/4 {
		return string(b)
	}
	if cap(a.block)-len(a.block) < n {
		a.block = make([]byte, 0, arenaBlock)
	}
	start := len(a.block)
	a.block = append(a.block, b...)
	return unsafe.String(&a.block[start], n)
}
