package dnsserver

import "github.com/prometheus/client_golang/prometheus"

// updaterMetrics are the Updater's Prometheus metrics. The DNS consumer reads
// every snapshot the hub delivers (Marathon-only ones too), so it also reports
// the snapshot sequence and the size of the Mesos view.
type updaterMetrics struct {
	buildSeconds prometheus.Histogram
	snapshotSeq  prometheus.Gauge
	tasks        prometheus.Gauge
	records      prometheus.Gauge
	// unresolved counts the host names of the state (hosts.go) whose last
	// lookup failed.
	unresolved prometheus.Gauge
}

// newUpdaterMetrics creates the metrics and registers them on reg (none when
// nil).
func newUpdaterMetrics(reg prometheus.Registerer) *updaterMetrics {
	m := &updaterMetrics{
		buildSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "discovery_dns_table_build_seconds",
			Help:    "Time to build the DNS record table from a snapshot.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		snapshotSeq: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "discovery_snapshot_sequence",
			Help: "Sequence number of the latest snapshot delivered to consumers.",
		}),
		tasks: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "discovery_snapshot_tasks",
			Help: "Tasks in the latest Mesos view.",
		}),
		records: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "discovery_dns_records",
			Help: "Records in the DNS table being served.",
		}),
		unresolved: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "discovery_dns_unresolved_hosts",
			Help: "Host names of agents and frameworks in the Mesos state whose last lookup failed.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.buildSeconds, m.snapshotSeq, m.tasks, m.records, m.unresolved)
	}
	return m
}
