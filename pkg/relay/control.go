package relay

import (
	"crypto/x509"
	"errors"
	"io"
	"net/http"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/sentinel-zt/sentinel/pkg/audit"
	"github.com/sentinel-zt/sentinel/pkg/certattrs"
	"github.com/sentinel-zt/sentinel/pkg/tunnel"
	"github.com/sentinel-zt/sentinel/pkg/wsconn"
)

// control is one server's registered control channel.
type control struct {
	serverUUID string
	serverName string
	leaf       *x509.Certificate
	remote     string
	conn       *wsconn.Conn
	since      time.Time
	opens      atomic.Int64
	gone       chan struct{} // closed once the channel is removed (by removeControl)
}

// send writes one control message as a newline-terminated JSON line in one binary message.
func (c *control) send(msg tunnel.Control) error {
	line := append(msg.Marshal(), '\n')
	_ = c.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, err := c.conn.Write(line)
	return err
}

func (r *Relay) handleServer(w http.ResponseWriter, req *http.Request) {
	if r.draining.Load() || !r.life.Enter() {
		r.deny(w, req, tunnel.PathServer, tunnel.Deny(http.StatusServiceUnavailable, tunnel.CodeDraining, "relay is shutting down"))
		return
	}
	defer r.life.Leave()

	v, err := r.verify(req, certattrs.RoleServer)
	if err != nil {
		r.deny(w, req, tunnel.PathServer, err, peerFields(v)...)
		return
	}
	srv := v.Attrs.Server
	if asked := req.URL.Query().Get(tunnel.QueryServer); asked != "" && asked != srv.UUID {
		r.deny(w, req, tunnel.PathServer, tunnel.Deny(http.StatusForbidden, tunnel.CodeNotAllowed,
			"certificate is for server %s, cannot register as %s", srv.UUID, asked), peerFields(v)...)
		return
	}
	if !listsRelay(srv.Relays, r.self.UUID) {
		r.deny(w, req, tunnel.PathServer, tunnel.Deny(http.StatusForbidden, tunnel.CodeNotAllowed,
			"server certificate does not list this relay"), peerFields(v)...)
		return
	}
	ctl := &control{serverUUID: srv.UUID, serverName: srv.Name, leaf: v.Leaf, remote: r.remoteAddr(req), since: r.cfg.Now(), gone: make(chan struct{})}
	if err := r.reserveControl(srv.UUID); err != nil {
		r.deny(w, req, tunnel.PathServer, err, peerFields(v)...)
		return
	}
	ws, err := r.upgrader.Upgrade(w, req, nil)
	if err != nil {
		r.releaseControl(srv.UUID)
		r.log.Debug("server upgrade failed", zap.Error(err))
		return
	}
	ctl.conn = wsconn.New(ws, r.cfg.WS)
	r.addControl(ctl)
	r.audit.Log(audit.ServerRegister, append(peerFields(v),
		zap.String(audit.FieldRemoteAddr, ctl.remote), zap.String(audit.FieldDecision, "allow"))...)
	r.log.Info("server registered", zap.String("server", srv.Name), zap.String("remote", ctl.remote))

	// A server sends nothing on its control channel; reading only serves pings, pongs and the
	// close. Any payload is a protocol error.
	stop := make(chan struct{})
	go func() {
		select {
		case <-r.life.Context().Done():
			_ = ctl.conn.Close()
		case <-stop:
		}
	}()
	var one [1]byte
	_, rerr := ctl.conn.Read(one[:])
	close(stop)
	_ = ctl.conn.Close()
	r.removeControl(ctl)
	reason := "closed"
	if rerr == nil {
		reason = "protocol_error"
	} else if !errors.Is(rerr, io.EOF) {
		reason = "connection_lost"
	}
	r.audit.Log(audit.ServerUnregister, append(peerFields(v),
		zap.String(audit.FieldRemoteAddr, ctl.remote), zap.String(audit.FieldReason, reason),
		audit.Duration(r.cfg.Now().Sub(ctl.since)))...)
	r.log.Info("server unregistered", zap.String("server", srv.Name), zap.String("reason", reason))
}

// reserveControl counts a registration against the relay-wide and the per-server limits, so
// one server certificate cannot take every slot.
func (r *Relay) reserveControl(serverUUID string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.nControls >= r.cfg.MaxServerChannels {
		return tunnel.Deny(http.StatusServiceUnavailable, tunnel.CodeLimit, "relay holds its maximum of %d server channels", r.cfg.MaxServerChannels)
	}
	if r.perServer[serverUUID] >= r.cfg.MaxChannelsPerServer {
		return tunnel.Deny(http.StatusTooManyRequests, tunnel.CodeLimit, "server holds its maximum of %d channels here", r.cfg.MaxChannelsPerServer)
	}
	r.nControls++
	r.perServer[serverUUID]++
	return nil
}

func (r *Relay) releaseControl(serverUUID string) {
	r.mu.Lock()
	r.nControls--
	if r.perServer[serverUUID]--; r.perServer[serverUUID] <= 0 {
		delete(r.perServer, serverUUID)
	}
	r.mu.Unlock()
}

func (r *Relay) addControl(c *control) {
	r.mu.Lock()
	r.controls[c.serverUUID] = append(r.controls[c.serverUUID], c)
	r.mu.Unlock()
	r.metrics.serverChannels.Inc()
}

func (r *Relay) removeControl(c *control) {
	r.mu.Lock()
	list := r.controls[c.serverUUID]
	for i, x := range list {
		if x == c {
			list = append(list[:i:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(r.controls, c.serverUUID)
	} else {
		r.controls[c.serverUUID] = list
	}
	r.mu.Unlock()
	r.releaseControl(c.serverUUID)
	r.metrics.serverChannels.Dec()
	if c.gone != nil {
		close(c.gone)
	}
}

// controlsFor returns the live channels of a server, least used first, so opens spread over
// redundant instances and a channel that failed to bind is tried last next time.
func (r *Relay) controlsFor(serverUUID string) []*control {
	r.mu.Lock()
	list := append([]*control(nil), r.controls[serverUUID]...)
	r.mu.Unlock()
	for i := 1; i < len(list); i++ {
		for j := i; j > 0 && list[j].opens.Load() < list[j-1].opens.Load(); j-- {
			list[j], list[j-1] = list[j-1], list[j]
		}
	}
	return list
}
