package relay

import (
	"context"
	"crypto/x509"
	"math/big"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/zap"

	"github.com/sentinel-zt/sentinel/pkg/audit"
	"github.com/sentinel-zt/sentinel/pkg/certattrs"
	"github.com/sentinel-zt/sentinel/pkg/tunnel"
	"github.com/sentinel-zt/sentinel/pkg/wsconn"
)

// pendingOpen is a client waiting for its server's bind.
type pendingOpen struct {
	serverUUID string

	mu     sync.Mutex
	gone   bool            // the client stopped waiting
	bind   *websocket.Conn // set by deliver
	server *x509.Certificate
	ready  chan struct{} // closed by deliver
}

// deliver hands the bind connection to the waiting client; false when it is gone.
func (p *pendingOpen) deliver(ws *websocket.Conn, leaf *x509.Certificate) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.gone {
		return false
	}
	p.bind, p.server = ws, leaf
	close(p.ready)
	return true
}

// abandon marks the client gone and returns a bind that raced in, if any.
func (p *pendingOpen) abandon() (*websocket.Conn, *x509.Certificate) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.gone = true
	ws, leaf := p.bind, p.server
	p.bind = nil
	return ws, leaf
}

// session is one spliced client↔server session.
type session struct {
	id           string
	clientSerial *big.Int // what revocation needs; the parsed certificates are not kept
	serverSerial *big.Int
	clientName   string
	serverName   string
	serverUUID   string
	clientRemote string
	started      time.Time
	cancel       context.CancelFunc
}

func (r *Relay) handleClient(w http.ResponseWriter, req *http.Request) {
	if r.draining.Load() || !r.life.Enter() {
		r.deny(w, req, tunnel.PathClient, tunnel.Deny(http.StatusServiceUnavailable, tunnel.CodeDraining, "relay is shutting down"))
		return
	}
	// Once the splice runs, it owns the session on a goroutine of its own and this handler
	// returns: net/http's per-connection state and the stack the handshakes grew are freed,
	// which is most of what an idle session would otherwise hold.
	handedOff := false
	defer func() {
		if !handedOff {
			r.life.Leave()
		}
	}()
	start := time.Now()

	v, err := r.verify(req, certattrs.RoleClient)
	if err != nil {
		r.deny(w, req, tunnel.PathClient, err, peerFields(v)...)
		return
	}
	cl := v.Attrs.Client
	asked := req.URL.Query().Get(tunnel.QueryServer)
	switch {
	case asked != v.Claims.Server:
		err = tunnel.Deny(http.StatusForbidden, tunnel.CodeNotAllowed, "token names server %q, request asks for %q", v.Claims.Server, asked)
	case asked != cl.Server.UUID:
		err = tunnel.Deny(http.StatusForbidden, tunnel.CodeNotAllowed, "client certificate is for server %s, not %s", cl.Server.UUID, asked)
	case !listsRelay(cl.Relays, r.self.UUID):
		err = tunnel.Deny(http.StatusForbidden, tunnel.CodeNotAllowed, "client certificate does not list this relay")
	}
	if err != nil {
		r.deny(w, req, tunnel.PathClient, err, peerFields(v)...)
		return
	}
	serial := v.Leaf.SerialNumber.Text(16)
	if err := r.acquireCert(serial); err != nil {
		r.deny(w, req, tunnel.PathClient, err, peerFields(v)...)
		return
	}
	defer func() {
		if !handedOff {
			r.releaseCert(serial)
		}
	}()

	id := tunnel.NewSessionID()
	bind, serverLeaf, err := r.open(req.Context(), asked, id, cl.UUID)
	if err != nil {
		r.deny(w, req, tunnel.PathClient, err, append(peerFields(v), zap.String(audit.FieldSession, id))...)
		return
	}
	ws, err := r.upgrader.Upgrade(w, req, http.Header{tunnel.HeaderSession: {id}})
	if err != nil {
		_ = bind.Close()
		r.log.Debug("client upgrade failed", zap.String("session", id), zap.Error(err))
		return
	}
	r.metrics.setupSeconds.Observe(time.Since(start).Seconds())

	ctx, cancel := context.WithCancel(r.life.Context())
	s := &session{
		id: id, clientSerial: v.Leaf.SerialNumber, serverSerial: serverLeaf.SerialNumber, clientName: cl.Name,
		serverName: cl.Server.Name, serverUUID: asked, clientRemote: r.remoteAddr(req),
		started: r.cfg.Now(), cancel: cancel,
	}
	r.addSession(s)
	fields := append(peerFields(v),
		zap.String(audit.FieldSession, id),
		zap.String(audit.FieldRemoteAddr, s.clientRemote),
		zap.String("server_uuid", asked),
		zap.String("server_name", cl.Server.Name),
	)
	r.audit.Log(audit.SessionOpen, append(fields, zap.String(audit.FieldDecision, "allow"))...)

	handedOff = true
	go func() { // tracked: the handler's Enter is left by this goroutine
		defer r.life.Leave()
		defer r.releaseCert(serial)
		defer r.removeSession(s)
		defer cancel()
		r.splice(ctx, s, ws, bind, fields)
	}()
}

// splice carries a session until either side ends it, then records it.
func (r *Relay) splice(ctx context.Context, s *session, ws, bind *websocket.Conn, fields []zap.Field) {
	up, down, err := wsconn.SpliceCounted(ctx, ws, bind, r.cfg.WS,
		r.metrics.bytes.WithLabelValues("client_to_server"), r.metrics.bytes.WithLabelValues("server_to_client"))
	closeFields := append(fields,
		zap.Int64(audit.FieldBytesIn, up), zap.Int64(audit.FieldBytesOut, down),
		audit.Duration(r.cfg.Now().Sub(s.started)))
	if err != nil {
		closeFields = append(closeFields, zap.String(audit.FieldDetail, err.Error()))
	}
	r.audit.Log(audit.SessionClose, closeFields...)
}

// open asks the server's control channels, one after another, to bind session id and waits
// for the bind within BindTimeout in all. A channel that closes while asked (its server
// stopped or restarted) is given up at once, and channels registered meanwhile (the server
// back) are asked too before the deadline, so a client that comes in while its server
// restarts is not held for BindTimeout on a channel that is gone.
func (r *Relay) open(ctx context.Context, serverUUID, id, clientUUID string) (*websocket.Conn, *x509.Certificate, error) {
	channels := r.controlsFor(serverUUID)
	if len(channels) == 0 {
		return nil, nil, tunnel.Deny(http.StatusServiceUnavailable, tunnel.CodeServerOffline, "server %s is not registered here", serverUUID)
	}
	p := &pendingOpen{serverUUID: serverUUID, ready: make(chan struct{})}
	if err := r.addPending(id, p); err != nil {
		return nil, nil, err
	}
	defer r.removePending(id, p)

	deadline := time.Now().Add(r.cfg.BindTimeout)
	msg := tunnel.Control{Type: tunnel.MsgOpen, Session: id, Client: clientUUID}
	tried := make(map[*control]bool, len(channels))
	for len(channels) > 0 && time.Until(deadline) > 0 {
		for i, ctl := range channels {
			tried[ctl] = true
			ctl.opens.Add(1)
			if err := ctl.send(msg); err != nil {
				r.log.Debug("open not sent", zap.String("server", ctl.serverName), zap.Error(err))
				continue
			}
			wait := time.Until(deadline) / time.Duration(len(channels)-i)
			timer := time.NewTimer(wait)
			select {
			case <-p.ready:
				timer.Stop()
				return p.bind, p.server, nil
			case <-timer.C:
				ctl.opens.Add(16) // a channel that failed to bind goes to the back of the line
				r.log.Warn("server did not bind in time, trying another channel", zap.String("server", ctl.serverName), zap.String("session", id))
			case <-ctl.gone:
				timer.Stop()
				r.log.Debug("server channel closed before binding, trying another", zap.String("server", ctl.serverName), zap.String("session", id))
			case <-ctx.Done():
				timer.Stop()
				if ws, _ := p.abandon(); ws != nil {
					_ = ws.Close()
				}
				return nil, nil, tunnel.Deny(499, tunnel.CodeBadRequest, "client went away")
			case <-r.life.Context().Done():
				timer.Stop()
				if ws, _ := p.abandon(); ws != nil {
					_ = ws.Close()
				}
				return nil, nil, tunnel.Deny(http.StatusServiceUnavailable, tunnel.CodeDraining, "relay is shutting down")
			}
		}
		channels = slices.DeleteFunc(r.controlsFor(serverUUID), func(c *control) bool { return tried[c] })
	}
	if ws, leaf := p.abandon(); ws != nil {
		return ws, leaf, nil
	}
	if time.Until(deadline) > 0 {
		return nil, nil, tunnel.Deny(http.StatusServiceUnavailable, tunnel.CodeServerOffline, "server %s went offline before binding", serverUUID)
	}
	return nil, nil, tunnel.Deny(http.StatusServiceUnavailable, tunnel.CodeServerOffline, "server did not bind within %s", r.cfg.BindTimeout)
}

func (r *Relay) handleBind(w http.ResponseWriter, req *http.Request) {
	if !r.life.Enter() {
		r.deny(w, req, tunnel.PathBind, tunnel.Deny(http.StatusServiceUnavailable, tunnel.CodeDraining, "relay is shutting down"))
		return
	}
	defer r.life.Leave()

	v, err := r.verify(req, certattrs.RoleServer)
	if err != nil {
		r.deny(w, req, tunnel.PathBind, err, peerFields(v)...)
		return
	}
	id := req.URL.Query().Get(tunnel.QuerySession)
	if id != v.Claims.Session {
		r.deny(w, req, tunnel.PathBind, tunnel.Deny(http.StatusForbidden, tunnel.CodeBadSession, "token is for session %q, request binds %q", v.Claims.Session, id), peerFields(v)...)
		return
	}
	p, err := r.takePending(id, v.Attrs.Server.UUID)
	if err != nil {
		r.deny(w, req, tunnel.PathBind, err, append(peerFields(v), zap.String(audit.FieldSession, id))...)
		return
	}
	ws, err := r.upgrader.Upgrade(w, req, http.Header{tunnel.HeaderSession: {id}})
	if err != nil {
		r.log.Debug("bind upgrade failed", zap.String("session", id), zap.Error(err))
		return
	}
	if !p.deliver(ws, v.Leaf) {
		_ = ws.Close()
	}
}

func (r *Relay) addPending(id string, p *pendingOpen) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.pending) >= r.cfg.MaxPendingOpens {
		return tunnel.Deny(http.StatusServiceUnavailable, tunnel.CodeLimit, "too many sessions being set up")
	}
	r.pending[id] = p
	return nil
}

func (r *Relay) removePending(id string, p *pendingOpen) {
	r.mu.Lock()
	if r.pending[id] == p {
		delete(r.pending, id)
	}
	r.mu.Unlock()
}

// takePending removes and returns the open for id if it was asked of serverUUID. A bind for
// another server's session is refused without consuming it, so it cannot be used to sabotage
// that session.
func (r *Relay) takePending(id, serverUUID string) (*pendingOpen, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, ok := r.pending[id]
	if !ok {
		return nil, tunnel.Deny(http.StatusForbidden, tunnel.CodeBadSession, "no session %q is waiting for a bind", id)
	}
	if p.serverUUID != serverUUID {
		return nil, tunnel.Deny(http.StatusForbidden, tunnel.CodeBadSession, "session %q was not opened with this server", id)
	}
	delete(r.pending, id)
	return p, nil
}

func (r *Relay) acquireCert(serial string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.perCert[serial] >= r.cfg.MaxSessionsPerCert {
		return tunnel.Deny(http.StatusTooManyRequests, tunnel.CodeLimit, "certificate holds its maximum of %d sessions", r.cfg.MaxSessionsPerCert)
	}
	r.perCert[serial]++
	return nil
}

func (r *Relay) releaseCert(serial string) {
	r.mu.Lock()
	if r.perCert[serial]--; r.perCert[serial] <= 0 {
		delete(r.perCert, serial)
	}
	r.mu.Unlock()
}

func (r *Relay) addSession(s *session) {
	r.mu.Lock()
	r.sessions[s.id] = s
	r.mu.Unlock()
	r.metrics.sessionsActive.Inc()
	r.metrics.sessionsTotal.Inc()
}

func (r *Relay) removeSession(s *session) {
	r.mu.Lock()
	delete(r.sessions, s.id)
	r.mu.Unlock()
	r.metrics.sessionsActive.Dec()
}
