package vips

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"
)

func TestAssignIsAPureFunctionOfTheNames(t *testing.T) {
	names := []string{"app.marathon", "groupapp.marathon", "db.marathon", "cache.other"}
	a, _, _ := Assign(names, DefaultRange)
	shuffled := []string{"cache.other", "db.marathon", "app.marathon", "groupapp.marathon", "app.marathon"}
	b, _, _ := Assign(shuffled, DefaultRange)
	for _, n := range names {
		if !a[n].IsValid() || a[n] != b[n] {
			t.Errorf("%s: %v then %v", n, a[n], b[n])
		}
		if !DefaultRange.Contains(a[n]) {
			t.Errorf("%s: %v outside %v", n, a[n], DefaultRange)
		}
	}
	if len(a) != len(names) {
		t.Errorf("%d addresses for %d names", len(a), len(names))
	}
	// A name keeps its address when others come and go (no collision here).
	c, _, _ := Assign([]string{"app.marathon"}, DefaultRange)
	if c["app.marathon"] != a["app.marathon"] {
		t.Errorf("app.marathon alone got %v, with others %v", c["app.marathon"], a["app.marathon"])
	}
}

func TestAssignResolvesCollisionsDeterministically(t *testing.T) {
	// A /29 has 6 usable addresses: 6 names fill it and must collide.
	r := netip.MustParsePrefix("10.9.0.0/29")
	names := []string{"a", "b", "c", "d", "e", "f", "g"}
	a, coll, full := Assign(names, r)
	if len(a) != 6 || !slices.Equal(full, []string{"g"}) {
		t.Fatalf("assigned %d, full %v; want 6 and [g]", len(a), full)
	}
	if len(coll) == 0 {
		t.Fatal("6 names in 6 addresses reported no collision")
	}
	seen := map[netip.Addr]string{}
	for n, ad := range a {
		if o, dup := seen[ad]; dup {
			t.Errorf("%s and %s share %v", n, o, ad)
		}
		seen[ad] = n
		if ad == r.Addr() || ad == netip.MustParseAddr("10.9.0.7") {
			t.Errorf("%s got the network or broadcast address %v", n, ad)
		}
	}
	for _, c := range coll {
		if a[c.Name] != c.Got || a[c.Holder] != c.Wanted || c.Got == c.Wanted {
			t.Errorf("collision %+v does not match the assignment", c)
		}
	}
	// Reversed input order: the same outcome.
	rev := slices.Clone(names)
	slices.Reverse(rev)
	b, coll2, _ := Assign(rev, r)
	if fmt.Sprint(a) != fmt.Sprint(b) || fmt.Sprint(coll) != fmt.Sprint(coll2) {
		t.Errorf("input order changed the result: %v %v / %v %v", a, coll, b, coll2)
	}
}

func TestAssignIPv6Range(t *testing.T) {
	r := netip.MustParsePrefix("fd00:5::/64")
	a, _, _ := Assign([]string{"app.marathon"}, r)
	if got := a["app.marathon"]; !got.Is6() || !r.Contains(got) {
		t.Errorf("got %v, want an address in %v", got, r)
	}
}

func TestCheckRange(t *testing.T) {
	for s, ok := range map[string]bool{"127.192.0.0/10": true, "10.0.0.0/30": true, "10.0.0.0/31": false, "10.0.0.1/24": false, "fd00::/120": true} {
		if err := CheckRange(netip.MustParsePrefix(s)); (err == nil) != ok {
			t.Errorf("CheckRange(%s) = %v", s, err)
		}
	}
}
