// Package fakemarathon is a Marathon for tests, benchmarks and the simulator: an
// httptest server on loopback that serves /v2/apps, /v2/apps/{id}, /v2/info,
// /v2/leader and the /v2/events server-sent event stream in Marathon's own JSON
// shapes. With a Scheduler (SetScheduler) it also takes the writes a
// deployment client makes: creating, scaling and deleting apps, killing tasks.
//
// Its apps and tasks can be changed while it runs. Every change made through the
// methods that model cluster churn (AddTask, SetTaskState, MoveTask,
// SetTaskHealth, StartDeployment, …) also emits the events real Marathon emits
// for it, so an event-driven client sees the same story as a polling one. Faults
// can be switched on at any time: Stop/Start (connection refused), Unavailable
// (503), Garbage (a truncated document), Hang (no answer), basic auth, and TLS.
package fakemarathon

import (
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Behaviour is how the server answers requests.
type Behaviour int

// Behaviours.
const (
	// Normal serves the current apps.
	Normal Behaviour = iota
	// Unavailable answers 503 with Marathon's "no leader" error body.
	Unavailable
	// Garbage answers 200 with a truncated JSON document.
	Garbage
	// Hang accepts requests and never answers them (until the client gives up
	// or the server stops).
	Hang
)

// Options configure a Server.
type Options struct {
	// TLS serves HTTPS with httptest's certificate for 127.0.0.1 (see CACertPEM).
	TLS bool
	// User and Password, when User is set, make every request need basic auth.
	User, Password string
	// Now is the clock used for timestamps; time.Now when nil.
	Now func() time.Time
	// EventBuffer is how many events a slow /v2/events client may fall behind
	// before the server drops its stream, as Marathon does; 1024 when zero.
	EventBuffer int
	// Addr is the loopback host:port to listen on (Open); "127.0.0.1:0" when
	// empty.
	Addr string
}

// Server is a fake Marathon. Its methods are safe for concurrent use.
type Server struct {
	opts Options
	addr string
	cert *x509.Certificate

	mu        sync.Mutex
	srv       *httptest.Server
	behaviour Behaviour
	user      string
	password  string
	check     func(*http.Request) error
	noEvents  int // when set, /v2/events answers this status (a proxy in front)
	apps      map[string]*appState
	deploys   map[string]*deployment
	seq       uint64
	requests  map[string]int
	subs      map[*subscriber]struct{}
	sched     *Scheduler // the write API's; nil answers writes 405
	paused    bool
	sent      int           // events queued to a stream, over every stream ever open
	subsCh    chan struct{} // closed and replaced whenever subs changes
	hang      chan struct{} // closed when hanging requests should end
}

// New starts a fake Marathon on 127.0.0.1 with no apps. It panics when it
// cannot listen; Open returns the error instead.
func New(opts Options) *Server {
	s, err := Open(opts)
	if err != nil {
		panic(err.Error())
	}
	return s
}

// Open starts a fake Marathon with no apps on opts.Addr (a free port on
// 127.0.0.1 when empty), as the simulator binary does on a fixed address.
func Open(opts Options) (*Server, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.EventBuffer <= 0 {
		opts.EventBuffer = 1024
	}
	s := &Server{
		opts:     opts,
		user:     opts.User,
		password: opts.Password,
		apps:     map[string]*appState{},
		deploys:  map[string]*deployment{},
		requests: map[string]int{},
		subs:     map[*subscriber]struct{}{},
		subsCh:   make(chan struct{}),
		hang:     make(chan struct{}),
	}
	addr := opts.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("fakemarathon: listening: %w", err)
	}
	s.addr = ln.Addr().String()
	s.start(ln)
	if opts.TLS {
		s.cert = s.srv.Certificate()
	}
	return s, nil
}

func (s *Server) start(ln net.Listener) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(s.serveHTTP))
	srv.Listener.Close()
	srv.Listener = ln
	// Clients that do not trust the certificate are part of the tests.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	if s.opts.TLS {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	s.srv = srv
}

// URL is the server's base URL, "http://127.0.0.1:PORT" (https with TLS). It
// stays the same across Stop and Start.
func (s *Server) URL() string {
	if s.opts.TLS {
		return "https://" + s.addr
	}
	return "http://" + s.addr
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return s.addr }

// Client returns an HTTP client that trusts the server's certificate.
func (s *Server) Client() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if s.cert != nil {
		pool := x509.NewCertPool()
		pool.AddCert(s.cert)
		tr.TLSClientConfig = &tls.Config{RootCAs: pool}
	}
	return &http.Client{Transport: tr}
}

// CACertPEM returns the PEM certificate that signs the server's TLS certificate
// (httptest's self-signed certificate for 127.0.0.1), nil without TLS.
func (s *Server) CACertPEM() []byte {
	if s.cert == nil {
		return nil
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.cert.Raw})
}

// WriteCACert writes CACertPEM to a file in dir and returns its path.
func (s *Server) WriteCACert(dir string) (string, error) {
	b := s.CACertPEM()
	if b == nil {
		return "", errors.New("fakemarathon: server has no TLS")
	}
	p := filepath.Join(dir, "marathon-ca.pem")
	return p, os.WriteFile(p, b, 0o600)
}

// Stop closes the listener and every connection: clients get "connection
// refused" until Start.
func (s *Server) Stop() {
	s.mu.Lock()
	srv := s.srv
	s.srv = nil
	s.releaseHangingLocked()
	s.mu.Unlock()
	if srv != nil {
		srv.CloseClientConnections()
		srv.Close()
	}
}

// Start listens again on the same address after Stop.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		return nil
	}
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return fmt.Errorf("fakemarathon: listening again on %s: %w", s.addr, err)
	}
	s.start(ln)
	return nil
}

// Close stops the server for good.
func (s *Server) Close() { s.Stop() }

// SetBehaviour switches how the server answers from now on.
func (s *Server) SetBehaviour(b Behaviour) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.behaviour == Hang && b != Hang {
		s.releaseHangingLocked()
	}
	s.behaviour = b
}

func (s *Server) releaseHangingLocked() {
	close(s.hang)
	s.hang = make(chan struct{})
}

// SetBasicAuth makes every request need these credentials; an empty user turns
// authentication off.
func (s *Server) SetBasicAuth(user, password string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.user, s.password = user, password
}

// RequireToken makes every request need check to pass it, as DC/OS's Admin
// Router guards Marathon (fakeiam.IAM.Check); nil turns it off.
func (s *Server) RequireToken(check func(*http.Request) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.check = check
}

// BlockEvents makes /v2/events answer code with an HTML page, as a proxy in
// front of Marathon that does not pass the event stream does (404, 405);
// 0 serves the stream again.
func (s *Server) BlockEvents(code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.noEvents = code
}

// Requests returns how many requests reached path ("/v2/apps", "/v2/events", …),
// counted before authentication and behaviours apply.
func (s *Server) Requests(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[path]
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests[r.URL.Path]++
	behaviour, user, password, hang, check, noEvents := s.behaviour, s.user, s.password, s.hang, s.check, s.noEvents
	s.mu.Unlock()

	if noEvents != 0 && r.URL.Path == "/v2/events" {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(noEvents)
		_, _ = fmt.Fprintf(w, "<html><body><h1>%d %s</h1><hr><center>nginx</center></body></html>\n", noEvents, http.StatusText(noEvents))
		return
	}
	if check != nil {
		if err := check(r); err != nil {
			w.Header().Set("WWW-Authenticate", "acsjwt")
			writeJSON(w, http.StatusUnauthorized, map[string]string{"title": "Unauthorized", "description": err.Error()})
			return
		}
	}
	if user != "" {
		u, p, ok := r.BasicAuth()
		if !ok || subtle.ConstantTimeCompare([]byte(u), []byte(user)) != 1 || subtle.ConstantTimeCompare([]byte(p), []byte(password)) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="Mesosphere Marathon"`)
			writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "Invalid username or password."})
			return
		}
	}
	switch behaviour {
	case Unavailable:
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"message": "Could not determine the current leader"})
		return
	case Garbage:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(`{"apps":[{"id":"/truncated","labels":{"HAPROXY_GROUP":"exte`))
		return
	case Hang:
		select {
		case <-r.Context().Done():
		case <-hang:
		}
		return
	}

	if r.Method != http.MethodGet && r.Method != http.MethodHead && s.serveWrite(w, r) {
		return
	}
	switch p := r.URL.Path; {
	case p == "/v2/apps" || p == "/v2/apps/":
		s.serveApps(w, r)
	case strings.HasPrefix(p, "/v2/apps/"):
		s.serveApp(w, r, strings.TrimSuffix(strings.TrimPrefix(p, "/v2/apps"), "/"))
	case p == "/v2/info":
		s.serveInfo(w, r)
	case p == "/v2/leader":
		s.serveLeader(w, r)
	case p == "/v2/events":
		s.serveEvents(w, r)
	case p == "/ping":
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("pong\n"))
	default:
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "Not Found"})
	}
}
