// Command fixedserver is the baseline of the DNS benchmark: a trivial miekg/dns
// server that answers every query with one fixed A record and does no lookup at
// all. bench/dns/run.sh measures the discovery DNS server against it in the same
// run, on the same core, so the ratio says how much our lookup costs over what
// miekg/dns itself costs.
package main

import (
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"syscall"

	"github.com/miekg/dns"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "UDP address to listen on (loopback only)")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("component", "fixedserver")

	ap, err := netip.ParseAddrPort(*addr)
	if err != nil || !ap.Addr().IsLoopback() {
		log.Error("the benchmark listens on loopback only", "addr", *addr)
		os.Exit(2)
	}
	pc, err := net.ListenPacket("udp", *addr)
	if err != nil {
		log.Error("listening", "err", err)
		os.Exit(1)
	}
	ip := net.IPv4(127, 2, 0, 1).To4()
	h := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		m.Authoritative = true
		if len(r.Question) == 1 {
			m.Answer = []dns.RR{&dns.A{
				Hdr: dns.RR_Header{Name: r.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
				A:   ip,
			}}
		}
		_ = w.WriteMsg(m)
	})
	srv := &dns.Server{PacketConn: pc, Handler: h}
	srv.NotifyStartedFunc = func() { fmt.Println(pc.LocalAddr().String()) }
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
		<-sig
		_ = srv.Shutdown()
	}()
	if err := srv.ActivateAndServe(); err != nil {
		log.Error("serving", "err", err)
		os.Exit(1)
	}
}
