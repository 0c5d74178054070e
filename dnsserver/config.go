package dnsserver

import (
	"net/netip"
	"strings"
)

// Config holds every mesos-dns setting that changes which records exist and what
// they contain. Serving settings (listen port, resolvers, timeouts, recursion) live
// with the server; the lead maps mesos-dns's config.json keys onto both.
//
// The zero value is not useful: start from DefaultConfig, which carries
// mesos-dns's defaults.
type Config struct {
	// Domain is the zone we are authoritative for ("domain", default "mesos"),
	// without a trailing dot. It is matched case-insensitively.
	Domain string
	// TTL of every record we serve ("ttl", default 60).
	TTL uint32

	// SOAMname is the primary name server ("SOAMname", default "ns1.mesos"). It is
	// also the name of our own A/AAAA records (see Listener).
	SOAMname string
	// SOARname is the responsible mailbox ("SOARname", default "root.ns1.mesos");
	// an "@" is turned into "." as mesos-dns does.
	SOARname string
	// SOASerial, when non-zero, is used as the SOA serial. When zero, each table
	// takes the Unix time at which it was built, as mesos-dns bumps the serial on
	// every reload.
	SOASerial  uint32
	SOARefresh uint32 // "SOARefresh", default 60
	SOARetry   uint32 // "SOARetry", default 600
	SOAExpire  uint32 // "SOAExpire", default 86400
	SOAMinttl  uint32 // "SOAMinttl", default 60

	// IPSources is the ordered list of places a task's address is taken from
	// ("IPSources", default ["netinfo", "mesos", "host"]); the first source that
	// gives an address wins. Known sources: "netinfo", "mesos", "docker", "host".
	IPSources []string
	// EnforceRFC952 sanitises labels with the older RFC 952 rules (letters first,
	// at most 24 characters) instead of RFC 1123 ("enforceRFC952", default false).
	EnforceRFC952 bool
	// SRVRecordDefaultWeight is the weight of every SRV record
	// ("srvRecordDefaultWeight", default 1).
	SRVRecordDefaultWeight uint16
	// HealthAwareAnswers leaves out the records (A, AAAA, SRV) of every task
	// whose Mesos health check last reported it unhealthy
	// ("healthAwareAnswers", default false: mesos-dns answers for every
	// running task). A task without a health check, or whose first check has
	// not reported yet (Mesos sends no health until then), is answered.
	HealthAwareAnswers bool

	// Listener is the DNS listen address ("listener", default "0.0.0.0"). As in
	// mesos-dns it decides the addresses of SOAMname: an unspecified address means
	// every non-loopback address of this host, anything else is used as is.
	Listener string
	// NameServerAddrs, when non-empty, replaces the addresses derived from
	// Listener (tests, and hosts whose interface addresses are not reachable).
	NameServerAddrs []netip.Addr
}

// DefaultConfig returns mesos-dns's defaults.
func DefaultConfig() Config {
	return Config{
		Domain:                 "mesos",
		TTL:                    60,
		SOAMname:               "ns1.mesos",
		SOARname:               "root.ns1.mesos",
		SOARefresh:             60,
		SOARetry:               600,
		SOAExpire:              86400,
		SOAMinttl:              60,
		IPSources:              []string{"netinfo", "mesos", "host"},
		SRVRecordDefaultWeight: 1,
		Listener:               "0.0.0.0",
	}
}

// Zone returns the domain as a lowercase fully qualified name ("mesos.").
func (c *Config) Zone() string {
	return fqdn(strings.ToLower(strings.Trim(c.Domain, ".")))
}

// soaMname returns SOAMname as a lowercase fully qualified name.
func (c *Config) soaMname() string {
	return fqdn(strings.ToLower(strings.TrimRight(c.SOAMname, ".")))
}

// soaRname returns SOARname as a fully qualified name with "@" turned into ".".
func (c *Config) soaRname() string {
	return fqdn(strings.ToLower(strings.TrimRight(strings.ReplaceAll(c.SOARname, "@", "."), ".")))
}

func fqdn(s string) string {
	if s == "" {
		return "."
	}
	if strings.HasSuffix(s, ".") {
		return s
	}
	return s + "."
}
