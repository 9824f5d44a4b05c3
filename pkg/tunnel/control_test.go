package tunnel

import (
	"strings"
	"testing"
)

func TestParseControl(t *testing.T) {
	sid := NewSessionID()
	tests := map[string]struct {
		in   string
		want Control // zero: an error is wanted
	}{
		"ok/open":                 {`{"type":"open","session":"` + sid + `","client":"c1"}`, Control{Type: MsgOpen, Session: sid, Client: "c1"}},
		"ok/drain":                {`{"type":"drain"}`, Control{Type: MsgDrain}},
		"ok/trailing-whitespace":  {`{"type":"drain"}` + " \n", Control{Type: MsgDrain}},
		"fail/empty":              {``, Control{}},
		"fail/not-json":           {`open ` + sid, Control{}},
		"fail/null":               {`null`, Control{}},
		"fail/array":              {`[]`, Control{}},
		"fail/unknown-type":       {`{"type":"close"}`, Control{}},
		"fail/missing-type":       {`{"session":"` + sid + `","client":"c1"}`, Control{}},
		"fail/unknown-field":      {`{"type":"drain","admin":true}`, Control{}},
		"fail/wrong-field-type":   {`{"type":1}`, Control{}},
		"fail/open-no-session":    {`{"type":"open","client":"c1"}`, Control{}},
		"fail/open-upper-hex":     {`{"type":"open","session":"` + strings.ToUpper(sid) + `","client":"c1"}`, Control{}},
		"fail/open-short-session": {`{"type":"open","session":"` + sid[:31] + `","client":"c1"}`, Control{}},
		"fail/open-path-session":  {`{"type":"open","session":"../../v1/server","client":"c1"}`, Control{}},
		"fail/open-no-client":     {`{"type":"open","session":"` + sid + `"}`, Control{}},
		"fail/trailing-object":    {`{"type":"drain"}{"type":"drain"}`, Control{}},
		"fail/trailing-garbage":   {`{"type":"drain"} x`, Control{}},
		"fail/too-long":           {`{"type":"drain"}` + strings.Repeat(" ", MaxControlMessage), Control{}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := ParseControl([]byte(tc.in))
			if tc.want == (Control{}) {
				if err == nil {
					t.Fatalf("ParseControl(%q) = %+v, want an error", tc.in, got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ParseControl(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestControlMarshalRoundTrip(t *testing.T) {
	for _, c := range []Control{
		{Type: MsgOpen, Session: NewSessionID(), Client: "5f0c7d2e-0d8f-4c8e-9d35-4b8f3a1f2e77"},
		{Type: MsgDrain},
	} {
		got, err := ParseControl(c.Marshal())
		if err != nil || got != c {
			t.Fatalf("ParseControl(Marshal(%+v)) = %+v, %v", c, got, err)
		}
	}
}

func TestSessionID(t *testing.T) {
	seen := map[string]bool{}
	for range 64 {
		id := NewSessionID()
		if !ValidSessionID(id) {
			t.Fatalf("NewSessionID() = %q, not valid", id)
		}
		if seen[id] {
			t.Fatalf("NewSessionID() repeated %q", id)
		}
		seen[id] = true
	}
	for _, bad := range []string{"", "00", strings.Repeat("g", 32), strings.Repeat("0", 33), strings.Repeat("0", 32) + "\n"} {
		if ValidSessionID(bad) {
			t.Errorf("ValidSessionID(%q) = true", bad)
		}
	}
}
