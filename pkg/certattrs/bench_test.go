package certattrs

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// BenchmarkDecode is the per-handshake cost of reading a peer's attributes.
func BenchmarkDecode(b *testing.B) {
	for name, a := range validAttrs() {
		b.Run(name, func(b *testing.B) {
			cert := &x509.Certificate{Extensions: []pkix.Extension{mustEncode(b, a)}}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Decode(cert); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkUnmarshalManyKeys bounds the worst document size allows: one object with
// thousands of keys must not cost quadratic time.
func BenchmarkUnmarshalManyKeys(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`{"attrs":{`)
	for i := 0; sb.Len() < MaxDocumentSize-32; i++ {
		fmt.Fprintf(&sb, `"k%d":0,`, i)
	}
	sb.WriteString(`"type":"relay"}}`)
	doc := []byte(sb.String())
	for b.Loop() {
		if _, err := UnmarshalJSON(doc); err == nil {
			b.Fatal("accepted unknown keys")
		}
	}
}

func BenchmarkAllow(b *testing.B) {
	var rs []Resource
	for i := range 32 {
		r, err := ParseResource(fmt.Sprintf("10.%d.0.0/16:3306", i))
		if err != nil {
			b.Fatal(err)
		}
		rs = append(rs, r)
	}
	addr := netip.MustParseAddrPort("[::ffff:10.31.0.5]:3306")
	for b.Loop() {
		if _, ok := Allow(rs, addr); !ok {
			b.Fatal("refused")
		}
	}
}

func BenchmarkScheduleAllows(b *testing.B) {
	s := officeHours
	t := time.Date(2025, 6, 2, 10, 0, 0, 0, time.UTC)
	for b.Loop() {
		if !s.Allows(t) {
			b.Fatal("refused")
		}
	}
}
