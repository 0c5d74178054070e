// Package fakemaster is a Mesos master for tests: an httptest server that serves
// real-format state documents and can be switched, while it runs, into the ways
// real masters behave and misbehave — leading, not leading (307 to the leader),
// without a leader (503), old (only /master/state.json), broken (garbage,
// truncated JSON, a huge body), slow, behind basic auth or TLS.
//
// Sources are tested against it instead of a real Mesos: it speaks the wire
// format byte for byte where the sources look (status codes, the scheme-relative
// Location of a redirect, the leader fields of the document), and it counts what
// it serves so that tests and benchmarks can measure the load a source puts on a
// master.
//
// Every route goes through one mux; Handle adds a route (the v1 operator API,
// for instance) that gets the same leader/auth/counting behaviour as the state
// endpoints.
package fakemaster

import (
	"bytes"
	"crypto/subtle"
	_ "embed"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

//go:embed testdata/state.json
var fixture []byte

// Fixture returns a copy of a real Mesos master state document (mesos-dns's test
// fixture, addresses rewritten to loopback): ten tasks of three frameworks.
func Fixture() []byte { return bytes.Clone(fixture) }

// Mode is how the master answers the state endpoints.
type Mode int

const (
	// Leading answers 200 with the state document, naming itself the leader.
	Leading Mode = iota
	// NotLeading answers 307 with a scheme-relative Location on the leader set
	// by SetLeader, as Mesos 1.x does ("//host:port/master/state").
	NotLeading
	// StaleFollower answers 200 with the document but names the master set by
	// SetLeader as the leader, as non-leading masters before Mesos 1.1 did.
	StaleFollower
	// NoLeader answers 503, as a master does while no leader is elected.
	NoLeader
	// Garbage answers 200 with a body that is not JSON.
	Garbage
	// Truncated answers 200 with the first half of the document.
	Truncated
	// Slow waits (SetDelay, default one minute) before answering, or until the
	// client goes away.
	Slow
	// Huge answers 200 with a body of SetHuge bytes that starts like a state
	// document and never ends properly.
	Huge
)

func (m Mode) String() string {
	switch m {
	case Leading:
		return "leading"
	case NotLeading:
		return "not-leading"
	case StaleFollower:
		return "stale-follower"
	case NoLeader:
		return "no-leader"
	case Garbage:
		return "garbage"
	case Truncated:
		return "truncated"
	case Slow:
		return "slow"
	case Huge:
		return "huge"
	}
	return "mode(" + strconv.Itoa(int(m)) + ")"
}

// Options configure a Master when it is created.
type Options struct {
	// TLS serves HTTPS with httptest's self-signed certificate (valid for
	// 127.0.0.1); CACertPEM returns it for clients to trust.
	TLS bool
	// Old serves only /master/state.json and /state.json, as masters before
	// Mesos 1.0 did (and /master/state answers 404).
	Old bool
	// ID is the master's ID in its state and MasterInfo; a made-up one by default.
	ID string
}

// Master is a fake Mesos master. Its methods are safe for concurrent use.
type Master struct {
	srv  *httptest.Server
	mux  *http.ServeMux
	host string
	port int
	id   string
	old  bool

	done chan struct{} // closed by Close: releases slow handlers

	mu       sync.Mutex
	mode     Mode
	doc      map[string]json.RawMessage
	body     []byte // doc rendered for the current mode/leader; nil = render again
	leader   string // host:port of the leader when this master does not lead
	user     string
	pass     string
	check    func(*http.Request) error
	delay    time.Duration
	hugeSize int64
	hugeLen  bool
	perPath  map[string]int64

	// unwritten is the operator API's truth when doc lags it: mutations
	// write it back when the document is next read (docLocked), not each
	// time (a rewrite of a 10,000-task document costs milliseconds).
	unwritten *truth

	requests atomic.Int64
	bytes    atomic.Int64
}

// New starts a fake master on a loopback port serving doc (a Mesos state
// document, e.g. Fixture()). Close stops it.
func New(doc []byte, opts Options) (*Master, error) {
	m := &Master{
		mux:      http.NewServeMux(),
		id:       opts.ID,
		old:      opts.Old,
		done:     make(chan struct{}),
		delay:    time.Minute,
		hugeSize: 100 << 20,
		perPath:  map[string]int64{},
	}
	m.srv = httptest.NewUnstartedServer(m)
	// Failed TLS handshakes are what some tests are about; keep them off stderr.
	m.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	if opts.TLS {
		m.srv.StartTLS()
	} else {
		m.srv.Start()
	}
	host, port, err := net.SplitHostPort(m.srv.Listener.Addr().String())
	if err != nil {
		m.srv.Close()
		return nil, fmt.Errorf("fake master address: %w", err)
	}
	m.host = host
	m.port, _ = strconv.Atoi(port)
	if m.id == "" {
		m.id = fmt.Sprintf("fake-master-%s-%d", host, m.port)
	}
	if err := m.SetState(doc); err != nil {
		m.srv.Close()
		return nil, err
	}
	statePaths := []string{"/master/state", "/state"}
	if m.old {
		statePaths = []string{"/master/state.json", "/state.json"}
	}
	for _, p := range statePaths {
		m.Handle(p, http.HandlerFunc(m.serveState))
	}
	m.Handle("/master/redirect", http.HandlerFunc(m.serveRedirect))
	return m, nil
}

// Start is New for tests: it fails the test on error and closes the master when
// the test ends.
func Start(t testing.TB, doc []byte, opts Options) *Master {
	t.Helper()
	m, err := New(doc, opts)
	if err != nil {
		t.Fatalf("starting fake master: %v", err)
	}
	t.Cleanup(m.Close)
	return m
}

// Close stops the master, releasing slow requests first.
func (m *Master) Close() {
	m.mu.Lock()
	select {
	case <-m.done:
	default:
		close(m.done)
	}
	m.mu.Unlock()
	m.srv.CloseClientConnections()
	m.srv.Close()
	// The map of operator APIs would keep a closed master's state alive.
	apisMu.Lock()
	delete(apis, m)
	apisMu.Unlock()
}

// Addr is the master's "host:port", as mesos-dns's masters list names it.
func (m *Master) Addr() string { return net.JoinHostPort(m.host, strconv.Itoa(m.port)) }

// Host and Port are the parts of Addr.
func (m *Master) Host() string { return m.host }

// Port is the master's TCP port.
func (m *Master) Port() int { return m.port }

// ID is the master's ID.
func (m *Master) ID() string { return m.id }

// PID is the master's libprocess id, "master@host:port".
func (m *Master) PID() string { return "master@" + m.Addr() }

// URL is the master's base URL, "http://host:port" or "https://host:port".
func (m *Master) URL() string { return m.srv.URL }

// CACertPEM returns the PEM of the certificate a TLS master serves (nil for a
// plain HTTP one), for clients to trust as a CA.
func (m *Master) CACertPEM() []byte {
	c := m.srv.Certificate()
	if c == nil {
		return nil
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

// MasterInfo returns the JSON a Mesos master writes into its ZooKeeper
// json.info_ node, describing this master.
func (m *Master) MasterInfo() []byte {
	info := map[string]any{
		"id":       m.id,
		"pid":      m.PID(),
		"hostname": m.host,
		"port":     m.port,
		"ip":       ipUint32(m.host),
		"version":  "1.11.0",
		"address": map[string]any{
			"hostname": m.host,
			"ip":       m.host,
			"port":     m.port,
		},
	}
	b, _ := json.Marshal(info)
	return b
}

// ipUint32 encodes an IPv4 address as MasterInfo.ip does: the address bytes in
// network order read as a little-endian uint32 (what Mesos writes on x86).
func ipUint32(host string) uint32 {
	ip := net.ParseIP(host).To4()
	if ip == nil {
		return 0
	}
	return uint32(ip[0]) | uint32(ip[1])<<8 | uint32(ip[2])<<16 | uint32(ip[3])<<24
}

// SetMode switches how the state endpoints answer.
func (m *Master) SetMode(mode Mode) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.mode = mode
	m.body = nil
}

// Mode returns the current mode.
func (m *Master) Mode() Mode {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.mode
}

// SetLeader names the leading master ("host:port") for NotLeading and
// StaleFollower, and switches to NotLeading.
func (m *Master) SetLeader(addr string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.leader = addr
	m.mode = NotLeading
	m.body = nil
}

// RequireBasicAuth makes every route answer 401 unless the request carries
// these basic-auth credentials. An empty principal turns authentication off.
func (m *Master) RequireBasicAuth(principal, secret string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.user, m.pass = principal, secret
}

// RequireToken makes every route answer 401 unless check passes the
// request, as DC/OS's Admin Router guards the masters (fakeiam.IAM.Check);
// nil turns it off.
func (m *Master) RequireToken(check func(*http.Request) error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.check = check
}

// SetDelay sets how long Slow waits before answering.
func (m *Master) SetDelay(d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.delay = d
}

// SetHuge sets the size of Huge bodies, and whether they carry a Content-Length
// (without one the body is chunked and the client only finds out by reading).
func (m *Master) SetHuge(size int64, withLength bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.hugeSize, m.hugeLen = size, withLength
}

// SetState replaces the state document. Its leader fields ("leader", "pid",
// "hostname", "leader_info") are rewritten when served, to name this master or
// the leader set by SetLeader.
func (m *Master) SetState(doc []byte) error {
	var d map[string]json.RawMessage
	if err := json.Unmarshal(doc, &d); err != nil {
		return fmt.Errorf("fake master state: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.doc = d
	m.body = nil
	m.unwritten = nil // the truth parses the new document (truth.sync)
	return nil
}

// docLocked returns the document, brought up to date with the operator API's
// mutations. Callers hold m.mu.
func (m *Master) docLocked() map[string]json.RawMessage {
	if m.unwritten != nil {
		m.unwritten.writeBack(m.doc)
		m.unwritten = nil
	}
	return m.doc
}

// EditState decodes the current document, lets edit change it, and serves the
// result from then on. It is how tests add, remove and move tasks.
func (m *Master) EditState(edit func(doc map[string]any) error) error {
	m.mu.Lock()
	raw, err := json.Marshal(m.docLocked())
	m.mu.Unlock()
	if err != nil {
		return err
	}
	var d map[string]any
	if err := json.Unmarshal(raw, &d); err != nil {
		return err
	}
	if err := edit(d); err != nil {
		return err
	}
	out, err := json.Marshal(d)
	if err != nil {
		return err
	}
	return m.SetState(out)
}

// State returns the document as it is currently served in Leading mode.
func (m *Master) State() []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return bytes.Clone(m.render(m.Addr()))
}

// Requests is the number of requests the master has received.
func (m *Master) Requests() int64 { return m.requests.Load() }

// BytesServed is the number of response body bytes the master has written.
func (m *Master) BytesServed() int64 { return m.bytes.Load() }

// RequestsFor is the number of requests received for one path.
func (m *Master) RequestsFor(path string) int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.perPath[path]
}

// Handle adds a route. Requests to it are counted and checked for credentials
// like the state endpoints; what it answers is up to h (which can call Mode).
func (m *Master) Handle(pattern string, h http.Handler) {
	m.mux.Handle(pattern, h)
}

// Leading answers r as a master that does not lead would — 307 to the leader
// (NotLeading, StaleFollower) or 503 (NoLeader) — and returns false; it returns
// true, writing nothing, when this master leads. Routes added with Handle that
// only a leader serves (the v1 operator API) start with it.
func (m *Master) Leading(w http.ResponseWriter, r *http.Request) bool {
	m.mu.Lock()
	mode, leader := m.mode, m.leader
	m.mu.Unlock()
	switch mode {
	case NotLeading, StaleFollower:
		m.redirect(w, r, leader)
		return false
	case NoLeader:
		http.Error(w, "No leader elected", http.StatusServiceUnavailable)
		return false
	}
	return true
}

// ServeHTTP implements http.Handler: counting, authentication, then the route.
func (m *Master) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m.requests.Add(1)
	m.mu.Lock()
	m.perPath[r.URL.Path]++
	user, pass, check := m.user, m.pass, m.check
	m.mu.Unlock()
	cw := &countingWriter{ResponseWriter: w, n: &m.bytes}
	if check != nil {
		if err := check(r); err != nil {
			cw.Header().Set("WWW-Authenticate", "acsjwt")
			http.Error(cw, "Unauthorized: "+err.Error(), http.StatusUnauthorized)
			return
		}
	}
	if user != "" {
		u, p, ok := r.BasicAuth()
		if !ok || subtle.ConstantTimeCompare([]byte(u), []byte(user)) != 1 ||
			subtle.ConstantTimeCompare([]byte(p), []byte(pass)) != 1 {
			cw.Header().Set("WWW-Authenticate", `Basic realm="mesos"`)
			http.Error(cw, "Unauthorized", http.StatusUnauthorized)
			return
		}
	}
	m.mux.ServeHTTP(cw, r)
}

func (m *Master) serveState(w http.ResponseWriter, r *http.Request) {
	m.mu.Lock()
	mode, leader, delay := m.mode, m.leader, m.delay
	hugeSize, hugeLen := m.hugeSize, m.hugeLen
	var body []byte
	switch mode {
	case Leading, Truncated:
		body = m.render(m.Addr())
	case StaleFollower:
		body = m.render(leader)
	}
	m.mu.Unlock()

	switch mode {
	case Leading, StaleFollower:
		writeJSON(w, body)
	case NotLeading:
		m.redirect(w, r, leader)
	case NoLeader:
		http.Error(w, "No leader elected", http.StatusServiceUnavailable)
	case Garbage:
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte("<html><body>502 Bad Gateway</body></html>\x00\xff{{{"))
	case Truncated:
		writeJSON(w, body[:len(body)/2])
	case Slow:
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
			m.mu.Lock()
			body = m.render(m.Addr())
			m.mu.Unlock()
			writeJSON(w, body)
		case <-r.Context().Done():
		case <-m.done:
		}
	case Huge:
		m.serveHuge(w, r, hugeSize, hugeLen)
	}
}

// serveRedirect answers /master/redirect: 307 to the leader, as Mesos does.
func (m *Master) serveRedirect(w http.ResponseWriter, r *http.Request) {
	// A master that does not lead answers as for any leader-only route; the
	// leader redirects to itself.
	if m.Leading(w, r) {
		m.redirect(w, r, m.Addr())
	}
}

func (m *Master) redirect(w http.ResponseWriter, r *http.Request, leader string) {
	if leader == "" {
		http.Error(w, "No leader elected", http.StatusServiceUnavailable)
		return
	}
	path := r.URL.Path
	if path == "/master/redirect" {
		path = ""
	}
	// Set the header directly: http.Redirect would make the Location absolute
	// and Mesos sends it scheme-relative.
	w.Header().Set("Location", "//"+leader+path)
	w.WriteHeader(http.StatusTemporaryRedirect)
}

func (m *Master) serveHuge(w http.ResponseWriter, r *http.Request, size int64, withLength bool) {
	w.Header().Set("Content-Type", "application/json")
	if withLength {
		w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
	}
	head := []byte(`{"leader":"master@` + m.Addr() + `","frameworks":[`)
	chunk := bytes.Repeat([]byte(`{"id":"x","tasks":[]},`), 3000)
	written := int64(0)
	for written < size {
		b := chunk
		if written == 0 {
			b = head
		}
		if rest := size - written; int64(len(b)) > rest {
			b = b[:rest]
		}
		n, err := w.Write(b)
		written += int64(n)
		if err != nil {
			return
		}
		select {
		case <-r.Context().Done():
			return
		case <-m.done:
			return
		default:
		}
	}
}

// render returns the document naming leader ("host:port") as the leader and this
// master as the one serving it. Callers hold m.mu.
func (m *Master) render(leader string) []byte {
	if m.body != nil && m.mode != StaleFollower {
		return m.body
	}
	doc := m.docLocked()
	d := make(map[string]json.RawMessage, len(doc)+4)
	for k, v := range doc {
		d[k] = v
	}
	str := func(s string) json.RawMessage { b, _ := json.Marshal(s); return b }
	d["pid"] = str(m.PID())
	d["hostname"] = str(m.host)
	d["id"] = str(m.id)
	if leader != "" {
		d["leader"] = str("master@" + leader)
		lh, lp, _ := net.SplitHostPort(leader)
		port, _ := strconv.Atoi(lp)
		id := m.id
		if leader != m.Addr() {
			id = "leader-" + leader
		}
		info, _ := json.Marshal(map[string]any{
			"id":       id,
			"pid":      "master@" + leader,
			"hostname": lh,
			"port":     port,
			"ip":       ipUint32(lh),
			"address":  map[string]any{"hostname": lh, "ip": lh, "port": port},
		})
		d["leader_info"] = info
	} else {
		delete(d, "leader")
		delete(d, "leader_info")
	}
	b, err := json.Marshal(d)
	if err != nil {
		panic(fmt.Sprintf("fake master: re-encoding state: %v", err))
	}
	if m.mode != StaleFollower {
		m.body = b
	}
	return b
}

func writeJSON(w http.ResponseWriter, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	_, _ = w.Write(body)
}

// countingWriter counts the body bytes written through it.
type countingWriter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.ResponseWriter.Write(b)
	c.n.Add(int64(n))
	return n, err
}

// Flush passes flushes through, for streaming routes.
func (c *countingWriter) Flush() {
	if f, ok := c.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (c *countingWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }
