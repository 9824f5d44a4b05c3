package tunnel

import (
	"io"
	"time"

	"github.com/hashicorp/yamux"
)

// StreamWindow is the multiplexer's per-stream receive window. yamux's 256 KiB default caps
// one stream at window/RTT (~1 Gbit/s on loopback, ~40 Mbit/s at 50 ms); 16 MiB covers
// multi-gigabit loopback and ~2.5 Gbit/s at 50 ms RTT. Memory is only committed while a
// reader lags, and a slow reader stalls only its own stream.
const StreamWindow = 16 << 20

// MuxConfig returns the multiplexer settings both ends of a session use.
func MuxConfig() *yamux.Config {
	c := yamux.DefaultConfig()
	c.MaxStreamWindowSize = StreamWindow
	c.AcceptBacklog = 256
	// The WebSocket legs ping every 20 s; this end-to-end ping also catches a server that is
	// gone behind a live relay.
	c.EnableKeepAlive = true
	c.KeepAliveInterval = 30 * time.Second
	c.ConnectionWriteTimeout = 30 * time.Second
	c.StreamOpenTimeout = 15 * time.Second
	// yamux resets a stream this long after our FIN if the peer has not sent its own. A
	// half-closed stream can legitimately stream a response for long after the request side
	// closed, so keep this generous; stream limits bound what a misbehaving peer can hold.
	c.StreamCloseTimeout = time.Hour
	c.LogOutput = io.Discard
	return c
}
