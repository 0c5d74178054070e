package mesos

import (
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// pollMetrics are the Mesos poller's Prometheus metrics: how fetches go, what
// they cost the master, and whether ZooKeeper is there.
type pollMetrics struct {
	fetchOK     prometheus.Counter
	fetchFailed prometheus.Counter
	duration    prometheus.Histogram
	stateBytes  prometheus.Gauge
	lastSuccess prometheus.Gauge
	redirects   prometheus.Counter
	zkConnected prometheus.Gauge
}

// newPollMetrics creates the metrics, labelled with the source name, and
// registers them with reg when it is not nil.
func newPollMetrics(source string, reg prometheus.Registerer) (*pollMetrics, error) {
	labels := prometheus.Labels{"source": source}
	fetches := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name:        "discovery_mesos_fetches_total",
		Help:        "State fetches from the Mesos masters, by result (ok: a state was published; error: no master served one).",
		ConstLabels: labels,
	}, []string{"result"})
	m := &pollMetrics{
		fetchOK:     fetches.WithLabelValues("ok"),
		fetchFailed: fetches.WithLabelValues("error"),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:        "discovery_mesos_fetch_duration_seconds",
			Help:        "Time to fetch and decode the state, every master asked included.",
			ConstLabels: labels,
			Buckets:     prometheus.ExponentialBuckets(0.005, 2.5, 10),
		}),
		stateBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name:        "discovery_mesos_state_bytes",
			Help:        "Size of the last state document fetched.",
			ConstLabels: labels,
		}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name:        "discovery_mesos_last_fetch_success_timestamp_seconds",
			Help:        "When a state was last fetched successfully (Unix time).",
			ConstLabels: labels,
		}),
		redirects: prometheus.NewCounter(prometheus.CounterOpts{
			Name:        "discovery_mesos_redirects_total",
			Help:        "Hops from a non-leading master to the leader.",
			ConstLabels: labels,
		}),
		zkConnected: prometheus.NewGauge(prometheus.GaugeOpts{
			Name:        "discovery_mesos_zk_connected",
			Help:        "1 while a ZooKeeper session is up (0 without one, or without ZooKeeper).",
			ConstLabels: labels,
		}),
	}
	if reg == nil {
		return m, nil
	}
	var errs []error
	for _, c := range []prometheus.Collector{fetches, m.duration, m.stateBytes, m.lastSuccess, m.redirects, m.zkConnected} {
		if err := reg.Register(c); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("registering metrics: %w", err)
	}
	return m, nil
}

func (m *pollMetrics) fetched(ok bool, began time.Time, size int) {
	m.duration.Observe(time.Since(began).Seconds())
	if !ok {
		m.fetchFailed.Inc()
		return
	}
	m.fetchOK.Inc()
	m.stateBytes.Set(float64(size))
	m.lastSuccess.Set(float64(time.Now().UnixNano()) / 1e9)
}
