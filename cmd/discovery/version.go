package main

import (
	"runtime/debug"
	"strings"
)

// version and commit are set at build time with -ldflags "-X main.version=…
// -X main.commit=…" (scripts/release.sh).
var (
	version = "dev"
	commit  = ""
)

// versionString is what `discovery version`, the status page and the
// version metric say: the release, or, for a build from a checkout, the
// commit it was built from (Go records it), so that an operator can tell two
// "dev" builds apart.
func versionString() string {
	if commit != "" {
		return version + " (commit " + commit + ")"
	}
	bi, _ := debug.ReadBuildInfo()
	return describeVersion(version, bi)
}

func describeVersion(v string, bi *debug.BuildInfo) string {
	if v != "dev" || bi == nil {
		return v
	}
	var rev, at string
	modified := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if rev == "" {
		return v
	}
	var b strings.Builder
	b.WriteString(v + " (commit " + rev[:min(12, len(rev))])
	if at != "" {
		b.WriteString(", " + at)
	}
	if modified {
		b.WriteString(", with uncommitted changes")
	}
	b.WriteString(")")
	return b.String()
}
