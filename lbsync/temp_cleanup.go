package lbsync

import (
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
)

// staleTempNames matches the temp files writeTemp creates beside the config
// and the map files (os.CreateTemp puts digits where the pattern has "*"):
// a write cut short by a crash or a kill leaves one behind, and nothing else
// would ever remove it.
var staleTempNames = regexp.MustCompile(`^\.(?:app2backend\.map|domain2backend\.map|(?P<config>.+))\.(?:tmp|bisect|fresh|check)-[0-9]+$`)

// staleArchiveTempNames matches the temp files of archive.Save.
var staleArchiveTempNames = regexp.MustCompile(`^\.haproxy-[0-9]{8}T[0-9.]+Z-[0-9]{6}\.cfg\.tmp-[0-9]+$`)

// removeStaleTemps removes the temp files interrupted writes left beside
// configPath and in archiveDir ("" for none). Only names our writes use are
// touched (for the config, names built from its own name), so an operator's
// files in the same directories are safe. It returns what it removed.
func removeStaleTemps(configPath, archiveDir string, log *slog.Logger) []string {
	var removed []string
	sweep := func(dir string, ours func(string) bool) {
		ents, err := os.ReadDir(dir)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				log.Warn("looking for temp files left by an interrupted write", "dir", dir, "err", err)
			}
			return
		}
		for _, e := range ents {
			if !e.Type().IsRegular() || !ours(e.Name()) {
				continue
			}
			p := filepath.Join(dir, e.Name())
			if err := os.Remove(p); err != nil {
				log.Warn("removing a temp file left by an interrupted write", "file", p, "err", err)
				continue
			}
			removed = append(removed, p)
		}
	}
	base := filepath.Base(configPath)
	sweep(filepath.Dir(configPath), func(name string) bool {
		m := staleTempNames.FindStringSubmatch(name)
		if m == nil {
			return false
		}
		c := m[staleTempNames.SubexpIndex("config")]
		return c == "" || c == base
	})
	if archiveDir != "" {
		sweep(archiveDir, staleArchiveTempNames.MatchString)
	}
	if len(removed) > 0 {
		log.Info("removed temp files left by interrupted writes", "files", removed)
	}
	return removed
}
