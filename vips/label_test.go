package vips

import (
	"net/netip"
	"testing"
)

func TestParseLabel(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    Target
		wantErr bool
	}{
		{in: "/app:80", want: Target{Name: "/app", Port: 80}},
		{in: "app:8080", want: Target{Name: "app", Port: 8080}},
		{in: "/group/my_app:5000", want: Target{Name: "/group/my_app", Port: 5000}},
		{in: "10.1.2.3:5000", want: Target{Addr: netip.MustParseAddr("10.1.2.3"), Port: 5000}},
		{in: "[fd00::1]:80", want: Target{Addr: netip.MustParseAddr("fd00::1"), Port: 80}},
		{in: "fd00::1:80", want: Target{Addr: netip.MustParseAddr("fd00::1"), Port: 80}},
		{in: "app", wantErr: true},
		{in: "app:0", wantErr: true},
		{in: "app:65536", wantErr: true},
		{in: "app:+80", wantErr: true},
		{in: "app:http", wantErr: true},
		{in: "/:80", wantErr: true},
		{in: "0.0.0.0:80", wantErr: true},
		{in: "224.0.0.1:80", wantErr: true},
		{in: "[fd00::1:80", wantErr: true},
		{in: "x\n  bind 0.0.0.0:22\n:80", wantErr: true},
		{in: "caf\u00e9:80", wantErr: true},
	} {
		got, err := ParseLabel(tc.in)
		if (err != nil) != tc.wantErr {
			t.Errorf("ParseLabel(%q) error = %v, want error %v", tc.in, err, tc.wantErr)
			continue
		}
		if err == nil && got != tc.want {
			t.Errorf("ParseLabel(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

func TestIsLabelKey(t *testing.T) {
	for k, want := range map[string]bool{"VIP_0": true, "VIP_12": true, "VIP_": false, "VIP_a": false, "vip_0": false, "HAPROXY_0_VIP": false} {
		if got := IsLabelKey(k); got != want {
			t.Errorf("IsLabelKey(%q) = %v, want %v", k, got, want)
		}
	}
}

func TestDNSName(t *testing.T) {
	for _, tc := range []struct{ name, fw, want string }{
		{"/app", "marathon", "app.marathon"},
		{"/group/app", "marathon", "groupapp.marathon"},
		{"/My_Group/My-App", "marathon", "my-groupmy-app.marathon"},
		{"app.v1", "marathon", "app.v1.marathon"},
		{"-app-", "marathon", "app.marathon"},
		{"a%b$c", "Marathon_User", "abc.marathon-user"},
		{"/app", "", "app"},
		{"x123456789012345678901234567890123456789012345678901234567890123456789", "m", "x12345678901234567890123456789012345678901234567890123456789012.m"},
	} {
		if got := DNSName(tc.name, tc.fw); got != tc.want {
			t.Errorf("DNSName(%q, %q) = %q, want %q", tc.name, tc.fw, got, tc.want)
		}
	}
}
