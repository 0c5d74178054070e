package dnsserver

import "slices"

// Paged storage for the table's arrays.
//
// A table made by Update shares almost everything with the table it was made
// from, which goes on serving queries while the next one is built: arrays are
// split into pages, and an update copies only the directory of pages (a
// pointer per page) and the pages it writes to. One changed task at 100,000
// tasks then costs kilobytes of copying instead of the whole table. A read is
// two indirections: the directory, then the page.

// pageBits sets the page size of paged arrays: 256 elements (6 KiB of nodes,
// 2 KiB of index slots), so that the few pages one change writes are cheap to
// copy, and the directory (one pointer per page) too.
const (
	pageBits = 8
	pageLen  = 1 << pageBits
	pageMask = pageLen - 1
)

// paged is an array of n elements in fixed-size pages. Pages are shared
// between tables and never written once a table refers to them.
type paged[T any] struct {
	pages []*[pageLen]T
	n     uint32
}

// at returns element i (read-only).
func (p *paged[T]) at(i uint32) *T { return &p.pages[i>>pageBits][i&pageMask] }

// pagedCopy returns a copy of flat in pages of their own: a page later
// replaced by a copy-on-write is then freed with the tables that use it,
// where a page that is a view of one large array would keep all of it.
func pagedCopy[T any](flat []T) paged[T] {
	w := newPagedW[T](len(flat))
	for k, p := range w.pages {
		copy(p[:], flat[k<<pageBits:])
	}
	return w.paged
}

// pagedW writes a new version of a paged array: the pages it writes to are
// copied on the first write (own marks those already copied or new), but
// for elements past the end of the array it was forked from (base), which
// no table reads: those it writes in place. That is only right while no
// other writer forked from the same array appends too (see incremental's
// owner).
type pagedW[T any] struct {
	paged[T]
	own  []bool
	base uint32
}

// forkPaged returns a writer starting from p, which it leaves unchanged.
func forkPaged[T any](p paged[T]) pagedW[T] {
	return pagedW[T]{paged: paged[T]{pages: slices.Clone(p.pages), n: p.n}, own: make([]bool, len(p.pages)), base: p.n}
}

// newPagedW returns a writer of n zero elements (all its pages new).
func newPagedW[T any](n int) pagedW[T] {
	var w pagedW[T]
	for w.n = 0; len(w.pages)<<pageBits < n; {
		w.pages = append(w.pages, new([pageLen]T))
		w.own = append(w.own, true)
	}
	w.n = uint32(n)
	return w
}

// ptr returns element i for writing.
func (w *pagedW[T]) ptr(i uint32) *T {
	k := i >> pageBits
	if !w.own[k] && i < w.base {
		p := new([pageLen]T)
		*p = *w.pages[k]
		w.pages[k] = p
		w.own[k] = true
	}
	return &w.pages[k][i&pageMask]
}

// push appends v and returns its index.
func (w *pagedW[T]) push(v T) uint32 {
	i := w.n
	if int(i>>pageBits) == len(w.pages) {
		w.pages = append(w.pages, new([pageLen]T))
		w.own = append(w.own, true)
	}
	*w.ptr(i) = v
	w.n++
	return i
}

// ranges holds runs of elements (the records of one name, one name's bytes)
// in pages of up to 1<<rangeBits elements; a run never crosses a page, so an
// offset is the page number above rangeBits and the position in the page
// below. A run longer than a page gets a page of its own. Pages are shared
// between tables and never written where a table refers to them.
type ranges[T any] struct {
	pages [][]T
}

// rangeBits sets the page size of ranges: 16,384 elements (16 KiB of names,
// 64 KiB of IPv4 addresses), few enough pages that a table's directory of
// them is small to copy, and the space a page's end leaves unused (at most a
// run) small.
const (
	rangeBits = 14
	rangeMask = 1<<rangeBits - 1
)

// get returns the n elements at off (nil when n is 0).
func (r *ranges[T]) get(off, n uint32) []T {
	if n == 0 {
		return nil
	}
	i := off & rangeMask
	return r.pages[off>>rangeBits][i : i+n]
}

// first returns the first element at off (the run must not be empty).
func (r *ranges[T]) first(off uint32) *T {
	return &r.pages[off>>rangeBits][off&rangeMask]
}

// rangesW writes a new version of ranges: new runs go after the last run of
// the last page, in place (no table reads past its runs; as for pagedW, only
// one writer may append to the pages of a lineage of tables) or, when the
// page has no room, in a new page.
type rangesW[T any] struct {
	ranges[T]
}

func forkRanges[T any](r ranges[T]) rangesW[T] {
	return rangesW[T]{ranges: ranges[T]{pages: slices.Clone(r.pages)}}
}

// alloc reserves a run of n elements and returns its offset and the run to
// fill in.
func (w *rangesW[T]) alloc(n int) (uint32, []T) {
	const limit = 1 << rangeBits
	if n > limit {
		// Full: the next run starts a page.
		w.pages = append(w.pages, make([]T, n))
		return uint32(len(w.pages)-1) << rangeBits, w.pages[len(w.pages)-1]
	}
	k := len(w.pages) - 1
	switch {
	case k < 0 || len(w.pages[k])+n > limit:
		w.pages = append(w.pages, make([]T, 0, limit))
		k++
	case cap(w.pages[k]) < len(w.pages[k])+n:
		// A page of a build, cut to its runs: copied once.
		p := make([]T, len(w.pages[k]), limit)
		copy(p, w.pages[k])
		w.pages[k] = p
	}
	p := w.pages[k]
	i := len(p)
	w.pages[k] = p[:i+n]
	return uint32(k)<<rangeBits | uint32(i), w.pages[k][i : i+n]
}

// cutRanges returns flat as ranges without copying it: runs (offset and
// length into flat, in increasing order without gaps, as runOf reports them
// for i from 0 to n) are placed in pages that are views of flat, and runOf's
// offsets rewritten to offsets into the ranges.
func cutRanges[T any](flat []T, n int, runOf func(i int) (off *uint32, n uint32)) ranges[T] {
	var r ranges[T]
	const limit = 1 << rangeBits
	start := uint32(0) // of the page being filled, in flat
	closePage := func(end uint32) {
		if end > start {
			r.pages = append(r.pages, flat[start:end:end])
		}
		start = end
	}
	for i := range n {
		off, l := runOf(i)
		o := *off
		if l == 0 {
			*off = 0
			continue
		}
		if l > limit {
			closePage(o)
			*off = uint32(len(r.pages)) << rangeBits
			closePage(o + l)
			continue
		}
		if o+l-start > limit {
			closePage(o)
		}
		*off = uint32(len(r.pages))<<rangeBits | (o - start)
	}
	closePage(uint32(len(flat)))
	return r
}
