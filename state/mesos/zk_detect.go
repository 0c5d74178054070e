package mesos

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/discovery-mesos/discovery/internal/backoff"
	"github.com/discovery-mesos/discovery/state"
)

// Leader detection through ZooKeeper, the way Mesos elects: every master creates
// an ephemeral sequential node "json.info_<10 digits>" under the Mesos path
// holding its MasterInfo as JSON, and the lowest sequence leads. The children
// are watched, so a new leader is known as soon as ZooKeeper tells, not at the
// next poll.

// ZKURL is a parsed mesos-dns zk URL, "zk://[user:pass@]h1:2181,h2:2181/mesos".
type ZKURL struct {
	// Servers are "host:port" (port 2181 when the URL gives none).
	Servers []string
	// Path is the Mesos election path, e.g. "/mesos".
	Path string
	// User and Password are digest credentials ("user:pass@"), if any.
	User, Password string
}

// String returns the URL with the password left out, for logs.
func (u ZKURL) String() string {
	auth := ""
	if u.User != "" {
		auth = u.User + ":***@"
	}
	return "zk://" + auth + strings.Join(u.Servers, ",") + u.Path
}

// ParseZKURL parses and validates a zk:// URL as mesos-dns's zk key takes it.
func ParseZKURL(raw string) (ZKURL, error) {
	rest, ok := strings.CutPrefix(raw, "zk://")
	if !ok {
		return ZKURL{}, fmt.Errorf("%q does not start with zk://", RedactZK(raw))
	}
	var u ZKURL
	hosts, p, _ := strings.Cut(rest, "/")
	if at := strings.LastIndex(hosts, "@"); at >= 0 {
		cred := hosts[:at]
		hosts = hosts[at+1:]
		user, pass, ok := strings.Cut(cred, ":")
		if !ok || user == "" {
			return ZKURL{}, fmt.Errorf("%q: credentials must be user:password", RedactZK(raw))
		}
		var err error
		if u.User, err = url.PathUnescape(user); err != nil {
			return ZKURL{}, fmt.Errorf("%q: user: %w", RedactZK(raw), err)
		}
		if u.Password, err = url.PathUnescape(pass); err != nil {
			return ZKURL{}, fmt.Errorf("%q: password is not URL-escaped properly", RedactZK(raw))
		}
	}
	if hosts == "" {
		return ZKURL{}, fmt.Errorf("%q names no ZooKeeper server", RedactZK(raw))
	}
	for _, h := range strings.Split(hosts, ",") {
		h = strings.TrimSpace(h)
		if h == "" {
			return ZKURL{}, fmt.Errorf("%q has an empty server in its list", RedactZK(raw))
		}
		host, port, err := net.SplitHostPort(h)
		if err != nil {
			// No port: "h1" or "[::1]" or "::1".
			host, port = strings.Trim(h, "[]"), "2181"
		}
		// Brackets only ever wrap an IPv6 address; any left inside a host are
		// not an address (found by FuzzParseZKURL: "zk://0]0/0").
		if host == "" || strings.ContainsAny(host, "/?#@ []") {
			return ZKURL{}, fmt.Errorf("%q: bad server %q", RedactZK(raw), h)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return ZKURL{}, fmt.Errorf("%q: bad port in %q", RedactZK(raw), h)
		}
		u.Servers = append(u.Servers, net.JoinHostPort(host, port))
	}
	p = "/" + strings.Trim(p, "/")
	if p == "/" {
		return ZKURL{}, fmt.Errorf("%q has no path (e.g. zk://host:2181/mesos)", RedactZK(raw))
	}
	if strings.ContainsAny(p, "?#") || path.Clean(p) != p {
		return ZKURL{}, fmt.Errorf("%q: bad path %q", RedactZK(raw), p)
	}
	u.Path = p
	return u, nil
}

// RedactZK hides the credentials of a zk:// URL, parsed or not, for logs,
// errors and the configuration page: "zk://user:pass@h:2181/mesos" becomes
// "zk://user:***@h:2181/mesos", and credentials that are not user:password
// are hidden whole ("zk://***@h:2181/mesos"). Anything else is returned as
// it is.
func RedactZK(raw string) string {
	rest, ok := strings.CutPrefix(raw, "zk://")
	if !ok {
		return raw
	}
	hosts, p, slash := strings.Cut(rest, "/")
	at := strings.LastIndex(hosts, "@")
	if at < 0 {
		return raw
	}
	cred := "***"
	if user, _, ok := strings.Cut(hosts[:at], ":"); ok {
		cred = user + ":***"
	}
	out := "zk://" + cred + "@" + hosts[at+1:]
	if slash {
		out += "/" + p
	}
	return out
}

// ZKView is what ZooKeeper last said about the Mesos masters.
type ZKView struct {
	// Masters are the registered masters in election order: Masters[0] leads.
	// Empty while no master is registered (no leader).
	Masters []state.Master
	// Listed is when Masters was read; zero before the first listing.
	Listed time.Time
	// Connected reports a live ZooKeeper session; Since is when it last changed.
	Connected bool
	Since     time.Time
	// Err is the latest failure (nil after a successful listing).
	Err error
}

// Leader returns the leading master, if ZooKeeper names one.
func (v ZKView) Leader() (state.Master, bool) {
	if len(v.Masters) == 0 {
		return state.Master{}, false
	}
	return v.Masters[0], true
}

// ZKDetector follows the Mesos leader election in ZooKeeper. Run keeps a session
// and a watch on the election path; View returns the latest state and Changed
// signals every change. It never gives up: with ZooKeeper down it keeps
// reconnecting, and a member that is down does not stop it starting.
type ZKDetector struct {
	url            ZKURL
	sessionTimeout time.Duration
	log            *slog.Logger

	changed chan struct{}

	mu   sync.Mutex
	view ZKView
}

// NewZKDetector returns a detector for url; Run starts it. sessionTimeout is the
// ZooKeeper session timeout (10 s when zero).
func NewZKDetector(url ZKURL, sessionTimeout time.Duration, log *slog.Logger) *ZKDetector {
	if sessionTimeout <= 0 {
		sessionTimeout = 10 * time.Second
	}
	return &ZKDetector{
		url:            url,
		sessionTimeout: sessionTimeout,
		log:            log.With("zk", url.String()),
		changed:        make(chan struct{}, 1),
		view:           ZKView{Since: time.Now()},
	}
}

// Changed receives a value after every change of the view (coalesced: one
// pending signal at most). Read View after it.
func (d *ZKDetector) Changed() <-chan struct{} { return d.changed }

// View returns the latest view.
func (d *ZKDetector) View() ZKView {
	d.mu.Lock()
	defer d.mu.Unlock()
	v := d.view
	v.Masters = append([]state.Master(nil), v.Masters...)
	return v
}

func (d *ZKDetector) notify() {
	select {
	case d.changed <- struct{}{}:
	default:
	}
}

// setConnected records the session state, logging and signalling a change.
func (d *ZKDetector) setConnected(connected bool, server string) {
	d.mu.Lock()
	changed := d.view.Connected != connected
	if changed {
		d.view.Connected = connected
		d.view.Since = time.Now()
	}
	d.mu.Unlock()
	if !changed {
		return
	}
	if connected {
		d.log.Info("zookeeper session established", "server", server)
	} else {
		d.log.Warn("zookeeper session lost", "server", server)
	}
	d.notify()
}

// Run follows the election until ctx is done, then returns ctx's error.
//
// Each ZooKeeper session gets its own client connection, and a lost session is
// replaced by a new client instead of letting the client reconnect and re-arm
// its watches itself: go-zookeeper's re-arming races with its receive loop
// (go-zookeeper/zk#35), and a fresh listing after a reconnect is what we need
// anyway. A read-only watcher loses nothing with a new session.
func (d *ZKDetector) Run(ctx context.Context) error {
	retry := backoff.New(100*time.Millisecond, 5*time.Second)
	for ctx.Err() == nil {
		if err := d.session(ctx, retry); err != nil {
			return err
		}
		if !backoff.Sleep(ctx, retry.Next()) {
			break
		}
	}
	return ctx.Err()
}

// session runs one ZooKeeper client until its session is lost or ctx is done.
// Before the session is first established the client keeps trying every
// server; once it is established, it is never re-established.
func (d *ZKDetector) session(ctx context.Context, retry *backoff.Backoff) error {
	var (
		hadSession atomic.Bool
		closing    atomic.Bool
		lost       = make(chan struct{})
		lostOnce   sync.Once
	)
	dial := func(network, addr string, timeout time.Duration) (net.Conn, error) {
		if hadSession.Load() {
			return nil, errors.New("session lost; a new client takes over")
		}
		c, err := net.DialTimeout(network, addr, timeout)
		if err != nil {
			return nil, err
		}
		return &zkHandshakeConn{Conn: c, limit: d.sessionTimeout / 3, established: &hadSession}, nil
	}
	// onEvent runs on the client's goroutine and must not block.
	onEvent := func(ev zk.Event) {
		if ev.Type != zk.EventSession || closing.Load() {
			return
		}
		switch {
		case ev.State == zk.StateHasSession:
			hadSession.Store(true)
			d.setConnected(true, ev.Server)
		case hadSession.Load():
			lostOnce.Do(func() { close(lost) })
			d.setConnected(false, ev.Server)
		}
	}
	conn, _, err := zk.Connect(d.url.Servers, d.sessionTimeout,
		zk.WithHostProvider(&zkHosts{}),
		zk.WithDialer(dial),
		zk.WithLogger(zkLogger{d.log}),
		zk.WithLogInfo(false),
		zk.WithEventCallback(onEvent),
		// MasterInfo nodes are small; bound what a broken server can make us read.
		zk.WithMaxBufferSize(4<<20),
	)
	if err != nil {
		return fmt.Errorf("zookeeper %s: %w", d.url, err)
	}
	closeConn := func() {
		closing.Store(true)
		conn.Close()
	}
	stop := context.AfterFunc(ctx, closeConn)
	defer stop()
	defer closeConn()

	// wait waits out a backoff; false when the session is over.
	wait := func() bool {
		t := time.NewTimer(retry.Next())
		defer t.Stop()
		select {
		case <-ctx.Done():
			return false
		case <-lost:
			return false
		case <-t.C:
			return true
		}
	}
	over := func() bool {
		select {
		case <-ctx.Done():
			return true
		case <-lost:
			return true
		default:
			return false
		}
	}
	authed := d.url.User == ""
	for !over() {
		if !authed {
			if err := conn.AddAuth("digest", []byte(d.url.User+":"+d.url.Password)); err != nil {
				if over() {
					break
				}
				d.failed(fmt.Errorf("zookeeper digest authentication: %w", err))
				if !wait() {
					break
				}
				continue
			}
			authed = true
		}
		masters, watch, err := d.list(conn)
		if err != nil {
			if over() {
				break
			}
			d.failed(err)
			if !wait() {
				break
			}
			continue
		}
		retry.Reset()
		d.listed(masters)
		select {
		case <-ctx.Done():
		case <-lost:
		case ev := <-watch:
			if ev.Err != nil {
				d.log.Debug("zookeeper watch ended", "err", ev.Err)
			}
		}
	}
	return nil
}

// list reads the registered masters and arms a watch on the election path (on
// its existence when it does not exist yet).
func (d *ZKDetector) list(conn *zk.Conn) ([]state.Master, <-chan zk.Event, error) {
	children, _, watch, err := conn.ChildrenW(d.url.Path)
	if errors.Is(err, zk.ErrNoNode) {
		exists, _, ewatch, err := conn.ExistsW(d.url.Path)
		if err != nil {
			return nil, nil, fmt.Errorf("watching %s in zookeeper: %w", d.url.Path, err)
		}
		if exists { // created in between: list again at once
			ch := make(chan zk.Event, 1)
			ch <- zk.Event{Type: zk.EventNodeCreated}
			return nil, ch, nil
		}
		return nil, ewatch, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("listing %s in zookeeper: %w", d.url.Path, err)
	}
	type node struct {
		name string
		seq  uint64
	}
	var nodes []node
	for _, c := range children {
		s, ok := strings.CutPrefix(c, "json.info_")
		if !ok {
			continue // "info_" protobuf nodes of Mesos < 0.24, other clients' nodes
		}
		seq, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			continue
		}
		nodes = append(nodes, node{c, seq})
	}
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].seq < nodes[j].seq })
	masters := make([]state.Master, 0, len(nodes))
	for _, n := range nodes {
		data, _, err := conn.Get(d.url.Path + "/" + n.name)
		if errors.Is(err, zk.ErrNoNode) {
			continue // gone since the listing; the watch fires for it
		}
		if err != nil {
			return nil, nil, fmt.Errorf("reading %s/%s in zookeeper: %w", d.url.Path, n.name, err)
		}
		m, err := masterFromInfo(data)
		if err != nil {
			d.log.Warn("ignoring unreadable master registration", "node", d.url.Path+"/"+n.name, "err", err)
			continue
		}
		masters = append(masters, m)
	}
	return masters, watch, nil
}

func (d *ZKDetector) listed(masters []state.Master) {
	d.mu.Lock()
	oldLeader, hadOld := d.view.Leader()
	first := d.view.Listed.IsZero()
	d.view.Masters = masters
	d.view.Listed = time.Now()
	d.view.Err = nil
	newLeader, hasNew := d.view.Leader()
	d.mu.Unlock()
	switch {
	case hasNew && (first || !hadOld || masterAddr(oldLeader) != masterAddr(newLeader)):
		d.log.Info("zookeeper names the leading master", "leader", masterAddr(newLeader), "id", newLeader.ID, "masters", len(masters))
	case !hasNew && (first || hadOld):
		d.log.Warn("zookeeper names no leading master", "path", d.url.Path)
	}
	d.notify()
}

func (d *ZKDetector) failed(err error) {
	d.mu.Lock()
	d.view.Err = err
	d.mu.Unlock()
	d.log.Warn("zookeeper leader detection failed", "err", err)
	d.notify()
}

// zkHosts is the ZooKeeper client's host provider: the configured servers in
// order, resolved when dialled. Unlike the client's default it does not resolve
// every name up front, so one member whose name does not resolve (a machine
// being replaced) does not stop start-up.
type zkHosts struct {
	mu      sync.Mutex
	servers []string
	cur     int
	last    int
}

func (h *zkHosts) Init(servers []string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(servers) == 0 {
		return errors.New("no zookeeper servers")
	}
	h.servers = append([]string(nil), servers...)
	h.cur, h.last = -1, -1
	return nil
}

func (h *zkHosts) Len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.servers)
}

func (h *zkHosts) Next() (string, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.cur = (h.cur + 1) % len(h.servers)
	retryStart := h.cur == h.last
	if h.last == -1 {
		h.last = 0
	}
	return h.servers[h.cur], retryStart
}

func (h *zkHosts) Connected() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.last = h.cur
}

// zkHandshakeConn bounds how long the client waits on a server before it has
// a session. The client gives its handshake ten times its receive timeout
// (about 67 s with a 10 s session): a server that accepts the connection but
// does not answer — a ZooKeeper still starting after a restart, its port
// already bound — held a new client for that long, and the leader unknown
// with it. Bounded, the client tries again (the next server, or the same one
// once it answers). Once the session is established the client's own
// deadlines apply.
type zkHandshakeConn struct {
	net.Conn
	limit       time.Duration
	established *atomic.Bool
}

func (c *zkHandshakeConn) SetReadDeadline(t time.Time) error {
	return c.Conn.SetReadDeadline(c.bound(t))
}

func (c *zkHandshakeConn) SetWriteDeadline(t time.Time) error {
	return c.Conn.SetWriteDeadline(c.bound(t))
}

func (c *zkHandshakeConn) bound(t time.Time) time.Time {
	if c.established.Load() || c.limit <= 0 {
		return t
	}
	if most := time.Now().Add(c.limit); t.IsZero() || t.After(most) {
		return most
	}
	return t
}

// zkLogger sends the ZooKeeper client's own log lines (every failed connection
// attempt among them) to slog at debug level; the detector logs the state
// changes that matter.
type zkLogger struct{ log *slog.Logger }

func (l zkLogger) Printf(format string, args ...any) {
	l.log.Debug("zk client: " + fmt.Sprintf(format, args...))
}
