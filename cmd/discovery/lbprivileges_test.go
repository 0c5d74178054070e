package main

import "testing"

func TestResolveHAProxyUser(t *testing.T) {
	exists := func(string, string) bool { return true }
	missing := func(string, string) bool { return false }
	for _, tc := range []struct {
		v           string
		euid        int
		lookup      func(string, string) bool
		user, group string
		wantErr     bool
	}{
		{v: "auto", euid: 0, lookup: exists, user: "haproxy", group: "haproxy"},
		{v: "auto", euid: 0, lookup: missing},
		{v: "auto", euid: 1000, lookup: exists},
		{v: "none", euid: 0, lookup: exists},
		{v: "www:web", euid: 0, lookup: missing, user: "www", group: "web"},
		{v: "www", euid: 0, lookup: missing, user: "www"},
		{v: ":web", wantErr: true},
		{v: "a b", wantErr: true},
	} {
		u, g, err := resolveHAProxyUser(tc.v, tc.euid, tc.lookup)
		if (err != nil) != tc.wantErr || u != tc.user || g != tc.group {
			t.Errorf("resolveHAProxyUser(%q, %d) = %q, %q, %v; want %q, %q, error %v", tc.v, tc.euid, u, g, err, tc.user, tc.group, tc.wantErr)
		}
	}
}
