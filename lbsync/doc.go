// Package lbsync keeps a real HAProxy in step with the apps labelled
// HAPROXY_GROUP, as marathon-lb does, without dropping connections.
//
// What HAProxy should run is decided by the pure package lbmodel (labels,
// selection, templates, the Model, rendering, the Plan); this package does
// everything that has a side effect, so that the decisions stay testable
// without a HAProxy and the side effects stay in one place:
//
//   - The Syncer takes the latest snapshot (never blocking a source), builds
//     its Model and applies the Plan from the Model HAProxy runs. When only
//     servers changed, the Runtime API does the job (runtime.go) and the
//     config file is rewritten to agree; otherwise the rendered config is
//     validated with haproxy -c, written atomically and HAProxy is reloaded
//     through its master socket (apply.go). The server changes that come with
//     a structural one are made through the Runtime API first
//     (lbmodel.BridgeModel), so that traffic never waits for a reload to
//     leave a dead task; and the servers of the snapshots that arrive while
//     haproxy -c runs go into the config the reload loads, when nothing but
//     servers changed (apply_fresh.go), so that the new worker does not
//     start with the tasks of a config a check-time old.
//   - A config that fails validation is bisected (bisect.go): the apps that
//     break it are left out and reported, everyone else is applied.
//   - Reloads are archived (archive.go), HAProxy is started, supervised and
//     restarted (haproxy*.go), the templates directory is watched
//     (templates_watch.go), and marathon-lb's HTTP endpoints are served
//     (httpapi.go).
//   - After every reload, and every few seconds, one listener is checked to
//     accept connections (watchListeners): HAProxy 2.6 can leave its
//     listeners paused by a reload, and another reload mends it.
//   - App authors are not trusted (docs/security.md): HAProxy runs with a
//     minimal environment (haproxy_env.go), the config files are not world
//     readable (apply_write.go), what HAProxy quotes from other files is cut
//     out of what we publish (haproxy_redact.go), and who holds which port
//     and vhost is kept across restarts (claims_file.go).
package lbsync
