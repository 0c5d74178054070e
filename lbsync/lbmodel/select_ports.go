package lbmodel

import (
	"crypto/sha1"
	"encoding/hex"
	"strconv"
)

// maxPortClashes bounds the hashed tries before a linear search, as in
// marathon-lb.
const maxPortClashes = 50

// servicePortAssigner gives IP-per-task app ports that have no service port
// one from the configured range. The port is derived from the app id and the
// container port by the same hash marathon-lb uses, so a discovery instance
// and a marathon-lb instance running side by side agree, and clashes are
// resolved in app order: the result depends only on the sorted app list.
type servicePortAssigner struct {
	min, max int
	byKey    map[assignKey]int
	taken    map[int]bool
}

type assignKey struct {
	appID string
	port  int
}

func newServicePortAssigner(min, max int) *servicePortAssigner {
	return &servicePortAssigner{min: min, max: max, byKey: map[assignKey]int{}, taken: map[int]bool{}}
}

func (a *servicePortAssigner) enabled() bool { return a.min > 0 && a.max >= a.min }

// assign returns the service port for (appID, containerPort), or 0 when the
// range is exhausted.
func (a *servicePortAssigner) assign(appID string, containerPort int) int {
	key := assignKey{appID, containerPort}
	if p, ok := a.byKey[key]; ok {
		return p
	}
	size := a.max - a.min + 1
	if len(a.byKey) >= size {
		return 0
	}
	port := 0
	prefix := appID + "-" + strconv.Itoa(containerPort) + "-"
	for i := range maxPortClashes {
		sum := sha1.Sum([]byte(prefix + strconv.Itoa(i)))
		h := hex.EncodeToString(sum[:4])
		n, _ := strconv.ParseUint(h, 16, 64)
		trial := a.min + int(n%uint64(size))
		if !a.taken[trial] {
			port = trial
			break
		}
	}
	if port == 0 {
		for p := a.min; p <= a.max; p++ {
			if !a.taken[p] {
				port = p
				break
			}
		}
	}
	if port == 0 {
		return 0
	}
	a.byKey[key] = port
	a.taken[port] = true
	return port
}
