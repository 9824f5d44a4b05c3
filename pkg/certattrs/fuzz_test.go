package certattrs

import (
	"bytes"
	"crypto/x509"
	"crypto/x509/pkix"
	"reflect"
	"testing"
)

// FuzzDecodeAttrs: UnmarshalJSON never panics, and whatever it accepts validates, marshals
// back to a canonical document that decodes to the same value (also through Encode and
// Decode), and marshals again to the same bytes.
func FuzzDecodeAttrs(f *testing.F) {
	for _, a := range validAttrs() {
		doc, err := MarshalJSON(a)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(doc)
	}
	for _, doc := range validDocs {
		f.Add([]byte(doc))
	}
	for _, doc := range []string{
		relayJSON + "x",
		`{"attrs":{"type":"relay","type":"relay"}}`,
		`{"attrs":{"type":"server","uuid":"1a2b3c4d-5e6f-4a0b-9c1d-2e3f4a5b6c7d","name":"s","port":0,"resources":[{"uuid":"d1e2f3a4-b5c6-4d7e-8f90-a1b2c3d4e5f6","name":"r","type":"cidr","host":"::ffff:10.0.0.0/104","ports":"1-2"}]}}`,
		`{"attrs":{"type":"client","uuid":"6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b","name":"\u0000","port":1e3}}`,
		`{"attrs":[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]}`,
		`{"attrs":{"type":"relay","uuid":"0b7f3c1e-8a2d-4f5e-9c6b-1d2e3f4a5b6c","name":"\ud800","address":"wss://[::1]:1/x","port":65535}}`,
		"", "null", "{}", `{"attrs":null}`,
	} {
		f.Add([]byte(doc))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		a, err := UnmarshalJSON(doc)
		if err != nil {
			return
		}
		if err := a.Validate(); err != nil {
			t.Fatalf("decoded value does not validate: %v", err)
		}
		out, err := MarshalJSON(a)
		if err != nil {
			t.Fatalf("MarshalJSON of a decoded value: %v", err)
		}
		b, err := UnmarshalJSON(out)
		if err != nil {
			t.Fatalf("UnmarshalJSON(MarshalJSON(a)): %v\n%s", err, out)
		}
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("round trip changed the value:\n%+v\n%+v", a, b)
		}
		if again, _ := MarshalJSON(b); !bytes.Equal(again, out) {
			t.Fatalf("MarshalJSON is not canonical:\n%s\n%s", out, again)
		}
		ext, err := Encode(a)
		if err != nil {
			t.Fatalf("Encode of a decoded value: %v", err)
		}
		c, err := Decode(&x509.Certificate{Extensions: []pkix.Extension{ext}})
		if err != nil || !reflect.DeepEqual(a, c) {
			t.Fatalf("Decode(Encode(a)) = %+v, %v; want %+v", c, err, a)
		}
	})
}
