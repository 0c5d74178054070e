package lbsync

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"log/slog"
)

// Only the temp files our own writes name are removed, beside the config and
// in the archive; an operator's files, ours in use, and temp-looking files of
// other names stay.
func TestRemoveStaleTemps(t *testing.T) {
	dir, arch := t.TempDir(), t.TempDir()
	cfg := filepath.Join(dir, "haproxy.cfg")
	stale := []string{
		filepath.Join(dir, ".haproxy.cfg.tmp-123456"),
		filepath.Join(dir, ".haproxy.cfg.check-1"),
		filepath.Join(dir, ".haproxy.cfg.fresh-42"),
		filepath.Join(dir, ".haproxy.cfg.bisect-987654321"),
		filepath.Join(dir, ".domain2backend.map.tmp-55"),
		filepath.Join(dir, ".app2backend.map.tmp-56"),
		filepath.Join(arch, ".haproxy-20260102T150405.000000000Z-000042.cfg.tmp-77"),
	}
	kept := []string{
		cfg,
		filepath.Join(dir, "domain2backend.map"),
		filepath.Join(dir, ".other.cfg.tmp-123"),   // another config's
		filepath.Join(dir, ".haproxy.cfg.tmp-abc"), // not os.CreateTemp's digits
		filepath.Join(dir, "haproxy.cfg.tmp-123"),  // not hidden
		filepath.Join(dir, ".haproxy.cfg.swp"),     // an editor's
		filepath.Join(arch, "haproxy-20260102T150405.000000000Z-000042.cfg"),
		filepath.Join(arch, ".notes.tmp-1"),
	}
	for _, p := range append(slices.Clone(stale), kept...) {
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	got := removeStaleTemps(cfg, arch, slog.New(slog.DiscardHandler))
	slices.Sort(got)
	want := slices.Sorted(slices.Values(stale))
	if !slices.Equal(got, want) {
		t.Errorf("removed %v, want %v", got, want)
	}
	for _, p := range stale {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s still there (%v)", p, err)
		}
	}
	for _, p := range kept {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s removed: %v", p, err)
		}
	}
	// No archive, no config directory yet: nothing to do, no error.
	if got := removeStaleTemps(filepath.Join(dir, "missing", "haproxy.cfg"), "", slog.New(slog.DiscardHandler)); len(got) != 0 {
		t.Errorf("removed %v from a missing directory", got)
	}
}
