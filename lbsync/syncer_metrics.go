package lbsync

import "github.com/prometheus/client_golang/prometheus"

// metrics are the load balancer's Prometheus metrics, registered on the
// Registerer the daemon passes in (nil registers nothing, for tests).
type metrics struct {
	reloads         *prometheus.CounterVec
	reloadFailures  prometheus.Counter
	renders         prometheus.Counter
	checks          prometheus.Counter
	configWrites    prometheus.Counter
	runtimeOps      *prometheus.CounterVec
	runtimeFailures *prometheus.CounterVec
	appsLeftOut     *prometheus.GaugeVec
	applyDuration   *prometheus.HistogramVec
	lastApplied     prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer, restarts func() float64) *metrics {
	m := &metrics{
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "discovery_lb_reloads_total",
			Help: "HAProxy reloads, by reason class.",
		}, []string{"reason"}),
		reloadFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "discovery_lb_reload_failures_total",
			Help: "HAProxy reloads that failed (the previous config kept running).",
		}),
		renders: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "discovery_lb_renders_total",
			Help: "HAProxy configs rendered from a new model.",
		}),
		checks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "discovery_lb_config_checks_total",
			Help: "Configs validated with haproxy -c (bisecting invalid apps runs several).",
		}),
		configWrites: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "discovery_lb_config_writes_total",
			Help: "HAProxy config files written (after runtime changes or for a reload).",
		}),
		runtimeOps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "discovery_lb_runtime_ops_total",
			Help: "Runtime API server operations, by kind.",
		}, []string{"op"}),
		runtimeFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "discovery_lb_runtime_op_failures_total",
			Help: "Runtime API server operations that failed (each turns into a reload), by kind.",
		}, []string{"op"}),
		appsLeftOut: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "discovery_lb_apps_left_out",
			Help: "Apps left out of the HAProxy config, by cause (model: bad labels; validation: the config they produce fails haproxy -c).",
		}, []string{"cause"}),
		applyDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "discovery_lb_apply_duration_seconds",
			Help:    "Time from a snapshot's arrival to HAProxy running it, by how it was applied (runtime or reload).",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"via"}),
		lastApplied: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "discovery_lb_last_applied_seq",
			Help: "Sequence number of the latest snapshot HAProxy runs.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.reloads, m.reloadFailures, m.renders, m.checks, m.configWrites, m.runtimeOps,
			m.runtimeFailures, m.appsLeftOut, m.applyDuration, m.lastApplied)
		if restarts != nil {
			reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "discovery_lb_haproxy_restarts_total",
				Help: "Times the supervised HAProxy died and was restarted.",
			}, restarts))
		}
	}
	return m
}
