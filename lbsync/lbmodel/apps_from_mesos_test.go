package lbmodel

import (
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/discovery-mesos/discovery/state"
)

// mesosLBState is the view of a master with Marathon tasks labelled for the
// load balancer, as the Mesos sources decode it: a host-networked app with two
// tasks on fixed discovery ports, an IP-per-task app, a task of the same app
// id under a second Marathon, and tasks the load balancer must ignore.
func mesosLBState() *state.Cluster {
	healthy, unhealthy := true, false
	running := func(seconds int64) time.Time { return time.Unix(seconds, 0).UTC() }
	c := &state.Cluster{
		Source:    "test",
		FetchedAt: time.Unix(10, 0),
		Leader:    state.Master{PID: "master@127.0.0.1:5050", Host: "127.0.0.1", Port: 5050},
		Agents: []state.Agent{
			{ID: "a1", Hostname: "agent1.local", PID: "slave(1)@127.0.1.1:5051", Host: "127.0.1.1", Port: 5051, Active: true},
			{ID: "a2", Hostname: "agent2.local", PID: "slave(1)@127.0.1.2:5051", Host: "127.0.1.2", Port: 5051, Active: true},
		},
		Frameworks: []state.Framework{
			{ID: "fw-marathon", Name: "marathon", Active: true},
			{ID: "fw-marathon-2", Name: "Marathon User", Active: true},
		},
		Tasks: []*state.Task{
			{ID: "web_nginx.0f3a5b6c-1111-11e5-9836-026ee08d9f6f", Name: "nginx.web", FrameworkID: "fw-marathon",
				AgentID: "a1", State: state.TaskRunning,
				Labels:  []state.Label{{Key: "HAPROXY_GROUP", Value: "external"}, {Key: "HAPROXY_0_VHOST", Value: "old.example.com"}},
				Healthy: &healthy,
				Ports:   []state.PortRange{{Begin: 31000, End: 31000}, {Begin: 31001, End: 31001}},
				Discovery: &state.Discovery{Visibility: "FRAMEWORK", Name: "nginx.web", Ports: []state.DiscoveryPort{
					{Number: 31000, Name: "http", Protocol: "tcp"},
					{Number: 31001, Name: "admin", Protocol: "tcp", Labels: []state.Label{{Key: "VIP_0", Value: "/web:80"}}}}},
				RunningSince: running(1000)},
			{ID: "web_nginx.marathon-0f3a5b6c-2222-11e5-9836-026ee08d9f6f", Name: "nginx.web", FrameworkID: "fw-marathon",
				AgentID: "a2", State: state.TaskRunning,
				Labels:  []state.Label{{Key: "HAPROXY_GROUP", Value: "external"}, {Key: "HAPROXY_0_VHOST", Value: "new.example.com"}},
				Healthy: &unhealthy,
				Ports:   []state.PortRange{{Begin: 31000, End: 31001}},
				Discovery: &state.Discovery{Visibility: "FRAMEWORK", Name: "nginx.web", Ports: []state.DiscoveryPort{
					{Number: 31000, Name: "http", Protocol: "tcp"}, {Number: 31005, Name: "admin", Protocol: "tcp"}}},
				RunningSince: running(2000)},
			{ID: "ippt.instance-0f3a5b6c-3333-11e5-9836-026ee08d9f6f._app.1", Name: "ippt", FrameworkID: "fw-marathon",
				AgentID: "a1", State: state.TaskRunning,
				Labels:  []state.Label{{Key: "HAPROXY_0_GROUP", Value: "internal"}},
				NetInfo: []netip.Addr{netip.MustParseAddr("127.0.9.1")},
				Discovery: &state.Discovery{Visibility: "FRAMEWORK", Name: "ippt", Ports: []state.DiscoveryPort{
					{Number: 8080, Name: "http", Protocol: "tcp"}}},
				RunningSince: running(1500)},
			{ID: "labelled.1234", Name: "something", FrameworkID: "fw-marathon", AgentID: "a1", State: state.TaskRunning,
				Labels:       []state.Label{{Key: "HAPROXY_GROUP", Value: "external"}, {Key: "MARATHON_APP_ID", Value: "/group/real-id"}},
				Ports:        []state.PortRange{{Begin: 31100, End: 31100}},
				RunningSince: running(1)},
			{ID: "nolabels.5555", Name: "nolabels", FrameworkID: "fw-marathon", AgentID: "a1", State: state.TaskRunning,
				Labels: []state.Label{{Key: "OTHER", Value: "x"}},
				Ports:  []state.PortRange{{Begin: 31200, End: 31200}}},
			{ID: "web_nginx.aaaa", Name: "nginx.web", FrameworkID: "fw-marathon-2", AgentID: "a2", State: state.TaskRunning,
				Labels:       []state.Label{{Key: "HAPROXY_GROUP", Value: "external"}},
				Ports:        []state.PortRange{{Begin: 32000, End: 32000}},
				RunningSince: running(1)},
		},
	}
	return c.Seal()
}

func TestAppsFromMesos(t *testing.T) {
	set := AppSetFromMesos(mesosLBState())
	if set.Source != "test" || set.Digest == 0 {
		t.Errorf("set source %q digest %d", set.Source, set.Digest)
	}
	var ids []string
	for _, a := range set.Apps {
		ids = append(ids, a.ID)
	}
	want := []string{"/group/real-id", "/ippt", "/marathon-user/web/nginx", "/web/nginx"}
	if !reflect.DeepEqual(ids, want) {
		t.Fatalf("apps %v, want %v", ids, want)
	}
	byID := map[string]state.App{}
	for _, a := range set.Apps {
		byID[a.ID] = a
	}

	web := byID["/web/nginx"]
	if web.Network != state.NetworkHost || web.Instances != 2 || len(web.Tasks) != 2 {
		t.Fatalf("web: %+v", web)
	}
	// The newest task's labels speak for the app.
	if web.Labels["HAPROXY_0_VHOST"] != "new.example.com" {
		t.Errorf("labels %v", web.Labels)
	}
	// Port 0 is 31000 on every task: a service port; port 1 differs.
	wantPorts := []state.AppPort{
		{ServicePort: 31000, HostPort: 31000, Name: "http", Protocol: "tcp"},
		{Name: "admin", Protocol: "tcp"},
	}
	if !reflect.DeepEqual(web.Ports, wantPorts) {
		t.Errorf("web ports %+v, want %+v", web.Ports, wantPorts)
	}
	t0, t1 := web.Tasks[0], web.Tasks[1]
	if t0.Host != "127.0.1.1" || !reflect.DeepEqual(t0.Ports, []int{31000, 31001}) || !reflect.DeepEqual(t0.Health, []bool{true}) {
		t.Errorf("task 0 %+v", t0)
	}
	if t1.Host != "127.0.1.2" || !reflect.DeepEqual(t1.Ports, []int{31000, 31005}) || !reflect.DeepEqual(t1.Health, []bool{false}) {
		t.Errorf("task 1 %+v", t1)
	}
	if t0.State != state.TaskRunning || t0.StartedAt.IsZero() {
		t.Errorf("task 0 state %q started %v", t0.State, t0.StartedAt)
	}

	ippt := byID["/ippt"]
	if ippt.Network != state.NetworkContainer || len(ippt.Ports) != 1 || ippt.Ports[0].ContainerPort != 8080 || ippt.Ports[0].ServicePort != 8080 {
		t.Errorf("ippt %+v", ippt)
	}
	if tk := ippt.Tasks[0]; !reflect.DeepEqual(tk.IPs, []netip.Addr{netip.MustParseAddr("127.0.9.1")}) || tk.Ports != nil {
		t.Errorf("ippt task %+v", tk)
	}

	if real := byID["/group/real-id"]; len(real.Ports) != 1 || real.Ports[0].ServicePort != 0 || real.Tasks[0].Ports[0] != 31100 {
		t.Errorf("MARATHON_APP_ID app %+v", real)
	}
}

func TestMarathonAppID(t *testing.T) {
	tests := []struct {
		task state.Task
		want string
	}{
		{state.Task{ID: "nginx.0f3a5b6c-1111-11e5-9836-026ee08d9f6f"}, "/nginx"},
		{state.Task{ID: "web_nginx.0f3a5b6c-1111-11e5-9836-026ee08d9f6f"}, "/web/nginx"},
		{state.Task{ID: "a_b_c.marathon-0f3a5b6c-1111-11e5-9836-026ee08d9f6f"}, "/a/b/c"},
		{state.Task{ID: "web_nginx.instance-0f3a5b6c-1111-11e5-9836-026ee08d9f6f._app.1"}, "/web/nginx"},
		{state.Task{ID: "dotted.name_app.marathon-0f3a"}, "/dotted.name/app"},
		{state.Task{ID: "noid", Name: "fallback"}, "/fallback"},
		{state.Task{ID: "noid"}, ""},
		{state.Task{ID: "x.1", Labels: []state.Label{{Key: LabelMarathonAppID, Value: "grp/app"}}}, "/grp/app"},
	}
	for _, tt := range tests {
		if got := marathonAppID(&tt.task); got != tt.want {
			t.Errorf("%q: %q, want %q", tt.task.ID, got, tt.want)
		}
	}
}
