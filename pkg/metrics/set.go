package metrics

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Set builds one role's collectors under sentinel_<subsystem>_ and registers them together,
// so each role declares its metrics in one line each.
type Set struct {
	subsystem  string
	collectors []prometheus.Collector
}

// NewSet starts a set for a subsystem ("relay", "server", "client").
func NewSet(subsystem string) *Set { return &Set{subsystem: subsystem} }

func (s *Set) opts(name, help string) prometheus.Opts {
	return prometheus.Opts{Namespace: Namespace, Subsystem: s.subsystem, Name: name, Help: help}
}

func add[C prometheus.Collector](s *Set, c C) C {
	s.collectors = append(s.collectors, c)
	return c
}

// Gauge adds a gauge.
func (s *Set) Gauge(name, help string) prometheus.Gauge {
	return add(s, prometheus.NewGauge(prometheus.GaugeOpts(s.opts(name, help))))
}

// Counter adds a counter; name should end in _total.
func (s *Set) Counter(name, help string) prometheus.Counter {
	return add(s, prometheus.NewCounter(prometheus.CounterOpts(s.opts(name, help))))
}

// CounterVec adds a counter with labels, which must be bounded enums.
func (s *Set) CounterVec(name, help string, labels ...string) *prometheus.CounterVec {
	return add(s, prometheus.NewCounterVec(prometheus.CounterOpts(s.opts(name, help)), labels))
}

// Histogram adds a latency histogram in seconds with exponential buckets from first.
func (s *Set) Histogram(name, help string, first float64) prometheus.Histogram {
	return add(s, prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: Namespace, Subsystem: s.subsystem, Name: name, Help: help,
		Buckets: prometheus.ExponentialBuckets(first, 2, 16),
	}))
}

// CertificateExpiry adds certificate_expiry_timestamp_seconds: when the certificate the role
// runs with now expires (Unix seconds), read at every scrape, so renewals and reloads show.
// An alert on it catches a renewal that keeps failing and a certificate nobody re-issued.
func (s *Set) CertificateExpiry(notAfter func() time.Time) {
	add(s, prometheus.NewGaugeFunc(prometheus.GaugeOpts(s.opts("certificate_expiry_timestamp_seconds",
		"When the certificate in use expires, in Unix seconds.")), func() float64 {
		return float64(notAfter().Unix())
	}))
}

// Register registers every collector of the set; a nil reg keeps them unexported.
func (s *Set) Register(reg prometheus.Registerer) error {
	if reg == nil {
		return nil
	}
	for _, c := range s.collectors {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("register %s metrics: %w", s.subsystem, err)
		}
	}
	return nil
}
