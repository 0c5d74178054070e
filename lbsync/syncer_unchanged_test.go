package lbsync

import (
	"slices"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/discovery-mesos/discovery/internal/haproxytest"
)

// TestSyncerSkipsSnapshotsThatChangeNoApp: a snapshot whose apps are those
// HAProxy runs (a Mesos view changing in Marathon mode) is processed without
// planning, rendering or writing the config; the next change of an app is
// applied as usual.
func TestSyncerSkipsSnapshotsThatChangeNoApp(t *testing.T) {
	rm := &realModel{}
	e := newLBEnv(t, withRealModel(t, rm))
	b1 := haproxytest.StartBackend(t, "127.0.0.2")
	b2 := haproxytest.StartBackend(t, "127.0.0.3")
	port := haproxytest.FreePort(t, "127.0.0.1")
	apps := []*haproxytest.Backend{b1}
	e.wait(rm.push(e, marathonApp("/web", port, nil, apps...)))
	renders := testutil.ToFloat64(e.s.applier.m.renders)

	e.wait(rm.push(e, marathonApp("/web", port, nil, slices.Clone(apps)...)))
	if got := testutil.ToFloat64(e.s.applier.m.renders); got != renders {
		t.Errorf("a snapshot that changed no app was rendered (%v renders, then %v)", renders, got)
	}
	if st := e.s.Status(); st.Via != "none" || st.Err != "" {
		t.Errorf("status after an unchanged snapshot: via %q, err %v", st.Via, st.Err)
	}

	e.wait(rm.push(e, marathonApp("/web", port, nil, b1, b2)))
	if st := e.s.Status(); st.Via != "runtime" {
		t.Errorf("a server added went via %q, want runtime", st.Via)
	}
	if got := testutil.ToFloat64(e.s.applier.m.renders); got != renders+1 {
		t.Errorf("%v renders after a server was added, want %v", got, renders+1)
	}
}
