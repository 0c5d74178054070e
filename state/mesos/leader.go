package mesos

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"

	"github.com/discovery-mesos/discovery/state"
)

// Finding the leading master. Three things say who leads, in falling order of
// trust: ZooKeeper (when configured and reachable), the master that last served
// the state (or redirected us to the one that did), and the static masters list,
// which is only a set of places to ask. masterTracker keeps all three and turns
// them into the order in which masters are asked.

// ParseMasterAddr parses a static masters entry, "host:port" as mesos-dns's
// masters key takes it ("10.0.0.1:5050", "[fd00::1]:5050", "m1.example:5050").
func ParseMasterAddr(s string) (state.Master, error) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return state.Master{}, fmt.Errorf("%q is not host:port: %w", s, err)
	}
	if host == "" {
		return state.Master{}, fmt.Errorf("%q has no host", s)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 1 || p > 65535 {
		return state.Master{}, fmt.Errorf("%q has no valid port", s)
	}
	return state.Master{Host: host, Port: p}, nil
}

// masterAddr is m's "host:port", or "" when m has no address.
func masterAddr(m state.Master) string {
	if m.Host == "" || m.Port == 0 {
		return ""
	}
	return net.JoinHostPort(m.Host, strconv.Itoa(m.Port))
}

// pidHostPort splits a libprocess PID, "name@host:port".
func pidHostPort(pid string) (string, int, bool) {
	_, hp, ok := strings.Cut(pid, "@")
	if !ok {
		return "", 0, false
	}
	h, p, err := net.SplitHostPort(hp)
	if err != nil {
		return "", 0, false
	}
	port, err := strconv.Atoi(p)
	if err != nil || h == "" {
		return "", 0, false
	}
	return h, port, true
}

// masterInfo is the JSON a Mesos master writes into its ZooKeeper json.info_ node
// (the MasterInfo protobuf, JSON-encoded; Mesos 0.24 and later).
type masterInfo struct {
	ID       string `json:"id"`
	PID      string `json:"pid"`
	Hostname string `json:"hostname"`
	// IP is the IPv4 address as a uint32 in host byte order of the master, which
	// is little-endian on every platform Mesos ships for.
	IP      uint32 `json:"ip"`
	Port    int    `json:"port"`
	Address *struct {
		Hostname string `json:"hostname"`
		IP       string `json:"ip"`
		Port     int    `json:"port"`
	} `json:"address"`
}

// masterFromInfo turns MasterInfo JSON into a Master. The address comes from
// "address" (Mesos ≥ 0.24), else from the PID, else from the packed "ip"/"port".
func masterFromInfo(data []byte) (state.Master, error) {
	var mi masterInfo
	if err := json.Unmarshal(data, &mi); err != nil {
		return state.Master{}, fmt.Errorf("decoding MasterInfo: %w", err)
	}
	m := state.Master{ID: mi.ID, PID: mi.PID, Hostname: mi.Hostname}
	if a := mi.Address; a != nil {
		if m.Hostname == "" {
			m.Hostname = a.Hostname
		}
		m.Host, m.Port = a.IP, a.Port
		if m.Host == "" {
			m.Host = a.Hostname
		}
	}
	if m.Host == "" || m.Port == 0 {
		if h, p, ok := pidHostPort(mi.PID); ok {
			m.Host, m.Port = h, p
		}
	}
	if (m.Host == "" || m.Port == 0) && mi.IP != 0 && mi.Port != 0 {
		var b [4]byte
		binary.LittleEndian.PutUint32(b[:], mi.IP)
		m.Host, m.Port = netip.AddrFrom4(b).String(), mi.Port
	}
	if m.Host == "" || m.Port <= 0 || m.Port > 65535 {
		return state.Master{}, errors.New("MasterInfo has no usable address")
	}
	return m, nil
}

// masterTracker knows the masters and orders them for asking. Safe for
// concurrent use.
type masterTracker struct {
	static []state.Master

	mu sync.Mutex
	// zk is ZooKeeper's latest view, leader first; zkUsable is false while there
	// is no view or it has gone stale (ZooKeeper unreachable too long).
	zk       []state.Master
	zkUsable bool
	// preferred is "host:port" of the master to ask first: the leader ZooKeeper
	// named last, or the master that last served the state.
	preferred string
}

func newMasterTracker(static []state.Master) *masterTracker {
	return &masterTracker{static: static}
}

// setZK records ZooKeeper's view. It reports whether the leader changed (a
// reason to fetch at once).
func (t *masterTracker) setZK(masters []state.Master, usable bool) (leaderChanged bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	old := ""
	if t.zkUsable && len(t.zk) > 0 {
		old = masterAddr(t.zk[0])
	}
	t.zk = masters
	t.zkUsable = usable
	if usable && len(masters) > 0 {
		leader := masterAddr(masters[0])
		if leader != old {
			t.preferred = leader
			return true
		}
	}
	return false
}

// served records that the master at addr ("host:port") served the state.
func (t *masterTracker) served(addr string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.preferred = addr
}

// candidates returns the masters to ask, in order, as "host:port": the preferred
// one, ZooKeeper's while its view is usable, the static list, and last the
// masters of a stale ZooKeeper view (still better than giving up); no
// duplicates.
func (t *masterTracker) candidates() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	seen := map[string]bool{}
	var out []string
	add := func(a string) {
		if a != "" && !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	add(t.preferred)
	if t.zkUsable {
		for _, m := range t.zk {
			add(masterAddr(m))
		}
	}
	for _, m := range t.static {
		add(masterAddr(m))
	}
	for _, m := range t.zk {
		add(masterAddr(m))
	}
	return out
}

// known returns the masters as Cluster.Masters carries them: ZooKeeper's
// registered masters in election order while ZooKeeper is usable and names some
// (as mesos-dns does: leader first), else the static list in configured order
// (else ZooKeeper's last view, stale as it may be).
func (t *masterTracker) known() []state.Master {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.zk) > 0 && (t.zkUsable || len(t.static) == 0) {
		return append([]state.Master(nil), t.zk...)
	}
	return append([]state.Master(nil), t.static...)
}
