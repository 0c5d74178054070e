// Command samecheck asks several DNS servers the same questions and reports
// whether they answer alike (rcode, answer records, and the sizes of the
// replies), so that a throughput comparison compares servers serving the same
// records. Loopback only.
//
// usage: samecheck -queries FILE -n 500 NAME=ADDR NAME=ADDR...
//
//	samecheck -probe ADDR   (exit 0 once ADDR answers a question)
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"
)

func main() {
	queries := flag.String("queries", "", "dnsperf query file (NAME TYPE per line)")
	n := flag.Int("n", 500, "how many of its questions to ask")
	probe := flag.String("probe", "", "only ask ADDR for the SOA of mesos. and exit 0 if it answers")
	flag.Parse()
	if *probe != "" {
		c := &dns.Client{Timeout: 200 * time.Millisecond}
		if _, _, err := c.Exchange(new(dns.Msg).SetQuestion("mesos.", dns.TypeSOA), *probe); err != nil {
			os.Exit(1)
		}
		return
	}
	if *queries == "" || flag.NArg() < 2 {
		fmt.Fprintln(os.Stderr, "usage: samecheck -queries FILE [-n N] NAME=ADDR NAME=ADDR...")
		os.Exit(2)
	}
	f, err := os.Open(*queries)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer f.Close()
	var qs [][2]string
	sc := bufio.NewScanner(f)
	for sc.Scan() && len(qs) < *n {
		if fs := strings.Fields(sc.Text()); len(fs) == 2 {
			qs = append(qs, [2]string{fs[0], fs[1]})
		}
	}
	c := &dns.Client{Timeout: 2 * time.Second}
	differ := 0
	size := map[string]int{}
	for _, q := range qs {
		var ref string
		for i, s := range flag.Args() {
			name, addr, _ := strings.Cut(s, "=")
			m := new(dns.Msg).SetQuestion(dns.Fqdn(q[0]), dns.StringToType[q[1]])
			r, _, err := c.Exchange(m, addr)
			if err != nil {
				fmt.Fprintf(os.Stderr, "%s %s %s: %v\n", name, q[0], q[1], err)
				os.Exit(1)
			}
			b, _ := r.Pack()
			size[name] += len(b)
			got := summary(r)
			if i == 0 {
				ref = got
			} else if got != ref {
				differ++
				if differ <= 5 {
					fmt.Printf("%s %s: %s answers %s, %s answers %s\n", q[0], q[1], name, got, flag.Arg(0), ref)
				}
			}
		}
	}
	for _, s := range flag.Args() {
		name, _, _ := strings.Cut(s, "=")
		fmt.Printf("%s: average reply %d bytes\n", name, size[name]/max(1, len(qs)))
	}
	fmt.Printf("%d questions, %d answered differently\n", len(qs), differ)
	if differ > 0 {
		os.Exit(1)
	}
}

// summary is the rcode, TC and the sorted answer records, case folded.
func summary(r *dns.Msg) string {
	var rrs []string
	for _, rr := range r.Answer {
		rrs = append(rrs, strings.ToLower(rr.String()))
	}
	slices.Sort(rrs)
	return fmt.Sprintf("%s tc=%v %v", dns.RcodeToString[r.Rcode], r.Truncated, rrs)
}
