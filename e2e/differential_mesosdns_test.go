package e2e

import (
	"crypto/sha1"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/discovery-mesos/discovery/internal/daemontest"
	"github.com/discovery-mesos/discovery/internal/fakemaster"
	"github.com/discovery-mesos/discovery/internal/freeport"
	"github.com/discovery-mesos/discovery/internal/peers"
)

// The differential test of issue 12: the real mesos-dns (upstream master) and
// discovery, on the same config.json and the same Mesos state served by one
// fake master, are asked every name either serves (from both /v1/axfr) for
// A, AAAA and SRV over UDP (with and without EDNS0) and TCP, and must answer
// alike (rcode, TC, and the sets of records in each section) except where a
// named exception (mesosDNSExceptions, each a row of
// docs/migrating-from-mesos-dns.md) says why not. Every exception must be needed by some state, or the test fails.

// mesosDNSBin returns the mesos-dns binary built from upstream master: the
// one MESOS_DNS_BIN names, else ../shared/peers/mesos-dns beside the
// repository. It skips the test when there is none (a CI machine without the
// peers).
func mesosDNSBin(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("MESOS_DNS_BIN")
	if bin == "" {
		bin = peers.Path("mesos-dns")
	}
	if st, err := os.Stat(bin); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
		t.Skipf("no mesos-dns binary at %s (set MESOS_DNS_BIN to run the differential test against the real mesos-dns)", bin)
	}
	abs, err := filepath.Abs(bin)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// diffCase is one state both servers are run on.
type diffCase struct {
	name  string
	state func(t *testing.T) []byte
	// config are the config.json keys beyond the common ones.
	config map[string]any
}

func TestDifferentialMesosDNS(t *testing.T) {
	bin := mesosDNSBin(t)
	upstream := fakeResolver(t, "127.0.0.77")
	cases := []diffCase{
		{name: "mesos-dns fixture", state: readState("../internal/fakemaster/testdata/state.json")},
		{name: "mesos-dns fixture, host first", state: readState("../internal/fakemaster/testdata/state.json"),
			config: map[string]any{"IPSources": []string{"host", "docker", "mesos", "netinfo"}}},
		{name: "mesos-dns fixture, RFC 952", state: readState("../internal/fakemaster/testdata/state.json"),
			config: map[string]any{"enforceRFC952": true}},
		{name: "v1 state fixture", state: readState("../state/mesos/testdata/mesos_v1/state.json"),
			config: map[string]any{"IPSources": []string{"docker", "netinfo", "mesos", "host"}}},
		{name: "generated", state: genState},
		{name: "edge cases", state: edgeState},
		{name: "edge cases, RFC 952", state: edgeState, config: map[string]any{"enforceRFC952": true}},
		{name: "edge cases, host first", state: edgeState,
			config: map[string]any{"IPSources": []string{"host", "netinfo", "mesos", "docker"}}},
		// discovery reads the master's event stream by default (the v1
		// operator API, converted by state/mesos/v1_convert.go); polled,
		// it decodes /master/state as mesos-dns does. mesos-dns ignores
		// the key.
		{name: "edge cases, polled", state: edgeState, config: map[string]any{"mesosFollow": "poll"}},
		{name: "mesos-dns fixture, polled", state: readState("../internal/fakemaster/testdata/state.json"),
			config: map[string]any{"mesosFollow": "poll"}},
		// Answers cut to fit a UDP message, with the TC bit left clear.
		{name: "edge cases, SetTruncateBit false", state: edgeState, config: map[string]any{"SetTruncateBit": false}},
	}
	seen := map[string]int{}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range runDifferential(t, bin, upstream, tc) {
				seen[k] += v
			}
		})
	}
	// Every named exception is met by some case: a table row no state
	// exercises would document a difference nobody has seen.
	for _, ex := range mesosDNSExceptions {
		if seen[ex.name] == 0 && !t.Failed() {
			t.Errorf("exception %q was never needed: drop it or add the state that shows it", ex.name)
		}
	}
	t.Logf("differences allowed, by exception: %v", seen)
}

// readState reads a state document of the repository.
func readState(path string) func(t *testing.T) []byte {
	return func(t *testing.T) []byte {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
}

// genState is a generated cluster (the shared genstate.py, all loopback
// addresses), skipped without python3 or the tool.
func genState(t *testing.T) []byte {
	tool := filepath.Join(filepath.Dir(peers.Path("mesos-dns")), "..", "tools", "genstate.py")
	if _, err := os.Stat(tool); err != nil {
		t.Skipf("no %s", tool)
	}
	out, err := exec.Command("python3", tool, "120", "--agents", "7", "--frameworks", "4", "--seed", "12").Output()
	if err != nil {
		t.Skipf("genstate.py: %v", err)
	}
	return out
}

// runDifferential runs both servers on tc and compares their answers; it
// returns how often each exception was needed.
func runDifferential(t *testing.T, bin, upstream string, tc diffCase) map[string]int {
	doc := loopbackHosts(t, tc.state(t))
	m := fakemaster.Start(t, doc, fakemaster.Options{})
	m.EnableOperatorAPI()

	theirs := startMesosDNS(t, bin, diffConfig(t, m.Addr(), upstream, tc.config))
	ourCfg := diffConfig(t, m.Addr(), upstream, tc.config)
	ours := spawnDaemon(t, "", nil, []string{"-config", writeConfig(t, ourCfg.doc), "-logFormat=json"})
	ours.DNSAddr, ours.HTTPAddr = ourCfg.dnsAddr, ourCfg.httpAddr
	leader := m.Host()
	for _, s := range []struct {
		name  string
		addr  string
		alive func() bool
	}{{"mesos-dns", theirs.dnsAddr, theirs.p.Alive}, {"discovery", ours.DNSAddr, ours.Alive}} {
		waitFor(t, 20*time.Second, s.name+" answering leader.mesos", func() bool {
			if !s.alive() {
				t.Fatalf("%s exited", s.name)
			}
			r, err := exchange("udp", s.addr, "leader.mesos.", dns.TypeA)
			return err == nil && len(r.Answer) == 1 && r.Answer[0].(*dns.A).A.String() == leader
		})
	}

	// discovery looks the state's host names up in the background: wait
	// until it serves every name mesos-dns does that a client can ask for.
	theirZone := axfrZone(t, theirs.httpAddr)
	waitAgree(t, 10*time.Second, "discovery does not serve every name mesos-dns serves", func() (bool, string) {
		ourZone := axfrZone(t, ours.HTTPAddr)
		var missing []string
		for n := range theirZone {
			if _, ok := ourZone[n]; !ok && !longLabel(n) && len(n) <= 254 {
				missing = append(missing, n)
			}
		}
		slices.Sort(missing)
		return len(missing) == 0, fmt.Sprintf("missing %q", missing)
	})

	// Every name either serves, from both /v1/axfr documents.
	names := map[string]bool{"mesos.": true}
	for _, addr := range []string{theirs.httpAddr, ours.HTTPAddr} {
		for n := range axfrZone(t, addr) {
			names[n] = true
		}
	}
	// Their ancestors (mostly names with no records of their own:
	// _tcp.marathon.mesos., marathon.slave.mesos.).
	for n := range maps.Clone(names) {
		for i := strings.IndexByte(n, '.'); i >= 0 && i+1 < len(n) && n[i+1:] != "mesos."; i = strings.IndexByte(n, '.') {
			n = n[i+1:]
			names[n] = true
		}
	}
	// And names neither should serve, for the negative answers.
	for _, n := range []string{"nosuchtask.marathon.mesos.", "no.such.name.mesos.", "_nosuchtask._tcp.marathon.mesos."} {
		names[n] = true
	}
	sorted := slices.Sorted(func(yield func(string) bool) {
		for n := range names {
			if !yield(n) {
				return
			}
		}
	})

	renamed := shortenedNames(theirZone)
	// The names discovery's zone has: those with records and their
	// ancestors.
	ourNames := map[string]bool{"mesos.": true}
	for n := range axfrZone(t, ours.HTTPAddr) {
		for ; n != "" && n != "mesos."; n = n[strings.IndexByte(n, '.')+1:] {
			ourNames[n] = true
		}
	}
	// Every question to both, eight at a time: mesos-dns sends nothing back
	// when it cannot pack an answer (a label over 63 octets), and each of
	// those waits for the timeout.
	var qs []diffQuery
	for _, name := range sorted {
		for _, qtype := range []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeSRV} {
			for _, proto := range []string{"udp", "udp+edns", "tcp"} {
				qs = append(qs, diffQuery{name: name, qtype: qtype, proto: proto, zone: theirZone, renamed: renamed, exists: ourNames[name]})
			}
		}
	}
	for _, qtype := range []uint16{dns.TypeSOA, dns.TypeNS} {
		qs = append(qs, diffQuery{name: "mesos.", qtype: qtype, proto: "udp", zone: theirZone})
	}
	var wg sync.WaitGroup
	next := make(chan int)
	for range 8 {
		wg.Go(func() {
			for i := range next {
				q := &qs[i]
				want, werr := exchange(q.proto, theirs.dnsAddr, q.name, q.qtype)
				got, gerr := exchange(q.proto, ours.DNSAddr, q.name, q.qtype)
				q.theirs, q.ours = summarize(want, werr), summarize(got, gerr)
			}
		})
	}
	for i := range qs {
		next <- i
	}
	close(next)
	wg.Wait()
	// Each UDP question's TCP twin: the whole answer, for the truncation
	// exception.
	overTCP := map[[2]string]*diffQuery{}
	for i := range qs {
		if qs[i].proto == "tcp" {
			overTCP[[2]string{qs[i].name, dns.TypeToString[qs[i].qtype]}] = &qs[i]
		}
	}
	for i := range qs {
		if tcp := overTCP[[2]string{qs[i].name, dns.TypeToString[qs[i].qtype]}]; tcp != nil && qs[i].proto != "tcp" {
			qs[i].theirsFull, qs[i].oursFull = tcp.theirs, tcp.ours
		}
	}

	used := map[string]int{}
	var unexplained []string
	asked := len(qs)
	for _, q := range qs {
		if q.theirs.equal(q.ours) {
			continue
		}
		if ex := explain(q); ex != "" {
			used[ex]++
			continue
		}
		unexplained = append(unexplained, q.String())
	}
	t.Logf("%d names, %d questions, exceptions %v", len(sorted), asked, used)
	if len(unexplained) > 0 {
		if len(unexplained) > 400 {
			unexplained = append(unexplained[:400], fmt.Sprintf("… and %d more", len(unexplained)-400))
		}
		t.Errorf("%d answers differ from mesos-dns with no named exception:\n%s", len(unexplained), strings.Join(unexplained, "\n"))
	}
	return used
}

// serverConfig is one server's config.json and where it listens.
type serverConfig struct {
	doc               map[string]any
	dnsAddr, httpAddr string
}

// diffConfig is the config.json both servers run on: the fake master, the
// fake resolver, free ports on 127.0.0.1, and extra.
func diffConfig(t *testing.T, master, upstream string, extra map[string]any) serverConfig {
	t.Helper()
	dnsPort, httpPort := loopbackPort(t), loopbackPort(t)
	doc := map[string]any{
		"zk":             "",
		"masters":        []string{master},
		"refreshSeconds": 1,
		"ttl":            60,
		"domain":         "mesos",
		"port":           dnsPort,
		"resolvers":      []string{upstream},
		"timeout":        1,
		"listener":       "127.0.0.1",
		"httpListener":   "127.0.0.1",
		"httpport":       httpPort,
		"SOAMname":       "ns1.mesos",
		"SOARname":       "root.ns1.mesos",
		"SOAMinttl":      60,
		"dnson":          true,
		"httpon":         true,
		"externalon":     true,
		"EnumerationOn":  true,
	}
	for k, v := range extra {
		doc[k] = v
	}
	return serverConfig{
		doc:      doc,
		dnsAddr:  net.JoinHostPort("127.0.0.1", strconv.Itoa(dnsPort)),
		httpAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(httpPort)),
	}
}

// writeConfig writes doc as a config.json and returns its path.
func writeConfig(t *testing.T, doc map[string]any) string {
	t.Helper()
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// mesosDNS is a running mesos-dns.
type mesosDNS struct {
	p                 *daemontest.Process
	dnsAddr, httpAddr string
}

// startMesosDNS runs bin on cfg; it is killed (by its PID) when the test
// ends, and its log printed when the test failed.
func startMesosDNS(t *testing.T, bin string, cfg serverConfig) *mesosDNS {
	t.Helper()
	p, err := daemontest.Start(exec.Command(bin, "-config", writeConfig(t, cfg.doc), "-v=1"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if p.Alive() {
			_ = p.Cmd.Process.Kill()
		}
		<-p.Exited()
		if t.Failed() {
			lines := p.LogLines()
			if len(lines) > 60 {
				lines = lines[len(lines)-60:]
			}
			t.Logf("mesos-dns log (last %d lines):\n%s", len(lines), strings.Join(lines, "\n"))
		}
	})
	return &mesosDNS{p: p, dnsAddr: cfg.dnsAddr, httpAddr: cfg.httpAddr}
}

// exchange asks addr one question over proto: "tcp", "udp" (no EDNS0: the
// answer must fit 512 octets) or "udp+edns" (EDNS0 with a 1232-octet
// buffer, as resolvers send today).
func exchange(proto, addr, name string, qtype uint16) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	if proto == "udp+edns" {
		proto = "udp"
		m.SetEdns0(1232, false)
	}
	c := &dns.Client{Net: proto, Timeout: time.Second, UDPSize: 1232}
	r, _, err := c.Exchange(m, addr)
	return r, err
}

// reply is an answer reduced to what the comparison looks at: sections as
// sorted record texts (the SOA serial, which each server takes from its own
// clock, zeroed).
type reply struct {
	err        string
	rcode      int
	tc         bool
	answer, ns []string
	extra      []string
}

func summarize(m *dns.Msg, err error) reply {
	if err != nil {
		return reply{err: err.Error()}
	}
	texts := func(rrs []dns.RR) []string {
		var out []string
		for _, rr := range rrs {
			switch v := rr.(type) {
			case *dns.OPT:
				continue
			case *dns.SOA:
				c := *v
				c.Serial = 0
				rr = &c
			}
			out = append(out, strings.ToLower(rr.String()))
		}
		sort.Strings(out)
		return out
	}
	// mesos-dns adds one A and one AAAA of each SRV target, picked at
	// random from the target's records (which the A and AAAA questions for
	// the target compare): compare which names and types, not which values.
	var extra []string
	for _, rr := range m.Extra {
		if rr.Header().Rrtype == dns.TypeOPT {
			continue
		}
		extra = append(extra, strings.ToLower(rr.Header().Name)+" "+dns.TypeToString[rr.Header().Rrtype])
	}
	sort.Strings(extra)
	return reply{rcode: m.Rcode, tc: m.Truncated, answer: texts(m.Answer), ns: texts(m.Ns), extra: slices.Compact(extra)}
}

func (r reply) equal(o reply) bool {
	return r.err == o.err && r.rcode == o.rcode && r.tc == o.tc &&
		slices.Equal(r.answer, o.answer) && slices.Equal(r.ns, o.ns) && slices.Equal(r.extra, o.extra)
}

func (r reply) String() string {
	if r.err != "" {
		return "error " + r.err
	}
	return fmt.Sprintf("%s tc=%v answer=%q ns=%q extra=%q", dns.RcodeToString[r.rcode], r.tc, r.answer, r.ns, r.extra)
}

// diffQuery is one question and both servers' answers.
type diffQuery struct {
	name         string
	qtype        uint16
	proto        string
	theirs, ours reply
	// zone is mesos-dns's /v1/axfr: what it would have answered when it
	// sent nothing.
	zone map[string][]string
	// renamed maps the names discovery serves instead of mesos-dns's names
	// with labels over 63 octets to those names.
	renamed map[string]string
	// exists is whether the name is in discovery's zone (it or a name below
	// it has records).
	exists bool
	// theirsFull and oursFull are the answers to the same question over
	// TCP (for UDP questions).
	theirsFull, oursFull reply
}

func (q diffQuery) String() string {
	return fmt.Sprintf("%s %s/%s:\n  mesos-dns: %s\n  discovery: %s", q.name, dns.TypeToString[q.qtype], q.proto, q.theirs, q.ours)
}

// axfrZone reads a /v1/axfr document into name -> values (A, AAAA and SRV
// values together: addresses, "target:port").
func axfrZone(t *testing.T, httpAddr string) map[string][]string {
	t.Helper()
	resp, err := http.Get("http://" + httpAddr + "/v1/axfr")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		Records struct {
			As, AAAAs, SRVs map[string][]string
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatalf("/v1/axfr of %s: %v", httpAddr, err)
	}
	out := map[string][]string{}
	for _, set := range []map[string][]string{doc.Records.As, doc.Records.AAAAs, doc.Records.SRVs} {
		for n, vs := range set {
			if n != strings.ToLower(n) {
				// mesos-dns lowercases the question: a name it keeps with
				// capitals (a raw DiscoveryInfo name) is never answered.
				continue
			}
			n = dns.Fqdn(n)
			out[n] = append(out[n], vs...)
		}
	}
	return out
}

// mesosDNSException is a documented difference: a row of
// docs/migrating-from-mesos-dns.md, and the test of whether a difference is
// it.
type mesosDNSException struct {
	name  string
	match func(q diffQuery) bool
}

// apexSOA is the SOA record discovery puts in a negative answer's authority
// section, as summarize prints it.
const apexSOA = "mesos.\t60\tin\tsoa\tns1.mesos. root.ns1.mesos. 0 60 600 86400 60"

// mesosDNSExceptions are the differences from mesos-dns we keep on purpose,
// one by one; the names are those of the rows in
// docs/migrating-from-mesos-dns.md ("Answers that differ, on purpose").
var mesosDNSExceptions = []mesosDNSException{
	{
		// mesos-dns names its negative answers' SOA after the question
		// (RFC 2308: the zone's SOA, at the apex).
		name: "negative answers carry the zone's SOA",
		match: func(q diffQuery) bool {
			return q.bothEmpty() && q.theirs.rcode == q.ours.rcode && q.theirs.rcode != dns.RcodeServerFailure &&
				len(q.theirs.ns) == 1 && strings.HasPrefix(q.theirs.ns[0], strings.ToLower(q.name)+"\t") &&
				slices.Equal(q.ours.ns, []string{apexSOA})
		},
	},
	{
		// A name that exists only because names below it do (an empty
		// non-terminal: _tcp.marathon.mesos., slave.mesos. without
		// agents): mesos-dns says NXDOMAIN, which tells a resolver that
		// minimises query names (RFC 8020, 9156) that nothing below exists.
		name: "names with names below them exist (NODATA, not NXDOMAIN)",
		match: func(q diffQuery) bool {
			return q.exists && q.bothEmpty() && q.theirs.rcode == dns.RcodeNameError && q.ours.rcode == dns.RcodeSuccess &&
				slices.Equal(q.ours.ns, []string{apexSOA})
		},
	},
	{
		// mesos-dns answers SRV questions it has nothing for NOERROR with
		// no SOA: for a name that does not exist that is a wrong NODATA,
		// and without the SOA resolvers cannot cache it (RFC 2308).
		name: "SRV questions with no answer: NXDOMAIN or NODATA, with the SOA",
		match: func(q diffQuery) bool {
			wantRcode := dns.RcodeNameError
			if q.exists {
				wantRcode = dns.RcodeSuccess
			}
			return q.qtype == dns.TypeSRV && q.bothEmpty() && q.theirs.rcode == dns.RcodeSuccess && len(q.theirs.ns) == 0 &&
				q.ours.rcode == wantRcode && slices.Equal(q.ours.ns, []string{apexSOA})
		},
	},
	{
		// mesos-dns puts the apex's SOA and NS in the authority section of
		// an answer with no answers; they are the answer.
		name: "the apex's SOA and NS are answers",
		match: func(q diffQuery) bool {
			if q.name != "mesos." || (q.qtype != dns.TypeSOA && q.qtype != dns.TypeNS) {
				return false
			}
			return len(q.theirs.answer) == 0 && len(q.theirs.ns) == 1 && slices.Equal(q.ours.answer, q.theirs.ns)
		},
	},
	{
		// discovery serves _master._tcp and _master._udp SRV to each
		// masterN; mesos-dns has none.
		name: "_master SRV records",
		match: func(q diffQuery) bool {
			if !strings.HasPrefix(q.name, "_master._tcp.") && !strings.HasPrefix(q.name, "_master._udp.") {
				return false
			}
			if q.qtype != dns.TypeSRV {
				return q.bothEmpty()
			}
			return len(q.theirs.answer) == 0 && q.ours.rcode == dns.RcodeSuccess && len(q.ours.answer) > 0
		},
	},
	{
		// A label over 63 octets cannot be sent: mesos-dns serves it in
		// /v1/axfr and sends nothing at all to a question whose answer
		// would hold it (the client times out), and the shortened names
		// discovery serves instead are unknown to it.
		name: "valid names for labels over 63 octets",
		match: func(q diffQuery) bool {
			if q.theirs.err != "" {
				return q.ours.err == "" && q.zoneHasLongLabel() && q.renamedAnswer(q.name)
			}
			long, ok := q.renamed[q.name]
			return ok && len(q.theirs.answer) == 0 && q.renamedAnswer(long)
		},
	},
	{
		// Over UDP, mesos-dns drops answers until the message is under
		// 512 octets (it reads the EDNS0 buffer size from its own reply,
		// which has none) and drops all additional records; discovery
		// fits as many as the client's buffer holds. Both set TC on a cut
		// answer (or, with SetTruncateBit false, neither does), and over
		// TCP both send everything.
		name: "truncation fills the client's buffer",
		match: func(q diffQuery) bool {
			if q.proto == "tcp" || q.theirs.err != "" || q.ours.err != "" || q.theirs.rcode != q.ours.rcode {
				return false
			}
			theirsCut := len(q.theirs.answer) < len(q.theirsFull.answer) && subset(q.theirs.answer, q.theirsFull.answer)
			oursCut := len(q.ours.answer) < len(q.oursFull.answer)
			return theirsCut && subset(q.ours.answer, q.oursFull.answer) && len(q.ours.answer) >= len(q.theirs.answer) &&
				(q.ours.tc == oursCut || !q.theirs.tc && !q.ours.tc)
		},
	},
}

// subset reports whether every element of a (sorted) is in b (sorted).
func subset(a, b []string) bool {
	for _, s := range a {
		if _, ok := slices.BinarySearch(b, s); !ok {
			return false
		}
	}
	return true
}

// bothEmpty reports whether both servers answered with no records.
func (q diffQuery) bothEmpty() bool {
	return q.theirs.err == "" && q.ours.err == "" && len(q.theirs.answer) == 0 && len(q.ours.answer) == 0 &&
		len(q.theirs.extra) == 0 && len(q.ours.extra) == 0
}

// zoneHasLongLabel reports whether mesos-dns's answer to q would hold a name
// with a label over 63 octets: the question's own name or an SRV target.
func (q diffQuery) zoneHasLongLabel() bool {
	if longLabel(q.name) {
		return true
	}
	for _, v := range q.zone[q.name] {
		if host, _, err := net.SplitHostPort(v); err == nil && longLabel(host) {
			return true
		}
	}
	return false
}

func longLabel(name string) bool {
	for l := range strings.SplitSeq(name, ".") {
		if len(l) > 63 {
			return true
		}
	}
	return false
}

// renamedAnswer reports whether discovery's answer to q holds what
// mesos-dns's zone has for the name long, with its long labels shortened.
func (q diffQuery) renamedAnswer(long string) bool {
	var want []string
	for _, v := range q.zone[long] {
		addr, err := netip.ParseAddr(v)
		switch {
		case err == nil && addr.Is4() && q.qtype == dns.TypeA, err == nil && !addr.Is4() && q.qtype == dns.TypeAAAA:
			want = append(want, addr.String())
		case err != nil && q.qtype == dns.TypeSRV:
			host, port, err := net.SplitHostPort(v)
			if err != nil {
				return false
			}
			want = append(want, port+" "+shortenName(host))
		}
	}
	var got []string
	for _, rr := range q.ours.answer {
		f := strings.Split(rr, "\t")
		v := f[len(f)-1]
		if q.qtype == dns.TypeSRV {
			// "0 1 port target": the port and the target.
			p := strings.Fields(v)
			v = p[2] + " " + p[3]
		}
		got = append(got, v)
	}
	sort.Strings(want)
	sort.Strings(got)
	return slices.Equal(slices.Compact(want), got)
}

// shortenedNames maps the valid names discovery serves in place of the names
// of zone with labels over 63 octets to those names.
func shortenedNames(zone map[string][]string) map[string]string {
	out := map[string]string{}
	for n := range zone {
		if longLabel(n) {
			out[shortenName(n)] = n
		}
	}
	return out
}

// shortenName shortens each label of name over 63 octets as
// docs/migrating-from-mesos-dns.md says discovery does: its first 57
// octets without trailing dashes, "-", and the first five z-base-32
// characters of the SHA-1 of the whole label.
func shortenName(name string) string {
	labels := strings.Split(name, ".")
	for i, l := range labels {
		if len(l) <= 63 {
			continue
		}
		sum := sha1.Sum([]byte(l))
		v := binary.BigEndian.Uint32(sum[:4])
		var hash [5]byte
		for j := range hash {
			hash[j] = "ybndrfg8ejkmcpqxot1uwisza345h769"[(v>>(27-5*j))&31]
		}
		labels[i] = strings.TrimRight(l[:57], "-") + "-" + string(hash[:])
	}
	return strings.Join(labels, ".")
}

// explain names the exception that allows q's difference, "" when none does.
func explain(q diffQuery) string {
	for _, ex := range mesosDNSExceptions {
		if ex.match(q) {
			return ex.name
		}
	}
	return ""
}

// loopbackHosts rewrites the host names of a state that mesos-dns would look
// up (agents' and frameworks' PIDs, PID-less frameworks' host names) to
// "localhost", which /etc/hosts answers: no lookup leaves this machine.
func loopbackHosts(t *testing.T, doc []byte) []byte {
	t.Helper()
	var d map[string]any
	if err := json.Unmarshal(doc, &d); err != nil {
		t.Fatal(err)
	}
	pidHost := func(obj map[string]any) {
		pid, _ := obj["pid"].(string)
		at := strings.LastIndex(pid, "@")
		if at < 0 {
			return
		}
		host, port, err := net.SplitHostPort(pid[at+1:])
		if err != nil {
			return
		}
		if _, err := netip.ParseAddr(host); err != nil && host != "localhost" {
			obj["pid"] = pid[:at+1] + net.JoinHostPort("localhost", port)
		}
	}
	for _, s := range asList(d["slaves"]) {
		pidHost(s)
	}
	for _, f := range asList(d["frameworks"]) {
		if pid, _ := f["pid"].(string); pid != "" {
			pidHost(f)
			continue
		}
		if h, _ := f["hostname"].(string); h != "" {
			if _, err := netip.ParseAddr(h); err != nil {
				f["hostname"] = "localhost"
			}
		}
	}
	out, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func asList(v any) []map[string]any {
	var out []map[string]any
	l, _ := v.([]any)
	for _, e := range l {
		if m, ok := e.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

// loopbackPort is a free port of 127.0.0.1.
func loopbackPort(t *testing.T) int {
	t.Helper()
	p, err := freeport.Take("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Each exception the differential test allows is a row of the migration
// guide's table, under the same name, and each row of that table is an
// exception: the guide documents exactly the differences the test allows.
// (No mesos-dns needed.)
func TestMigrationGuideNamesEachDifference(t *testing.T) {
	b, err := os.ReadFile("../docs/migrating-from-mesos-dns.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	start := strings.Index(text, "| difference | mesos-dns answered | discovery answers | why |")
	if start < 0 {
		t.Fatal("the guide has no table of differences")
	}
	var rows []string
	for _, line := range strings.Split(text[start:], "\n")[2:] {
		if !strings.HasPrefix(line, "| ") {
			break
		}
		rows = append(rows, strings.ReplaceAll(strings.TrimSpace(strings.Split(line, "|")[1]), "`", ""))
	}
	var names []string
	for _, ex := range mesosDNSExceptions {
		names = append(names, ex.name)
	}
	if !slices.Equal(rows, names) {
		t.Errorf("the guide's rows:\n%q\nthe test's exceptions:\n%q", rows, names)
	}
}
