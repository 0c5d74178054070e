package mesos

import (
	"errors"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// mesosStreamMetrics are the Mesos event stream's Prometheus metrics: what arrives,
// what it costs the master (bytes, to compare with polling's
// discovery_mesos_state_bytes), and how often the stream breaks.
type mesosStreamMetrics struct {
	events            *prometheus.CounterVec
	reconnects        prometheus.Counter
	heartbeatTimeouts prometheus.Counter
	bytes             prometheus.Counter
	connected         prometheus.Gauge
	fallback          prometheus.Gauge
	publish           prometheus.Histogram
	batch             prometheus.Histogram
}

func newMesosStreamMetrics(source string, reg prometheus.Registerer) (*mesosStreamMetrics, error) {
	labels := prometheus.Labels{"source": source}
	m := &mesosStreamMetrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name:        "discovery_mesos_stream_events_total",
			Help:        "Events received on the Mesos operator API stream, by type (SUBSCRIBED, TASK_UPDATED, HEARTBEAT, …).",
			ConstLabels: labels,
		}, []string{"type"}),
		reconnects: prometheus.NewCounter(prometheus.CounterOpts{
			Name:        "discovery_mesos_stream_reconnects_total",
			Help:        "Subscriptions after the first one (each one a full resynchronisation).",
			ConstLabels: labels,
		}),
		heartbeatTimeouts: prometheus.NewCounter(prometheus.CounterOpts{
			Name:        "discovery_mesos_stream_heartbeat_timeouts_total",
			Help:        "Streams closed because nothing, not even a heartbeat, arrived for the allowed number of heartbeat intervals.",
			ConstLabels: labels,
		}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name:        "discovery_mesos_stream_received_bytes_total",
			Help:        "Bytes received from the masters' operator API (the master-side cost of following the cluster).",
			ConstLabels: labels,
		}),
		connected: prometheus.NewGauge(prometheus.GaugeOpts{
			Name:        "discovery_mesos_stream_connected",
			Help:        "1 while subscribed to a master's event stream.",
			ConstLabels: labels,
		}),
		fallback: prometheus.NewGauge(prometheus.GaugeOpts{
			Name:        "discovery_mesos_stream_polling_fallback",
			Help:        "1 while polling /master/state instead of following the stream: the master has no operator API, or sent an event that cannot be taken.",
			ConstLabels: labels,
		}),
		publish: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:        "discovery_mesos_stream_publish_seconds",
			Help:        "Time to rebuild, seal and hand on the view after a batch of events.",
			ConstLabels: labels,
			Buckets:     prometheus.ExponentialBuckets(0.0001, 2.5, 10),
		}),
		batch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:        "discovery_mesos_stream_batch_events",
			Help:        "Events applied together before one new view.",
			ConstLabels: labels,
			Buckets:     prometheus.ExponentialBuckets(1, 4, 8),
		}),
	}
	if reg == nil {
		return m, nil
	}
	var errs []error
	for _, c := range []prometheus.Collector{m.events, m.reconnects, m.heartbeatTimeouts, m.bytes, m.connected, m.fallback, m.publish, m.batch} {
		if err := reg.Register(c); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("registering metrics: %w", err)
	}
	return m, nil
}

// mesosCountingReader counts the bytes read through it into a counter and a total.
type mesosCountingReader struct {
	r     io.Reader
	c     prometheus.Counter
	total *atomic.Int64
}

func (c *mesosCountingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		c.c.Add(float64(n))
		c.total.Add(int64(n))
	}
	return n, err
}
