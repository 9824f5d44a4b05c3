package tunnel

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf8"
)

func TestParseStatus(t *testing.T) {
	tests := map[string]struct {
		line         string
		code, reason string // code "" and ok: nil; code "" and !ok: a malformed-line error
		ok           bool
	}{
		"ok":                        {line: "ok", ok: true},
		"ok/refusal":                {line: "error not_allowed target 10.0.0.9:22 is outside", code: "not_allowed", reason: "target 10.0.0.9:22 is outside"},
		"ok/refusal-without-reason": {line: "error limit", code: "limit"},
		"ok/unknown-code":           {line: "error from_the_future x", code: "from_the_future", reason: "x"}, // newer servers
		"fail/empty":                {line: ""},
		"fail/ok-with-suffix":       {line: "ok "},
		"fail/upper-ok":             {line: "OK"},
		"fail/error-alone":          {line: "error"},
		"fail/error-empty-code":     {line: "error "},
		"fail/upper-code":           {line: "error NOT_ALLOWED x"},
		"fail/code-too-long":        {line: "error " + strings.Repeat("a", 33)},
		"fail/code-with-dash":       {line: "error not-allowed"},
		"fail/carriage-return":      {line: "ok\r"},
		"fail/garbage":              {line: "\x00\xff"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := ParseStatus(tc.line)
			switch {
			case tc.ok:
				if err != nil {
					t.Fatalf("ParseStatus(%q) = %v, want nil", tc.line, err)
				}
			case tc.code != "":
				var d *DenyError
				if !errors.As(err, &d) || d.Code != tc.code || d.Reason != tc.reason {
					t.Fatalf("ParseStatus(%q) = %#v, want code %q reason %q", tc.line, err, tc.code, tc.reason)
				}
			default:
				var d *DenyError
				if err == nil || errors.As(err, &d) {
					t.Fatalf("ParseStatus(%q) = %#v, want a malformed-line error", tc.line, err)
				}
			}
		})
	}
}

func TestWriteStatus(t *testing.T) {
	long := strings.Repeat("é", MaxStatusLine) // two bytes each: the cut falls inside one
	tests := map[string]struct {
		deny *DenyError
		want string
	}{
		"ok":                {nil, "ok\n"},
		"refusal":           {Deny(403, CodeNotAllowed, "outside"), "error not_allowed outside\n"},
		"no-reason":         {Deny(429, CodeLimit, ""), "error limit\n"},
		"newline-in-reason": {Deny(403, CodeNotAllowed, "a\nok\nb"), "error not_allowed a ok b\n"},
		"control-chars":     {Deny(403, CodeNotAllowed, "a\r\x00\x7fb"), "error not_allowed a   b\n"},
		"bad-code":          {&DenyError{Code: "Bad Code\n", Reason: "x"}, "error bad_request x\n"},
		"too-long":          {Deny(403, CodeNotAllowed, "%s", long), ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var b bytes.Buffer
			if err := WriteStatus(&b, tc.deny); err != nil {
				t.Fatal(err)
			}
			got := b.String()
			if tc.want != "" && got != tc.want {
				t.Fatalf("WriteStatus = %q, want %q", got, tc.want)
			}
			if len(got) > MaxStatusLine || !strings.HasSuffix(got, "\n") || strings.Count(got, "\n") != 1 || !utf8.ValidString(got) {
				t.Fatalf("WriteStatus wrote %d bytes %q: want one valid UTF-8 line of at most %d bytes", len(got), got, MaxStatusLine)
			}
			if err := ReadStatus(&b); (err == nil) != (tc.deny == nil) {
				t.Fatalf("ReadStatus of what WriteStatus wrote: %v", err)
			}
		})
	}
}

func TestReadStatus(t *testing.T) {
	t.Run("ok/consumes-only-the-line", func(t *testing.T) {
		r := strings.NewReader("ok\npayload")
		if err := ReadStatus(iotest.OneByteReader(r)); err != nil {
			t.Fatal(err)
		}
		rest, _ := io.ReadAll(r)
		if string(rest) != "payload" {
			t.Fatalf("after the status line %q is left, want %q", rest, "payload")
		}
	})
	t.Run("ok/refusal", func(t *testing.T) {
		err := ReadStatus(strings.NewReader("error schedule outside the window\n"))
		if DenyCode(err, "") != CodeSchedule {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("fail/eof-before-newline", func(t *testing.T) {
		if err := ReadStatus(strings.NewReader("ok")); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("got %v, want unexpected EOF", err)
		}
	})
	t.Run("fail/eof-at-once", func(t *testing.T) {
		if err := ReadStatus(strings.NewReader("")); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("got %v, want unexpected EOF", err)
		}
	})
	t.Run("fail/read-error", func(t *testing.T) {
		boom := errors.New("boom")
		if err := ReadStatus(iotest.ErrReader(boom)); !errors.Is(err, boom) {
			t.Fatalf("got %v, want the reader's error", err)
		}
	})
	t.Run("fail/endless-line", func(t *testing.T) {
		// A peer that never sends a newline is cut off at MaxStatusLine bytes.
		r := &countingReader{r: strings.NewReader("error x " + strings.Repeat("a", 10*MaxStatusLine))}
		err := ReadStatus(r)
		if err == nil || DenyCode(err, "") != "" {
			t.Fatalf("got %v, want a line-too-long error", err)
		}
		if r.n > MaxStatusLine {
			t.Fatalf("read %d bytes, more than the %d-byte limit", r.n, MaxStatusLine)
		}
	})
	t.Run("ok/longest-line", func(t *testing.T) {
		line := "error limit " + strings.Repeat("a", MaxStatusLine-1-len("error limit "))
		if err := ReadStatus(strings.NewReader(line + "\n")); DenyCode(err, "") != CodeLimit {
			t.Fatalf("a %d-byte line: %v", len(line)+1, err)
		}
	})
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}
