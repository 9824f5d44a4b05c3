package client

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

const namespace, subsystem = "sentinel", "client"

type metrics struct {
	sessionsActive prometheus.Gauge
	streamsActive  prometheus.Gauge
	streamsTotal   prometheus.Counter
	reconnects     prometheus.Counter
	streamDenials  *prometheus.CounterVec
	bytes          *prometheus.CounterVec
	setupSeconds   prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	opts := func(name, help string) prometheus.Opts {
		return prometheus.Opts{Namespace: namespace, Subsystem: subsystem, Name: name, Help: help}
	}
	m := &metrics{
		sessionsActive: prometheus.NewGauge(prometheus.GaugeOpts(opts("sessions_active", "1 while a session to the server is established."))),
		streamsActive:  prometheus.NewGauge(prometheus.GaugeOpts(opts("streams_active", "Local connections being carried now."))),
		streamsTotal:   prometheus.NewCounter(prometheus.CounterOpts(opts("streams_total", "Local connections carried since start."))),
		reconnects:     prometheus.NewCounter(prometheus.CounterOpts(opts("reconnects_total", "Sessions lost and re-established."))),
		streamDenials: prometheus.NewCounterVec(prometheus.CounterOpts(opts("stream_denials_total",
			"Local connections refused or not carried, by reason code.")), []string{"reason"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts(opts("bytes_total",
			"Bytes carried, by direction.")), []string{"direction"}),
		setupSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Subsystem: subsystem, Name: "session_setup_seconds",
			Help:    "Time to establish a session: token, WebSocket, bind and end-to-end handshake.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.sessionsActive, m.streamsActive, m.streamsTotal, m.reconnects, m.streamDenials, m.bytes, m.setupSeconds} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	return m, nil
}
