package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/discovery-mesos/discovery/internal/fakemarathon"
	"github.com/discovery-mesos/discovery/internal/peers"
)

// The routing differential against the real marathon-lb: both render the
// HAProxy config for the same Marathon apps (`marathon_lb.py --dry` and
// `discovery render`), and the routing facts read from the two configs must be
// the same — which port, for which host, path, app id, SNI or TLS state, goes
// to which servers, in which mode and balance, and which requests are
// redirected or asked for credentials. How each is spelled (ACL names, our
// idle-close option, hash-type) is not a routing fact. Differences kept on
// purpose are named below, each also a row of docs/migrating-from-marathon-lb.md.

// marathonLBRoutingExceptions are the differences kept on purpose: a fact
// only one side has, matched by a regular expression, and why.
var marathonLBRoutingExceptions = []struct {
	side string // "marathon-lb" or "discovery": who has the fact
	fact *regexp.Regexp
	why  string
}{}

// offLoopback matches the private IPv4 literals of marathon-lb's fixtures.
var offLoopback = regexp.MustCompile(`"(10|172)\.(\d+)\.(\d+)\.(\d+)"`)

// marathonLBPeer returns how to run the real marathon-lb, or skips.
func marathonLBPeer(t *testing.T) (python, script string) {
	t.Helper()
	dir := os.Getenv("MARATHON_LB_DIR")
	if dir == "" {
		dir = peers.Path("marathon-lb")
	}
	script = filepath.Join(dir, "marathon_lb.py")
	if _, err := os.Stat(script); err != nil {
		t.Skipf("the real marathon-lb is not here (%v): set MARATHON_LB_DIR", err)
	}
	// Debian's python3, where scripts/install-deps.sh puts marathon-lb's
	// modules (requests, pycurl, dateutil, six, jwt, cryptography).
	python = "/usr/bin/python3"
	if out, err := exec.Command(python, "-c", "import requests, pycurl, dateutil, six, jwt").CombinedOutput(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("marathon-lb's Python modules are missing (scripts/install-deps.sh installs them): %s", out)
		}
		t.Skipf("marathon-lb's Python modules are missing: %s", out)
	}
	return python, script
}

func TestRoutingMatchesMarathonLB(t *testing.T) {
	python, script := marathonLBPeer(t)
	peerTests := filepath.Join(filepath.Dir(script), "tests")
	cases := []struct {
		fixture string
		flags   [][]string
	}{
		{"testdata/marathonlb-routing-apps.json", [][]string{{}, {"--health-check"}, {"--strict-mode"}}},
		{filepath.Join(peerTests, "marathon15_apps.json"), [][]string{{}, {"--health-check"}}},
		{filepath.Join(peerTests, "zdd_apps.json"), [][]string{{}}},
	}
	used := make([]bool, len(marathonLBRoutingExceptions))
	for _, c := range cases {
		fixture := c.fixture
		for _, flags := range c.flags {
			name := filepath.Base(fixture) + strings.Join(append([]string{""}, flags...), " ")
			t.Run(name, func(t *testing.T) {
				doc, err := os.ReadFile(fixture)
				if err != nil {
					t.Fatal(err)
				}
				// marathon-lb's fixtures name 10.x and 172.x hosts: both sides
				// get them on loopback, so that nothing could ever reach them.
				doc = offLoopback.ReplaceAll(doc, []byte(`"127.$2.$3.$4"`))
				m := fakemarathon.New(fakemarathon.Options{})
				t.Cleanup(m.Close)
				if err := m.SetAppsJSON(doc); err != nil {
					t.Fatal(err)
				}
				theirs := runOut(t, python, append([]string{script, "--dry", "--marathon", m.URL(), "--group", "external",
					"--skip-validation", "--syslog-socket", "/dev/null"}, flags...)...)
				ours := runOut(t, discoveryBin, append([]string{"render", "--marathon", m.URL(), "--group", "external",
					"-lb-templates-dir", t.TempDir()}, flags...)...)
				theirFacts, ourFacts := routingFacts(theirs), routingFacts(ours)
				if len(theirFacts) == 0 {
					t.Fatalf("marathon-lb's config gave %d routing facts:\n%s", len(theirFacts), theirs)
				}
				check := func(side string, facts, other []string) {
					for _, f := range facts {
						if slices.Contains(other, f) {
							continue
						}
						named := false
						for i, e := range marathonLBRoutingExceptions {
							if e.side == side && e.fact.MatchString(f) {
								named, used[i] = true, true
							}
						}
						if !named {
							t.Errorf("only %s: %s", side, f)
						}
					}
				}
				check("marathon-lb", theirFacts, ourFacts)
				check("discovery", ourFacts, theirFacts)
				if t.Failed() {
					t.Logf("marathon-lb's config:\n%s\n--- discovery's config:\n%s", theirs, ours)
				}
			})
		}
	}
	for i, e := range marathonLBRoutingExceptions {
		if !used[i] {
			t.Errorf("named difference %q (%s) never seen: remove it here and in the guide", e.fact, e.why)
		}
	}
}

func runOut(t *testing.T, bin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", bin, args, err, stderr.String())
	}
	return string(out)
}

// section is one proxy of an HAProxy config, as routingFacts reads it.
type section struct {
	kind, name string
	lines      [][]string
}

// routingFacts reads the routing of an HAProxy config as sorted sentences.
func routingFacts(cfg string) []string {
	var secs []*section
	var cur *section
	for line := range strings.Lines(cfg) {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		switch f[0] {
		case "frontend", "backend", "listen", "global", "defaults", "userlist", "resolvers", "peers":
			name := ""
			if len(f) > 1 {
				name = f[1]
			}
			cur = &section{kind: f[0], name: name}
			secs = append(secs, cur)
			continue
		}
		if cur != nil {
			cur.lines = append(cur.lines, f)
		}
	}
	backends := map[string]string{}
	for _, s := range secs {
		if s.kind == "backend" {
			backends[s.name] = backendFact(s)
		}
	}
	var facts []string
	for _, s := range secs {
		if s.kind != "frontend" {
			continue
		}
		acls := map[string]string{}
		var binds []string
		mode := "tcp"
		for _, l := range s.lines {
			switch l[0] {
			case "acl":
				if len(l) > 2 {
					acls[l[1]] = criterion(l[2:])
				}
			case "bind":
				b := bindPort(l[1])
				if slices.Contains(l, "ssl") {
					b += " ssl"
				}
				binds = append(binds, b)
			case "mode":
				mode = l[1]
			}
		}
		where := "frontend :" + strings.Join(binds, ",") + " " + mode
		for _, l := range s.lines {
			switch {
			case l[0] == "use_backend" || l[0] == "default_backend":
				facts = append(facts, fmt.Sprintf("%s when %s → %s", where, condition(l[2:], acls), backends[l[1]]))
			case l[0] == "redirect" || (l[0] == "http-request" && len(l) > 1 && l[1] == "redirect"):
				rule, cond := splitCond(l)
				if rule[0] == "http-request" {
					rule = rule[1:] // "redirect …" and "http-request redirect …" are one rule
				}
				facts = append(facts, fmt.Sprintf("%s when %s → %s", where, condition(cond, acls), strings.Join(rule, " ")))
			case l[0] == "http-request" && len(l) > 1 && l[1] == "auth":
				_, cond := splitCond(l)
				facts = append(facts, fmt.Sprintf("%s when %s → ask for credentials", where, condition(cond, acls)))
			}
		}
	}
	sort.Strings(facts)
	return slices.Compact(facts)
}

// backendFact is what a backend does with a request: mode, balance,
// servers, stickiness and who may reach it.
func backendFact(s *section) string {
	mode, balance := "tcp", "roundrobin"
	var servers, extra []string
	acls := map[string]string{}
	var allow, deny []string
	denyAll := false
	for _, l := range s.lines {
		switch {
		case l[0] == "mode":
			mode = l[1]
		case l[0] == "balance" && len(l) > 1:
			balance = l[1]
		case l[0] == "server" && len(l) > 2:
			servers = append(servers, l[2])
		case l[0] == "cookie" || l[0] == "stick-table":
			extra = append(extra, "sticky")
		case l[0] == "acl" && len(l) > 2:
			// Several lines of one ACL name are alternatives.
			if prev := acls[l[1]]; prev != "" {
				acls[l[1]] = mergeCriteria(prev, criterion(l[2:]))
			} else {
				acls[l[1]] = criterion(l[2:])
			}
		case (l[0] == "http-request" || l[0] == "tcp-request") && (slices.Contains(l, "allow") || slices.Contains(l, "accept")):
			_, allow = splitCond(l)
		case (l[0] == "http-request" || l[0] == "tcp-request") && (slices.Contains(l, "deny") || slices.Contains(l, "reject")):
			_, deny = splitCond(l)
			denyAll = len(deny) == 0
		}
	}
	// "allow if X" then "deny", or "deny if !X": only X gets through.
	switch {
	case denyAll && len(allow) > 0:
		extra = append(extra, "only when "+condition(allow, acls))
	case len(deny) == 2 && deny[0] == "if" && strings.HasPrefix(deny[1], "!"):
		extra = append(extra, "only when "+condition([]string{"if", strings.TrimPrefix(deny[1], "!")}, acls))
	case len(deny) > 0:
		extra = append(extra, "denied when "+condition(deny, acls))
	}
	sort.Strings(servers)
	sort.Strings(extra)
	return fmt.Sprintf("%s %s servers [%s]%s", mode, balance, strings.Join(servers, " "), strings.Join(append([]string{""}, slices.Compact(extra)...), " "))
}

// mergeCriteria joins two alternatives of one criterion ("src=a", "src=b").
func mergeCriteria(a, b string) string {
	ka, va, oka := strings.Cut(a, "=")
	kb, vb, okb := strings.Cut(b, "=")
	if oka && okb && ka == kb {
		vals := append(strings.Split(va, "|"), strings.Split(vb, "|")...)
		sort.Strings(vals)
		return ka + "=" + strings.Join(slices.Compact(vals), "|")
	}
	return a + " or " + b
}

func bindPort(addr string) string {
	if i := strings.LastIndex(addr, ":"); i >= 0 {
		return addr[:i] + ":" + addr[i+1:]
	}
	return addr
}

// splitCond splits a rule at its "if"/"unless".
func splitCond(l []string) (rule, cond []string) {
	for i, w := range l {
		if w == "if" || w == "unless" {
			return l[:i], l[i:]
		}
	}
	return l, nil
}

// condition spells a rule's condition with every ACL name replaced by what
// it tests, the terms sorted.
func condition(cond []string, acls map[string]string) string {
	if len(cond) == 0 {
		return "always"
	}
	neg := cond[0] == "unless"
	var terms []string
	for i := 1; i < len(cond); i++ {
		w := cond[i]
		not := strings.HasPrefix(w, "!")
		w = strings.TrimPrefix(w, "!")
		var term string
		switch {
		case w == "{":
			end := i + 1
			for end < len(cond) && cond[end] != "}" {
				end++
			}
			term = criterion(cond[i+1 : end])
			i = end
		case acls[w] != "":
			term = acls[w]
		default:
			term = w
		}
		if not {
			term = "!" + term
		}
		terms = append(terms, term)
	}
	sort.Strings(terms)
	s := strings.Join(terms, " & ")
	if neg {
		s = "not(" + s + ")"
	}
	return s
}

// criterion names what an ACL tests, however each side spells it.
func criterion(c []string) string {
	args := func(from int) string {
		var out []string
		for _, a := range c[from:] {
			if a != "-i" && a != "-m" && a != "str" {
				out = append(out, strings.ToLower(a))
			}
		}
		sort.Strings(out)
		return strings.Join(out, "|")
	}
	switch f := c[0]; {
	case f == "hdr(host)" || strings.HasPrefix(f, "hdr(host),") || strings.HasPrefix(f, "req.hdr(host)"):
		return "host=" + args(1)
	case f == "path_beg":
		return "path_beg=" + args(1)
	case f == "hdr(x-marathon-app-id)":
		return "appid=" + args(1)
	case f == "ssl_fc_sni":
		return "sni=" + args(1)
	case f == "ssl_fc":
		return "tls"
	case f == "src":
		return "src=" + args(1)
	case strings.HasPrefix(f, "http_auth("):
		return "credentials valid"
	}
	return strings.Join(c, " ")
}
