package dnsserver

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// The UDP read loop. miekg/dns's server starts a goroutine and allocates a
// message, a response writer and a packing buffer for every packet, and makes
// two system calls per query; at 100k+ queries per second on one core that is
// most of the cost. Here each worker reads up to udpBatch packets with one
// recvmmsg (golang.org/x/net's ReadBatch), answers them in its own queryCtx —
// from precomputed replies where it can (answer_wire.go), else unpacking into
// its own reused dns.Msg and packing into its own buffer — and sends all the
// replies with one sendmmsg (WriteBatch). Only forwarded queries leave the
// loop: they run in their own goroutine, bounded by the forwarder's in-flight
// limit, so a slow upstream never delays in-domain answers.

// maxQuerySize is the largest UDP query we read; anything longer is not a
// query we answer.
const maxQuerySize = 4096

// udpBatch is how many packets one system call reads or writes at most.
const udpBatch = 32

// oobInSize is the room for one query's control messages (IP_PKTINFO or
// IPV6_PKTINFO, 40 bytes at most, with room to spare), oobSize for one
// reply's (replySourceOOB's).
const (
	oobInSize = 128
	oobSize   = 64
)

// batchConn is what the loop needs of x/net's ipv4.PacketConn or
// ipv6.PacketConn (their Message types are one type).
type batchConn interface {
	ReadBatch(ms []ipv4.Message, flags int) (int, error)
	WriteBatch(ms []ipv4.Message, flags int) (int, error)
}

// newBatchConn wraps conn for batched reads and writes: an IPv6 socket
// (including a dual-stack one on "::") needs x/net's ipv6 package.
func newBatchConn(conn *net.UDPConn, local netip.Addr) batchConn {
	if local.Is4() || local.Is4In6() {
		return ipv4.NewPacketConn(conn)
	}
	return ipv6.NewPacketConn(conn)
}

// udpLoop is one worker's buffers: reads, replies and their control messages.
type udpLoop struct {
	rms, wms []ipv4.Message
	out      []byte // udpBatch replies of maxUDP bytes
	oobOut   []byte // udpBatch reply control messages
	maxUDP   int
}

func newUDPLoop(maxUDP int, pktinfo bool) *udpLoop {
	l := &udpLoop{
		rms:    make([]ipv4.Message, udpBatch),
		wms:    make([]ipv4.Message, udpBatch),
		out:    make([]byte, udpBatch*maxUDP),
		maxUDP: maxUDP,
	}
	in := make([]byte, udpBatch*maxQuerySize)
	var oobIn []byte
	if pktinfo {
		oobIn = make([]byte, udpBatch*oobInSize)
		l.oobOut = make([]byte, udpBatch*oobSize)
	}
	for i := range l.rms {
		l.rms[i].Buffers = [][]byte{in[i*maxQuerySize : (i+1)*maxQuerySize]}
		if pktinfo {
			l.rms[i].OOB = oobIn[i*oobInSize : (i+1)*oobInSize]
		}
		l.wms[i].Buffers = [][]byte{nil}
	}
	return l
}

// serveUDP answers queries on conn until it is closed. With pktinfo, conn is
// a wildcard socket reporting each query's destination, and every reply is sent
// from that address.
func (s *Server) serveUDP(conn *net.UDPConn, pc batchConn, pktinfo bool) {
	qc := newQueryCtx()
	l := newUDPLoop(s.h.maxUDP, pktinfo)
	for {
		n, err := pc.ReadBatch(l.rms, 0)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Transient (ICMP errors surfacing as ECONNREFUSED and the like).
			continue
		}
		start := time.Now()
		w := 0
		for i := range n {
			if s.answerUDP(conn, &l.rms[i], l, w, qc, start) {
				w++
			}
		}
		if w == 0 {
			continue
		}
		writeBatch(pc, l.wms[:w])
		d := time.Since(start).Seconds()
		for range w {
			s.m.duration.Observe(d)
		}
	}
}

// answerUDP answers the packet m read and, when there is a reply to send
// now, puts it in slot w of l's replies and reports true.
func (s *Server) answerUDP(conn *net.UDPConn, m *ipv4.Message, l *udpLoop, w int, qc *queryCtx, start time.Time) bool {
	ua, ok := m.Addr.(*net.UDPAddr)
	if !ok {
		return false
	}
	from := ua.AddrPort()
	var src []byte // control message choosing the reply's source address
	if m.OOB != nil {
		src = replySourceOOB(m.OOB[:m.NN], l.oobOut[w*oobSize:(w+1)*oobSize])
	}
	pkt := m.Buffers[0][:m.N]
	var out []byte
	if rl := s.h.rl; rl != nil {
		if v := rl.check(from.Addr(), start); v != rlAllow {
			s.m.rateLimited.Inc()
			if v != rlSlip {
				return false
			}
			out = slipReply(pkt, qc.buf)
		}
	}
	if out == nil {
		var fwd *dns.Msg
		out, fwd = s.handlePacket(pkt, from.Addr(), qc)
		if fwd != nil {
			s.forwardUDP(conn, fwd, from, bytes.Clone(src), start)
			return false
		}
	}
	if out == nil {
		return false
	}
	if len(out) > l.maxUDP { // never for a UDP answer; sent alone if ever
		writeUDP(conn, out, src, from)
		return false
	}
	r := &l.wms[w]
	r.Buffers[0] = l.out[w*l.maxUDP : w*l.maxUDP+copy(l.out[w*l.maxUDP:(w+1)*l.maxUDP], out)]
	r.Addr = m.Addr
	r.OOB = src
	return true
}

// writeBatch sends ms, as many per system call as the kernel takes; a reply
// that cannot be sent (its client's address unreachable) is dropped.
func writeBatch(pc batchConn, ms []ipv4.Message) {
	for len(ms) > 0 {
		n, err := pc.WriteBatch(ms, 0)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
		}
		ms = ms[max(n, 1):]
	}
}

// writeUDP sends b to to, from the source address src selects (nil: the
// socket's own address).
func writeUDP(conn *net.UDPConn, b, src []byte, to netip.AddrPort) {
	if src != nil {
		_, _, _ = conn.WriteMsgUDPAddrPort(b, src, to)
		return
	}
	_, _ = conn.WriteToUDPAddrPort(b, to)
}

// handlePacket answers one UDP query packet. It returns the reply to send (nil:
// send nothing), or, for a name outside the domain that may be forwarded, a
// copy of the query holding an in-flight slot (the caller must forward it).
// It never panics: a panic in answering becomes SERVFAIL.
func (s *Server) handlePacket(pkt []byte, client netip.Addr, qc *queryCtx) (out []byte, fwd *dns.Msg) {
	defer func() {
		if p := recover(); p != nil {
			s.m.panics.Inc()
			s.log.Error("panic answering query", "panic", p)
			out, fwd = headerOnlyReply(pkt, qc.buf, dns.RcodeServerFailure), nil
		}
	}()
	if len(pkt) < 12 || pkt[2]&0x80 != 0 {
		// Too short to answer, or a response: never answer answers.
		s.m.malformed.Inc()
		return nil, nil
	}
	if out := s.h.answerWire(pkt, qc.buf); out != nil {
		return out, nil
	}
	req := &qc.req
	if err := req.Unpack(pkt); err != nil {
		s.m.malformed.Inc()
		s.m.responses[rcodeSlot(dns.RcodeFormatError)].Inc()
		return headerOnlyReply(pkt, qc.buf, dns.RcodeFormatError), nil
	}
	h := s.h
	switch h.answer(req, qc) {
	case actDrop:
		return nil, nil
	case actForward:
		if !h.fwd.allows(client) {
			h.refuseForward(req, qc)
			break
		}
		if len(h.fwd.resolversFor(req.Question[0].Name)) == 0 {
			h.initReply(req, qc)
			qc.resp.Rcode = dns.RcodeRefused
			break
		}
		if !h.fwd.tryAcquire() {
			h.initReply(req, qc)
			qc.resp.Rcode = dns.RcodeServerFailure
			break
		}
		return nil, req.Copy()
	}
	b, err := h.pack(qc, maxResponseSize(req, true, h.maxUDP))
	if err != nil {
		s.log.Warn("packing answer", "err", err)
		return headerOnlyReply(pkt, qc.buf, dns.RcodeServerFailure), nil
	}
	return b, nil
}

// forwardUDP resolves req upstream in its own goroutine (req holds an in-flight
// slot) and sends the reply to the client.
func (s *Server) forwardUDP(conn *net.UDPConn, req *dns.Msg, to netip.AddrPort, src []byte, start time.Time) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer s.h.fwd.release()
		h := s.h
		qc := h.pool.Get().(*queryCtx)
		defer h.pool.Put(qc)
		defer func() {
			if p := recover(); p != nil {
				s.m.panics.Inc()
				s.log.Error("panic forwarding query", "panic", p)
			}
		}()
		h.forward(h.ctx, req, qc, false, true)
		b, err := h.pack(qc, maxResponseSize(req, true, h.maxUDP))
		if err != nil {
			h.initReply(req, qc)
			qc.resp.Rcode = dns.RcodeServerFailure
			if b, err = h.pack(qc, dns.MinMsgSize); err != nil {
				return
			}
		}
		writeUDP(conn, b, src, to)
		s.m.duration.Observe(time.Since(start).Seconds())
	}()
}

// headerOnlyReply answers a packet we cannot parse with just a header carrying
// its ID and opcode and the given rcode, as miekg/dns's server does.
func headerOnlyReply(pkt, buf []byte, rcode int) []byte {
	if len(pkt) < 12 || pkt[2]&0x80 != 0 {
		return nil
	}
	b := buf[:12]
	clear(b)
	b[0], b[1] = pkt[0], pkt[1]
	opcode := pkt[2] & 0x78
	b[2] = 0x80 | opcode // QR, opcode
	if opcode == 0 {
		b[2] |= pkt[2] & 0x01 // RD
	}
	b[3] = byte(rcode & 0xF)
	return b
}

// slipReply is the answer to a rate-limited query on its slip turn: the header
// only, with TC set, so a real client retries over TCP while a flood to a
// spoofed address gets nothing larger than what was sent.
func slipReply(pkt, buf []byte) []byte {
	b := headerOnlyReply(pkt, buf, dns.RcodeSuccess)
	if b != nil {
		b[2] |= 0x02 // TC
	}
	return b
}
