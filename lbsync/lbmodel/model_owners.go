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

// serviceClaims are what a service claims: its service port on its bind
// address, and its routes (when vhosts are routed). They are computed once
// per service (a service kept by a ModelCache keeps them; the cache forgets
// its services when the config changes).
type serviceClaims struct {
	// port is the key of the service port: "port N@ADDR".
	port   string
	routes []route
}

// route is one vhost and path_beg prefix of a service, with the weight that
// orders its ACL (HAPROXY_{n}_BACKEND_WEIGHT, heavier first).
type route struct {
	host string
	// path is lower-cased ("-i" makes the match case-insensitive, so compare
	// that way always); "" is the whole vhost (no path, or "/").
	path   string
	weight int
	// key names the route in Model.Claims: "vhost HOST[PATH] weight W".
	key string
}

func (r route) String() string { return "vhost " + r.host + r.path }

// shadows reports whether r, on the same vhost as o, may take requests o
// routes: the same prefix, or a shorter prefix whose ACL may come first.
func (r route) shadows(o route) bool {
	return r.path == o.path || strings.HasPrefix(o.path, r.path) && r.weight >= o.weight
}

func (b *builder) claimsOf(svc *service) *serviceClaims {
	if svc.claims != nil {
		return svc.claims
	}
	c := &serviceClaims{port: "port " + strconv.Itoa(svc.servicePort) + "@" + svc.labels.BindAddr}
	if b.bindHTTP && svc.labels.VHost != "" {
		var paths []string
		for f := range strings.FieldsSeq(strings.ToLower(svc.labels.Path)) {
			if f == "-i" {
				continue
			}
			if f == "/" {
				f = ""
			}
			paths = appendUnique(paths, f)
		}
		if len(paths) == 0 {
			paths = []string{""}
		}
		w := svc.labels.BackendWeight
		for h := range strings.SplitSeq(svc.labels.VHost, ",") {
			if h = strings.TrimSpace(h); h == "" {
				continue
			}
			for _, p := range paths {
				c.routes = append(c.routes, route{host: h, path: p, weight: w,
					key: "vhost " + h + p + " weight " + strconv.Itoa(w)})
			}
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
	// hosts maps a vhost to the index of the first service routing it.
	hosts map[string]int32
}

// decideClaims returns, for each service that loses a claim, why it is left
// out; nil when no port or vhost is shared by two apps. held tells who holds
// a key in the running model (or the claims saved before a restart).
func (b *builder) decideClaims(svcs []*service, held func(key string) string, scratch *claimScratch) map[*service]string {
	if scratch == nil {
		scratch = &claimScratch{}
	}
	if scratch.hosts == nil {
		scratch.hosts = make(map[string]int32, len(svcs))
	}
	involved := map[int]bool{}
	var shared map[string]bool
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
			if j, ok := scratch.hosts[r.host]; !ok {
				scratch.hosts[r.host] = int32(i)
			} else if svcs[j].appID != svc.appID {
				if shared == nil {
					shared = map[string]bool{}
				}
				shared[r.host] = true
			}
		}
	}
	for _, svc := range svcs {
		if p := svc.servicePort; p >= 0 && p < len(scratch.byPort) {
			scratch.byPort[p] = 0
		}
	}
	clear(scratch.hosts)
	if len(shared) > 0 {
		// Two apps on one vhost: whether their paths collide is decided
		// between them (route.shadows).
		for i, svc := range svcs {
			for _, r := range b.claimsOf(svc).routes {
				if shared[r.host] {
					involved[i] = true
				}
			}
		}
	}
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
// first, then the earliest scaled, then the app id. A service is the
// incumbent of its port when it holds that key, and of its routes when it
// holds every one of them as they are (a changed weight or a new path is a
// new claim).
func (b *builder) resolveContest(svcs []*service, held func(string) string) map[*service]string {
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
	for _, svc := range order(func(s *service) bool { return held(b.claimsOf(s).port) == s.appID }) {
		if o, ok := ports.conflict(svc.servicePort, svc.labels.BindAddr); ok && o.appID != svc.appID {
			if !o.app {
				continue // a shared listener's port: addService says so
			}
			losers[svc] = fmt.Sprintf("service port %d is already bound by app %s", svc.servicePort, o.appID)
			continue
		}
		ports.add(svc.servicePort, bindOwner{svc.labels.BindAddr, svc.appID, true})
	}
	holdsRoutes := func(s *service) bool {
		rs := b.claimsOf(s).routes
		for _, r := range rs {
			if held(r.key) != s.appID {
				return false
			}
		}
		return len(rs) > 0
	}
	type accepted struct {
		route
		appID string
	}
	byHost := map[string][]accepted{}
	for _, svc := range order(holdsRoutes) {
		rs := b.claimsOf(svc).routes
		if losers[svc] != "" || len(rs) == 0 {
			continue
		}
		taken := ""
	check:
		for _, r := range rs {
			for _, a := range byHost[r.host] {
				if a.appID != svc.appID && (r.shadows(a.route) || a.shadows(r)) {
					taken = fmt.Sprintf("%s is routed by app %s", a.route, a.appID)
					break check
				}
			}
		}
		if taken != "" {
			losers[svc] = taken
			continue
		}
		for _, r := range rs {
			byHost[r.host] = append(byHost[r.host], accepted{r, svc.appID})
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

// Claims returns who holds what in m: "port N@ADDR" and
// "vhost HOST[PATH] weight W" keys, the app id as value. The next build gives them to the same apps;
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
			out[r.key] = be.AppID
		}
	}
	return out
}
