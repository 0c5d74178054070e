package lbmodel

import (
	"sync"
)

// Renderer renders models as Render does, copying the bytes of the backends
// that did not change since the model it rendered last from its output
// instead of writing their server lines again. With 100,000 servers a
// server-level change (one task) rewrites the config file after the Runtime
// API took it; writing every server line anew for it was most of the load
// balancer's CPU per change.
//
// A backend is unchanged when its name and Text are the same and its Servers
// are the very slice the previous model's had: models are never mutated, and
// ModelCache shares the servers of the backends that did not change (as
// ComputePlan relies on too). A Renderer is safe for concurrent use; calls are
// serialized.
type Renderer struct {
	mu sync.Mutex
	// prev is the output of the last render, and backends where each of its
	// backends lies in it.
	prev     []byte
	backends []renderedBackend
	// copied counts the backends the last render copied (for the tests).
	copied int
}

type renderedBackend struct {
	name, text string
	servers    []Server
	off, end   int
}

// NewRenderer returns a Renderer with nothing rendered yet.
func NewRenderer() *Renderer { return &Renderer{} }

// Render returns Render(m). The bytes are shared with the Renderer (the
// next render copies from them): read-only.
func (r *Renderer) Render(m *Model) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	// reuse[i] is the previous backend whose bytes backend i takes, -1 for
	// none.
	reuse := make([]int32, len(m.Backends))
	size := len(m.Head) + len(m.Userlists)
	for i := range m.Frontends {
		size += len(m.Frontends[i].Text)
	}
	k := 0
	r.copied = 0
	for i := range m.Backends {
		b := &m.Backends[i]
		for k < len(r.backends) && r.backends[k].name < b.Name {
			k++
		}
		reuse[i] = -1
		if k < len(r.backends) && sameRendering(&r.backends[k], b) {
			reuse[i] = int32(k)
			r.copied++
			size += r.backends[k].end - r.backends[k].off
			continue
		}
		size += len(b.Text)
		for j := range b.Servers {
			size += 32 + len(b.Servers[j].Name) + len(b.Servers[j].Host) + len(b.Servers[j].Options)
		}
	}
	out := make([]byte, 0, size)
	out = append(out, m.Head...)
	out = append(out, m.Userlists...)
	for i := range m.Frontends {
		out = append(out, m.Frontends[i].Text...)
	}
	backends := make([]renderedBackend, len(m.Backends))
	for i := range m.Backends {
		b := &m.Backends[i]
		off := len(out)
		if k := reuse[i]; k >= 0 {
			out = append(out, r.prev[r.backends[k].off:r.backends[k].end]...)
		} else {
			out = append(out, b.Text...)
			for j := range b.Servers {
				out = AppendServerLine(out, &b.Servers[j])
			}
		}
		backends[i] = renderedBackend{name: b.Name, text: b.Text, servers: b.Servers, off: off, end: len(out)}
	}
	r.prev, r.backends = out, backends
	return out, nil
}

// sameRendering reports whether b renders as rb's backend did.
func sameRendering(rb *renderedBackend, b *Backend) bool {
	if rb.name != b.Name || rb.text != b.Text || len(rb.servers) != len(b.Servers) {
		return false
	}
	return len(b.Servers) == 0 || &rb.servers[0] == &b.Servers[0]
}
