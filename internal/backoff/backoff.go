// Package backoff is the one retry delay every source and the load balancer
// use: exponential from a floor to a ceiling with "equal jitter" (half the
// current step plus a random part of the other half). The jitter matters more
// than the curve: a master or Marathon that went away for every daemon at once
// must not see them all come back in the same millisecond.
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Backoff is not safe for concurrent use: each retry loop owns one.
type Backoff struct {
	min, max, cur time.Duration
}

// New returns a Backoff whose first delay is about min and whose steps stop
// doubling at max. A max below min is raised to min.
func New(min, max time.Duration) *Backoff {
	if max < min {
		max = min
	}
	return &Backoff{min: min, max: max, cur: min}
}

// Next returns the delay before the next attempt and doubles the step.
func (b *Backoff) Next() time.Duration {
	d := b.cur
	b.cur = min(b.cur*2, b.max)
	return Jitter(d)
}

// Reset starts again from the floor, after an attempt that worked.
func (b *Backoff) Reset() { b.cur = b.min }

// Attempt is the delay before attempt n (from 0) without keeping state: the
// same curve as Next, for loops that already count their attempts.
func Attempt(n int, min, max time.Duration) time.Duration {
	d := min
	for i := 0; i < n && d < max; i++ {
		d *= 2
	}
	return Jitter(mins(d, max))
}

// Jitter returns a random delay in [d/2, d].
func Jitter(d time.Duration) time.Duration {
	half := d / 2
	if half <= 0 {
		return d
	}
	return half + rand.N(half+1)
}

func mins(a, b time.Duration) time.Duration {
	if a < b {
		return a
	}
	return b
}

// Sleep waits d or until ctx is done, and reports whether d passed: the wait
// between two attempts of a retry loop that must stop with its context.
func Sleep(ctx context.Context, d time.Duration) bool {
	return SleepOrWake(ctx, d, nil)
}

// SleepOrWake is Sleep cut short when wake delivers (a leader change, say:
// the next attempt should not wait out a delay meant for the old one). It
// reports false only when ctx is done.
func SleepOrWake(ctx context.Context, d time.Duration, wake <-chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
	case <-wake:
	}
	return true
}
