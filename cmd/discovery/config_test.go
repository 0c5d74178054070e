package main

import (
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/discovery-mesos/discovery/internal/fakeiam"
)

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestMesosDNSConfigLoadsUnchanged(t *testing.T) {
	o, err := parseArgs([]string{"-config", "testdata/mesos-dns-config.json"}, io.Discard)
	if err != nil {
		t.Fatalf("documented mesos-dns config rejected: %v", err)
	}
	c := o.cfg
	if c.Zk != "zk://127.0.0.1:2181/mesos" || len(c.Masters) != 3 || c.Masters[2] != "127.0.0.3:5050" {
		t.Errorf("zk/masters = %q %q", c.Zk, c.Masters)
	}
	if c.MesosCredentials != (Credentials{"my-mesos-dns-principal", "super-secret"}) || c.MesosAuthentication != "basic" {
		t.Errorf("credentials = %+v %q", c.MesosCredentials, c.MesosAuthentication)
	}
	if c.Domain != "mesos" {
		t.Errorf("domain = %q, want lowercased mesos", c.Domain)
	}
	if c.SOARname != "root.ns1.mesos." || c.SOAMname != "ns1.mesos." {
		t.Errorf("SOA names = %q %q, want absolute with @ replaced", c.SOARname, c.SOAMname)
	}
	if !reflect.DeepEqual(c.ZoneResolvers, map[string][]string{"weave": {"127.0.0.54"}}) {
		t.Errorf("zoneResolvers = %v", c.ZoneResolvers)
	}
	if c.Listener != "127.0.0.1" || c.Port != 53 || c.HTTPPort != 8123 {
		t.Errorf("listener/port/httpport = %q %d %d", c.Listener, c.Port, c.HTTPPort)
	}
}

func TestDefaultsAreMesosDNSDefaults(t *testing.T) {
	p := writeConfig(t, `{"masters": ["127.0.0.1:5050"]}`)
	o, err := parseArgs([]string{"-config", p}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	c := o.cfg
	checks := []struct {
		name      string
		got, want any
	}{
		{"zkDetectionTimeout", c.ZkDetectionTimeout, 30},
		{"refreshSeconds", c.RefreshSeconds, 60},
		{"stateTimeoutSeconds", c.StateTimeoutSeconds, 300},
		{"ttl", c.TTL, 60},
		{"domain", c.Domain, "mesos"},
		{"port", c.Port, 53},
		{"timeout", c.Timeout, 5},
		{"httpport", c.HTTPPort, 8123},
		{"listener", c.Listener, "0.0.0.0"},
		{"SOAMname", c.SOAMname, "ns1.mesos."},
		{"SOARname", c.SOARname, "root.ns1.mesos."},
		{"SOARefresh", c.SOARefresh, uint32(60)},
		{"SOARetry", c.SOARetry, uint32(600)},
		{"SOAExpire", c.SOAExpire, uint32(86400)},
		{"SOAMinttl", c.SOAMinttl, uint32(60)},
		{"dnson", c.DNSOn, true},
		{"httpon", c.HTTPOn, true},
		{"externalon", c.ExternalOn, true},
		{"recurseon", c.RecurseOn, true},
		{"enforceRFC952", c.EnforceRFC952, false},
		{"EnumerationOn", c.EnumerationOn, true},
		{"srvRecordDefaultWeight", c.SRVRecordDefaultWeight, 1},
		{"IPSources", c.IPSources, []string{"netinfo", "mesos", "host"}},
		{"resolvers", c.Resolvers, []string{"8.8.8.8"}},
	}
	for _, ch := range checks {
		if !reflect.DeepEqual(ch.got, ch.want) {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
}

// Our keys that bound network clients: the defaults docs/security.md states.
func TestClientBoundsDefaults(t *testing.T) {
	o, err := parseArgs([]string{"-config", writeConfig(t, `{"masters": ["127.0.0.1:5050"]}`)}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	c := o.cfg
	for _, ch := range []struct {
		name      string
		got, want any
	}{
		{"externalFrom", c.ExternalFrom, []string{"127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16", "::1/128", "fc00::/7", "fe80::/10"}},
		{"dnsTCPMaxConnsPerClient", c.DNSTCPMaxConnsPerClient, 32},
		{"dnsMaxUDPSize", c.DNSMaxUDPSize, 1232},
		{"httpMaxConns", c.HTTPMaxConns, 256},
		{"httpMaxConnsPerClient", c.HTTPMaxConnsPerClient, 16},
		{"httpIdleTimeoutSeconds", c.HTTPIdleTimeoutSeconds, 30},
	} {
		if !reflect.DeepEqual(ch.got, ch.want) {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
	// Flags too; -1 turns a cap off.
	o, err = parseArgs([]string{"-masters=127.0.0.1:5050", "-externalFrom=0.0.0.0/0,::/0", "-httpMaxConns=-1"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(o.cfg.ExternalFrom, []string{"0.0.0.0/0", "::/0"}) || o.cfg.HTTPMaxConns != -1 {
		t.Errorf("flags not applied: externalFrom %v httpMaxConns %d", o.cfg.ExternalFrom, o.cfg.HTTPMaxConns)
	}
}

func TestKeysMatchCaseInsensitively(t *testing.T) {
	// mesos-dns decoded with encoding/json, which folds case: all of these worked.
	p := writeConfig(t, `{"Masters":["127.0.0.1:5050"],"HttpOn":false,"DNSON":true,"RefreshSeconds":7,"ipsources":["host"],"TTL":9}`)
	o, err := parseArgs([]string{"-config", p}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.cfg.HTTPOn || !o.cfg.DNSOn || o.cfg.RefreshSeconds != 7 || o.cfg.TTL != 9 || !reflect.DeepEqual(o.cfg.IPSources, []string{"host"}) {
		t.Errorf("case-folded keys not applied: %+v", o.cfg)
	}
}

func TestBadConfigNamesTheKey(t *testing.T) {
	cases := []struct {
		name, body string
		want       []string
	}{
		{"wrong type", `{"masters":["127.0.0.1:5050"],"port":"53"}`, []string{`key "port"`, "whole number"}},
		{"list not string", `{"masters":"127.0.0.1:5050"}`, []string{`key "masters"`, "list"}},
		{"unknown credential field", `{"masters":["127.0.0.1:5050"],"mesosCredentials":{"user":"x"}}`, []string{`key "mesosCredentials"`, `"user"`}},
		{"not an object", `[1,2]`, []string{"not a JSON object"}},
		{"truncated", `{"masters":["127.0.0.1:5050"`, []string{"not a JSON object"}},
		{"trailing", `{"masters":["127.0.0.1:5050"]} {}`, []string{"trailing data"}},
		{"bad master", `{"masters":["127.0.0.1"]}`, []string{`key "masters"`, "host:port"}},
		{"no source", `{}`, []string{`key "masters"`, "masters, zk or stateFile"}},
		{"bad zk", `{"zk":"127.0.0.1:2181/mesos"}`, []string{`key "zk"`, "zk://"}},
		{"zk without a path", `{"zk":"zk://dns:s3cret@127.0.0.1:2181"}`, []string{`key "zk"`, "has no path", "dns:***@"}},
		{"bad ip source", `{"masters":["127.0.0.1:5050"],"IPSources":["netinfo","rkt"]}`, []string{`key "IPSources"`, `"rkt"`}},
		{"dup ip source", `{"masters":["127.0.0.1:5050"],"IPSources":["host","host"]}`, []string{`key "IPSources"`, "twice"}},
		{"both off", `{"masters":["127.0.0.1:5050"],"dnson":false,"httpon":false}`, []string{`key "dnson"`}},
		{"bad resolver", `{"masters":["127.0.0.1:5050"],"resolvers":["dns.example"]}`, []string{`key "resolvers"`, `"dns.example"`}},
		{"bad zone resolver", `{"masters":["127.0.0.1:5050"],"zoneResolvers":{"weave":["x"]}}`, []string{`key "zoneResolvers"`, `"weave"`}},
		{"port range", `{"masters":["127.0.0.1:5050"],"httpport":70000}`, []string{`key "httpport"`}},
		{"state timeout", `{"masters":["127.0.0.1:5050"],"stateTimeoutSeconds":0}`, []string{`key "stateTimeoutSeconds"`}},
		{"auth", `{"masters":["127.0.0.1:5050"],"mesosAuthentication":"kerberos"}`, []string{`key "mesosAuthentication"`, `"kerberos"`}},
		{"basic without principal", `{"masters":["127.0.0.1:5050"],"mesosAuthentication":"basic"}`, []string{`key "mesosCredentials"`}},
		{"iam without a file", `{"masters":["127.0.0.1:5050"],"mesosAuthentication":"iam"}`, []string{`key "IAMConfigFile"`}},
		{"iam with a missing file", `{"masters":["127.0.0.1:5050"],"mesosAuthentication":"iam","IAMConfigFile":"/nonexistent/iam.json"}`, []string{`key "IAMConfigFile"`, "/nonexistent/iam.json"}},
		{"bad listener", `{"masters":["127.0.0.1:5050"],"listener":"localhost"}`, []string{`key "listener"`}},
		{"bad domain", `{"masters":["127.0.0.1:5050"],"domain":"-mesos"}`, []string{`key "domain"`}},
		{"log format", `{"masters":["127.0.0.1:5050"],"logFormat":"xml"}`, []string{`key "logFormat"`}},
		{"externalFrom", `{"masters":["127.0.0.1:5050"],"externalFrom":["10.0.0.0/8","internal"]}`, []string{`key "externalFrom"`, `"internal"`}},
		{"zero cap", `{"masters":["127.0.0.1:5050"],"httpMaxConnsPerClient":0}`, []string{`key "httpMaxConnsPerClient"`, "-1 for no cap"}},
		{"dns cap", `{"masters":["127.0.0.1:5050"],"dnsTCPMaxConnsPerClient":-2}`, []string{`key "dnsTCPMaxConnsPerClient"`}},
		{"udp size", `{"masters":["127.0.0.1:5050"],"dnsMaxUDPSize":100}`, []string{`key "dnsMaxUDPSize"`}},
		{"idle", `{"masters":["127.0.0.1:5050"],"httpIdleTimeoutSeconds":0}`, []string{`key "httpIdleTimeoutSeconds"`}},
		{"allowed host", `{"masters":["127.0.0.1:5050"],"httpAllowedHosts":["http://x.example/"]}`, []string{`key "httpAllowedHosts"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseArgs([]string{"-config", writeConfig(t, tc.body)}, io.Discard)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error %q shows a password", err)
			}
		})
	}
}

func TestIAMConfigFileIsRead(t *testing.T) {
	iam := fakeiam.New(t, "mesos-dns-sa", 0)
	creds := filepath.Join(t.TempDir(), "iam.json")
	if err := os.WriteFile(creds, []byte(iam.MesosDNSJSON(fakeiam.AccountKey())), 0o600); err != nil {
		t.Fatal(err)
	}
	o, err := parseArgs([]string{"-config", writeConfig(t, `{"masters":["127.0.0.1:5050"],"mesosAuthentication":"iam","IAMConfigFile":"`+creds+`"}`)}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.cfg.MesosAuthentication != "iam" || o.cfg.IAMConfigFile != creds {
		t.Errorf("got %q %q", o.cfg.MesosAuthentication, o.cfg.IAMConfigFile)
	}
	if err := os.WriteFile(creds, []byte(`{"uid":"mesos-dns-sa","secret":"not a key","login_endpoint":"`+iam.URL+`"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = parseArgs([]string{"-config", writeConfig(t, `{"masters":["127.0.0.1:5050"],"mesosAuthentication":"iam","IAMConfigFile":"`+creds+`"}`)}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), `key "IAMConfigFile"`) || !strings.Contains(err.Error(), "private_key") {
		t.Errorf("a file without a key: %v", err)
	}
}

func TestDeprecatedEmailKeyWarns(t *testing.T) {
	p := writeConfig(t, `{"masters":["127.0.0.1:5050"],"email":"admin.mesos"}`)
	o, err := parseArgs([]string{"-config", p}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.cfg.SOARname != "admin.mesos." || len(o.warnings) != 1 || !strings.Contains(o.warnings[0], `"email"`) {
		t.Errorf("SOARname %q warnings %q", o.cfg.SOARname, o.warnings)
	}
}

func TestFlagsOverrideFile(t *testing.T) {
	p := writeConfig(t, `{"masters":["127.0.0.1:5050"],"domain":"file","ttl":10,"recurseon":true}`)
	o, err := parseArgs([]string{"-domain", "flag", "-config", p, "-ttl", "20", "-recurseon=false",
		"-masters", "127.0.0.9:5050,127.0.0.10:5050", "-zoneResolvers", "a=127.0.0.2", "-zoneResolvers", "b=127.0.0.3:5353,127.0.0.4"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	c := o.cfg
	if c.Domain != "flag" || c.TTL != 20 || c.RecurseOn {
		t.Errorf("flags did not override: domain %q ttl %d recurseon %v", c.Domain, c.TTL, c.RecurseOn)
	}
	if !reflect.DeepEqual(c.Masters, []string{"127.0.0.9:5050", "127.0.0.10:5050"}) {
		t.Errorf("masters = %q", c.Masters)
	}
	want := map[string][]string{"a": {"127.0.0.2"}, "b": {"127.0.0.3:5353", "127.0.0.4"}}
	if !reflect.DeepEqual(c.ZoneResolvers, want) {
		t.Errorf("zoneResolvers = %v, want %v", c.ZoneResolvers, want)
	}
}

func TestBadFlagNamesItself(t *testing.T) {
	for _, args := range [][]string{
		{"-masters", "127.0.0.1:5050", "-ttl", "soon"},
		{"-masters", "127.0.0.1:5050", "-nosuchflag"},
		{"-masters", "127.0.0.1:5050", "-dnson=maybe"},
	} {
		_, err := parseArgs(args, io.Discard)
		if err == nil {
			t.Errorf("%q accepted", args)
			continue
		}
		name := strings.TrimLeft(strings.SplitN(args[2], "=", 2)[0], "-")
		if !strings.Contains(err.Error(), name) {
			t.Errorf("%q: error %q does not name %q", args, err, name)
		}
	}
}

func TestRunExitsNonZeroOnBadConfig(t *testing.T) {
	// A value of the wrong type stops start-up; the error carries the
	// warnings too (an unknown key alone only warns:
	// TestUnknownKeyWarnsAndStartContinues).
	var stderr strings.Builder
	code := run([]string{"-config", writeConfig(t, `{"masters":["127.0.0.1:5050"],"bogus":1,"port":"53"}`)}, io.Discard, &stderr)
	if code == 0 || !strings.Contains(stderr.String(), `key "port"`) || !strings.Contains(stderr.String(), `unknown config key "bogus"`) {
		t.Errorf("exit %d, stderr %q", code, stderr.String())
	}
}

func TestMarathonLBCommandLinesKeepWorking(t *testing.T) {
	for _, tc := range []struct {
		name     string
		args     []string
		marathon []string
		groups   []string
		warn     string
		level    string
	}{
		{"several URLs after one flag", []string{"--marathon", "http://127.0.0.1:8080", "http://127.0.0.2:8080", "--group", "external"},
			[]string{"http://127.0.0.1:8080", "http://127.0.0.2:8080"}, []string{"external"}, "", ""},
		{"container entry point word, short flags", []string{"sse", "-m", "http://127.0.0.1:8080", "--group", "a,b", "--group", "c"},
			[]string{"http://127.0.0.1:8080"}, []string{"a", "b", "c"}, "", ""},
		{"ignored flags warn", []string{"--marathon", "http://127.0.0.1:8080", "--group", "*", "--command", "sv reload haproxy", "--skip-validation", "--skip-config-cleanup", "--max-backoff", "10"},
			[]string{"http://127.0.0.1:8080"}, []string{"*"}, "--command,--skip-validation,--skip-config-cleanup,--max-backoff", ""},
		{"log level", []string{"--marathon", "http://127.0.0.1:8080", "--group", "*", "--log-level", "DEBUG"},
			[]string{"http://127.0.0.1:8080"}, []string{"*"}, "", "debug"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := parseArgs(tc.args, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(o.lb.marathon, tc.marathon) || !reflect.DeepEqual(o.lb.cfg.Groups, tc.groups) {
				t.Errorf("marathon %q groups %q", o.lb.marathon, o.lb.cfg.Groups)
			}
			if o.cfg.DNSOn {
				t.Error("a marathon-lb command line started a DNS server")
			}
			for _, flag := range strings.Split(tc.warn, ",") {
				if flag != "" && !strings.Contains(strings.Join(o.warnings, "\n"), flag) {
					t.Errorf("no warning about %s: %q", flag, o.warnings)
				}
			}
			if tc.level != "" && o.cfg.LogLevel != tc.level {
				t.Errorf("log level %q, want %q", o.cfg.LogLevel, tc.level)
			}
		})
	}
	if _, err := parseArgs([]string{"--marathon", "http://127.0.0.1:8080", "--group", "*", "--log-level", "LOUD"}, io.Discard); err == nil || !strings.Contains(err.Error(), "log-level") {
		t.Errorf("bad --log-level: %v", err)
	}
	// -logLevel wins over marathon-lb's --log-level, in either order.
	for _, args := range [][]string{{"--log-level", "DEBUG", "-logLevel", "warn"}, {"-logLevel", "warn", "--log-level", "DEBUG"}} {
		o, err := parseArgs(append([]string{"--marathon", "http://127.0.0.1:8080", "--group", "*"}, args...), io.Discard)
		if err != nil || o.cfg.LogLevel != "warn" {
			t.Errorf("%q: log level %q, %v; want warn", args, o.cfg.LogLevel, err)
		}
	}
}
