package marathon

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"time"

	"github.com/discovery-mesos/discovery/state"
)

// AppsPath is the request discovery (like marathon-lb) makes for the
// whole app list: every app with its tasks, deployments and readiness results.
const AppsPath = "/v2/apps?embed=apps.tasks&embed=apps.deployments&embed=apps.readiness"

// DecodeApps parses a Marathon /v2/apps document (Marathon 0.x to 1.x, see
// AppsPath) into a sealed AppSet: apps sorted by ID, tasks by ID, Digest
// set. source and fetchedAt become the set's Source and FetchedAt.
//
// A truncated or malformed document, or one without an "apps" array, is an
// error: the caller keeps its last good set. A document with "apps": [] is a
// valid, empty set; of two "apps" arrays (never sent by Marathon) the last
// is the set. An app or task whose own data is invalid (no id, a port
// outside 0-65535, an ipAddress that is not an object) is left out of the set
// and listed in its LeftOut: app authors write those values, and one bad app
// must not freeze everyone's.
//
// How the app's network mode is found, and where its ports come from, follows
// marathon-lb:
//   - mode: "host" by default; a non-empty legacy ipAddress object makes it
//     "container"; container.docker.network BRIDGE makes it "container/bridge"
//     and USER "container"; the last of Marathon 1.5+'s networks[] wins over all
//     of these (a network without a mode is "container").
//   - ports, host mode: portDefinitions when the app has that field (even
//     empty), else the legacy ports list; each gives the ServicePort.
//   - ports, bridge and container modes: container.docker.portMappings, else
//     container.portMappings; a mapping without a service port takes it from
//     the host-mode list at the same index. With no mappings, a container-mode
//     app uses its ipAddress.discovery.ports (ContainerPort = number); otherwise
//     the host-mode list.
//
// Values that only one task gets wrong are dropped rather than failing the whole
// document: an IP address that does not parse is left out of AppTask.IPs, a
// timestamp that does not parse leaves StartedAt (or LastScalingAt) zero.
// AppTask.State is Marathon's string as sent, empty when the task has none (as in
// marathon-lb's test data; marathon-lb routes to such tasks). AppTask.Health is nil
// when the task has no healthCheckResults field and empty when the field is an
// empty list. AppTask.Ready is nil when Marathon reports no readiness result for
// the task, else whether every result for it is ready.
func DecodeApps(data []byte, source string, fetchedAt time.Time) (*state.AppSet, error) {
	return decodeAppsWith(newPullBytes(data), source, fetchedAt)
}

// DecodeAppsFrom is DecodeApps reading the document from rd as it arrives (an
// HTTP body), so that it is never held whole. An error reading rd fails the
// decode.
func DecodeAppsFrom(rd io.Reader, source string, fetchedAt time.Time) (*state.AppSet, error) {
	return decodeAppsWith(newPullReader(rd), source, fetchedAt)
}

// ErrInvalidApp is DecodeApp's error for an app whose own data is invalid
// (DecodeApps would leave it out), as opposed to a document that is not an
// app at all. The error is an *InvalidAppError.
var ErrInvalidApp = errors.New("invalid app")

// InvalidAppError is an app whose own data is invalid.
type InvalidAppError struct {
	ID  string
	Err error
}

func (e *InvalidAppError) Error() string { return "invalid app " + e.ID + ": " + e.Err.Error() }

// Is makes errors.Is(err, ErrInvalidApp) true.
func (e *InvalidAppError) Is(target error) bool { return target == ErrInvalidApp }

func (e *InvalidAppError) Unwrap() error { return e.Err }

// LeftOut is how the app is reported.
func (e *InvalidAppError) LeftOut() state.LeftOut { return appLeftOut(e.ID, e.Err) }

// appLeftOut reports an app left out for err (which names the app).
func appLeftOut(id string, err error) state.LeftOut {
	return state.LeftOut{ID: id, Reason: "app left out: " + err.Error()}
}

// DecodeApp parses the answer to GET /v2/apps/{id} ({"app": {...}}, which
// Marathon serves with tasks, deployments and readiness results embedded) into one
// App, its tasks sorted by ID, with the same rules as DecodeApps: the tasks
// left out are returned beside it, and an app left out is an error wrapping
// ErrInvalidApp. It is for refreshing one app after an event without
// refetching every app.
func DecodeApp(data []byte) (state.App, []state.LeftOut, error) {
	var doc struct {
		App *marathonApp `json:"app"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return state.App{}, nil, fmt.Errorf("decoding marathon app: %w", err)
	}
	if doc.App == nil {
		return state.App{}, nil, errors.New("decoding marathon app: document has no \"app\" object")
	}
	app, leftOut, err := convertMarathonApp(doc.App)
	if err != nil {
		return state.App{}, leftOut, &InvalidAppError{ID: doc.App.ID, Err: err}
	}
	slices.SortStableFunc(app.Tasks, func(a, b state.AppTask) int { return cmp.Compare(a.ID, b.ID) })
	return app, leftOut, nil
}

// convertMarathonApp converts one app; the tasks with invalid data are left
// out of it and returned, an app with invalid data is an error.
func convertMarathonApp(w *marathonApp) (state.App, []state.LeftOut, error) {
	if w.ID == "" {
		return state.App{}, nil, errors.New("no id")
	}
	ipa, err := legacyIPAddress(w.IPAddress)
	if err != nil {
		return state.App{}, nil, fmt.Errorf("%s: ipAddress: %w", w.ID, err)
	}
	app := state.App{
		ID:        w.ID,
		Labels:    w.Labels,
		Network:   networkMode(w, ipa != nil),
		Instances: w.Instances,
	}
	if app.Ports, err = appPorts(w, app.Network, ipa); err != nil {
		return state.App{}, nil, fmt.Errorf("%s: %w", w.ID, err)
	}
	for _, hc := range w.HealthChecks {
		if err := checkPort(hc.Port); err != nil {
			return state.App{}, nil, fmt.Errorf("%s: health check port: %w", w.ID, err)
		}
		app.HealthChecks = append(app.HealthChecks, state.HealthCheck{
			Protocol:               hc.Protocol,
			Path:                   hc.Path,
			PortIndex:              hc.PortIndex,
			Port:                   hc.Port,
			IntervalSeconds:        hc.IntervalSeconds,
			TimeoutSeconds:         hc.TimeoutSeconds,
			GracePeriodSeconds:     hc.GracePeriodSeconds,
			MaxConsecutiveFailures: hc.MaxConsecutiveFailures,
			IgnoreHTTP1xx:          hc.IgnoreHTTP1xx,
		})
	}
	for _, d := range w.Deployments {
		app.Deployments = append(app.Deployments, d.ID)
	}
	if w.VersionInfo != nil {
		app.LastScalingAt = parseMarathonTime(w.VersionInfo.LastScalingAt)
	}
	var ready map[string]bool
	if len(w.ReadinessCheckResults) > 0 {
		ready = make(map[string]bool, len(w.ReadinessCheckResults))
		for _, r := range w.ReadinessCheckResults {
			prev, seen := ready[r.TaskID]
			ready[r.TaskID] = r.Ready && (prev || !seen)
		}
	}
	app.Tasks = make([]state.AppTask, 0, len(w.Tasks))
	var leftOut []state.LeftOut
	for i := range w.Tasks {
		t, err := convertMarathonTask(&w.Tasks[i], ready)
		if err != nil {
			leftOut = append(leftOut, state.LeftOut{ID: w.Tasks[i].ID, App: w.ID, Reason: fmt.Sprintf("task %d of %s left out: %v", i, w.ID, err)})
			continue
		}
		app.Tasks = append(app.Tasks, t)
	}
	return app, leftOut, nil
}

func convertMarathonTask(w *marathonTask, ready map[string]bool) (state.AppTask, error) {
	if w.ID == "" {
		return state.AppTask{}, errors.New("no id")
	}
	if err := checkPorts(w.Ports); err != nil {
		return state.AppTask{}, fmt.Errorf("%s: ports: %w", w.ID, err)
	}
	if err := checkPorts(w.ServicePorts); err != nil {
		return state.AppTask{}, fmt.Errorf("%s: servicePorts: %w", w.ID, err)
	}
	t := state.AppTask{
		ID:           w.ID,
		AgentID:      w.SlaveID,
		Host:         w.Host,
		Ports:        w.Ports,
		ServicePorts: w.ServicePorts,
		State:        state.TaskState(w.State),
		Draining:     w.Draining,
		StartedAt:    parseMarathonTime(w.StartedAt),
		Version:      w.Version,
	}
	if t.AgentID == "" {
		t.AgentID = w.AgentID
	}
	for _, ip := range w.IPAddresses {
		if a, err := netip.ParseAddr(ip.IPAddress); err == nil {
			t.IPs = append(t.IPs, a.Unmap())
		}
	}
	if w.HealthChecks != nil {
		t.Health = make([]bool, 0, len(*w.HealthChecks))
		for _, r := range *w.HealthChecks {
			t.Health = append(t.Health, r.Alive)
		}
	}
	if r, ok := ready[w.ID]; ok {
		t.Ready = &r
	}
	return t, nil
}

// legacyIPAddress returns the app's pre-1.5 ipAddress definition, or nil when it
// is absent, null or an empty object (marathon-lb does not count those as
// IP-per-task).
func legacyIPAddress(raw json.RawMessage) (*marathonIPAddress, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, nil
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(raw, &keys); err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, nil
	}
	var ipa marathonIPAddress
	if err := json.Unmarshal(raw, &ipa); err != nil {
		return nil, err
	}
	return &ipa, nil
}

func networkMode(w *marathonApp, ipPerTask bool) state.NetworkMode {
	mode := state.NetworkHost
	if ipPerTask {
		mode = state.NetworkContainer
	}
	if w.Container != nil && w.Container.Docker != nil {
		switch w.Container.Docker.Network {
		case "USER":
			mode = state.NetworkContainer
		case "BRIDGE":
			mode = state.NetworkBridge
		}
	}
	for _, n := range w.Networks {
		if n.Mode == nil {
			mode = state.NetworkContainer
		} else {
			mode = state.NetworkMode(*n.Mode)
		}
	}
	return mode
}

func appPorts(w *marathonApp, mode state.NetworkMode, ipa *marathonIPAddress) ([]state.AppPort, error) {
	var hostStyle []state.AppPort
	if w.PortDefinitions != nil {
		for _, pd := range *w.PortDefinitions {
			hostStyle = append(hostStyle, state.AppPort{ServicePort: pd.Port, Name: pd.Name, Protocol: pd.Protocol, Labels: pd.Labels})
		}
	} else {
		for _, p := range w.Ports {
			hostStyle = append(hostStyle, state.AppPort{ServicePort: p})
		}
	}
	ports := hostStyle
	if mode != state.NetworkHost {
		var mappings []marathonPortMapping
		if w.Container != nil {
			mappings = w.Container.PortMappings
			if w.Container.Docker != nil && len(w.Container.Docker.PortMappings) > 0 {
				mappings = w.Container.Docker.PortMappings
			}
		}
		var discovery []marathonDiscoveryPort
		if ipa != nil && ipa.Discovery != nil {
			discovery = ipa.Discovery.Ports
		}
		switch {
		case len(mappings) > 0:
			ports = make([]state.AppPort, len(mappings))
			for i, m := range mappings {
				ports[i] = state.AppPort{ServicePort: m.ServicePort, ContainerPort: m.ContainerPort, HostPort: m.HostPort, Name: m.Name, Protocol: m.Protocol, Labels: m.Labels}
				if ports[i].ServicePort == 0 && i < len(hostStyle) {
					ports[i].ServicePort = hostStyle[i].ServicePort
				}
				if ports[i].ContainerPort == 0 && i < len(discovery) {
					ports[i].ContainerPort = discovery[i].Number
				}
			}
		case mode == state.NetworkContainer && len(discovery) > 0:
			ports = make([]state.AppPort, len(discovery))
			for i, d := range discovery {
				ports[i] = state.AppPort{ContainerPort: d.Number, Name: d.Name, Protocol: d.Protocol, Labels: d.Labels}
				if i < len(hostStyle) {
					ports[i].ServicePort = hostStyle[i].ServicePort
				}
			}
		}
	}
	for _, p := range ports {
		for _, n := range []int{p.ServicePort, p.ContainerPort, p.HostPort} {
			if err := checkPort(n); err != nil {
				return nil, fmt.Errorf("ports: %w", err)
			}
		}
	}
	return ports, nil
}

func checkPort(p int) error {
	if p < 0 || p > 65535 {
		return fmt.Errorf("port %d out of range", p)
	}
	return nil
}

func checkPorts(ps []int) error {
	for _, p := range ps {
		if err := checkPort(p); err != nil {
			return err
		}
	}
	return nil
}

// parseMarathonTime parses Marathon's ISO 8601 timestamps
// ("2016-02-01T22:14:03.432Z"); anything else is the zero time.
func parseMarathonTime(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t
}
