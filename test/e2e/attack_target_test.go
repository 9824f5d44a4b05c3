package e2e

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/sentinel-zt/sentinel/internal/testpki"
	"github.com/sentinel-zt/sentinel/pkg/certattrs"
	"github.com/sentinel-zt/sentinel/pkg/relay"
	"github.com/sentinel-zt/sentinel/pkg/server"
	"github.com/sentinel-zt/sentinel/pkg/tunnel"
)

// fakeResolver answers from a table; each host has a list of answers, one per lookup, the
// last repeating (so a name can "rebind" between lookups).
type fakeResolver struct {
	mu      sync.Mutex
	answers map[string][][]netip.Addr
	lookups map[string]int
}

func (r *fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	seq, ok := r.answers[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	n := r.lookups[host]
	r.lookups[host]++
	return seq[min(n, len(seq)-1)], nil
}

func (r *fakeResolver) count(host string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lookups[host]
}

func addrs(s ...string) []netip.Addr {
	out := make([]netip.Addr, len(s))
	for i, a := range s {
		out[i] = netip.MustParseAddr(a)
	}
	return out
}

// TestAttackTargets: the server dials only checked IP addresses inside its resources, never a
// name, whatever the client's certificate or DNS says.
func TestAttackTargets(t *testing.T) {
	res := &fakeResolver{lookups: map[string]int{}}
	var echoAddr string
	e := newEnv(t, envOptions{configure: func(e *env, _ *relay.Config, sc *server.Config) {
		echoAddr = e.target.Addr().String()
		sc.Resolver = res
		// The canary dialer: only the echo target may be dialed; anything else fails fast (no
		// 5 s timeout toward an unroutable address) and is recorded by e.dials.
		nd := &net.Dialer{}
		sc.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
			if addr != echoAddr {
				return nil, fmt.Errorf("canary: %s must never be dialed", addr)
			}
			return nd.DialContext(ctx, network, addr)
		}
	}})
	echoPort := e.target.Addr().(*net.TCPAddr).Port
	outside := "10.255.0.1" // not in the resources (127.0.0.1/32:echoPort)
	res.answers = map[string][][]netip.Addr{
		"inside.test":         {addrs("127.0.0.1")},
		"outside.test":        {addrs(outside)},
		"mixed.test":          {addrs(outside, "127.0.0.1")},
		"rebind.test":         {addrs("127.0.0.1"), addrs(outside)},
		"mapped-inside.test":  {addrs("::ffff:127.0.0.1")},
		"mapped-outside.test": {addrs("::ffff:" + outside)},
	}
	wrongPort := canary(t)
	wrongPortNum := wrongPort.Addr().(*net.TCPAddr).Port

	// try opens one stream to host:port with a certificate naming that target.
	try := func(t *testing.T, host string, port int) (error, []string) {
		t.Helper()
		leaf := e.issueClient(t, func(c *certattrs.Client) { c.Target = certattrs.Target{Host: host, Port: port} }, testpki.Opts{})
		s := e.mustSession(t, leaf)
		dials := e.dials.len()
		mark := e.auditMark()
		st, err := s.stream([]byte("target check"))
		if st != nil {
			_ = st.Close()
		}
		target := net.JoinHostPort(host, strconv.Itoa(port))
		want := map[string]string{"event": "stream.open", "role": "server", "target": target, "decision": "allow"}
		var d *tunnel.DenyError
		if errors.As(err, &d) {
			want["decision"], want["reason"] = "deny", d.Code
		}
		if err == nil || d != nil {
			e.waitAudit(t, mark, want)
		}
		return err, e.dials.since(dials)
	}
	allowed := func(host string, port int) func(t *testing.T) {
		return func(t *testing.T) {
			err, dialed := try(t, host, port)
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !slices.Equal(dialed, []string{echoAddr}) {
				t.Fatalf("dialed %v, want exactly the checked address [%s]", dialed, echoAddr)
			}
		}
	}
	refused := func(host string, port int, code string) func(t *testing.T) {
		return func(t *testing.T) {
			conns := e.targetConns.Load()
			err, dialed := try(t, host, port)
			if tunnel.DenyCode(err, "") != code {
				t.Fatalf("stream status %v, want error %s", err, code)
			}
			if len(dialed) > 0 {
				t.Errorf("the server dialed %v", dialed)
			}
			if e.targetConns.Load() != conns {
				t.Error("the target was reached")
			}
		}
	}

	runAttacks(t, map[string]func(t *testing.T){
		"ok":                     allowed("127.0.0.1", echoPort),
		"ok/dns-inside":          allowed("inside.test", echoPort),
		"ok/ipv4-mapped-allowed": allowed("::ffff:127.0.0.1", echoPort),
		"ok/dns-ipv4-mapped":     allowed("mapped-inside.test", echoPort),
		"ok/dns-mixed-dials-only-the-inside-address": func(t *testing.T) {
			// One answer inside, one outside: only the inside one is dialed, by IP.
			allowed("mixed.test", echoPort)(t)
		},
		"ok/dns-rebind-has-no-window": func(t *testing.T) {
			// The name answers inside, then outside: the server resolves once and dials the
			// address it checked, so a second answer never matters.
			allowed("rebind.test", echoPort)(t)
			if n := res.count("rebind.test"); n != 1 {
				t.Fatalf("rebind.test was resolved %d times for one stream, want 1", n)
			}
		},
		"fail/port-outside":               refused("127.0.0.1", wrongPortNum, tunnel.CodeNotAllowed),
		"fail/host-outside":               refused("127.0.0.2", echoPort, tunnel.CodeNotAllowed),
		"fail/host-and-port-outside":      refused(outside, 22, tunnel.CodeNotAllowed),
		"fail/ipv6-loopback":              refused("::1", echoPort, tunnel.CodeNotAllowed),
		"fail/ipv4-mapped-forbidden":      refused("::ffff:"+outside, echoPort, tunnel.CodeNotAllowed),
		"fail/ipv4-mapped-other-loopback": refused("::ffff:127.0.0.2", echoPort, tunnel.CodeNotAllowed),
		"fail/dns-outside":                refused("outside.test", echoPort, tunnel.CodeNotAllowed),
		"fail/dns-ipv4-mapped-outside":    refused("mapped-outside.test", echoPort, tunnel.CodeNotAllowed),
		"fail/dns-unknown":                refused("nowhere.test", echoPort, tunnel.CodeDialFailed),
	})
}
