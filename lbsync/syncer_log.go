package lbsync

import (
	"strconv"
	"strings"

	"github.com/discovery-mesos/discovery/lbsync/lbmodel"
)

// opsShown is how many runtime operations a log line spells out; the count
// says how many there were.
const opsShown = 3

// opsSummary spells out the first runtime operations of a change ("add
// web_10000/web_1 127.0.0.2:31000; remove …"), so that the operator reading
// the log sees which servers came and went without turning on debug.
func opsSummary(ops []lbmodel.RuntimeOp) string {
	parts := make([]string, 0, min(len(ops), opsShown)+1)
	for i := range min(len(ops), opsShown) {
		parts = append(parts, ops[i].String())
	}
	if len(ops) > opsShown {
		parts = append(parts, "and "+strconv.Itoa(len(ops)-opsShown)+" more")
	}
	return strings.Join(parts, "; ")
}
