package state

import (
	"net/netip"
	"reflect"
	"testing"
	"time"
)

// mesosLBState is a master state with Marathon tasks labelled for the load
// balancer: a host-networked app with two tasks on fixed discovery ports, an
// IP-per-task app, a task of the same app id under a second Marathon, and
// tasks the load balancer must ignore.
const mesosLBState = `{
  "leader": "master@127.0.0.1:5050",
  "slaves": [
    {"id": "a1", "hostname": "agent1.local", "pid": "slave(1)@127.0.1.1:5051"},
    {"id": "a2", "hostname": "agent2.local", "pid": "slave(1)@127.0.1.2:5051"}
  ],
  "frameworks": [
    {"id": "fw-marathon", "name": "marathon", "tasks": [
      {"id": "web_nginx.0f3a5b6c-1111-11e5-9836-026ee08d9f6f", "name": "nginx.web", "framework_id": "fw-marathon",
       "slave_id": "a1", "state": "TASK_RUNNING",
       "labels": [{"key": "HAPROXY_GROUP", "value": "external"}, {"key": "HAPROXY_0_VHOST", "value": "old.example.com"}],
       "resources": {"ports": "[31000-31000, 31001-31001]"},
       "discovery": {"visibility": "FRAMEWORK", "name": "nginx.web", "ports": {"ports": [
         {"number": 31000, "name": "http", "protocol": "tcp"}, {"number": 31001, "name": "admin", "protocol": "tcp", "labels": {"labels": [{"key": "VIP_0", "value": "/web:80"}]}}]}},
       "statuses": [{"state": "TASK_RUNNING", "timestamp": 1000.0, "healthy": true}]},
      {"id": "web_nginx.marathon-0f3a5b6c-2222-11e5-9836-026ee08d9f6f", "name": "nginx.web", "framework_id": "fw-marathon",
       "slave_id": "a2", "state": "TASK_RUNNING",
       "labels": [{"key": "HAPROXY_GROUP", "value": "external"}, {"key": "HAPROXY_0_VHOST", "value": "new.example.com"}],
       "resources": {"ports": "[31000-31001]"},
       "discovery": {"visibility": "FRAMEWORK", "name": "nginx.web", "ports": {"ports": [
         {"number": 31000, "name": "http", "protocol": "tcp"}, {"number": 31005, "name": "admin", "protocol": "tcp"}]}},
       "statuses": [{"state": "TASK_RUNNING", "timestamp": 2000.0, "healthy": false}]},
      {"id": "ippt.instance-0f3a5b6c-3333-11e5-9836-026ee08d9f6f._app.1", "name": "ippt", "framework_id": "fw-marathon",
       "slave_id": "a1", "state": "TASK_RUNNING",
       "labels": [{"key": "HAPROXY_0_GROUP", "value": "internal"}],
       "resources": {"ports": "[]"},
       "discovery": {"visibility": "FRAMEWORK", "name": "ippt", "ports": {"ports": [{"number": 8080, "name": "http", "protocol": "tcp"}]}},
       "statuses": [{"state": "TASK_RUNNING", "timestamp": 1500.0,
         "container_status": {"network_infos": [{"ip_addresses": [{"ip_address": "127.0.9.1"}]}]}}]},
      {"id": "labelled.1234", "name": "something", "framework_id": "fw-marathon", "slave_id": "a1", "state": "TASK_RUNNING",
       "labels": [{"key": "HAPROXY_GROUP", "value": "external"}, {"key": "MARATHON_APP_ID", "value": "/group/real-id"}],
       "resources": {"ports": "[31100-31100]"}, "statuses": [{"state": "TASK_RUNNING", "timestamp": 1.0}]},
      {"id": "nolabels.5555", "name": "nolabels", "framework_id": "fw-marathon", "slave_id": "a1", "state": "TASK_RUNNING",
       "labels": [{"key": "OTHER", "value": "x"}], "resources": {"ports": "[31200-31200]"}}
    ]},
    {"id": "fw-marathon-2", "name": "Marathon User", "tasks": [
      {"id": "web_nginx.aaaa", "name": "nginx.web", "framework_id": "fw-marathon-2", "slave_id": "a2", "state": "TASK_RUNNING",
       "labels": [{"key": "HAPROXY_GROUP", "value": "external"}], "resources": {"ports": "[32000-32000]"},
       "statuses": [{"state": "TASK_RUNNING", "timestamp": 1.0}]}
    ]}
  ]
}`

func TestAppsFromMesos(t *testing.T) {
	c, err := DecodeMesosState([]byte(mesosLBState), FetchMeta{Source: "test", FetchedAt: time.Unix(10, 0)})
	if err != nil {
		t.Fatal(err)
	}
	set := AppSetFromMesos(c)
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
	byID := map[string]App{}
	for _, a := range set.Apps {
		byID[a.ID] = a
	}

	web := byID["/web/nginx"]
	if web.Network != NetworkHost || web.Instances != 2 || len(web.Tasks) != 2 {
		t.Fatalf("web: %+v", web)
	}
	// The newest task's labels speak for the app.
	if web.Labels["HAPROXY_0_VHOST"] != "new.example.com" {
		t.Errorf("labels %v", web.Labels)
	}
	// Port 0 is 31000 on every task: a service port; port 1 differs.
	wantPorts := []AppPort{
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
	if t0.State != TaskRunning || t0.StartedAt.IsZero() {
		t.Errorf("task 0 state %q started %v", t0.State, t0.StartedAt)
	}

	ippt := byID["/ippt"]
	if ippt.Network != NetworkContainer || len(ippt.Ports) != 1 || ippt.Ports[0].ContainerPort != 8080 || ippt.Ports[0].ServicePort != 8080 {
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
		task Task
		want string
	}{
		{Task{ID: "nginx.0f3a5b6c-1111-11e5-9836-026ee08d9f6f"}, "/nginx"},
		{Task{ID: "web_nginx.0f3a5b6c-1111-11e5-9836-026ee08d9f6f"}, "/web/nginx"},
		{Task{ID: "a_b_c.marathon-0f3a5b6c-1111-11e5-9836-026ee08d9f6f"}, "/a/b/c"},
		{Task{ID: "web_nginx.instance-0f3a5b6c-1111-11e5-9836-026ee08d9f6f._app.1"}, "/web/nginx"},
		{Task{ID: "dotted.name_app.marathon-0f3a"}, "/dotted.name/app"},
		{Task{ID: "noid", Name: "fallback"}, "/fallback"},
		{Task{ID: "noid"}, ""},
		{Task{ID: "x.1", Labels: []Label{{Key: LabelMarathonAppID, Value: "grp/app"}}}, "/grp/app"},
	}
	for _, tt := range tests {
		if got := marathonAppID(&tt.task); got != tt.want {
			t.Errorf("%q: %q, want %q", tt.task.ID, got, tt.want)
		}
	}
}
