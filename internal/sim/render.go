package sim

import (
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/discovery-mesos/discovery/internal/fakemarathon"
)

// Rendering of the simulator's model in the wire shapes: Mesos /master/state
// objects (which the fake master also turns into v1 operator API events) and
// Marathon apps and tasks.

type obj = map[string]any

// Agents advertise this port range; tasks get their host ports from it.
const (
	agentPortFirst = 31000
	agentPortLast  = 32999
)

func mesosTimestamp(t time.Time) json.Number {
	return json.Number(strconv.FormatFloat(float64(t.UnixMicro())/1e6, 'f', 6, 64))
}

// mesosAgent renders an agent as /master/state lists it.
func mesosAgent(a *agent) obj {
	ip := a.ip.String()
	return obj{
		"id":       a.id,
		"hostname": ip,
		"pid":      "slave(1)@" + ip + ":5051",
		"active":   true,
		"resources": obj{
			"cpus": 8, "mem": 15360, "disk": 100000,
			"ports": "[" + strconv.Itoa(agentPortFirst) + "-" + strconv.Itoa(agentPortLast) + "]",
		},
		"attributes":      obj{"sim": "true"},
		"registered_time": mesosTimestamp(a.since),
	}
}

// mesosFramework renders the Marathon framework (without its tasks).
func (c *Cluster) mesosFramework() obj {
	host, port := c.marathon.Addr(), ""
	if i := strings.LastIndexByte(host, ':'); i >= 0 {
		host, port = host[:i], host[i+1:]
	}
	return obj{
		"id":           c.fwID,
		"name":         frameworkName,
		"hostname":     host,
		"pid":          "scheduler-" + c.fwID + "@" + host + ":" + port,
		"webui_url":    c.marathon.URL(),
		"active":       true,
		"role":         "*",
		"user":         "root",
		"principal":    "marathon",
		"capabilities": []any{"PARTITION_AWARE", "TASK_KILLING_STATE"},
	}
}

// mesosStatus is a task status; running statuses carry the task's address
// (host networking: the agent's) and its health.
func mesosStatus(t *task, state string, at time.Time) obj {
	st := obj{"state": state, "timestamp": mesosTimestamp(at), "source": "SOURCE_EXECUTOR"}
	if state == "TASK_RUNNING" {
		st["healthy"] = t.healthy
		st["container_status"] = obj{"network_infos": []any{
			obj{"ip_addresses": []any{obj{"ip_address": t.agent.ip.String()}}},
		}}
	}
	return st
}

// mesosTask renders a task as /master/state lists it, in state with the given
// statuses: what Marathon's TaskInfo becomes — the app's labels, one port
// resource and a DiscoveryInfo port per host port.
func (c *Cluster) mesosTask(t *task, state string, statuses []any) obj {
	a := t.app
	ranges := make([]string, len(t.ports))
	ports := make([]any, len(t.ports))
	for i, p := range t.ports {
		ranges[i] = strconv.Itoa(p) + "-" + strconv.Itoa(p)
		port := obj{"number": p, "name": portName(i), "protocol": "tcp"}
		if i == 0 && len(a.portLabels) > 0 {
			port["labels"] = obj{"labels": mesosLabels(a.portLabels)}
		}
		ports[i] = port
	}
	return obj{
		"id":           t.id,
		"name":         a.taskName,
		"framework_id": c.fwID,
		"executor_id":  "",
		"slave_id":     t.agent.id,
		"state":        state,
		"resources": obj{
			"cpus": 0.1, "mem": 32, "disk": 0,
			"ports": "[" + strings.Join(ranges, ", ") + "]",
		},
		"labels":   mesosLabels(a.labels),
		"statuses": statuses,
		"discovery": obj{
			"visibility": "FRAMEWORK",
			"name":       a.taskName,
			"ports":      obj{"ports": ports},
		},
	}
}

func portName(i int) string {
	if i == 0 {
		return "http"
	}
	return "port" + strconv.Itoa(i)
}

// mesosLabels renders labels as a Mesos label list, sorted by key.
func mesosLabels(l map[string]string) []any {
	out := make([]any, 0, len(l))
	for _, k := range slices.Sorted(maps.Keys(l)) {
		out = append(out, obj{"key": k, "value": l[k]})
	}
	return out
}

// marathonApp renders an app's definition (without tasks) as Marathon serves
// it: host networking, one port definition (the service port), one HTTP
// health check.
func marathonApp(a *app) fakemarathon.App {
	cmd := "exec sim-backend"
	zero := 0
	return fakemarathon.App{
		ID:        a.id,
		Cmd:       &cmd,
		Instances: a.instances,
		Cpus:      0.1,
		Mem:       32,
		Labels:    maps.Clone(a.labels),
		PortDefinitions: []fakemarathon.PortDefinition{
			{Port: a.servicePort, Name: portName(0), Protocol: "tcp", Labels: maps.Clone(a.portLabels)},
		},
		HealthChecks: []fakemarathon.HealthCheck{{
			Protocol: "HTTP", Path: "/", PortIndex: &zero,
			GracePeriodSeconds: 300, IntervalSeconds: 10, TimeoutSeconds: 5, MaxConsecutiveFailures: 3,
		}},
	}
}

func marathonTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// marathonTask renders a running task as /v2/apps?embed=apps.tasks lists it.
func marathonTask(t *task) fakemarathon.Task {
	ip := t.agent.ip.String()
	at := marathonTime(t.started)
	now := at
	hc := fakemarathon.HealthCheckResult{Alive: t.healthy, InstanceID: t.id}
	if t.healthy {
		hc.FirstSuccess, hc.LastSuccess = &now, &now
	} else {
		cause := "503 Service Unavailable"
		hc.LastFailure, hc.LastFailureCause, hc.ConsecutiveFailures = &now, &cause, 1
	}
	return fakemarathon.Task{
		ID:                 t.id,
		AppID:              t.app.id,
		Host:               ip,
		IPAddresses:        []fakemarathon.IPAddr{{IPAddress: ip, Protocol: "IPv4"}},
		Ports:              slices.Clone(t.ports),
		ServicePorts:       []int{t.app.servicePort},
		SlaveID:            t.agent.id,
		State:              "TASK_RUNNING",
		StagedAt:           at,
		StartedAt:          &at,
		HealthCheckResults: []fakemarathon.HealthCheckResult{hc},
		LocalVolumes:       []any{},
	}
}

// mesosDocument renders the whole /master/state document of the current
// model. Callers hold c.mu.
func (c *Cluster) mesosDocumentLocked() ([]byte, error) {
	slaves := make([]any, len(c.agents))
	for i, a := range c.agents {
		slaves[i] = mesosAgent(a)
	}
	var tasks []any
	for _, a := range c.apps {
		for _, t := range a.tasks {
			tasks = append(tasks, c.mesosTask(t, "TASK_RUNNING", []any{
				mesosStatus(t, "TASK_STAGING", t.started),
				mesosStatus(t, "TASK_RUNNING", t.started),
			}))
		}
	}
	fw := c.mesosFramework()
	fw["tasks"] = orEmpty(tasks)
	fw["completed_tasks"] = []any{}
	doc := obj{
		"version":                 "1.11.0",
		"git_tag":                 "1.11.0",
		"cluster":                 "sim",
		"start_time":              mesosTimestamp(c.start),
		"elected_time":            mesosTimestamp(c.start),
		"activated_slaves":        len(c.agents),
		"deactivated_slaves":      0,
		"slaves":                  slaves,
		"frameworks":              []any{fw},
		"completed_frameworks":    []any{},
		"orphan_tasks":            []any{},
		"unregistered_frameworks": []any{},
	}
	return json.Marshal(doc)
}

func orEmpty(v []any) []any {
	if v == nil {
		return []any{}
	}
	return v
}
