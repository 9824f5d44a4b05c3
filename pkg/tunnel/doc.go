// Package tunnel defines Sentinel's wire protocol v1: the relay's HTTP paths, the control
// messages a relay sends a server, the per-stream status line and the typed refusal that
// every role reports.
//
// The flow of one session:
//
//	server ──GET /v1/server (WebSocket, Bearer JWS)──▶ relay      registers under its cert uuid
//	client ──GET /v1/client?server=UUID (Bearer JWS, srv=UUID)──▶ relay
//	relay  ──{"type":"open","session":ID,"client":UUID}──▶ server (on a control channel)
//	server ──GET /v1/bind?session=ID (Bearer JWS, sid=ID)──▶ relay
//	relay  ──101 Switching Protocols, Sentinel-Session: ID──▶ client
//	relay splices the client and bind WebSockets message by message, blind to payloads.
//
// Over the spliced stream the client runs TLS 1.3 with its certificate, the server checks
// it, and the client multiplexes one stream per local TCP connection inside that session.
// On each new stream the server checks the client's signed target against its resources,
// dials it and answers one status line ("ok\n" or "error <code> <reason>\n") before piping.
// The client may send data before the status arrives: the server discards it on refusal.
package tunnel
