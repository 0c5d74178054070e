package vips

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// labelPrefix starts the key of a VIP label: VIP_0, VIP_1, ….
const labelPrefix = "VIP_"

// IsLabelKey reports whether key names a VIP label ("VIP_" and a number).
func IsLabelKey(key string) bool {
	n, ok := strings.CutPrefix(key, labelPrefix)
	if !ok || n == "" || len(n) > 4 {
		return false
	}
	for _, c := range n {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// Target is what a VIP label asks for: a name ("/app:80", "app:80") or an
// address ("10.0.0.1:80", "[fd00::1]:80" or "fd00::1:80"), and a port.
type Target struct {
	// Name is the name as written ("/group/app"); empty for an address.
	Name string
	// Addr is the address asked for; invalid for a name.
	Addr netip.Addr
	Port uint16
}

// maxNameLen bounds a VIP name as written: longer names are refused rather
// than cut, so that two long names cannot become one.
const maxNameLen = 200

// ParseLabel reads a VIP label's value as dcos-net does: what follows the last
// colon is the port (1–65535), what precedes it an IP address when it parses
// as one, else a name.
func ParseLabel(v string) (Target, error) {
	i := strings.LastIndexByte(v, ':')
	if i < 0 {
		return Target{}, fmt.Errorf("VIP %q: no port (want name:port or ip:port)", v)
	}
	host, ps := v[:i], v[i+1:]
	port, err := strconv.Atoi(ps)
	if err != nil || port < 1 || port > 65535 || ps[0] == '+' {
		return Target{}, fmt.Errorf("VIP %q: %q is not a port", v, ps)
	}
	if h, ok := strings.CutPrefix(host, "["); ok {
		host, ok = strings.CutSuffix(h, "]")
		if !ok {
			return Target{}, fmt.Errorf("VIP %q: unbalanced brackets", v)
		}
	}
	if a, err := netip.ParseAddr(host); err == nil {
		if a.Zone() != "" || a.IsUnspecified() || a.IsMulticast() {
			return Target{}, fmt.Errorf("VIP %q: %s cannot be a VIP address", v, a)
		}
		return Target{Addr: a.Unmap(), Port: uint16(port)}, nil
	}
	if len(host) > maxNameLen {
		return Target{}, fmt.Errorf("VIP %q: name longer than %d bytes", v[:32]+"…", maxNameLen)
	}
	for i := 0; i < len(host); i++ {
		if host[i] <= ' ' || host[i] > '~' {
			return Target{}, fmt.Errorf("VIP %q: the name holds a blank, control or non-ASCII character", v)
		}
	}
	if DNSLabel(host) == "" {
		return Target{}, fmt.Errorf("VIP %q: the name has no letter or digit", v)
	}
	return Target{Name: host, Port: uint16(port)}, nil
}
