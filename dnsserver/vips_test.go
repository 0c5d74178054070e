package dnsserver

import (
	"net/netip"
	"sync/atomic"
	"testing"

	"github.com/miekg/dns"

	"github.com/discovery-mesos/discovery/vips"
)

type vipPointer struct{ atomic.Pointer[VIPTable] }

func (p *vipPointer) LoadVIPs() *VIPTable { return p.Load() }

// TestServerAnswersVIPNames: the names of the VIPs given are answered (A,
// SRV with the port and glue, NODATA for AAAA), over UDP and TCP, in DC/OS's
// zone and ours, in any case; a name withdrawn from the table is no longer
// answered.
func TestServerAnswersVIPNames(t *testing.T) {
	var p vipPointer
	vs := []vips.VIP{
		{Name: "/group/web", DNSName: "groupweb.marathon", Addr: netip.MustParseAddr("127.200.0.7"), Port: 80, Protocol: "tcp"},
		{Name: "/group/web", DNSName: "groupweb.marathon", Addr: netip.MustParseAddr("127.200.0.7"), Port: 443, Protocol: "tcp"},
		{Addr: netip.MustParseAddr("10.1.2.3"), Port: 5000, Protocol: "tcp"}, // no name
	}
	p.Store(NewVIPTable(vs, "mesos"))
	s := hsStart(t, ServerConfig{VIPs: &p}, hsTables(t, hsCluster(), hsConfig()), nil)
	for _, proto := range []string{"udp", "tcp"} {
		for _, name := range []string{"groupweb.marathon.l4lb.thisdcos.directory.", "GroupWeb.Marathon.VIP.mesos."} {
			r := hsExchange(t, proto, s.Addr(), name, dns.TypeA, 0)
			if r.Rcode != dns.RcodeSuccess || !r.Authoritative || len(r.Answer) != 1 {
				t.Fatalf("%s A %s: %v", proto, name, r)
			}
			if a := r.Answer[0].(*dns.A); a.A.String() != "127.200.0.7" || a.Hdr.Ttl != VIPTTL {
				t.Errorf("%s A %s: %v", proto, name, a)
			}
			r = hsExchange(t, proto, s.Addr(), name, dns.TypeSRV, 0)
			if len(r.Answer) != 2 || r.Answer[0].(*dns.SRV).Port != 80 || r.Answer[1].(*dns.SRV).Port != 443 || len(r.Extra) != 1 {
				t.Errorf("%s SRV %s: %v", proto, name, r)
			}
			r = hsExchange(t, proto, s.Addr(), name, dns.TypeAAAA, 0)
			if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 0 {
				t.Errorf("%s AAAA %s: %v, want NODATA", proto, name, r)
			}
		}
	}
	// Withdrawn: the name under the domain is the record table's again
	// (NXDOMAIN).
	p.Store(NewVIPTable(nil, "mesos"))
	if r := hsExchange(t, "udp", s.Addr(), "groupweb.marathon.vip.mesos.", dns.TypeA, 0); r.Rcode != dns.RcodeNameError {
		t.Errorf("withdrawn VIP: %v", r)
	}
	// The mesos-dns names are unaffected.
	if r := hsExchange(t, "udp", s.Addr(), "web.marathon.mesos.", dns.TypeA, 0); len(r.Answer) != 3 {
		t.Errorf("web.marathon.mesos: %v", r)
	}
}

// TestVIPTableIPv6: a VIP in an IPv6 range is an AAAA record; A is NODATA.
func TestVIPTableIPv6(t *testing.T) {
	tb := NewVIPTable([]vips.VIP{{Name: "/db", DNSName: "db.marathon", Addr: netip.MustParseAddr("fd00:5::9"), Port: 5432, Protocol: "tcp"}}, "mesos.")
	ans, _, ok := tb.Lookup("db.marathon.l4lb.thisdcos.directory.", dns.TypeAAAA)
	if !ok || len(ans) != 1 || ans[0].(*dns.AAAA).AAAA.String() != "fd00:5::9" {
		t.Fatalf("AAAA: %v %v", ans, ok)
	}
	if ans, _, ok := tb.Lookup("DB.marathon.vip.mesos", dns.TypeA); !ok || len(ans) != 0 {
		t.Fatalf("A of an IPv6 VIP: %v %v, want NODATA", ans, ok)
	}
	if _, _, ok := tb.Lookup("other.marathon.vip.mesos.", dns.TypeA); ok {
		t.Fatal("an unknown name was found")
	}
}
