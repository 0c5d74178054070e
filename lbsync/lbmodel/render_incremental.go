package lbmodel

import (
	"sync"
)

// Renderer renders models as Render does, into Texts that share the pieces
// of the sections that did not change since the model it rendered last.
// With 100,000 servers a server-level change (one task) rewrites the config
// file after the Runtime API took it; writing every server line anew, and
// copying the whole configuration, was most of the load balancer's CPU and
// garbage per change.
//
// A backend is unchanged when its name and Text are the same and its Servers
// are the very slice the previous model's had: models are never mutated, and
// ModelCache shares the servers of the backends that did not change (as
// ComputePlan relies on too). The head and frontends are one piece, kept
// while none of their texts changed. A Renderer is safe for concurrent use;
// calls are serialized.
type Renderer struct {
	mu sync.Mutex
	// head is the piece of the head, userlists and frontends, made from the
	// texts in heads; backends are the backends of the last render.
	head     []byte
	heads    []string
	backends []renderedBackend
	// copied counts the backends the last render took from the one before
	// (for the tests).
	copied int
}

type renderedBackend struct {
	name, text string
	servers    []Server
	piece      []byte
}

// NewRenderer returns a Renderer with nothing rendered yet.
func NewRenderer() *Renderer { return &Renderer{} }

// Render returns Render(m), joined from RenderText's pieces.
func (r *Renderer) Render(m *Model) ([]byte, error) {
	t, err := r.RenderText(m)
	if err != nil {
		return nil, err
	}
	return t.Bytes(), nil
}

// RenderText returns m rendered, as Render writes it, in pieces.
func (r *Renderer) RenderText(m *Model) (*Text, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := &Text{parts: make([][]byte, 0, 1+len(m.Backends))}
	if !r.sameHead(m) {
		r.renderHead(m)
	}
	t.parts = append(t.parts, r.head)
	t.size = len(r.head)
	backends := make([]renderedBackend, len(m.Backends))
	k := 0
	r.copied = 0
	for i := range m.Backends {
		b := &m.Backends[i]
		for k < len(r.backends) && r.backends[k].name < b.Name {
			k++
		}
		var piece []byte
		if k < len(r.backends) && sameRendering(&r.backends[k], b) {
			piece = r.backends[k].piece
			r.copied++
		} else {
			size := len(b.Text)
			for j := range b.Servers {
				size += 32 + len(b.Servers[j].Name) + len(b.Servers[j].Host) + len(b.Servers[j].Options)
			}
			piece = append(make([]byte, 0, size), b.Text...)
			for j := range b.Servers {
				piece = AppendServerLine(piece, &b.Servers[j])
			}
		}
		backends[i] = renderedBackend{name: b.Name, text: b.Text, servers: b.Servers, piece: piece}
		t.parts = append(t.parts, piece)
		t.size += len(piece)
	}
	r.backends = backends
	return t, nil
}

// sameHead reports whether m's head, userlists and frontends are the texts
// r.head was made from.
func (r *Renderer) sameHead(m *Model) bool {
	if r.head == nil || len(r.heads) != 2+len(m.Frontends) || r.heads[0] != m.Head || r.heads[1] != m.Userlists {
		return false
	}
	for i := range m.Frontends {
		if r.heads[2+i] != m.Frontends[i].Text {
			return false
		}
	}
	return true
}

func (r *Renderer) renderHead(m *Model) {
	size := len(m.Head) + len(m.Userlists)
	heads := make([]string, 0, 2+len(m.Frontends))
	heads = append(heads, m.Head, m.Userlists)
	for i := range m.Frontends {
		size += len(m.Frontends[i].Text)
		heads = append(heads, m.Frontends[i].Text)
	}
	head := make([]byte, 0, size)
	for _, s := range heads {
		head = append(head, s...)
	}
	r.head, r.heads = head, heads
}

// sameRendering reports whether b renders as rb's backend did.
func sameRendering(rb *renderedBackend, b *Backend) bool {
	if rb.name != b.Name || rb.text != b.Text || len(rb.servers) != len(b.Servers) {
		return false
	}
	return len(b.Servers) == 0 || &rb.servers[0] == &b.Servers[0]
}
