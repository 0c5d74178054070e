package lbmodel

import (
	"bytes"
	"sync"
)

// Text is a rendered configuration held in pieces: what Render returns, as
// the sections it is made of. The Renderer shares the pieces of the sections
// that did not change between the configs it renders, so a server-level
// change with 100,000 servers makes a Text of a few kilobytes rather than a
// copy of the whole configuration; the file is written from the pieces
// (writev) and compared piece by piece. A Text is never changed once made.
type Text struct {
	parts [][]byte
	size  int

	once   sync.Once
	joined []byte
}

// TextOf returns the Text of b (kept, not copied: b must not change).
func TextOf(b []byte) *Text {
	if b == nil {
		return nil
	}
	return &Text{parts: [][]byte{b}, size: len(b), joined: b}
}

// Len is the configuration's size in bytes.
func (t *Text) Len() int {
	if t == nil {
		return 0
	}
	return t.size
}

// Parts returns the pieces, in order: read-only.
func (t *Text) Parts() [][]byte {
	if t == nil {
		return nil
	}
	return t.parts
}

// Bytes returns the configuration as one slice (joined once, on first use):
// read-only. It is nil for a nil Text.
func (t *Text) Bytes() []byte {
	if t == nil {
		return nil
	}
	t.once.Do(func() {
		if t.joined != nil {
			return
		}
		t.joined = make([]byte, 0, t.size)
		for _, p := range t.parts {
			t.joined = append(t.joined, p...)
		}
	})
	return t.joined
}

// Equal reports whether t and u hold the same bytes. Pieces they share are
// not compared.
func (t *Text) Equal(u *Text) bool {
	if t == nil || u == nil {
		return t == u
	}
	if t.size != u.size {
		return false
	}
	a, b := t.parts, u.parts
	var x, y []byte // what is left of the current pieces
	for {
		for len(x) == 0 && len(a) > 0 {
			x, a = a[0], a[1:]
		}
		for len(y) == 0 && len(b) > 0 {
			y, b = b[0], b[1:]
		}
		if len(x) == 0 || len(y) == 0 {
			return len(x) == len(y)
		}
		n := min(len(x), len(y))
		if &x[0] != &y[0] && !bytes.Equal(x[:n], y[:n]) {
			return false
		}
		x, y = x[n:], y[n:]
	}
}
