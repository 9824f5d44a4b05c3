package doctor

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/hashicorp/yamux"

	"github.com/sentinel-zt/sentinel/pkg/config"
	"github.com/sentinel-zt/sentinel/pkg/identity"
	"github.com/sentinel-zt/sentinel/pkg/tlsconf"
	"github.com/sentinel-zt/sentinel/pkg/tunnel"
)

// checkClient checks every relay of a client certificate, then the end-to-end session through
// the first that opened one.
func (r *runner) checkClient(cfg *config.Config, id *identity.Identity) {
	cl := id.Attrs.Client
	e2eName := fmt.Sprintf("end-to-end TLS session to server %q", cl.Server.Name)
	relays := sortRelays(cl.Relays)
	if len(relays) == 0 {
		if cfg.Client.Direct && cl.Server.Addr != "" {
			r.skip("relays", "the certificate lists none; the direct route to the server is not checked by the doctor")
			return
		}
		r.fail("relays", "the certificate lists no relays, so the client has no way to its server",
			"re-issue the client with --relay")
		return
	}
	// The end-to-end checks run on the first accepted WebSocket as soon as the relay spliced
	// it (the server waits only so long for our handshake), and are reported after the relays.
	var e2e []Check
	for _, ref := range relays {
		acc := r.checkRelay(id, ref)
		if acc == nil {
			continue
		}
		if e2e != nil {
			_ = acc.conn.Close()
			continue
		}
		e2e = r.endToEnd(id, ref.Name, acc)
	}
	if e2e == nil {
		if r.outOfTime() {
			r.skipNotReached(e2eName)
		} else {
			r.skip(e2eName, "not checked: no relay opened a session to the server")
		}
	}
	for _, c := range e2e {
		r.add(c)
	}
	if cfg.Client.Direct {
		r.skip(fmt.Sprintf("direct route to server %q", cl.Server.Name), "client.direct is set; the direct route is not checked by the doctor")
	}
}

// checkServer checks every relay a server certificate registers with.
func (r *runner) checkServer(id *identity.Identity) {
	srv := id.Attrs.Server
	relays := sortRelays(srv.Relays)
	if len(relays) == 0 {
		if srv.Port != 0 {
			r.skip("relays", fmt.Sprintf("the certificate lists none; clients reach the server directly on port %d, which the doctor does not check", srv.Port))
			return
		}
		r.fail("relays", "the certificate lists no relays and no direct port, so no client can reach the server",
			"re-issue the server with --relay (or --port for direct mode)")
		return
	}
	for _, ref := range relays {
		if acc := r.checkRelay(id, ref); acc != nil {
			_ = acc.conn.Close()
		}
	}
}

// endToEnd takes the client's WebSocket the relay spliced to the server through the steps
// pkg/client's connect takes (tunnel.OpenClientSession with tlsconf.Client: pinned TLS 1.3,
// the multiplexer, and a ping the server answers only once it accepted our certificate),
// opens one stream and reads the server's status line for the target. It closes everything
// and returns the checks, for the caller to report in order.
func (r *runner) endToEnd(id *identity.Identity, relayName string, acc *accepted) []Check {
	cl := id.Attrs.Client
	target := net.JoinHostPort(cl.Target.Host, strconv.Itoa(cl.Target.Port))
	hsName := fmt.Sprintf("end-to-end TLS session to server %q via %s", cl.Server.Name, relayName)
	streamName := "stream to target " + target
	var out []Check
	add := func(name string, st Status, detail, fix string) {
		out = append(out, Check{Name: name, Status: st, Detail: oneLine(detail), Fix: oneLine(fix)})
	}
	checkLogs := "see the server's log and audit trail for session " + acc.session

	store := identity.NewStore(id)
	cfg := tlsconf.Client(store.GetClientCertificate, store.Roots, cl.Server.UUID, nil)
	// The pass names the TLS version the handshake settled on.
	var version uint16
	verify := cfg.VerifyConnection
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		version = cs.Version
		return verify(cs)
	}
	hsDetail := func() string {
		return fmt.Sprintf("session %s, %s, server certificate pinned to uuid %s", acc.session, tls.VersionName(version), cl.Server.UUID)
	}

	ctx, cancel := r.step()
	mux, err := tunnel.OpenClientSession(ctx, acc.conn, cfg) // closes acc.conn on error
	cancel()
	if err != nil {
		var (
			open *tunnel.OpenError
			deny *tunnel.DenyError
		)
		switch {
		case !errors.As(err, &open):
			add(hsName, StatusFail, err.Error(), checkLogs)
		case errors.As(open.Err, &deny):
			add(hsName, StatusFail, "we refused the server's certificate: "+deny.Error(), e2eDenyFix(deny.Code, cl.Server.Name))
		case isRemoteAlert(open.Err):
			add(hsName, StatusFail, "the server refused our certificate: "+open.Err.Error(), serverRefusedFix(acc.session))
		case errors.Is(err, tunnel.ErrRefused):
			// The handshake held and the server sent no refusal, but it did not answer either
			// (closed, or silent): a failure of the session behind it, reported on the stream
			// as before the ping existed.
			add(hsName, StatusPass, hsDetail(), "")
			add(streamName, StatusFail, "no status line from the server: "+r.describe(open.Err), checkLogs)
		default:
			add(hsName, StatusFail, r.describe(open.Err), checkLogs)
		}
		return out
	}
	defer mux.Close() // closes the WebSocket under it
	add(hsName, StatusPass, hsDetail(), "")

	status, err := r.streamStatus(mux)
	var deny *tunnel.DenyError
	switch {
	case err != nil:
		add(streamName, StatusFail, "no status line from the server: "+r.describe(err), checkLogs)
	case errors.As(status, &deny):
		add(streamName, StatusFail, fmt.Sprintf("server answered error %s %s", deny.Code, deny.Reason), statusFix(deny.Code, target))
	case status != nil:
		add(streamName, StatusFail, status.Error(), checkLogs)
	default:
		add(streamName, StatusPass, "server answered ok", "")
	}
	return out
}

// streamStatus opens one stream and reads the server's status line: status is the server's
// answer (nil for ok, a *tunnel.DenyError for a refusal); err is a failure to get one. The
// server dials the target before answering, so the read may take up to twice the step timeout.
func (r *runner) streamStatus(mux *yamux.Session) (status, err error) {
	stream, err := mux.OpenStream()
	if err != nil {
		return nil, fmt.Errorf("open stream: %w", err)
	}
	defer stream.Close()
	deadline := time.Now().Add(2 * r.opts.StepTimeout)
	if d, ok := r.ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = stream.SetReadDeadline(deadline)
	status = tunnel.ReadStatus(stream)
	var deny *tunnel.DenyError
	if status != nil && !errors.As(status, &deny) {
		return nil, status
	}
	return status, nil
}

func serverRefusedFix(session string) string {
	return "the server did not accept this client certificate (revoked, outside its schedule, issued for another server, or expired): see the server's audit log (auth.deny) for session " + session
}

// isRemoteAlert reports whether err is a TLS alert the peer sent (crypto/tls reports those as
// a *net.OpError with Op "remote error").
func isRemoteAlert(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "remote error"
}
