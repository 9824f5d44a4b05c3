// Package bench holds in-process benchmarks of the whole data path, for CPU and heap profiles:
// a relay, a server and a client of pkg/relay, pkg/server and pkg/client, each on its own
// 127.0.0.1 listener in this process (as test/e2e sets them up), carrying the load tool's
// traffic to bench/load's target.
//
//	go test -run '^$' -bench BenchmarkTunnelThroughput/tls -benchtime 8s -cpuprofile cpu.out ./bench/
package bench

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/sentinel-zt/sentinel/bench/load"
	"github.com/sentinel-zt/sentinel/internal/testpki"
	"github.com/sentinel-zt/sentinel/pkg/certattrs"
	"github.com/sentinel-zt/sentinel/pkg/client"
	"github.com/sentinel-zt/sentinel/pkg/identity"
	"github.com/sentinel-zt/sentinel/pkg/relay"
	"github.com/sentinel-zt/sentinel/pkg/server"
)

// stack is one in-process deployment.
type stack struct {
	target   net.Listener
	clientLn net.Listener
}

// newStack starts target, relay (TLS, or plain behind a proxy when ws), server and client,
// and waits until a round trip crosses the tunnel.
func newStack(tb testing.TB, ws bool) *stack {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ca := testpki.NewCA(tb, "bench root")
	listen := func() net.Listener {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatal(err)
		}
		return ln
	}
	s := &stack{target: listen(), clientLn: listen()}
	var wg sync.WaitGroup
	var tgt load.Target
	wg.Go(func() { _ = tgt.Serve(s.target) })

	relayLn := listen()
	relayPort := relayLn.Addr().(*net.TCPAddr).Port
	addr := "127.0.0.1"
	if ws {
		addr = "ws://127.0.0.1"
	}
	relayAttrs := &certattrs.Relay{UUID: uuid.NewString(), Name: "relay1", Address: addr, Port: relayPort}
	relayLeaf := ca.Issue(tb, certattrs.Attrs{Relay: relayAttrs}, testpki.Opts{IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}})
	ref := certattrs.RelayRef{UUID: relayAttrs.UUID, Name: "relay1", Addr: addr, Port: relayPort, Sort: 1}
	targetPort := s.target.Addr().(*net.TCPAddr).Port
	res, err := certattrs.ParseResource("127.0.0.1/32:" + strconv.Itoa(targetPort))
	if err != nil {
		tb.Fatal(err)
	}
	res.UUID, res.Name = uuid.NewString(), "target"
	serverAttrs := &certattrs.Server{UUID: uuid.NewString(), Name: "server1", Resources: []certattrs.Resource{res}, Relays: []certattrs.RelayRef{ref}}
	serverLeaf := ca.Issue(tb, certattrs.Attrs{Server: serverAttrs}, testpki.Opts{})
	clientAttrs := &certattrs.Client{
		UUID: uuid.NewString(), Name: "bench", Port: 48080,
		Relays: []certattrs.RelayRef{ref},
		Server: certattrs.ServerRef{UUID: serverAttrs.UUID, Name: "server1"},
		Target: certattrs.Target{Host: "127.0.0.1", Port: targetPort},
	}
	clientLeaf := ca.Issue(tb, certattrs.Attrs{Client: clientAttrs}, testpki.Opts{})
	store := func(l *testpki.Leaf) *identity.Store {
		id, err := identity.Parse(l.CertPEM, l.KeyPEM, ca.PEM)
		if err != nil {
			tb.Fatal(err)
		}
		return identity.NewStore(id)
	}
	log := zap.NewNop()
	r, err := relay.New(relay.Config{Identity: store(relayLeaf), Log: log, BehindProxy: ws, Registry: prometheus.NewRegistry()})
	if err != nil {
		tb.Fatal(err)
	}
	srv, err := server.New(server.Config{Identity: store(serverLeaf), Log: log, Registry: prometheus.NewRegistry()})
	if err != nil {
		tb.Fatal(err)
	}
	cl, err := client.New(client.Config{Identity: store(clientLeaf), Log: log, Registry: prometheus.NewRegistry()})
	if err != nil {
		tb.Fatal(err)
	}
	wg.Go(func() { _ = r.Serve(ctx, relayLn) })
	wg.Go(func() { _ = srv.Serve(ctx, nil) })
	wg.Go(func() { _ = cl.Serve(ctx, s.clientLn) })
	tb.Cleanup(func() {
		cancel()
		_ = cl.Close()
		_ = srv.Close()
		_ = r.Close()
		_ = s.target.Close()
		wg.Wait()
	})
	s.waitReady(tb)
	return s
}

func (s *stack) dial() load.DialFunc { return load.TCP(s.clientLn.Addr().String()) }

func (s *stack) waitReady(tb testing.TB) {
	tb.Helper()
	req := make([]byte, load.RequestSize)
	req[0] = load.ModeRequest
	resp := make([]byte, load.RequestSize)
	var last error
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, last = load.RoundTrip(ctx, s.dial(), req, resp)
		cancel()
		if last == nil {
			return
		}
	}
	tb.Fatalf("tunnel never became ready: %v", last)
}

// cpuTime is the CPU time (user and system) this process has used: relay, server, client,
// target and load together, so per op it is the whole path's cost, less sensitive to other
// work on a shared machine than the wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports the CPU time per op since start, and per GB when bytes per op is known.
func reportCPU(b *testing.B, start time.Duration, bytesPerOp int64) {
	cpu := cpuTime() - start
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	if bytesPerOp > 0 {
		b.ReportMetric(cpu.Seconds()/(float64(b.N)*float64(bytesPerOp)/1e9), "cpu-s/GB")
	}
}

var variants = []struct {
	name string
	ws   bool
}{{"tls", false}, {"ws", true}}

// BenchmarkTunnelThroughput streams the load pattern through one connection: client →
// relay → server → target, which verifies every byte. One op is 1 MiB.
func BenchmarkTunnelThroughput(b *testing.B) {
	for _, v := range variants {
		b.Run(v.name, func(b *testing.B) {
			s := newStack(b, v.ws)
			c, err := s.dial()(context.Background())
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			const op = 1 << 20
			seed := uint64(time.Now().UnixNano())
			p := load.NewPattern(seed)
			var h [16]byte
			h[0] = load.ModeUpload
			binary.LittleEndian.PutUint64(h[8:], seed)
			if _, err := c.Write(h[:]); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(op)
			var sent int64
			cpu0 := cpuTime()
			for b.Loop() {
				for range op / (128 << 10) {
					n, err := c.Write(p.At(sent, 128<<10))
					sent += int64(n)
					if err != nil {
						b.Fatal(err)
					}
				}
			}
			reportCPU(b, cpu0, op)
			if err := c.(*net.TCPConn).CloseWrite(); err != nil {
				b.Fatal(err)
			}
			var res [9]byte
			if _, err := io.ReadFull(c, res[:]); err != nil {
				b.Fatal(err)
			}
			if got := int64(binary.LittleEndian.Uint64(res[:])); got != sent || res[8] != 0 {
				b.Fatalf("target verified %d bytes (status %d), %d sent", got, res[8], sent)
			}
		})
	}
}

// BenchmarkTunnelNewConn is a new local connection over the warm session, one 32-byte
// request and its answer, then close.
func BenchmarkTunnelNewConn(b *testing.B) {
	for _, v := range variants {
		b.Run(v.name, func(b *testing.B) {
			s := newStack(b, v.ws)
			req := make([]byte, load.RequestSize)
			req[0] = load.ModeRequest
			resp := make([]byte, load.RequestSize)
			ctx := context.Background()
			cpu0 := cpuTime()
			for b.Loop() {
				if _, err := load.RoundTrip(ctx, s.dial(), req, resp); err != nil {
					b.Fatal(err)
				}
			}
			reportCPU(b, cpu0, 0)
		})
	}
}

// BenchmarkTunnelPingPong is a 32-byte request and its answer on one standing connection: the
// shape of a database query. "direct" is the same against the target without the tunnel.
func BenchmarkTunnelPingPong(b *testing.B) {
	run := func(b *testing.B, dial load.DialFunc) {
		c, err := dial(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		req := make([]byte, load.RequestSize)
		req[0] = load.ModeRequest
		resp := make([]byte, load.RequestSize)
		cpu0 := cpuTime()
		for b.Loop() {
			if _, err := c.Write(req); err != nil {
				b.Fatal(err)
			}
			if _, err := io.ReadFull(c, resp); err != nil {
				b.Fatal(err)
			}
		}
		reportCPU(b, cpu0, 0)
	}
	b.Run("direct", func(b *testing.B) {
		s := newStack(b, false)
		run(b, load.TCP(s.target.Addr().String()))
	})
	for _, v := range variants {
		b.Run(v.name, func(b *testing.B) { run(b, newStack(b, v.ws).dial()) })
	}
}
