package dnsserver

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
)

func newTestAPI(t *testing.T, tab *Table, enumeration bool) *httptest.Server {
	t.Helper()
	var cur atomic.Pointer[Table]
	cur.Store(tab)
	type creds struct {
		Principal string `json:"principal"`
		Secret    string `json:"secret"`
	}
	h := NewHTTPHandler(HTTPOptions{
		Table:   cur.Load,
		Version: "1.2.3",
		Config: func() any {
			return map[string]any{
				"Domain":           "mesos",
				"HttpPort":         8123,
				"MesosCredentials": creds{"me", "hunter2"},
				"Nested":           map[string]any{"IAMToken": "abc", "Keep": 1},
			}
		},
		RefreshSeconds: 60,
		EnumerationOn:  enumeration,
	})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, url string, into any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if into != nil && resp.StatusCode == http.StatusOK {
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s: content type %q", url, ct)
		}
		if err := json.Unmarshal(body, into); err != nil {
			t.Fatalf("%s: %v: %s", url, err, body)
		}
	}
	return resp.StatusCode
}

func TestHTTPVersionAndConfig(t *testing.T) {
	srv := newTestAPI(t, Build(smallCluster(), testConfig()), true)
	var v map[string]string
	if code := get(t, srv.URL+"/v1/version", &v); code != 200 {
		t.Fatalf("status %d", code)
	}
	if v["Service"] != "Mesos-DNS" || v["Version"] != "1.2.3" || v["URL"] == "" {
		t.Errorf("version %v", v)
	}
	resp, err := http.Get(srv.URL + "/v1/config")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, secret := range []string{"hunter2", "MesosCredentials", "IAMToken"} {
		if strings.Contains(string(body), secret) {
			t.Errorf("config leaks %q: %s", secret, body)
		}
	}
	var cfg map[string]any
	if err := json.Unmarshal(body, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg["Domain"] != "mesos" || cfg["HttpPort"] != float64(8123) || cfg["Nested"].(map[string]any)["Keep"] != float64(1) {
		t.Errorf("config %v", cfg)
	}
}

func TestHTTPHosts(t *testing.T) {
	srv := newTestAPI(t, Build(smallCluster(), testConfig()), true)
	for _, tc := range []struct {
		host string
		want []hostJSON
	}{
		{"nginx.marathon.mesos", []hostJSON{
			{"nginx.marathon.mesos.", "127.0.1.1"}, {"nginx.marathon.mesos.", "127.0.3.2"},
			{"nginx.marathon.mesos.", "fd00::2"},
		}},
		{"NGINX.marathon.mesos.", []hostJSON{
			{"nginx.marathon.mesos.", "127.0.1.1"}, {"nginx.marathon.mesos.", "127.0.3.2"},
			{"nginx.marathon.mesos.", "fd00::2"},
		}},
		{"leader.mesos", []hostJSON{{"leader.mesos.", "127.0.0.1"}}},
		{"nothing.mesos", []hostJSON{{}}},
	} {
		t.Run(tc.host, func(t *testing.T) {
			var got []hostJSON
			if code := get(t, srv.URL+"/v1/hosts/"+tc.host, &got); code != 200 {
				t.Fatalf("status %d", code)
			}
			slices.SortFunc(got, func(a, b hostJSON) int { return strings.Compare(a.IP, b.IP) })
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestHTTPServicesAndPorts(t *testing.T) {
	srv := newTestAPI(t, Build(smallCluster(), testConfig()), true)
	c1 := "nginx-" + hash5("nginx.48dccce7-90bc-11e6-ae70-70b3d5800001") + "-s1.marathon.slave.mesos."
	c2 := "nginx-" + hash5("nginx.58dccce7-90bc-11e6-ae70-70b3d5800001") + "-s2.marathon.slave.mesos."
	svc := "_nginx._tcp.marathon.mesos"
	var got []serviceJSON
	if code := get(t, srv.URL+"/v1/services/"+svc, &got); code != 200 {
		t.Fatalf("status %d", code)
	}
	want := []serviceJSON{
		{svc, c1, "127.0.1.1", "31000"},
		{svc, c1, "127.0.1.1", "31001"},
		{svc, c2, "127.0.1.2", "31005"},
	}
	sortSvc := func(s []serviceJSON) {
		slices.SortFunc(s, func(a, b serviceJSON) int {
			return strings.Compare(a.Service+a.Host+a.Port+a.IP, b.Service+b.Host+b.Port+b.IP)
		})
	}
	sortSvc(got)
	sortSvc(want)
	if !slices.Equal(got, want) {
		t.Errorf("services:\n got %v\nwant %v", got, want)
	}

	got = nil
	get(t, srv.URL+"/v1/services/_none._tcp.mesos", &got)
	if !slices.Equal(got, []serviceJSON{{}}) {
		t.Errorf("unknown service: %v", got)
	}

	got = nil
	get(t, srv.URL+"/v1/hosts/"+c2+"/ports", &got)
	want = []serviceJSON{
		{"_nginx._tcp.marathon.mesos.", c2, "127.0.1.2", "31005"},
		{"_nginx._udp.marathon.mesos.", c2, "127.0.1.2", "31005"},
		{"_nginx._tcp.marathon.slave.mesos.", c2, "127.0.1.2", "31005"},
		{"_nginx._udp.marathon.slave.mesos.", c2, "127.0.1.2", "31005"},
	}
	sortSvc(got)
	sortSvc(want)
	if !slices.Equal(got, want) {
		t.Errorf("ports:\n got %v\nwant %v", got, want)
	}
}

func TestHTTPEnumerateAndAXFR(t *testing.T) {
	tab := Build(smallCluster(), testConfig())
	srv := newTestAPI(t, tab, true)
	var e Enumeration
	if code := get(t, srv.URL+"/v1/enumerate", &e); code != 200 {
		t.Fatalf("status %d", code)
	}
	names := map[string]int{}
	var nginx *EnumTask
	for _, f := range e.Frameworks {
		names[f.Name] = len(f.Tasks)
		for _, task := range f.Tasks {
			if task.ID == "nginx.48dccce7-90bc-11e6-ae70-70b3d5800001" {
				nginx = task
			}
		}
	}
	// Running tasks on known agents only: nginx x2, web, v6 on marathon.
	if names["marathon"] != 4 || names["Chronos 2.0.1"] != 1 {
		t.Errorf("frameworks %v", names)
	}
	if nginx == nil {
		t.Fatal("nginx task not enumerated")
	}
	c1 := "nginx-" + hash5(nginx.ID) + "-s1"
	wantRecs := []EnumRecord{
		{"nginx.marathon.mesos.", "127.0.1.1", "A"},
		{c1 + ".marathon.mesos.", "127.0.1.1", "A"},
		{"nginx.marathon.slave.mesos.", "127.0.1.1", "A"},
		{c1 + ".marathon.slave.mesos.", "127.0.1.1", "A"},
		{"_nginx._tcp.marathon.slave.mesos.", c1 + ".marathon.slave.mesos.:31000", "SRV"},
		{"_nginx._udp.marathon.slave.mesos.", c1 + ".marathon.slave.mesos.:31000", "SRV"},
		{"_nginx._tcp.marathon.mesos.", c1 + ".marathon.slave.mesos.:31000", "SRV"},
		{"_nginx._udp.marathon.mesos.", c1 + ".marathon.slave.mesos.:31000", "SRV"},
		{"_nginx._tcp.marathon.slave.mesos.", c1 + ".marathon.slave.mesos.:31001", "SRV"},
		{"_nginx._udp.marathon.slave.mesos.", c1 + ".marathon.slave.mesos.:31001", "SRV"},
		{"_nginx._tcp.marathon.mesos.", c1 + ".marathon.slave.mesos.:31001", "SRV"},
		{"_nginx._udp.marathon.mesos.", c1 + ".marathon.slave.mesos.:31001", "SRV"},
	}
	if !slices.Equal(nginx.Records, wantRecs) {
		t.Errorf("nginx records:\n got %v\nwant %v", nginx.Records, wantRecs)
	}

	var ax axfrJSON
	if code := get(t, srv.URL+"/v1/axfr", &ax); code != 200 {
		t.Fatalf("status %d", code)
	}
	if ax.Domain != "mesos" || ax.Mname != "ns1.mesos." || ax.Rname != "root.ns1.mesos." || ax.TTL != 60 ||
		ax.Serial != 1 || ax.RefreshSeconds != 60 {
		t.Errorf("axfr header %+v", ax)
	}
	if got := ax.Records.As["leader.mesos."]; !slices.Equal(got, []string{"127.0.0.1"}) {
		t.Errorf("axfr leader %v", got)
	}
	if got := ax.Records.SRVs["_leader._tcp.mesos."]; !slices.Equal(got, []string{"leader.mesos.:5050"}) {
		t.Errorf("axfr _leader._tcp %v", got)
	}
	if got := ax.Records.AAAAs["slave.mesos."]; !slices.Equal(got, []string{"2001:db8::3"}) {
		t.Errorf("axfr slave AAAA %v", got)
	}
	n := 0
	for _, m := range []map[string][]string{ax.Records.As, ax.Records.AAAAs, ax.Records.SRVs} {
		for _, v := range m {
			n += len(v)
		}
	}
	if n+2 != tab.Records() {
		t.Errorf("axfr has %d records, table %d", n+2, tab.Records())
	}
}

func TestHTTPEnumerationOff(t *testing.T) {
	srv := newTestAPI(t, Build(smallCluster(), testConfig()), false)
	for _, p := range []string{"/v1/enumerate", "/v1/axfr"} {
		if code := get(t, srv.URL+p, nil); code != http.StatusNotFound {
			t.Errorf("%s: status %d", p, code)
		}
	}
}

func TestHTTPNoTable(t *testing.T) {
	srv := newTestAPI(t, nil, true)
	if code := get(t, srv.URL+"/v1/hosts/leader.mesos", nil); code != http.StatusServiceUnavailable {
		t.Errorf("status %d", code)
	}
	if code := get(t, srv.URL+"/v1/version", nil); code != 200 {
		t.Errorf("version status %d", code)
	}
}
