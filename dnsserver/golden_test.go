package dnsserver

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// update rewrites the golden files under testdata: go test ./dnsserver -update.
var update = flag.Bool("update", false, "rewrite golden files under testdata")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := range max(len(gl), len(wl)) {
			var g, w string
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Fatalf("%s differs at line %d:\n got %q\nwant %q\n(run with -update if the change is intended)", path, i+1, g, w)
			}
		}
	}
}

// TestFixtureGolden pins every record generated for the mesos-dns fixture with
// default settings (RFC 1123, IPSources netinfo, mesos, host).
func TestFixtureGolden(t *testing.T) {
	tab := Build(fixtureCluster(t), testConfig())
	var lines []string
	for rr := range tab.All() {
		lines = append(lines, strings.ReplaceAll(rr.String(), "\t", " "))
	}
	slices.Sort(lines)
	golden(t, "fixture.records.golden", []byte(strings.Join(lines, "\n")+"\n"))

	e, err := json.MarshalIndent(tab.Enumerate(), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "fixture.enumerate.golden.json", append(e, '\n'))
}
