package tunnel

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// Relay HTTP paths and the names carried with them.
const (
	PathServer  = "/v1/server"
	PathClient  = "/v1/client"
	PathBind    = "/v1/bind"
	PathHealthz = "/healthz"

	QueryServer  = "server"
	QuerySession = "session"

	// HeaderSession carries the session id in the relay's upgrade response to the client,
	// so client, relay and server log the same id.
	HeaderSession = "Sentinel-Session"
	// HeaderDeny carries the refusal code in a 401/403/503 response.
	HeaderDeny = "Sentinel-Deny"
)

// Control message types, relay → server.
const (
	MsgOpen  = "open"
	MsgDrain = "drain" // the relay is going away: register elsewhere, take no new opens here
)

// MaxControlMessage bounds a control message; anything larger is a protocol error.
const MaxControlMessage = 1 << 10

// Control is one message on a server's control channel.
type Control struct {
	Type    string `json:"type"`
	Session string `json:"session,omitempty"`
	Client  string `json:"client,omitempty"`
}

// sessionIDPattern is what NewSessionID produces: 32 lower-case hex digits.
var sessionIDPattern = regexp.MustCompile(`^[0-9a-f]{32}$`)

// NewSessionID returns a random 128-bit session id.
func NewSessionID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return hex.EncodeToString(b[:])
}

// ValidSessionID reports whether s has the form of a session id.
func ValidSessionID(s string) bool { return sessionIDPattern.MatchString(s) }

// ParseControl strictly decodes a control message.
func ParseControl(b []byte) (Control, error) {
	if len(b) > MaxControlMessage {
		return Control{}, fmt.Errorf("control message: %d bytes, limit %d", len(b), MaxControlMessage)
	}
	var c Control
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Control{}, fmt.Errorf("control message: %w", err)
	}
	if dec.More() {
		return Control{}, errors.New("control message: trailing data")
	}
	switch c.Type {
	case MsgOpen:
		if !ValidSessionID(c.Session) {
			return Control{}, fmt.Errorf("control message: open: invalid session id %q", c.Session)
		}
		if c.Client == "" {
			return Control{}, errors.New("control message: open: missing client")
		}
	case MsgDrain:
	default:
		return Control{}, fmt.Errorf("control message: unknown type %q", c.Type)
	}
	return c, nil
}

// Marshal encodes c.
func (c Control) Marshal() []byte {
	b, err := json.Marshal(c)
	if err != nil {
		panic(err) // a struct of strings always marshals
	}
	return b
}

// Refusal codes shared by the HTTP responses, the status line, audit events and the
// auth-failure metric label. Keep the set small and bounded: it is a metric label.
const (
	CodeBadToken      = "bad_token"
	CodeBadChain      = "bad_chain"
	CodeExpired       = "expired"
	CodeReplay        = "replay"
	CodeWrongRole     = "wrong_role"
	CodeWrongAudience = "wrong_audience"
	CodeRevoked       = "revoked"
	CodeNotAllowed    = "not_allowed"
	CodeSchedule      = "schedule"
	CodeServerOffline = "server_offline"
	CodeBadSession    = "bad_session"
	CodeLimit         = "limit"
	CodeBadRequest    = "bad_request"
	CodeDialFailed    = "dial_failed"
	CodeDraining      = "draining"
	CodeInternal      = "internal"
)

// DenyError is a typed refusal: one value drives the HTTP status, the status line, the audit
// reason and the metric label.
type DenyError struct {
	Status int    // HTTP status when refused over HTTP (401, 403, 503, ...)
	Code   string // one of the Code* constants
	Reason string // human detail; never secrets
}

func (e *DenyError) Error() string {
	if e.Reason == "" {
		return e.Code
	}
	return e.Code + ": " + e.Reason
}

// Deny builds a DenyError.
func Deny(status int, code, format string, args ...any) *DenyError {
	return &DenyError{Status: status, Code: code, Reason: fmt.Sprintf(format, args...)}
}

// DenyCode returns the code of the DenyError in err's chain, or fallback.
func DenyCode(err error, fallback string) string {
	var d *DenyError
	if errors.As(err, &d) {
		return d.Code
	}
	return fallback
}

// MaxStatusLine bounds the per-stream status line, newline included.
const MaxStatusLine = 256

var codePattern = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)

// WriteStatus writes the stream status line: "ok\n" when deny is nil, otherwise
// "error <code> <reason>\n" with the reason cut to fit and stripped of control characters.
func WriteStatus(w io.Writer, deny *DenyError) error {
	line := "ok\n"
	if deny != nil {
		code := deny.Code
		if !codePattern.MatchString(code) {
			code = CodeBadRequest
		}
		reason := strings.Map(func(r rune) rune {
			if r < 0x20 || r == 0x7f {
				return ' '
			}
			return r
		}, deny.Reason)
		line = "error " + code
		if reason != "" {
			line += " " + reason
		}
		if len(line) > MaxStatusLine-1 {
			line = strings.ToValidUTF8(line[:MaxStatusLine-1], "")
		}
		line += "\n"
	}
	_, err := io.WriteString(w, line)
	return err
}

// ReadStatus reads one status line. It reads byte by byte so that nothing after the line is
// consumed. It returns nil for "ok" and a *DenyError for a refusal.
func ReadStatus(r io.Reader) error {
	line, err := readLine(r, MaxStatusLine)
	if err != nil {
		return fmt.Errorf("read stream status: %w", err)
	}
	return ParseStatus(line)
}

// ParseStatus parses a status line without its newline.
func ParseStatus(line string) error {
	if line == "ok" {
		return nil
	}
	rest, ok := strings.CutPrefix(line, "error ")
	if !ok {
		return fmt.Errorf("stream status: malformed line %q", truncate(line, 40))
	}
	code, reason, _ := strings.Cut(rest, " ")
	if !codePattern.MatchString(code) {
		return fmt.Errorf("stream status: malformed code %q", truncate(code, 40))
	}
	return &DenyError{Status: 403, Code: code, Reason: reason}
}

func readLine(r io.Reader, limit int) (string, error) {
	buf := make([]byte, 0, 16)
	var one [1]byte
	for len(buf) < limit {
		n, err := r.Read(one[:])
		if n == 1 {
			if one[0] == '\n' {
				return string(buf), nil
			}
			buf = append(buf, one[0])
			continue
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return "", io.ErrUnexpectedEOF
			}
			return "", err
		}
	}
	return "", fmt.Errorf("status line longer than %d bytes", limit)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// RelayURL builds the WebSocket URL of a relay endpoint. addr is a host name or IP (wss is
// implied) or a ws:// or wss:// URL (ws:// is for a relay behind a proxy on a trusted
// network, or tests). A port written in the URL is where peers connect (a CDN or proxy in
// front of the relay) and wins; otherwise port, when non-zero, is used.
func RelayURL(addr string, port int, path string, query url.Values) (string, error) {
	var u *url.URL
	if strings.Contains(addr, "://") {
		parsed, err := url.Parse(addr)
		if err != nil {
			return "", fmt.Errorf("relay address %q: %w", addr, err)
		}
		if parsed.Scheme != "ws" && parsed.Scheme != "wss" {
			return "", fmt.Errorf("relay address %q: scheme must be ws or wss", addr)
		}
		if parsed.Hostname() == "" {
			return "", fmt.Errorf("relay address %q: missing host", addr)
		}
		u = parsed
		if port != 0 && u.Port() == "" {
			u.Host = net.JoinHostPort(u.Hostname(), strconv.Itoa(port))
		}
	} else {
		host := strings.TrimSuffix(strings.TrimPrefix(addr, "["), "]")
		if host == "" {
			return "", fmt.Errorf("relay address %q: missing host", addr)
		}
		u = &url.URL{Scheme: "wss", Host: host}
		if port != 0 {
			u.Host = net.JoinHostPort(host, strconv.Itoa(port))
		} else if strings.Contains(host, ":") {
			u.Host = "[" + host + "]"
		}
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	u.RawQuery = query.Encode()
	return u.String(), nil
}

// Session notices travel from server to client inside an end-to-end session, on a stream the
// server opens: one line, then the stream closes. They let the server move clients before it
// or a relay goes away, without waiting for a stream to fail.
const (
	// NoticeDrain: open no new streams on this session; establish another (through another
	// relay if this one is going away) and let this one's streams finish.
	NoticeDrain = "drain"
	// NoticeReauth: answer on this stream with your current certificate chain
	// (WriteCertChain). A renewed certificate for the same key extends the session past the
	// expiry of the one it was opened with.
	NoticeReauth = "reauth"
)

// WriteNotice writes one session notice line.
func WriteNotice(w io.Writer, notice string) error {
	_, err := io.WriteString(w, "notice "+notice+"\n")
	return err
}

// ReadNotice reads one session notice line and returns the notice. Unknown notices are
// returned as they are, for the caller to ignore: a newer server may send more kinds.
func ReadNotice(r io.Reader) (string, error) {
	line, err := readLine(r, MaxStatusLine)
	if err != nil {
		return "", fmt.Errorf("read notice: %w", err)
	}
	notice, ok := strings.CutPrefix(line, "notice ")
	if !ok || !codePattern.MatchString(notice) {
		return "", fmt.Errorf("notice: malformed line %q", truncate(line, 40))
	}
	return notice, nil
}

// RefusalIsFinal reports whether an HTTP refusal means "you may not" (401/403): worth a long
// backoff. Anything else (5xx, draining, unreachable) is transient and retried soon.
func RefusalIsFinal(status int) bool { return status == 401 || status == 403 }
