package vips

import (
	"fmt"
	"hash/fnv"
	"math/big"
	"net/netip"
	"slices"
)

// DefaultRange is where named VIPs get their addresses unless configured:
// a quarter of 127.0.0.0/8, which every Linux host routes to itself with no
// set-up (clients on the same host as discovery, one discovery per agent),
// far from 127.0.0.1 and from the 127.0–127.31 addresses of the simulator
// and the tests.
var DefaultRange = netip.MustParsePrefix("127.192.0.0/10")

// Collision is a named VIP that did not get the address its name hashes to,
// because a name earlier in sorted order holds it: it got the next free one.
// Its address is still the same wherever the same names are known, but a new
// name that hashes to the same address and sorts earlier would move it, so
// collisions are reported (log, status page) for the operator to widen the
// range.
type Collision struct {
	// Name is the VIP's DNS name ("app.marathon").
	Name string `json:"name"`
	// Wanted is the address the name hashes to, Got the one it has.
	Wanted netip.Addr `json:"wanted"`
	Got    netip.Addr `json:"got"`
	// Holder is the name holding Wanted.
	Holder string `json:"holder"`
}

// CheckRange says whether r can hold named VIPs: a masked prefix with room
// for at least 4 addresses.
func CheckRange(r netip.Prefix) error {
	if !r.IsValid() {
		return fmt.Errorf("VIP range %q is not a prefix", r)
	}
	if r.Masked() != r {
		return fmt.Errorf("VIP range %s is not a network address (want %s)", r, r.Masked())
	}
	if r.Addr().BitLen()-r.Bits() < 2 {
		return fmt.Errorf("VIP range %s is too small (want at least 4 addresses)", r)
	}
	return nil
}

// Assign gives each name an address in r: the address its FNV-1a hash picks,
// or, when an earlier name (in sorted order) holds it, the next free one.
// The first and last address of r are never used (network and broadcast
// addresses of a routable IPv4 range). It is a pure function of the set of
// names and r: every host knowing the same names assigns the same addresses,
// whatever order it learnt them in and across restarts. Names beyond what r
// can hold get no address and are returned in full.
func Assign(names []string, r netip.Prefix) (addrs map[string]netip.Addr, collisions []Collision, full []string) {
	names = slices.Clone(names)
	slices.Sort(names)
	names = slices.Compact(names)
	addrs = make(map[string]netip.Addr, len(names))
	if CheckRange(r) != nil {
		return addrs, nil, names
	}
	hostBits := uint(r.Addr().BitLen() - r.Bits())
	size := new(big.Int).Lsh(big.NewInt(1), hostBits)
	usable := new(big.Int).Sub(size, big.NewInt(2))
	base := new(big.Int).SetBytes(r.Addr().AsSlice())
	holders := make(map[netip.Addr]string, len(names))
	for _, n := range names {
		if big.NewInt(int64(len(holders))).Cmp(usable) >= 0 {
			full = append(full, n)
			continue
		}
		h := fnv.New64a()
		_, _ = h.Write([]byte(n))
		off := new(big.Int).SetUint64(h.Sum64())
		off.Mod(off, usable)
		wanted := offsetAddr(base, off, r)
		got := wanted
		for {
			if _, taken := holders[got]; !taken {
				break
			}
			off.Add(off, big.NewInt(1))
			if off.Cmp(usable) >= 0 {
				off.SetInt64(0)
			}
			got = offsetAddr(base, off, r)
		}
		holders[got] = n
		addrs[n] = got
		if got != wanted {
			collisions = append(collisions, Collision{Name: n, Wanted: wanted, Got: got, Holder: holders[wanted]})
		}
	}
	return addrs, collisions, full
}

// offsetAddr is the address 1+off after the start of r.
func offsetAddr(base, off *big.Int, r netip.Prefix) netip.Addr {
	v := new(big.Int).Add(base, off)
	v.Add(v, big.NewInt(1))
	b := v.FillBytes(make([]byte, r.Addr().BitLen()/8))
	a, _ := netip.AddrFromSlice(b)
	return a
}
