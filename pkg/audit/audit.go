// Package audit writes Sentinel's audit trail: one JSON line per security decision.
package audit

import (
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"sync"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Event names.
const (
	ServerRegister   = "server.register"
	ServerUnregister = "server.unregister"
	SessionOpen      = "session.open"
	SessionClose     = "session.close"
	SessionReauth    = "session.reauth" // a live session moved to a renewed certificate
	StreamOpen       = "stream.open"
	StreamClose      = "stream.close"
	AuthDeny         = "auth.deny"
	RevokedKill      = "revoked.kill"
)

// Field names, shared by every role and event.
const (
	FieldTime       = "time" // RFC 3339 with nanoseconds, UTC; set by Log
	FieldEvent      = "event"
	FieldRole       = "role"
	FieldUUID       = "uuid" // this component's uuid
	FieldName       = "name" // this component's name
	FieldSession    = "session"
	FieldPeerUUID   = "peer_uuid"
	FieldPeerName   = "peer_name"
	FieldPeerRole   = "peer_role"
	FieldUser       = "user"
	FieldGroups     = "groups"
	FieldSerial     = "serial"
	FieldRemoteAddr = "remote_addr"
	FieldTarget     = "target"
	FieldDecision   = "decision" // "allow" or "deny"
	FieldReason     = "reason"   // a tunnel.Code* value
	FieldDetail     = "detail"
	FieldBytesIn    = "bytes_in"
	FieldBytesOut   = "bytes_out"
	FieldDuration   = "duration" // seconds, as a JSON number
)

// Values of FieldDecision.
const (
	DecisionAllow = "allow"
	DecisionDeny  = "deny"
)

// Logger writes audit events. A nil *Logger discards them.
type Logger struct {
	z   *zap.Logger
	now func() time.Time
}

// New returns a Logger writing to z with the component's role, uuid and name on every event.
// z is usually the logger returned by Open; a nil z discards events.
func New(z *zap.Logger, role, uuid, name string) *Logger {
	if z == nil {
		z = zap.NewNop()
	}
	return &Logger{
		z:   z.With(zap.String(FieldRole, role), zap.String(FieldUUID, uuid), zap.String(FieldName, name)),
		now: time.Now,
	}
}

// With returns a Logger that adds fields to every event, e.g. the session id and peer of
// one connection.
func (l *Logger) With(fields ...zap.Field) *Logger {
	if l == nil {
		return nil
	}
	return &Logger{z: l.z.With(fields...), now: l.now}
}

// Log writes one event: a JSON object with time, event, role, uuid, name and fields.
// The event name is also the entry's message, so console-format logs stay readable.
func (l *Logger) Log(event string, fields ...zap.Field) {
	if l == nil {
		return
	}
	ce := l.z.Check(zap.InfoLevel, event)
	if ce == nil {
		return
	}
	head := []zap.Field{
		zap.String(FieldTime, l.now().UTC().Format(time.RFC3339Nano)),
		zap.String(FieldEvent, event),
	}
	ce.Write(append(head, fields...)...)
}

// Open returns the logger audit events go to. With path "" that is fallback.Named("audit"),
// so the audit trail goes with the log (in the log's format, level and sampling: a log that
// samples or is above info drops audit events). Otherwise it is a JSON-lines file at path,
// opened for appending (created 0600), whatever the log format: one write per event, no
// fsync per event; the returned Closer syncs and closes the file and is safe to call twice.
func Open(path string, fallback *zap.Logger) (*zap.Logger, io.Closer, error) {
	if path == "" {
		if fallback == nil {
			fallback = zap.NewNop()
		}
		return fallback.Named("audit"), nopCloser{}, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("open audit file: %w", err)
	}
	return newFileLogger(f), &fileCloser{f: f}, nil
}

// NewJSON returns a logger that writes each entry as one JSON line to w, with only the
// entry's fields (no level, message or logger name): the audit file format. Writes to w
// are serialized, one Write per event.
func NewJSON(w io.Writer) *zap.Logger {
	return newFileLogger(zapcore.AddSync(w))
}

func newFileLogger(ws zapcore.WriteSyncer) *zap.Logger {
	enc := zapcore.NewJSONEncoder(zapcore.EncoderConfig{
		// Time, level, message and name are left out: Log writes time and event as fields
		// so that both sinks carry the same keys.
		LineEnding:     zapcore.DefaultLineEnding,
		EncodeDuration: zapcore.SecondsDurationEncoder,
		EncodeTime:     zapcore.RFC3339NanoTimeEncoder,
	})
	core := zapcore.NewCore(enc, zapcore.Lock(ws), zapcore.InfoLevel)
	return zap.New(core)
}

type nopCloser struct{}

func (nopCloser) Close() error { return nil }

type fileCloser struct {
	once sync.Once
	f    *os.File
	err  error
}

func (c *fileCloser) Close() error {
	c.once.Do(func() {
		c.err = errors.Join(c.f.Sync(), c.f.Close())
		if c.err != nil {
			c.err = fmt.Errorf("close audit file: %w", c.err)
		}
	})
	return c.err
}

// Peer describes the other side of a decision. Empty fields are left out.
type Peer struct {
	UUID   string
	Name   string
	Role   string
	User   string
	Serial *big.Int // certificate serial, written in lower-case hex
}

// MarshalLogObject writes the peer as peer_uuid, peer_name, peer_role, user and serial.
func (p Peer) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	for _, kv := range [...][2]string{
		{FieldPeerUUID, p.UUID}, {FieldPeerName, p.Name}, {FieldPeerRole, p.Role}, {FieldUser, p.User},
	} {
		if kv[1] != "" {
			enc.AddString(kv[0], kv[1])
		}
	}
	if p.Serial != nil {
		enc.AddString(FieldSerial, SerialHex(p.Serial))
	}
	return nil
}

// Field returns the peer as inline fields of an event.
func (p Peer) Field() zap.Field { return zap.Inline(p) }

// SerialHex formats a certificate serial the way audit events carry it.
func SerialHex(n *big.Int) string { return n.Text(16) }

// Session is the session id field.
func Session(id string) zap.Field { return zap.String(FieldSession, id) }

// RemoteAddr is the remote address field.
func RemoteAddr(addr string) zap.Field { return zap.String(FieldRemoteAddr, addr) }

// Target is the target field ("host:port").
func Target(target string) zap.Field { return zap.String(FieldTarget, target) }

// Detail is a free-text detail, e.g. an error message behind a reason code.
func Detail(s string) zap.Field { return zap.String(FieldDetail, s) }

// Allow is decision "allow".
func Allow() zap.Field { return zap.String(FieldDecision, DecisionAllow) }

// Deny is decision "deny" with a reason code.
func Deny(reason string) zap.Field {
	return zap.Inline(fieldsObject{{FieldDecision, DecisionDeny}, {FieldReason, reason}})
}

// Bytes is bytes_in and bytes_out, as seen by the component writing the event.
func Bytes(in, out int64) zap.Field { return zap.Inline(bytesObject{in, out}) }

// Duration is the duration field in seconds, independent of the encoder's duration format.
func Duration(d time.Duration) zap.Field { return zap.Float64(FieldDuration, d.Seconds()) }

type fieldsObject [][2]string

func (o fieldsObject) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	for _, kv := range o {
		enc.AddString(kv[0], kv[1])
	}
	return nil
}

type bytesObject struct{ in, out int64 }

func (b bytesObject) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	enc.AddInt64(FieldBytesIn, b.in)
	enc.AddInt64(FieldBytesOut, b.out)
	return nil
}
