package marathon

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// eventMetrics are the Marathon event source's Prometheus metrics. Requests and
// bytes by kind are what the source costs Marathon, to compare with polling
// (discovery_marathon_requests_total{kind="apps"} every interval).
type eventMetrics struct {
	events       *prometheus.CounterVec // by event type
	decodeErrors prometheus.Counter
	resyncs      *prometheus.CounterVec // by reason
	resyncFailed prometheus.Counter
	reconnects   *prometheus.CounterVec // by reason
	refetches    *prometheus.CounterVec // by result
	staleFetches prometheus.Counter
	streamBytes  prometheus.Counter
	requests     *prometheus.CounterVec // by kind: events, apps, app, probe
	bodyBytes    *prometheus.CounterVec // by kind: apps, app
	connected    prometheus.Gauge
	polling      prometheus.Gauge
	publishes    prometheus.Counter
}

func newEventMetrics(reg prometheus.Registerer) (*eventMetrics, error) {
	m := &eventMetrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "discovery_marathon_events_total",
			Help: "Events read from Marathon's /v2/events stream, by type.",
		}, []string{"type"}),
		decodeErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "discovery_marathon_event_decode_errors_total",
			Help: "Events that could not be decoded or were too large to read (each one triggers a full resync).",
		}),
		resyncs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "discovery_marathon_resyncs_total",
			Help: "Full /v2/apps resynchronisations started, by reason (connect, periodic, refresh, event, fetch_error, retry).",
		}, []string{"reason"}),
		resyncFailed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "discovery_marathon_resync_failures_total",
			Help: "Full resynchronisations that no Marathon answered.",
		}),
		reconnects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "discovery_marathon_stream_reconnects_total",
			Help: "Event stream connections ended or refused, by reason (eof, error, silent, probe_failed, connect).",
		}, []string{"reason"}),
		refetches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "discovery_marathon_app_refetches_total",
			Help: "Single-app refetches (/v2/apps/{id}), by result (ok, not_found, error).",
		}, []string{"result"}),
		staleFetches: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "discovery_marathon_stale_fetches_total",
			Help: "Fetched apps dropped because newer information about them had arrived meanwhile.",
		}),
		streamBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "discovery_marathon_stream_bytes_total",
			Help: "Bytes read from the event stream.",
		}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "discovery_marathon_requests_total",
			Help: "HTTP requests sent to Marathon by the event source, by kind (events, apps, app, probe).",
		}, []string{"kind"}),
		bodyBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "discovery_marathon_fetch_bytes_total",
			Help: "Response bytes read by the event source's fetches, by kind (apps, app).",
		}, []string{"kind"}),
		connected: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "discovery_marathon_stream_connected",
			Help: "1 while an event stream is open.",
		}),
		polling: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "discovery_marathon_polling",
			Help: "1 while no event stream can be opened and the apps are followed by fetching /v2/apps every interval.",
		}),
		publishes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "discovery_marathon_event_publishes_total",
			Help: "App sets published by the event source.",
		}),
	}
	if reg == nil {
		return m, nil
	}
	var errs []error
	for _, c := range []prometheus.Collector{m.events, m.decodeErrors, m.resyncs, m.resyncFailed, m.reconnects,
		m.refetches, m.staleFetches, m.streamBytes, m.requests, m.bodyBytes, m.connected, m.polling, m.publishes} {
		if err := reg.Register(c); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("registering marathon event metrics: %w", err)
	}
	return m, nil
}
