package tunnel

import (
	"encoding/binary"
	"net"
	"testing"
)

func yamuxHeader(typ byte, length uint32) []byte {
	h := make([]byte, 12)
	h[1] = typ
	binary.BigEndian.PutUint32(h[4:], 1) // stream id
	binary.BigEndian.PutUint32(h[8:], length)
	return h
}

func TestFrameHasBody(t *testing.T) {
	tests := map[string]struct {
		p    []byte
		want bool
	}{
		"data header with a body":      {yamuxHeader(0, 4096), true},
		"data header without a body":   {yamuxHeader(0, 0), false},
		"window update (no body ever)": {yamuxHeader(1, 4096), false},
		"ping":                         {yamuxHeader(2, 7), false},
		"a body, not a header":         {make([]byte, 4096), false},
		"twelve bytes of body":         {append([]byte{1}, make([]byte, 11)...), false},
	}
	for name, tc := range tests {
		if got := frameHasBody(tc.p); got != tc.want {
			t.Errorf("%s: %v, want %v", name, got, tc.want)
		}
	}
}

type fakeCoalescer struct {
	net.Conn
	upper net.Conn
}

func (f *fakeCoalescer) Coalesce(upper net.Conn, more func([]byte) bool) net.Conn {
	f.upper = upper
	return f
}

func TestMuxTransport(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if got := MuxTransport(a, b); got != a {
		t.Fatal("a transport that cannot coalesce should leave the TLS connection as it is")
	}
	fc := &fakeCoalescer{}
	if got := MuxTransport(a, fc); got != fc || fc.upper != a {
		t.Fatal("a coalescing transport was not asked to gather the TLS connection's writes")
	}
}
