package relay

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sentinel-zt/sentinel/pkg/identity"
	"github.com/sentinel-zt/sentinel/pkg/metrics"
)

type relayMetrics struct {
	sessionsActive prometheus.Gauge
	sessionsTotal  prometheus.Counter
	serverChannels prometheus.Gauge
	authFailures   *prometheus.CounterVec
	bytes          *prometheus.CounterVec
	setupSeconds   prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer, store *identity.Store) (*relayMetrics, error) {
	s := metrics.NewSet("relay")
	s.CertificateExpiry(func() time.Time { return store.Load().Leaf.NotAfter })
	m := &relayMetrics{
		sessionsActive: s.Gauge("sessions_active", "Client sessions being spliced now."),
		sessionsTotal:  s.Counter("sessions_total", "Client sessions spliced since start."),
		serverChannels: s.Gauge("server_channels", "Registered server control channels."),
		authFailures:   s.CounterVec("auth_failures_total", "Requests refused before upgrade, by reason code.", "reason"),
		bytes:          s.CounterVec("bytes_total", "Payload bytes spliced, by direction.", "direction"),
		setupSeconds:   s.Histogram("session_setup_seconds", "Time from a client's request to its upgrade (token check, open, bind).", 0.0005),
	}
	return m, s.Register(reg)
}
