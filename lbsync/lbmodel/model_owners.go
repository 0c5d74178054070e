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
// after a restart, when no model runs yet) the app Marathon scaled first
// (versionInfo.lastScalingAt) wins, then the app id in sort order.

// claimKeys are what a service claims: its service port on its bind
// address, and each vhost with its path (when vhosts are routed).
func (b *builder) claimKeys(svc *service) (port string, routes []string) {
	port = "port " + strconv.Itoa(svc.servicePort) + "@" + svc.labels.BindAddr
	if !b.bindHTTP || svc.labels.VHost == "" {
		return port, nil
	}
	path := strings.Join(strings.Fields(svc.labels.Path), " ")
	for _, h := range strings.Split(svc.labels.VHost, ",") {
		if h = strings.TrimSpace(h); h != "" {
			routes = append(routes, "vhost "+h+path)
		}
	}
	return port, routes
}

// decideClaims returns, for each service that loses a claim, why it is left
// out. held are the claims of the model HAProxy runs (Model.Claims).
func (b *builder) decideClaims(svcs []*service, held map[string]string) map[*service]string {
	type claimant struct {
		svc    *service
		port   string
		routes []string
	}
	cs := make([]claimant, len(svcs))
	for i, svc := range svcs {
		p, r := b.claimKeys(svc)
		cs[i] = claimant{svc, p, r}
	}
	holds := func(c claimant, keys ...string) bool {
		for _, k := range keys {
			if held[k] == c.svc.appID {
				return true
			}
		}
		return false
	}
	order := func(incumbent func(claimant) bool) []claimant {
		sorted := slices.Clone(cs)
		slices.SortStableFunc(sorted, func(x, y claimant) int {
			if ix, iy := incumbent(x), incumbent(y); ix != iy {
				if ix {
					return -1
				}
				return 1
			}
			return cmp.Or(compareSince(x.svc.since, y.svc.since),
				strings.Compare(x.svc.appID, y.svc.appID), cmp.Compare(x.svc.index, y.svc.index))
		})
		return sorted
	}
	losers := map[*service]string{}

	var ports bindTable
	ports.owners = make([]bindOwner, 0, len(svcs)+4)
	b.reserveSharedPortsIn(&ports)
	for _, c := range order(func(c claimant) bool { return holds(c, c.port) }) {
		svc := c.svc
		if o, ok := ports.conflict(svc.servicePort, svc.labels.BindAddr); ok && o.appID != svc.appID {
			owner := o.appID
			if o.app {
				owner = "app " + o.appID
			}
			losers[svc] = fmt.Sprintf("service port %d is already bound by %s", svc.servicePort, owner)
			continue
		}
		ports.add(svc.servicePort, bindOwner{svc.labels.BindAddr, svc.appID, true})
	}

	routes := map[string]string{}
	for _, c := range order(func(c claimant) bool { return holds(c, c.routes...) }) {
		if losers[c.svc] != "" || len(c.routes) == 0 {
			continue
		}
		taken := ""
		for _, r := range c.routes {
			if o, ok := routes[r]; ok && o != c.svc.appID {
				taken = fmt.Sprintf("%s is routed by app %s", r, o)
				break
			}
		}
		if taken != "" {
			losers[c.svc] = taken
			continue
		}
		for _, r := range c.routes {
			routes[r] = c.svc.appID
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

// claim records what a committed service holds, for Model.Claims.
func (b *builder) claim(svc *service) {
	if b.claims == nil {
		b.claims = map[string]string{}
	}
	port, routes := b.claimKeys(svc)
	b.claims[port] = svc.appID
	for _, r := range routes {
		b.claims[r] = svc.appID
	}
}
