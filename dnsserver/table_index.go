package dnsserver

import (
	"hash/maphash"
	"unsafe"
)

// nameIndex maps lowercase FQDNs to node numbers with open addressing over a
// power-of-two slot array (linear probing). The names themselves live once, in
// an arena; a slot holds node+1 (0 is empty) in its low half, whether the
// node is dead (deadBit) and the top 31 bits of the name's hash in its high
// half, so probing past other names rarely touches their bytes, and a query
// for a dead name needs no look at its node. Compared with a map[string]uint32 this keeps no
// per-name string header or allocation, which is most of the table's memory
// and build time at 100,000 tasks. The slots are paged (table_pages.go), so
// a name added by Update copies one page of them, not all.
type nameIndex struct {
	seed  maphash.Seed
	slots paged[uint64]
	mask  uint64
}

// deadBit marks the slot of a dead node.
const deadBit = 1 << 32

// nameRef is where a node's name sits in the arena.
type nameRef struct {
	off uint32
	len uint8
}

// names are the table's names: node i is named by refs[i], found by index.
type names struct {
	index nameIndex
	refs  paged[nameRef]
	arena ranges[byte]
}

// name returns node i's name, a string over the arena's bytes (which never
// change once a table refers to them): no allocation.
func (ns *names) name(i uint32) string {
	r := *ns.refs.at(i)
	b := ns.arena.get(r.off, uint32(r.len))
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// probe looks name up. It returns the node and true if present, or the slot
// where it would be inserted and false; h is the name's hash.
func (ns *names) probe(name []byte) (node uint32, slot, h uint64, found bool) {
	// The directories in locals: the compiler need not reload them.
	slots, refs, arena, mask := ns.index.slots.pages, ns.refs.pages, ns.arena.pages, ns.index.mask
	h = maphash.Bytes(ns.index.seed, name)
	tag := h >> 33
	i := h & mask
	for {
		s := slots[i>>pageBits][i&pageMask]
		if s == 0 {
			return 0, i, h, false
		}
		if s>>33 == tag {
			n := uint32(s) - 1
			r := refs[n>>pageBits][n&pageMask]
			if int(r.len) == len(name) {
				o := r.off & rangeMask
				if string(arena[r.off>>rangeBits][o:o+uint32(r.len)]) == string(name) {
					return n, i, h, true
				}
			}
		}
		i = (i + 1) & mask
	}
}

// namesW adds names to a new version of names (see pagedW).
type namesW struct {
	seed  maphash.Seed
	mask  uint64
	slots pagedW[uint64]
	refs  pagedW[nameRef]
	arena rangesW[byte]
}

// newNamesW returns an empty name set with room for about hint names
// before its index grows.
func newNamesW(hint int) namesW {
	n := pageLen
	for 3*n < 4*hint {
		n <<= 1
	}
	return namesW{
		seed:  maphash.MakeSeed(),
		mask:  uint64(n - 1),
		slots: newPagedW[uint64](n),
	}
}

// forkNames returns a writer adding to ns, which it leaves unchanged.
func forkNames(ns *names) namesW {
	return namesW{
		seed:  ns.index.seed,
		mask:  ns.index.mask,
		slots: forkPaged(ns.index.slots),
		refs:  forkPaged(ns.refs),
		arena: forkRanges(ns.arena),
	}
}

// names returns the names written so far, for a table.
func (w *namesW) names() names {
	return names{
		index: nameIndex{seed: w.seed, slots: w.slots.paged, mask: w.mask},
		refs:  w.refs.paged,
		arena: w.arena.ranges,
	}
}

// count is the number of names.
func (w *namesW) count() int { return int(w.refs.n) }

// probe is names.probe on the names written so far.
func (w *namesW) probe(name []byte) (node uint32, slot, h uint64, found bool) {
	ns := names{index: nameIndex{seed: w.seed, slots: w.slots.paged, mask: w.mask}, refs: w.refs.paged, arena: w.arena.ranges}
	return ns.probe(name)
}

// bytesOf returns node i's name.
func (w *namesW) bytesOf(i uint32) []byte {
	r := *w.refs.at(i)
	return w.arena.get(r.off, uint32(r.len))
}

// add adds name, whose probe ended at slot with hash h, and returns its node.
func (w *namesW) add(name []byte, slot, h uint64) uint32 {
	idx := w.refs.n
	if 4*(idx+1) > 3*uint32(w.mask+1) {
		w.grow()
		w.put(h, idx, 0)
	} else {
		*w.slots.ptr(uint32(slot)) = h>>33<<33 | uint64(idx+1)
	}
	off, dst := w.arena.alloc(len(name))
	copy(dst, name)
	w.refs.push(nameRef{off: off, len: uint8(len(name))})
	return idx
}

// put stores node idx for a name with hash h at a free slot found by
// probing, with flags (deadBit or 0).
func (w *namesW) put(h uint64, idx uint32, flags uint64) {
	i := h & w.mask
	for *w.slots.at(uint32(i)) != 0 {
		i = (i + 1) & w.mask
	}
	*w.slots.ptr(uint32(i)) = h>>33<<33 | flags | uint64(idx+1)
}

// setDead marks node i dead or alive in the index.
func (w *namesW) setDead(i uint32, dead bool) {
	_, slot, _, found := w.probe(w.bytesOf(i))
	if !found {
		return
	}
	p := w.slots.ptr(uint32(slot))
	if dead {
		*p |= deadBit
	} else {
		*p &^= deadBit
	}
}

// live returns the node of name, if it exists and is not dead.
func (ns *names) live(name []byte) (uint32, bool) {
	n, slot, _, found := ns.probe(name)
	return n, found && ns.index.slots.pages[slot>>pageBits][slot&pageMask]&deadBit == 0
}

// grow doubles the slot array and re-places every name (dead ones stay
// dead). A fuller array
// probes a few more slots per name, mostly in the same cache line; a sparser
// one spreads the names over more memory and so more cache misses (at
// 100,000 tasks the index is 4 MB at most, not 8).
func (w *namesW) grow() {
	old := w.slots
	n := 2 * (w.mask + 1)
	w.slots = newPagedW[uint64](int(n))
	w.mask = n - 1
	for k := range old.n {
		if s := *old.at(k); s != 0 {
			i := uint32(s) - 1
			w.put(maphash.Bytes(w.seed, w.bytesOf(i)), i, s&deadBit)
		}
	}
}
