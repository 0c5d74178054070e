package lbsync

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/discovery-mesos/discovery/lbsync/lbmodel"
)

func TestWatchTemplatesReloadsOnChange(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "templates")
	cfg := lbmodel.DefaultConfig()
	cfg.Groups = []string{"external"}
	got := make(chan *lbmodel.Templates, 10)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- WatchTemplates(ctx, cfg, dir, nil, func(ts *lbmodel.Templates) { got <- ts }, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()
	defer func() { cancel(); <-done }()

	wait := func(what string, ok func(*lbmodel.Templates) bool) {
		t.Helper()
		deadline := time.After(5 * time.Second)
		for {
			select {
			case ts := <-got:
				if ok(ts) {
					return
				}
			case <-deadline:
				t.Fatalf("%s: templates not reloaded", what)
			}
		}
	}
	backendHead := func(ts *lbmodel.Templates) string { return ts.Get("HAPROXY_BACKEND_HEAD").Text }

	// The directory does not exist at start: creating it with a file is seen.
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "HAPROXY_BACKEND_HEAD")
	if err := os.WriteFile(p, []byte("\nbackend {backend}\n  balance {balance}\n  mode {mode}\n  # v1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	wait("file created", func(ts *lbmodel.Templates) bool { return strings.Contains(backendHead(ts), "# v1") })

	// Replaced by a rename, as editors and config management do.
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, []byte("\nbackend {backend}\n  balance {balance}\n  mode {mode}\n  # v2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, p); err != nil {
		t.Fatal(err)
	}
	wait("file renamed over", func(ts *lbmodel.Templates) bool { return strings.Contains(backendHead(ts), "# v2") })

	// A template that does not parse keeps the current set; the fix is picked up.
	if err := os.WriteFile(p, []byte("backend {backend\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("\nbackend {backend}\n  balance {balance}\n  mode {mode}\n  # v3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	wait("fixed file", func(ts *lbmodel.Templates) bool { return strings.Contains(backendHead(ts), "# v3") })

	// Removed: back to our default.
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	wait("file removed", func(ts *lbmodel.Templates) bool { return !strings.Contains(backendHead(ts), "# v") })
}
