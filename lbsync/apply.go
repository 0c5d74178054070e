package lbsync

import (
	"bytes"
	"context"
	"fmt"
	"hash/maphash"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/discovery-mesos/discovery/lbsync/lbmodel"
)

// rebuildFunc builds the model of the current snapshot with some apps left out.
type rebuildFunc func(exclude []string) (*lbmodel.Model, error)

// newerFunc builds, with some apps left out, the model of the newest snapshot
// when one has arrived since the apply began, and returns nil when none has.
// The snapshot stays pending: the syncer applies it next as usual.
type newerFunc func(exclude []string) (*lbmodel.Model, error)

// ApplyResult says what one apply did.
type ApplyResult struct {
	// Via is "none" (nothing changed), "runtime" (Runtime API only, no reload),
	// "reload" or "start" (the first config of a supervised HAProxy).
	Via string
	// Plan is the plan carried out (after leaving invalid apps out).
	Plan lbmodel.Plan
	// Invalid are the apps left out because the config they produce fails
	// validation.
	Invalid []string
	// Checks counts the "haproxy -c" runs.
	Checks int
	// Reached is when HAProxy ran the change: the runtime operations were done,
	// or the reload was confirmed.
	Reached time.Time
	// Bridged counts the runtime operations run before a reload, so that server
	// changes reach traffic without waiting for it (see lbmodel.BridgeModel).
	Bridged int
	// Folded counts the server changes of a newer snapshot, arrived while the
	// config was checked, that the reload loaded in place of the checked
	// servers (see reloadRun.freshen).
	Folded int
}

// ReloadRecord is one reload, for the status page.
type ReloadRecord struct {
	At      time.Time
	Reasons []lbmodel.Reason
	// Took is how long the check, write and reload took.
	Took time.Duration
	// Err is the failure, empty when the reload succeeded.
	Err string
}

// applier brings HAProxy from the model it runs to the next one: runtime
// operations when only servers changed, else validate, write and reload.
type applier struct {
	h          *HAProxy
	rt         *runtimeAPI
	arch       *archive
	m          *metrics
	log        *slog.Logger
	configPath string
	keepReload int
	// renderer renders the configs HAProxy is to run, copying what did not
	// change since the last one (the runtime path's rewrite after a server
	// change, with 100,000 servers).
	renderer *lbmodel.Renderer

	mu      sync.Mutex
	running *lbmodel.Model        // what HAProxy runs, and what the config file says
	config  *lbmodel.Text         // the config file's bytes
	invalid map[string]invalidApp // apps left out by validation
	reloads []ReloadRecord
	passed  map[uint64]bool // digests of configs that passed haproxy -c in this apply
	// diskStale is set when runtime changes reached HAProxy but rewriting the
	// config file failed: the file lags behind what runs until a write works.
	diskStale bool
}

// invalidApp is an app whose config failed validation.
type invalidApp struct {
	// fingerprint is appFingerprint of the app when it was found invalid: as
	// long as its part of the config stays the same it stays out, unchecked.
	fingerprint uint64
	// reason is haproxy's complaint.
	reason string
}

func newApplier(h *HAProxy, rt *runtimeAPI, arch *archive, m *metrics, log *slog.Logger) *applier {
	return &applier{h: h, rt: rt, arch: arch, m: m, log: log, configPath: h.ConfigPath(), keepReload: 50,
		renderer: lbmodel.NewRenderer()}
}

// apply brings HAProxy to full, leaving out the apps that make the config
// invalid (found with rebuild, which builds the same snapshot without some
// apps). force, when not empty, forces a reload. newer (nil for none) gives
// the model of a snapshot that arrived meanwhile, whose servers a reload
// loads when only servers differ.
func (a *applier) apply(ctx context.Context, full *lbmodel.Model, rebuild rebuildFunc, newer newerFunc, force []lbmodel.Reason) (ApplyResult, error) {
	a.passed = map[uint64]bool{}
	if a.diskStale {
		_, text := a.current()
		if err := a.write(text); err != nil {
			return ApplyResult{}, err
		}
	}
	// Apps found invalid earlier whose part of the config has not changed are
	// still invalid: leave them out without running haproxy -c again. The
	// others are tried again (they may have been fixed).
	next, known := full, a.stillInvalid(full)
	if len(known) > 0 {
		ids := sortedKeys(known)
		m, err := rebuild(ids)
		if err != nil {
			return ApplyResult{}, fmt.Errorf("building model without %v: %w", ids, err)
		}
		next, rebuild = m, excludeAlso(rebuild, ids)
	}

	running, runningText := a.current()
	plan := lbmodel.ComputePlan(running, next)
	plan.Reload = append(plan.Reload, force...)
	res := ApplyResult{Plan: plan, Invalid: sortedKeys(known)}

	if len(plan.Reload) > 0 && len(force) == 0 {
		a.bridge(ctx, running, next, &res)
	}
	if len(plan.Reload) == 0 {
		var err error
		if len(plan.Runtime) > 0 {
			// HAProxy first, the file after: the change reaches traffic
			// without waiting for the render and the fsync.
			err = a.rt.Apply(ctx, plan.Runtime)
			res.Reached = time.Now()
		}
		if err == nil {
			text, err := a.renderer.RenderText(next)
			a.m.renders.Inc()
			if err != nil {
				return res, fmt.Errorf("rendering: %w", err)
			}
			a.setInvalid(known)
			if len(plan.Runtime) == 0 && text.Equal(runningText) {
				res.Via = "none"
				return res, nil
			}
			// Rewrite the file, no reload: a later reload agrees with what runs.
			a.setRunning(next, text)
			res.Via = "runtime"
			return res, a.write(text)
		}
		a.log.Warn("runtime change failed, reloading instead", "err", err)
		plan.Reload = []lbmodel.Reason{{Class: lbmodel.ReasonRuntimeFailed, Detail: err.Error()}}
		res.Plan = plan
	}
	return a.reload(ctx, full, next, known, rebuild, newer, plan.Reload, res)
}

// stillInvalid returns the apps found invalid before whose part of m is the same
// as then.
func (a *applier) stillInvalid(m *lbmodel.Model) map[string]invalidApp {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out map[string]invalidApp
	for app, inv := range a.invalid {
		if appFingerprint(m, app) == inv.fingerprint {
			if out == nil {
				out = map[string]invalidApp{}
			}
			out[app] = inv
		}
	}
	return out
}

// excludeAlso wraps rebuild so that it always leaves out apps too.
func excludeAlso(rebuild rebuildFunc, apps []string) rebuildFunc {
	return func(exclude []string) (*lbmodel.Model, error) {
		return rebuild(append(slices.Clone(apps), exclude...))
	}
}

func sortedKeys[V any](m map[string]V) []string {
	if len(m) == 0 {
		return nil
	}
	return slices.Sorted(maps.Keys(m))
}

// checker validates the config built without some apps.
func (a *applier) checker(dir string, rebuild rebuildFunc) checkFunc {
	return func(ctx context.Context, exclude []string) error {
		m, err := rebuild(exclude)
		if err != nil {
			return fmt.Errorf("building model: %w", err)
		}
		data, err := lbmodel.Render(m)
		if err != nil {
			return fmt.Errorf("rendering: %w", err)
		}
		if err := writeMaps(m.Maps); err != nil {
			return err
		}
		tmp, err := writeTemp(dir, "."+filepath.Base(a.configPath)+".bisect-*", data, configFileMode)
		if err != nil {
			return err
		}
		defer os.Remove(tmp)
		err = a.h.Check(ctx, tmp)
		if err == nil {
			a.passed[digestBytes(data)] = true
		}
		return err
	}
}

// write rewrites the config file after runtime changes. When it fails the file
// is marked stale and written again before the next change.
func (a *applier) write(text *lbmodel.Text) error {
	if err := writeAtomicParts(a.configPath, text.Parts(), configFileMode); err != nil {
		a.diskStale = true
		return fmt.Errorf("rewriting config after runtime changes (HAProxy runs them; the file lags): %w", err)
	}
	a.diskStale = false
	a.m.configWrites.Inc()
	// Not archived: the archive keeps what reloads loaded. A server change
	// every 100 ms would otherwise push the configs from before the last
	// reloads out of it within a second, at a file written and a directory
	// read per change.
	return nil
}

// writeMaps writes the map files a config refers to, when they changed.
func writeMaps(maps []lbmodel.MapFile) error {
	for _, m := range maps {
		if old, err := os.ReadFile(m.Path); err == nil && bytes.Equal(old, m.Content) {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(m.Path), 0o755); err != nil {
			return fmt.Errorf("map dir: %w", err)
		}
		if err := writeAtomic(m.Path, m.Content, configFileMode); err != nil {
			return fmt.Errorf("writing map: %w", err)
		}
	}
	return nil
}

func (a *applier) current() (*lbmodel.Model, *lbmodel.Text) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.running, a.config
}

func (a *applier) setRunning(m *lbmodel.Model, text *lbmodel.Text) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.running, a.config = m, text
}

// Invalid returns the apps left out by validation, sorted.
func (a *applier) Invalid() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return sortedKeys(a.invalid)
}

// invalidErrors returns the apps left out by validation as AppErrors.
func (a *applier) invalidErrors() []lbmodel.AppError {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []lbmodel.AppError
	for _, app := range sortedKeys(a.invalid) {
		out = append(out, lbmodel.AppError{AppID: app, Port: -1,
			Reason: "its config fails validation: " + a.invalid[app].reason})
	}
	return out
}

func (a *applier) setInvalid(apps map[string]invalidApp) {
	a.mu.Lock()
	a.invalid = apps
	a.mu.Unlock()
	a.m.appsLeftOut.WithLabelValues("validation").Set(float64(len(apps)))
}

func (a *applier) record(r ReloadRecord) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.reloads = append(a.reloads, r)
	if len(a.reloads) > a.keepReload {
		a.reloads = slices.Delete(a.reloads, 0, len(a.reloads)-a.keepReload)
	}
}

func hasClass(rs []lbmodel.Reason, class string) bool {
	for _, r := range rs {
		if r.Class == class {
			return true
		}
	}
	return false
}

func reasonStrings(rs []lbmodel.Reason) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.String()
	}
	return out
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

var fingerprintSeed = maphash.MakeSeed()

func digestBytes(b []byte) uint64 { return maphash.Bytes(fingerprintSeed, b) }

// appFingerprint digests what app contributes to m: the head, the frontends and
// backends it is part of, and the distinct options of their servers (not
// addresses or counts: scaling an invalid app does not make it valid). 0 when
// the app is not in m.
func appFingerprint(m *lbmodel.Model, app string) uint64 {
	var h maphash.Hash
	h.SetSeed(fingerprintSeed)
	found := false
	h.WriteString(m.Head)
	for i := range m.Frontends {
		f := &m.Frontends[i]
		if slices.Contains(f.Apps, app) {
			found = true
			h.WriteString(f.Text)
			h.WriteByte(0)
		}
	}
	for i := range m.Backends {
		b := &m.Backends[i]
		if !slices.Contains(b.Apps, app) {
			continue
		}
		found = true
		h.WriteString(b.Text)
		h.WriteByte(0)
		keys := make([]string, len(b.Servers))
		for j := range b.Servers {
			keys[j] = lbmodel.ServerOptionsKey(b.Servers[j].Options)
		}
		slices.Sort(keys)
		for _, k := range slices.Compact(keys) {
			h.WriteString(k)
			h.WriteByte(0)
		}
	}
	if !found {
		return 0
	}
	return h.Sum64()
}
