package dnsserver

import (
	"hash/maphash"
)

// nameIndex maps lowercase FQDNs to node numbers with open addressing over a
// power-of-two slot array (linear probing). The names themselves live once, in
// an arena; a slot holds node+1 (0 is empty) in its low half and the high half
// of the name's hash in its high half, so probing past other names rarely
// touches their bytes. Compared with a map[string]uint32 this keeps no
// per-name string header or allocation, which is most of the table's memory
// and build time at 100,000 tasks.
type nameIndex struct {
	seed  maphash.Seed
	slots []uint64
	mask  uint64
}

func newNameIndex(hint int) nameIndex {
	n := 64
	for 3*n < 4*hint {
		n <<= 1
	}
	return nameIndex{seed: maphash.MakeSeed(), slots: make([]uint64, n), mask: uint64(n - 1)}
}

// nameRef is where a node's name sits in the arena.
type nameRef struct {
	off uint32
	len uint8
}

// arenaBytes is the arena as the builder ([]byte) or the table (string) holds it.
type arenaBytes interface{ ~[]byte | ~string }

// probe looks name up. It returns the node and true if present, or the slot
// where it would be inserted and false; h is the name's hash.
func probe[A arenaBytes](x *nameIndex, name []byte, refs []nameRef, arena A) (node uint32, slot, h uint64, found bool) {
	h = maphash.Bytes(x.seed, name)
	tag := h >> 32
	i := h & x.mask
	for {
		s := x.slots[i]
		if s == 0 {
			return 0, i, h, false
		}
		if s>>32 == tag {
			n := uint32(s) - 1
			r := refs[n]
			if int(r.len) == len(name) && string(arena[r.off:r.off+uint32(r.len)]) == string(name) {
				return n, i, h, true
			}
		}
		i = (i + 1) & x.mask
	}
}

// put stores node idx for a name with hash h at a free slot found by probing.
func (x *nameIndex) put(h uint64, idx uint32) {
	i := h & x.mask
	for x.slots[i] != 0 {
		i = (i + 1) & x.mask
	}
	x.slots[i] = h>>32<<32 | uint64(idx+1)
}

// grow doubles the slot array and re-places the nodes named by refs.
func (x *nameIndex) grow(refs []nameRef, arena []byte) {
	n := 2 * len(x.slots)
	x.slots = make([]uint64, n)
	x.mask = uint64(n - 1)
	for i, r := range refs {
		x.put(maphash.Bytes(x.seed, arena[r.off:r.off+uint32(r.len)]), uint32(i))
	}
}

// full reports whether adding one more node would fill over three quarters of
// the slots. A fuller array probes a few more slots per name, mostly in the
// same cache line; a sparser one spreads the names over more memory and so more
// cache misses (at 100,000 tasks the index is 4 MB at most, not 8).
func (x *nameIndex) full(nodes int) bool { return 4*(nodes+1) > 3*len(x.slots) }
