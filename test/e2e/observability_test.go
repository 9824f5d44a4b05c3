package e2e

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"

	"github.com/sentinel-zt/sentinel/internal/testnet"
	"github.com/sentinel-zt/sentinel/internal/testpki"
	"github.com/sentinel-zt/sentinel/pkg/audit"
	"github.com/sentinel-zt/sentinel/pkg/certattrs"
	"github.com/sentinel-zt/sentinel/pkg/client"
	"github.com/sentinel-zt/sentinel/pkg/relay"
	"github.com/sentinel-zt/sentinel/pkg/server"
	"github.com/sentinel-zt/sentinel/pkg/tunnel"
)

// The TestObservability* tests check what an operator sees: the audit trail (one session
// followed across relay, server and client by its id, the documented fields, where the
// remote address comes from), the metrics each role exports, and that no log or audit line
// carries a secret or a payload.

// obsClient is one more real client on an env's relay, with its own registry, log and audit
// trail, so a test sees exactly what it exports.
type obsClient struct {
	leaf  *testpki.Leaf
	attrs *certattrs.Client
	ln    net.Listener
	reg   *prometheus.Registry
	c     *client.Client
}

// startObsClient issues a client certificate named name (user name@example.com) for e's
// server and relay, runs it, and returns once a connection round-trips through it. A nil
// auditZ writes its audit events to e's trail.
func startObsClient(t *testing.T, e *env, name string, log, auditZ *zap.Logger) *obsClient {
	t.Helper()
	leaf := e.issueClient(t, func(c *certattrs.Client) { c.Name, c.User = name, name+"@example.com" }, testpki.Opts{})
	if auditZ == nil {
		auditZ = zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), e.audit, zap.DebugLevel))
	}
	oc := &obsClient{leaf: leaf, attrs: leaf.Attrs.Client, ln: testnet.Listen(t), reg: prometheus.NewRegistry()}
	var err error
	oc.c, err = client.New(client.Config{
		Identity: e.store(leaf), Log: log, Registry: oc.reg,
		Audit: audit.New(auditZ, "client", oc.attrs.UUID, name),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- oc.c.Serve(ctx, oc.ln) }()
	t.Cleanup(func() {
		cancel()
		_ = oc.c.Close()
		if err := <-done; err != nil {
			t.Errorf("client %s: %v", name, err)
		}
	})
	obsPoll(t, 15*time.Second, "client "+name+" carries a connection", func() error {
		return roundTripTo(oc.ln.Addr().String(), []byte("ping"))
	})
	return oc
}

// obsPoll calls f until it returns nil, failing the test with its last error after d.
func obsPoll(t testing.TB, d time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s: %v", what, err)
		}
		time.Sleep(20 * time.Millisecond) // polling interval
	}
}

// obsWaitEvent waits (10 s at most) for an event after mark that satisfies match.
func obsWaitEvent(t testing.TB, e *env, mark int, what string, match func(event) bool) event {
	t.Helper()
	var found event
	obsPoll(t, 10*time.Second, what, func() error {
		for _, ev := range e.auditSince(t, mark) {
			if match(ev) {
				found = ev
				return nil
			}
		}
		return fmt.Errorf("not in the %d events since mark %d", len(e.auditSince(t, mark)), mark)
	})
	return found
}

// obsIs matches an event by name, role and session id ("" = any session).
func obsIs(name, role, session string) func(event) bool {
	return func(ev event) bool {
		return ev.str("event") == name && ev.str("role") == role && (session == "" || ev.str("session") == session)
	}
}

// obsFields checks that ev has want (exact string values) and carries every key of present.
func obsFields(t testing.TB, ev event, want map[string]string, present ...string) {
	t.Helper()
	label := ev.str("role") + " " + ev.str("event")
	for k, v := range want {
		if got := ev.str(k); got != v {
			t.Errorf("%s: %s = %q, want %q (event %v)", label, k, got, v, ev)
		}
	}
	for _, k := range present {
		v, ok := ev[k]
		if !ok || v == "" || v == nil {
			t.Errorf("%s: field %s is missing (event %v)", label, k, ev)
		}
	}
}

// obsNumber returns a numeric field (bytes_in, bytes_out, duration), failing when it is not
// a JSON number.
func obsNumber(t testing.TB, ev event, k string) float64 {
	t.Helper()
	v, ok := ev[k].(float64)
	if !ok {
		t.Errorf("%s %s: %s = %#v, want a JSON number", ev.str("role"), ev.str("event"), k, ev[k])
	}
	return v
}

// obsCommon checks the fields every event carries: time (RFC 3339, UTC), event, and the
// writing component's role, uuid and name.
func obsCommon(t testing.TB, ev event, role, uuid, name string) {
	t.Helper()
	obsFields(t, ev, map[string]string{audit.FieldRole: role, audit.FieldUUID: uuid, audit.FieldName: name})
	ts, err := time.Parse(time.RFC3339Nano, ev.str(audit.FieldTime))
	if err != nil || ts.Location() != time.UTC || time.Since(ts) > time.Minute || time.Since(ts) < -time.Minute {
		t.Errorf("%s %s: time = %q, want a current RFC 3339 UTC time (%v)", role, ev.str("event"), ev.str(audit.FieldTime), err)
	}
}

// TestObservabilityAuditCorrelation follows one session across the three components by its
// id, and checks the fields of every event it leaves, of the server's registration and of a
// refusal.
func TestObservabilityAuditCorrelation(t *testing.T) {
	e := newEnv(t, envOptions{})
	st := e.client.Status().Session
	if st == nil {
		t.Fatal("client reports no session after a round trip")
	}
	sid := st.ID
	if !tunnel.ValidSessionID(sid) {
		t.Fatalf("client session id %q is not a session id", sid)
	}

	// One query-shaped exchange (a MySQL COM_QUERY packet; the target echoes it).
	query := []byte("\x1d\x00\x00\x00\x03SELECT id, name FROM users")
	mark := e.auditMark()
	if err := e.roundTrip(query); err != nil {
		t.Fatal(err)
	}
	n := float64(len(query))
	isQuery := func(name, role string) func(event) bool {
		return func(ev event) bool {
			in, _ := ev[audit.FieldBytesIn].(float64)
			return obsIs(name, role, sid)(ev) && in == n
		}
	}
	serverStreamClose := obsWaitEvent(t, e, mark, "server stream.close of the query", isQuery(audit.StreamClose, "server"))
	clientStreamClose := obsWaitEvent(t, e, mark, "client stream.close of the query", isQuery(audit.StreamClose, "client"))

	// End the session from the client: each component writes its session.close.
	if err := e.client.Close(); err != nil {
		t.Fatal(err)
	}
	relayClose := obsWaitEvent(t, e, 0, "relay session.close", obsIs(audit.SessionClose, "relay", sid))
	serverClose := obsWaitEvent(t, e, 0, "server session.close", obsIs(audit.SessionClose, "server", sid))
	clientClose := obsWaitEvent(t, e, 0, "client session.close", obsIs(audit.SessionClose, "client", sid))

	// A refused attempt: no token at all.
	mark = e.auditMark()
	ws, resp, err := e.relayDial(t, tunnel.PathClient, e.clientQuery(), nil)
	wantRefusal(t, ws, resp, err, http.StatusUnauthorized, tunnel.CodeBadToken)
	deny := obsWaitEvent(t, e, mark, "relay auth.deny", obsIs(audit.AuthDeny, "relay", ""))

	all := e.auditSince(t, 0)
	find := func(match func(event) bool, what string) event {
		t.Helper()
		for _, ev := range all {
			if match(ev) {
				return ev
			}
		}
		t.Fatalf("no %s in the audit trail", what)
		return nil
	}
	relayOpen := find(obsIs(audit.SessionOpen, "relay", sid), "relay session.open")
	serverOpen := find(obsIs(audit.SessionOpen, "server", sid), "server session.open")
	clientOpen := find(obsIs(audit.SessionOpen, "client", sid), "client session.open")
	serverStreamOpen := find(func(ev event) bool {
		return obsIs(audit.StreamOpen, "server", sid)(ev) && ev[audit.FieldDecision] == audit.DecisionAllow &&
			ev["stream"] == serverStreamClose["stream"]
	}, "server stream.open of the query")
	register := find(func(ev event) bool {
		return obsIs(audit.ServerRegister, "relay", "")(ev) && ev.str(audit.FieldPeerUUID) == e.serverAttrs.UUID
	}, "relay server.register")

	relayID, serverID, clientID := e.relayAttrs.UUID, e.serverAttrs.UUID, e.clientAttrs.UUID
	target := e.target.Addr().String()
	alice := map[string]string{
		audit.FieldSession: sid, audit.FieldPeerRole: "client", audit.FieldPeerUUID: clientID,
		audit.FieldPeerName: "alice", audit.FieldUser: "alice@example.com",
	}
	with := func(m map[string]string, kv ...string) map[string]string {
		out := map[string]string{}
		for k, v := range m {
			out[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			out[kv[i]] = kv[i+1]
		}
		return out
	}

	// Relay: the client's identity, its address, and the ciphertext bytes each way.
	for _, ev := range []event{relayOpen, relayClose, register, deny} {
		obsCommon(t, ev, "relay", relayID, "relay1")
	}
	obsFields(t, relayOpen, with(alice, audit.FieldDecision, audit.DecisionAllow, "server_uuid", serverID),
		audit.FieldSerial, audit.FieldRemoteAddr)
	obsFields(t, relayClose, alice, audit.FieldRemoteAddr)
	if in, out := obsNumber(t, relayClose, audit.FieldBytesIn), obsNumber(t, relayClose, audit.FieldBytesOut); in < n || out < n {
		t.Errorf("relay session.close: bytes_in %v, bytes_out %v, want at least the %v bytes of the query each way", in, out, n)
	}
	obsNumber(t, relayClose, audit.FieldDuration)
	obsFields(t, register, map[string]string{
		audit.FieldPeerRole: "server", audit.FieldPeerName: "server1", audit.FieldDecision: audit.DecisionAllow,
	}, audit.FieldSerial, audit.FieldRemoteAddr)
	obsFields(t, deny, map[string]string{
		audit.FieldDecision: audit.DecisionDeny, audit.FieldReason: tunnel.CodeBadToken, "path": tunnel.PathClient,
	}, audit.FieldRemoteAddr, audit.FieldDetail)

	// Server: the same identity again (from the end-to-end TLS), the target, plaintext bytes.
	for _, ev := range []event{serverOpen, serverStreamOpen, serverStreamClose, serverClose} {
		obsCommon(t, ev, "server", serverID, "server1")
		obsFields(t, ev, with(alice, "via", "relay1"), audit.FieldSerial)
	}
	obsFields(t, serverOpen, map[string]string{audit.FieldDecision: audit.DecisionAllow}, audit.FieldRemoteAddr)
	obsFields(t, serverStreamOpen, map[string]string{audit.FieldTarget: target, audit.FieldDecision: audit.DecisionAllow}, "target_addr")
	obsFields(t, serverStreamClose, map[string]string{audit.FieldTarget: target})
	if out := obsNumber(t, serverStreamClose, audit.FieldBytesOut); out != n {
		t.Errorf("server stream.close: bytes_out %v, want %v (the echo)", out, n)
	}
	obsNumber(t, serverStreamClose, audit.FieldDuration)
	obsFields(t, serverClose, nil, audit.FieldReason)
	obsNumber(t, serverClose, audit.FieldDuration)

	// Client: the server it pinned, its local connection, the same bytes mirrored.
	for _, ev := range []event{clientOpen, clientStreamClose, clientClose} {
		obsCommon(t, ev, "client", clientID, "alice")
		obsFields(t, ev, map[string]string{audit.FieldSession: sid})
	}
	server1 := map[string]string{audit.FieldPeerUUID: serverID, audit.FieldPeerName: "server1", "via": "relay1"}
	obsFields(t, clientOpen, with(server1, audit.FieldDecision, audit.DecisionAllow))
	obsFields(t, clientClose, with(server1, audit.FieldReason, "shutdown"))
	obsNumber(t, clientClose, audit.FieldDuration)
	obsFields(t, clientStreamClose, nil, audit.FieldRemoteAddr)
	if out := obsNumber(t, clientStreamClose, audit.FieldBytesOut); out != n {
		t.Errorf("client stream.close: bytes_out %v, want %v", out, n)
	}
	obsNumber(t, clientStreamClose, audit.FieldDuration)

	// Nobody else wrote about this session, and every event names a known event.
	known := map[string]bool{}
	for _, name := range []string{audit.ServerRegister, audit.ServerUnregister, audit.SessionOpen, audit.SessionClose,
		audit.StreamOpen, audit.StreamClose, audit.AuthDeny, audit.RevokedKill} {
		known[name] = true
	}
	for _, ev := range all {
		if !known[ev.str("event")] {
			t.Errorf("undocumented audit event %q: %v", ev.str("event"), ev)
		}
		if ev.str(audit.FieldSession) == sid && ev.str("role") == "relay" && ev.str("event") == audit.AuthDeny {
			t.Errorf("relay refused something of session %s: %v", sid, ev)
		}
	}
}

// TestObservabilityRemoteAddr: the relay's audit remote_addr is the TCP peer unless the relay
// runs behind_proxy; only then does it come from X-Forwarded-For (the right-most entry, the
// one the proxy appended), so a client cannot forge its address on a relay that faces the
// Internet.
func TestObservabilityRemoteAddr(t *testing.T) {
	for _, tc := range []struct {
		name        string
		behindProxy bool
		xff         []string
		want        func(remote string) bool
		wantText    string
	}{
		{
			name: "tls/forged-xff-ignored", xff: []string{"203.0.113.66"},
			want:     func(r string) bool { return strings.HasPrefix(r, "127.0.0.1:") },
			wantText: "the TCP peer 127.0.0.1:<port>",
		},
		{
			name: "behind_proxy/xff-used", behindProxy: true, xff: []string{"198.51.100.7, 203.0.113.9"},
			want:     func(r string) bool { return r == "203.0.113.9" },
			wantText: "203.0.113.9, the right-most X-Forwarded-For entry",
		},
		{
			name: "behind_proxy/xff-last-header", behindProxy: true, xff: []string{"198.51.100.7", "203.0.113.10"},
			want:     func(r string) bool { return r == "203.0.113.10" },
			wantText: "203.0.113.10, from the last X-Forwarded-For header",
		},
		{
			name: "behind_proxy/no-xff", behindProxy: true,
			want:     func(r string) bool { return strings.HasPrefix(r, "127.0.0.1:") },
			wantText: "the TCP peer 127.0.0.1:<port>",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envOptions{behindProxy: tc.behindProxy})
			check := func(ev event) {
				t.Helper()
				if got := ev.str(audit.FieldRemoteAddr); !tc.want(got) {
					t.Errorf("relay %s: remote_addr = %q, want %s", ev.str("event"), got, tc.wantText)
				}
			}

			// A refusal.
			mark := e.auditMark()
			h := http.Header{"X-Forwarded-For": tc.xff}
			ws, resp, err := e.relayDial(t, tunnel.PathClient, e.clientQuery(), h)
			wantRefusal(t, ws, resp, err, http.StatusUnauthorized, tunnel.CodeBadToken)
			check(obsWaitEvent(t, e, mark, "relay auth.deny", obsIs(audit.AuthDeny, "relay", "")))

			// An admitted session.
			leaf := e.issueClient(t, nil, testpki.Opts{})
			h = bearer(sign(t, leaf, e.clientClaims()))
			h["X-Forwarded-For"] = tc.xff
			ws, resp, err = e.relayDial(t, tunnel.PathClient, e.clientQuery(), h)
			if err != nil {
				t.Fatalf("relay refused an honest client: %v (%s)", err, denyOf(resp))
			}
			s, err := endToEnd(ws, resp, e.clientTLS(leaf))
			if err != nil {
				t.Fatal(err)
			}
			check(obsWaitEvent(t, e, mark, "relay session.open", obsIs(audit.SessionOpen, "relay", s.id)))
			s.Close()
			check(obsWaitEvent(t, e, mark, "relay session.close", obsIs(audit.SessionClose, "relay", s.id)))
		})
	}
}

// obsMetric is the value of the series name{labels} gathered from g: a counter's or gauge's
// value, a histogram's sample count; 0 when the series does not exist yet.
func obsMetric(t testing.TB, g prometheus.Gatherer, name string, labels map[string]string) float64 {
	t.Helper()
	families, err := g.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, mf := range families {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, lp := range m.GetLabel() {
				have[lp.GetName()] = lp.GetValue()
			}
			for k, v := range labels {
				if have[k] != v {
					continue series
				}
			}
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				return m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				return m.GetGauge().GetValue()
			case dto.MetricType_HISTOGRAM:
				return float64(m.GetHistogram().GetSampleCount())
			default:
				t.Fatalf("%s: unexpected type %s", name, mf.GetType())
			}
		}
	}
	return 0
}

// obsSnapshot records series values so a test can check that they moved.
type obsSnapshot map[string]float64

type obsSeries struct {
	reg    *prometheus.Registry
	name   string
	labels map[string]string
}

func (s obsSeries) key() string { return fmt.Sprintf("%s%v", s.name, s.labels) }

func obsTake(t testing.TB, series []obsSeries) obsSnapshot {
	t.Helper()
	snap := obsSnapshot{}
	for _, s := range series {
		snap[s.key()] = obsMetric(t, s.reg, s.name, s.labels)
	}
	return snap
}

// TestObservabilityMetrics gives each role its own registry, pushes a session, a payload and
// a refusal through, and checks that the counters and histograms moved, the gauges hold the
// live state, and every registry passes the Prometheus linter.
func TestObservabilityMetrics(t *testing.T) {
	relayReg, serverReg := prometheus.NewRegistry(), prometheus.NewRegistry()
	e := newEnv(t, envOptions{configure: func(_ *env, rc *relay.Config, sc *server.Config) {
		rc.Registry, sc.Registry = relayReg, serverReg
	}})
	log := zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))

	counters := []obsSeries{
		{relayReg, "sentinel_relay_sessions_total", nil},
		{relayReg, "sentinel_relay_session_setup_seconds", nil},
		{relayReg, "sentinel_relay_auth_failures_total", map[string]string{"reason": tunnel.CodeBadToken}},
		{relayReg, "sentinel_relay_bytes_total", map[string]string{"direction": "client_to_server"}},
		{relayReg, "sentinel_relay_bytes_total", map[string]string{"direction": "server_to_client"}},
		{serverReg, "sentinel_server_sessions_total", nil},
		{serverReg, "sentinel_server_session_setup_seconds", nil},
		{serverReg, "sentinel_server_streams_total", nil},
		{serverReg, "sentinel_server_target_dial_seconds", nil},
		{serverReg, "sentinel_server_bytes_total", map[string]string{"direction": "client_to_target"}},
		{serverReg, "sentinel_server_bytes_total", map[string]string{"direction": "target_to_client"}},
	}
	before := obsTake(t, counters)

	oc := startObsClient(t, e, "bob", log, nil)
	payload := make([]byte, 64<<10)
	if _, err := rand.Read(payload); err != nil {
		t.Fatal(err)
	}
	if err := roundTripTo(oc.ln.Addr().String(), payload); err != nil {
		t.Fatal(err)
	}
	ws, resp, err := e.relayDial(t, tunnel.PathClient, e.clientQuery(), nil)
	wantRefusal(t, ws, resp, err, http.StatusUnauthorized, tunnel.CodeBadToken)

	// Bytes are counted as they are written, so each count may trail the echo by a moment.
	p := float64(len(payload))
	obsPoll(t, 10*time.Second, "the payload counted at client and server", func() error {
		for _, s := range []obsSeries{
			{oc.reg, "sentinel_client_bytes_total", map[string]string{"direction": "local_to_server"}},
			{oc.reg, "sentinel_client_bytes_total", map[string]string{"direction": "server_to_local"}},
			{serverReg, "sentinel_server_bytes_total", map[string]string{"direction": "target_to_client"}},
		} {
			if got := obsMetric(t, s.reg, s.name, s.labels); got < p {
				return fmt.Errorf("%s = %v, want at least %v", s.key(), got, p)
			}
		}
		return nil
	})

	// Live state, while bob's session is up.
	exactly := func(reg *prometheus.Registry, name string, want float64) {
		t.Helper()
		if got := obsMetric(t, reg, name, nil); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	exactly(serverReg, "sentinel_server_relays_connected", 1)
	exactly(relayReg, "sentinel_relay_server_channels", 1)
	exactly(relayReg, "sentinel_relay_sessions_active", 2) // alice's and bob's
	exactly(serverReg, "sentinel_server_sessions_active", 2)
	exactly(oc.reg, "sentinel_client_sessions_active", 1)
	exactly(oc.reg, "sentinel_client_session_setup_seconds", 1)
	exactly(oc.reg, "sentinel_client_reconnects_total", 0)
	// Each stream the client carried (a "ping" or more while it waited, then the payload)
	// was one stream at the server and one target dial.
	if streams := obsMetric(t, oc.reg, "sentinel_client_streams_total", nil); streams < 2 {
		t.Errorf("sentinel_client_streams_total = %v, want at least 2", streams)
	}

	// The relay counts a session's bytes as it splices them: bob's session is still up.
	obsPoll(t, 10*time.Second, "the payload counted at the relay while the session lives", func() error {
		for _, dir := range []string{"client_to_server", "server_to_client"} {
			s := obsSeries{relayReg, "sentinel_relay_bytes_total", map[string]string{"direction": dir}}
			if d := obsMetric(t, s.reg, s.name, s.labels) - before[s.key()]; d < p {
				return fmt.Errorf("%s moved by %v, want at least %v", s.key(), d, p)
			}
		}
		return nil
	})
	if got := obsMetric(t, relayReg, "sentinel_relay_sessions_active", nil); got != 2 {
		t.Fatalf("sentinel_relay_sessions_active = %v after counting, want bob's session still up", got)
	}

	// End bob's session.
	if err := oc.c.Close(); err != nil {
		t.Fatal(err)
	}
	obsPoll(t, 10*time.Second, "bob's session to end at the relay", func() error {
		if got := obsMetric(t, relayReg, "sentinel_relay_sessions_active", nil); got != 1 {
			return fmt.Errorf("sentinel_relay_sessions_active = %v", got)
		}
		return nil
	})
	after := obsTake(t, counters)
	moved := func(s obsSeries, min float64) {
		t.Helper()
		if d := after[s.key()] - before[s.key()]; d < min {
			t.Errorf("%s moved by %v (%v -> %v), want at least %v", s.key(), d, before[s.key()], after[s.key()], min)
		}
	}
	moved(counters[0], 1)  // relay sessions_total
	moved(counters[1], 1)  // relay session_setup_seconds count
	moved(counters[2], 1)  // relay auth_failures_total{bad_token}
	moved(counters[3], p)  // relay bytes client_to_server (ciphertext, at least the payload)
	moved(counters[4], p)  // relay bytes server_to_client
	moved(counters[5], 1)  // server sessions_total
	moved(counters[6], 1)  // server session_setup_seconds count
	moved(counters[7], 2)  // server streams_total
	moved(counters[8], 2)  // server target_dial_seconds count
	moved(counters[9], p)  // server bytes client_to_target
	moved(counters[10], p) // server bytes target_to_client
	if d := after[counters[2].key()] - before[counters[2].key()]; d != 1 {
		t.Errorf("relay auth_failures_total{reason=bad_token} moved by %v for one refusal, want 1", d)
	}

	for name, reg := range map[string]*prometheus.Registry{"relay": relayReg, "server": serverReg, "client": oc.reg} {
		problems, err := testutil.GatherAndLint(reg)
		if err != nil {
			t.Fatalf("%s: lint: %v", name, err)
		}
		for _, p := range problems {
			t.Errorf("%s: lint: %s: %s", name, p.Metric, p.Text)
		}
		families, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range families {
			if !strings.HasPrefix(mf.GetName(), "sentinel_"+name+"_") {
				t.Errorf("%s registry exports %s, want the prefix sentinel_%s_", name, mf.GetName(), name)
			}
		}
	}
}

// TestObservabilityNoSecretsInLogs runs sessions, refusals and a payload with every role
// logging at debug into one buffer, and checks that neither the log nor the audit trail holds
// a bearer token, a private key or a byte of the payload.
func TestObservabilityNoSecretsInLogs(t *testing.T) {
	logs := &lockedBuffer{}
	debug := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), logs, zap.DebugLevel))
	e := newEnv(t, envOptions{configure: func(_ *env, rc *relay.Config, sc *server.Config) {
		rc.Log, sc.Log = debug, debug
	}})
	oc := startObsClient(t, e, "carol", debug, nil)

	var rnd [12]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		t.Fatal(err)
	}
	marker := "PAYLOAD-MARKER-" + hex.EncodeToString(rnd[:])
	if err := roundTripTo(oc.ln.Addr().String(), []byte(marker)); err != nil {
		t.Fatal(err)
	}

	// Refusals whose detail could be tempted to quote the token: a replayed token, a token
	// for another audience, and junk that looks like a JWS.
	mark := e.auditMark()
	tok := sign(t, oc.leaf, e.clientClaims())
	ws, _, err := e.relayDial(t, tunnel.PathClient, e.clientQuery(), bearer(tok))
	if err != nil {
		t.Fatalf("first use of a fresh token refused: %v", err)
	}
	_ = ws.Close()
	ws, resp, err := e.relayDial(t, tunnel.PathClient, e.clientQuery(), bearer(tok))
	wantRefusal(t, ws, resp, err, http.StatusUnauthorized, tunnel.CodeReplay)
	wrongAud := e.clientClaims()
	wrongAud.Audience = e.serverAttrs.UUID
	ws, resp, err = e.relayDial(t, tunnel.PathClient, e.clientQuery(), bearer(sign(t, oc.leaf, wrongAud)))
	wantRefusal(t, ws, resp, err, http.StatusForbidden, tunnel.CodeWrongAudience)
	junk := "eyJhbGciOiJFUzI1NiJ9.eyJhdWQiOiJ4In0.c2VjcmV0LXNpZ25hdHVyZQ"
	ws, resp, err = e.relayDial(t, tunnel.PathClient, e.clientQuery(), bearer(junk))
	wantRefusal(t, ws, resp, err, http.StatusUnauthorized, tunnel.CodeBadToken)
	obsWaitEvent(t, e, mark, "the relay's three refusals", func(ev event) bool {
		return ev.str("event") == audit.AuthDeny && ev.str(audit.FieldReason) == tunnel.CodeBadToken
	})

	// End carol's session so every close event is written too.
	if err := oc.c.Close(); err != nil {
		t.Fatal(err)
	}
	obsWaitEvent(t, e, 0, "carol's session.close at the server", func(ev event) bool {
		return ev.str("event") == audit.SessionClose && ev.str("role") == "server" && ev.str(audit.FieldPeerName) == "carol"
	})

	trails := map[string]string{"log": logs.String(), "audit": e.audit.String()}
	// The debug log was really hooked up to all three roles.
	for _, want := range []string{`"logger":"relay"`, `"logger":"server"`, `"logger":"client"`, "session established"} {
		if !strings.Contains(trails["log"], want) {
			t.Errorf("debug log lacks %s: the test would prove nothing", want)
		}
	}
	secrets := map[string]string{
		"a JWS (eyJ...)":      "eyJ",
		"the replayed token":  tok,
		"the junk token":      junk,
		"a private key":       "PRIVATE KEY",
		"carol's key":         string(oc.leaf.KeyPEM),
		"the payload":         marker,
		"an Authorization":    "Bearer ",
		"a certificate (PEM)": "BEGIN CERTIFICATE",
	}
	for trail, text := range trails {
		for what, secret := range secrets {
			if strings.Contains(text, secret) {
				t.Errorf("the %s holds %s (%.40q...)", trail, what, secret)
			}
		}
	}
}

// TestObservabilityRelayDraining: once a relay starts draining, its /healthz answers 503 (so
// a load balancer or CDN stops sending it clients) and Ready reports it, while the sessions it
// still carries go on until they end.
func TestObservabilityRelayDraining(t *testing.T) {
	e := newEnv(t, envOptions{})
	// A hand-driven session ignores the server's "move" notice, so it holds the drain open.
	s := e.mustSession(t, e.issueClient(t, nil, testpki.Opts{}))
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DisableKeepAlives: true, TLSClientConfig: &tls.Config{RootCAs: e.ca.Pool, MinVersion: tls.VersionTLS12},
	}}
	healthz := func() (int, error) {
		resp, err := hc.Get("https://" + e.relayLn.Addr().String() + tunnel.PathHealthz)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, nil
	}
	if code, err := healthz(); err != nil || code != http.StatusOK {
		t.Fatalf("relay /healthz before the drain: %d %v, want 200", code, err)
	}
	if err := e.relay.Ready(); err != nil {
		t.Fatalf("relay not ready before the drain: %v", err)
	}

	done := make(chan error, 1)
	go func() { done <- e.relay.Shutdown(context.Background()) }()
	obsPoll(t, 10*time.Second, "relay /healthz to answer 503 while draining", func() error {
		if code, err := healthz(); err != nil || code != http.StatusServiceUnavailable {
			return fmt.Errorf("got %d %v", code, err)
		}
		return nil
	})
	if err := e.relay.Ready(); err == nil {
		t.Error("a draining relay reports ready")
	}
	// The session is still spliced (the server has asked its client to move, which a
	// hand-driven client ignores).
	var live bool
	for _, ss := range e.relay.Status().Sessions {
		live = live || ss.ID == s.id
	}
	if !live {
		t.Errorf("session %s is gone from the relay during the drain", s.id)
	}
	s.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("relay drain did not finish once its last session ended")
	}
}
