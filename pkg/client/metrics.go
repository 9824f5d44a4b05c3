package client

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sentinel-zt/sentinel/pkg/identity"
	"github.com/sentinel-zt/sentinel/pkg/metrics"
)

type clientMetrics struct {
	sessionsActive prometheus.Gauge
	streamsActive  prometheus.Gauge
	streamsTotal   prometheus.Counter
	reconnects     prometheus.Counter
	streamDenials  *prometheus.CounterVec
	bytes          *prometheus.CounterVec
	setupSeconds   prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer, store *identity.Store) (*clientMetrics, error) {
	s := metrics.NewSet("client")
	s.CertificateExpiry(func() time.Time { return store.Load().Leaf.NotAfter })
	m := &clientMetrics{
		sessionsActive: s.Gauge("sessions_active", "1 while a session to the server is established."),
		streamsActive:  s.Gauge("streams_active", "Local connections being carried now."),
		streamsTotal:   s.Counter("streams_total", "Local connections carried since start."),
		reconnects:     s.Counter("reconnects_total", "Sessions lost and re-established."),
		streamDenials:  s.CounterVec("stream_denials_total", "Local connections refused or not carried, by reason code.", "reason"),
		bytes:          s.CounterVec("bytes_total", "Bytes carried, by direction.", "direction"),
		setupSeconds:   s.Histogram("session_setup_seconds", "Time to establish a session: token, WebSocket, bind and end-to-end handshake.", 0.0005),
	}
	return m, s.Register(reg)
}
