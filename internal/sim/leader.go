package sim

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/discovery-mesos/discovery/internal/fakemaster"
)

// ErrOneMaster is returned by ChangeLeader for a cluster of one master.
var ErrOneMaster = errors.New("sim: one master, no other to lead")

// ChangeLeader moves the leadership to the next master (in creation order,
// round the ring), as a Mesos failover does: the new leader takes over the
// state; the old one and every other master answer 307 to the new leader; the
// old leader's event streams end mid-record, as when its process dies; with
// ZooKeeper, the old leader's node is deleted and registered again (last in
// line), which leaves the new leader's node lowest.
func (c *Cluster) ChangeLeader() (Change, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.checkOpenLocked(); err != nil {
		return Change{}, err
	}
	return c.changeLeaderLocked()
}

func (c *Cluster) changeLeaderLocked() (Change, error) {
	if len(c.masters) < 2 {
		return Change{}, ErrOneMaster
	}
	at := time.Now()
	old, next := c.leader, (c.leader+1)%len(c.masters)
	if err := c.masters[next].SetState(c.masters[old].State()); err != nil {
		return Change{}, fmt.Errorf("handing the state to master %s: %w", c.masters[next].Addr(), err)
	}
	c.masters[next].SetMode(fakemaster.Leading)
	for i, m := range c.masters {
		if i != next {
			m.SetLeader(c.masters[next].Addr())
		}
	}
	c.apis[old].CutStreams()
	c.leader = next
	if c.cfg.ZK != nil {
		if err := c.cfg.ZK.Delete(c.zkNodes[old], -1); err != nil && !errors.Is(err, zk.ErrNoNode) {
			return Change{}, fmt.Errorf("deleting %s: %w", c.zkNodes[old], err)
		}
		node, err := c.zkRegister(c.masters[old])
		if err != nil {
			return Change{}, err
		}
		c.zkNodes[old] = node
	}
	c.log.Info("leader changed", "from", c.masters[old].Addr(), "to", c.masters[next].Addr())
	return c.recordLocked(Change{Kind: LeaderChanged, At: at}), nil
}

// zkRegister creates the master's ephemeral sequential json.info_ node under
// ZKPath (creating the path as needed), as a Mesos master does to stand for
// election.
func (c *Cluster) zkRegister(m *fakemaster.Master) (string, error) {
	conn, root := c.cfg.ZK, "/"+strings.Trim(c.cfg.ZKPath, "/")
	acl := zk.WorldACL(zk.PermAll)
	p := ""
	for _, seg := range strings.Split(strings.Trim(root, "/"), "/") {
		p += "/" + seg
		if _, err := conn.Create(p, nil, 0, acl); err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return "", fmt.Errorf("creating %s: %w", p, err)
		}
	}
	node, err := conn.Create(root+"/json.info_", m.MasterInfo(), zk.FlagEphemeral|zk.FlagSequence, acl)
	if err != nil {
		return "", fmt.Errorf("registering master %s under %s: %w", m.Addr(), root, err)
	}
	return node, nil
}

// RejoinZK registers again every master whose election node is gone, leader
// first and then round the ring, as Mesos masters do after losing their
// ZooKeeper session (an expired session takes its ephemeral nodes with it).
// It waits up to timeout for the connection to have a session again and
// returns how many masters it registered.
func (c *Cluster) RejoinZK(timeout time.Duration) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.checkOpenLocked(); err != nil {
		return 0, err
	}
	if c.cfg.ZK == nil {
		return 0, errors.New("sim: no ZooKeeper")
	}
	deadline := time.Now().Add(timeout)
	for c.cfg.ZK.State() != zk.StateHasSession {
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("sim: no ZooKeeper session within %v (state %v)", timeout, c.cfg.ZK.State())
		}
		time.Sleep(10 * time.Millisecond)
	}
	n := 0
	for k := range c.masters {
		i := (c.leader + k) % len(c.masters)
		ok, _, err := c.cfg.ZK.Exists(c.zkNodes[i])
		if err != nil {
			return n, fmt.Errorf("checking %s: %w", c.zkNodes[i], err)
		}
		if ok {
			continue
		}
		node, err := c.zkRegister(c.masters[i])
		if err != nil {
			return n, err
		}
		c.zkNodes[i] = node
		n++
	}
	return n, nil
}
