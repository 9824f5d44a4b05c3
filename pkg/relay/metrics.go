package relay

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

const namespace, subsystem = "sentinel", "relay"

type metrics struct {
	sessionsActive prometheus.Gauge
	sessionsTotal  prometheus.Counter
	serverChannels prometheus.Gauge
	authFailures   *prometheus.CounterVec
	bytes          *prometheus.CounterVec
	setupSeconds   prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	opts := func(name, help string) prometheus.Opts {
		return prometheus.Opts{Namespace: namespace, Subsystem: subsystem, Name: name, Help: help}
	}
	m := &metrics{
		sessionsActive: prometheus.NewGauge(prometheus.GaugeOpts(opts("sessions_active", "Client sessions being spliced now."))),
		sessionsTotal:  prometheus.NewCounter(prometheus.CounterOpts(opts("sessions_total", "Client sessions spliced since start."))),
		serverChannels: prometheus.NewGauge(prometheus.GaugeOpts(opts("server_channels", "Registered server control channels."))),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts(opts("auth_failures_total",
			"Requests refused before upgrade, by reason code.")), []string{"reason"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts(opts("bytes_total",
			"Payload bytes spliced, by direction.")), []string{"direction"}),
		setupSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Subsystem: subsystem, Name: "session_setup_seconds",
			Help:    "Time from a client's request to its upgrade (token check, open, bind).",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.sessionsActive, m.sessionsTotal, m.serverChannels, m.authFailures, m.bytes, m.setupSeconds} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	return m, nil
}
