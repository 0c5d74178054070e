package lbsync

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// archive keeps copies of the last configs reloads loaded, so that an operator
// can see what ran before a change (and diff two of them). Names sort by time:
// haproxy-20260102T150405.000000000Z-000042.cfg.
type archive struct {
	dir  string
	keep int

	mu  sync.Mutex
	seq int
}

func newArchive(dir string, keep int) *archive {
	if dir == "" || keep <= 0 {
		return nil
	}
	return &archive{dir: dir, keep: keep}
}

// Save stores data and removes the oldest copies beyond the limit. A nil
// archive saves nothing.
func (a *archive) Save(data []byte, at time.Time) error {
	if a == nil {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := os.MkdirAll(a.dir, 0o750); err != nil {
		return fmt.Errorf("archive dir: %w", err)
	}
	a.seq++
	name := fmt.Sprintf("haproxy-%s-%06d.cfg", at.UTC().Format("20060102T150405.000000000Z"), a.seq%1000000)
	if err := writeAtomic(filepath.Join(a.dir, name), data, archiveFileMode); err != nil {
		return fmt.Errorf("archiving config: %w", err)
	}
	return a.prune()
}

// Files returns the archived configs, oldest first.
func (a *archive) Files() ([]string, error) {
	if a == nil {
		return nil, nil
	}
	ents, err := os.ReadDir(a.dir)
	if err != nil {
		return nil, fmt.Errorf("reading archive: %w", err)
	}
	var out []string
	for _, e := range ents {
		if n := e.Name(); strings.HasPrefix(n, "haproxy-") && strings.HasSuffix(n, ".cfg") {
			out = append(out, filepath.Join(a.dir, n))
		}
	}
	slices.Sort(out)
	return out, nil
}

func (a *archive) prune() error {
	files, err := a.Files()
	if err != nil {
		return err
	}
	for len(files) > a.keep {
		if err := os.Remove(files[0]); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("pruning archive: %w", err)
		}
		files = files[1:]
	}
	return nil
}
