// Package dial opens authenticated Sentinel WebSockets: a fresh Bearer token signed by the
// caller's key for each request, the outer TLS, and the wsconn adapter.
package dial

import (
	"context"
	"crypto/x509"
	"fmt"
	"net/http"
	"net/url"

	"github.com/sentinel-zt/sentinel/pkg/identity"
	"github.com/sentinel-zt/sentinel/pkg/tlsconf"
	"github.com/sentinel-zt/sentinel/pkg/token"
	"github.com/sentinel-zt/sentinel/pkg/tunnel"
	"github.com/sentinel-zt/sentinel/pkg/wsconn"
)

// Request describes one authenticated WebSocket request.
type Request struct {
	Addr     string     // relay (or server) address: host, IP or ws(s):// URL
	Port     int        // overrides the address's port when non-zero
	Path     string     // tunnel.Path*
	Query    url.Values // query parameters
	Audience string     // uuid of the component addressed (token aud)
	Server   string     // token srv, for clients
	Session  string     // token sid, for binds
	Identity *identity.Identity
	// Roots verify the outer TLS of wss:// (with the system pool, for a CDN's certificate);
	// the name checked is the URL's host, IP addresses included.
	Roots func() *x509.CertPool
}

// WebSocket dials req and returns the connection wrapped as a net.Conn, plus the upgrade
// response (whose headers carry the session id). On refusal the response, when there was
// one, is returned with the error.
func WebSocket(ctx context.Context, req Request, opts wsconn.Options) (*wsconn.Conn, *http.Response, error) {
	u, err := tunnel.RelayURL(req.Addr, req.Port, req.Path, req.Query)
	if err != nil {
		return nil, nil, err
	}
	tok, err := token.Sign(req.Identity.Signer(), req.Identity.Chain, token.Claims{
		Audience: req.Audience,
		Server:   req.Server,
		Session:  req.Session,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("sign token: %w", err)
	}
	header := http.Header{"Authorization": {"Bearer " + tok}}
	parsed, err := url.Parse(u)
	if err != nil {
		return nil, nil, fmt.Errorf("relay url %q: %w", u, err)
	}
	ws, resp, err := wsconn.Dial(ctx, u, header, tlsconf.DialerFor(req.Roots, parsed.Hostname()))
	if err != nil {
		return nil, resp, err
	}
	return wsconn.New(ws, opts), resp, nil
}
