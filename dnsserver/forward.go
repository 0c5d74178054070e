package dnsserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// ForwardConfig is how names outside the Mesos domain are resolved, with
// mesos-dns's keys and meaning.
type ForwardConfig struct {
	// Enabled is mesos-dns's "externalon": when false, every name outside the
	// domain is answered REFUSED and nothing is ever sent upstream.
	Enabled bool
	// Resolvers are the upstream servers ("resolvers"), "ip" or "ip:port" (port 53
	// by default), tried in order until one answers.
	Resolvers []string
	// ZoneResolvers maps a zone to the resolvers for names at or below it
	// ("zoneResolvers"); the longest matching zone wins, Resolvers serve the rest.
	ZoneResolvers map[string][]string
	// Timeout bounds one exchange with one upstream ("timeout", mesos-dns's
	// default 5 s when zero).
	Timeout time.Duration
	// MaxInFlight bounds the upstream queries in flight at once. A query that
	// would exceed it is answered SERVFAIL at once, so a slow or dead upstream
	// costs a bounded number of goroutines and sockets and never slows the
	// answers for the domain. Zero means DefaultMaxInFlight.
	MaxInFlight int
	// From are the client networks whose queries may be forwarded; others
	// are answered REFUSED. Nil lets every client (mesos-dns); empty lets none.
	From []netip.Prefix
}

// DefaultMaxInFlight is the default bound on concurrent upstream queries.
const DefaultMaxInFlight = 1000

// defaultForwardTimeout is mesos-dns's default "timeout".
const defaultForwardTimeout = 5 * time.Second

// upstreamUDPSize is the EDNS buffer size we advertise upstream (the DNS flag
// day 2020 value: no IP fragmentation on common paths). Larger answers come back
// truncated and are fetched again over TCP.
const upstreamUDPSize = 1232

// Errors the forwarder reports; the handler turns them into response codes.
var (
	// ErrForwardRefused means the name may not be forwarded: forwarding is off
	// ("externalon": false) or no resolver serves it. Answered REFUSED, as
	// mesos-dns does.
	ErrForwardRefused = errors.New("forwarding refused: no resolver for this name")
	// ErrForwardBusy means MaxInFlight upstream queries are already in flight.
	// Answered SERVFAIL.
	ErrForwardBusy = errors.New("forwarding refused: too many upstream queries in flight")
)

// Forwarder sends queries for names outside the domain to upstream resolvers.
// It is safe for concurrent use.
type Forwarder struct {
	log     *slog.Logger
	enabled bool
	timeout time.Duration
	// all is the default resolvers; zones the per-zone ones, longest zone first.
	all   []string
	zones []forwardZone
	sem   chan struct{}
	from  []netip.Prefix // nil: every client
	udp   *dns.Client
	tcp   *dns.Client
	m     *serverMetrics
}

type forwardZone struct {
	zone  string // lowercase FQDN
	addrs []string
}

// NewForwarder checks cfg and returns a forwarder for it. log may be nil.
func NewForwarder(cfg ForwardConfig, log *slog.Logger) (*Forwarder, error) {
	return newForwarder(cfg, log, nil)
}

func newForwarder(cfg ForwardConfig, log *slog.Logger, m *serverMetrics) (*Forwarder, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if m == nil {
		m = newServerMetrics()
	}
	f := &Forwarder{
		log:     log,
		enabled: cfg.Enabled,
		timeout: cfg.Timeout,
		from:    cfg.From,
		m:       m,
	}
	if f.timeout <= 0 {
		f.timeout = defaultForwardTimeout
	}
	n := cfg.MaxInFlight
	if n <= 0 {
		n = DefaultMaxInFlight
	}
	f.sem = make(chan struct{}, n)
	var err error
	if f.all, err = normalizeResolvers(cfg.Resolvers); err != nil {
		return nil, fmt.Errorf("resolvers: %w", err)
	}
	for zone, rs := range cfg.ZoneResolvers {
		z := strings.ToLower(dns.Fqdn(strings.TrimSpace(zone)))
		if _, ok := dns.IsDomainName(z); !ok || z == "." {
			return nil, fmt.Errorf("zoneResolvers: invalid zone %q", zone)
		}
		addrs, err := normalizeResolvers(rs)
		if err != nil {
			return nil, fmt.Errorf("zoneResolvers %q: %w", zone, err)
		}
		f.zones = append(f.zones, forwardZone{zone: z, addrs: addrs})
	}
	// Longest zone first, so the first match is the most specific one.
	sort.Slice(f.zones, func(i, j int) bool {
		if len(f.zones[i].zone) != len(f.zones[j].zone) {
			return len(f.zones[i].zone) > len(f.zones[j].zone)
		}
		return f.zones[i].zone < f.zones[j].zone
	})
	f.udp = &dns.Client{Net: "udp", Timeout: f.timeout, UDPSize: dns.MaxMsgSize}
	f.tcp = &dns.Client{Net: "tcp", Timeout: f.timeout}
	return f, nil
}

// normalizeResolvers turns "ip" and "ip:port" into "ip:port" (port 53 by
// default), as mesos-dns does. Only IP literals are accepted: resolving a
// resolver's name would need a resolver.
func normalizeResolvers(in []string) ([]string, error) {
	out := make([]string, 0, len(in))
	for _, s := range in {
		s = strings.TrimSpace(s)
		host, port, err := net.SplitHostPort(s)
		if err != nil {
			host, port = strings.Trim(s, "[]"), "53"
		}
		if net.ParseIP(host) == nil {
			return nil, fmt.Errorf("%q is not an IP address or IP:port", s)
		}
		out = append(out, net.JoinHostPort(host, port))
	}
	return out, nil
}

// resolversFor returns the upstreams for qname: the longest matching zone's, or
// the default ones.
func (f *Forwarder) resolversFor(qname string) []string {
	if !f.enabled {
		return nil
	}
	for i := range f.zones {
		if nameInZoneFold(qname, f.zones[i].zone) {
			return f.zones[i].addrs
		}
	}
	return f.all
}

// nameInZoneFold reports whether qname (any case, final dot optional) is zone
// (lowercase FQDN) or below it.
func nameInZoneFold(qname, zone string) bool {
	qname = strings.TrimSuffix(qname, ".")
	z := strings.TrimSuffix(zone, ".")
	if z == "" {
		return true
	}
	if len(qname) < len(z) || !strings.EqualFold(qname[len(qname)-len(z):], z) {
		return false
	}
	return len(qname) == len(z) || qname[len(qname)-len(z)-1] == '.'
}

// tryAcquire takes an in-flight slot without waiting.
func (f *Forwarder) tryAcquire() bool {
	select {
	case f.sem <- struct{}{}:
		f.m.forwardInFlight.Inc()
		return true
	default:
		f.m.forwardBusy.Inc()
		return false
	}
}

func (f *Forwarder) release() {
	<-f.sem
	f.m.forwardInFlight.Dec()
}

// Forward resolves req upstream and returns the upstream's reply with req's ID.
// clientTCP says the client asked over TCP: the upstream is then asked over TCP
// too; otherwise over UDP, again over TCP when the UDP answer is truncated.
// The reply is not yet sized for the client (the server truncates it).
//
// Errors: ErrForwardRefused (answer REFUSED), ErrForwardBusy, or the failure of
// the last upstream tried (answer SERVFAIL).
func (f *Forwarder) Forward(ctx context.Context, req *dns.Msg, clientTCP bool) (*dns.Msg, error) {
	if len(req.Question) != 1 || len(f.resolversFor(req.Question[0].Name)) == 0 {
		return nil, ErrForwardRefused
	}
	if !f.tryAcquire() {
		return nil, ErrForwardBusy
	}
	defer f.release()
	return f.forwardAcquired(ctx, req, clientTCP)
}

// forwardAcquired is Forward for a caller that already holds an in-flight slot.
func (f *Forwarder) forwardAcquired(ctx context.Context, req *dns.Msg, clientTCP bool) (*dns.Msg, error) {
	if len(req.Question) != 1 {
		return nil, ErrForwardRefused
	}
	addrs := f.resolversFor(req.Question[0].Name)
	if len(addrs) == 0 {
		return nil, ErrForwardRefused
	}
	f.m.forwarded.Inc()
	q := upstreamQuery(req)
	var last *dns.Msg
	var errs []error
	for _, addr := range addrs {
		r, err := f.exchange(ctx, q, addr, clientTCP)
		if err != nil {
			f.m.upstreamErrors.Inc()
			f.log.Debug("upstream failed", "upstream", addr, "qname", req.Question[0].Name, "err", err)
			errs = append(errs, fmt.Errorf("%s: %w", addr, err))
			if ctx.Err() != nil {
				break
			}
			continue
		}
		last = r
		// A server failure or refusal may be that server's alone: ask the next.
		if r.Rcode == dns.RcodeServerFailure || r.Rcode == dns.RcodeRefused || r.Rcode == dns.RcodeNotImplemented {
			continue
		}
		break
	}
	if last == nil {
		return nil, fmt.Errorf("forwarding %s: %w", req.Question[0].Name, errors.Join(errs...))
	}
	return clientReply(req, last), nil
}

// upstreamQuery copies req with a fresh ID and an EDNS buffer we can take.
func upstreamQuery(req *dns.Msg) *dns.Msg {
	q := new(dns.Msg)
	q.MsgHdr = req.MsgHdr
	q.Id = dns.Id()
	q.Response = false
	q.Authoritative = false
	q.Truncated = false
	q.RecursionAvailable = false
	q.Rcode = dns.RcodeSuccess
	q.Question = []dns.Question{req.Question[0]}
	if opt := req.IsEdns0(); opt != nil {
		o := *opt
		o.Hdr.Name = "."
		o.Option = append([]dns.EDNS0(nil), opt.Option...)
		if o.UDPSize() < upstreamUDPSize {
			o.SetUDPSize(upstreamUDPSize)
		}
		o.SetVersion(0)
		o.SetExtendedRcode(0)
		q.Extra = []dns.RR{&o}
	} else {
		q.SetEdns0(upstreamUDPSize, false)
	}
	return q
}

// clientReply turns the upstream reply r into the reply to req.
func clientReply(req, r *dns.Msg) *dns.Msg {
	r.Id = req.Id
	r.Question = []dns.Question{req.Question[0]}
	if req.IsEdns0() == nil {
		// The client spoke no EDNS: it must not get an OPT record back.
		extra := r.Extra[:0]
		for _, rr := range r.Extra {
			if rr.Header().Rrtype != dns.TypeOPT {
				extra = append(extra, rr)
			}
		}
		r.Extra = extra
		if r.Rcode > 0xF {
			r.Rcode = dns.RcodeServerFailure
		}
	}
	return r
}

// exchange asks one upstream: over TCP for TCP clients, else over UDP and again
// over TCP when the UDP answer is truncated.
func (f *Forwarder) exchange(ctx context.Context, q *dns.Msg, addr string, tcp bool) (*dns.Msg, error) {
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	if !tcp {
		r, err := exchangeOnce(ctx, f.udp, q, addr)
		switch {
		case err == nil && !r.Truncated:
			return checkUpstreamReply(q, r)
		case r != nil && r.Truncated:
			// Truncated (possibly cut mid-record): fetch the whole answer over TCP.
			f.m.upstreamTCPRetries.Inc()
		default:
			return nil, fmt.Errorf("udp: %w", err)
		}
	}
	r, err := exchangeOnce(ctx, f.tcp, q, addr)
	if err != nil {
		return nil, fmt.Errorf("tcp: %w", err)
	}
	return checkUpstreamReply(q, r)
}

// exchangeOnce sends q to addr and reads the reply. Unlike dns.Client's
// ExchangeContext, cancelling ctx (server shutdown) ends a read in progress.
func exchangeOnce(ctx context.Context, c *dns.Client, q *dns.Msg, addr string) (*dns.Msg, error) {
	conn, err := c.DialContext(ctx, addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	r, _, err := c.ExchangeWithConnContext(ctx, q, conn)
	return r, err
}

// checkUpstreamReply rejects replies that do not answer q.
func checkUpstreamReply(q, r *dns.Msg) (*dns.Msg, error) {
	if !r.Response {
		return nil, errors.New("upstream sent a query, not a response")
	}
	if len(r.Question) != 1 || !strings.EqualFold(r.Question[0].Name, q.Question[0].Name) ||
		r.Question[0].Qtype != q.Question[0].Qtype || r.Question[0].Qclass != q.Question[0].Qclass {
		return nil, errors.New("upstream answered another question")
	}
	return r, nil
}
