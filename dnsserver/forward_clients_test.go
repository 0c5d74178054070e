package dnsserver

import (
	"net/netip"
	"testing"
)

func TestForwardFrom(t *testing.T) {
	def, err := ParseClientNetworks(DefaultForwardFrom)
	if err != nil {
		t.Fatal(err)
	}
	one, err := ParseClientNetworks([]string{"192.0.2.7", " 198.51.100.0/24 "})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		from   []netip.Prefix
		client string
		want   bool
	}{
		{"default loopback", def, "127.0.0.1", true},
		{"default ipv6 loopback", def, "::1", true},
		{"default rfc1918", def, "10.1.2.3", true},
		{"default rfc1918 172.16/12", def, "172.31.255.1", true},
		{"default just outside 172.16/12", def, "172.32.0.1", false},
		{"default rfc1918 192.168", def, "192.168.7.7", true},
		{"default shared space", def, "100.64.1.1", true},
		{"default v4-mapped private", def, "::ffff:10.0.0.1", true},
		{"default ula", def, "fd12::1", true},
		{"default link-local v6", def, "fe80::1", true},
		{"default public v4", def, "8.8.8.8", false},
		{"default public v6", def, "2001:db8::1", false},
		{"address", one, "192.0.2.7", true},
		{"next address", one, "192.0.2.8", false},
		{"network", one, "198.51.100.200", true},
		{"nil lets everyone", nil, "203.0.113.1", true},
		{"empty lets no one", []netip.Prefix{}, "127.0.0.1", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &Forwarder{from: tc.from}
			if got := f.allows(netip.MustParseAddr(tc.client)); got != tc.want {
				t.Errorf("allows(%s) = %v, want %v", tc.client, got, tc.want)
			}
		})
	}
	if _, err := ParseClientNetworks([]string{"10.0.0.0/33"}); err == nil {
		t.Error("10.0.0.0/33 accepted")
	}
	if _, err := ParseClientNetworks([]string{"example.com"}); err == nil {
		t.Error("a name accepted as a network")
	}
}
