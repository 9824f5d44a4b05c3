// Package server is the Sentinel role inside the private network: it dials out to every relay
// in its certificate and registers, answers each session with a bind, terminates the
// end-to-end TLS session (checking the client's certificate), and connects each stream to the
// client's signed target only if that target lies inside the server's own signed resources.
package server
