package metrics_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"

	"github.com/sentinel-zt/sentinel/pkg/metrics"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// sample registers what a role would: namespace, subsystem, base units, bounded labels.
func sample(t *testing.T, reg prometheus.Registerer) {
	t.Helper()
	sessions := prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: metrics.Namespace, Subsystem: "relay", Name: "sessions_total",
		Help: "Sessions opened.",
	})
	fails := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: metrics.Namespace, Subsystem: "relay", Name: "auth_failures_total",
		Help: "Refused authentications by reason.",
	}, []string{"reason"})
	setup := prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: metrics.Namespace, Subsystem: "relay", Name: "session_setup_seconds",
		Help: "Time from client upgrade to spliced session.", Buckets: prometheus.DefBuckets,
	})
	reg.MustRegister(sessions, fails, setup)
	sessions.Inc()
	fails.WithLabelValues("revoked").Inc()
	setup.Observe(0.004)
}

func get(t *testing.T, h http.Handler, method, path string) (int, string, http.Header) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	return rec.Code, rec.Body.String(), rec.Header()
}

func TestRegistryLint(t *testing.T) {
	reg := metrics.NewRegistry()
	sample(t, reg)
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

func TestMetricsEndpoint(t *testing.T) {
	reg := metrics.NewRegistry()
	sample(t, reg)
	h := metrics.Handler(reg, metrics.Health{})
	code, body, hdr := get(t, h, http.MethodGet, "/metrics")
	if code != http.StatusOK {
		t.Fatalf("GET /metrics = %d", code)
	}
	for _, s := range []string{
		"sentinel_relay_sessions_total 1",
		`sentinel_relay_auth_failures_total{reason="revoked"} 1`,
		"sentinel_relay_session_setup_seconds_bucket",
		"go_goroutines",
		"process_start_time_seconds",
	} {
		if !strings.Contains(body, s) {
			t.Errorf("scrape lacks %q", s)
		}
	}
	if ct := hdr.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type %q", ct)
	}
	if code, _, _ := get(t, h, http.MethodPost, "/metrics"); code != http.StatusMethodNotAllowed {
		t.Errorf("POST /metrics = %d, want 405", code)
	}
	if code, _, _ := get(t, h, http.MethodGet, "/nope"); code != http.StatusNotFound {
		t.Errorf("GET /nope = %d, want 404", code)
	}
}

// TestProfiling: the profiler is served only when asked for, and the rest still works.
func TestProfiling(t *testing.T) {
	plain := metrics.Handler(prometheus.NewRegistry(), metrics.Health{})
	if code, _, _ := get(t, plain, http.MethodGet, "/debug/pprof/"); code != http.StatusNotFound {
		t.Fatalf("GET /debug/pprof/ without profiling = %d, want 404", code)
	}
	h := metrics.WithProfiling(plain)
	if code, body, _ := get(t, h, http.MethodGet, "/debug/pprof/"); code != http.StatusOK || !strings.Contains(body, "goroutine") {
		t.Fatalf("GET /debug/pprof/ = %d %.80q", code, body)
	}
	if code, body, _ := get(t, h, http.MethodGet, "/debug/pprof/heap?debug=1"); code != http.StatusOK || !strings.Contains(body, "heap profile") {
		t.Fatalf("GET /debug/pprof/heap = %d %.80q", code, body)
	}
	if code, body, _ := get(t, h, http.MethodGet, "/healthz"); code != http.StatusOK || body != "ok" {
		t.Fatalf("healthz with profiling = %d %q", code, body)
	}
	if code, _, _ := get(t, h, http.MethodPost, "/metrics"); code != http.StatusMethodNotAllowed {
		t.Fatalf("POST /metrics with profiling = %d, want 405", code)
	}
}

func TestHealth(t *testing.T) {
	var readyErr error
	h := metrics.Handler(prometheus.NewRegistry(), metrics.Health{Ready: func() error { return readyErr }})

	if code, body, _ := get(t, h, http.MethodGet, "/healthz"); code != http.StatusOK || body != "ok" {
		t.Errorf("healthz = %d %q", code, body)
	}
	if code, body, _ := get(t, h, http.MethodGet, "/readyz"); code != http.StatusOK || body != "ok" {
		t.Errorf("readyz (ready) = %d %q", code, body)
	}
	readyErr = errors.New("no relay connected")
	if code, body, _ := get(t, h, http.MethodGet, "/readyz"); code != http.StatusServiceUnavailable || body != "no relay connected" {
		t.Errorf("readyz (not ready) = %d %q", code, body)
	}
	// Not ready is still healthy: the process serves.
	if code, _, _ := get(t, h, http.MethodGet, "/healthz"); code != http.StatusOK {
		t.Errorf("healthz while not ready = %d", code)
	}
	// No Ready func: ready.
	if code, _, _ := get(t, metrics.Handler(prometheus.NewRegistry(), metrics.Health{}), http.MethodGet, "/readyz"); code != http.StatusOK {
		t.Errorf("readyz without Ready = %d", code)
	}
}

func TestStatus(t *testing.T) {
	type status struct {
		Role     string `json:"role"`
		Sessions int    `json:"sessions"`
	}
	h := metrics.Handler(prometheus.NewRegistry(), metrics.Health{Status: func() any { return status{"relay", 3} }})
	code, body, hdr := get(t, h, http.MethodGet, "/status")
	if code != http.StatusOK || hdr.Get("Content-Type") != "application/json" {
		t.Fatalf("status = %d %q", code, hdr.Get("Content-Type"))
	}
	var got status
	if err := json.Unmarshal([]byte(body), &got); err != nil || got != (status{"relay", 3}) {
		t.Fatalf("status body %q: %v", body, err)
	}

	code, body, _ = get(t, metrics.Handler(prometheus.NewRegistry(), metrics.Health{}), http.MethodGet, "/status")
	if code != http.StatusOK || strings.TrimSpace(body) != "{}" {
		t.Errorf("status without Status func = %d %q, want {}", code, body)
	}
	bad := metrics.Handler(prometheus.NewRegistry(), metrics.Health{Status: func() any { return func() {} }})
	if code, _, _ := get(t, bad, http.MethodGet, "/status"); code != http.StatusInternalServerError {
		t.Errorf("unencodable status = %d, want 500", code)
	}
}

func TestServe(t *testing.T) {
	reg := metrics.NewRegistry()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- metrics.Serve(ctx, ln, metrics.Handler(reg, metrics.Health{})) }()

	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	for _, path := range []string{"/healthz", "/metrics"} {
		resp, err := client.Get("http://" + ln.Addr().String() + path)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s = %d", path, resp.StatusCode)
		}
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve after cancel = %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
	if _, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		t.Error("listener still accepts after Serve returned")
	}
}

func TestServeListenerError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	err = metrics.Serve(context.Background(), ln, http.NotFoundHandler())
	if err == nil || !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Serve on a closed listener = %v, want net.ErrClosed", err)
	}
}
