// Package pipe is the byte pump every role uses to join two connections.
package pipe

import (
	"context"
	"errors"
	"net"
)

// CONTRACT STUB: bodies are replaced by the implementation.

// Join copies a→b and b→a until both directions end or ctx is done. When one direction reaches
// EOF it half-closes the other side's write (CloseWrite when the conn has it, otherwise
// closes it after a grace period) so half-closed protocols work. Connection resets and closed
// connections count as normal endings; Join closes both conns before returning.
func Join(ctx context.Context, a, b net.Conn) (aToB, bToA int64, err error) {
	return 0, 0, errors.New("stub")
}
