package lbmodel

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/discovery-mesos/discovery/state"
)

// service is one selected app port: what becomes a frontend, a backend and
// its vhost routing.
type service struct {
	appID string
	// members are the ids of the apps whose tasks are in it (two during a
	// blue/green deployment).
	members     []string
	index       int
	servicePort int
	labels      PortLabels
	// groups are the port's effective groups (HAPROXY_{n}_GROUP, else
	// HAPROXY_GROUP).
	groups      []string
	healthCheck *state.HealthCheck
	// mode is "http" or "tcp" once resolved (resolveMode).
	mode      string
	endpoints []endpoint
	// lingering: the app's last task ended a moment ago (appLinger); the
	// service is kept with no server.
	lingering bool
	// since is the app's Marathon lastScalingAt (zero when unknown): among
	// newcomers claiming one port or route, the earliest wins.
	since time.Time
	// claims are the keys of what the service claims (claimsOf).
	claims *serviceClaims
	// outcome is what the latest build did with the service (see
	// builder.addService); a service kept by a ModelCache carries it over.
	outcome serviceOutcome
}

// endpoint is one task behind a service port.
type endpoint struct {
	// host is the agent the task runs on, as Marathon names it.
	host string
	ip   netip.Addr
	port int
	// healthPort is the task's port at HAPROXY_{n}_BACKEND_HEALTHCHECK_PORT_INDEX,
	// 0 when unset.
	healthPort int
	draining   bool
	taskID     string
	appID      string
}

// selection is the outcome of selectServices.
type selection struct {
	services []*service
	errors   []AppError
}

// selectServices turns apps into the services the config will hold: merges
// blue/green pairs, parses labels, assigns service ports, keeps the ports of
// the selected groups that are enabled, and puts in each the tasks that may
// receive traffic. Apps whose labels are bad are reported, not selected.
func selectServices(apps []state.App, cfg *Config, opts *BuildOptions) selection {
	var sel selection
	env := newSelectEnv(cfg, opts)
	for _, c := range mergeDeploymentGroups(excludeApps(apps, opts.Exclude)) {
		if env.skip(&c) {
			continue
		}
		p := env.prepare(&c)
		if p.err != nil {
			sel.errors = append(sel.errors, *p.err)
			continue
		}
		svcs, errs := env.selectCandidate(&c, &p)
		sel.errors = append(sel.errors, errs...)
		sel.services = append(sel.services, svcs...)
	}
	sortServices(sel.services)
	return sel
}

// excludeApps returns apps without those exclude names (apps itself when none
// is left out).
func excludeApps(apps []state.App, exclude map[string]bool) []state.App {
	if len(exclude) == 0 {
		return apps
	}
	filtered := make([]state.App, 0, len(apps))
	for i := range apps {
		if !exclude[apps[i].ID] {
			filtered = append(filtered, apps[i])
		}
	}
	return filtered
}

// sortServices puts services in marathon-lb's order: by app id, then service
// port (stable: ties keep their candidate order).
func sortServices(svcs []*service) {
	cmpSvc := func(a, b *service) int {
		if a.appID != b.appID {
			return strings.Compare(a.appID, b.appID)
		}
		return a.servicePort - b.servicePort
	}
	if !slices.IsSortedFunc(svcs, cmpSvc) {
		slices.SortStableFunc(svcs, cmpSvc)
	}
}

// selectEnv is what the selection of one candidate reads beyond the
// candidate itself: the config, the resolver, the previous model's servers
// (--health-check) and the service port assigner shared by all candidates.
type selectEnv struct {
	cfg       *Config
	exclude   map[string]bool
	resolve   func(string) (netip.Addr, bool)
	wasServer func(taskID string) bool
	assigner  *servicePortAssigner
	groupsAll bool
}

func newSelectEnv(cfg *Config, opts *BuildOptions) *selectEnv {
	return &selectEnv{
		cfg:       cfg,
		exclude:   opts.Exclude,
		resolve:   opts.resolver(),
		wasServer: opts.wasServer(),
		assigner:  newServicePortAssigner(cfg.MinServPortIPPerTask, cfg.MaxServPortIPPerTask),
		groupsAll: slices.Contains(cfg.Groups, "*"),
	}
}

// skip says whether a candidate is left out before anything is read from it:
// excluded by its (group) id, or the framework's own app.
func (e *selectEnv) skip(c *candidate) bool {
	if e.exclude[c.app.ID] {
		return true
	}
	return e.cfg.FrameworkName != "" && strings.TrimPrefix(c.app.ID, "/") == e.cfg.FrameworkName
}

// candidatePrep is the part of a candidate's selection that depends on the
// candidates before it (the service port assigner): it is done for every
// candidate of every build, in order.
type candidatePrep struct {
	groups       []string
	err          *AppError
	servicePorts []int
	// assigned: the service ports came from the assigner (else prepare is a
	// function of the candidate alone).
	assigned bool
}

func (e *selectEnv) prepare(c *candidate) candidatePrep {
	groups, err := appGroups(c.app.Labels)
	if err == nil {
		err = checkAppID(c.app.ID)
	}
	if err != nil {
		return candidatePrep{err: &AppError{AppID: c.app.ID, Port: -1, Reason: err.Error()}}
	}
	ports, assigned := appServicePorts(c.app, e.assigner)
	return candidatePrep{groups: groups, servicePorts: ports, assigned: assigned}
}

// selectCandidate returns the services of one candidate and the errors of its
// ports. Besides c and p it reads only e.cfg, e.resolve and e.wasServer.
func (e *selectEnv) selectCandidate(c *candidate, p *candidatePrep) ([]*service, []AppError) {
	cfg := e.cfg
	app := c.app
	var services []*service
	var errs []AppError
	members := c.memberIDs()
	servicePorts := p.servicePorts
	portServices := make([]*service, len(servicePorts)) // by port index; nil when skipped
	origPort := make([]int, len(servicePorts))
	for n, sp := range servicePorts {
		if sp == 0 {
			continue
		}
		labels, err := ParsePortLabels(app.Labels, n, cfg.StrictMode)
		if err == nil {
			err = checkLabelFiles(&labels, n, cfg.certDirs())
		}
		if err != nil {
			errs = append(errs, AppError{AppID: app.ID, Port: n, Reason: err.Error()})
			continue
		}
		if other := slices.Index(origPort[:n], sp); other >= 0 && portServices[other] != nil {
			errs = append(errs, AppError{AppID: app.ID, Port: n,
				Reason: fmt.Sprintf("service port %d is also port %d's", sp, other)})
			continue
		}
		svc := &service{
			appID:       app.ID,
			members:     members,
			index:       n,
			servicePort: sp,
			labels:      labels,
			groups:      p.groups,
			healthCheck: findHealthCheck(app.HealthChecks, n),
			lingering:   lingering(app),
			since:       app.LastScalingAt,
		}
		if labels.Port != 0 {
			svc.servicePort = labels.Port
		}
		if labels.Groups != nil {
			svc.groups = labels.Groups
		}
		if svc.healthCheck == nil && labels.HealthCheckPortIndex >= 0 {
			svc.healthCheck = findHealthCheck(app.HealthChecks, labels.HealthCheckPortIndex)
		}
		if hc := svc.healthCheck; hc != nil {
			if err := checkHealthPath(hc.Path); err != nil {
				errs = append(errs, AppError{AppID: app.ID, Port: n, Reason: "health check path: " + err.Error()})
				continue
			}
		}
		svc.resolveMode()
		origPort[n] = sp
		portServices[n] = svc
	}
	healthGated := cfg.HealthCheck && len(app.HealthChecks) > 0
	for ti := range app.Tasks {
		t := &app.Tasks[ti]
		if t.Host == "" && app.Network != state.NetworkContainer {
			continue
		}
		if !routable(t.State, cfg.SkipUnreachableTasks) {
			continue
		}
		if (healthGated || (cfg.HealthCheck && len(t.Health) > 0)) && !taskHealthy(t, e.wasServer) {
			continue
		}
		ip, ports, ok := taskAddress(app, t, e.resolve)
		if !ok {
			continue
		}
		draining := t.Draining
		for n := range min(len(ports), len(portServices)) {
			svc := portServices[n]
			if svc == nil {
				continue
			}
			ep := endpoint{host: t.Host, ip: ip, port: ports[n], draining: draining,
				taskID: t.ID, appID: c.appOf(t.ID)}
			if k := svc.labels.HealthCheckPortIndex; k >= 0 && k < len(ports) {
				ep.healthPort = ports[k]
			}
			if ep.host == "" {
				ep.host = ip.String()
			}
			if svc.endpoints == nil {
				svc.endpoints = make([]endpoint, 0, len(app.Tasks))
			}
			svc.endpoints = append(svc.endpoints, ep)
		}
	}
	for _, svc := range portServices {
		if svc == nil || len(svc.endpoints) == 0 && !svc.lingering {
			continue
		}
		if !svc.labels.Enabled {
			continue
		}
		if !e.groupsAll && !intersects(cfg.Groups, svc.groups) {
			continue
		}
		services = append(services, svc)
	}
	return services, errs
}

func intersects(a, b []string) bool {
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}

// appServicePorts returns the service port of each app port (0: none), with
// IP-per-task apps that have none at all given some from the configured range
// (assigned is then true).
func appServicePorts(app *state.App, assigner *servicePortAssigner) (ports []int, assigned bool) {
	ports = make([]int, len(app.Ports))
	anySet := false
	for i, p := range app.Ports {
		ports[i] = p.ServicePort
		if p.ServicePort != 0 {
			anySet = true
		}
	}
	if anySet || app.Network != state.NetworkContainer || !assigner.enabled() || len(app.Tasks) == 0 {
		// A HAPROXY_{n}_PORT label still gives an unassigned port a service
		// port; mark those ports present.
		for i := range ports {
			if ports[i] == 0 {
				if _, ok := app.Labels[fmt.Sprintf("HAPROXY_%d_PORT", i)]; ok {
					ports[i] = -1 - i // placeholder, replaced by the label
				}
			}
		}
		return ports, false
	}
	for i, p := range app.Ports {
		ports[i] = assigner.assign(app.ID, p.ContainerPort)
	}
	return ports, true
}

// findHealthCheck is marathon-lb's choice of the health check for port n: the
// first with a fixed port, or the first for port index n.
func findHealthCheck(checks []state.HealthCheck, n int) *state.HealthCheck {
	for i := range checks {
		hc := &checks[i]
		if hc.Port != 0 {
			return hc
		}
		if hc.PortIndex == n && hc.Protocol != "COMMAND" {
			return hc
		}
	}
	return nil
}

// resolveMode applies marathon-lb's defaults: the MODE label, else http for an
// HTTP health check (or one borrowed with HAPROXY_{n}_BACKEND_HEALTHCHECK_PORT_INDEX
// of any HTTP kind), else http with a vhost, else tcp.
func (s *service) resolveMode() {
	switch {
	case s.labels.Mode != "":
		s.mode = s.labels.Mode
	case s.healthCheck != nil && s.healthCheck.Protocol == "HTTP":
		s.mode = "http"
	case s.healthCheck != nil && s.labels.HealthCheckPortIndex >= 0 &&
		slices.Contains([]string{"HTTPS", "MESOS_HTTP", "MESOS_HTTPS"}, s.healthCheck.Protocol):
		s.mode = "http"
	case s.labels.VHost != "":
		s.mode = "http"
	default:
		s.mode = "tcp"
	}
}

// taskHealthy says whether a task may receive traffic under --health-check:
// one passing check suffices; a task Marathon has no results for yet keeps the
// status it had (it was a server of the previous model), as marathon-lb's
// result cache does.
func taskHealthy(t *state.AppTask, wasServer func(taskID string) bool) bool {
	if len(t.Health) == 0 {
		return wasServer(t.ID)
	}
	return slices.Contains(t.Health, true)
}

// taskAddress returns where a task's ports are reached: the task's own
// address and the container ports for IP-per-task apps, the agent's address
// and the host ports otherwise.
func taskAddress(app *state.App, t *state.AppTask, resolve func(string) (netip.Addr, bool)) (netip.Addr, []int, bool) {
	if app.Network == state.NetworkContainer {
		if len(t.IPs) == 0 {
			return netip.Addr{}, nil, false
		}
		ports := make([]int, len(app.Ports))
		for i, p := range app.Ports {
			ports[i] = p.ContainerPort
		}
		// Container ports with a host port mapped are reached on the host
		// too, but the task address is what marathon-lb uses.
		return t.IPs[0].Unmap(), ports, true
	}
	ip, ok := resolve(t.Host)
	if !ok {
		return netip.Addr{}, nil, false
	}
	return ip, t.Ports, true
}

// SnapshotApps returns the apps of a snapshot the load balancer serves: the
// Marathon view when a Marathon source runs, else the apps derived from the
// Mesos view's labelled tasks (AppsFromMesos); nil before either has
// arrived.
func SnapshotApps(snap *state.Snapshot) []state.App {
	switch {
	case snap == nil:
		return nil
	case snap.Apps != nil:
		return snap.Apps.Apps
	case snap.Cluster != nil:
		return AppsFromMesos(snap.Cluster)
	}
	return nil
}
