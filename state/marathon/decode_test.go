package marathon

import (
	"bytes"
	"errors"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/discovery-mesos/discovery/state"
)

func marFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "marathon", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func marTime(t *testing.T, s string) time.Time {
	t.Helper()
	ts, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

func marAddrs(ss ...string) []netip.Addr {
	out := make([]netip.Addr, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParseAddr(s)
	}
	return out
}

func marBool(b bool) *bool { return &b }

var marCmpOpts = cmp.Options{cmp.Comparer(func(a, b netip.Addr) bool { return a == b })}

func TestDecodeAppsFixtures(t *testing.T) {
	fetched := time.Date(2026, 11, 21, 6, 0, 0, 0, time.UTC)
	hc := state.HealthCheck{Protocol: "HTTP", Path: "/", PortIndex: 0, IntervalSeconds: 3, TimeoutSeconds: 15, GracePeriodSeconds: 15, MaxConsecutiveFailures: 10}
	tests := []struct {
		file string
		want []state.App
	}{
		{
			file: "apps-marathon-1.5.json",
			want: []state.App{{
				ID:            "/pywebserver",
				Labels:        map[string]string{"HAPROXY_GROUP": "external", "HAPROXY_0_VHOST": "myvhost.com"},
				Network:       state.NetworkBridge,
				Ports:         []state.AppPort{{ServicePort: 10101, ContainerPort: 80, HostPort: 0, Name: "test", Protocol: "tcp", Labels: map[string]string{}}},
				Instances:     1,
				LastScalingAt: marTime(t, "2017-07-19T17:34:41.967Z"),
				Tasks: []state.AppTask{{
					ID:        "pywebserver.8cad6a69-6ca8-11e7-beb2-0e2beceebfcc",
					AgentID:   "db7b40e2-791c-445f-b373-183e2a648a86-S1",
					Host:      "127.0.2.148",
					Ports:     []int{1565},
					IPs:       marAddrs("127.17.0.2"),
					State:     state.TaskRunning,
					StartedAt: marTime(t, "2017-07-19T17:35:15.654Z"),
					Version:   "2017-07-19T17:34:41.967Z",
				}},
			}},
		},
		{
			file: "apps-blue-green.json",
			want: []state.App{
				{
					ID: "/nginx-blue",
					Labels: map[string]string{
						"HAPROXY_DEPLOYMENT_GROUP":            "nginx",
						"HAPROXY_GROUP":                       "external",
						"HAPROXY_DEPLOYMENT_COLOUR":           "blue",
						"HAPROXY_DEPLOYMENT_TARGET_INSTANCES": "3",
						"HAPROXY_DEPLOYMENT_STARTED_AT":       "2016-02-01T14:57:54.371005",
						"HAPROXY_DEPLOYMENT_ALT_PORT":         "10001",
						"HAPROXY_0_PORT":                      "10000",
						"HAPROXY_APP_ID":                      "nginx",
					},
					Network:       state.NetworkBridge,
					Ports:         []state.AppPort{{ServicePort: 10001, ContainerPort: 8080, Protocol: "tcp"}},
					HealthChecks:  []state.HealthCheck{hc},
					Instances:     1,
					LastScalingAt: marTime(t, "2016-02-01T22:57:54.370Z"),
					Tasks: []state.AppTask{{
						ID:        "nginx-blue.3a58a46a-c937-11e5-9836-026ee08d9f6f",
						AgentID:   "1f09399d-0cb0-4484-afd7-f08e99d2acbb-S3",
						Host:      "127.0.1.147",
						Ports:     []int{25724},
						IPs:       marAddrs("127.17.0.45"),
						Health:    []bool{true},
						StartedAt: marTime(t, "2016-02-01T22:57:56.889Z"),
						Version:   "2016-02-01T22:57:54.370Z",
					}},
				},
				{
					ID: "/nginx-green",
					Labels: map[string]string{
						"HAPROXY_DEPLOYMENT_GROUP":            "nginx",
						"HAPROXY_GROUP":                       "external",
						"HAPROXY_DEPLOYMENT_COLOUR":           "green",
						"HAPROXY_DEPLOYMENT_TARGET_INSTANCES": "20",
						"HAPROXY_DEPLOYMENT_STARTED_AT":       "2016-02-01T14:13:42.499089",
						"HAPROXY_DEPLOYMENT_ALT_PORT":         "10001",
						"HAPROXY_0_PORT":                      "10000",
						"HAPROXY_APP_ID":                      "nginx",
					},
					Network:       state.NetworkBridge,
					Ports:         []state.AppPort{{ServicePort: 10000, ContainerPort: 8080, Protocol: "tcp"}},
					HealthChecks:  []state.HealthCheck{hc},
					Instances:     3,
					LastScalingAt: marTime(t, "2016-02-01T22:57:48.784Z"),
					Tasks: []state.AppTask{
						{
							ID: "nginx-green.0dbabba6-c931-11e5-9836-026ee08d9f6f", AgentID: "1f09399d-0cb0-4484-afd7-f08e99d2acbb-S1",
							Host: "127.0.6.25", Ports: []int{31184}, IPs: marAddrs("127.17.1.71"), Health: []bool{true},
							StartedAt: marTime(t, "2016-02-01T22:13:44.850Z"), Version: "2016-02-01T22:13:42.538Z",
						},
						{
							ID: "nginx-green.1883a887-c931-11e5-9836-026ee08d9f6f", AgentID: "1f09399d-0cb0-4484-afd7-f08e99d2acbb-S1",
							Host: "127.0.6.25", Ports: []int{16916}, IPs: marAddrs("127.17.1.72"), Health: []bool{true},
							StartedAt: marTime(t, "2016-02-01T22:14:03.432Z"), Version: "2016-02-01T22:14:00.625Z",
						},
						{
							ID: "nginx-green.23532518-c931-11e5-9836-026ee08d9f6f", AgentID: "1f09399d-0cb0-4484-afd7-f08e99d2acbb-S1",
							Host: "127.0.6.25", Ports: []int{23336}, IPs: marAddrs("127.17.1.73"), Health: []bool{true},
							StartedAt: marTime(t, "2016-02-01T22:14:21.314Z"), Version: "2016-02-01T22:14:18.768Z",
						},
					},
				},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			set, err := DecodeApps(marFixture(t, tt.file), "http://127.0.0.1:8080", fetched)
			if err != nil {
				t.Fatal(err)
			}
			if set.Source != "http://127.0.0.1:8080" || !set.FetchedAt.Equal(fetched) {
				t.Errorf("source/fetchedAt = %q %v", set.Source, set.FetchedAt)
			}
			if diff := cmp.Diff(tt.want, set.Apps, marCmpOpts); diff != "" {
				t.Errorf("apps (-want +got):\n%s", diff)
			}
			if set.Digest == 0 {
				t.Error("digest not set")
			}
		})
	}
}

// TestDecodeAppsShapes covers app definitions from every Marathon era,
// written by hand in the shapes Marathon serves.
func TestDecodeAppsShapes(t *testing.T) {
	tests := []struct {
		name    string
		app     string // one app object
		network state.NetworkMode
		ports   []state.AppPort
		check   func(t *testing.T, a state.App)
	}{
		{
			name:    "host networking with portDefinitions",
			app:     `{"id":"/h","portDefinitions":[{"port":10000,"name":"http","protocol":"tcp","labels":{"VIP_0":"/h:80"}},{"port":10001,"protocol":"udp,tcp"}],"ports":[1,2],"container":null,"ipAddress":null}`,
			network: state.NetworkHost,
			ports:   []state.AppPort{{ServicePort: 10000, Name: "http", Protocol: "tcp", Labels: map[string]string{"VIP_0": "/h:80"}}, {ServicePort: 10001, Protocol: "udp,tcp"}},
		},
		{
			name:    "pre-1.0 ports list",
			app:     `{"id":"/old","ports":[10005,10006]}`,
			network: state.NetworkHost,
			ports:   []state.AppPort{{ServicePort: 10005}, {ServicePort: 10006}},
		},
		{
			name:    "empty portDefinitions win over ports",
			app:     `{"id":"/none","portDefinitions":[],"ports":[10005]}`,
			network: state.NetworkHost,
			ports:   nil,
		},
		{
			name:    "docker HOST network",
			app:     `{"id":"/dh","container":{"type":"DOCKER","docker":{"image":"x","network":"HOST"}},"portDefinitions":[{"port":10010}]}`,
			network: state.NetworkHost,
			ports:   []state.AppPort{{ServicePort: 10010}},
		},
		{
			name:    "docker BRIDGE with docker portMappings",
			app:     `{"id":"/db","container":{"type":"DOCKER","docker":{"network":"BRIDGE","portMappings":[{"containerPort":80,"hostPort":0,"servicePort":10020,"protocol":"tcp","name":"web","labels":{"a":"b"}},{"containerPort":443,"hostPort":31443,"servicePort":10021,"protocol":"tcp"}]}}}`,
			network: state.NetworkBridge,
			ports:   []state.AppPort{{ServicePort: 10020, ContainerPort: 80, Name: "web", Protocol: "tcp", Labels: map[string]string{"a": "b"}}, {ServicePort: 10021, ContainerPort: 443, HostPort: 31443, Protocol: "tcp"}},
		},
		{
			name:    "bridge mapping without service port takes portDefinitions",
			app:     `{"id":"/dbp","portDefinitions":[{"port":10030}],"container":{"type":"DOCKER","docker":{"network":"BRIDGE","portMappings":[{"containerPort":8080,"hostPort":0}]}}}`,
			network: state.NetworkBridge,
			ports:   []state.AppPort{{ServicePort: 10030, ContainerPort: 8080}},
		},
		{
			name:    "docker USER network is IP per task",
			app:     `{"id":"/du","ipAddress":{"networkName":"dcos"},"container":{"type":"DOCKER","docker":{"network":"USER","portMappings":[{"containerPort":80,"servicePort":10040,"protocol":"tcp"}]}}}`,
			network: state.NetworkContainer,
			ports:   []state.AppPort{{ServicePort: 10040, ContainerPort: 80, Protocol: "tcp"}},
		},
		{
			name:    "legacy ipAddress with discovery ports",
			app:     `{"id":"/ippt","ipAddress":{"groups":[],"labels":{},"discovery":{"ports":[{"number":8080,"name":"http","protocol":"tcp"},{"number":9090,"name":"admin","protocol":"tcp","labels":{"x":"y"}}]},"networkName":null},"portDefinitions":[]}`,
			network: state.NetworkContainer,
			ports:   []state.AppPort{{ContainerPort: 8080, Name: "http", Protocol: "tcp"}, {ContainerPort: 9090, Name: "admin", Protocol: "tcp", Labels: map[string]string{"x": "y"}}},
		},
		{
			name:    "empty ipAddress object is not IP per task",
			app:     `{"id":"/e","ipAddress":{},"portDefinitions":[{"port":10050}]}`,
			network: state.NetworkHost,
			ports:   []state.AppPort{{ServicePort: 10050}},
		},
		{
			name:    "marathon 1.5 container networking",
			app:     `{"id":"/c","networks":[{"mode":"container","name":"dcos"}],"container":{"type":"MESOS","portMappings":[{"containerPort":80,"servicePort":0,"name":"http","protocol":"tcp","labels":{}}]}}`,
			network: state.NetworkContainer,
			ports:   []state.AppPort{{ContainerPort: 80, Name: "http", Protocol: "tcp", Labels: map[string]string{}}},
		},
		{
			name:    "marathon 1.5 network without mode is container",
			app:     `{"id":"/c2","networks":[{"name":"dcos"}],"container":{"type":"MESOS","portMappings":[{"containerPort":81}]}}`,
			network: state.NetworkContainer,
			ports:   []state.AppPort{{ContainerPort: 81}},
		},
		{
			name:    "marathon 1.5 host",
			app:     `{"id":"/h5","networks":[{"mode":"host"}],"portDefinitions":[{"port":10060,"protocol":"tcp","name":"p","labels":{}}],"container":{"type":"MESOS","portMappings":[{"containerPort":1,"servicePort":2}]}}`,
			network: state.NetworkHost,
			ports:   []state.AppPort{{ServicePort: 10060, Protocol: "tcp", Name: "p", Labels: map[string]string{}}},
		},
		{
			name:    "networks win over docker network",
			app:     `{"id":"/w","networks":[{"mode":"container/bridge"}],"container":{"type":"DOCKER","docker":{"network":"USER"},"portMappings":[{"containerPort":80,"hostPort":0,"servicePort":10070}]}}`,
			network: state.NetworkBridge,
			ports:   []state.AppPort{{ServicePort: 10070, ContainerPort: 80}},
		},
		{
			name: "tasks, health, readiness, deployments",
			app: `{"id":"/t","instances":2,"portDefinitions":[{"port":10080}],
				"healthChecks":[{"protocol":"MESOS_HTTP","path":"/health","portIndex":0,"intervalSeconds":10,"timeoutSeconds":5,"gracePeriodSeconds":30,"maxConsecutiveFailures":3,"ignoreHttp1xx":true},{"protocol":"TCP","port":8081}],
				"deployments":[{"id":"d-1"},{"id":"d-2"}],
				"readinessCheckResults":[{"name":"r","taskId":"t.b","ready":false,"lastResponse":{"status":503}},{"name":"r","taskId":"t.c","ready":true},{"name":"r2","taskId":"t.c","ready":true},{"name":"r","taskId":"t.d","ready":true},{"name":"r2","taskId":"t.d","ready":false}],
				"tasks":[
					{"id":"t.c","appId":"/t","host":"127.0.0.3","ports":[31003],"servicePorts":[10080],"slaveId":"s3","state":"TASK_STAGING","healthCheckResults":[]},
					{"id":"t.b","appId":"/t","host":"127.0.0.2","ports":[31002],"servicePorts":[10080],"slaveId":"s2","state":"TASK_RUNNING","healthCheckResults":[{"alive":true},{"alive":false,"consecutiveFailures":4}],"draining":true,"ipAddresses":[{"ipAddress":"::1","protocol":"IPv6"},{"ipAddress":"not-an-ip","protocol":"IPv4"}],"startedAt":null},
					{"id":"t.d","appId":"/t","host":"127.0.0.4","ports":[],"slaveId":"s4","state":"TASK_KILLING","startedAt":"garbage"}
				]}`,
			network: state.NetworkHost,
			ports:   []state.AppPort{{ServicePort: 10080}},
			check: func(t *testing.T, a state.App) {
				if a.Instances != 2 {
					t.Errorf("instances = %d", a.Instances)
				}
				if diff := cmp.Diff([]string{"d-1", "d-2"}, a.Deployments); diff != "" {
					t.Errorf("deployments: %s", diff)
				}
				wantHC := []state.HealthCheck{
					{Protocol: "MESOS_HTTP", Path: "/health", IntervalSeconds: 10, TimeoutSeconds: 5, GracePeriodSeconds: 30, MaxConsecutiveFailures: 3, IgnoreHTTP1xx: true},
					{Protocol: "TCP", Port: 8081},
				}
				if diff := cmp.Diff(wantHC, a.HealthChecks); diff != "" {
					t.Errorf("health checks: %s", diff)
				}
				want := []state.AppTask{
					{ID: "t.b", AgentID: "s2", Host: "127.0.0.2", Ports: []int{31002}, ServicePorts: []int{10080}, IPs: marAddrs("::1"), State: state.TaskRunning, Health: []bool{true, false}, Ready: marBool(false), Draining: true},
					{ID: "t.c", AgentID: "s3", Host: "127.0.0.3", Ports: []int{31003}, ServicePorts: []int{10080}, State: state.TaskStaging, Health: []bool{}, Ready: marBool(true)},
					{ID: "t.d", AgentID: "s4", Host: "127.0.0.4", Ports: []int{}, State: state.TaskKilling, Ready: marBool(false)},
				}
				if diff := cmp.Diff(want, a.Tasks, marCmpOpts); diff != "" {
					t.Errorf("tasks (-want +got):\n%s", diff)
				}
				if a.Tasks[0].Health == nil || a.Tasks[2].Health != nil || a.Tasks[1].Health == nil {
					t.Error("absent healthCheckResults must be nil, empty ones non-nil")
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, err := DecodeApps([]byte(`{"apps":[`+tt.app+`]}`), "s", time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			if len(set.Apps) != 1 {
				t.Fatalf("got %d apps", len(set.Apps))
			}
			a := set.Apps[0]
			if a.Network != tt.network {
				t.Errorf("network = %q, want %q", a.Network, tt.network)
			}
			if diff := cmp.Diff(tt.ports, a.Ports); diff != "" {
				t.Errorf("ports (-want +got):\n%s", diff)
			}
			if tt.check != nil {
				tt.check(t, a)
			}
		})
	}
}

func TestDecodeAppsErrors(t *testing.T) {
	good := string(marFixture(t, "apps-blue-green.json"))
	tests := []struct {
		name, doc, want string
	}{
		{"empty", ``, "unexpected end"},
		{"truncated", good[:len(good)/2], "unexpected end"},
		{"trailing garbage", good + "}", "invalid character"},
		{"html error page", `<html>502 Bad Gateway</html>`, "invalid character"},
		{"marathon error body", `{"message":"Could not determine the current leader"}`, "no \"apps\" array"},
		{"null apps", `{"apps":null}`, "no \"apps\" array"},
		{"apps not an array", `{"apps":{}}`, "cannot unmarshal"},
		{"label not a string", `{"apps":[{"id":"/a","labels":{"HAPROXY_GROUP":1}}]}`, "cannot unmarshal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, err := DecodeApps([]byte(tt.doc), "s", time.Time{})
			if err == nil {
				t.Fatalf("no error; got %d apps", len(set.Apps))
			}
			if set != nil {
				t.Error("a set returned with the error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
		})
	}
}

// An app or task whose own data is invalid is left out and listed; the
// rest of the document is used.
func TestDecodeAppsLeavesOutInvalid(t *testing.T) {
	tests := []struct {
		name, doc string
		apps      []string // the apps kept
		tasks     int      // the tasks kept, over all apps
		leftOut   string   // the ID left out
		want      string   // in its reason
	}{
		{"app without id", `{"apps":[{"instances":1},{"id":"/b"}]}`, []string{"/b"}, 0, "", "no id"},
		{"task without id", `{"apps":[{"id":"/a","tasks":[{"host":"h"},{"id":"a.2"}]}]}`, []string{"/a"}, 1, "", "no id"},
		{"service port out of range", `{"apps":[{"id":"/a","portDefinitions":[{"port":70000}]},{"id":"/b"}]}`, []string{"/b"}, 0, "/a", "port 70000 out of range"},
		{"negative health check port", `{"apps":[{"id":"/a","healthChecks":[{"port":-1}]},{"id":"/b"}]}`, []string{"/b"}, 0, "/a", "port -1 out of range"},
		{"negative task port", `{"apps":[{"id":"/a","tasks":[{"id":"a.1","ports":[-1]},{"id":"a.2","ports":[31000]}]}]}`, []string{"/a"}, 1, "a.1", "port -1 out of range"},
		{"task service port out of range", `{"apps":[{"id":"/a","tasks":[{"id":"a.1","servicePorts":[65536]}]}]}`, []string{"/a"}, 0, "a.1", "port 65536 out of range"},
		{"ipAddress not an object", `{"apps":[{"id":"/a","ipAddress":[1]},{"id":"/b"}]}`, []string{"/b"}, 0, "/a", "ipAddress"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, err := DecodeApps([]byte(tt.doc), "s", time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			tasks := 0
			for _, a := range set.Apps {
				ids = append(ids, a.ID)
				tasks += len(a.Tasks)
			}
			if !slices.Equal(ids, tt.apps) || tasks != tt.tasks {
				t.Errorf("kept apps %v with %d tasks, want %v with %d", ids, tasks, tt.apps, tt.tasks)
			}
			if len(set.LeftOut) != 1 || set.LeftOut[0].ID != tt.leftOut || !strings.Contains(set.LeftOut[0].Reason, tt.want) {
				t.Errorf("left out %+v, want %q for %q", set.LeftOut, tt.leftOut, tt.want)
			}
		})
	}
}

// Of two "apps" arrays the last is the set, as it stands (encoding/json
// would decode it into the first's apps, keeping what it leaves out).
func TestDecodeAppsTwoArrays(t *testing.T) {
	set, err := DecodeApps([]byte(`{"apps":[{"id":"/a","instances":2}],"Apps":[{"instances":1},{"id":"/b"}]}`), "s", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Apps) != 1 || set.Apps[0].ID != "/b" || set.Apps[0].Instances != 0 || len(set.LeftOut) != 1 {
		t.Errorf("apps %+v, left out %+v", set.Apps, set.LeftOut)
	}
}

func TestDecodeAppsEmpty(t *testing.T) {
	set, err := DecodeApps([]byte(`{"apps":[]}`), "s", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Apps) != 0 || set.Digest == 0 {
		t.Errorf("apps %d digest %x", len(set.Apps), set.Digest)
	}
}

func TestAppSetDigest(t *testing.T) {
	doc := marFixture(t, "apps-blue-green.json")
	a, err := DecodeApps(doc, "http://127.0.0.1:8080", time.Unix(1, 0))
	if err != nil {
		t.Fatal(err)
	}
	b, err := DecodeApps(doc, "http://127.0.0.2:8080", time.Unix(2, 0))
	if err != nil {
		t.Fatal(err)
	}
	if a.Digest != b.Digest {
		t.Error("source and fetch time changed the digest")
	}

	// Order in the document does not matter: apps and tasks are sorted.
	reordered := &state.AppSet{Apps: []state.App{b.Apps[1], b.Apps[0]}}
	reordered.Apps[0].Tasks = []state.AppTask{b.Apps[1].Tasks[2], b.Apps[1].Tasks[0], b.Apps[1].Tasks[1]}
	if reordered.Seal().Digest != a.Digest {
		t.Error("order changed the digest")
	}

	changes := map[string]func(s *state.AppSet){
		"task health":    func(s *state.AppSet) { s.Apps[0].Tasks[0].Health = []bool{false} },
		"health absent":  func(s *state.AppSet) { s.Apps[0].Tasks[0].Health = nil },
		"task port":      func(s *state.AppSet) { s.Apps[1].Tasks[2].Ports = []int{1} },
		"task host":      func(s *state.AppSet) { s.Apps[1].Tasks[0].Host = "127.0.0.9" },
		"task state":     func(s *state.AppSet) { s.Apps[1].Tasks[0].State = state.TaskKilling },
		"draining":       func(s *state.AppSet) { s.Apps[1].Tasks[0].Draining = true },
		"ready":          func(s *state.AppSet) { s.Apps[1].Tasks[0].Ready = marBool(true) },
		"ip":             func(s *state.AppSet) { s.Apps[1].Tasks[0].IPs = marAddrs("127.0.0.8") },
		"label":          func(s *state.AppSet) { s.Apps[0].Labels["HAPROXY_0_VHOST"] = "x" },
		"service port":   func(s *state.AppSet) { s.Apps[0].Ports[0].ServicePort = 10002 },
		"network":        func(s *state.AppSet) { s.Apps[0].Network = state.NetworkHost },
		"instances":      func(s *state.AppSet) { s.Apps[0].Instances = 7 },
		"deployments":    func(s *state.AppSet) { s.Apps[0].Deployments = []string{"d"} },
		"health check":   func(s *state.AppSet) { s.Apps[0].HealthChecks[0].Path = "/x" },
		"task removed":   func(s *state.AppSet) { s.Apps[1].Tasks = s.Apps[1].Tasks[1:] },
		"app removed":    func(s *state.AppSet) { s.Apps = s.Apps[1:] },
		"last scaling":   func(s *state.AppSet) { s.Apps[0].LastScalingAt = time.Unix(5, 0) },
		"task version":   func(s *state.AppSet) { s.Apps[0].Tasks[0].Version = "v" },
		"port label":     func(s *state.AppSet) { s.Apps[0].Ports[0].Labels = map[string]string{"a": "b"} },
		"id boundary":    func(s *state.AppSet) { s.Apps[0].ID += "x"; s.Apps[0].Labels = nil },
		"agent":          func(s *state.AppSet) { s.Apps[0].Tasks[0].AgentID = "other" },
		"started at":     func(s *state.AppSet) { s.Apps[0].Tasks[0].StartedAt = time.Unix(9, 0) },
		"service ports":  func(s *state.AppSet) { s.Apps[0].Tasks[0].ServicePorts = []int{10001} },
		"container port": func(s *state.AppSet) { s.Apps[0].Ports[0].ContainerPort = 81 },
	}
	for name, change := range changes {
		t.Run(name, func(t *testing.T) {
			c, err := DecodeApps(doc, "s", time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			change(c)
			if c.Seal().Digest == a.Digest {
				t.Error("digest unchanged")
			}
		})
	}
}

func TestDecodeApp(t *testing.T) {
	app, _, err := DecodeApp([]byte(`{"app":{"id":"/one","labels":{"HAPROXY_GROUP":"external"},"portDefinitions":[{"port":10000}],
		"tasks":[{"id":"one.b","host":"127.0.0.2","ports":[31002],"state":"TASK_RUNNING"},{"id":"one.a","host":"127.0.0.1","ports":[31001],"state":"TASK_RUNNING"}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	if app.ID != "/one" || app.Ports[0].ServicePort != 10000 || len(app.Tasks) != 2 || app.Tasks[0].ID != "one.a" || app.Tasks[1].Ports[0] != 31002 {
		t.Errorf("app = %+v", app)
	}
	for _, doc := range []string{`{"message":"App '/x' does not exist"}`, `{"app":{"id":"/x"`} {
		if _, _, err := DecodeApp([]byte(doc)); err == nil || errors.Is(err, ErrInvalidApp) {
			t.Errorf("%s: %v, want an error that is not ErrInvalidApp", doc, err)
		}
	}
	// An app's own bad data: ErrInvalidApp; a bad task: left out.
	for _, doc := range []string{`{"app":{"id":"/x","portDefinitions":[{"port":-1}]}}`, `{"app":{}}`} {
		if _, _, err := DecodeApp([]byte(doc)); !errors.Is(err, ErrInvalidApp) {
			t.Errorf("%s: %v, want ErrInvalidApp", doc, err)
		}
	}
	app, lo, err := DecodeApp([]byte(`{"app":{"id":"/x","tasks":[{"id":"x.1","ports":[70000]},{"id":"x.2","ports":[31000]}]}}`))
	if err != nil || len(app.Tasks) != 1 || app.Tasks[0].ID != "x.2" || len(lo) != 1 || lo[0].ID != "x.1" || lo[0].App != "/x" {
		t.Errorf("task with port 70000: app %+v, left out %+v, err %v", app, lo, err)
	}
}

// DecodeAppsFrom reads the document as it arrives: whole or one byte at a
// time, it gives the set encoding/json makes of it, and a body that fails midway fails
// the decode rather than giving a partial set.
func TestDecodeAppsFrom(t *testing.T) {
	doc := marServedDoc(t, marGenApps(300, 3))
	want, err := decodeAppsReference(doc) // encoding/json
	if err != nil {
		t.Fatal(err)
	}
	whole, err := DecodeApps(doc, "fuzz", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, whole, marCmpOpts); diff != "" {
		t.Errorf("whole (-encoding/json +whole):\n%s", diff)
	}
	got, err := DecodeAppsFrom(iotest.OneByteReader(bytes.NewReader(doc)), "fuzz", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, marCmpOpts); diff != "" {
		t.Errorf("read one byte at a time (-encoding/json +read):\n%s", diff)
	}
	broken := io.MultiReader(bytes.NewReader(doc[:len(doc)/2]), iotest.ErrReader(errors.New("connection reset")))
	if set, err := DecodeAppsFrom(broken, "s", time.Time{}); err == nil || !strings.Contains(err.Error(), "connection reset") {
		t.Errorf("body failing midway: set %v, error %v", set != nil, err)
	}
}
