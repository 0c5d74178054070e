package e2e

import (
	"context"
	"math/rand/v2"
	"net"
	"os"
	osexec "os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/discovery-mesos/discovery/internal/sim"
)

// The JVM recipe of docs/clients.md: a Java program resolves a name through
// the JVM's own address cache (networkaddress.cache.ttl, 30 s by default) and
// keeps the address for as long as it likes. On a VIP name that never
// matters; on an A-record name with a fixed port it does. The JVM runs in its
// own mount namespace with a resolv.conf naming discovery's DNS, as nginx does
// in nginx_vip_test.go.

// TestJVMVIPNameSurvivesChurn: a JVM requesting http://VIP:PORT/ on a new
// connection each time, while the app's tasks are killed, moved and scaled
// every 100 ms: every answer comes from the app.
func TestJVMVIPNameSurvivesChurn(t *testing.T) {
	java := javaBinary(t)
	vipPort := servicePortBase(t, 1)
	c, d, app, name := vipClientCluster(t, vipPort)
	res := jvmThroughChurn(t, java, c, d, app.ID, "http://"+name+":"+itoa(vipPort)+"/")
	t.Logf("JVM → %s:%d during %v of churn: %+v", name, vipPort, churnFor(), res)
	if res.failed > 0 || res.wrong > 0 {
		t.Fatalf("%d failed (first: %s), %d from another app", res.failed, res.firstFailure, res.wrong)
	}
	if res.ok < 100 {
		t.Fatalf("only %d requests answered in %v", res.ok, churnFor())
	}
}

// TestJVMARecordNameFails is the pitfall docs/clients.md spells out for the
// JVM: the app's A-record name and the host port one of its tasks had at
// start. The JVM caches the address; the port is not in the record at all.
func TestJVMARecordNameFails(t *testing.T) {
	java := javaBinary(t)
	c, d, app, name := aRecordClientCluster(t)
	res := jvmThroughChurn(t, java, c, d, app.ID, "http://"+name+":"+itoa(app.Tasks[0].Ports[0])+"/")
	t.Logf("JVM → %s:%d during %v of churn: %+v", name, app.Tasks[0].Ports[0], churnFor(), res)
	if res.failed == 0 && res.wrong == 0 {
		t.Fatal("an A-record name with a fixed port survived tasks moving: the docs' warning would be wrong")
	}
}

type jvmResult struct {
	ok, wrong, failed int
	firstFailure      string
}

func javaBinary(t *testing.T) string {
	t.Helper()
	p, err := osexec.LookPath("java")
	if err != nil {
		t.Skip("no JVM (scripts/install-deps.sh installs default-jre-headless)")
	}
	if err := osexec.Command("unshare", "-m", "true").Run(); err != nil {
		t.Skipf("cannot give the JVM its own resolv.conf (unshare -m: %v); run as root", err)
	}
	return p
}

// jvmThroughChurn runs testdata/jvm/Client.java against url for churnFor()
// while churning the app every 100 ms, and returns what the client counted.
func jvmThroughChurn(t *testing.T, java string, c *sim.Cluster, d *daemon, appID, url string) jvmResult {
	t.Helper()
	dnsHost, dnsPort, err := net.SplitHostPort(d.DNSAddr)
	if err != nil || dnsPort != "53" {
		t.Fatalf("the system resolver asks port 53; discovery's DNS is on %s", d.DNSAddr)
	}
	src, err := filepath.Abs("testdata/jvm/Client.java")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	resolv := filepath.Join(dir, "resolv.conf")
	if err := os.WriteFile(resolv, []byte("nameserver "+dnsHost+"\noptions timeout:2 attempts:2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	secs := int(churnFor() / time.Second)
	// The single-file launcher compiles the client first: give it time
	// before the churn counts.
	ctx, cancel := context.WithTimeout(context.Background(), churnFor()+2*time.Minute)
	defer cancel()
	cmd := osexec.CommandContext(ctx, "unshare", "-m", "sh", "-c", `mount --bind "$1" /etc/resolv.conf && exec "$2" -Xss512k -XX:+UseSerialGC "$3" "$4" "$5" "$6" 5`,
		"sh", resolv, java, src, url, strconv.Itoa(secs), appID)
	cmd.Dir = dir
	out := make(chan []byte, 1)
	go func() {
		b, err := cmd.CombinedOutput()
		if err != nil {
			b = append(b, []byte("\n"+err.Error())...)
		}
		out <- b
	}()
	r := rand.New(rand.NewPCG(15, 1))
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var b []byte
	for b == nil {
		select {
		case b = <-out:
		case <-tick.C:
			if err := churnOnce(c, appID, r); err != nil {
				t.Errorf("churn: %v", err)
			}
		}
	}
	m := regexp.MustCompile(`(?m)^ok=(\d+) wrong=(\d+) failed=(\d+)$`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("the JVM client printed no counts:\n%s", b)
	}
	res := jvmResult{}
	res.ok, _ = strconv.Atoi(string(m[1]))
	res.wrong, _ = strconv.Atoi(string(m[2]))
	res.failed, _ = strconv.Atoi(string(m[3]))
	if f := regexp.MustCompile(`(?m)^first_failure=(.*)$`).FindSubmatch(b); f != nil {
		res.firstFailure = string(f[1])
	}
	return res
}
