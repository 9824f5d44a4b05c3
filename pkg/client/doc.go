// Package client is the Sentinel role on a user's device: it listens on a loopback port, keeps
// one end-to-end TLS session to its server (through the first working relay, or directly),
// pins the server's identity, and carries each local TCP connection as one multiplexed stream.
package client
