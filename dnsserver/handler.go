package dnsserver

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// TableSource gives the record table to answer from. The Updater implements
// it (so does *atomic.Pointer[Table]): it swaps in a new table after every
// rebuild and queries in flight keep the table they loaded, so no query ever
// waits for a rebuild.
type TableSource interface {
	Load() *Table
}

// Handler answers DNS queries: names in the domain from the current table, all
// others through the forwarder. It implements dns.Handler for miekg/dns servers;
// the server's own UDP loop calls its allocation-free core directly.
type Handler struct {
	tables TableSource
	fwd    *Forwarder
	// recurse is mesos-dns's "recurseon": the RA flag of our answers.
	recurse bool
	// maxUDP caps the UDP answer size whatever the client advertises.
	maxUDP int
	// noTC clears the TC bit of every answer (mesos-dns "SetTruncateBit": false).
	noTC bool
	// vips answers the names of the VIPs whose listeners run; nil: none.
	vips VIPSource
	// rl is the UDP response rate limit, nil when off.
	rl  *rateLimiter
	m   *serverMetrics
	log *slog.Logger
	ctx context.Context // cancelled on shutdown: ends upstream exchanges

	pool sync.Pool // *queryCtx for ServeDNS

	// wire holds the precomputed UDP replies of the current table
	// (answer_wire.go); wireMetrics counts what building them asks, apart
	// from the server's own metrics.
	wire        atomic.Pointer[wireCache]
	wireMetrics *serverMetrics
}

// HandlerConfig is what the handler needs besides the table and the forwarder.
type HandlerConfig struct {
	// RecurseOn sets the RA flag on our answers (mesos-dns "recurseon").
	RecurseOn bool
	// MaxUDPSize caps UDP answers whatever buffer size the client advertises
	// (0: DefaultMaxUDPSize). Clients without EDNS always get at most 512 bytes.
	MaxUDPSize int
	// NoTruncateBit leaves TC clear on answers cut to fit (mesos-dns
	// "SetTruncateBit": false, for clients that cannot retry over TCP).
	NoTruncateBit bool
	// VIPs gives the VIP names to answer (vips.go); nil: none.
	VIPs VIPSource
}

// DefaultMaxUDPSize is the largest UDP answer we send by default: the DNS flag
// day 2020 size, which avoids IP fragmentation. Larger answers are truncated
// (TC set) and the client asks again over TCP.
const DefaultMaxUDPSize = 1232

// ednsUDPSize is the buffer size we advertise in our OPT records.
const ednsUDPSize = 1232

// NewHandler returns a handler reading tables from tables and forwarding through
// fwd (nil: every outside name is refused). log may be nil.
func NewHandler(tables TableSource, fwd *Forwarder, cfg HandlerConfig, log *slog.Logger) *Handler {
	return newHandler(context.Background(), tables, fwd, cfg, log, nil)
}

func newHandler(ctx context.Context, tables TableSource, fwd *Forwarder, cfg HandlerConfig, log *slog.Logger, m *serverMetrics) *Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if m == nil {
		m = newServerMetrics()
	}
	if fwd == nil {
		fwd, _ = newForwarder(ForwardConfig{}, log, m)
	}
	h := &Handler{tables: tables, fwd: fwd, recurse: cfg.RecurseOn, maxUDP: cfg.MaxUDPSize, noTC: cfg.NoTruncateBit, vips: cfg.VIPs, m: m, log: log, ctx: ctx}
	if h.maxUDP <= 0 {
		h.maxUDP = DefaultMaxUDPSize
	}
	if h.maxUDP < dns.MinMsgSize {
		h.maxUDP = dns.MinMsgSize
	}
	if h.maxUDP > dns.MaxMsgSize {
		h.maxUDP = dns.MaxMsgSize
	}
	h.pool.New = func() any { return newQueryCtx() }
	h.wireMetrics = newServerMetrics()
	return h
}

// queryCtx is the reusable state of one query: the reply message, the table's
// scratch space, our OPT record and the packing buffer. One goroutine uses one
// at a time; after warm-up answering a query allocates nothing in it.
type queryCtx struct {
	req     dns.Msg
	resp    dns.Msg
	scratch Scratch
	q       [1]dns.Question
	ns      [1]dns.RR
	extra   []dns.RR
	opt     dns.OPT
	soa     dns.SOA // the apex SOA in the question's case
	nsRR    dns.NS  // the apex NS in the question's case
	buf     []byte
	// vipAns and vipExtra hold this query's copy of a VIP table's records.
	vipAns, vipExtra []dns.RR
}

func newQueryCtx() *queryCtx {
	qc := &queryCtx{buf: make([]byte, 0, dns.MaxMsgSize)}
	qc.opt.Hdr = dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}
	return qc
}

// action is what the transport must do after the handler looked at a query.
type action uint8

const (
	actReply   action = iota // qc.resp holds the reply
	actForward               // the name is outside the domain: forward req
	actDrop                  // send nothing (the packet was a response)
)

// answer looks req up and fills qc.resp with the reply for names in the domain
// and for every error the handler decides itself. It allocates nothing.
func (h *Handler) answer(req *dns.Msg, qc *queryCtx) action {
	if req.Response {
		// Never answer answers: that is how reflection loops start.
		return actDrop
	}
	resp := &qc.resp
	h.initReply(req, qc)
	if len(req.Question) > 0 {
		h.m.queries[qtypeSlot(req.Question[0].Qtype)].Inc()
	} else {
		h.m.queries[qtypeSlots-1].Inc()
	}
	if req.Opcode != dns.OpcodeQuery {
		resp.Rcode = dns.RcodeNotImplemented
		return actReply
	}
	if len(req.Question) != 1 {
		resp.Rcode = dns.RcodeFormatError
		return actReply
	}
	if opt := req.IsEdns0(); opt != nil && opt.Version() != 0 {
		// RFC 6891 6.1.3: we only speak EDNS version 0.
		resp.Rcode = dns.RcodeBadVers
		return actReply
	}
	q := &req.Question[0]
	if h.vips != nil {
		if ans, extra, ok := h.vips.LoadVIPs().lookup(q.Name, q.Qtype); ok {
			answerVIP(qc, q, ans, extra)
			return actReply
		}
	}
	t := h.tables.Load()
	if t == nil {
		// No table yet (startup before the first snapshot): a transient failure.
		resp.Rcode = dns.RcodeServerFailure
		return actReply
	}
	res := t.Lookup(q.Name, q.Qtype, &qc.scratch)
	if !res.InZone {
		return actForward
	}
	resp.Authoritative = true
	switch {
	case q.Qclass != dns.ClassINET && q.Qclass != dns.ClassANY:
		resp.Authoritative = false
		resp.Rcode = dns.RcodeRefused
		return actReply
	case q.Qtype == dns.TypeAXFR || q.Qtype == dns.TypeIXFR:
		// Zone transfers are served by the HTTP API (/v1/axfr), not over DNS.
		resp.Rcode = dns.RcodeRefused
		return actReply
	}
	resp.Rcode = res.Rcode
	if len(res.Answer) == 1 {
		keepApexCase(res.Answer, q.Name, qc)
	}
	resp.Answer = res.Answer
	if len(res.Answer) == 0 {
		// NXDOMAIN or NODATA: the SOA tells resolvers how long to cache that.
		qc.ns[0] = t.SOA()
		resp.Ns = qc.ns[:]
	}
	if len(res.Extra) > 0 {
		// Glue for SRV targets; the OPT record (if any) is already first.
		resp.Extra = append(resp.Extra, res.Extra...)
		qc.extra = resp.Extra
	}
	return actReply
}

// keepApexCase gives the shared apex SOA or NS record (owned by the lowercase
// apex) the question's spelling, in qc's own copy.
func keepApexCase(ans []dns.RR, qname string, qc *queryCtx) {
	switch rr := ans[0].(type) {
	case *dns.SOA:
		if rr.Hdr.Name != qname {
			qc.soa = *rr
			qc.soa.Hdr.Name = qname
			ans[0] = &qc.soa
		}
	case *dns.NS:
		if rr.Hdr.Name != qname {
			qc.nsRR = *rr
			qc.nsRR.Hdr.Name = qname
			ans[0] = &qc.nsRR
		}
	}
}

// initReply resets qc.resp to an empty reply to req, reusing its slices.
func (h *Handler) initReply(req *dns.Msg, qc *queryCtx) {
	resp := &qc.resp
	resp.MsgHdr = dns.MsgHdr{
		Id:                 req.Id,
		Response:           true,
		Opcode:             req.Opcode,
		RecursionAvailable: h.recurse,
	}
	if req.Opcode == dns.OpcodeQuery {
		resp.RecursionDesired = req.RecursionDesired
		resp.CheckingDisabled = req.CheckingDisabled
	}
	resp.Compress = false
	resp.Question = nil
	if len(req.Question) > 0 {
		qc.q[0] = req.Question[0]
		resp.Question = qc.q[:]
	}
	resp.Answer = nil
	resp.Ns = nil
	resp.Extra = qc.extra[:0]
	if opt := req.IsEdns0(); opt != nil {
		// RFC 6891: answer EDNS with EDNS; RFC 3225: copy the DO bit.
		qc.opt.Hdr = dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}
		qc.opt.Option = nil
		qc.opt.SetUDPSize(ednsUDPSize)
		if opt.Do() {
			qc.opt.SetDo()
		}
		resp.Extra = append(resp.Extra, &qc.opt)
	}
	qc.extra = resp.Extra
}

// forward resolves req upstream (the caller holds an in-flight slot when
// acquired is true) and fills qc.resp with the reply or with the error answer.
func (h *Handler) forward(ctx context.Context, req *dns.Msg, qc *queryCtx, overTCP, acquired bool) {
	var r *dns.Msg
	var err error
	if acquired {
		r, err = h.fwd.forwardAcquired(ctx, req, overTCP)
	} else {
		r, err = h.fwd.Forward(ctx, req, overTCP)
	}
	if err == nil {
		qc.resp = *r
		return
	}
	h.initReply(req, qc)
	switch {
	case errors.Is(err, ErrForwardRefused):
		qc.resp.Rcode = dns.RcodeRefused
	default:
		if !errors.Is(err, ErrForwardBusy) {
			h.log.Debug("forwarding failed", "qname", req.Question[0].Name, "err", err)
		}
		qc.resp.Rcode = dns.RcodeServerFailure
	}
}

// refuseForward answers REFUSED to a client whose queries may not be
// forwarded (not in ForwardConfig.From): the same answer as with forwarding
// off, no larger than the query, so it amplifies nothing.
func (h *Handler) refuseForward(req *dns.Msg, qc *queryCtx) {
	h.m.forwardDenied.Inc()
	h.initReply(req, qc)
	qc.resp.Rcode = dns.RcodeRefused
}

// pack sizes qc.resp for the transport and packs it into qc.buf.
// maxSize is the largest answer the client takes (see maxResponseSize).
//
// The common cases cost one pass: an answer without glue is packed
// uncompressed (no compression map to build) and used if it fits; otherwise it
// is packed compressed and used if it fits. Only answers that do not fit even
// compressed go through fitResponse.
func (h *Handler) pack(qc *queryCtx, maxSize int) ([]byte, error) {
	m := &qc.resp
	buf := qc.buf[:cap(qc.buf)]
	h.m.responses[rcodeSlot(m.Rcode)].Inc()
	if h.noTC {
		m.Truncated = false // an upstream's TC too, as mesos-dns's reply did
	}
	if !hasGlue(m) {
		// A/AAAA and negative answers: names mostly appear once or twice and
		// packing without a compression map is cheapest.
		m.Compress = false
		if b, err := m.PackBuffer(buf); err == nil && len(b) <= maxSize {
			return b, nil
		}
	}
	m.Compress = true
	if b, err := m.PackBuffer(buf); err == nil && len(b) <= maxSize {
		return b, nil
	}
	if fitResponse(m, maxSize) {
		h.m.truncated.Inc()
		if h.noTC {
			m.Truncated = false
		}
	}
	return m.PackBuffer(buf)
}

// hasGlue reports whether m carries additional records besides the OPT.
func hasGlue(m *dns.Msg) bool {
	for _, rr := range m.Extra {
		if rr.Header().Rrtype != dns.TypeOPT {
			return true
		}
	}
	return false
}

// ServeDNS implements dns.Handler: the path for TCP, and for UDP when the
// server's own loop is not in use.
func (h *Handler) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	start := time.Now()
	qc := h.pool.Get().(*queryCtx)
	defer h.pool.Put(qc)
	udp := isUDPAddr(w.RemoteAddr())
	if udp && h.rl != nil {
		if ua, ok := w.RemoteAddr().(*net.UDPAddr); ok {
			switch h.rl.check(ua.AddrPort().Addr(), start) {
			case rlDrop:
				h.m.rateLimited.Inc()
				return
			case rlSlip:
				h.m.rateLimited.Inc()
				if p, err := req.Pack(); err == nil {
					_, _ = w.Write(slipReply(p, qc.buf))
				}
				return
			}
		}
	}
	defer func() {
		if p := recover(); p != nil {
			h.m.panics.Inc()
			h.log.Error("panic answering query", "panic", p)
			h.writeServFail(w, req, qc, udp)
		}
	}()
	switch h.answer(req, qc) {
	case actDrop:
		return
	case actForward:
		if h.fwd.allows(clientAddr(w.RemoteAddr())) {
			h.forward(h.ctx, req, qc, !udp, false)
		} else {
			h.refuseForward(req, qc)
		}
	}
	b, err := h.pack(qc, maxResponseSize(req, udp, h.maxUDP))
	if err != nil {
		h.log.Warn("packing answer", "err", err)
		h.writeServFail(w, req, qc, udp)
		return
	}
	_, _ = w.Write(b)
	h.m.duration.Observe(time.Since(start).Seconds())
}

// writeServFail answers SERVFAIL after an internal failure.
func (h *Handler) writeServFail(w dns.ResponseWriter, req *dns.Msg, qc *queryCtx, udp bool) {
	h.initReply(req, qc)
	qc.resp.Rcode = dns.RcodeServerFailure
	if b, err := h.pack(qc, maxResponseSize(req, udp, h.maxUDP)); err == nil {
		_, _ = w.Write(b)
	}
}
