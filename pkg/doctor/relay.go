package doctor

import (
	"cmp"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/sentinel-zt/sentinel/pkg/certattrs"
	"github.com/sentinel-zt/sentinel/pkg/dial"
	"github.com/sentinel-zt/sentinel/pkg/identity"
	"github.com/sentinel-zt/sentinel/pkg/tlsconf"
	"github.com/sentinel-zt/sentinel/pkg/tunnel"
	"github.com/sentinel-zt/sentinel/pkg/wsconn"
)

// sortRelays returns refs in the order the roles try them: ascending sort, stable.
func sortRelays(refs []certattrs.RelayRef) []certattrs.RelayRef {
	out := slices.Clone(refs)
	slices.SortStableFunc(out, func(a, b certattrs.RelayRef) int { return cmp.Compare(a.Sort, b.Sort) })
	return out
}

// accepted is a relay's answer that let us in: the WebSocket and, for a client, the session id
// the relay assigned.
type accepted struct {
	conn    *wsconn.Conn
	session string
}

// relayEndpoint is where one relay is reached.
type relayEndpoint struct {
	label      string   // "relay relay1 (wss://relay.example.com:8443)"
	url        *url.URL // the relay's base URL
	host, port string   // the relay's
	proxy      *url.URL // the HTTP(S) proxy the WebSocket request goes through, if any
}

// checkRelay runs the per-relay checks for a client or a server certificate: DNS, TCP, TLS,
// WebSocket request and token, stopping at the first failure. It returns the accepted
// WebSocket (the caller closes it) or nil.
func (r *runner) checkRelay(id *identity.Identity, ref certattrs.RelayRef) *accepted {
	ep, ok := r.relayEndpoint(ref)
	if !ok {
		return nil
	}
	addrs, ok := r.checkResolve(ep)
	if !ok {
		return nil
	}
	conn, ok := r.checkTCP(ep, addrs)
	if !ok {
		return nil
	}
	if !r.checkTLS(ep, conn, id) {
		return nil
	}
	return r.checkWebSocket(ep, id, ref)
}

func (r *runner) relayEndpoint(ref certattrs.RelayRef) (relayEndpoint, bool) {
	label := "relay " + ref.Name
	raw, err := tunnel.RelayURL(ref.Addr, ref.Port, "", nil)
	if err != nil {
		r.fail(label+": address", err.Error(), "re-issue the certificate: its relay address is not usable")
		return relayEndpoint{}, false
	}
	u, err := url.Parse(raw)
	if err != nil {
		r.fail(label+": address", err.Error(), "re-issue the certificate: its relay address is not usable")
		return relayEndpoint{}, false
	}
	ep := relayEndpoint{url: u, host: u.Hostname(), port: u.Port()}
	if ep.port == "" {
		ep.port = defaultPort(u.Scheme)
	}
	ep.label = fmt.Sprintf("relay %s (%s://%s)", ref.Name, u.Scheme, net.JoinHostPort(ep.host, ep.port))
	ep.proxy, err = proxyFor(http.ProxyFromEnvironment, u)
	if err != nil {
		r.fail(ep.label+": proxy", err.Error(), "correct HTTPS_PROXY / HTTP_PROXY / NO_PROXY in the environment")
		return relayEndpoint{}, false
	}
	return ep, true
}

func defaultPort(scheme string) string {
	switch scheme {
	case "ws", "http":
		return "80"
	case "socks5", "socks5h":
		return "1080"
	}
	return "443"
}

// proxyFor returns the proxy a WebSocket request to u goes through, as wsconn.Dial finds it:
// gorilla asks its Proxy func with the URL's scheme mapped to http or https.
func proxyFor(proxy func(*http.Request) (*url.URL, error), u *url.URL) (*url.URL, error) {
	hu := *u
	switch u.Scheme {
	case "ws":
		hu.Scheme = "http"
	case "wss":
		hu.Scheme = "https"
	}
	p, err := proxy(&http.Request{URL: &hu, Header: http.Header{}})
	if err != nil {
		return nil, fmt.Errorf("proxy for %s: %w", hu.Redacted(), err)
	}
	return p, nil
}

// dialTarget is what the DNS and TCP checks reach: the relay, or the proxy in front of it.
func (ep relayEndpoint) dialTarget() (host, port, what string) {
	if ep.proxy == nil {
		return ep.host, ep.port, ""
	}
	port = ep.proxy.Port()
	if port == "" {
		port = defaultPort(ep.proxy.Scheme)
	}
	return ep.proxy.Hostname(), port, "proxy " + ep.proxy.Redacted()
}

// begin starts a check: false (and the check skipped) when the run's budget is spent.
func (r *runner) begin(name string) bool {
	if r.outOfTime() {
		r.skipNotReached(name)
		return false
	}
	return true
}

func (r *runner) checkResolve(ep relayEndpoint) ([]netip.Addr, bool) {
	name := ep.label + ": resolves"
	host, _, via := ep.dialTarget()
	if !r.begin(name) {
		return nil, false
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		detail := host + " is an IP address"
		if via != "" {
			detail = via + ": " + detail
		}
		r.pass(name, detail)
		return []netip.Addr{ip}, true
	}
	ctx, cancel := r.step()
	addrs, err := r.opts.Resolver.LookupNetIP(ctx, "ip", host)
	cancel()
	if err == nil && len(addrs) == 0 {
		err = errors.New("no addresses")
	}
	if err != nil {
		what := "the relay's address " + host + " (from the certificate)"
		if via != "" {
			what = "the " + via + " host " + host
		}
		r.fail(name, fmt.Sprintf("%s: %s", host, r.describe(err)),
			"check that "+what+" resolves here (DNS, /etc/hosts); if the name is wrong, re-issue the certificate with the right relay address")
		return nil, false
	}
	list := make([]string, len(addrs))
	for i, a := range addrs {
		list[i] = a.Unmap().String()
	}
	detail := host + " → " + strings.Join(list, ", ")
	if via != "" {
		detail = via + ": " + detail
	}
	r.pass(name, detail)
	return addrs, true
}

func (r *runner) checkTCP(ep relayEndpoint, addrs []netip.Addr) (net.Conn, bool) {
	name := ep.label + ": accepts TCP"
	host, port, via := ep.dialTarget()
	if !r.begin(name) {
		return nil, false
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		r.fail(name, fmt.Sprintf("port %q is not a number", port), "re-issue the certificate with a numeric relay port")
		return nil, false
	}
	ctx, cancel := r.step()
	defer cancel()
	var d net.Dialer
	var errs []error
	for _, a := range addrs {
		conn, err := d.DialContext(ctx, "tcp", netip.AddrPortFrom(a.Unmap(), uint16(p)).String())
		if err == nil {
			detail := "connected to " + conn.RemoteAddr().String()
			if via != "" {
				detail = via + ": " + detail
			}
			r.pass(name, detail)
			return conn, true
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	err = errors.Join(errs...)
	what := "the relay"
	if via != "" {
		what = "the " + via
	}
	fix := "check the address and port of " + what + " and the firewalls between here and it"
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		fix = fmt.Sprintf("nothing listens on %s: start %s, or check that the certificate's relay address and port match the relay's relay.listen (and any port forwarding)",
			net.JoinHostPort(host, port), what)
	case isTimeout(err):
		fix = "no answer from " + net.JoinHostPort(host, port) + ": check firewalls and routing between here and " + what
	}
	r.fail(name, r.describe(err), fix)
	return nil, false
}

// checkTLS completes the outer TLS handshake the roles make (tlsconf.DialerFor: our CA, then
// the system's roots; the relay's host name) on conn, and closes it.
func (r *runner) checkTLS(ep relayEndpoint, conn net.Conn, id *identity.Identity) bool {
	defer conn.Close()
	name := ep.label + ": completes TLS"
	switch {
	case ep.proxy != nil:
		r.skip(name, "through "+ep.dialTargetWhat()+": checked by the WebSocket request below")
		return true
	case ep.url.Scheme == "ws":
		r.skip(name, "ws:// relay: no TLS on this leg (a proxy or CDN in front of the relay terminates it)")
		return true
	}
	if !r.begin(name) {
		return false
	}
	tconn := tls.Client(conn, tlsconf.DialerFor(func() *x509.CertPool { return id.Roots }, ep.host))
	ctx, cancel := r.step()
	err := tconn.HandshakeContext(ctx)
	cancel()
	if err != nil {
		r.fail(name, r.describe(err), tlsFix(err, ep.host))
		return false
	}
	cs := tconn.ConnectionState()
	_ = tconn.Close()
	leaf := cs.PeerCertificates[0]
	issuer := fmt.Sprintf("a system-trusted CA (%q)", leaf.Issuer.CommonName)
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: id.Roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err == nil {
		issuer = "our CA"
	}
	r.pass(name, fmt.Sprintf("%s, certificate %q valid for %s, issued by %s", tls.VersionName(cs.Version), leaf.Subject.CommonName, ep.host, issuer))
	return true
}

func (ep relayEndpoint) dialTargetWhat() string {
	_, _, what := ep.dialTarget()
	return what
}

func tlsFix(err error, host string) string {
	var (
		hostErr   x509.HostnameError
		authErr   x509.UnknownAuthorityError
		invErr    x509.CertificateInvalidError
		recordErr tls.RecordHeaderError
	)
	switch {
	case errors.As(err, &hostErr):
		return "the relay's certificate is not valid for " + host + ": re-issue the relay with --addr " + host + ", or give the proxy/CDN in front of it a certificate for " + host
	case errors.As(err, &authErr):
		return "the relay's certificate chains neither to ca nor to a system CA: check that ca is this deployment's CA and that the relay serves its Sentinel certificate"
	case errors.As(err, &invErr) && invErr.Reason == x509.Expired:
		return "the relay's certificate has expired or is not yet valid: re-issue it and reload the relay (or check this machine's clock)"
	case errors.As(err, &recordErr):
		return "the port does not speak TLS: if the relay runs with behind_proxy = true (plain HTTP), the certificate's relay address must be ws://" + host + " or the TLS port of its proxy"
	case isTimeout(err):
		return "the relay accepted TCP but did not complete TLS in time: check that a Sentinel relay (or its proxy) speaks TLS on this port"
	}
	return "check that a Sentinel relay (or its TLS-terminating proxy) serves this address"
}

// checkWebSocket makes the authenticated WebSocket request the role makes and reports the
// upgrade and the relay's verdict on our token.
func (r *runner) checkWebSocket(ep relayEndpoint, id *identity.Identity, ref certattrs.RelayRef) *accepted {
	upName := ep.label + ": upgrades a WebSocket"
	tokName := ep.label + ": accepts our token"
	if !r.begin(upName) {
		return nil
	}
	role := id.Attrs.Role()
	req := dial.Request{
		Addr:     ref.Addr,
		Port:     ref.Port,
		Path:     tunnel.PathServer,
		Audience: ref.UUID,
		Identity: id,
		Roots:    func() *x509.CertPool { return id.Roots },
	}
	var serverName string
	if cl := id.Attrs.Client; cl != nil {
		req.Path = tunnel.PathClient
		req.Query = url.Values{tunnel.QueryServer: {cl.Server.UUID}}
		req.Server = cl.Server.UUID
		serverName = cl.Server.Name
	}
	via := ""
	if ep.proxy != nil {
		via = " through " + ep.dialTargetWhat()
	}
	ctx, cancel := r.step()
	conn, resp, err := dial.WebSocket(ctx, req, wsconn.Options{})
	cancel()
	if err == nil {
		r.pass(upName, fmt.Sprintf("HTTP %d on %s%s", resp.StatusCode, req.Path, via))
		if role == certattrs.RoleServer {
			r.pass(tokName, "registered; closed at once (for that moment the relay holds a second control channel of this server, which it supports)")
			return &accepted{conn: conn}
		}
		sid := resp.Header.Get(tunnel.HeaderSession)
		r.pass(tokName, "session "+sid)
		r.pass(ep.label+fmt.Sprintf(": server %q is registered", serverName), "it bound session "+sid)
		return &accepted{conn: conn, session: sid}
	}
	var refused *wsconn.RefusedError
	if !errors.As(err, &refused) {
		r.fail(upName, r.describe(err)+via,
			"the relay accepted TLS but the WebSocket request failed: check the relay's log, and that any proxy or CDN in front of it passes WebSocket upgrades")
		return nil
	}
	if refused.Deny == "" {
		r.fail(upName, fmt.Sprintf("HTTP %s without a %s header on %s%s: the answer is not from a Sentinel relay", refused.Status, tunnel.HeaderDeny, req.Path, via),
			"point the certificate's relay address at the relay; a proxy or CDN in front of it must pass WebSocket upgrades on /v1/ through to it")
		return nil
	}
	reason := denyReason(resp, refused.Deny)
	r.skip(upName, fmt.Sprintf("not reached: the relay answered HTTP %d before upgrading", refused.StatusCode))
	switch {
	case refused.Deny == tunnel.CodeServerOffline && role == certattrs.RoleClient:
		r.pass(tokName, "the relay verified it, then looked for the server")
		r.fail(ep.label+fmt.Sprintf(": server %q is registered", serverName), tunnel.CodeServerOffline+": "+reason,
			fmt.Sprintf("start the server %q / check the server's doctor (`backend doctor -c` with its config on the server's host)", serverName))
	case refused.StatusCode == http.StatusUnauthorized || refused.StatusCode == http.StatusForbidden:
		r.fail(tokName, fmt.Sprintf("relay refused our token: %s (HTTP %d: %s)", refused.Deny, refused.StatusCode, reason),
			relayDenyFix(refused.Deny, role, ref.Name))
	default:
		r.fail(tokName, fmt.Sprintf("relay refused the request: %s (HTTP %d: %s)", refused.Deny, refused.StatusCode, reason),
			relayDenyFix(refused.Deny, role, ref.Name))
	}
	return nil
}

// denyReason is the reason text of a relay's refusal: the body's first line ("code: reason")
// without the code, cut short.
func denyReason(resp *http.Response, code string) string {
	if resp == nil || resp.Body == nil {
		return "no reason given"
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	line, _, _ := strings.Cut(string(body), "\n")
	line = strings.TrimPrefix(strings.TrimSpace(line), code+": ")
	line = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, line)
	if len(line) > 200 {
		line = strings.ToValidUTF8(line[:200], "") + "..."
	}
	if line == "" || line == code {
		return "no reason given"
	}
	return line
}
