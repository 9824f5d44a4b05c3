package doctor

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"syscall"

	"github.com/sentinel-zt/sentinel/pkg/config"
	"github.com/sentinel-zt/sentinel/pkg/identity"
	"github.com/sentinel-zt/sentinel/pkg/tunnel"
)

// checkListen checks that a relay's relay.listen can be bound, or is held by a running relay
// (its GET /healthz answers).
func (r *runner) checkListen(cfg *config.Config, id *identity.Identity) {
	addr := cfg.Relay.Listen
	name := "relay.listen " + addr
	if !r.begin(name) {
		return
	}
	ln, err := net.Listen("tcp", addr)
	if err == nil {
		_ = ln.Close()
		r.pass(name, "free to bind (no relay runs on it now)")
		return
	}
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		r.checkRunningRelay(name, cfg, id)
	case errors.Is(err, syscall.EACCES):
		r.fail(name, err.Error(), "ports below 1024 need root or CAP_NET_BIND_SERVICE (setcap cap_net_bind_service=+ep on the binary), or use a port above 1023")
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		r.fail(name, err.Error(), "the host of relay.listen is not an address of this machine: use one of its addresses, or 0.0.0.0")
	default:
		r.fail(name, err.Error(), "correct relay.listen")
	}
}

// checkRunningRelay asks whatever holds the relay's listen address for GET /healthz, over TLS
// unless the relay is behind a proxy, and compares the certificate it serves with ours.
func (r *runner) checkRunningRelay(name string, cfg *config.Config, id *identity.Identity) {
	host, port, _ := net.SplitHostPort(cfg.Relay.Listen)
	if ip, err := netip.ParseAddr(host); host == "" || (err == nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
		if err == nil && ip.Is6() {
			host = "::1"
		}
	}
	scheme := "https"
	if cfg.Relay.BehindProxy {
		scheme = "http"
	}
	u := scheme + "://" + net.JoinHostPort(host, port) + tunnel.PathHealthz

	var (
		mu   sync.Mutex
		peer *x509.Certificate
	)
	tr := &http.Transport{
		Proxy:             nil, // a local probe
		DisableKeepAlives: true,
		TLSClientConfig: &tls.Config{
			// Only which certificate the listener serves matters here, not a host name
			// (the probe dials loopback); it is compared with ours below.
			InsecureSkipVerify: true, //nolint:gosec // identity compared after the request
			VerifyConnection: func(cs tls.ConnectionState) error {
				if len(cs.PeerCertificates) > 0 {
					mu.Lock()
					peer = cs.PeerCertificates[0]
					mu.Unlock()
				}
				return nil
			},
		},
	}
	defer tr.CloseIdleConnections()
	ctx, cancel := r.step()
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		r.fail(name, err.Error(), "correct relay.listen")
		return
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	inUse := "in use, and GET " + u
	held := fmt.Sprintf("find the program holding port %s (ss -ltnp 'sport = :%s') and stop it, or change relay.listen", port, port)
	if err != nil {
		r.fail(name, inUse+": "+r.describe(err), held)
		return
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1024))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		r.fail(name, fmt.Sprintf("%s: HTTP %s: not a Sentinel relay", inUse, resp.Status), held)
		return
	}
	mu.Lock()
	served := peer
	mu.Unlock()
	switch {
	case cfg.Relay.BehindProxy:
		r.pass(name, "in use by a running relay (GET /healthz: 200; plain HTTP behind a proxy)")
	case served != nil && served.Equal(id.Leaf):
		r.pass(name, "in use by a running relay serving this certificate (GET /healthz: 200)")
	default:
		what := "no certificate"
		if served != nil {
			what = fmt.Sprintf("certificate %q (serial %s)", served.Subject.CommonName, served.SerialNumber.Text(16))
		}
		r.warn(name, "in use by a running relay (GET /healthz: 200) that serves "+what+", not this config's certificate",
			"reload the running relay (SIGHUP) or restart it so it serves this certificate; or check that this is the config it runs with")
	}
}
