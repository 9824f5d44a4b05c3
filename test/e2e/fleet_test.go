package e2e

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"slices"
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

// fleet is a deployment with several relays that tests stop, drain and restart, a server
// that may also listen directly, a client and an echo target.
type fleet struct {
	t      *testing.T
	ca     *testpki.CA
	log    *zap.Logger
	auditZ *zap.Logger
	audit  *lockedBuffer
	target net.Listener

	relays []*relayNode
	// frozenClosed records when a peer closed a connection to a frozen relay.
	frozenMu     sync.Mutex
	frozenClosed []time.Time

	serverAttrs *certattrs.Server
	serverStore *identity.Store
	serverLn    net.Listener // direct listener, nil without direct mode
	server      *node[*server.Server]

	clientAttrs *certattrs.Client
	client      *client.Client
	clientLn    net.Listener
	clientDone  chan struct{}
	clientStop  context.CancelFunc

	opts fleetOptions
	wg   sync.WaitGroup
}

type fleetOptions struct {
	relays          int
	direct          bool
	failback        time.Duration
	shutdownTimeout time.Duration
	// frozen relays accept TCP and never answer, like a stopped process behind a live socket.
	frozen           map[int]bool
	handshakeTimeout time.Duration // the client's
}

// node is one running role with the means to stop it.
type node[T interface{ Close() error }] struct {
	role   T
	cancel context.CancelFunc
	done   chan struct{}
}

// stop cancels Serve's context (a graceful stop) and waits for Serve to return.
func (n *node[T]) stop() {
	n.cancel()
	<-n.done
}

type relayNode struct {
	port  int
	attrs *certattrs.Relay
	store *identity.Store
	*node[*relay.Relay]
}

func newFleet(t *testing.T, opts fleetOptions) *fleet {
	t.Helper()
	if opts.relays == 0 {
		opts.relays = 2
	}
	if opts.shutdownTimeout == 0 {
		opts.shutdownTimeout = 5 * time.Second
	}
	f := &fleet{t: t, ca: testpki.NewCA(t, "fleet root"), audit: &lockedBuffer{}, opts: opts}
	f.log = zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
	f.auditZ = zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), f.audit, zap.DebugLevel))
	f.target = testnet.Listen(t)
	f.wg.Add(1)
	go func() { defer f.wg.Done(); testnet.ServeEcho(f.target, new(atomic.Int64)) }()

	var refs []certattrs.RelayRef
	for i := range opts.relays {
		ln := testnet.Listen(t)
		port := ln.Addr().(*net.TCPAddr).Port
		_ = ln.Close() // startRelay listens again on this port, as a restarted relay would
		name := "relay" + strconv.Itoa(i+1)
		attrs := &certattrs.Relay{UUID: uuid.NewString(), Name: name, Address: "127.0.0.1", Port: port}
		leaf := f.ca.Issue(t, certattrs.Attrs{Relay: attrs}, testpki.Opts{IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}})
		f.relays = append(f.relays, &relayNode{port: port, attrs: attrs, store: storeFor(t, f.ca, leaf)})
		refs = append(refs, certattrs.RelayRef{UUID: attrs.UUID, Name: name, Addr: "127.0.0.1", Port: port, Sort: i + 1})
	}

	targetPort := f.target.Addr().(*net.TCPAddr).Port
	res, err := certattrs.ParseResource("127.0.0.1/32:" + strconv.Itoa(targetPort))
	if err != nil {
		t.Fatal(err)
	}
	res.UUID, res.Name = uuid.NewString(), "echo"
	f.serverAttrs = &certattrs.Server{UUID: uuid.NewString(), Name: "server1", Resources: []certattrs.Resource{res}, Relays: refs}
	serverRef := certattrs.ServerRef{UUID: f.serverAttrs.UUID, Name: "server1"}
	if opts.direct {
		f.serverLn = testnet.Listen(t)
		port := f.serverLn.Addr().(*net.TCPAddr).Port
		f.serverAttrs.Host, f.serverAttrs.Port, f.serverAttrs.OutPort = "127.0.0.1", port, port
		serverRef.Addr, serverRef.OutPort = "127.0.0.1", port
	}
	serverLeaf := f.ca.Issue(t, certattrs.Attrs{Server: f.serverAttrs}, testpki.Opts{IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}})
	f.serverStore = storeFor(t, f.ca, serverLeaf)

	f.clientAttrs = &certattrs.Client{
		UUID: uuid.NewString(), Name: "alice", Port: 48080, Relays: refs, Server: serverRef,
		Target: certattrs.Target{Host: "127.0.0.1", Port: targetPort},
	}
	clientLeaf := f.ca.Issue(t, certattrs.Attrs{Client: f.clientAttrs}, testpki.Opts{})

	for i := range f.relays {
		if opts.frozen[i] {
			f.freezeRelay(i)
			continue
		}
		f.startRelay(i)
	}
	f.startServer()
	// The client prefers relay1; start it once the server is registered everywhere, so the
	// first session's route is deterministic.
	deadline := time.Now().Add(10 * time.Second)
	for i := range f.relays {
		for !opts.frozen[i] && !f.registered(i) {
			if time.Now().After(deadline) {
				t.Fatalf("server did not register with relay%d", i+1)
			}
			time.Sleep(10 * time.Millisecond) // polling interval
		}
	}
	f.client, err = client.New(client.Config{
		Identity: storeFor(t, f.ca, clientLeaf), Log: f.log, Direct: opts.direct,
		Audit: audit.New(f.auditZ, "client", f.clientAttrs.UUID, "alice"), Registry: prometheus.NewRegistry(),
		FailbackInterval: opts.failback, ShutdownTimeout: opts.shutdownTimeout, HandshakeTimeout: opts.handshakeTimeout,
	})
	if err != nil {
		t.Fatal(err)
	}
	f.clientLn = testnet.Listen(t)
	ctx, cancel := context.WithCancel(context.Background())
	f.clientStop, f.clientDone = cancel, make(chan struct{})
	go func() {
		defer close(f.clientDone)
		if err := f.client.Serve(ctx, f.clientLn); err != nil {
			t.Errorf("client: %v", err)
		}
	}()
	t.Cleanup(func() {
		f.clientStop()
		<-f.clientDone
		if f.server != nil {
			_ = f.server.role.Close()
			<-f.server.done
		}
		for _, r := range f.relays {
			if r.node != nil {
				_ = r.role.Close()
				<-r.done
			}
		}
		_ = f.target.Close()
		f.wg.Wait()
	})
	first := "direct"
	if !opts.direct {
		for i, r := range f.relays {
			if !opts.frozen[i] {
				first = r.attrs.Name
				break
			}
		}
	}
	f.waitVia(15*time.Second, first)
	return f
}

func storeFor(t *testing.T, ca *testpki.CA, l *testpki.Leaf) *identity.Store {
	t.Helper()
	id, err := identity.Parse(l.CertPEM, l.KeyPEM, ca.PEM)
	if err != nil {
		t.Fatalf("identity: %v", err)
	}
	return identity.NewStore(id)
}

// startRelay starts relay i on its port, polling until the port is free again after a stop.
func (f *fleet) startRelay(i int) {
	f.t.Helper()
	r := f.relays[i]
	var ln net.Listener
	deadline := time.Now().Add(5 * time.Second)
	for {
		var err error
		if ln, err = net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(r.port)); err == nil {
			break
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("relay%d: listen again on %d: %v", i+1, r.port, err)
		}
		time.Sleep(20 * time.Millisecond) // polling interval while the port is released
	}
	rl, err := relay.New(relay.Config{
		Identity: r.store, Log: f.log, ShutdownTimeout: f.opts.shutdownTimeout,
		Audit: audit.New(f.auditZ, "relay", r.attrs.UUID, r.attrs.Name),
	})
	if err != nil {
		f.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.node = &node[*relay.Relay]{role: rl, cancel: cancel, done: make(chan struct{})}
	go func(n *node[*relay.Relay]) {
		defer close(n.done)
		if err := rl.Serve(ctx, ln); err != nil {
			f.t.Errorf("relay%d: %v", i+1, err)
		}
	}(r.node)
}

// freezeRelay listens on relay i's port and holds every connection without a word.
func (f *fleet) freezeRelay(i int) {
	f.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(f.relays[i].port))
	if err != nil {
		f.t.Fatal(err)
	}
	done := make(chan struct{})
	f.t.Cleanup(func() { _ = ln.Close(); <-done })
	go func() {
		defer close(done)
		var held []net.Conn
		defer func() {
			for _, c := range held {
				_ = c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
			go func() {
				_, _ = io.Copy(io.Discard, c) // returns when the peer gives up (or at cleanup)
				f.frozenMu.Lock()
				f.frozenClosed = append(f.frozenClosed, time.Now())
				f.frozenMu.Unlock()
			}()
		}
	}()
}

// firstFrozenClose is when a peer first gave up on a frozen relay (zero if none has).
func (f *fleet) firstFrozenClose() time.Time {
	f.frozenMu.Lock()
	defer f.frozenMu.Unlock()
	if len(f.frozenClosed) == 0 {
		return time.Time{}
	}
	return slices.MinFunc(f.frozenClosed, func(a, b time.Time) int { return a.Compare(b) })
}

// killRelay closes relay i at once, as a crash would: sessions end without a drain.
func (f *fleet) killRelay(i int) {
	r := f.relays[i]
	_ = r.role.Close()
	<-r.done
	r.node = nil
}

func (f *fleet) startServer() {
	f.t.Helper()
	s, err := server.New(server.Config{
		Identity: f.serverStore, Log: f.log, ShutdownTimeout: f.opts.shutdownTimeout,
		Audit: audit.New(f.auditZ, "server", f.serverAttrs.UUID, "server1"),
	})
	if err != nil {
		f.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	f.server = &node[*server.Server]{role: s, cancel: cancel, done: make(chan struct{})}
	ln := f.serverLn
	if ln != nil {
		// A restarted server listens again on the same direct port.
		port := ln.Addr().(*net.TCPAddr).Port
		if l2, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port)); err == nil {
			ln = l2
		}
		f.serverLn = ln
	}
	go func(n *node[*server.Server]) {
		defer close(n.done)
		if err := s.Serve(ctx, ln); err != nil {
			f.t.Errorf("server: %v", err)
		}
	}(f.server)
}

// via reports the route of the client's current session ("" without one).
func (f *fleet) via() string {
	if s := f.client.Status().Session; s != nil {
		return s.Via
	}
	return ""
}

// waitVia polls until a connection round-trips and the session runs via the given route.
func (f *fleet) waitVia(d time.Duration, via string) time.Duration {
	f.t.Helper()
	start := time.Now()
	var last error
	for time.Since(start) < d {
		if last = roundTripTo(f.clientLn.Addr().String(), []byte("ping")); last == nil && f.via() == via {
			return time.Since(start)
		}
		time.Sleep(20 * time.Millisecond) // polling interval
	}
	f.t.Fatalf("no working session via %s within %v (current %q, last error %v)", via, d, f.via(), last)
	return 0
}

// registered reports whether relay i has the server registered.
func (f *fleet) registered(i int) bool {
	r := f.relays[i]
	if r.node == nil {
		return false
	}
	for _, s := range r.role.Status().Servers {
		if s.UUID == f.serverAttrs.UUID {
			return true
		}
	}
	return false
}

// roundTripTo sends msg through the client listening at addr and expects it echoed.
func roundTripTo(addr string, msg []byte) error {
	c, err := net.Dial("tcp", addr)
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
