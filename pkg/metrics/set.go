package metrics

import (
	"fmt"

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
