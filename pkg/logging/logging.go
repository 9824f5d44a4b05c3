package logging

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Redacted replaces the value of a sensitive header in the log.
const Redacted = "REDACTED"

// New returns a logger writing to w at level (debug, info, warn or error) in format json
// (one object per line, ISO 8601 times, as zap's production encoder) or console (zap's
// human-readable development encoder). Entries carry the caller; stack traces are added
// only from DPanic up, so an error log line stays one line.
func New(level, format string, w io.Writer) (*zap.Logger, error) {
	if w == nil {
		return nil, errors.New("new logger: nil writer")
	}
	lvl, err := ParseLevel(level)
	if err != nil {
		return nil, err
	}
	var enc zapcore.Encoder
	switch format {
	case "json":
		cfg := zap.NewProductionEncoderConfig()
		cfg.EncodeTime = zapcore.ISO8601TimeEncoder
		enc = zapcore.NewJSONEncoder(cfg)
	case "console":
		enc = zapcore.NewConsoleEncoder(zap.NewDevelopmentEncoderConfig())
	default:
		return nil, fmt.Errorf("log format: unknown format %q (want json or console)", format)
	}
	ws := zapcore.Lock(zapcore.AddSync(w))
	core := zapcore.NewCore(enc, ws, lvl)
	return zap.New(core, zap.AddCaller(), zap.AddStacktrace(zapcore.DPanicLevel), zap.ErrorOutput(ws)), nil
}

// ParseLevel accepts the four levels a config may name: debug, info, warn and error.
func ParseLevel(level string) (zapcore.Level, error) {
	switch level {
	case "debug":
		return zapcore.DebugLevel, nil
	case "info":
		return zapcore.InfoLevel, nil
	case "warn":
		return zapcore.WarnLevel, nil
	case "error":
		return zapcore.ErrorLevel, nil
	}
	return 0, fmt.Errorf("log level: unknown level %q (want debug, info, warn or error)", level)
}

// Headers returns a marshaler that logs h as an object of string arrays, names in
// canonical form and sorted, with the values of credential headers replaced by Redacted:
// Authorization, Proxy-Authorization, Cookie, Set-Cookie and Sec-WebSocket-Key. Use it as
// zap.Object("headers", logging.Headers(r.Header)); never log a header map any other way.
func Headers(h http.Header) zapcore.ObjectMarshaler { return headers(h) }

type headers http.Header

var _ zapcore.ObjectMarshaler = headers(nil)

// MarshalLogObject implements zapcore.ObjectMarshaler.
func (h headers) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	// Keys set on the map by hand may not be canonical; merge them so every header is
	// logged, and redacted, under one name.
	merged := make(map[string][]string, len(h))
	for k, v := range h {
		name := http.CanonicalHeaderKey(k)
		merged[name] = append(merged[name], v...)
	}
	names := make([]string, 0, len(merged))
	for k := range merged {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, name := range names {
		vals := merged[name]
		if sensitive(name) {
			vals = []string{Redacted}
		}
		if err := enc.AddArray(name, stringArray(vals)); err != nil {
			return err
		}
	}
	return nil
}

// sensitive reports whether a canonical header name carries a credential.
func sensitive(name string) bool {
	switch name {
	case "Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie", "Sec-Websocket-Key":
		return true
	}
	return false
}

type stringArray []string

func (a stringArray) MarshalLogArray(enc zapcore.ArrayEncoder) error {
	for _, s := range a {
		enc.AppendString(s)
	}
	return nil
}
