// Package relay is Sentinel's public meeting point: servers register control channels, clients
// ask for sessions, and the relay splices a client's WebSocket to the server's bind WebSocket
// without reading the end-to-end encrypted payload. It verifies every request's token before
// upgrading and refuses with a typed reason.
package relay
