package main

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"testing"

	"github.com/miekg/dns"

	"github.com/discovery-mesos/discovery/lbsync/lbmodel"
	"github.com/discovery-mesos/discovery/vips"
)

// TestVIPPublisherAnswersOnlyListeningVIPs: a VIP of the running model is
// answered once a connection to it is accepted, and withdrawn when it
// leaves the model.
func TestVIPPublisherAnswersOnlyListeningVIPs(t *testing.T) {
	// A port that was free a moment ago: nothing listens there yet.
	probe, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ap := netip.MustParseAddrPort(probe.Addr().String())
	probe.Close()
	v := vips.VIP{Name: "/web", DNSName: "web.marathon", Addr: ap.Addr(), Port: ap.Port(), Protocol: "tcp", Mode: "tcp"}
	m := &lbmodel.Model{VIPs: []vips.VIP{v}}
	p := newVIPPublisher("mesos", slog.New(slog.DiscardHandler))
	answered := func() bool {
		ans, _, ok := p.LoadVIPs().Lookup("web.marathon.vip.mesos.", dns.TypeA)
		return ok && len(ans) == 1
	}

	p.update(context.Background(), m)
	if answered() {
		t.Fatal("answered while nothing listens")
	}
	ln, err := net.Listen("tcp", ap.String())
	if err != nil {
		t.Skipf("the port was taken meanwhile: %v", err)
	}
	defer ln.Close()
	p.update(context.Background(), m)
	if !answered() {
		t.Fatal("not answered once the listener accepts")
	}
	if doc := p.view("127.0.0.0/8"); len(doc.VIPs) != 1 || !doc.VIPs[0].Answered || len(doc.VIPs[0].Names) != 2 {
		t.Errorf("view %+v", doc)
	}
	p.update(context.Background(), &lbmodel.Model{})
	if answered() {
		t.Fatal("still answered after the VIP left the running model")
	}
}
