// Package peers finds the real mesos-dns and marathon-lb that differential
// and client tests run beside discovery (kept outside the repository, in a
// shared/peers directory next to the checkout). Tests skip when they are not
// there, so the lookup tries every place a checkout may sit.
package peers

import (
	"os"
	"path/filepath"
)

// Path returns the path of name (e.g. "mesos-dns", "marathon-lb") inside the
// peers directory, or "" when no peers directory holds it: $PEERS_DIR, then
// shared/peers beside the working directory or any of its parents, then
// /work/shared/peers.
func Path(name string) string {
	var dirs []string
	if d := os.Getenv("PEERS_DIR"); d != "" {
		dirs = append(dirs, d)
	}
	if wd, err := os.Getwd(); err == nil {
		for d := wd; ; d = filepath.Dir(d) {
			dirs = append(dirs, filepath.Join(d, "shared", "peers"))
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	dirs = append(dirs, "/work/shared/peers")
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}
