package dcosauth

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics say whether the service account can log in, and when its token
// runs out: an expiry that stops moving forward is a login that keeps failing.
type metrics struct {
	logins  *prometheus.CounterVec // by result: ok, refused, error
	refused prometheus.Counter
	expiry  prometheus.Gauge
}

func newMetrics(name string, reg prometheus.Registerer) (*metrics, error) {
	constLabels := prometheus.Labels{"client": name}
	m := &metrics{
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name:        "discovery_dcos_logins_total",
			Help:        "DC/OS service account logins, by result (ok; refused by the IAM; error reaching it).",
			ConstLabels: constLabels,
		}, []string{"result"}),
		refused: prometheus.NewCounter(prometheus.CounterOpts{
			Name:        "discovery_dcos_tokens_refused_total",
			Help:        "DC/OS tokens a server answered 401 to, each followed by a new login.",
			ConstLabels: constLabels,
		}),
		expiry: prometheus.NewGauge(prometheus.GaugeOpts{
			Name:        "discovery_dcos_token_expiry_timestamp_seconds",
			Help:        "When the current DC/OS token expires (Unix time).",
			ConstLabels: constLabels,
		}),
	}
	if reg == nil {
		return m, nil
	}
	var errs []error
	for _, c := range []prometheus.Collector{m.logins, m.refused, m.expiry} {
		if err := reg.Register(c); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("registering DC/OS login metrics: %w", err)
	}
	return m, nil
}
