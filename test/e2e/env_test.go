package e2e

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"

	"github.com/sentinel-zt/sentinel/internal/testnet"
	"github.com/sentinel-zt/sentinel/internal/testpki"
	"github.com/sentinel-zt/sentinel/pkg/audit"
	"github.com/sentinel-zt/sentinel/pkg/certattrs"
	"github.com/sentinel-zt/sentinel/pkg/client"
	"github.com/sentinel-zt/sentinel/pkg/identity"
	"github.com/sentinel-zt/sentinel/pkg/relay"
	"github.com/sentinel-zt/sentinel/pkg/server"
)

// env is one in-process deployment: a CA, a relay, a server, a client and an echo target,
// each on its own 127.0.0.1 listener.
type env struct {
	t      *testing.T
	ctx    context.Context
	ca     *testpki.CA
	target net.Listener

	relayLn    net.Listener
	relayAttrs *certattrs.Relay
	relayLeaf  *testpki.Leaf
	relay      *relay.Relay

	serverAttrs *certattrs.Server
	serverLeaf  *testpki.Leaf
	server      *server.Server

	clientAttrs *certattrs.Client
	clientLeaf  *testpki.Leaf
	clientLn    net.Listener
	client      *client.Client

	audit *lockedBuffer // every role's audit events, JSON lines
	wg    sync.WaitGroup

	targetConns atomic.Int64 // connections the echo target accepted
	dials       *dialLog     // every address the server dialed
	directLn    net.Listener // the server's direct listener, when envOptions.direct
}

type envOptions struct {
	behindProxy bool
	wrapRelayLn func(net.Listener) net.Listener

	// direct gives the server a direct listener (e.directLn).
	direct bool
	// configure runs once the CA and the three certificates exist, before any role is built:
	// attack tests set limits, clocks, resolvers and revocation lists there. The server's Dial
	// is wrapped afterwards so e.dials records every target dial.
	configure func(e *env, rc *relay.Config, sc *server.Config)
}

// newEnv starts a deployment and waits until the client carries a connection end to end.
func newEnv(t *testing.T, opts envOptions) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	e := &env{t: t, ctx: ctx, ca: testpki.NewCA(t, "e2e root"), audit: &lockedBuffer{}}
	e.target = testnet.Listen(t)
	e.wg.Add(1)
	go func() { defer e.wg.Done(); testnet.ServeEcho(e.target, &e.targetConns) }()

	e.relayLn = testnet.Listen(t)
	relayPort := e.relayLn.Addr().(*net.TCPAddr).Port
	addr := "127.0.0.1"
	if opts.behindProxy {
		addr = "ws://127.0.0.1"
	}
	e.relayAttrs = &certattrs.Relay{UUID: uuid.NewString(), Name: "relay1", Address: addr, Port: relayPort}
	e.relayLeaf = e.ca.Issue(t, certattrs.Attrs{Relay: e.relayAttrs}, testpki.Opts{IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}})
	ref := certattrs.RelayRef{UUID: e.relayAttrs.UUID, Name: "relay1", Addr: addr, Port: relayPort, Sort: 1}

	targetPort := e.target.Addr().(*net.TCPAddr).Port
	res, err := certattrs.ParseResource("127.0.0.1/32:" + strconv.Itoa(targetPort))
	if err != nil {
		t.Fatal(err)
	}
	res.UUID, res.Name = uuid.NewString(), "echo"
	e.serverAttrs = &certattrs.Server{UUID: uuid.NewString(), Name: "server1", Resources: []certattrs.Resource{res}, Relays: []certattrs.RelayRef{ref}}
	var serverOpts testpki.Opts
	if opts.direct {
		serverOpts.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)} // clients dial it by IP
	}
	e.serverLeaf = e.ca.Issue(t, certattrs.Attrs{Server: e.serverAttrs}, serverOpts)

	e.clientAttrs = &certattrs.Client{
		UUID: uuid.NewString(), Name: "alice", Port: 48080, User: "alice@example.com",
		Relays: []certattrs.RelayRef{ref},
		Server: certattrs.ServerRef{UUID: e.serverAttrs.UUID, Name: "server1"},
		Target: certattrs.Target{Host: "127.0.0.1", Port: targetPort},
	}
	e.clientLeaf = e.ca.Issue(t, certattrs.Attrs{Client: e.clientAttrs}, testpki.Opts{})

	log := zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
	auditZ := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), e.audit, zap.DebugLevel))

	rl := e.relayLn
	if opts.wrapRelayLn != nil {
		rl = opts.wrapRelayLn(rl)
	}
	rc := relay.Config{
		Identity: e.store(e.relayLeaf), Log: log, BehindProxy: opts.behindProxy,
		Audit: audit.New(auditZ, "relay", e.relayAttrs.UUID, "relay1"), Registry: prometheus.NewRegistry(),
	}
	sc := server.Config{
		Identity: e.store(e.serverLeaf), Log: log,
		Audit: audit.New(auditZ, "server", e.serverAttrs.UUID, "server1"), Registry: prometheus.NewRegistry(),
	}
	if opts.configure != nil {
		opts.configure(e, &rc, &sc)
	}
	e.dials = &dialLog{}
	sc.Dial = e.dials.wrap(sc.Dial)
	e.relay, err = relay.New(rc)
	if err != nil {
		t.Fatal(err)
	}
	e.server, err = server.New(sc)
	if err != nil {
		t.Fatal(err)
	}
	e.client, err = client.New(client.Config{
		Identity: e.store(e.clientLeaf), Log: log,
		Audit: audit.New(auditZ, "client", e.clientAttrs.UUID, "alice"), Registry: prometheus.NewRegistry(),
	})
	if err != nil {
		t.Fatal(err)
	}
	e.clientLn = testnet.Listen(t)
	e.serve(func() error { return e.relay.Serve(ctx, rl) })
	if opts.direct {
		e.directLn = testnet.Listen(t)
	}
	e.serve(func() error { return e.server.Serve(ctx, e.directLn) })
	e.serve(func() error { return e.client.Serve(ctx, e.clientLn) })
	t.Cleanup(func() {
		cancel()
		_ = e.client.Close()
		_ = e.server.Close()
		_ = e.relay.Close()
		_ = e.target.Close()
		e.wg.Wait()
	})
	e.waitReady()
	return e
}

func (e *env) store(l *testpki.Leaf) *identity.Store {
	e.t.Helper()
	id, err := identity.Parse(l.CertPEM, l.KeyPEM, e.ca.PEM)
	if err != nil {
		e.t.Fatalf("identity: %v", err)
	}
	return identity.NewStore(id)
}

func (e *env) serve(f func() error) {
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		if err := f(); err != nil {
			e.t.Errorf("serve: %v", err)
		}
	}()
}

// waitReady polls until one byte makes the round trip through the tunnel.
func (e *env) waitReady() {
	e.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		if last = e.roundTrip([]byte("ping")); last == nil {
			return
		}
		time.Sleep(20 * time.Millisecond) // polling interval, not a readiness guess
	}
	e.t.Fatalf("tunnel never became ready: %v", last)
}

func (e *env) dial() net.Conn {
	e.t.Helper()
	c, err := net.Dial("tcp", e.clientLn.Addr().String())
	if err != nil {
		e.t.Fatalf("dial client: %v", err)
	}
	return c
}

func (e *env) roundTrip(msg []byte) error {
	c, err := net.Dial("tcp", e.clientLn.Addr().String())
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(msg); err != nil {
		return err
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		return err
	}
	if !bytes.Equal(got, msg) {
		return errors.New("echo mismatch")
	}
	return nil
}

// lockedBuffer is a concurrency-safe bytes.Buffer for audit output.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) Sync() error { return nil }

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
