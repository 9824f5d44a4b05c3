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

// Sink is where Open sends the audit trail. Close syncs and closes it and is safe to call
// twice. Reopen (on SIGHUP) opens the path again, so a rotated-away file is let go and the
// trail continues in a new file at the path; without a file it does nothing.
type Sink interface {
	io.Closer
	Reopen() error
}

// Open returns the logger audit events go to. With path "" that is fallback.Named("audit"),
// so the audit trail goes with the log (in the log's format, level and sampling: a log that
// samples or is above info drops audit events). Otherwise it is a JSON-lines file at path,
// opened for appending (created 0600), whatever the log format: one write per event, no
// fsync per event.
func Open(path string, fallback *zap.Logger) (*zap.Logger, Sink, error) {
	if path == "" {
		if fallback == nil {
			fallback = zap.NewNop()
		}
		return fallback.Named("audit"), nopSink{}, nil
	}
	f, err := openFile(path)
	if err != nil {
		return nil, nil, err
	}
	fs := &fileSink{path: path, f: f}
	return newFileLogger(fs), fs, nil
}

func openFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open audit file: %w", err)
	}
	return f, nil
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

type nopSink struct{}

func (nopSink) Close() error  { return nil }
func (nopSink) Reopen() error { return nil }

// fileSink is the audit file. Writes, Sync, Reopen and Close take turns, so an event is
// written whole to one file or the other, never lost between them.
type fileSink struct {
	path string

	mu     sync.Mutex
	f      *os.File
	closed bool
	err    error // of the first Close
}

var errSinkClosed = errors.New("audit file is closed")

func (s *fileSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, errSinkClosed
	}
	return s.f.Write(p)
}

func (s *fileSink) Sync() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errSinkClosed
	}
	return s.f.Sync()
}

// Reopen opens the path anew and switches to it; when that fails the current file stays in
// use, so a rotation gone wrong (the directory vanished, permissions) loses no event.
func (s *fileSink) Reopen() error {
	f, err := openFile(s.path)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		f.Close()
		return errSinkClosed
	}
	old := s.f
	s.f = f
	if err := errors.Join(old.Sync(), old.Close()); err != nil {
		return fmt.Errorf("close the previous audit file: %w", err)
	}
	return nil
}

func (s *fileSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		if err := errors.Join(s.f.Sync(), s.f.Close()); err != nil {
			s.err = fmt.Errorf("close audit file: %w", err)
		}
	}
	return s.err
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
