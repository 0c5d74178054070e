package sim

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// NewRand returns the random source Step takes, seeded: the same seed and
// the same cluster give the same changes.
func NewRand(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, seed^0xc4a1c4a1c4a1c4a1))
}

// Step makes one random change, as a busy cluster would: an app below its
// instance count gets a replacement task first (what Marathon does after a
// failure); otherwise a task fails, is killed, moves to another agent, turns
// unhealthy or healthy again, an app scales by one, or — rarely, and only
// with several masters — the leader changes. It returns the changes made.
func (c *Cluster) Step(r *rand.Rand) ([]Change, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.checkOpenLocked(); err != nil {
		return nil, err
	}
	for _, a := range c.apps {
		if len(a.tasks) < a.instances {
			ch, err := c.startTaskLocked(a, nil)
			return one(ch, err)
		}
	}
	var all []*task
	for _, a := range c.apps {
		all = append(all, a.tasks...)
	}
	p := r.IntN(100)
	switch {
	case p >= 98 && len(c.masters) > 1:
		ch, err := c.changeLeaderLocked()
		return one(ch, err)
	case p >= 90 && len(c.apps) > 0:
		a := c.apps[r.IntN(len(c.apps))]
		n := a.instances + 1
		if r.IntN(2) == 0 && a.instances > 1 || a.instances > 2*c.cfg.TasksPerApp {
			n = a.instances - 1
		}
		return c.scaleLocked(a, n, "ScaleApplication", AppScaled)
	case len(all) == 0:
		return nil, nil
	}
	t := all[r.IntN(len(all))]
	switch {
	case p < 25:
		ch, err := c.endTaskLocked(t, "TASK_FAILED")
		return one(ch, err)
	case p < 40:
		ch, err := c.endTaskLocked(t, "TASK_KILLED")
		return one(ch, err)
	case p < 65:
		return c.moveTaskLocked(t)
	default:
		// Unhealthy tasks mostly recover; healthy ones turn unhealthy.
		ch, err := c.setHealthLocked(t, !t.healthy)
		return one(ch, err)
	}
}

func one(ch Change, err error) ([]Change, error) {
	if err != nil {
		return nil, err
	}
	return []Change{ch}, nil
}

// Churn makes random changes (Step) at rate per second until ctx ends, with
// its own random source seeded by seed. Errors other than a closed cluster
// are logged and churn goes on; it returns nil when ctx ends.
func (c *Cluster) Churn(ctx context.Context, rate float64, seed uint64) error {
	if rate <= 0 {
		return fmt.Errorf("sim: churn rate %v: want more than zero", rate)
	}
	r := NewRand(seed)
	tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		if _, err := c.Step(r); err != nil {
			if errors.Is(err, ErrClosed) {
				return err
			}
			c.log.Warn("churn step failed", "err", err)
		}
	}
}

// ParseRate reads a churn rate: "2/s", "30/m", "0.5/s" or a bare number of
// changes per second. Zero means no churn.
func ParseRate(s string) (float64, error) {
	num, unit, _ := strings.Cut(strings.TrimSpace(s), "/")
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("churn rate %q: want N/s, N/m or N", s)
	}
	switch unit {
	case "", "s":
		return v, nil
	case "m":
		return v / 60, nil
	case "h":
		return v / 3600, nil
	}
	return 0, fmt.Errorf("churn rate %q: unit %q: want s, m or h", s, unit)
}
