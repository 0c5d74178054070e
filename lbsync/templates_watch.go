package lbsync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/discovery-mesos/discovery/lbsync/lbmodel"

	"github.com/fsnotify/fsnotify"
)

// WatchTemplates reloads the templates whenever a file in dir changes (written in
// place, replaced by a rename, created or removed) and hands every good set to
// apply; marathon-lb users edit template files in place and expect the config
// to follow. The templates are loaded once when the watch starts, then after
// every change. A set that fails to load is logged and the current one stays.
// It returns when ctx is done, or at once with an error when dir cannot be
// watched (a missing dir is watched from its parent until it appears).
func WatchTemplates(ctx context.Context, cfg *lbmodel.Config, dir string, getenv func(string) string, apply func(*lbmodel.Templates), log *slog.Logger) error {
	if dir == "" {
		<-ctx.Done()
		return nil
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watching templates: %w", err)
	}
	defer w.Close()
	dir = filepath.Clean(dir)
	watching := ""
	watch := func() {
		target := dir
		if _, err := os.Stat(dir); err != nil {
			target = filepath.Dir(dir) // wait for dir to be created
		}
		if target == watching {
			return
		}
		if watching != "" {
			_ = w.Remove(watching)
		}
		if err := w.Add(target); err != nil {
			log.Warn("cannot watch templates directory", "dir", target, "err", err)
			watching = ""
			return
		}
		watching = target
	}
	watch()

	const quiet = 100 * time.Millisecond
	// Load once as soon as the watch is in place: a change made before it was
	// is seen by this load, a change after it by an event.
	timer := time.NewTimer(0)
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return errors.New("template watcher closed")
			}
			if watching != dir && !strings.HasPrefix(ev.Name, dir) {
				continue // another entry of the parent directory
			}
			timer.Reset(quiet) // editors write in bursts: load once they are done
		case err, ok := <-w.Errors:
			if !ok {
				return errors.New("template watcher closed")
			}
			log.Warn("template watcher", "err", err)
		case <-timer.C:
			watch()
			ts, err := lbmodel.LoadTemplates(cfg, dir, getenv)
			if err != nil {
				log.Error("templates changed but do not load; keeping the current ones", "dir", dir, "err", err)
				continue
			}
			if unknown, _ := lbmodel.UserTemplateFiles(dir); len(unknown) > 0 {
				log.Warn("files in the templates directory match no template name", "files", unknown)
			}
			log.Info("templates reloaded", "dir", dir)
			apply(ts)
		}
	}
}
