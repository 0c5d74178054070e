// Package lbsync keeps a real HAProxy in step with the apps labelled
// HAPROXY_GROUP, as marathon-lb does, without dropping connections.
//
// The work is split in two halves so that the decision "runtime change or
// reload" is cheap and testable:
//
//   - The pure half (labels.go, select*.go, model*.go, templates*.go,
//     render.go) turns apps into a Model — frontends, backends, servers, map
//     files and the apps left out — with marathon-lb's labels, flags and
//     templates, and renders it deterministically. BuildModel never touches
//     the network or the disk: same input, same model, same bytes.
//   - The applying half compares the model HAProxy runs with the new one.
//     When they are StructuralEqual, only servers changed and the Runtime API
//     does the job; otherwise the rendered config is validated and HAProxy is
//     reloaded through its master socket. The server changes that come with a
//     structural one are made through the Runtime API first (BridgeModel), so
//     that traffic never waits for a reload to leave a dead task. After every
//     reload, and every few seconds, one listener is checked to accept
//     connections (watchListeners): HAProxy 2.6 can leave its listeners
//     paused by a reload, and another reload mends it.
//
// Reloads are what let stale servers linger and cost CPU, so the model avoids
// them where marathon-lb did not: an app known only from its Mesos tasks keeps
// its frontend and an empty backend for a while after its last task ended
// (appLinger), so a restart of a single-instance app is a Runtime API change.
//
// One bad app must never block the others: a label that does not parse, a
// value that would break out of its line, or a per-app template that does not
// render leaves that app (port) out and lists it in Model.Errors; everything
// else is built.
package lbsync
