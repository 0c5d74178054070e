package main

import (
	"runtime/debug"
	"testing"
)

// A "dev" build says which commit it was built from when Go recorded it; a
// release says its version and nothing else.
func TestDescribeVersion(t *testing.T) {
	bi := &debug.BuildInfo{Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123456789abcdef0123"},
		{Key: "vcs.time", Value: "2026-12-07T12:00:00Z"},
		{Key: "vcs.modified", Value: "true"},
	}}
	for _, tc := range []struct {
		v    string
		bi   *debug.BuildInfo
		want string
	}{
		{"dev", bi, "dev (commit 0123456789ab, 2026-12-07T12:00:00Z, with uncommitted changes)"},
		{"dev", &debug.BuildInfo{Settings: bi.Settings[:1]}, "dev (commit 0123456789ab)"},
		{"dev", &debug.BuildInfo{}, "dev"}, // built with -buildvcs=false
		{"dev", nil, "dev"},
		{"v1.2.0", bi, "v1.2.0"},
	} {
		if got := describeVersion(tc.v, tc.bi); got != tc.want {
			t.Errorf("describeVersion(%q) = %q, want %q", tc.v, got, tc.want)
		}
	}
}
