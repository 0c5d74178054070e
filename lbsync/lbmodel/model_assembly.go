package lbmodel

import (
	"slices"
	"strings"
)

// assemblyMemo is what one assembly of a model leaves to the next (kept by a
// ModelCache): when a build's inputs to a shared section are those of the
// previous build, the section is taken over instead of being written again,
// and so are the orders the per-service sections were sorted in.
type assemblyMemo struct {
	// httpLen, httpsLen and appIDLen size the next build's lists.
	httpLen, httpsLen, appIDLen int
	frontends                   []keptFrontend
	appID                       keptAppID
	feOrder, beOrder            keptOrder
	// appOrder is the order of the apps, when they do not come sorted by id.
	appOrder keptOrder
	// claims are decideClaims' tables.
	claims *claimScratch
}

// keptFrontend is a shared frontend and what it was made of.
type keptFrontend struct {
	name    string
	port    int
	head    string
	entries []weighted
	fe      Frontend
}

// keptAppID is the marathon_http_appid_in frontend and its parts.
type keptAppID struct {
	port     int
	headText string
	parts    []string
	apps     []string
	fe       Frontend
}

// keptOrder is the order a list of names was sorted into.
type keptOrder struct {
	names []string
	perm  []int32
}

// shared returns the kept frontend named name, added empty when missing.
func (m *assemblyMemo) shared(name string) *keptFrontend {
	for i := range m.frontends {
		if m.frontends[i].name == name {
			return &m.frontends[i]
		}
	}
	m.frontends = append(m.frontends, keptFrontend{name: name, port: -1})
	return &m.frontends[len(m.frontends)-1]
}

// sort returns the permutation sorting the names given by name(i), i <
// n: the kept one when the names are the same as last time.
func (o *keptOrder) sort(n int, name func(int) string) []int32 {
	if o != nil && len(o.names) == n {
		same := true
		for i := range n {
			if name(i) != o.names[i] {
				same = false
				break
			}
		}
		if same {
			return o.perm
		}
	}
	perm := make([]int32, n)
	for i := range perm {
		perm[i] = int32(i)
	}
	slices.SortFunc(perm, func(x, y int32) int { return strings.Compare(name(int(x)), name(int(y))) })
	if o != nil {
		o.names = make([]string, n)
		for i := range n {
			o.names[i] = name(i)
		}
		o.perm = perm
	}
	return perm
}

// sortedFrontends returns the per-service frontends sorted by name.
func (b *builder) sortedFrontends() []*Frontend {
	var o *keptOrder
	if b.memo != nil {
		o = &b.memo.feOrder
	}
	return sortedByName(b.frontends, func(f *Frontend) string { return f.Name }, o)
}

// sortedBackends returns the backends sorted by name.
func (b *builder) sortedBackends() []*Backend {
	var o *keptOrder
	if b.memo != nil {
		o = &b.memo.beOrder
	}
	return sortedByName(b.backends, func(b *Backend) string { return b.Name }, o)
}

// sortedByName returns items sorted by name: items itself when it is
// sorted, else in the order o kept (nil: none) when the names are the same
// as last time.
func sortedByName[T any](items []*T, name func(*T) string, o *keptOrder) []*T {
	if slices.IsSortedFunc(items, func(x, y *T) int { return strings.Compare(name(x), name(y)) }) {
		return items
	}
	perm := o.sort(len(items), func(i int) string { return name(items[i]) })
	out := make([]*T, len(items))
	for i, j := range perm {
		out[i] = items[j]
	}
	return out
}

// appIDFrontend assembles marathon_http_appid_in.
func (b *builder) appIDFrontend() Frontend {
	head := b.ts.Get("HAPROXY_HTTP_FRONTEND_APPID_HEAD").Text
	port := b.cfg.AppIDPort
	var kept *keptAppID
	if b.memo != nil {
		kept = &b.memo.appID
		if kept.port == port && kept.headText == head && slices.Equal(kept.parts, b.appIDParts) &&
			slices.Equal(kept.apps, b.appIDApps) && kept.fe.Name != "" {
			return kept.fe
		}
	}
	size := len(head)
	for _, p := range b.appIDParts {
		size += len(p)
	}
	var text strings.Builder
	text.Grow(size)
	text.WriteString(head)
	for _, p := range b.appIDParts {
		text.WriteString(p)
	}
	fe := Frontend{Name: "marathon_http_appid_in", Port: port, Text: text.String(), Apps: sortedUnique(b.appIDApps)}
	if kept != nil {
		*kept = keptAppID{port: port, headText: head, parts: b.appIDParts, apps: b.appIDApps, fe: fe}
	}
	return fe
}
