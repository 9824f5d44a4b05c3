package client

import (
	"errors"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/yamux"
	"go.uber.org/zap"

	"github.com/sentinel-zt/sentinel/pkg/audit"
	"github.com/sentinel-zt/sentinel/pkg/pipe"
	"github.com/sentinel-zt/sentinel/pkg/tunnel"
)

// statusConn is the client's side of a stream: its first read consumes the server's status
// line, so local data can flow toward the server before the answer arrives (saving a round
// trip) while nothing reaches the local peer unless the server said ok. When the stream fails
// for any reason other than a clean end, the local TCP connection is set to reset on close so
// the application sees an error, never a truncated transfer that looks complete.
type statusConn struct {
	*tunnel.Stream

	once   sync.Once
	status error // the server's refusal, or a failure reading the status
}

func (s *statusConn) Read(p []byte) (int, error) {
	s.once.Do(func() {
		s.status = tunnel.ReadStatus(s.Stream)
		if s.status != nil {
			s.Abort()
		}
	})
	if s.status != nil {
		return 0, s.status
	}
	return s.Stream.Read(p)
}

// handle carries one local connection through the session.
func (c *Client) handle(local net.Conn) {
	defer local.Close()
	start := time.Now()
	sess, err := c.session(c.ctx)
	if err != nil {
		c.refuseLocal(local, "", err)
		return
	}
	stream, err := sess.mux.OpenStream()
	if err != nil {
		// The session died or the server sent GoAway between the check and the open; one
		// retry on whatever replaces it.
		if errors.Is(err, yamux.ErrRemoteGoAway) {
			sess.markDraining()
		}
		if sess, err = c.session(c.ctx); err == nil {
			stream, err = sess.mux.OpenStream()
		}
		if err != nil {
			c.refuseLocal(local, "", err)
			return
		}
	}
	sc := &statusConn{Stream: &tunnel.Stream{Stream: stream, Abort: tunnel.AbortTCP(local)}}
	c.metrics.streamsActive.Inc()
	c.metrics.streamsTotal.Inc()
	c.activeStreams.Add(1)
	defer func() {
		c.metrics.streamsActive.Dec()
		c.activeStreams.Add(-1)
	}()
	up, down, err := pipe.JoinCounted(c.ctx, local, sc,
		c.metrics.bytes.WithLabelValues("local_to_server"), c.metrics.bytes.WithLabelValues("server_to_local"))
	fields := []zap.Field{
		zap.String(audit.FieldSession, sess.id),
		zap.Uint32("stream", stream.StreamID()),
		zap.String(audit.FieldRemoteAddr, local.RemoteAddr().String()),
		zap.Int64(audit.FieldBytesIn, down), zap.Int64(audit.FieldBytesOut, up),
		audit.Duration(time.Since(start)),
	}
	var deny *tunnel.DenyError
	if errors.As(sc.status, &deny) {
		c.metrics.streamDenials.WithLabelValues(deny.Code).Inc()
		c.log.Warn("server refused the connection", append(fields, zap.String("reason", deny.Code), zap.String("detail", deny.Reason))...)
		c.audit.Log(audit.StreamOpen, append(fields, zap.String(audit.FieldDecision, "deny"),
			zap.String(audit.FieldReason, deny.Code), zap.String(audit.FieldDetail, deny.Reason))...)
		return
	}
	if err != nil {
		fields = append(fields, zap.String(audit.FieldDetail, err.Error()))
		c.log.Warn("connection ended with an error", fields...)
	}
	c.audit.Log(audit.StreamClose, fields...)
}

// refuseLocal resets a local connection that cannot be carried.
func (c *Client) refuseLocal(local net.Conn, session string, err error) {
	tunnel.AbortTCP(local)()
	c.metrics.streamDenials.WithLabelValues(tunnel.CodeServerOffline).Inc()
	c.log.Warn("cannot carry local connection", zap.String("session", session), zap.Error(err))
}
