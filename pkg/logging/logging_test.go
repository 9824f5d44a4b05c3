package logging

import (
	"bytes"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// token is a bearer JWS as a client sends it to the relay.
const token = "eyJhbGciOiJFUzI1NiIsIng1YyI6WyJNSUlCIl19.eyJhdWQiOiJyZWxheSJ9.c2lnbmF0dXJlLXNlY3JldA"

func secretHeader() http.Header {
	h := http.Header{}
	h.Set("Authorization", "Bearer "+token)
	h.Set("Proxy-Authorization", "Basic "+token)
	h.Add("Cookie", "session="+token)
	h.Add("Set-Cookie", "session="+token+"; HttpOnly")
	h.Set("Sec-WebSocket-Key", token)
	h["authorization"] = []string{"Bearer " + token} // not canonical: set by hand
	h.Set("User-Agent", "sentinel-client/1")
	h.Add("X-Forwarded-For", "203.0.113.7")
	h.Add("X-Forwarded-For", "10.0.0.1")
	return h
}

func TestHeadersRedactJSON(t *testing.T) {
	for _, format := range []string{"json", "console"} {
		t.Run(format, func(t *testing.T) {
			var buf bytes.Buffer
			log, err := New("debug", format, &buf)
			if err != nil {
				t.Fatal(err)
			}
			log.Info("upgrade", zap.Object("headers", Headers(secretHeader())))
			if err := log.Sync(); err != nil {
				t.Fatal(err)
			}
			out := buf.String()
			for _, secret := range []string{token, "c2lnbmF0dXJl", "session="} {
				if strings.Contains(out, secret) {
					t.Fatalf("log contains %q:\n%s", secret, out)
				}
			}
			for _, want := range []string{Redacted, "sentinel-client/1", "203.0.113.7", "10.0.0.1"} {
				if !strings.Contains(out, want) {
					t.Fatalf("log lacks %q:\n%s", want, out)
				}
			}
		})
	}
}

func TestHeadersObserver(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	zap.New(core).Debug("request", zap.Object("headers", Headers(secretHeader())))
	entries := logs.All()
	if len(entries) != 1 {
		t.Fatalf("got %d entries", len(entries))
	}
	got := entries[0].ContextMap()["headers"]
	want := map[string]any{
		"Authorization":       []any{Redacted},
		"Proxy-Authorization": []any{Redacted},
		"Cookie":              []any{Redacted},
		"Set-Cookie":          []any{Redacted},
		"Sec-Websocket-Key":   []any{Redacted},
		"User-Agent":          []any{"sentinel-client/1"},
		"X-Forwarded-For":     []any{"203.0.113.7", "10.0.0.1"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("headers logged as\n%#v\nwant\n%#v", got, want)
	}
}

func TestNewJSON(t *testing.T) {
	var buf bytes.Buffer
	log, err := New("info", "json", &buf)
	if err != nil {
		t.Fatal(err)
	}
	log.Debug("hidden")
	log.Info("shown", zap.String("session", "s1"))
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("not one JSON line: %v\n%s", err, buf.String())
	}
	if line["msg"] != "shown" || line["level"] != "info" || line["session"] != "s1" {
		t.Fatalf("line = %v", line)
	}
	ts, _ := line["ts"].(string)
	if len(ts) < len("2006-01-02T15:04:05") || ts[4] != '-' || ts[10] != 'T' {
		t.Fatalf("ts %q is not ISO 8601", line["ts"])
	}
	if _, ok := line["caller"]; !ok {
		t.Fatalf("no caller in %v", line)
	}
}

func TestNewConsole(t *testing.T) {
	var buf bytes.Buffer
	log, err := New("warn", "console", &buf)
	if err != nil {
		t.Fatal(err)
	}
	log.Info("hidden")
	log.Warn("careful", zap.Int("n", 3))
	out := buf.String()
	if strings.Contains(out, "hidden") || !strings.Contains(out, "WARN") || !strings.Contains(out, "careful") ||
		!strings.Contains(out, `{"n": 3}`) || strings.HasPrefix(out, "{") {
		t.Fatalf("console output:\n%s", out)
	}
}

func TestLevels(t *testing.T) {
	for _, tt := range []struct {
		level string
		want  zapcore.Level
	}{{"debug", zapcore.DebugLevel}, {"info", zapcore.InfoLevel}, {"warn", zapcore.WarnLevel}, {"error", zapcore.ErrorLevel}} {
		log, err := New(tt.level, "json", &bytes.Buffer{})
		if err != nil {
			t.Fatalf("%s: %v", tt.level, err)
		}
		if !log.Core().Enabled(tt.want) || (tt.want > zapcore.DebugLevel && log.Core().Enabled(tt.want-1)) {
			t.Errorf("level %s: wrong threshold", tt.level)
		}
	}
}

func TestNewErrors(t *testing.T) {
	for _, tt := range []struct{ level, format, want string }{
		{"loud", "json", `log level: unknown level "loud"`},
		{"INFO", "json", `unknown level "INFO"`},
		{"info", "xml", `log format: unknown format "xml"`},
	} {
		if _, err := New(tt.level, tt.format, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New(%q, %q) = %v, want %q", tt.level, tt.format, err, tt.want)
		}
	}
	if _, err := New("info", "json", nil); err == nil {
		t.Error("New with nil writer: no error")
	}
}
