package lbsync

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"time"

	"github.com/discovery-mesos/discovery/lbsync/lbmodel"
)

// reload validates next (bisecting out invalid apps), writes it and reloads.
// full is next before any app was left out, known the apps left out already.
func (a *applier) reload(ctx context.Context, full, next *lbmodel.Model, known map[string]invalidApp, rebuild rebuildFunc, newer newerFunc, reasons []lbmodel.Reason, res ApplyResult) (ApplyResult, error) {
	r := &reloadRun{a: a, start: time.Now(), dir: filepath.Dir(a.configPath), full: full, next: next,
		invalid: known, rebuild: rebuild, newer: newer, reasons: reasons, res: res}
	defer r.removeCheckFile() // gone already once committed
	err := r.run(ctx)
	return r.res, err
}

// reloadRun is one reload, from the model to check to HAProxy running it: the
// steps share what they found (the apps left out, the config's bytes, the
// file checked, the timings) here.
type reloadRun struct {
	a     *applier
	start time.Time
	// dir is the config's directory, where the files to check are written.
	dir string
	// full is the model before any app was left out; next the one to load,
	// data its bytes, tmp the file they were checked in.
	full, next *lbmodel.Model
	data       []byte
	tmp        string
	// invalid are the apps left out; leftOut is set when this reload found
	// some (its first check failed).
	invalid map[string]invalidApp
	leftOut bool
	rebuild rebuildFunc
	// newer builds the model of a snapshot arrived since (freshen).
	newer   newerFunc
	reasons []lbmodel.Reason
	res     ApplyResult

	checkTook, reloadTook time.Duration
}

func (r *reloadRun) run(ctx context.Context) error {
	a := r.a
	if err := ensureServerState(r.next.Head); err != nil {
		a.log.Warn("server states will not be kept across reloads", "err", err)
	}
	if err := r.validate(ctx); err != nil {
		return err
	}
	a.setInvalid(r.invalid)
	r.res.Invalid = sortedKeys(r.invalid)

	running, runningText := a.current()
	if r.leftOut {
		if done, err := r.replan(ctx, running, runningText); done {
			return err
		}
	}
	r.res.Plan = lbmodel.Plan{Reload: r.reasons}
	return r.load(ctx, running, runningText)
}

// validate checks next with haproxy -c; when HAProxy rejects it, the apps that
// break it are left out of next (leaveOutInvalid).
func (r *reloadRun) validate(ctx context.Context) error {
	a := r.a
	data, err := a.renderer.Render(r.next)
	a.m.renders.Inc()
	if err != nil {
		return fmt.Errorf("rendering: %w", err)
	}
	if err := r.writeCheckFile(data); err != nil {
		return err
	}
	r.res.Checks++
	checkStart := time.Now()
	cerr := r.checkBridging(ctx)
	r.checkTook = time.Since(checkStart)
	if cerr == nil {
		return nil
	}
	var ce *CheckError
	if !errors.As(cerr, &ce) {
		return fmt.Errorf("validating config: %w", cerr)
	}
	return r.leaveOutInvalid(ctx, cerr, ce)
}

// leaveOutInvalid finds the apps that make next fail validation (one bad app
// must not hold back the others), leaves them out, and checks the result.
func (r *reloadRun) leaveOutInvalid(ctx context.Context, cerr error, ce *CheckError) error {
	a := r.a
	a.log.Warn("config rejected, looking for the apps that break it", "err", cerr)
	bad, checks, err := bisectInvalid(ctx, modelApps(r.next), a.Invalid(), a.checker(r.dir, r.rebuild))
	r.res.Checks += checks
	if err != nil {
		return fmt.Errorf("validating config (previous config kept): %w: %v", err, cerr)
	}
	r.leftOut = true
	r.invalid = maps.Clone(r.invalid)
	if r.invalid == nil {
		r.invalid = map[string]invalidApp{}
	}
	for _, app := range bad {
		r.invalid[app] = invalidApp{fingerprint: appFingerprint(r.full, app), reason: ce.Output}
	}
	if r.next, err = r.rebuild(bad); err != nil {
		return fmt.Errorf("rebuilding without %v: %w", bad, err)
	}
	a.log.Error("apps left out: their config fails validation", "apps", bad, "checks", r.res.Checks,
		"haproxy", firstLine(ce.Output))
	os.Remove(r.tmp)
	data, err := lbmodel.Render(r.next)
	if err != nil {
		return fmt.Errorf("rendering: %w", err)
	}
	if err := r.writeCheckFile(data); err != nil {
		return err
	}
	// The bisection checked this very config already (rebuild is pure).
	if !a.passed[digestBytes(data)] {
		r.res.Checks++
		if err := a.h.Check(ctx, r.tmp); err != nil {
			return fmt.Errorf("config still invalid without %v: %w", bad, err)
		}
	}
	return nil
}

// writeCheckFile writes next's map files, and data to a new file beside the
// config for haproxy -c to check (and to be renamed over the config).
func (r *reloadRun) writeCheckFile(data []byte) error {
	r.data = data
	if err := writeMaps(r.next.Maps); err != nil {
		return err
	}
	tmp, err := writeTemp(r.dir, "."+filepath.Base(r.a.configPath)+".check-*", data, configFileMode)
	r.tmp = tmp
	if err != nil {
		return fmt.Errorf("writing config to check: %w", err)
	}
	return nil
}

func (r *reloadRun) removeCheckFile() {
	if r.tmp != "" {
		os.Remove(r.tmp)
	}
}

// replan plans again once apps were left out: without them the change may be
// server-level only, or none. It reports whether that finished the job.
func (r *reloadRun) replan(ctx context.Context, running *lbmodel.Model, runningText *lbmodel.Text) (bool, error) {
	a := r.a
	plan := lbmodel.ComputePlan(running, r.next)
	switch {
	case len(plan.Reload) > 0:
		r.reasons = plan.Reload
	case hasClass(r.reasons, lbmodel.ReasonRuntimeFailed) || hasClass(r.reasons, lbmodel.ReasonForced) ||
		hasClass(r.reasons, lbmodel.ReasonRestarted):
	case len(plan.Runtime) == 0 && lbmodel.TextOf(r.data).Equal(runningText):
		r.res.Plan, r.res.Via = plan, "none"
		return true, nil
	default:
		r.res.Plan = plan
		err := a.rt.Apply(ctx, plan.Runtime)
		r.res.Reached = time.Now()
		if err == nil {
			text := lbmodel.TextOf(r.data)
			a.setRunning(r.next, text)
			r.res.Via = "runtime"
			return true, a.write(text)
		}
		r.reasons = []lbmodel.Reason{{Class: lbmodel.ReasonRuntimeFailed, Detail: err.Error()}}
	}
	return false, nil
}

// load puts the checked file in place and has HAProxy load it: the
// supervised HAProxy starts with its first config, a running one reloads.
func (r *reloadRun) load(ctx context.Context, running *lbmodel.Model, runningText *lbmodel.Text) error {
	a := r.a
	r.freshen()
	if err := commitTemp(r.tmp, a.configPath); err != nil {
		return fmt.Errorf("writing config: %w", err)
	}
	a.diskStale = false
	a.m.configWrites.Inc()

	if !a.h.External() && running == nil {
		// The first config: the supervised HAProxy starts with it.
		if err := resetServerState(r.next.Head); err != nil {
			a.log.Warn("server states will not be kept across reloads", "err", err)
		}
		a.h.Start()
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := a.h.WaitRunning(wctx)
		cancel()
		if err != nil {
			return err
		}
		r.res.Via = "start"
	} else {
		if err := a.saveServerState(ctx, running, r.next); err != nil {
			a.log.Warn("server states not kept across this reload", "err", err)
		}
		reloadStart := time.Now()
		err := a.h.Reload(ctx)
		r.reloadTook = time.Since(reloadStart)
		if err != nil && !errors.Is(err, ErrNotRunning) {
			return r.failed(err, runningText)
		}
		// ErrNotRunning: HAProxy is being restarted and loads this file.
		r.res.Via = "reload"
	}
	r.loaded()
	return nil
}

// failed records a reload HAProxy refused, and puts the previous config back
// on disk: the old workers keep serving it.
func (r *reloadRun) failed(err error, runningText *lbmodel.Text) error {
	a := r.a
	a.m.reloadFailures.Inc()
	a.record(ReloadRecord{At: r.start, Reasons: r.reasons, Took: time.Since(r.start), Err: err.Error()})
	a.log.Error("reload failed, previous config kept", "reasons", reasonStrings(r.reasons), "err", err)
	if runningText != nil {
		if werr := writeAtomicParts(a.configPath, runningText.Parts(), configFileMode); werr != nil {
			err = errors.Join(err, fmt.Errorf("restoring previous config: %w", werr))
		}
	}
	return fmt.Errorf("reloading haproxy: %w", err)
}

// loaded records what HAProxy runs after the reload (or start).
func (r *reloadRun) loaded() {
	a := r.a
	r.res.Reached = time.Now()
	a.rt.Forget()
	a.setRunning(r.next, lbmodel.TextOf(r.data))
	if err := a.arch.Save(r.data, r.start); err != nil {
		a.log.Warn("archiving config", "err", err)
	}
	a.m.reloads.WithLabelValues(r.reasons[0].Class).Inc()
	a.record(ReloadRecord{At: r.start, Reasons: r.reasons, Took: time.Since(r.start)})
	a.log.Info("haproxy reloaded", "reason", r.reasons[0].Class, "reasons", reasonStrings(r.reasons),
		"took", time.Since(r.start).Round(time.Microsecond), "via", r.res.Via, "bridged_ops", r.res.Bridged,
		"folded_ops", r.res.Folded,
		"check_took", r.checkTook.Round(time.Microsecond), "reload_took", r.reloadTook.Round(time.Microsecond))
}
