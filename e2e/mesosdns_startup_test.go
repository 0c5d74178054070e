package e2e

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/discovery-mesos/discovery/internal/dnstest"
	"github.com/discovery-mesos/discovery/internal/sim"
	"github.com/discovery-mesos/discovery/internal/zktest"
)

// configDoc reads a config.json of testdata. mesos-dns-config.json has every
// key of mesos-dns's config.json.sample (upstream master), "ns" included,
// which mesos-dns itself ignores; dcos-mesos-dns.json has the keys DC/OS
// writes (the deprecated "email", "SetTruncateBit"). Both are written here
// with mesos-dns's documented defaults and loopback addresses: the peers'
// files are never copied into the project.
func configDoc(t *testing.T, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return doc
}

// fakeResolver answers every question over UDP on 127.0.0.1 with an A record
// of ip, as the upstream resolver of the daemons under test.
func fakeResolver(t *testing.T, ip string) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg).SetReply(r)
		m.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: r.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 30}, A: net.ParseIP(ip)}}
		_ = w.WriteMsg(m)
	})}
	dnstest.Serve(t, srv)
	return pc.LocalAddr().String()
}

// Issue 12: discovery starts, unchanged, from a config.json as mesos-dns
// users have it: with every key of mesos-dns's config.json.sample, started
// as mesos-dns is (no flags, from the directory that holds config.json, or
// from a unit file's command line with glog's flags), and from a DC/OS-style
// config. Each serves leader.mesos within a second of starting.
func TestStartsFromMesosDNSConfigSample(t *testing.T) {
	zk := zktest.Start(t)
	c := newCluster(t, sim.Config{Apps: 1, TasksPerApp: 1, Seed: 161, ZK: zk.Connect(t), ZKPath: "/mesos"})
	leaderIP, _, _ := net.SplitHostPort(c.Leader().Addr())
	upstream := fakeResolver(t, "127.0.0.77")

	for _, tc := range []struct {
		name    string
		config  string
		args    func(config string) []string
		logs    []string // lines the log must have
		warning string   // the one warning on the status page
	}{
		{"config.json in the working directory", "mesos-dns-config.json", func(string) []string { return nil },
			[]string{`level=WARN msg="unknown config key \"ns\" is ignored (as mesos-dns ignored it)"`}, `unknown config key "ns"`},
		{"unit file with glog flags", "mesos-dns-config.json", func(config string) []string { return []string{"-v=2", "-logtostderr=true", "-config", config} },
			[]string{`level=WARN msg="unknown config key \"ns\"`, `msg="glog flags -logtostderr=true accepted`, "level=DEBUG"}, `unknown config key "ns"`},
		{"DC/OS-style config", "dcos-mesos-dns.json", func(config string) []string { return []string{"-config", config} },
			[]string{`config key \"email\" is deprecated, read as \"SOARname\"`}, `config key "email" is deprecated`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dnsPort, httpPort := loopbackPort(t), loopbackPort(t)
			// The rewrite, and all of it: what the file points at (a
			// ZooKeeper and a master on 127.0.0.1's default ports, a
			// resolver, fixed ports) becomes this test's fakes and free
			// ports. "zk", "masters", "resolvers", "port", "httpport"; every
			// other key (listener 0.0.0.0, "ns", IPSources, SOA, …) is the
			// file's.
			doc := configDoc(t, tc.config)
			doc["zk"] = "zk://" + zk.Addr() + "/mesos"
			if _, ok := doc["masters"]; ok {
				doc["masters"] = []string{c.Leader().Addr()}
			}
			doc["resolvers"] = []string{upstream}
			doc["port"], doc["httpport"] = dnsPort, httpPort
			b, err := json.MarshalIndent(doc, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			config := filepath.Join(dir, "config.json")
			if err := os.WriteFile(config, b, 0o600); err != nil {
				t.Fatal(err)
			}

			d := spawnDaemon(t, dir, nil, tc.args(config))
			// Text logs, as the file leaves them: the listeners are known
			// from the ports given rather than read from JSON log lines.
			d.DNSAddr = "127.0.0.1:" + strconv.Itoa(dnsPort)
			d.HTTPAddr = "127.0.0.1:" + strconv.Itoa(httpPort)
			// Product promise: leader.mesos within a second of starting.
			prom := newPromise("leader.mesos answered from a mesos-dns config.json", time.Second, d.Cmd.Process.Pid, d.startedAt)
			waitFor(t, 20*time.Second, "leader.mesos naming the leading master", func() bool {
				if !d.Alive() {
					t.Fatalf("discovery exited: %v", d.Err())
				}
				got, err := d.aRecords("leader.mesos")
				return err == nil && slices.Equal(got, []string{leaderIP})
			})
			took, waited := prom.check(t, time.Now())
			t.Logf("leader.mesos answered %v after start (%v of it waiting for a CPU)", took.Round(time.Millisecond), waited.Round(time.Millisecond))

			// Names outside the domain go to the file's resolvers, here
			// the fake.
			if got, err := d.aRecords("example.com"); err != nil || !slices.Equal(got, []string{"127.0.0.77"}) {
				t.Errorf("example.com: %v %v, want 127.0.0.77 from the resolver", got, err)
			}
			logs := d.logText()
			for _, want := range tc.logs {
				if !strings.Contains(logs, want) {
					t.Errorf("log has no %s", want)
				}
			}
			var st struct {
				Warnings []string `json:"warnings"`
			}
			if err := json.Unmarshal([]byte(d.mustGet(t, "/status.json?limit=1", 200)), &st); err != nil {
				t.Fatal(err)
			}
			if len(st.Warnings) != 1 || !strings.Contains(st.Warnings[0], tc.warning) {
				t.Errorf("status page warnings %q, want one: %s", st.Warnings, tc.warning)
			}
		})
	}
}
