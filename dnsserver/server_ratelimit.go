package dnsserver

import (
	"hash/maphash"
	"net/netip"
	"sync/atomic"
	"time"
)

// rateLimiter is the per-client response rate limit for UDP (issue 7: the
// server must not become an amplifier for spoofed queries). Clients are
// grouped by prefix (/24 for IPv4, /56 for IPv6, as BIND's RRL does) and hashed
// into a fixed table of token buckets, so the limiter never allocates and never
// locks: each bucket is one atomic word updated with compare-and-swap. Clients
// whose prefixes collide share a bucket, which only ever makes the limit
// stricter for them.
//
// A client over its limit gets no answer, except every slip-th time: then it
// gets an empty answer with TC set (smaller than its query), so a real client
// behind a spoofed flood can still get through over TCP.
type rateLimiter struct {
	perMs   uint64 // milli-tokens earned per millisecond (= responses per second)
	burst   uint64 // bucket size in milli-tokens
	slip    uint32
	seed    maphash.Seed
	epoch   time.Time
	buckets []atomic.Uint64 // (last refill in ms since epoch + 1) << 24 | milli-tokens; 0: unused
	slips   atomic.Uint32
}

const (
	rlBuckets   = 1 << 16
	rlTokenBits = 24
	rlTokenMask = 1<<rlTokenBits - 1
	rlCost      = 1000 // milli-tokens per response
)

// newRateLimiter returns a limiter allowing perSecond responses per client
// prefix with bursts of burst (0: perSecond), or nil when perSecond is 0.
func newRateLimiter(perSecond, burst, slip int) *rateLimiter {
	if perSecond <= 0 {
		return nil
	}
	if burst < perSecond {
		burst = perSecond
	}
	// The bucket holds at most 2^24 milli-tokens.
	burst = min(burst, rlTokenMask/rlCost)
	perSecond = min(perSecond, burst)
	if slip < 0 {
		slip = 0
	}
	return &rateLimiter{
		perMs:   uint64(perSecond),
		burst:   uint64(burst) * rlCost,
		slip:    uint32(slip),
		seed:    maphash.MakeSeed(),
		epoch:   time.Now(),
		buckets: make([]atomic.Uint64, rlBuckets),
	}
}

// verdict is what to do with a client's query.
type verdict uint8

const (
	rlAllow verdict = iota
	rlDrop
	rlSlip // answer with an empty truncated reply
)

// check spends one response from the bucket of addr at time now.
func (l *rateLimiter) check(addr netip.Addr, now time.Time) verdict {
	b := &l.buckets[l.bucket(addr)]
	ms := uint64(now.Sub(l.epoch).Milliseconds())
	for {
		old := b.Load()
		last, tokens := (old>>rlTokenBits)-1, old&rlTokenMask
		if old == 0 {
			tokens = l.burst // a new bucket starts full
		} else if ms > last {
			tokens = min(l.burst, tokens+(ms-last)*l.perMs)
		}
		allowed := tokens >= rlCost
		if allowed {
			tokens -= rlCost
		}
		if b.CompareAndSwap(old, (ms+1)<<rlTokenBits|tokens) {
			if allowed {
				return rlAllow
			}
			if l.slip > 0 && l.slips.Add(1)%l.slip == 0 {
				return rlSlip
			}
			return rlDrop
		}
	}
}

func (l *rateLimiter) bucket(addr netip.Addr) uint64 {
	var key [16]byte
	if addr.Is4() || addr.Is4In6() {
		a := addr.Unmap().As4()
		copy(key[:3], a[:3]) // /24
	} else {
		a := addr.As16()
		copy(key[:7], a[:7]) // /56
		key[15] = 6
	}
	return maphash.Bytes(l.seed, key[:]) % rlBuckets
}
