package dnsserver

import (
	"fmt"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

// serverMetrics are the DNS server's Prometheus metrics. Every series the query
// path touches is resolved once here, so counting a query is an atomic add and
// never a label lookup.
type serverMetrics struct {
	queries     [qtypeSlots]prometheus.Counter
	responses   [rcodeSlots]prometheus.Counter
	duration    prometheus.Histogram
	truncated   prometheus.Counter
	malformed   prometheus.Counter
	panics      prometheus.Counter
	rateLimited prometheus.Counter
	tcpRefused  prometheus.Counter

	forwarded          prometheus.Counter
	forwardBusy        prometheus.Counter
	forwardDenied      prometheus.Counter
	forwardInFlight    prometheus.Gauge
	upstreamErrors     prometheus.Counter
	upstreamTCPRetries prometheus.Counter
}

// Query types counted by name; the rest count as "other".
var qtypeNames = [...]string{"A", "AAAA", "SRV", "ANY", "SOA", "NS", "PTR", "TXT", "MX", "CNAME", "HTTPS", "other"}

const qtypeSlots = len(qtypeNames)

func qtypeSlot(t uint16) int {
	switch t {
	case dns.TypeA:
		return 0
	case dns.TypeAAAA:
		return 1
	case dns.TypeSRV:
		return 2
	case dns.TypeANY:
		return 3
	case dns.TypeSOA:
		return 4
	case dns.TypeNS:
		return 5
	case dns.TypePTR:
		return 6
	case dns.TypeTXT:
		return 7
	case dns.TypeMX:
		return 8
	case dns.TypeCNAME:
		return 9
	case dns.TypeHTTPS:
		return 10
	}
	return qtypeSlots - 1
}

// Response codes counted by name; the rest count as "other".
var rcodeNames = [...]string{"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "BADVERS", "other"}

const rcodeSlots = len(rcodeNames)

func rcodeSlot(rc int) int {
	switch rc {
	case dns.RcodeSuccess, dns.RcodeFormatError, dns.RcodeServerFailure,
		dns.RcodeNameError, dns.RcodeNotImplemented, dns.RcodeRefused:
		return rc
	case dns.RcodeBadVers:
		return 6
	}
	return rcodeSlots - 1
}

// newServerMetrics creates the metrics, unregistered.
func newServerMetrics() *serverMetrics {
	m, _ := newRegisteredMetrics(nil)
	return m
}

// newRegisteredMetrics creates the metrics and registers them with reg (nil:
// kept unregistered, for tests and benchmarks).
func newRegisteredMetrics(reg prometheus.Registerer) (*serverMetrics, error) {
	queries := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "discovery_dns_queries_total",
		Help: "DNS queries received, by query type.",
	}, []string{"qtype"})
	responses := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "discovery_dns_responses_total",
		Help: "DNS responses sent, by response code.",
	}, []string{"rcode"})
	m := &serverMetrics{
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "discovery_dns_request_duration_seconds",
			Help:    "Time from reading a DNS query to writing its answer (forwarded queries included).",
			Buckets: []float64{5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 1e-3, 1e-2, 0.1, 1, 5},
		}),
		truncated: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "discovery_dns_truncated_responses_total",
			Help: "UDP responses sent with the TC bit because the answer did not fit the client's buffer.",
		}),
		malformed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "discovery_dns_malformed_queries_total",
			Help: "Packets that could not be parsed as a DNS query.",
		}),
		panics: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "discovery_dns_panics_total",
			Help: "Queries whose handling panicked (answered SERVFAIL); any is a bug.",
		}),
		rateLimited: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "discovery_dns_ratelimited_queries_total",
			Help: "UDP queries not answered (or answered empty with TC) because their client was over the response rate limit.",
		}),
		tcpRefused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "discovery_dns_tcp_refused_connections_total",
			Help: "TCP connections closed at once because their client already held its cap (dnsTCPMaxConnsPerClient).",
		}),
		forwarded: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "discovery_dns_forwarded_total",
			Help: "Queries for names outside the domain sent to upstream resolvers.",
		}),
		forwardBusy: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "discovery_dns_forward_rejected_total",
			Help: "Queries answered SERVFAIL because too many upstream queries were in flight.",
		}),
		forwardDenied: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "discovery_dns_forward_denied_total",
			Help: "Queries for names outside the domain answered REFUSED because their client is not in externalFrom.",
		}),
		forwardInFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "discovery_dns_forward_inflight_queries",
			Help: "Upstream queries in flight.",
		}),
		upstreamErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "discovery_dns_upstream_errors_total",
			Help: "Exchanges with an upstream resolver that failed (timeout, network error, bad reply).",
		}),
		upstreamTCPRetries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "discovery_dns_upstream_tcp_retries_total",
			Help: "Upstream UDP answers that were truncated and fetched again over TCP.",
		}),
	}
	for i, n := range qtypeNames {
		m.queries[i] = queries.WithLabelValues(n)
	}
	for i, n := range rcodeNames {
		m.responses[i] = responses.WithLabelValues(n)
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{
			queries, responses, m.duration, m.truncated, m.malformed, m.panics, m.rateLimited, m.tcpRefused,
			m.forwarded, m.forwardBusy, m.forwardDenied, m.forwardInFlight, m.upstreamErrors, m.upstreamTCPRetries,
		} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("registering dns metrics: %w", err)
			}
		}
	}
	return m, nil
}
