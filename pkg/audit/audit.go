// Package audit writes Sentinel's audit trail: one JSON line per security decision.
package audit

import (
	"go.uber.org/zap"
)

// CONTRACT STUB: bodies are replaced by the implementation.

// Event names.
const (
	ServerRegister   = "server.register"
	ServerUnregister = "server.unregister"
	SessionOpen      = "session.open"
	SessionClose     = "session.close"
	StreamOpen       = "stream.open"
	StreamClose      = "stream.close"
	AuthDeny         = "auth.deny"
	RevokedKill      = "revoked.kill"
)

// Field names, shared by every role and event.
const (
	FieldEvent      = "event"
	FieldRole       = "role"
	FieldUUID       = "uuid" // this component's uuid
	FieldName       = "name" // this component's name
	FieldSession    = "session"
	FieldPeerUUID   = "peer_uuid"
	FieldPeerName   = "peer_name"
	FieldPeerRole   = "peer_role"
	FieldUser       = "user"
	FieldSerial     = "serial"
	FieldRemoteAddr = "remote_addr"
	FieldTarget     = "target"
	FieldDecision   = "decision" // "allow" or "deny"
	FieldReason     = "reason"   // a tunnel.Code* value
	FieldDetail     = "detail"
	FieldBytesIn    = "bytes_in"
	FieldBytesOut   = "bytes_out"
	FieldDuration   = "duration"
)

// Logger writes audit events.
type Logger struct{ z *zap.Logger }

// New returns a Logger writing to z with the component's role, uuid and name on every event.
func New(z *zap.Logger, role, uuid, name string) *Logger { return &Logger{z: z} }

// Log writes one event.
func (l *Logger) Log(event string, fields ...zap.Field) {}
