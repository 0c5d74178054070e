package lbsync

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"

	"github.com/discovery-mesos/discovery/lbsync/lbmodel"
)

// The app that holds a service port or a vhost route keeps it (lbmodel's
// Model.Claims): a newcomer asking for it is left out. After a restart of
// the daemon there is no running model to tell who held what, and the order
// of the apps would decide again: an app that sorts first could take a port
// it had been refused. So the claims of the model HAProxy runs are kept in a
// file beside the config (CONFIG.claims, JSON) and honoured by the first
// build after a start.

// claimsPath is the claims file of the config at configPath.
func claimsPath(configPath string) string { return configPath + ".claims" }

// loadClaims reads a claims file; nil when there is none.
func loadClaims(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading claims: %w", err)
	}
	var claims map[string]string
	if err := json.Unmarshal(b, &claims); err != nil {
		return nil, fmt.Errorf("reading claims %s: %w", path, err)
	}
	return claims, nil
}

// saveClaims writes m's claims to the claims file when they differ from the
// ones written last. Only a reload can change them (a claim is a frontend or
// a vhost ACL), so the syncer calls it after starts and reloads only.
func (s *Syncer) saveClaims(m *lbmodel.Model) {
	if m == nil {
		return
	}
	claims := m.Claims()
	if maps.Equal(claims, s.savedClaims) {
		return
	}
	b, err := json.Marshal(claims)
	if err == nil {
		err = writeAtomic(claimsPath(s.h.ConfigPath()), b, configFileMode)
	}
	if err != nil {
		s.log.Warn("saving who holds which port and vhost; after a restart the oldest app wins", "err", err)
		return
	}
	s.savedClaims = claims
}

// buildOptions are the options of a build of the running model's successor:
// the claims saved before a restart until a model runs.
func (s *Syncer) buildOptions(previous *lbmodel.Model, exclude map[string]bool) *lbmodel.BuildOptions {
	o := &lbmodel.BuildOptions{Previous: previous, Exclude: exclude}
	if previous == nil {
		o.Held = s.held
	}
	return o
}
