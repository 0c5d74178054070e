package lbmodel

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/discovery-mesos/discovery/state"
)

// candidate is an app on its way into the model: a Marathon app, or the merge
// of the apps of one blue/green deployment group.
type candidate struct {
	// app is read-only: it points into the caller's apps, or at a merge.
	app *state.App
	// members are the ids of the apps merged into this one, sorted; nil for
	// an app that was not merged (its only member is app.ID).
	members []string
	// taskApp maps a task id to the id of the app it came from.
	taskApp map[string]string
	// src is the index of the app in the apps merged; srcs the indices of the
	// apps of a deployment group, in the order they were merged (nil for a
	// plain app).
	src  int
	srcs []int
}

// memberIDs returns the ids of the apps in the candidate.
func (c *candidate) memberIDs() []string {
	if c.members == nil {
		return []string{c.app.ID}
	}
	return c.members
}

// mergeDeploymentGroups merges the apps that share a HAPROXY_DEPLOYMENT_GROUP
// label into one app with the group's id, the way marathon-lb's zero-downtime
// deployments expect: the older app (by HAPROXY_DEPLOYMENT_STARTED_AT) keeps
// its labels and ports, the new app's tasks are added to its backends, and as
// many of the old app's tasks as the new app has healthy instances (bounded by
// HAPROXY_DEPLOYMENT_TARGET_INSTANCES) are marked draining, lowest task id
// first. Apps without the label pass through. apps is not modified; the
// result lists plain apps sorted by id, then the groups sorted by id.
func mergeDeploymentGroups(apps []state.App) []candidate {
	return mergeDeploymentGroupsOrdered(apps, nil)
}

// mergeDeploymentGroupsOrdered is mergeDeploymentGroups; order, when not nil,
// keeps the order the apps were sorted in from one call to the next (apps
// not sorted by id already usually come in the same order each time).
func mergeDeploymentGroupsOrdered(apps []state.App, order *keptOrder) []candidate {
	out := make([]candidate, 0, len(apps))
	var groups map[string]*candidate
	var groupOrder []string
	for i := range apps {
		a := &apps[i]
		g, ok := a.Labels[LabelDeploymentGroup]
		if !ok || g == "" || strings.ContainsAny(g, "\n\r") {
			out = append(out, candidate{app: a, src: i})
			continue
		}
		if g[0] != '/' {
			g = "/" + g
		}
		if groups == nil {
			groups = map[string]*candidate{}
		}
		renamed := *a
		renamed.ID = g
		cur := candidate{app: &renamed, members: []string{a.ID}, src: i, srcs: []int{i}}
		prev, seen := groups[g]
		if !seen {
			c := cur
			groups[g] = &c
			groupOrder = append(groupOrder, g)
			continue
		}
		merged := mergePair(prev, &cur, a)
		merged.src, merged.srcs = prev.src, append(slices.Clip(prev.srcs), i)
		groups[g] = &merged
	}
	byID := func(x, y candidate) int { return cmp.Compare(x.app.ID, y.app.ID) }
	if !slices.IsSortedFunc(out, byID) {
		// Candidates are large: sort their indexes, then copy each once.
		idx := order.sort(len(out), func(i int) string { return out[i].app.ID })
		sorted := make([]candidate, len(out), len(out)+len(groupOrder))
		for i, j := range idx {
			sorted[i] = out[j]
		}
		out = sorted
	}
	slices.Sort(groupOrder)
	for _, g := range groupOrder {
		out = append(out, *groups[g])
	}
	return out
}

// mergePair merges cur (the app just met, raw) into prev.
func mergePair(prev, cur *candidate, raw *state.App) candidate {
	prevDate := deploymentStartedAt(prev.app.Labels)
	curDate := deploymentStartedAt(cur.app.Labels)
	old, nw := cur, prev
	if prevDate.Before(curDate) {
		old, nw = prev, cur
	}
	target := 1
	if _, ok := nw.app.Labels[LabelDeploymentNewInstances]; ok {
		if old.app.LastScalingAt.After(nw.app.LastScalingAt) {
			old, nw = nw, old
		}
		if n, err := parseInt(nw.app.Labels[LabelDeploymentTargetInstances]); err == nil {
			target = n
		}
	}
	healthyNew := 0
	if len(raw.HealthChecks) > 0 {
		for _, t := range nw.app.Tasks {
			if slices.Contains(t.Health, true) {
				healthyNew++
			}
		}
	} else {
		healthyNew = nw.app.Instances
	}
	maxDrainable := max(0, healthyNew+old.app.Instances-target)

	oldTasks := slices.Clone(old.app.Tasks)
	merged := candidate{app: new(state.App), taskApp: map[string]string{}}
	*merged.app = *old.app
	slices.SortFunc(oldTasks, func(x, y state.AppTask) int { return cmp.Compare(x.ID, y.ID) })
	for i := range min(len(oldTasks), healthyNew, maxDrainable) {
		oldTasks[i].Draining = true
	}
	merged.app.Tasks = append(oldTasks, nw.app.Tasks...)
	merged.members = append(append([]string(nil), old.members...), nw.members...)
	slices.Sort(merged.members)
	merged.members = slices.Compact(merged.members)
	for _, c := range []*candidate{old, nw} {
		for _, t := range c.app.Tasks {
			merged.taskApp[t.ID] = c.appOf(t.ID)
		}
	}
	return merged
}

// appOf returns the id of the app the task came from.
func (c *candidate) appOf(taskID string) string {
	if id, ok := c.taskApp[taskID]; ok {
		return id
	}
	return c.memberIDs()[0]
}

// deploymentStartedAt parses HAPROXY_DEPLOYMENT_STARTED_AT; the zero time
// when absent or unparseable (as marathon-lb's datetime.min).
func deploymentStartedAt(labels map[string]string) time.Time {
	v, ok := labels[LabelDeploymentStartedAt]
	if !ok {
		return time.Time{}
	}
	for _, layout := range []string{
		time.RFC3339Nano,
		"2006-01-02T15:04:05.999999999",
		"2006-01-02T15:04:05",
		"2006-01-02 15:04:05.999999999",
		"2006-01-02 15:04:05",
		"2006-01-02",
	} {
		if t, err := time.Parse(layout, strings.TrimSpace(v)); err == nil {
			return t
		}
	}
	return time.Time{}
}
