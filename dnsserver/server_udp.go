package dnsserver

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"time"

	"github.com/miekg/dns"
)

// The UDP read loop. miekg/dns's server starts a goroutine and allocates a
// message, a response writer and a packing buffer for every packet; at 100k+
// queries per second on one core that is most of the cost. Here each worker
// reads into its own buffer, unpacks into its own reused dns.Msg, answers in its
// own queryCtx and packs with PackBuffer into its own buffer. Only forwarded
// queries leave the loop: they run in their own goroutine, bounded by the
// forwarder's in-flight limit, so a slow upstream never delays in-domain
// answers.

// maxQuerySize is the largest UDP query we read; anything longer is not a
// query we answer.
const maxQuerySize = 4096

// serveUDP answers queries on conn until it is closed. With pktinfo, conn is
// a wildcard socket reporting each query's destination, and every reply is sent
// from that address.
func (s *Server) serveUDP(conn *net.UDPConn, pktinfo bool) {
	qc := newQueryCtx()
	in := make([]byte, maxQuerySize)
	var oobIn, oobOut []byte
	if pktinfo {
		oobIn, oobOut = make([]byte, 256), make([]byte, 64)
	}
	for {
		var (
			n    int
			from netip.AddrPort
			src  []byte // control message choosing the reply's source address
			err  error
		)
		if pktinfo {
			var oobn int
			n, oobn, _, from, err = conn.ReadMsgUDPAddrPort(in, oobIn)
			if err == nil {
				src = replySourceOOB(oobIn[:oobn], oobOut)
			}
		} else {
			n, from, err = conn.ReadFromUDPAddrPort(in)
		}
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Transient (ICMP errors surfacing as ECONNREFUSED and the like).
			continue
		}
		start := time.Now()
		if rl := s.h.rl; rl != nil {
			if v := rl.check(from.Addr(), start); v != rlAllow {
				s.m.rateLimited.Inc()
				if v == rlSlip {
					if out := slipReply(in[:n], qc.buf); out != nil {
						writeUDP(conn, out, src, from)
					}
				}
				continue
			}
		}
		out, fwd := s.handlePacket(in[:n], from.Addr(), qc)
		if fwd != nil {
			s.forwardUDP(conn, fwd, from, bytes.Clone(src), start)
			continue
		}
		if out != nil {
			writeUDP(conn, out, src, from)
			s.m.duration.Observe(time.Since(start).Seconds())
		}
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
