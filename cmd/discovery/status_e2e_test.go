package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/discovery-mesos/discovery/internal/haproxytest"
)

var updateScreenshot = flag.Bool("update-screenshot", false, "write docs/status-page.png from the end-to-end status page test")

// chromiumBinary returns Debian's chromium. Without it the test is skipped on a
// developer's machine and fails in CI (CI=true), where it must run.
func chromiumBinary(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed (apt-get install -y chromium); it is required in CI")
	}
	t.Skip("chromium is not installed (apt-get install -y chromium)")
	return ""
}

var loopbackURL = regexp.MustCompile(`^http://127\.0\.0\.1:[0-9]+/`)

// runChromium runs headless chromium on one loopback URL with extra (the
// --dump-dom or --screenshot action) and returns its standard output. Every
// network feature that could reach beyond this machine is off, and names other
// than 127.0.0.1 do not resolve.
func runChromium(t *testing.T, bin, url string, extra ...string) string {
	t.Helper()
	if !loopbackURL.MatchString(url) {
		t.Fatalf("chromium may only load 127.0.0.1 URLs, not %q", url)
	}
	home := t.TempDir()
	args := []string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--no-proxy-server", "--disable-extensions",
		"--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
		"--user-data-dir=" + filepath.Join(home, "profile"),
	}
	args = append(append(args, extra...), url)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	// Chromium starts helper processes: run it in its own process group and
	// end the whole group on timeout.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+home, "XDG_CACHE_HOME="+home)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %s: %v\n%s", url, err, lastLines(stderr.String(), 20))
	}
	return stdout.String()
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// sampleStateDoc is deploy/sample's state.json, decoded for a test to edit.
func sampleStateDoc(t *testing.T) map[string]any {
	t.Helper()
	raw, err := os.ReadFile("../../deploy/sample/state.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

// statusE2EState is the sample cluster made ready for a real HAProxy on
// loopback: the labelled apps' service ports become free ports bound on
// 127.0.0.1, and two tasks are added, one whose HAPROXY_0_PORT is not a port
// (the app is left out) and one whose name is markup.
func statusE2EState(t *testing.T) []byte {
	t.Helper()
	doc := sampleStateDoc(t)
	portLabel := regexp.MustCompile(`^HAPROXY_([0-9]+)_PORT$`)
	ports := map[string]string{} // sample service port -> free port, shared by an app's tasks
	var marathon map[string]any
	for _, f := range doc["frameworks"].([]any) {
		fw := f.(map[string]any)
		if fw["name"] == "marathon" {
			marathon = fw
		}
		for _, tk := range fw["tasks"].([]any) {
			task := tk.(map[string]any)
			labels, _ := task["labels"].([]any)
			for _, l := range labels {
				lab := l.(map[string]any)
				m := portLabel.FindStringSubmatch(lab["key"].(string))
				if m == nil {
					continue
				}
				old := lab["value"].(string)
				if ports[old] == "" {
					ports[old] = strconv.Itoa(haproxytest.FreePort(t, "127.0.0.1"))
				}
				lab["value"] = ports[old]
				labels = append(labels, map[string]any{"key": "HAPROXY_" + m[1] + "_BIND_ADDR", "value": "127.0.0.1"})
			}
			task["labels"] = labels
		}
	}
	if marathon == nil {
		t.Fatal("sample cluster has no marathon framework")
	}
	extra := func(id, name string, labels ...string) map[string]any {
		var ls []any
		for i := 0; i+1 < len(labels); i += 2 {
			ls = append(ls, map[string]any{"key": labels[i], "value": labels[i+1]})
		}
		return map[string]any{
			"id": id, "name": name, "framework_id": marathon["id"], "slave_id": "sample-agent-S2", "state": "TASK_RUNNING",
			"resources": map[string]any{"ports": "[31900-31900]"}, "labels": ls,
			"statuses": []any{map[string]any{"state": "TASK_RUNNING", "timestamp": 1763700100.0}},
		}
	}
	marathon["tasks"] = append(marathon["tasks"].([]any),
		extra("broken.0001", "broken", "HAPROXY_GROUP", "external", "HAPROXY_0_PORT", "not-a-port"),
		extra("evil.0001", `<script>alert("x")</script>`, "note", `"><img src=x onerror=alert(1)>`),
	)
	out, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// The status page of the whole daemon with the load balancer on (a real
// HAProxy) as a browser shows it: the leader, a task's DNS names, a backend
// with its servers, the app left out and why, the initial reload; markup in a
// task name stays text. With -update-screenshot it also refreshes
// docs/status-page.png.
func TestStatusPageInChromium(t *testing.T) {
	chromium := chromiumBinary(t)
	bin := haproxytest.Binary(t)
	dir := haproxytest.Dir(t)
	stateFile := filepath.Join(dir, "state.json")
	writeAtomic(t, stateFile, statusE2EState(t))
	o, err := parseArgs(lbDaemonArgs(t, bin, dir, stateFile, "external,internal"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, o.cfg, o.lb)
	if !haproxytest.WaitFor(15*time.Second, func() bool {
		st := d.lb.syncer.Status()
		return d.dnsTable.Builds() > 0 && len(st.Reloads) > 0 && len(st.LeftOut) > 0
	}) {
		t.Fatalf("no table or no applied config; lb status %+v", d.lb.syncer.Status())
	}
	base := "http://" + d.httpLn.Addr().String() + "/"

	dom := runChromium(t, chromium, base, "--dump-dom")
	for _, want := range []string{
		`<div class="v" id="leader">127.0.0.1</div>`, // the leading master
		"sample-master-1",
		"web.marathon.mesos.",       // task.framework.domain
		"_web._tcp.marathon.mesos.", // an SRV name
		"127.0.10.1",                // a task's own address
		"ct-backup",                 // a Chronos task
		"web_",                      // a backend (named after the app and service port)
		`<span class="badge ok">ready</span>`,
		"/broken",    // the app left out
		"not-a-port", // and why
		"initial",    // the first reload's reason
		"Showing 13 of 13 tasks.",
		"&lt;script&gt;alert(\"x\")&lt;/script&gt;", // markup in a task name is text
	} {
		if !strings.Contains(dom, want) {
			t.Errorf("rendered page lacks %q", want)
		}
	}
	if strings.Contains(dom, "<script") || strings.Contains(dom, "<img") {
		t.Error("markup from the cluster became elements")
	}

	// The filter is a plain GET form: its URL narrows the list.
	dom = runChromium(t, chromium, base+"?q=redis", "--dump-dom")
	if !strings.Contains(dom, "Showing 1 of 1 matching") || !strings.Contains(dom, "redis.marathon.mesos.") || strings.Contains(dom, "web.marathon.mesos.") {
		t.Errorf("filtered page does not show redis alone:\n%s", lastLines(dom, 40))
	}

	shot := filepath.Join(t.TempDir(), "status.png")
	runChromium(t, chromium, base, "--screenshot="+shot, "--window-size=1280,2000", "--hide-scrollbars")
	b, err := os.ReadFile(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if sz := img.Bounds().Size(); sz.X != 1280 || sz.Y != 2000 {
		t.Errorf("screenshot is %v, want 1280x2000", sz)
	}
	if *updateScreenshot {
		if err := os.WriteFile("../../docs/status-page.png", b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// The status page of a DNS-only daemon (no HAProxy needed) on the sample
// cluster, as a browser shows it.
func TestStatusPageInChromiumWithoutLoadBalancer(t *testing.T) {
	chromium := chromiumBinary(t)
	stateFile := filepath.Join(t.TempDir(), "state.json")
	writeAtomic(t, stateFile, statusE2EState(t))
	d := startDaemon(t, loopbackConfig(stateFile))
	waitFor(t, 5*time.Second, "first table", func() bool { return d.dnsTable.Builds() > 0 })

	dom := runChromium(t, chromium, "http://"+d.httpLn.Addr().String()+"/?refresh=30", "--dump-dom")
	for _, want := range []string{
		`<div class="v" id="leader">127.0.0.1</div>`,
		"web.marathon.mesos.",
		"cleanup.metronome.mesos.", // a Metronome job's task
		"The load balancer is off",
		`<meta http-equiv="refresh" content="30">`,
		"&lt;script&gt;alert(\"x\")&lt;/script&gt;",
	} {
		if !strings.Contains(dom, want) {
			t.Errorf("rendered page lacks %q", want)
		}
	}
	if strings.Contains(dom, "<script") || strings.Contains(dom, "<img") {
		t.Error("markup from the cluster became elements")
	}
}
