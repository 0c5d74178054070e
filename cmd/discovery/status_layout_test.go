package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/discovery-mesos/discovery/internal/haproxytest"
)

// layoutHarness loads the status page (proxied, so that it is same-origin) in
// an iframe per width and measures, once it has laid out: how far the page
// overflows the width, and every table row whose cells overlap (a column
// drawn over the next, as the reload reasons once were, or content wider than
// its cell, spilling into the next). It writes the result
// as JSON into <pre id="result"> for --dump-dom to carry out.
const layoutHarness = `<!doctype html><html><body>
<div id="frames"></div><pre id="result">pending</pre>
<script>
const widths = [1280, 1024, 768];
const out = {};
let left = widths.length;
for (const w of widths) {
  const f = document.createElement('iframe');
  f.style.width = w + 'px'; f.style.height = '900px'; f.style.border = '0';
  f.src = '/status/';
  f.onload = () => {
    const d = f.contentDocument;
    const overlaps = [];
    for (const tr of d.querySelectorAll('tr')) {
      const cells = [...tr.children];
      for (const c of cells) {
        if (c.scrollWidth > c.clientWidth + 1) {
          overlaps.push((tr.closest('table').previousElementSibling || {}).id + ': content wider than its cell: ' + c.textContent.trim().slice(0, 40));
        }
      }
      for (let i = 1; i < cells.length; i++) {
        const a = cells[i-1].getBoundingClientRect(), b = cells[i].getBoundingClientRect();
        if (a.width > 0 && b.width > 0 && a.right > b.left + 1) {
          overlaps.push((tr.closest('table').previousElementSibling || {}).id + ': ' + cells[i-1].textContent.trim().slice(0, 40));
        }
      }
    }
    out[w] = {overflow: d.documentElement.scrollWidth - d.documentElement.clientWidth, overlaps: overlaps};
    if (--left === 0) document.getElementById('result').textContent = JSON.stringify(out);
  };
  document.getElementById('frames').appendChild(f);
}
</script></body></html>`

// TestStatusPageLayoutAtCommonWidths: at 1280, 1024 and 768 pixels the status
// page of a daemon with the load balancer (long reload reasons, left-out
// apps, backends) fits its width and no table cell is drawn over the next,
// measured in Chromium's own layout.
func TestStatusPageLayoutAtCommonWidths(t *testing.T) {
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
	page := "http://" + d.httpLn.Addr().String() + "/"
	harness := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/status/") {
			resp, err := http.Get(page)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			defer resp.Body.Close()
			w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
			_, _ = io.Copy(w, resp.Body)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, layoutHarness)
	}))
	t.Cleanup(harness.Close)

	dom := runChromium(t, chromium, harness.URL+"/", "--dump-dom", "--window-size=1400,1000", "--virtual-time-budget=10000")
	m := regexp.MustCompile(`(?s)<pre id="result">(.*?)</pre>`).FindStringSubmatch(dom)
	if m == nil || m[1] == "pending" {
		t.Fatalf("the harness did not finish:\n%s", lastLines(dom, 20))
	}
	var got map[string]struct {
		Overflow float64  `json:"overflow"`
		Overlaps []string `json:"overlaps"`
	}
	if err := json.Unmarshal([]byte(strings.ReplaceAll(m[1], "&quot;", `"`)), &got); err != nil {
		t.Fatalf("result %q: %v", m[1], err)
	}
	if len(got) != 3 {
		t.Fatalf("measured %d widths: %s", len(got), m[1])
	}
	for w, r := range got {
		t.Logf("%s px: overflow %v px, %d overlapping cells", w, r.Overflow, len(r.Overlaps))
		if r.Overflow > 0 {
			t.Errorf("at %s px the page is %v px wider than the window", w, r.Overflow)
		}
		for _, o := range r.Overlaps {
			t.Errorf("at %s px a cell is drawn over the next: %s", w, o)
		}
	}
}
