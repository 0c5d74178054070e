package dnsserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/discovery-mesos/discovery/internal/connlimit"
)

// ServerConfig is how the DNS server listens and answers; the records come from
// the table source given to NewServer.
type ServerConfig struct {
	// Addr is "listener:port" (mesos-dns "listener" and "port"), served over UDP
	// and TCP. Port 0 picks a free port, the same for both (tests).
	Addr string
	// RecurseOn sets the RA flag (mesos-dns "recurseon").
	RecurseOn bool
	// NoTruncateBit leaves TC clear on answers cut to fit (mesos-dns
	// "SetTruncateBit": false).
	NoTruncateBit bool
	// Forward is where names outside the domain go.
	Forward ForwardConfig
	// VIPs gives the VIP names to answer (vips.go); nil: none.
	VIPs VIPSource
	// MaxUDPSize caps UDP answers (0: DefaultMaxUDPSize).
	MaxUDPSize int
	// UDPWorkers is the number of goroutines answering UDP (0: GOMAXPROCS).
	UDPWorkers int
	// MaxTCPConns bounds concurrent TCP connections (0: 1000); further clients
	// wait in the listen backlog.
	MaxTCPConns int
	// MaxTCPConnsPerClient bounds one client's concurrent TCP connections (one
	// IPv4 address or IPv6 /64; 0: DefaultMaxTCPConnsPerClient, -1: no cap):
	// a connection past it is closed at once, so that one client cannot fill
	// MaxTCPConns and lock everyone else out.
	MaxTCPConnsPerClient int
	// TCPIdleTimeout closes idle TCP connections (0: 8 s).
	TCPIdleTimeout time.Duration

	// RateLimit turns on the per-client response rate limit over UDP: at most
	// this many answers per second per client prefix (/24 IPv4, /56 IPv6), so
	// the server cannot be used to flood a spoofed address. 0 is off.
	RateLimit int
	// RateLimitBurst is the bucket size (0: RateLimit).
	RateLimitBurst int
	// RateLimitSlip: every RateLimitSlip-th limited query still gets an empty
	// truncated answer so a real client can retry over TCP (0: 2; -1: never).
	RateLimitSlip int

	// stdUDP serves UDP with miekg/dns's server even on a specific address;
	// forcePktinfo uses the wildcard-address read loop on a specific address
	// (tests of the paths a wildcard address takes).
	stdUDP, forcePktinfo bool
}

// Server is the DNS server: UDP and TCP on one address. UDP is served by our
// own read loop (server_udp.go), which reads and writes packets in batches
// (recvmmsg/sendmmsg), answers plain questions from precomputed replies
// (answer_wire.go) and the rest in one reused message, scratch space and
// buffer per worker, and so allocates nothing per in-domain query. On a
// wildcard address (0.0.0.0, ::) the loop reads each query's destination
// address (IP_PKTINFO) and replies from it; where that is not supported (not
// Linux) the wildcard address is served by miekg/dns's server, which does the
// same. TCP always uses miekg/dns's server.
type Server struct {
	cfg ServerConfig
	log *slog.Logger
	h   *Handler
	m   *serverMetrics

	ctx    context.Context
	cancel context.CancelFunc

	mu       sync.Mutex
	started  bool
	udpConn  *net.UDPConn
	udpSrv   *dns.Server // wildcard addresses only
	tcpSrv   *dns.Server
	addr     netip.AddrPort
	wg       sync.WaitGroup
	shutdown atomic.Bool
}

// NewServer returns a server answering from tables (an *atomic.Pointer[Table]
// the daemon swaps after every rebuild). Metrics are registered with reg (nil:
// none). log may be nil.
func NewServer(cfg ServerConfig, tables TableSource, log *slog.Logger, reg prometheus.Registerer) (*Server, error) {
	if tables == nil {
		return nil, errors.New("dns server: no table source")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if _, _, err := net.SplitHostPort(cfg.Addr); err != nil {
		return nil, fmt.Errorf("dns server address %q: %w", cfg.Addr, err)
	}
	m, err := newRegisteredMetrics(reg)
	if err != nil {
		return nil, err
	}
	fwd, err := newForwarder(cfg.Forward, log, m)
	if err != nil {
		return nil, fmt.Errorf("dns forwarding: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{cfg: cfg, log: log, m: m, ctx: ctx, cancel: cancel}
	s.h = newHandler(ctx, tables, fwd, HandlerConfig{RecurseOn: cfg.RecurseOn, MaxUDPSize: cfg.MaxUDPSize, NoTruncateBit: cfg.NoTruncateBit, VIPs: cfg.VIPs}, log, m)
	slip := cfg.RateLimitSlip
	if slip == 0 {
		slip = 2
	}
	s.h.rl = newRateLimiter(cfg.RateLimit, cfg.RateLimitBurst, slip)
	return s, nil
}

// Handler returns the server's handler (for mounting it on another miekg/dns
// server).
func (s *Server) Handler() *Handler { return s.h }

// Start binds UDP and TCP and serves them until Shutdown. It returns once both
// sockets accept queries, or the error that prevented it (call Shutdown then to
// release what did start).
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return errors.New("dns server already started")
	}
	udp, tcp, err := listenBoth(s.cfg.Addr)
	if err != nil {
		return err
	}
	s.started = true
	s.udpConn = udp
	s.addr = udp.LocalAddr().(*net.UDPAddr).AddrPort()

	maxConns := s.cfg.MaxTCPConns
	if maxConns <= 0 {
		maxConns = 1000
	}
	idle := s.cfg.TCPIdleTimeout
	if idle <= 0 {
		idle = 8 * time.Second
	}
	perClient := s.cfg.MaxTCPConnsPerClient
	if perClient == 0 {
		perClient = DefaultMaxTCPConnsPerClient
	}
	tcpReady := make(chan struct{})
	s.tcpSrv = &dns.Server{
		Listener: connlimit.Listen(tcp, maxConns, perClient, func(netip.Prefix) { s.m.tcpRefused.Inc() }),
		Net:      "tcp",
		Handler:  s.h,
		// Every pipelined query on a connection is answered (RFC 7766 6.2.1.1):
		// miekg/dns's default closes the connection after 128, resetting it
		// under the queries the client already sent. Queries on one connection
		// are answered one at a time, so a client that sends faster than it
		// reads is held back by TCP flow control, not by our memory.
		MaxTCPQueries:     -1,
		ReadTimeout:       tcpIOTimeout,
		WriteTimeout:      tcpIOTimeout,
		IdleTimeout:       func() time.Duration { return idle },
		NotifyStartedFunc: func() { close(tcpReady) },
	}
	tcpFailed := s.serve(s.tcpSrv, "tcp")

	_ = udp.SetReadBuffer(udpSocketBuffer)
	_ = udp.SetWriteBuffer(udpSocketBuffer)
	pktinfo := false
	if (s.addr.Addr().IsUnspecified() || s.cfg.forcePktinfo) && !s.cfg.stdUDP && pktinfoSupported {
		if err := enablePktinfo(udp); err != nil {
			s.log.Warn("serving udp with miekg/dns's server", "reason", err)
		} else {
			pktinfo = true
		}
	}
	if (s.addr.Addr().IsUnspecified() && !pktinfo) || s.cfg.stdUDP {
		udpReady := make(chan struct{})
		s.udpSrv = &dns.Server{
			PacketConn:        udp,
			Net:               "udp",
			Handler:           s.h,
			UDPSize:           dns.MaxMsgSize,
			NotifyStartedFunc: func() { close(udpReady) },
		}
		if err := waitStarted(udpReady, s.serve(s.udpSrv, "udp")); err != nil {
			return err
		}
	} else {
		workers := s.cfg.UDPWorkers
		if workers <= 0 {
			workers = runtime.GOMAXPROCS(0)
		}
		pc := newBatchConn(udp, s.addr.Addr())
		for range workers {
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				s.serveUDP(udp, pc, pktinfo)
			}()
		}
	}
	if err := waitStarted(tcpReady, tcpFailed); err != nil {
		return err
	}
	s.log.Info("dns server listening", "addr", s.addr.String(), "recurseon", s.cfg.RecurseOn, "externalon", s.cfg.Forward.Enabled)
	return nil
}

// serve runs srv until shutdown; the returned channel gets the error if srv
// stops before that.
func (s *Server) serve(srv *dns.Server, proto string) <-chan error {
	failed := make(chan error, 1)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := srv.ActivateAndServe(); err != nil && !s.isShutdown() {
			s.log.Error("dns server stopped", "proto", proto, "err", err)
			failed <- fmt.Errorf("serving dns over %s: %w", proto, err)
		}
	}()
	return failed
}

// waitStarted waits for a miekg/dns server to start or fail.
func waitStarted(ready <-chan struct{}, failed <-chan error) error {
	select {
	case <-ready:
		return nil
	case err := <-failed:
		return err
	}
}

func (s *Server) isShutdown() bool { return s.shutdown.Load() }

// Addr is the address the server listens on (UDP and TCP), e.g. for tests that
// started it on port 0.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr.String()
}

// Shutdown stops serving, aborts upstream queries in flight and waits for the
// server's goroutines until ctx is done.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if !s.started || s.shutdown.Load() {
		s.mu.Unlock()
		return nil
	}
	s.shutdown.Store(true)
	s.mu.Unlock()

	s.cancel()
	var errs []error
	if err := s.tcpSrv.ShutdownContext(ctx); err != nil {
		errs = append(errs, fmt.Errorf("stopping dns tcp: %w", err))
	}
	if s.udpSrv != nil {
		if err := s.udpSrv.ShutdownContext(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stopping dns udp: %w", err))
		}
	} else if err := s.udpConn.Close(); err != nil {
		errs = append(errs, fmt.Errorf("stopping dns udp: %w", err))
	}
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("waiting for dns server: %w", ctx.Err()))
	}
	return errors.Join(errs...)
}

// DefaultMaxTCPConnsPerClient is a client's TCP connection cap when the
// configuration gives none: room for a caching resolver's parallel lookups,
// far below the total (1000).
const DefaultMaxTCPConnsPerClient = 32

// tcpIOTimeout bounds reading a TCP client's first query and writing an
// answer, so a client that stalls holds its connection only briefly.
const tcpIOTimeout = 2 * time.Second

// udpSocketBuffer is the socket buffer size we ask for: room for bursts while
// the server is descheduled (the kernel caps it at net.core.rmem_max).
const udpSocketBuffer = 4 << 20

// listenBoth binds UDP and TCP on addr. With port 0 it picks a port free for
// both.
func listenBoth(addr string) (*net.UDPConn, net.Listener, error) {
	host, port, _ := net.SplitHostPort(addr)
	for attempt := 0; ; attempt++ {
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			return nil, nil, fmt.Errorf("listening on udp %s: %w", addr, err)
		}
		udp := pc.(*net.UDPConn)
		tcpAddr := net.JoinHostPort(host, fmt.Sprint(udp.LocalAddr().(*net.UDPAddr).Port))
		ln, err := net.Listen("tcp", tcpAddr)
		if err == nil {
			return udp, ln, nil
		}
		_ = udp.Close()
		if port != "0" || attempt >= 20 || !errors.Is(err, syscall.EADDRINUSE) {
			return nil, nil, fmt.Errorf("listening on tcp %s: %w", tcpAddr, err)
		}
	}
}
