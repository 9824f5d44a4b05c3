package doctor_test

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/sentinel-zt/sentinel/internal/testpki"
	"github.com/sentinel-zt/sentinel/pkg/certattrs"
	"github.com/sentinel-zt/sentinel/pkg/doctor"
)

// TestDoctorHealthy: a client, a server and a relay of a working deployment pass every check,
// in the documented order.
func TestDoctorHealthy(t *testing.T) {
	d := newDeployment(t, deployOptions{})

	t.Run("client", func(t *testing.T) {
		leaf := d.client(nil, testpki.Opts{})
		var progress []doctor.Check
		rep := run(t, writeConfig(t, leaf.CertPEM, leaf.KeyPEM, d.ca.PEM, ""), doctor.Options{
			Progress: func(c doctor.Check) { progress = append(progress, c) },
		})
		allPass(t, rep)
		want := []string{
			"config parses",
			"certificate and key match",
			"certificate chains to the CA",
			"role and attributes decode and validate",
			"certificate validity",
			"relay relay1 (wss://127.0.0.1:" + port(d.ref.Port) + "): resolves",
			"): accepts TCP",
			"): completes TLS",
			"): upgrades a WebSocket",
			"): accepts our token",
			`): server "server1" is registered`,
			`end-to-end TLS session to server "server1" via relay1`,
			"stream to target 127.0.0.1:" + port(d.echoPort),
		}
		if len(rep.Checks) != len(want) {
			t.Fatalf("%d checks, want %d", len(rep.Checks), len(want))
		}
		for i, w := range want {
			if !strings.Contains(rep.Checks[i].Name, w) {
				t.Errorf("check %d is %q, want one like %q", i+1, rep.Checks[i].Name, w)
			}
		}
		if len(progress) != len(rep.Checks) {
			t.Errorf("Progress saw %d checks, the report has %d", len(progress), len(rep.Checks))
		}
		expect(t, rep, "role and attributes", doctor.StatusPass, "role client, name \"alice\", uuid "+leaf.Attrs.Client.UUID, "")
		expect(t, rep, "completes TLS", doctor.StatusPass, "TLS 1.3", "")
		expect(t, rep, "stream to target", doctor.StatusPass, "server answered ok", "")
	})

	t.Run("server", func(t *testing.T) {
		rep := run(t, writeConfig(t, d.serverLeaf.CertPEM, d.serverLeaf.KeyPEM, d.ca.PEM, ""), doctor.Options{})
		allPass(t, rep)
		expect(t, rep, "role and attributes", doctor.StatusPass, "role server, name \"server1\", uuid "+d.serverAttrs.UUID, "")
		expect(t, rep, "accepts our token", doctor.StatusPass, "second control channel", "")
	})

	t.Run("relay-running", func(t *testing.T) {
		extra := "[relay]\nlisten = \"" + d.relayLn.Addr().String() + "\"\n"
		rep := run(t, writeConfig(t, d.relayLeaf.CertPEM, d.relayLeaf.KeyPEM, d.ca.PEM, extra), doctor.Options{})
		allPass(t, rep)
		expect(t, rep, "relay.listen", doctor.StatusPass, "in use by a running relay serving this certificate", "")
	})

	t.Run("relay-free", func(t *testing.T) {
		extra := "[relay]\nlisten = \"127.0.0.1:" + port(closedPort(t)) + "\"\n"
		rep := run(t, writeConfig(t, d.relayLeaf.CertPEM, d.relayLeaf.KeyPEM, d.ca.PEM, extra), doctor.Options{})
		allPass(t, rep)
		expect(t, rep, "relay.listen", doctor.StatusPass, "free to bind", "")
	})

	t.Run("warn/near-expiry", func(t *testing.T) {
		leaf := d.client(nil, testpki.Opts{})
		rep := run(t, writeConfig(t, leaf.CertPEM, leaf.KeyPEM, d.ca.PEM, ""), doctor.Options{
			Now: func() time.Time { return leaf.Cert.NotAfter.Add(-5 * time.Minute) },
		})
		if !rep.OK() {
			t.Error("a warning failed the report")
		}
		expect(t, rep, "certificate validity", doctor.StatusWarn, "5m left of its 1h 1m lifetime", "backend ca issue client --name alice")
	})
}

// TestDoctorFailures: each failure the doctor names, with its fix.
func TestDoctorFailures(t *testing.T) {
	d := newDeployment(t, deployOptions{})
	clientConfig := func(t *testing.T, leaf *testpki.Leaf) string {
		return writeConfig(t, leaf.CertPEM, leaf.KeyPEM, d.ca.PEM, "")
	}
	fails := func(t *testing.T, rep doctor.Report) {
		t.Helper()
		if rep.OK() {
			t.Error("report is OK, want a failure")
		}
	}

	t.Run("fail/config", func(t *testing.T) {
		rep := run(t, "/nonexistent/config.toml", doctor.Options{})
		fails(t, rep)
		if len(rep.Checks) != 1 {
			t.Errorf("%d checks after a config failure, want 1", len(rep.Checks))
		}
		expect(t, rep, "config parses", doctor.StatusFail, "no such file", "config")
	})

	t.Run("fail/key-mismatch", func(t *testing.T) {
		leaf, other := d.client(nil, testpki.Opts{}), d.client(nil, testpki.Opts{})
		rep := run(t, writeConfig(t, leaf.CertPEM, other.KeyPEM, d.ca.PEM, ""), doctor.Options{})
		fails(t, rep)
		expect(t, rep, "certificate and key match", doctor.StatusFail, "not the key of the certificate", "key file")
		expect(t, rep, "network checks", doctor.StatusSkip, "not run", "")
	})

	t.Run("fail/wrong-ca", func(t *testing.T) {
		leaf := d.client(nil, testpki.Opts{})
		other := testpki.NewCA(t, "other root")
		rep := run(t, writeConfig(t, leaf.CertPEM, leaf.KeyPEM, other.PEM, ""), doctor.Options{})
		fails(t, rep)
		expect(t, rep, "certificate chains to the CA", doctor.StatusFail,
			`issued by "doctor root") was not signed by the CA in ca ("other root")`, "set ca to the CA that issued this certificate")
		// The relay's certificate does not chain to the wrong CA either.
		expect(t, rep, "completes TLS", doctor.StatusFail, "", "chains neither to ca nor to a system CA")
	})

	t.Run("fail/expired", func(t *testing.T) {
		now := time.Now()
		leaf := d.client(nil, testpki.Opts{NotBefore: now.Add(-2 * time.Hour), NotAfter: now.Add(-time.Hour)})
		rep := run(t, clientConfig(t, leaf), doctor.Options{})
		fails(t, rep)
		expect(t, rep, "certificate validity", doctor.StatusFail, "expired at", "re-issue the certificate")
		expect(t, rep, "certificate chains to the CA", doctor.StatusPass, "", "")
		expect(t, rep, "accepts our token", doctor.StatusFail, "relay refused our token: expired (HTTP 401", "re-issue")
	})

	t.Run("fail/not-yet-valid", func(t *testing.T) {
		now := time.Now()
		leaf := d.client(nil, testpki.Opts{NotBefore: now.Add(time.Hour), NotAfter: now.Add(2 * time.Hour)})
		rep := run(t, clientConfig(t, leaf), doctor.Options{})
		fails(t, rep)
		expect(t, rep, "certificate validity", doctor.StatusFail, "not valid before", "clock")
	})

	t.Run("fail/relay-down", func(t *testing.T) {
		leaf := d.client(func(c *certattrs.Client) { c.Relays[0].Port = closedPort(t) }, testpki.Opts{})
		rep := run(t, clientConfig(t, leaf), doctor.Options{})
		fails(t, rep)
		expect(t, rep, "resolves", doctor.StatusPass, "127.0.0.1 is an IP address", "")
		expect(t, rep, "accepts TCP", doctor.StatusFail, "connection refused", "start the relay")
		expect(t, rep, "end-to-end", doctor.StatusSkip, "no relay opened a session", "")
	})

	t.Run("fail/relay-refuses-unlisted", func(t *testing.T) {
		// The certificate names another relay at relay1's address: relay1 is not listed.
		leaf := d.client(func(c *certattrs.Client) { c.Relays[0].UUID = uuid.NewString() }, testpki.Opts{})
		rep := run(t, clientConfig(t, leaf), doctor.Options{})
		fails(t, rep)
		expect(t, rep, "upgrades a WebSocket", doctor.StatusSkip, "HTTP 403 before upgrading", "")
		expect(t, rep, "accepts our token", doctor.StatusFail, "relay refused our token: wrong_audience (HTTP 403", "is not the relay relay1")
	})

	t.Run("fail/relay-refuses-revoked", func(t *testing.T) {
		leaf := d.client(nil, testpki.Opts{})
		d.revoke(2, leaf.Cert)
		t.Cleanup(func() { d.revoke(3) })
		rep := run(t, clientConfig(t, leaf), doctor.Options{})
		fails(t, rep)
		expect(t, rep, "accepts our token", doctor.StatusFail, "relay refused our token: revoked (HTTP 401", "revoked: re-issue")
	})

	t.Run("fail/server-relay-unlisted", func(t *testing.T) {
		// A server certificate that does not list relay1 (it names another uuid there).
		attrs := *d.serverAttrs
		attrs.UUID, attrs.Relays = uuid.NewString(), []certattrs.RelayRef{{UUID: uuid.NewString(), Name: "relay1", Addr: d.ref.Addr, Port: d.ref.Port}}
		leaf := d.ca.Issue(t, certattrs.Attrs{Server: &attrs}, testpki.Opts{})
		rep := run(t, writeConfig(t, leaf.CertPEM, leaf.KeyPEM, d.ca.PEM, ""), doctor.Options{})
		fails(t, rep)
		expect(t, rep, "accepts our token", doctor.StatusFail, "relay refused our token: wrong_audience", "re-issue the certificate (`backend ca issue server")
	})

	t.Run("fail/server-refuses-client", func(t *testing.T) {
		// Revoked at the server only: the relay lets the session through, and the server
		// refuses our certificate after TLS 1.3 has already finished on our side.
		leaf := d.client(nil, testpki.Opts{})
		d.revokeAtServer(2, leaf.Cert)
		t.Cleanup(func() { d.revokeAtServer(3) })
		rep := run(t, clientConfig(t, leaf), doctor.Options{})
		fails(t, rep)
		expect(t, rep, "accepts our token", doctor.StatusPass, "session", "")
		expect(t, rep, "end-to-end TLS session", doctor.StatusFail, "the server refused our certificate: remote error: tls:", "auth.deny")
		for _, c := range rep.Checks {
			if strings.HasPrefix(c.Name, "stream to target") {
				t.Errorf("stream checked after the server refused the session: %+v", c)
			}
		}
	})

	t.Run("fail/target-not-allowed", func(t *testing.T) {
		leaf := d.client(func(c *certattrs.Client) { c.Target = certattrs.Target{Host: "192.0.2.1", Port: 3306} }, testpki.Opts{})
		rep := run(t, clientConfig(t, leaf), doctor.Options{})
		fails(t, rep)
		expect(t, rep, "end-to-end TLS session", doctor.StatusPass, "TLS 1.3", "")
		expect(t, rep, "stream to target 192.0.2.1:3306", doctor.StatusFail, "server answered error not_allowed", "outside the server's resources")
	})

	t.Run("fail/target-dial-failed", func(t *testing.T) {
		leaf := d.client(func(c *certattrs.Client) { c.Target.Port = closedPort(t) }, testpki.Opts{})
		rep := run(t, clientConfig(t, leaf), doctor.Options{})
		fails(t, rep)
		expect(t, rep, "stream to target", doctor.StatusFail, "server answered error dial_failed", "down or unreachable from the server")
	})

	t.Run("fail/relay-listen-held", func(t *testing.T) {
		held := blackhole(t)
		extra := "[relay]\nlisten = \"127.0.0.1:" + port(held) + "\"\n"
		rep := run(t, writeConfig(t, d.relayLeaf.CertPEM, d.relayLeaf.KeyPEM, d.ca.PEM, extra),
			doctor.Options{StepTimeout: 300 * time.Millisecond})
		fails(t, rep)
		expect(t, rep, "relay.listen", doctor.StatusFail, "in use, and GET https://127.0.0.1:"+port(held)+"/healthz", "stop it, or change relay.listen")
	})
}

// TestDoctorServerDown: the client's relay accepts the token but has no server to offer.
func TestDoctorServerDown(t *testing.T) {
	d := newDeployment(t, deployOptions{noServer: true})
	leaf := d.client(nil, testpki.Opts{})
	rep := run(t, writeConfig(t, leaf.CertPEM, leaf.KeyPEM, d.ca.PEM, ""), doctor.Options{})
	if rep.OK() {
		t.Error("report is OK")
	}
	expect(t, rep, "accepts our token", doctor.StatusPass, "verified it", "")
	expect(t, rep, `server "server1" is registered`, doctor.StatusFail, "server_offline", "start the server")
	expect(t, rep, "end-to-end", doctor.StatusSkip, "no relay opened a session", "")
}

// TestDoctorOtherCA: behind a proxy (ws://, no TLS to check), a client certificate from another
// CA is refused by the relay with bad_chain.
func TestDoctorOtherCA(t *testing.T) {
	d := newDeployment(t, deployOptions{behindProxy: true})

	t.Run("ok", func(t *testing.T) {
		leaf := d.client(nil, testpki.Opts{})
		rep := run(t, writeConfig(t, leaf.CertPEM, leaf.KeyPEM, d.ca.PEM, ""), doctor.Options{})
		if !rep.OK() {
			t.Fatal("report is not OK")
		}
		expect(t, rep, "relay relay1 (ws://127.0.0.1:"+port(d.ref.Port)+"): completes TLS", doctor.StatusSkip, "ws:// relay: no TLS on this leg", "")
		expect(t, rep, "stream to target", doctor.StatusPass, "ok", "")
	})

	t.Run("fail/other-ca", func(t *testing.T) {
		other := testpki.NewCA(t, "other root")
		leaf := other.Issue(t, certattrs.Attrs{Client: &certattrs.Client{
			Name: "mallory", Port: 48080, Relays: []certattrs.RelayRef{d.ref},
			Server: certattrs.ServerRef{UUID: d.serverAttrs.UUID, Name: "server1"},
			Target: certattrs.Target{Host: "127.0.0.1", Port: d.echoPort},
		}}, testpki.Opts{})
		rep := run(t, writeConfig(t, leaf.CertPEM, leaf.KeyPEM, other.PEM, ""), doctor.Options{})
		if rep.OK() {
			t.Fatal("report is OK")
		}
		expect(t, rep, "certificate chains to the CA", doctor.StatusPass, "", "")
		expect(t, rep, "accepts our token", doctor.StatusFail, "relay refused our token: bad_chain (HTTP 401", "does not trust the CA")
	})
}

// hangingResolver answers no lookup until its context ends.
type hangingResolver struct{}

func (hangingResolver) LookupNetIP(ctx context.Context, _, _ string) ([]netip.Addr, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// TestDoctorHangs: every network step is bounded, and so is the whole run.
func TestDoctorHangs(t *testing.T) {
	ca := testpki.NewCA(t, "doctor root")
	silent := blackhole(t)
	leaf := ca.Issue(t, certattrs.Attrs{Client: &certattrs.Client{
		Name: "alice", Port: 48080,
		Relays: []certattrs.RelayRef{
			{UUID: uuid.NewString(), Name: "dns", Addr: "relay.example.com", Port: 443, Sort: 1},
			{UUID: uuid.NewString(), Name: "silent", Addr: "127.0.0.1", Port: silent, Sort: 2},
		},
		Server: certattrs.ServerRef{UUID: uuid.NewString(), Name: "server1"},
		Target: certattrs.Target{Host: "127.0.0.1", Port: 3306},
	}}, testpki.Opts{})
	path := writeConfig(t, leaf.CertPEM, leaf.KeyPEM, ca.PEM, "")

	t.Run("steps", func(t *testing.T) {
		start := time.Now()
		rep := run(t, path, doctor.Options{StepTimeout: 200 * time.Millisecond, Resolver: hangingResolver{}})
		// Without the step timeout the hanging resolver and the silent peer never answer; the
		// bound only catches a hang, it is not a speed target (the machine may be loaded).
		if took := time.Since(start); took > 20*time.Second {
			t.Errorf("hung: took %s", took)
		}
		expect(t, rep, "relay dns (wss://relay.example.com:443): resolves", doctor.StatusFail, "no answer within 200ms", "resolves here")
		expect(t, rep, "relay silent", doctor.StatusPass, "", "")
		expect(t, rep, "relay silent (wss://127.0.0.1:"+port(silent)+"): completes TLS", doctor.StatusFail, "no answer within 200ms", "did not complete TLS in time")
	})

	t.Run("budget", func(t *testing.T) {
		start := time.Now()
		rep := run(t, path, doctor.Options{Timeout: 500 * time.Millisecond, Resolver: hangingResolver{}})
		if took := time.Since(start); took > 20*time.Second {
			t.Errorf("hung: took %s despite the 500ms budget", took)
		}
		expect(t, rep, "relay dns (wss://relay.example.com:443): resolves", doctor.StatusFail, "the doctor's 500ms time limit ran out", "")
		expect(t, rep, "relay silent", doctor.StatusSkip, "time limit ran out", "")
		expect(t, rep, "end-to-end", doctor.StatusSkip, "time limit ran out", "")
		expect(t, rep, "every check ran", doctor.StatusFail, "the doctor's 500ms time limit ran out", "raise --timeout")
	})

	t.Run("interrupted", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		rep := doctor.Run(ctx, path, doctor.Options{LookupEnv: noEnv, Resolver: hangingResolver{}})
		t.Logf("report:\n%s", format(rep))
		expect(t, rep, "certificate validity", doctor.StatusPass, "", "")
		expect(t, rep, "relay dns", doctor.StatusSkip, "the run was interrupted", "")
		expect(t, rep, "relay silent", doctor.StatusSkip, "the run was interrupted", "")
		expect(t, rep, "every check ran", doctor.StatusFail, "the run was interrupted", "run the doctor again")
		if rep.OK() {
			t.Error("an interrupted run is OK")
		}
	})
}
