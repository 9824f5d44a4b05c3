package server

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

const namespace, subsystem = "sentinel", "server"

type metrics struct {
	sessionsActive  prometheus.Gauge
	sessionsTotal   prometheus.Counter
	streamsActive   prometheus.Gauge
	streamsTotal    prometheus.Counter
	relaysConnected prometheus.Gauge
	reconnects      prometheus.Counter
	authFailures    *prometheus.CounterVec
	streamDenials   *prometheus.CounterVec
	bytes           *prometheus.CounterVec
	setupSeconds    prometheus.Histogram
	dialSeconds     prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	opts := func(name, help string) prometheus.Opts {
		return prometheus.Opts{Namespace: namespace, Subsystem: subsystem, Name: name, Help: help}
	}
	hist := func(name, help string) prometheus.Histogram {
		return prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Subsystem: subsystem, Name: name, Help: help,
			Buckets: prometheus.ExponentialBuckets(0.0002, 2, 16),
		})
	}
	m := &metrics{
		sessionsActive:  prometheus.NewGauge(prometheus.GaugeOpts(opts("sessions_active", "End-to-end sessions open now."))),
		sessionsTotal:   prometheus.NewCounter(prometheus.CounterOpts(opts("sessions_total", "End-to-end sessions opened since start."))),
		streamsActive:   prometheus.NewGauge(prometheus.GaugeOpts(opts("streams_active", "Streams connected to a target now."))),
		streamsTotal:    prometheus.NewCounter(prometheus.CounterOpts(opts("streams_total", "Streams connected to a target since start."))),
		relaysConnected: prometheus.NewGauge(prometheus.GaugeOpts(opts("relays_connected", "Relays this server is registered with now."))),
		reconnects:      prometheus.NewCounter(prometheus.CounterOpts(opts("relay_reconnects_total", "Relay registrations lost and retried."))),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts(opts("auth_failures_total",
			"Sessions refused, by reason code.")), []string{"reason"}),
		streamDenials: prometheus.NewCounterVec(prometheus.CounterOpts(opts("stream_denials_total",
			"Streams refused, by reason code.")), []string{"reason"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts(opts("bytes_total",
			"Bytes between clients and targets, by direction.")), []string{"direction"}),
		setupSeconds: hist("session_setup_seconds", "Time from bind to an admitted end-to-end session."),
		dialSeconds:  hist("target_dial_seconds", "Time to dial a target."),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.sessionsActive, m.sessionsTotal, m.streamsActive, m.streamsTotal,
		m.relaysConnected, m.reconnects, m.authFailures, m.streamDenials, m.bytes, m.setupSeconds, m.dialSeconds} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	return m, nil
}
