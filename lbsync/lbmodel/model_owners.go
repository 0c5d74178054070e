package lbmodel

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Ports and routes have owners. Any app author can claim any service port
// (HAPROXY_{n}_PORT) and any virtual host (HAPROXY_{n}_VHOST): were the first
// claim in sort order to win, as in marathon-lb, a new app named to sort
// before another could take its port, its vhosts and all their traffic. So
// the app that holds a claim in the model HAProxy runs keeps it; a newcomer
// claiming a port held by another app (or by a shared frontend: the stats,
// app id, HTTP and HTTPS listeners) or a vhost and path another app routes is
// left out with a reason, and the existing route stays. Among newcomers (and
// after a restart, when no model runs yet and no claims were saved) the app
// Marathon scaled first (versionInfo.lastScalingAt) wins, then the app id in
// sort order.
//
// Contests are rare and builds are frequent (one per task change, with
// thousands of apps): a build first looks for contested ports and routes
// with tables it reuses, and only the services in a contest are ordered and
// compared with the claims of the running model.

// serviceClaims are the keys of what a service claims: its service port on
// its bind address, and each vhost with its path (when vhosts are routed).
// They are computed once per service (a service kept by a ModelCache keeps
// them; the cache forgets its services when the config changes).
type serviceClaims struct {
	port   string
	routes []string
}

func (b *builder) claimsOf(svc *service) *serviceClaims {
	if svc.claims != nil {
		return svc.claims
	}
	c := &serviceClaims{port: "port " + strconv.Itoa(svc.servicePort) + "@" + svc.labels.BindAddr}
	if b.bindHTTP && svc.labels.VHost != "" {
		path := strings.Join(strings.Fields(svc.labels.Path), " ")
		for h := range strings.SplitSeq(svc.labels.VHost, ",") {
			if h = strings.TrimSpace(h); h == "" {
				continue
			}
			r := "vhost " + h
			if path != "" {
				r += " " + path
			}
			c.routes = append(c.routes, r)
		}
	}
	svc.claims = c
	return c
}

// claimScratch are the tables decideClaims reuses from build to build
// (assemblyMemo) to find contests.
type claimScratch struct {
	// byPort[p] is 1 + the index of the first service claiming port p.
	byPort [65536]int32
	// routes maps a route to the index of the first service claiming it.
	routes map[string]int32
}

// decideClaims returns, for each service that loses a claim, why it is left
// out; nil when no port or route is contested. held tells who holds a key in
// the running model (or the claims saved before a restart).
func (b *builder) decideClaims(svcs []*service, held func(key string) string, scratch *claimScratch) map[*service]string {
	if scratch == nil {
		scratch = &claimScratch{}
	}
	if scratch.routes == nil {
		scratch.routes = make(map[string]int32, len(svcs))
	}
	involved := map[int]bool{}
	for i, svc := range svcs {
		p := svc.servicePort
		if p >= 0 && p < len(scratch.byPort) {
			if j := scratch.byPort[p]; j > 0 && svcs[j-1].appID != svc.appID {
				involved[int(j-1)], involved[i] = true, true
			} else if j == 0 {
				scratch.byPort[p] = int32(i + 1)
			}
		}
		for _, r := range b.claimsOf(svc).routes {
			if j, ok := scratch.routes[r]; ok && svcs[j].appID != svc.appID {
				involved[int(j)], involved[i] = true, true
			} else if !ok {
				scratch.routes[r] = int32(i)
			}
		}
	}
	for _, svc := range svcs {
		if p := svc.servicePort; p >= 0 && p < len(scratch.byPort) {
			scratch.byPort[p] = 0
		}
	}
	clear(scratch.routes)
	if len(involved) == 0 {
		return nil
	}
	contest := make([]*service, 0, len(involved))
	for i := range svcs {
		if involved[i] {
			contest = append(contest, svcs[i])
		}
	}
	return b.resolveContest(contest, held)
}

// resolveContest decides between the services of a contest: incumbents
// first, then the earliest scaled, then the app id.
func (b *builder) resolveContest(svcs []*service, held func(string) string) map[*service]string {
	holds := func(svc *service, keys ...string) bool {
		for _, k := range keys {
			if held(k) == svc.appID {
				return true
			}
		}
		return false
	}
	order := func(incumbent func(*service) bool) []*service {
		sorted := slices.Clone(svcs)
		slices.SortStableFunc(sorted, func(x, y *service) int {
			if ix, iy := incumbent(x), incumbent(y); ix != iy {
				if ix {
					return -1
				}
				return 1
			}
			return cmp.Or(compareSince(x.since, y.since), strings.Compare(x.appID, y.appID), cmp.Compare(x.index, y.index))
		})
		return sorted
	}
	losers := map[*service]string{}
	var ports bindTable
	b.reserveSharedPortsIn(&ports)
	for _, svc := range order(func(s *service) bool { return holds(s, b.claimsOf(s).port) }) {
		if o, ok := ports.conflict(svc.servicePort, svc.labels.BindAddr); ok && o.appID != svc.appID {
			if !o.app {
				continue // a shared listener's port: addService says so
			}
			losers[svc] = fmt.Sprintf("service port %d is already bound by app %s", svc.servicePort, o.appID)
			continue
		}
		ports.add(svc.servicePort, bindOwner{svc.labels.BindAddr, svc.appID, true})
	}
	routes := map[string]string{}
	for _, svc := range order(func(s *service) bool { return holds(s, b.claimsOf(s).routes...) }) {
		rs := b.claimsOf(svc).routes
		if losers[svc] != "" || len(rs) == 0 {
			continue
		}
		taken := ""
		for _, r := range rs {
			if o, ok := routes[r]; ok && o != svc.appID {
				taken = fmt.Sprintf("%s is routed by app %s", r, o)
				break
			}
		}
		if taken != "" {
			losers[svc] = taken
			continue
		}
		for _, r := range rs {
			routes[r] = svc.appID
		}
	}
	return losers
}

// compareSince orders known times first, earlier first.
func compareSince(x, y time.Time) int {
	switch {
	case x.Equal(y):
		return 0
	case x.IsZero():
		return 1
	case y.IsZero():
		return -1
	}
	return x.Compare(y)
}

// heldBy returns who holds a key: in previous when there is one, else in
// saved (the claims kept before a restart). The index of previous is built
// on first use: most builds have no contest and never ask.
func heldBy(previous *Model, saved map[string]string) func(string) string {
	if previous == nil {
		return func(k string) string { return saved[k] }
	}
	var idx map[string]string
	return func(k string) string {
		if idx == nil {
			idx = previous.Claims()
		}
		return idx[k]
	}
}

// Claims returns who holds what in m: "port N@ADDR" and "vhost HOST[ PATH]"
// keys, the app id as value. The next build gives them to the same apps;
// lbsync keeps them across restarts.
func (m *Model) Claims() map[string]string {
	out := map[string]string{}
	for i := range m.Backends {
		be := &m.Backends[i]
		if be.claims == nil {
			continue
		}
		out[be.claims.port] = be.AppID
		for _, r := range be.claims.routes {
			out[r] = be.AppID
		}
	}
	return out
}
