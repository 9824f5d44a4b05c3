package tunnel

import (
	"bytes"
	"errors"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/sentinel-zt/sentinel/pkg/certattrs"
)

// FuzzParseControl: ParseControl never panics; what it accepts is a well-formed open or
// drain, and re-encoding it parses back to the same message.
func FuzzParseControl(f *testing.F) {
	sid := NewSessionID()
	for _, c := range []Control{
		{Type: MsgOpen, Session: sid, Client: "5f0c7d2e-0d8f-4c8e-9d35-4b8f3a1f2e77"},
		{Type: MsgDrain},
	} {
		f.Add(c.Marshal())
	}
	f.Add([]byte(`{"type":"open","session":"` + sid + `","client":"c"}` + "\n"))
	f.Add([]byte(`{"TYPE":"drain"}`))
	f.Add([]byte(`{"type":"drain","type":"open"}`))
	f.Add([]byte(`{"type":"open","session":"` + sid + `","client":"\u003c"}`))
	f.Add([]byte(`{"type":"drain"}{}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"type":"drain","x":1}`))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseControl(b)
		if err != nil {
			if c != (Control{}) {
				t.Fatalf("refused %q but returned %+v", b, c)
			}
			return
		}
		if len(b) > MaxControlMessage {
			t.Fatalf("accepted %d bytes, over the %d limit", len(b), MaxControlMessage)
		}
		switch c.Type {
		case MsgOpen:
			if !ValidSessionID(c.Session) || c.Client == "" {
				t.Fatalf("accepted a malformed open %+v", c)
			}
		case MsgDrain:
		default:
			t.Fatalf("accepted type %q", c.Type)
		}
		enc := c.Marshal()
		if len(enc) > MaxControlMessage {
			// JSON escaping (e.g. "<" as \u003c) can grow a client field; the relay only
			// ever sends certificate uuids, far below the limit.
			return
		}
		again, err := ParseControl(enc)
		if err != nil || again != c {
			t.Fatalf("round trip of %q: %+v, %v; want %+v", enc, again, err, c)
		}
	})
}

// FuzzParseStatus: ParseStatus and ReadStatus never panic and agree; ReadStatus consumes
// exactly the line; what WriteStatus writes for a refusal reads back with the same code and
// the (sanitized, possibly cut) reason, as one valid UTF-8 line within MaxStatusLine.
func FuzzParseStatus(f *testing.F) {
	f.Add("ok", "")
	f.Add("error not_allowed target outside", "not_allowed")
	f.Add("error limit", "limit")
	f.Add("error schedule outside the window", "schedule")
	f.Add("error", "")
	f.Add("error  x", "Bad Code")
	f.Add("OK\r", "\n")
	f.Add(strings.Repeat("é", MaxStatusLine), "dial_failed")
	f.Add("error x \xff\xfe", "x")
	f.Fuzz(func(t *testing.T, line, code string) {
		// Parse.
		err := ParseStatus(line)
		var d *DenyError
		switch {
		case err == nil:
			if line != "ok" {
				t.Fatalf("ParseStatus(%q) = nil", line)
			}
		case errors.As(err, &d):
			if !codePattern.MatchString(d.Code) || !strings.HasPrefix(line, "error "+d.Code) {
				t.Fatalf("ParseStatus(%q) = code %q", line, d.Code)
			}
		}
		// Read: same answer, and nothing past the newline consumed.
		if !strings.Contains(line, "\n") && len(line) < MaxStatusLine {
			r := bytes.NewReader([]byte(line + "\nrest"))
			rerr := ReadStatus(r)
			if (rerr == nil) != (err == nil) || DenyCode(rerr, "") != DenyCode(err, "") {
				t.Fatalf("ReadStatus(%q) = %v, ParseStatus = %v", line, rerr, err)
			}
			if r.Len() != len("rest") {
				t.Fatalf("ReadStatus(%q) left %d bytes, want 4", line, r.Len())
			}
		}
		// Write, then read back.
		var b bytes.Buffer
		in := &DenyError{Code: code, Reason: line}
		if err := WriteStatus(&b, in); err != nil {
			t.Fatal(err)
		}
		out := b.String()
		if len(out) > MaxStatusLine || strings.Count(out, "\n") != 1 || !strings.HasSuffix(out, "\n") || !utf8.ValidString(out) {
			t.Fatalf("WriteStatus(%q, %q) wrote %q", code, line, out)
		}
		var back *DenyError
		if rerr := ReadStatus(&b); !errors.As(rerr, &back) {
			t.Fatalf("ReadStatus of %q: %v", out, rerr)
		}
		wantCode := code
		if !codePattern.MatchString(code) {
			wantCode = CodeBadRequest
		}
		if back.Code != wantCode {
			t.Fatalf("code %q came back as %q", code, back.Code)
		}
		if strings.ContainsFunc(back.Reason, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			t.Fatalf("reason %q came back with control characters", back.Reason)
		}
		if utf8.ValidString(line) && !strings.ContainsFunc(line, func(r rune) bool { return r < 0x20 || r == 0x7f }) &&
			!strings.HasPrefix(line, back.Reason) {
			t.Fatalf("reason %q came back as %q, not a prefix", line, back.Reason)
		}
	})
}

// FuzzRelayURL: RelayURL never panics, and for every address a relay certificate can carry
// (what certattrs accepts) it builds a ws or wss URL with a host, the requested path at the
// end and exactly the requested query. Addresses no certificate can carry are not held to
// that: RelayURL does not validate hosts itself ("host?x=1" gives a URL that does not parse,
// and the dial fails).
func FuzzRelayURL(f *testing.F) {
	f.Add("relay.example.com", 8443)
	f.Add("127.0.0.1", 0)
	f.Add("::1", 443)
	f.Add("ws://127.0.0.1", 8080)
	f.Add("wss://cdn.example.com:443/sentinel/", 0)
	f.Add("wss://user:pass@host/", 1)
	f.Add("http://relay", 80)
	f.Add("wss://[::1", 0)
	f.Add("host?x=1#y", 5)
	f.Fuzz(func(t *testing.T, addr string, port int) {
		q := url.Values{QueryServer: {"5f0c7d2e-0d8f-4c8e-9d35-4b8f3a1f2e77"}}
		got, err := RelayURL(addr, port, PathClient, q)
		if err != nil {
			return
		}
		if _, err := certattrs.Encode(certattrs.Attrs{Relay: &certattrs.Relay{
			UUID: "5f0c7d2e-0d8f-4c8e-9d35-4b8f3a1f2e77", Name: "r", Address: addr, Port: port,
		}}); err != nil {
			return
		}
		u, err := url.Parse(got)
		if err != nil {
			t.Fatalf("RelayURL(%q, %d) = %q, which does not parse: %v", addr, port, got, err)
		}
		if u.Scheme != "ws" && u.Scheme != "wss" {
			t.Fatalf("RelayURL(%q, %d) = %q: scheme %q", addr, port, got, u.Scheme)
		}
		if u.Hostname() == "" {
			t.Fatalf("RelayURL(%q, %d) = %q: no host", addr, port, got)
		}
		if !strings.HasSuffix(u.Path, PathClient) {
			t.Fatalf("RelayURL(%q, %d) = %q: path %q", addr, port, got, u.Path)
		}
		if u.RawQuery != q.Encode() {
			t.Fatalf("RelayURL(%q, %d) = %q: query %q, want %q", addr, port, got, u.RawQuery, q.Encode())
		}
	})
}
