package main

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/discovery-mesos/discovery/internal/fakeiam"
	"github.com/discovery-mesos/discovery/internal/fakemarathon"
	"github.com/discovery-mesos/discovery/internal/haproxytest"
)

// TestRenderWithEachMarathonCredentialForm: every way marathon-lb took
// Marathon credentials works unchanged, against a Marathon behind a proxy
// that does not pass /v2/events (render needs only /v2/apps); without
// credentials the error says which settings decide it.
func TestRenderWithEachMarathonCredentialForm(t *testing.T) {
	basic := fakemarathon.New(fakemarathon.Options{User: "lb", Password: "s3cret"})
	t.Cleanup(basic.Close)
	iam := fakeiam.New(t, "marathon-lb-sa", 0)
	dcos := fakemarathon.New(fakemarathon.Options{})
	t.Cleanup(dcos.Close)
	dcos.RequireToken(iam.Check)
	for _, m := range []*fakemarathon.Server{basic, dcos} {
		m.BlockEvents(http.StatusNotFound)
		if err := m.SetAppsJSON(readFileT(t, "../../state/marathon/testdata/marathon/apps-marathon-1.5.json")); err != nil {
			t.Fatal(err)
		}
	}
	credFile := filepath.Join(t.TempDir(), "marathon-creds")
	writeFileT(t, credFile, "lb:s3cret\n")
	creds := iam.CredentialsJSON(fakeiam.AccountKey())

	for _, tc := range []struct {
		name   string
		m      *fakemarathon.Server
		args   []string
		env    map[string]string
		failed []string // "" = renders
	}{
		{name: "--auth-credentials", m: basic, args: []string{"--auth-credentials", "lb:s3cret"}},
		{name: "--marathon-auth-credential-file", m: basic, args: []string{"--marathon-auth-credential-file", credFile}},
		{name: "MARATHON_USER and MARATHON_PASSWORD", m: basic, env: map[string]string{"MARATHON_USER": "lb", "MARATHON_PASSWORD": "s3cret"}},
		{name: "--auth-credentials wins over MARATHON_USER", m: basic, args: []string{"--auth-credentials", "lb:s3cret"},
			env: map[string]string{"MARATHON_USER": "lb", "MARATHON_PASSWORD": "wrong"}},
		{name: "--dcos-auth-credentials", m: dcos, args: []string{"--dcos-auth-credentials", creds}},
		{name: "DCOS_SERVICE_ACCOUNT_CREDENTIAL", m: dcos, env: map[string]string{"DCOS_SERVICE_ACCOUNT_CREDENTIAL": creds}},
		{name: "none", m: basic, failed: []string{"401", "Marathon refused the credentials", "--auth-credentials", "MARATHON_USER"}},
		{name: "a service account the IAM does not know", m: dcos, args: []string{"--dcos-auth-credentials", iam.CredentialsJSON(fakeiam.OtherKey())},
			failed: []string{`DC/OS login as "marathon-lb-sa"`, "refused: 401"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			var stdout, stderr strings.Builder
			args := append([]string{"--marathon", tc.m.URL(), "--group", "*", "--dry", "-lb-templates-dir", t.TempDir()}, tc.args...)
			code := run(args, &stdout, &stderr)
			if strings.Contains(stderr.String(), "s3cret") || strings.Contains(stderr.String(), "PRIVATE KEY") {
				t.Errorf("a secret reached stderr:\n%s", stderr.String())
			}
			if tc.failed == nil {
				if code != 0 || !strings.Contains(stdout.String(), "backend ") {
					t.Fatalf("exit %d, stderr:\n%s", code, stderr.String())
				}
				return
			}
			if code == 0 {
				t.Fatal("rendered without credentials")
			}
			for _, want := range tc.failed {
				if !strings.Contains(stderr.String(), want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
				}
			}
		})
	}
	if n := basic.Requests("/v2/events") + dcos.Requests("/v2/events"); n != 0 {
		t.Errorf("render asked for the event stream %d times", n)
	}
}

// TestDCOSCredentialsAreCheckedAtStart: a service account that cannot be
// read stops start-up naming the flag and the environment variable, and
// never shows the key.
func TestDCOSCredentialsAreCheckedAtStart(t *testing.T) {
	t.Setenv("DCOS_SERVICE_ACCOUNT_CREDENTIAL", `{"uid":"sa","private_key":"-----BEGIN PRIVATE KEY-----\nMIIsecret\n-----END PRIVATE KEY-----\n","login_endpoint":"https://127.0.0.1/acs/api/v1/auth/login"}`)
	_, err := parseArgs([]string{"--marathon", "http://127.0.0.1:8080", "--group", "*"}, os.Stderr)
	if err == nil || !strings.Contains(err.Error(), "flag -dcos-auth-credentials (or DCOS_SERVICE_ACCOUNT_CREDENTIAL)") || !strings.Contains(err.Error(), "private_key") {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), "MIIsecret") {
		t.Errorf("the key is in the error: %v", err)
	}
	// Without the load balancer, DC/OS's variable (set for every task) is not read.
	if _, err := parseArgs([]string{"-masters", "127.0.0.1:5050"}, os.Stderr); err != nil {
		t.Errorf("a DNS-only start read the load balancer's credentials: %v", err)
	}
}

// TestDaemonWithAProtectedMarathonSaysWhy: the daemon started without the
// credentials a Marathon needs says why it has no apps, in /ready and on the
// status page, naming the settings; with them (here MARATHON_USER and
// MARATHON_PASSWORD, and no event stream) it loads the apps by polling.
func TestDaemonWithAProtectedMarathonSaysWhy(t *testing.T) {
	bin := haproxytest.Binary(t)
	m := fakemarathon.New(fakemarathon.Options{User: "lb", Password: "s3cret"})
	t.Cleanup(m.Close)
	m.BlockEvents(http.StatusNotFound)
	if err := m.SetAppsJSON(readFileT(t, "../../state/marathon/testdata/marathon/apps-marathon-1.5.json")); err != nil {
		t.Fatal(err)
	}
	start := func(t *testing.T) *daemon {
		dir := haproxytest.Dir(t)
		args := lbDaemonArgs(t, bin, dir, filepath.Join(dir, "state.json"), "*")
		// The load balancer alone, following Marathon: no Mesos source.
		args = append(args[:0:0], args[4:]...)
		args = append(args, "-dnson=false", "--marathon", m.URL(), "-marathon-poll-seconds", "1")
		o, err := parseArgs(args, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		return startDaemon(t, o.cfg, o.lb)
	}
	readyBody := func(d *daemon) (int, string) {
		resp, err := http.Get("http://" + d.httpLn.Addr().String() + "/ready")
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	t.Run("without credentials", func(t *testing.T) {
		d := start(t)
		var body string
		if !haproxytest.WaitFor(10*time.Second, func() bool {
			var code int
			code, body = readyBody(d)
			return code == http.StatusServiceUnavailable && strings.Contains(body, "Marathon refused the credentials")
		}) {
			t.Fatalf("/ready never said why: %q", body)
		}
		for _, want := range []string{m.URL(), "401", "--auth-credentials", "MARATHON_USER", "--dcos-auth-credentials"} {
			if !strings.Contains(body, want) {
				t.Errorf("/ready lacks %q: %q", want, body)
			}
		}
	})
	t.Run("with MARATHON_USER and MARATHON_PASSWORD", func(t *testing.T) {
		t.Setenv("MARATHON_USER", "lb")
		t.Setenv("MARATHON_PASSWORD", "s3cret")
		d := start(t)
		var code int
		var body string
		if !haproxytest.WaitFor(20*time.Second, func() bool {
			code, body = readyBody(d)
			return code == http.StatusOK
		}) {
			t.Fatalf("/ready = %d %q", code, body)
		}
		if snap := d.hub.Current(); snap == nil || snap.Apps == nil || len(snap.Apps.Apps) == 0 {
			t.Fatal("no apps loaded")
		}
		st := d.hub.Sources()
		if len(st) != 1 || !strings.Contains(st[0].Note, "polling /v2/apps every 1s") {
			t.Errorf("sources %+v: want the polling note", st)
		}
	})
}

// TestBasicCredentialsWinOverTheServiceAccount: as in marathon-lb, basic
// credentials and a service account together mean basic; a warning says the
// account is not used.
func TestBasicCredentialsWinOverTheServiceAccount(t *testing.T) {
	iam := fakeiam.New(t, "sa", 0)
	t.Setenv("DCOS_SERVICE_ACCOUNT_CREDENTIAL", iam.CredentialsJSON(fakeiam.AccountKey()))
	o, err := parseArgs([]string{"--marathon", "http://127.0.0.1:8080", "--group", "*", "--auth-credentials", "lb:pw"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.lb.dcosCreds != "" || o.lb.authCreds != "lb:pw" {
		t.Errorf("dcos %t, basic %q", o.lb.dcosCreds != "", o.lb.authCreds)
	}
	if !strings.Contains(strings.Join(o.warnings, "\n"), "DC/OS service account") {
		t.Errorf("no warning: %q", o.warnings)
	}
}
