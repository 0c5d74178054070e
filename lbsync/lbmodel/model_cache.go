package lbmodel

import (
	"fmt"
	"hash/maphash"
	"net/netip"
	"slices"
	"sync"

	"github.com/discovery-mesos/discovery/state"
)

// ModelCache makes successive builds incremental. A snapshot usually differs
// from the previous one in a few apps; deriving the services of 10,000 apps
// and rendering their templates again for each would take longer than the
// budget of a server-level change. The cache keeps, for each app (or
// blue/green group) by its content digest, the services selected from it and
// what rendering them gave, and rebuilds only the apps that changed. The
// model it returns is the one BuildModel returns for the same inputs (equal,
// and so rendering to the same bytes): whatever a kept result read besides
// its app is checked again before it is used (the service ports assigned
// in app order, what the resolver answers for its hosts, whether a task was
// a server of the previous model, the bindings and once-only map lines of
// the services before it); a kept result that would come out differently is
// rebuilt.
//
// The models of successive builds share the strings and server lists of the
// apps that did not change, which makes comparing them (ComputePlan) cheap.
// A ModelCache is safe for concurrent use; builds are serialized.
type ModelCache struct {
	mu     sync.Mutex
	cfgKey string
	ts     *Templates
	builds uint64
	seed   maphash.Seed
	// kept holds the latest result of each candidate id.
	kept map[string]*keptCandidate
	memo *assemblyMemo

	// The index of the previous model's servers (--health-check), kept while
	// the previous model stays the same.
	prev      *Model
	prevIndex map[string]bool

	// The latest model built and what it was built from, for a build whose
	// apps have not changed (a snapshot that changed only what the load
	// balancer does not read): see same.
	last        *Model
	lastDigests []uint64
	lastPrev    *Model
}

// NewModelCache returns an empty cache.
func NewModelCache() *ModelCache {
	return &ModelCache{seed: maphash.MakeSeed(), kept: map[string]*keptCandidate{}}
}

// keepBuilds is how many builds the result of an app that is gone is kept:
// the rebuilds that leave apps out (bisecting an invalid config) must not
// make the next build derive them again. (A changed app replaces its result.)
const keepBuilds = 64

// keptCandidate is the selection of one candidate and what it read.
type keptCandidate struct {
	// digest identifies the candidate's content: the digest of its app, or
	// of the apps of its deployment group.
	digest   uint64
	used     uint64
	prep     candidatePrep
	services []*service
	errors   []AppError
	// custom: built with a resolver of the caller's (else IP literals only,
	// a pure function).
	custom   bool
	resolved []resolution
	health   []healthAnswer
}

type resolution struct {
	host string
	addr netip.Addr
	ok   bool
}

type healthAnswer struct {
	taskID string
	was    bool
}

// Build is BuildModel, reusing what earlier builds derived from the apps that
// did not change. digests are state.AppDigest of each app (nil: computed).
func (mc *ModelCache) Build(apps []state.App, digests []uint64, cfg *Config, ts *Templates, opts *BuildOptions) (*Model, error) {
	opts, err := buildOptions(cfg, ts, opts)
	if err != nil {
		return nil, err
	}
	if len(digests) != len(apps) {
		digests = AppDigests(apps)
	}
	mc.mu.Lock()
	defer mc.mu.Unlock()
	if key := fmt.Sprintf("%#v", *cfg); key != mc.cfgKey || ts != mc.ts {
		// Everything rendered depends on the config and the templates.
		mc.cfgKey, mc.ts = key, ts
		clear(mc.kept)
		mc.memo = &assemblyMemo{}
		mc.last = nil
	}
	if mc.same(digests, opts) {
		return mc.last, nil
	}
	mc.builds++
	sel := mc.selectServices(apps, digests, cfg, opts)
	m, err := assembleModel(sel, cfg, ts, opts.held, mc.memo)
	if mc.builds%16 == 0 {
		mc.evict()
	}
	mc.last, mc.lastDigests, mc.lastPrev = nil, mc.lastDigests[:0], nil
	if err == nil && len(opts.Exclude) == 0 && opts.Resolve == nil {
		mc.last, mc.lastDigests, mc.lastPrev = m, append(mc.lastDigests, digests...), opts.Previous
	}
	return m, err
}

// same reports whether the latest model is the one a build of apps with
// digests would give: the same apps (digests), config and templates (Build
// forgets the latest model when they change), no app excluded and no
// resolver (whose answers may change), and the same previous model where it
// counts (--health-check). A model is read-only, so it is returned as is:
// the syncer then finds nothing to change at once.
func (mc *ModelCache) same(digests []uint64, opts *BuildOptions) bool {
	return mc.last != nil && len(opts.Exclude) == 0 && opts.Resolve == nil && opts.Previous == mc.lastPrev &&
		slices.Equal(digests, mc.lastDigests)
}

// AppDigests returns state.AppDigest of each app.
func AppDigests(apps []state.App) []uint64 {
	ds := make([]uint64, len(apps))
	for i := range apps {
		ds[i] = state.AppDigest(&apps[i])
	}
	return ds
}

func (mc *ModelCache) evict() {
	for k, kc := range mc.kept {
		if kc.used+keepBuilds <= mc.builds {
			delete(mc.kept, k)
		}
	}
}

// selectServices is selectServices with the kept candidates reused.
func (mc *ModelCache) selectServices(apps []state.App, digests []uint64, cfg *Config, opts *BuildOptions) selection {
	var sel selection
	env := newSelectEnv(cfg, opts)
	env.wasServer = mc.wasServer(opts.Previous)
	custom := opts.Resolve != nil
	if custom {
		env.resolve = memoResolve(env.resolve)
	}
	if len(opts.Exclude) > 0 {
		fa, fd := make([]state.App, 0, len(apps)), make([]uint64, 0, len(apps))
		for i := range apps {
			if !opts.Exclude[apps[i].ID] {
				fa, fd = append(fa, apps[i]), append(fd, digests[i])
			}
		}
		apps, digests = fa, fd
	}
	for _, c := range mergeDeploymentGroupsOrdered(apps, &mc.memo.appOrder) {
		if env.skip(&c) {
			continue
		}
		digest := mc.digest(&c, apps, digests)
		kc := mc.kept[c.app.ID]
		if kc != nil && kc.digest != digest {
			kc = nil
		}
		var p candidatePrep
		if kc != nil && !kc.prep.assigned {
			p = kc.prep // a function of the candidate alone
		} else {
			p = env.prepare(&c)
		}
		if p.err != nil {
			sel.errors = append(sel.errors, *p.err)
			if kc == nil {
				mc.kept[c.app.ID] = &keptCandidate{digest: digest, prep: p, used: mc.builds}
			} else {
				kc.used = mc.builds
			}
			continue
		}
		if kc == nil || !kc.valid(env, &p, custom) {
			kc = mc.selectCandidate(env, &c, &p, custom)
			kc.digest = digest
			mc.kept[c.app.ID] = kc
		}
		kc.used = mc.builds
		sel.errors = append(sel.errors, kc.errors...)
		sel.services = append(sel.services, kc.services...)
	}
	sortServices(sel.services)
	return sel
}

// digest identifies the candidate's content.
func (mc *ModelCache) digest(c *candidate, apps []state.App, digests []uint64) uint64 {
	if c.srcs == nil {
		return digests[c.src]
	}
	var h maphash.Hash
	h.SetSeed(mc.seed)
	for _, i := range c.srcs {
		h.WriteString(apps[i].ID)
		h.WriteByte(0)
		var b [8]byte
		for j := range b {
			b[j] = byte(digests[i] >> (8 * j))
		}
		h.Write(b[:])
	}
	return h.Sum64()
}

// selectCandidate selects a candidate's services, recording what it asks the
// resolver and the previous model.
func (mc *ModelCache) selectCandidate(env *selectEnv, c *candidate, p *candidatePrep, custom bool) *keptCandidate {
	kc := &keptCandidate{prep: *p, custom: custom}
	rec := *env
	rec.resolve = func(host string) (netip.Addr, bool) {
		a, ok := env.resolve(host)
		if custom {
			kc.resolved = append(kc.resolved, resolution{host, a, ok})
		}
		return a, ok
	}
	rec.wasServer = func(taskID string) bool {
		was := env.wasServer(taskID)
		kc.health = append(kc.health, healthAnswer{taskID, was})
		return was
	}
	kc.services, kc.errors = rec.selectCandidate(c, p)
	return kc
}

// valid says whether selecting the candidate again would give the kept result.
func (kc *keptCandidate) valid(env *selectEnv, p *candidatePrep, custom bool) bool {
	if p.err != nil || kc.prep.err != nil || !slices.Equal(kc.prep.servicePorts, p.servicePorts) {
		return false
	}
	if custom != kc.custom {
		return false
	}
	for _, r := range kc.resolved {
		if a, ok := env.resolve(r.host); a != r.addr || ok != r.ok {
			return false
		}
	}
	for _, h := range kc.health {
		if env.wasServer(h.taskID) != h.was {
			return false
		}
	}
	return true
}

// wasServer is BuildOptions.wasServer with the index of the previous model
// kept across builds.
func (mc *ModelCache) wasServer(prev *Model) func(string) bool {
	if prev == nil {
		return func(string) bool { return false }
	}
	return func(taskID string) bool {
		if mc.prev != prev || mc.prevIndex == nil {
			mc.prev, mc.prevIndex = prev, previousServers(prev)
		}
		return mc.prevIndex[taskID]
	}
}

// memoResolve asks resolve once per host within a build.
func memoResolve(resolve func(string) (netip.Addr, bool)) func(string) (netip.Addr, bool) {
	type answer struct {
		addr netip.Addr
		ok   bool
	}
	memo := map[string]answer{}
	return func(host string) (netip.Addr, bool) {
		if a, ok := memo[host]; ok {
			return a.addr, a.ok
		}
		a, ok := resolve(host)
		memo[host] = answer{a, ok}
		return a, ok
	}
}
