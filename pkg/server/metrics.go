package server

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sentinel-zt/sentinel/pkg/identity"
	"github.com/sentinel-zt/sentinel/pkg/metrics"
)

type serverMetrics struct {
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

func newMetrics(reg prometheus.Registerer, store *identity.Store) (*serverMetrics, error) {
	s := metrics.NewSet("server")
	s.CertificateExpiry(func() time.Time { return store.Load().Leaf.NotAfter })
	m := &serverMetrics{
		sessionsActive:  s.Gauge("sessions_active", "End-to-end sessions open now."),
		sessionsTotal:   s.Counter("sessions_total", "End-to-end sessions opened since start."),
		streamsActive:   s.Gauge("streams_active", "Streams connected to a target now."),
		streamsTotal:    s.Counter("streams_total", "Streams connected to a target since start."),
		relaysConnected: s.Gauge("relays_connected", "Relays this server is registered with now."),
		reconnects:      s.Counter("relay_reconnects_total", "Relay registrations lost and retried."),
		authFailures:    s.CounterVec("auth_failures_total", "Sessions refused, by reason code.", "reason"),
		streamDenials:   s.CounterVec("stream_denials_total", "Streams refused, by reason code.", "reason"),
		bytes:           s.CounterVec("bytes_total", "Bytes between clients and targets, by direction.", "direction"),
		setupSeconds:    s.Histogram("session_setup_seconds", "Time from bind to an admitted end-to-end session.", 0.0002),
		dialSeconds:     s.Histogram("target_dial_seconds", "Time to dial a target.", 0.0002),
	}
	return m, s.Register(reg)
}
