// Package lbmodel decides what HAProxy should run for the apps labelled
// HAPROXY_GROUP, as marathon-lb does: marathon-lb's labels and flags
// (Config), the selection of apps and ports by group (blue/green pairs and
// assigned service ports included), the templates and their format language,
// the Model — frontends, backends, servers, map files and the apps left out —
// and its incremental cache, the rendering of a Model into config bytes, and
// the Plan that brings a running Model to the next one (Runtime API
// operations, or the reasons for a reload).
//
// It is a package of its own, apart from lbsync which carries plans out,
// because everything here is a pure function of its inputs: no process, no
// socket, no file written. The same apps, Config and Templates give the same
// Model and the same bytes, so the decision "runtime change or reload" is a
// value that table tests and golden files (testdata/golden, refreshed with
// -update) pin down without a HAProxy, and that benchmarks measure without
// I/O. lbsync imports it; it never imports lbsync. The name is lbmodel
// rather than model so that the package does not take the name callers give
// their models.
//
// One bad app must never block the others: a label that does not parse, a
// value that would break out of its line, or a per-app template that does not
// render leaves that app (port) out and lists it in Model.Errors; everything
// else is built.
//
// Labels come from app authors, who are not the operator: each is checked
// for its role before it reaches a template (labels_validate.go), so that it
// stays data and never becomes HAProxy syntax; template labels apply as the
// operator's policy says (template_labels.go); and a service port or vhost
// stays with the app that holds it (model_owners.go).
//
// Reloads are what let stale servers linger and cost CPU, so the model avoids
// them where marathon-lb did not: an app known only from its Mesos tasks
// keeps its frontend and an empty backend for a while after its last task
// ended (appLinger), so a restart of a single-instance app is a Runtime API
// change. When structural and server changes come together, BridgeModel is
// the model between them that the Runtime API alone can reach.
package lbmodel
