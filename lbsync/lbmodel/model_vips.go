package lbmodel

import (
	"cmp"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/discovery-mesos/discovery/state"
	"github.com/discovery-mesos/discovery/vips"
)

// VIPBackendPrefix starts the names of the frontends and backends of VIPs:
// "vip_127.200.3.4_80". The dots keep them apart from every app's backend
// name (cleanName writes none).
const VIPBackendPrefix = "vip_"

// VIPProxyName is the name of the frontend and backend of v.
func VIPProxyName(v *vips.VIP) string {
	return VIPBackendPrefix + strings.ReplaceAll(v.Addr.String(), ":", ".") + "_" + strconv.Itoa(int(v.Port))
}

// WithVIPs returns m with a frontend listening on each VIP of set and a
// backend balancing to its tasks, and set's reports added: a new model, m
// is not changed. The sections are written here from the VIP's address,
// port and mode (all checked values), never from label text, whatever the
// templates: a VIP is a plain TCP (or HTTP) proxy. Their servers change
// through the Runtime API like every dynamic backend's.
func WithVIPs(m *Model, set *vips.Set) *Model {
	if m == nil || set == nil || (len(set.VIPs) == 0 && len(set.LeftOut) == 0) {
		return m
	}
	out := *m
	out.VIPs = set.VIPs
	out.VIPCollisions = set.Collisions
	out.Frontends = slices.Clip(m.Frontends)
	out.Backends = slices.Clip(m.Backends)
	out.Errors = slices.Clip(m.Errors)
	for i := range set.VIPs {
		v := &set.VIPs[i]
		name := VIPProxyName(v)
		out.Frontends = append(out.Frontends, Frontend{Name: name, Port: int(v.Port), Text: vipFrontendText(name, v), Apps: v.Apps})
		b := Backend{
			Name: name, AppID: name, Apps: v.Apps, PortIndex: -1, ServicePort: int(v.Port),
			Mode: v.Mode, Balance: "roundrobin", Dynamic: true, Text: vipBackendText(name, v),
			Servers: make([]Server, 0, len(v.Backends)),
		}
		for _, be := range v.Backends {
			b.Servers = append(b.Servers, Server{
				Name: vipServerName(be.Host, be.Port), Host: be.Host.String(), Port: int(be.Port), Weight: 1,
				TaskID: be.TaskID, AppID: be.AppID,
			})
		}
		slices.SortFunc(b.Servers, func(x, y Server) int { return cmp.Compare(x.Name, y.Name) })
		out.Backends = append(out.Backends, b)
	}
	slices.SortStableFunc(out.Backends, func(x, y Backend) int { return cmp.Compare(x.Name, y.Name) })
	for _, l := range set.LeftOut {
		id := l.ID
		if l.App != "" {
			id = l.App
		}
		out.Errors = append(out.Errors, AppError{AppID: id, Port: -1, Reason: l.Reason})
	}
	slices.SortStableFunc(out.Errors, func(x, y AppError) int { return cmp.Or(cmp.Compare(x.AppID, y.AppID), cmp.Compare(x.Port, y.Port)) })
	return &out
}

func vipBind(v *vips.VIP) string {
	// HAProxy reads the port after the last colon, IPv6 or not.
	return v.Addr.String() + ":" + strconv.Itoa(int(v.Port))
}

func vipFrontendText(name string, v *vips.VIP) string {
	return "\nfrontend " + name + "\n  bind " + vipBind(v) + "\n  mode " + v.Mode + "\n  default_backend " + name + "\n"
}

func vipBackendText(name string, v *vips.VIP) string {
	return "\nbackend " + name + "\n  mode " + v.Mode + "\n  balance roundrobin\n"
}

// vipServerName names a VIP's server after its address, which is what stays
// when a task keeps its place.
func vipServerName(h netip.Addr, port uint16) string {
	return "t_" + strings.ReplaceAll(h.String(), ":", ".") + "_" + strconv.Itoa(int(port))
}

// vipSetsEqual reports whether two VIP sets give the same sections, servers
// and reports.
func vipSetsEqual(a, b *vips.Set) bool {
	if a == nil || b == nil {
		return a == b
	}
	return slices.EqualFunc(a.VIPs, b.VIPs, func(x, y vips.VIP) bool {
		return x.Name == y.Name && x.DNSName == y.DNSName && x.Addr == y.Addr && x.Port == y.Port && x.Mode == y.Mode &&
			slices.Equal(x.Apps, y.Apps) && slices.Equal(x.Backends, y.Backends)
	}) && slices.Equal(a.Collisions, b.Collisions) && slices.Equal(a.LeftOut, b.LeftOut)
}

// leaveOutAddressVIPsOnFrontendPorts leaves out of set the address VIPs (a
// label's "ip:port") on a port one of m's frontends binds. Those frontends
// bind every address, or one an app's labels name, and HAProxy shares its own
// ports: an address VIP there, the more specific bind, would take the
// connections meant for that frontend's apps. A named VIP's address lies in
// vipRange, where no frontend is reached, so it may share a port.
func leaveOutAddressVIPsOnFrontendPorts(set *vips.Set, m *Model) *vips.Set {
	if set == nil || m == nil || !slices.ContainsFunc(set.VIPs, func(v vips.VIP) bool { return v.Name == "" }) {
		return set // no address VIP: nothing to look up
	}
	taken := map[int]string{}
	for i := range m.Frontends {
		if f := &m.Frontends[i]; f.Port > 0 {
			taken[f.Port] = f.Name
		}
	}
	var out *vips.Set
	for i, v := range set.VIPs {
		fe, clash := taken[int(v.Port)]
		if v.Name != "" || !clash {
			if out != nil {
				out.VIPs = append(out.VIPs, v)
			}
			continue
		}
		if out == nil {
			out = &vips.Set{Collisions: set.Collisions, LeftOut: slices.Clip(set.LeftOut), VIPs: slices.Clone(set.VIPs[:i])}
		}
		for _, app := range v.Apps {
			out.LeftOut = append(out.LeftOut, state.LeftOut{ID: app, Reason: "VIP " + netip.AddrPortFrom(v.Addr, v.Port).String() +
				": port " + strconv.Itoa(int(v.Port)) + " is the load balancer's own (frontend " + fe + ")"})
		}
	}
	if out == nil {
		return set
	}
	return out
}

// checkVIPListeners leaves out of set the VIPs check says HAProxy cannot
// listen on, reporting them on their apps. The VIPs running has (HAProxy
// listens there already) and those on a port another frontend of running
// binds (HAProxy shares its own ports) are not checked.
func checkVIPListeners(set *vips.Set, check func(netip.AddrPort) error, running *Model) *vips.Set {
	if check == nil || set == nil || len(set.VIPs) == 0 {
		return set
	}
	listening := map[netip.AddrPort]bool{}
	ports := map[int]bool{}
	if running != nil {
		for i := range running.VIPs {
			listening[netip.AddrPortFrom(running.VIPs[i].Addr, running.VIPs[i].Port)] = true
		}
		for i := range running.Frontends {
			if f := &running.Frontends[i]; !strings.HasPrefix(f.Name, VIPBackendPrefix) && f.Port > 0 {
				ports[f.Port] = true
			}
		}
	}
	out := &vips.Set{Collisions: set.Collisions, LeftOut: slices.Clip(set.LeftOut), VIPs: make([]vips.VIP, 0, len(set.VIPs))}
	for _, v := range set.VIPs {
		ap := netip.AddrPortFrom(v.Addr, v.Port)
		if !listening[ap] && !ports[int(v.Port)] {
			if err := check(ap); err != nil {
				for _, app := range v.Apps {
					out.LeftOut = append(out.LeftOut, state.LeftOut{ID: app, Reason: "VIP " + ap.String() + ": HAProxy could not listen there: " + err.Error()})
				}
				continue
			}
		}
		out.VIPs = append(out.VIPs, v)
	}
	return out
}
