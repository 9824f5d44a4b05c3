package server

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/hashicorp/yamux"
	"go.uber.org/zap"

	"github.com/sentinel-zt/sentinel/pkg/audit"
	"github.com/sentinel-zt/sentinel/pkg/certattrs"
	"github.com/sentinel-zt/sentinel/pkg/pipe"
	"github.com/sentinel-zt/sentinel/pkg/tunnel"
)

// serveStream connects one stream to the client's target, if the server's resources allow it.
func (s *Server) serveStream(ss *session, stream *yamux.Stream) {
	defer stream.Close()
	cred := ss.credential()
	target := net.JoinHostPort(cred.client.Target.Host, strconv.Itoa(cred.client.Target.Port))
	fields := s.peerFields(ss.id, ss.via, cred.leaf, cred.client,
		zap.String(audit.FieldTarget, target), zap.Uint32("stream", stream.StreamID()))

	if n := ss.streams.Add(1); n > int64(s.cfg.MaxStreamsPerSession) {
		ss.streams.Add(-1)
		s.refuseStream(stream, fields, tunnel.Deny(http.StatusTooManyRequests, tunnel.CodeLimit,
			"session holds its maximum of %d streams", s.cfg.MaxStreamsPerSession))
		return
	}
	defer ss.streams.Add(-1)
	if !cred.client.Schedule.Allows(s.cfg.Now()) {
		s.refuseStream(stream, fields, tunnel.Deny(http.StatusForbidden, tunnel.CodeSchedule, "outside the certificate's schedule"))
		return
	}
	conn, addr, err := s.dialTarget(s.ctx, cred.client.Target)
	if err != nil {
		s.refuseStream(stream, fields, err)
		return
	}
	fields = append(fields, zap.String("target_addr", addr.String()))
	if err := tunnel.WriteStatus(stream, nil); err != nil {
		_ = conn.Close()
		return
	}
	s.metrics.streamsActive.Inc()
	s.metrics.streamsTotal.Inc()
	s.activeStreams.Add(1)
	defer func() {
		s.metrics.streamsActive.Dec()
		s.activeStreams.Add(-1)
	}()
	s.audit.Log(audit.StreamOpen, append(fields, zap.String(audit.FieldDecision, "allow"))...)
	start := time.Now()
	up, down, err := pipe.JoinCounted(s.ctx, &tunnel.Stream{Stream: stream, Abort: tunnel.AbortTCP(conn)}, conn,
		s.metrics.bytes.WithLabelValues("client_to_target"), s.metrics.bytes.WithLabelValues("target_to_client"))
	closeFields := append(fields,
		zap.Int64(audit.FieldBytesIn, up), zap.Int64(audit.FieldBytesOut, down),
		audit.Duration(time.Since(start)))
	if err != nil {
		closeFields = append(closeFields, zap.String(audit.FieldDetail, err.Error()))
	}
	s.audit.Log(audit.StreamClose, closeFields...)
}

func (s *Server) refuseStream(stream *yamux.Stream, fields []zap.Field, err error) {
	d, ok := err.(*tunnel.DenyError)
	if !ok {
		d = tunnel.Deny(http.StatusBadGateway, tunnel.CodeDialFailed, "%v", err)
	}
	s.metrics.streamDenials.WithLabelValues(d.Code).Inc()
	s.audit.Log(audit.StreamOpen, append(fields,
		zap.String(audit.FieldDecision, "deny"), zap.String(audit.FieldReason, d.Code),
		zap.String(audit.FieldDetail, d.Reason))...)
	_ = stream.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_ = tunnel.WriteStatus(stream, d)
}

// dialTarget resolves target on this side, keeps only addresses inside the resources, and
// dials those checked addresses (never the name again, so a DNS answer cannot change between
// the check and the dial).
func (s *Server) dialTarget(ctx context.Context, target certattrs.Target) (net.Conn, netip.AddrPort, error) {
	var candidates []netip.Addr
	if ip, err := netip.ParseAddr(target.Host); err == nil {
		candidates = []netip.Addr{ip}
	} else {
		rctx, cancel := context.WithTimeout(ctx, s.cfg.DialTimeout)
		addrs, err := s.cfg.Resolver.LookupNetIP(rctx, "ip", target.Host)
		cancel()
		if err != nil {
			return nil, netip.AddrPort{}, tunnel.Deny(http.StatusBadGateway, tunnel.CodeDialFailed, "resolve %s: %v", target.Host, err)
		}
		candidates = addrs
	}
	resources := s.cfg.Identity.Load().Attrs.Server.Resources
	var allowed []netip.AddrPort
	for _, ip := range candidates {
		ap := netip.AddrPortFrom(ip.Unmap(), uint16(target.Port))
		if _, ok := certattrs.Allow(resources, ap); ok {
			allowed = append(allowed, ap)
		}
	}
	if len(allowed) == 0 {
		return nil, netip.AddrPort{}, tunnel.Deny(http.StatusForbidden, tunnel.CodeNotAllowed,
			"target %s:%d (%v) is outside this server's resources", target.Host, target.Port, candidates)
	}
	var lastErr error
	for _, ap := range allowed {
		start := time.Now()
		dctx, cancel := context.WithTimeout(ctx, s.cfg.DialTimeout)
		conn, err := s.cfg.Dial(dctx, "tcp", ap.String())
		cancel()
		s.metrics.dialSeconds.Observe(time.Since(start).Seconds())
		if err == nil {
			return conn, ap, nil
		}
		lastErr = err
	}
	return nil, netip.AddrPort{}, tunnel.Deny(http.StatusBadGateway, tunnel.CodeDialFailed, "dial %s: %v", target.Host, lastErr)
}
