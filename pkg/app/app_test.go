package app_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	"go.uber.org/goleak"

	"github.com/sentinel-zt/sentinel/internal/testpki"
	"github.com/sentinel-zt/sentinel/pkg/app"
	"github.com/sentinel-zt/sentinel/pkg/certattrs"
	"github.com/sentinel-zt/sentinel/pkg/client"
	"github.com/sentinel-zt/sentinel/pkg/identity"
	"github.com/sentinel-zt/sentinel/pkg/metrics"
	"github.com/sentinel-zt/sentinel/pkg/relay"
	"github.com/sentinel-zt/sentinel/pkg/server"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// syncBuffer is the stderr handed to app.Run: the process log and the audit fallback are two
// loggers writing to it from many goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// freeAddr returns a 127.0.0.1 address nobody listens on. app.Run listens on the configured
// address itself, so the test has to pick one; the port may in theory be taken again before
// Run listens, which would fail the test loudly rather than pass it wrongly.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// bundle writes leaf, its key and the CA into dir with a config.toml holding extra, as
// `backend ca issue --out` would, and returns the config's path.
func bundle(t *testing.T, dir string, ca *testpki.CA, leaf *testpki.Leaf, extra string) string {
	t.Helper()
	files := map[string][]byte{"node.crt": leaf.CertPEM, "node.key": leaf.KeyPEM, "ca.crt": ca.PEM,
		"config.toml": []byte("cert = \"node.crt\"\nkey = \"node.key\"\nca = \"ca.crt\"\n" + extra)}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "config.toml")
}

// running is one app.Run in the background.
type running struct {
	stderr *syncBuffer
	cancel context.CancelFunc
	done   chan error
}

func start(t *testing.T, configPath string) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{stderr: &syncBuffer{}, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- app.Run(ctx, configPath, r.stderr) }()
	t.Cleanup(func() {
		r.cancel()
		select {
		case <-r.done:
		case <-time.After(30 * time.Second):
			t.Errorf("app.Run did not return 30s after cancel")
		}
	})
	return r
}

// stop cancels Run's context and returns its result.
func (r *running) stop(t *testing.T) error {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		r.done <- err // for the cleanup
		return err
	case <-time.After(30 * time.Second):
		t.Fatalf("app.Run did not return 30s after cancel; stderr:\n%s", r.stderr)
		return nil
	}
}

// client is a plain HTTP(S) client that keeps no idle connections (goleak checks).
func httpClient(roots *testpki.CA) *http.Client {
	tr := &http.Transport{DisableKeepAlives: true}
	if roots != nil {
		tr.TLSClientConfig = &tls.Config{RootCAs: roots.Pool, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: tr, Timeout: 5 * time.Second}
}

// get fetches url and returns the status and body.
func get(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp.StatusCode, string(body)
}

// waitServing polls url until it answers (any status), or Run returns, or 15 s pass.
func (r *running) waitServing(t *testing.T, c *http.Client, url string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := c.Get(url)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return
		}
		select {
		case err := <-r.done:
			r.done <- err
			t.Fatalf("app.Run returned early: %v; stderr:\n%s", err, r.stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never answered: %v; stderr:\n%s", url, err, r.stderr)
		}
		time.Sleep(20 * time.Millisecond) // polling interval
	}
}

// runningRelay is a relay process started from a real bundle and config (log at error, audit
// to stderr), serving on its listener and its metrics listener.
type runningRelay struct {
	*running
	metrics *http.Client // plain HTTP to base, the metrics listener
	base    string
	addr    string // the relay's own listener
	ca      *testpki.CA
	attrs   *certattrs.Relay
}

// startRelay starts a relay with metricsExtra added to its [metrics] section and waits until
// its metrics listener answers.
func startRelay(t *testing.T, metricsExtra string) *runningRelay {
	ca := testpki.NewCA(t, "app test root")
	metricsAddr, relayAddr := freeAddr(t), freeAddr(t)
	_, relayPort, _ := net.SplitHostPort(relayAddr)
	port, _ := strconv.Atoi(relayPort)
	attrs := &certattrs.Relay{UUID: uuid.NewString(), Name: "relay1", Address: "127.0.0.1", Port: port}
	leaf := ca.Issue(t, certattrs.Attrs{Relay: attrs}, testpki.Opts{IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}})
	cfg := bundle(t, t.TempDir(), ca, leaf, fmt.Sprintf(`
[log]
level = "error"
[audit]
path = ""
[metrics]
listen = %q
%s
[relay]
listen = %q
`, metricsAddr, metricsExtra, relayAddr))
	rr := &runningRelay{running: start(t, cfg), metrics: httpClient(nil), base: "http://" + metricsAddr, addr: relayAddr, ca: ca, attrs: attrs}
	rr.waitServing(t, rr.metrics, rr.base+"/healthz")
	return rr
}

// TestRunProfiler: with metrics.pprof the metrics listener also serves Go's profiler.
func TestRunProfiler(t *testing.T) {
	rr := startRelay(t, "pprof = true")
	if code, body := get(t, rr.metrics, rr.base+"/debug/pprof/heap?debug=1"); code != http.StatusOK || !strings.Contains(body, "heap profile") {
		t.Fatalf("/debug/pprof/heap: %d %.80q", code, body)
	}
	if code, _ := get(t, rr.metrics, rr.base+"/metrics"); code != http.StatusOK {
		t.Fatalf("/metrics with the profiler: %d", code)
	}
}

// TestRunRelay runs a relay from a real bundle and config: the metrics listener serves
// health, readiness, status and Prometheus metrics; with no audit file and the log at
// "error", audit events still reach stderr (at info); cancelling the context stops it
// cleanly.
func TestRunRelay(t *testing.T) {
	rr := startRelay(t, "")
	r, c, base, relayAddr, ca, attrs := rr.running, rr.metrics, rr.base, rr.addr, rr.ca, rr.attrs
	if code, _ := get(t, c, base+"/debug/pprof/"); code != http.StatusNotFound {
		t.Errorf("/debug/pprof/ without metrics.pprof: %d, want 404", code)
	}

	if code, body := get(t, c, base+"/healthz"); code != http.StatusOK || strings.TrimSpace(body) != "ok" {
		t.Errorf("/healthz: %d %q, want 200 ok", code, body)
	}
	if code, body := get(t, c, base+"/readyz"); code != http.StatusOK {
		t.Errorf("/readyz: %d %q, want 200 for a serving relay", code, body)
	}
	code, body := get(t, c, base+"/status")
	var st relay.Status
	if err := json.Unmarshal([]byte(body), &st); code != http.StatusOK || err != nil {
		t.Fatalf("/status: %d %v:\n%s", code, err, body)
	}
	if st.UUID != attrs.UUID || st.Name != "relay1" {
		t.Errorf("/status names relay %q %q, want %q relay1", st.UUID, st.Name, attrs.UUID)
	}

	// The relay answers on its own listener; a request without a token is an audit event.
	rc := httpClient(ca)
	if code, _ := get(t, rc, "https://"+relayAddr+"/healthz"); code != http.StatusOK {
		t.Errorf("relay /healthz: %d, want 200", code)
	}
	if code, _ := get(t, rc, "https://"+relayAddr+"/v1/client?server="+uuid.NewString()); code != http.StatusUnauthorized {
		t.Errorf("relay /v1/client without a token: %d, want 401", code)
	}

	code, body = get(t, c, base+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d", code)
	}
	for _, want := range []string{"go_goroutines ", "process_resident_memory_bytes ",
		"sentinel_relay_sessions_active ", "sentinel_relay_sessions_total ", "sentinel_relay_session_setup_seconds_bucket",
		`sentinel_relay_auth_failures_total{reason="bad_token"} 1`} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	problems, err := promlint.New(strings.NewReader(body)).Lint()
	if err != nil {
		t.Fatalf("lint /metrics: %v", err)
	}
	for _, p := range problems {
		t.Errorf("lint /metrics: %s: %s", p.Metric, p.Text)
	}

	// The audit event made it to stderr although the log level is error.
	var deny map[string]any
	deadline := time.Now().Add(5 * time.Second)
	for deny == nil {
		for _, line := range strings.Split(r.stderr.String(), "\n") {
			var ev map[string]any
			if json.Unmarshal([]byte(line), &ev) == nil && ev["event"] == "auth.deny" {
				deny = ev
			}
		}
		if deny == nil && time.Now().After(deadline) {
			t.Fatalf("no auth.deny on stderr with log.level = error; stderr:\n%s", r.stderr)
		}
		time.Sleep(10 * time.Millisecond) // polling interval
	}
	for k, v := range map[string]any{"logger": "audit", "level": "info", "role": "relay", "uuid": attrs.UUID,
		"name": "relay1", "decision": "deny", "reason": "bad_token", "path": "/v1/client"} {
		if deny[k] != v {
			t.Errorf("auth.deny on stderr: %s = %v, want %v (%v)", k, deny[k], v, deny)
		}
	}
	if strings.Contains(r.stderr.String(), `"msg":"starting"`) {
		t.Errorf("log.level = error, yet the info line \"starting\" was logged:\n%s", r.stderr)
	}

	if err := r.stop(t); err != nil {
		t.Fatalf("app.Run after cancel: %v, want nil; stderr:\n%s", err, r.stderr)
	}
}

// TestRunServerNotReady: a server that cannot reach its relay is alive (/healthz 200) but
// not ready (/readyz 503 with the reason), and stops cleanly.
func TestRunServerNotReady(t *testing.T) {
	ca := testpki.NewCA(t, "app test root")
	metricsAddr, deadRelay := freeAddr(t), freeAddr(t)
	_, p, _ := net.SplitHostPort(deadRelay)
	port, _ := strconv.Atoi(p)
	res, err := certattrs.ParseResource("10.0.0.0/24:3306")
	if err != nil {
		t.Fatal(err)
	}
	res.UUID, res.Name = uuid.NewString(), "db"
	attrs := &certattrs.Server{UUID: uuid.NewString(), Name: "server1", Resources: []certattrs.Resource{res},
		Relays: []certattrs.RelayRef{{UUID: uuid.NewString(), Name: "relay1", Addr: "127.0.0.1", Port: port, Sort: 1}}}
	leaf := ca.Issue(t, certattrs.Attrs{Server: attrs}, testpki.Opts{})
	r := start(t, bundle(t, t.TempDir(), ca, leaf, fmt.Sprintf("shutdown_timeout = \"2s\"\n[metrics]\nlisten = %q\n", metricsAddr)))
	c := httpClient(nil)
	base := "http://" + metricsAddr
	r.waitServing(t, c, base+"/healthz")

	if code, _ := get(t, c, base+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz: %d, want 200", code)
	}
	if code, body := get(t, c, base+"/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "not registered") {
		t.Errorf("/readyz: %d %q, want 503 not registered with any relay", code, body)
	}
	var st server.Status
	if _, body := get(t, c, base+"/status"); json.Unmarshal([]byte(body), &st) != nil || st.UUID != attrs.UUID ||
		len(st.Relays) != 1 || st.Relays[0].Connected {
		t.Errorf("/status: %s, want server %s with relay1 not connected", body, attrs.UUID)
	}
	if _, body := get(t, c, base+"/metrics"); !strings.Contains(body, "sentinel_server_relays_connected 0") {
		t.Errorf("/metrics lacks sentinel_server_relays_connected 0")
	}
	if err := r.stop(t); err != nil {
		t.Fatalf("app.Run after cancel: %v; stderr:\n%s", err, r.stderr)
	}
}

// descNames is a Registerer that remembers the name of every metric registered through it,
// whether or not a series exists yet (a vector with no label values gathers nothing).
type descNames struct {
	prometheus.Registerer
	names map[string]bool
}

// fqNameRE reads the name out of prometheus.Desc's String form, the only place it is exposed.
var fqNameRE = regexp.MustCompile(`fqName: "([^"]+)"`)

func (d *descNames) Register(c prometheus.Collector) error {
	ch := make(chan *prometheus.Desc)
	go func() { c.Describe(ch); close(ch) }()
	for desc := range ch {
		if m := fqNameRE.FindStringSubmatch(desc.String()); m != nil {
			d.names[m[1]] = true
		}
	}
	return d.Registerer.Register(c)
}

func (d *descNames) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := d.Register(c); err != nil {
			panic(err)
		}
	}
}

// allMetricNames builds one relay, one server and one client on a registry that records
// their metric names, plus what metrics.NewRegistry adds (Go runtime and process).
func allMetricNames(t *testing.T) (sentinel, all map[string]bool) {
	t.Helper()
	ca := testpki.NewCA(t, "metrics root")
	store := func(attrs certattrs.Attrs) *identity.Store {
		leaf := ca.Issue(t, attrs, testpki.Opts{})
		id, err := identity.Parse(leaf.CertPEM, leaf.KeyPEM, ca.PEM)
		if err != nil {
			t.Fatal(err)
		}
		return identity.NewStore(id)
	}
	ref := certattrs.RelayRef{UUID: uuid.NewString(), Name: "relay1", Addr: "127.0.0.1", Port: 8443, Sort: 1}
	res, err := certattrs.ParseResource("10.0.0.0/24:3306")
	if err != nil {
		t.Fatal(err)
	}
	res.UUID, res.Name = uuid.NewString(), "db"
	srv := &certattrs.Server{UUID: uuid.NewString(), Name: "server1", Resources: []certattrs.Resource{res}, Relays: []certattrs.RelayRef{ref}}
	reg := metrics.NewRegistry()
	rec := &descNames{Registerer: reg, names: map[string]bool{}}
	if _, err := relay.New(relay.Config{Identity: store(certattrs.Attrs{Relay: &certattrs.Relay{UUID: ref.UUID, Name: "relay1", Address: "127.0.0.1", Port: 8443}}), Registry: rec}); err != nil {
		t.Fatal(err)
	}
	if _, err := server.New(server.Config{Identity: store(certattrs.Attrs{Server: srv}), Registry: rec}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.New(client.Config{Identity: store(certattrs.Attrs{Client: &certattrs.Client{
		Port: 48080, Relays: []certattrs.RelayRef{ref}, Server: certattrs.ServerRef{UUID: srv.UUID, Name: "server1"},
		Target: certattrs.Target{Host: "10.0.0.5", Port: 3306}}}), Registry: rec}); err != nil {
		t.Fatal(err)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	all = map[string]bool{}
	for _, mf := range families {
		all[mf.GetName()] = true
	}
	for name := range rec.names {
		all[name] = true
	}
	return rec.names, all
}

// TestDashboardMetricsExist: configs/grafana/sentinel-dashboard.json is a dashboard whose
// every query names metrics the roles export, and which charts every Sentinel metric.
func TestDashboardMetricsExist(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "configs", "grafana", "sentinel-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		UID           string           `json:"uid"`
		Title         string           `json:"title"`
		SchemaVersion int              `json:"schemaVersion"`
		Panels        []map[string]any `json:"panels"`
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatalf("dashboard is not JSON: %v", err)
	}
	if dash.UID == "" || dash.Title == "" || dash.SchemaVersion == 0 || len(dash.Panels) == 0 {
		t.Fatalf("dashboard lacks uid, title, schemaVersion or panels")
	}
	var doc any
	_ = json.Unmarshal(data, &doc)
	var exprs []string
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if e, ok := v["expr"].(string); ok {
				exprs = append(exprs, e)
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(doc)
	if len(exprs) == 0 {
		t.Fatal("dashboard has no queries")
	}

	sentinel, all := allMetricNames(t)
	exists := func(name string) bool {
		if all[name] {
			return true
		}
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if base, ok := strings.CutSuffix(name, suffix); ok && all[base] {
				return true
			}
		}
		return false
	}
	metricRE := regexp.MustCompile(`\b(?:sentinel|go|process)_[a-z_]+`)
	charted := map[string]bool{}
	for _, e := range exprs {
		for _, name := range metricRE.FindAllString(e, -1) {
			if !exists(name) {
				t.Errorf("dashboard query %q names %s, which no role exports", e, name)
			}
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				name = strings.TrimSuffix(name, suffix)
			}
			charted[name] = true
		}
	}
	for name := range sentinel {
		if !charted[name] {
			t.Errorf("dashboard charts nothing of %s", name)
		}
	}
	for _, name := range []string{"go_goroutines", "process_resident_memory_bytes"} {
		if !charted[name] {
			t.Errorf("dashboard charts nothing of %s", name)
		}
	}
}

// auditConstants returns the string constants of pkg/audit (event names, field names and
// decision values) by parsing its source, so a new one is covered without editing this test.
func auditConstants(t *testing.T) map[string]string {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, filepath.Join("..", "audit", "audit.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, name := range vs.Names {
				if i >= len(vs.Values) {
					continue
				}
				if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
					v, err := strconv.Unquote(lit.Value)
					if err != nil {
						t.Fatal(err)
					}
					out[name.Name] = v
				}
			}
		}
	}
	if len(out) < 20 {
		t.Fatalf("found only %d constants in pkg/audit/audit.go", len(out))
	}
	return out
}

// TestAuditDocs: docs/AUDIT.md names every event, field and decision value pkg/audit
// defines, and holds a valid example line of every event, whose keys it documents.
func TestAuditDocs(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "docs", "AUDIT.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	consts := auditConstants(t)
	var events []string
	for name, v := range consts {
		if !strings.Contains(doc, "`"+v+"`") {
			t.Errorf("docs/AUDIT.md does not mention `%s` (audit.%s)", v, name)
		}
		if strings.Contains(v, ".") {
			events = append(events, v)
		}
	}
	slices.Sort(events)

	examples := map[string]int{}
	for i, line := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(line, `{"`) {
			continue
		}
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Errorf("docs/AUDIT.md:%d: example is not JSON: %v", i+1, err)
			continue
		}
		name, _ := ev["event"].(string)
		if name == "" {
			continue // a console or log-format line
		}
		examples[name]++
		for k := range ev {
			if !strings.Contains(doc, "`"+k+"`") {
				t.Errorf("docs/AUDIT.md:%d: key %s of the %s example is not documented", i+1, k, name)
			}
		}
	}
	for _, ev := range events {
		if examples[ev] == 0 {
			t.Errorf("docs/AUDIT.md has no example line of %s", ev)
		}
	}
}
