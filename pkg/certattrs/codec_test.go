package certattrs

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

func TestRoleUUIDName(t *testing.T) {
	tests := map[string]struct {
		a               Attrs
		role            Role
		uuid, name, dns string
	}{
		"client": {validClient(), RoleClient, uuidClient, "alice", uuidClient + ".client.sentinel.internal"},
		"server": {validServer(), RoleServer, uuidServer, "server1", uuidServer + ".server.sentinel.internal"},
		"relay":  {validRelay(), RoleRelay, uuidRelay1, "relay1", uuidRelay1 + ".relay.sentinel.internal"},
		"none":   {Attrs{}, "", "", "", ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := tc.a.Role(); got != tc.role {
				t.Errorf("Role() = %q, want %q", got, tc.role)
			}
			if got := tc.a.UUID(); got != tc.uuid {
				t.Errorf("UUID() = %q, want %q", got, tc.uuid)
			}
			if got := tc.a.Name(); got != tc.name {
				t.Errorf("Name() = %q, want %q", got, tc.name)
			}
			if tc.role != "" {
				if got := IdentityDNS(tc.role, tc.uuid); got != tc.dns {
					t.Errorf("IdentityDNS = %q, want %q", got, tc.dns)
				}
			}
		})
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	for name, a := range validAttrs() {
		t.Run(name, func(t *testing.T) {
			ext, err := Encode(a)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			if !ext.Id.Equal(OID) || ext.Id.String() != OIDString {
				t.Errorf("extension id %v, want %s", ext.Id, OIDString)
			}
			if ext.Critical {
				t.Error("extension is critical, want non-critical")
			}
			cert := selfSigned(t, ext)
			var found bool
			for _, e := range cert.Extensions {
				if e.Id.Equal(OID) {
					found = true
					if e.Critical {
						t.Error("parsed certificate marks the extension critical")
					}
				}
			}
			if !found {
				t.Fatal("extension missing from the parsed certificate")
			}
			got, err := Decode(cert)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !reflect.DeepEqual(got, a) {
				t.Errorf("Decode(Encode(a)) = %+v, want %+v", got, a)
			}
		})
	}
}

func TestEncodeValueIsUTF8StringOfTheDocument(t *testing.T) {
	a := validRelay()
	ext, err := Encode(a)
	if err != nil {
		t.Fatal(err)
	}
	var raw asn1.RawValue
	rest, err := asn1.Unmarshal(ext.Value, &raw)
	if err != nil || len(rest) != 0 {
		t.Fatalf("asn1: %v, %d trailing bytes", err, len(rest))
	}
	if raw.Class != asn1.ClassUniversal || raw.Tag != asn1.TagUTF8String {
		t.Errorf("value class %d tag %d, want universal UTF8String (%d)", raw.Class, raw.Tag, asn1.TagUTF8String)
	}
	want := `{"attrs":{"type":"relay","uuid":"` + uuidRelay1 + `","name":"relay1","address":"relay1.example.com","port":8443}}`
	if string(raw.Bytes) != want {
		t.Errorf("document\n%s\nwant\n%s", raw.Bytes, want)
	}
}

func TestDecodeMasksHostBits(t *testing.T) {
	a := validServer()
	a.Server.Resources[0].Prefix = netip.MustParsePrefix("192.168.2.80/16")
	got, err := Decode(selfSigned(t, mustEncode(t, a)))
	if err != nil {
		t.Fatal(err)
	}
	if p := got.Server.Resources[0].Prefix; p != netip.MustParsePrefix("192.168.0.0/16") {
		t.Errorf("prefix %v, want 192.168.0.0/16", p)
	}
	a.Server.Resources[0].Prefix = a.Server.Resources[0].Prefix.Masked()
	if !reflect.DeepEqual(got, a) {
		t.Errorf("got %+v, want %+v", got, a)
	}
}

func mustEncode(t testing.TB, a Attrs) pkix.Extension {
	t.Helper()
	ext, err := Encode(a)
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	return ext
}

func utf8Ext(s string) pkix.Extension {
	der, err := asn1.MarshalWithParams(s, "utf8")
	if err != nil {
		panic(err)
	}
	return pkix.Extension{Id: OID, Value: der}
}

func TestDecodeExtension(t *testing.T) {
	good := mustEncode(t, validRelay())
	doc, _ := MarshalJSON(validRelay())
	otherOID := pkix.Extension{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 62297, 1, 2}, Value: good.Value}
	tests := map[string]struct {
		cert func(t *testing.T) *x509.Certificate
		want string // "" = decodes
		is   error
	}{
		"ok":                   {cert: func(t *testing.T) *x509.Certificate { return selfSigned(t, good) }},
		"ok/next-to-other-oid": {cert: func(t *testing.T) *x509.Certificate { return selfSigned(t, otherOID, good) }},
		"fail/nil": {
			cert: func(t *testing.T) *x509.Certificate { return nil },
			want: "certattrs: nil certificate",
		},
		"fail/missing": {
			cert: func(t *testing.T) *x509.Certificate { return selfSigned(t, otherOID) },
			want: "certattrs: no sentinel attributes extension (1.3.6.1.4.1.62297.1.1)",
			is:   ErrNoExtension,
		},
		"fail/duplicate": {
			// crypto/x509 refuses to create or parse a certificate with a repeated
			// extension, so the duplicate is put into a parsed one directly.
			cert: func(t *testing.T) *x509.Certificate {
				c := selfSigned(t, good)
				c.Extensions = append(c.Extensions, good)
				return c
			},
			want: "extension 1.3.6.1.4.1.62297.1.1 appears more than once",
		},
		"fail/critical": {
			cert: func(t *testing.T) *x509.Certificate {
				ext := good
				ext.Critical = true
				return &x509.Certificate{Extensions: []pkix.Extension{ext}}
			},
			want: "is marked critical",
		},
		"fail/trailing-asn1": {
			cert: func(t *testing.T) *x509.Certificate {
				ext := good
				ext.Value = append(append([]byte(nil), good.Value...), 0x05, 0x00)
				return selfSigned(t, ext)
			},
			want: "2 trailing bytes after the UTF8String",
		},
		"fail/printable-string": {
			cert: func(t *testing.T) *x509.Certificate {
				der, _ := asn1.MarshalWithParams("abc", "printable")
				return selfSigned(t, pkix.Extension{Id: OID, Value: der})
			},
			want: "value is not a UTF8String (class 0, tag 19)",
		},
		"fail/sequence": {
			cert: func(t *testing.T) *x509.Certificate {
				der, _ := asn1.Marshal(struct{ S string }{string(doc)})
				return selfSigned(t, pkix.Extension{Id: OID, Value: der})
			},
			want: "value is not a UTF8String",
		},
		"fail/octet-string": {
			cert: func(t *testing.T) *x509.Certificate {
				der, _ := asn1.Marshal(doc)
				return selfSigned(t, pkix.Extension{Id: OID, Value: der})
			},
			want: "value is not a UTF8String (class 0, tag 4)",
		},
		"fail/truncated": {
			cert: func(t *testing.T) *x509.Certificate {
				return &x509.Certificate{Extensions: []pkix.Extension{{Id: OID, Value: good.Value[:len(good.Value)-1]}}}
			},
			want: "certattrs: extension 1.3.6.1.4.1.62297.1.1: asn1:",
		},
		"fail/empty-value": {
			cert: func(t *testing.T) *x509.Certificate {
				return &x509.Certificate{Extensions: []pkix.Extension{{Id: OID}}}
			},
			want: "certattrs: extension 1.3.6.1.4.1.62297.1.1: asn1:",
		},
		"fail/oversized-document": {
			cert: func(t *testing.T) *x509.Certificate {
				padded := string(doc) + strings.Repeat(" ", MaxDocumentSize+1-len(doc))
				return selfSigned(t, utf8Ext(padded))
			},
			want: "is 16389 bytes, over the 16384-byte document limit",
		},
		"fail/oversized-value": {
			cert: func(t *testing.T) *x509.Certificate {
				return selfSigned(t, utf8Ext(strings.Repeat(" ", 2*MaxDocumentSize)))
			},
			want: "over the 16384-byte document limit",
		},
		"fail/invalid-document": {
			cert: func(t *testing.T) *x509.Certificate {
				return selfSigned(t, utf8Ext(`{"attrs":{"type":"relay","port":70000}}`))
			},
			want: "certattrs: attrs.uuid: missing",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			a, err := Decode(tc.cert(t))
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Decode: %v", err)
				}
				if !reflect.DeepEqual(a, validRelay()) {
					t.Errorf("got %+v", a)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v is not %v", err, tc.is)
			}
		})
	}
}

func TestDocumentExactlyAtLimit(t *testing.T) {
	doc, _ := MarshalJSON(validRelay())
	padded := string(doc) + strings.Repeat("\n", MaxDocumentSize-len(doc))
	if _, err := Decode(selfSigned(t, utf8Ext(padded))); err != nil {
		t.Fatalf("document of exactly %d bytes: %v", MaxDocumentSize, err)
	}
}

func TestEncodeRefusesOversizedDocument(t *testing.T) {
	a := validServer()
	a.Server.Relays = nil
	for i := 0; i < 200; i++ {
		a.Server.Relays = append(a.Server.Relays, RelayRef{
			UUID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i), Name: strings.Repeat("r", 40),
			Addr: "relay.example.com", Port: 443,
		})
	}
	_, err := Encode(a)
	if err == nil || !strings.Contains(err.Error(), "over the 16384-byte limit") {
		t.Fatalf("Encode error %v, want a size error", err)
	}
	if _, err := MarshalJSON(a); err == nil {
		t.Fatal("MarshalJSON accepted an oversized document")
	}
}

func TestMarshalUnmarshalRoundTrip(t *testing.T) {
	for name, a := range validAttrs() {
		t.Run(name, func(t *testing.T) {
			doc, err := MarshalJSON(a)
			if err != nil {
				t.Fatalf("MarshalJSON: %v", err)
			}
			got, err := UnmarshalJSON(doc)
			if err != nil {
				t.Fatalf("UnmarshalJSON(%s): %v", doc, err)
			}
			if !reflect.DeepEqual(got, a) {
				t.Errorf("round trip = %+v, want %+v", got, a)
			}
			again, err := MarshalJSON(got)
			if err != nil || string(again) != string(doc) {
				t.Errorf("second MarshalJSON = %s, %v; want %s", again, err, doc)
			}
		})
	}
}

func TestUnmarshalValidDocuments(t *testing.T) {
	for role, doc := range validDocs {
		t.Run(role, func(t *testing.T) {
			a, err := UnmarshalJSON([]byte(doc))
			if err != nil {
				t.Fatalf("UnmarshalJSON: %v", err)
			}
			if string(a.Role()) != role {
				t.Errorf("role %q, want %q", a.Role(), role)
			}
			out, err := MarshalJSON(a)
			if err != nil {
				t.Fatal(err)
			}
			b, err := UnmarshalJSON(out)
			if err != nil || !reflect.DeepEqual(a, b) {
				t.Errorf("re-decode = %+v, %v; want %+v", b, err, a)
			}
		})
	}
	a, _ := UnmarshalJSON([]byte(validDocs["server"]))
	want := []Resource{
		{UUID: uuidRes1, Name: "mariadb", Type: "cidr", Prefix: netip.MustParsePrefix("192.168.0.0/16"), Ports: PortRange{3306, 3306}},
		{UUID: uuidRes2, Name: "web", Type: "cidr", Prefix: netip.MustParsePrefix("2001:db8::/32"), Ports: PortRange{8000, 8100}},
	}
	if !reflect.DeepEqual(a.Server.Resources, want) {
		t.Errorf("resources %+v, want %+v", a.Server.Resources, want)
	}
}

func TestUnmarshalEmptyArraysAreNil(t *testing.T) {
	doc := mutateDoc(t, validClient(), func(m map[string]any) {
		m["relays"], m["groups"] = []any{}, []any{}
		at(m, "schedule")["days"] = []any{}
	})
	a, err := UnmarshalJSON(doc)
	if err != nil {
		t.Fatal(err)
	}
	if a.Client.Relays != nil || a.Client.Groups != nil || a.Client.Schedule.Days != nil {
		t.Errorf("got %+v, want nil relays, groups and days", a.Client)
	}
}

type decodeCase struct {
	doc   []byte
	field string // "" for a document-level error
	msg   string
}

func clientDoc(field, msg string, f func(m map[string]any)) func(*testing.T) decodeCase {
	return func(t *testing.T) decodeCase { return decodeCase{mutateDoc(t, validClient(), f), field, msg} }
}

func serverDoc(field, msg string, f func(m map[string]any)) func(*testing.T) decodeCase {
	return func(t *testing.T) decodeCase { return decodeCase{mutateDoc(t, validServer(), f), field, msg} }
}

func relayDoc(field, msg string, f func(m map[string]any)) func(*testing.T) decodeCase {
	return func(t *testing.T) decodeCase { return decodeCase{mutateDoc(t, validRelay(), f), field, msg} }
}

func rawDoc(doc, field, msg string) func(*testing.T) decodeCase {
	return func(t *testing.T) decodeCase { return decodeCase{[]byte(doc), field, msg} }
}

func setResourceJSON(i int, key string, v any) func(m map[string]any) {
	return func(m map[string]any) {
		r := at(m, "resources", i)
		delete(r, "port")
		delete(r, "ports")
		r[key] = v
	}
}

const relayJSON = `{"attrs":{"type":"relay","uuid":"0b7f3c1e-8a2d-4f5e-9c6b-1d2e3f4a5b6c","name":"relay1","address":"relay1.example.com","port":8443}}`

func TestUnmarshalStrict(t *testing.T) {
	tests := map[string]func(t *testing.T) decodeCase{
		"ok/relay":               rawDoc(relayJSON, "", ""),
		"ok/white-space":         rawDoc(" \n\t"+relayJSON+"\r\n ", "", ""),
		"ok/keys-in-any-order":   rawDoc(`{"attrs":{"port":8443,"address":"relay1.example.com","name":"relay1","uuid":"0b7f3c1e-8a2d-4f5e-9c6b-1d2e3f4a5b6c","type":"relay"}}`, "", ""),
		"ok/resource-ports-same": serverDoc("", "", setResourceJSON(0, "ports", "3306-3306")),
		"ok/server-port-zero":    serverDoc("", "", func(m map[string]any) { m["port"] = 0; m["out_port"] = 0 }),

		// Document level.
		"fail/empty":             rawDoc("", "", "attrs document: invalid JSON"),
		"fail/not-json":          rawDoc("attrs", "", "attrs document: invalid JSON"),
		"fail/truncated":         rawDoc(relayJSON[:len(relayJSON)-1], "", "attrs document: invalid JSON"),
		"fail/trailing-garbage":  rawDoc(relayJSON+"x", "", "attrs document: trailing data after JSON document"),
		"fail/trailing-object":   rawDoc(relayJSON+relayJSON, "", "trailing data after JSON document"),
		"fail/trailing-comma":    rawDoc(strings.Replace(relayJSON, `8443}`, `8443,}`, 1), "", "invalid JSON"),
		"fail/invalid-utf8":      rawDoc(strings.Replace(relayJSON, "relay1", "relay\xff", 1), "", "attrs document is not valid UTF-8"),
		"fail/too-large":         rawDoc(relayJSON+strings.Repeat(" ", MaxDocumentSize), "", "attrs document is 16515 bytes, over the 16384-byte limit"),
		"fail/deep-nesting":      rawDoc(`{"attrs":`+strings.Repeat("[", 100)+strings.Repeat("]", 100)+`}`, "", "nested deeper than 16 levels"),
		"fail/top-not-object":    rawDoc(`["attrs"]`, "", "want object, got array"),
		"fail/top-null":          rawDoc(`null`, "", "want object, got null"),
		"fail/top-unknown-field": rawDoc(`{"attrs":{},"version":1}`, "version", "unknown field"),
		"fail/top-duplicate":     rawDoc(`{"attrs":{},"attrs":{}}`, "attrs", "duplicate field"),
		"fail/attrs-missing":     rawDoc(`{}`, "attrs", "missing"),
		"fail/attrs-not-object":  rawDoc(`{"attrs":"relay"}`, "attrs", "want object, got string"),
		"fail/attrs-wrong-case":  rawDoc(`{"Attrs":{}}`, "Attrs", "unknown field"),

		// type.
		"fail/type-missing":  relayDoc("attrs.type", "missing", func(m map[string]any) { delete(m, "type") }),
		"fail/type-unknown":  relayDoc("attrs.type", `unknown role "admin" (want client, server or relay)`, func(m map[string]any) { m["type"] = "admin" }),
		"fail/type-number":   relayDoc("attrs.type", "want string, got number 3", func(m map[string]any) { m["type"] = 3 }),
		"fail/type-case":     relayDoc("attrs.type", `unknown role "Relay"`, func(m map[string]any) { m["type"] = "Relay" }),
		"fail/type-mismatch": relayDoc("attrs.target", "unknown field", func(m map[string]any) { m["target"] = map[string]any{} }),

		// Unknown fields, at every level.
		"fail/unknown/relay":            relayDoc("attrs.relays", "unknown field", func(m map[string]any) { m["relays"] = []any{} }),
		"fail/unknown/client-address":   clientDoc("attrs.address", "unknown field", func(m map[string]any) { m["address"] = "x" }),
		"fail/unknown/server-target":    serverDoc("attrs.target", "unknown field", func(m map[string]any) { m["target"] = nil }),
		"fail/unknown/key-case":         relayDoc("attrs.UUID", "unknown field", func(m map[string]any) { m["UUID"] = uuidRelay1 }),
		"fail/unknown/relays-entry":     clientDoc("attrs.relays[1].weight", "unknown field", func(m map[string]any) { at(m, "relays", 1)["weight"] = 1 }),
		"fail/unknown/server-block":     clientDoc("attrs.server.port", "unknown field", func(m map[string]any) { at(m, "server")["port"] = 1 }),
		"fail/unknown/target":           clientDoc("attrs.target.proto", "unknown field", func(m map[string]any) { at(m, "target")["proto"] = "tcp" }),
		"fail/unknown/schedule":         clientDoc("attrs.schedule.dates", "unknown field", func(m map[string]any) { at(m, "schedule")["dates"] = []any{} }),
		"fail/unknown/resource":         serverDoc("attrs.resources[1].proto", "unknown field", func(m map[string]any) { at(m, "resources", 1)["proto"] = "tcp" }),
		"fail/unknown/server-relays":    serverDoc("attrs.relays[0].x", "unknown field", func(m map[string]any) { at(m, "relays", 0)["x"] = true }),
		"fail/duplicate/attrs-field":    rawDoc(strings.Replace(relayJSON, `"port":8443`, `"port":8443,"port":8444`, 1), "attrs.port", "duplicate field"),
		"fail/duplicate/type":           rawDoc(strings.Replace(relayJSON, `"type":"relay"`, `"type":"relay","type":"relay"`, 1), "attrs.type", "duplicate field"),
		"fail/duplicate/nested":         rawDoc(strings.Replace(validDocs["client"], `"port": 3306`, `"port": 3306, "port": 22`, 1), "attrs.target.port", "duplicate field"),
		"fail/duplicate/resource-port":  rawDoc(strings.Replace(validDocs["server"], `"port": 3306`, `"port": 3306, "port": 3306`, 1), "attrs.resources[0].port", "duplicate field"),
		"fail/duplicate/escaped-key":    rawDoc(strings.Replace(relayJSON, `"port":8443`, `"port":8443,"p\u006frt":1`, 1), "attrs.port", "duplicate field"),
		"fail/missing/client-port":      clientDoc("attrs.port", "missing", func(m map[string]any) { delete(m, "port") }),
		"fail/missing/client-server":    clientDoc("attrs.server", "missing", func(m map[string]any) { delete(m, "server") }),
		"fail/missing/client-target":    clientDoc("attrs.target", "missing", func(m map[string]any) { delete(m, "target") }),
		"fail/missing/relays-sort":      clientDoc("attrs.relays[0].sort", "missing", func(m map[string]any) { delete(at(m, "relays", 0), "sort") }),
		"fail/missing/relays-uuid":      clientDoc("attrs.relays[0].uuid", "missing", func(m map[string]any) { delete(at(m, "relays", 0), "uuid") }),
		"fail/missing/relays-addr":      serverDoc("attrs.relays[1].addr", "missing", func(m map[string]any) { delete(at(m, "relays", 1), "addr") }),
		"fail/missing/server-uuid":      clientDoc("attrs.server.uuid", "missing", func(m map[string]any) { delete(at(m, "server"), "uuid") }),
		"fail/missing/target-host":      clientDoc("attrs.target.host", "missing", func(m map[string]any) { delete(at(m, "target"), "host") }),
		"fail/missing/schedule-tz":      clientDoc("attrs.schedule.tz", "missing", func(m map[string]any) { delete(at(m, "schedule"), "tz") }),
		"fail/missing/schedule-to":      clientDoc("attrs.schedule.to", "missing", func(m map[string]any) { delete(at(m, "schedule"), "to") }),
		"fail/missing/server-port":      serverDoc("attrs.port", "missing", func(m map[string]any) { delete(m, "port") }),
		"fail/missing/server-resources": serverDoc("attrs.resources", "missing", func(m map[string]any) { delete(m, "resources") }),
		"fail/missing/resources-empty":  serverDoc("attrs.resources", "at least one resource", func(m map[string]any) { m["resources"] = []any{} }),
		"fail/missing/resource-type":    serverDoc("attrs.resources[0].type", "missing", func(m map[string]any) { delete(at(m, "resources", 0), "type") }),
		"fail/missing/resource-host":    serverDoc("attrs.resources[0].host", "missing", func(m map[string]any) { delete(at(m, "resources", 0), "host") }),
		"fail/missing/resource-port":    serverDoc("attrs.resources[0].port", "missing (want port or ports)", func(m map[string]any) { delete(at(m, "resources", 0), "port") }),
		"fail/missing/relay-address":    relayDoc("attrs.address", "missing", func(m map[string]any) { delete(m, "address") }),
		"fail/missing/relay-port":       relayDoc("attrs.port", "missing", func(m map[string]any) { delete(m, "port") }),

		// Wrong types.
		"fail/type/port-string":     relayDoc("attrs.port", `want integer, got string`, func(m map[string]any) { m["port"] = "8443" }),
		"fail/type/port-fraction":   rawDoc(strings.Replace(relayJSON, "8443", "8443.5", 1), "attrs.port", "want integer, got 8443.5"),
		"fail/type/port-float-zero": rawDoc(strings.Replace(relayJSON, "8443", "8443.0", 1), "attrs.port", "want integer, got 8443.0"),
		"fail/type/port-exponent":   rawDoc(strings.Replace(relayJSON, "8443", "8e3", 1), "attrs.port", "want integer, got 8e3"),
		"fail/type/port-huge":       rawDoc(strings.Replace(relayJSON, "8443", "99999999999999999999", 1), "attrs.port", "99999999999999999999 out of range"),
		"fail/type/port-bool":       relayDoc("attrs.port", "want integer, got true", func(m map[string]any) { m["port"] = true }),
		"fail/type/port-null":       relayDoc("attrs.port", "want integer, got null", func(m map[string]any) { m["port"] = nil }),
		"fail/type/name-number":     relayDoc("attrs.name", "want string, got number 7", func(m map[string]any) { m["name"] = 7 }),
		"fail/type/name-array":      relayDoc("attrs.name", "want string, got array", func(m map[string]any) { m["name"] = []any{"relay1"} }),
		"fail/type/user-null":       clientDoc("attrs.user", "want string, got null", func(m map[string]any) { m["user"] = nil }),
		"fail/type/relays-object":   clientDoc("attrs.relays", "want array, got object", func(m map[string]any) { m["relays"] = map[string]any{} }),
		"fail/type/relays-entry":    clientDoc("attrs.relays[1]", "want object, got string", func(m map[string]any) { m["relays"].([]any)[1] = uuidRelay2 }),
		"fail/type/groups-string":   clientDoc("attrs.groups", "want array, got string", func(m map[string]any) { m["groups"] = "dba" }),
		"fail/type/groups-entry":    clientDoc("attrs.groups[1]", "want string, got number 2", func(m map[string]any) { m["groups"] = []any{"dba", 2} }),
		"fail/type/server-string":   clientDoc("attrs.server", "want object, got string", func(m map[string]any) { m["server"] = uuidServer }),
		"fail/type/target-string":   clientDoc("attrs.target", "want object, got string", func(m map[string]any) { m["target"] = "10.0.0.5:3306" }),
		"fail/type/schedule-null":   clientDoc("attrs.schedule", "want object, got null", func(m map[string]any) { m["schedule"] = nil }),
		"fail/type/days-string":     clientDoc("attrs.schedule.days", "want array, got string", func(m map[string]any) { at(m, "schedule")["days"] = "mon-fri" }),
		"fail/type/sort-string":     clientDoc("attrs.relays[0].sort", "want integer, got string", func(m map[string]any) { at(m, "relays", 0)["sort"] = "1" }),
		"fail/type/out-port":        clientDoc("attrs.server.out_port", "want integer, got string", func(m map[string]any) { at(m, "server")["out_port"] = "9443" }),
		"fail/type/resources":       serverDoc("attrs.resources", "want array, got object", func(m map[string]any) { m["resources"] = at(m, "resources", 0) }),
		"fail/type/resource-host":   serverDoc("attrs.resources[0].host", "want string, got number", func(m map[string]any) { at(m, "resources", 0)["host"] = 10 }),
		"fail/type/resource-ports":  serverDoc("attrs.resources[1].ports", "want string, got number 8000", setResourceJSON(1, "ports", 8000)),
		"fail/type/resource-port":   serverDoc("attrs.resources[0].port", "want integer, got string", setResourceJSON(0, "port", "3306")),

		// Ranges and values checked while decoding.
		"fail/range/relay-port":          relayDoc("attrs.port", "70000 out of range 1-65535", func(m map[string]any) { m["port"] = 70000 }),
		"fail/range/server-port":         serverDoc("attrs.port", "70000 out of range 0-65535", func(m map[string]any) { m["port"] = 70000 }),
		"fail/range/server-out-port":     serverDoc("attrs.out_port", "-5 out of range 0-65535", func(m map[string]any) { m["out_port"] = -5 }),
		"fail/range/server-ref-out-port": clientDoc("attrs.server.out_port", "65536 out of range 0-65535", func(m map[string]any) { at(m, "server")["out_port"] = 65536 }),
		"fail/range/relays-port":         clientDoc("attrs.relays[1].port", "0 out of range 1-65535", func(m map[string]any) { at(m, "relays", 1)["port"] = 0 }),
		"fail/range/resource-port-0":     serverDoc("attrs.resources[0].port", "0 out of range 1-65535", setResourceJSON(0, "port", 0)),
		"fail/range/resource-port-big":   serverDoc("attrs.resources[0].port", "70000 out of range 1-65535", setResourceJSON(0, "port", 70000)),
		"fail/range/resource-port-neg":   serverDoc("attrs.resources[0].port", "-1 out of range 1-65535", setResourceJSON(0, "port", -1)),
		"fail/resource/port-and-ports": serverDoc("attrs.resources[0]", "both port and ports", func(m map[string]any) {
			at(m, "resources", 0)["ports"] = "1-2"
		}),
		"fail/resource/ports-reversed":  serverDoc("attrs.resources[1].ports", `invalid port range "8100-8000": first port above last`, setResourceJSON(1, "ports", "8100-8000")),
		"fail/resource/ports-plus":      serverDoc("attrs.resources[1].ports", `invalid port range "+8000-8100"`, setResourceJSON(1, "ports", "+8000-8100")),
		"fail/resource/ports-plus-last": serverDoc("attrs.resources[1].ports", `not a decimal number`, setResourceJSON(1, "ports", "8000-+8100")),
		"fail/resource/ports-minus":     serverDoc("attrs.resources[1].ports", `invalid port range "-8000-8100"`, setResourceJSON(1, "ports", "-8000-8100")),
		"fail/resource/ports-spaces":    serverDoc("attrs.resources[1].ports", `invalid port range "8000 - 8100"`, setResourceJSON(1, "ports", "8000 - 8100")),
		"fail/resource/ports-lead-sp":   serverDoc("attrs.resources[1].ports", `invalid port range " 8000-8100"`, setResourceJSON(1, "ports", " 8000-8100")),
		"fail/resource/ports-zero":      serverDoc("attrs.resources[1].ports", `port "0" out of range`, setResourceJSON(1, "ports", "0-8100")),
		"fail/resource/ports-lead-zero": serverDoc("attrs.resources[1].ports", `leading zero`, setResourceJSON(1, "ports", "08000-8100")),
		"fail/resource/ports-high":      serverDoc("attrs.resources[1].ports", `port "65536" out of range 1-65535`, setResourceJSON(1, "ports", "8000-65536")),
		"fail/resource/ports-long":      serverDoc("attrs.resources[1].ports", `port "100000000000000000000" out of range`, setResourceJSON(1, "ports", "1-100000000000000000000")),
		"fail/resource/ports-open":      serverDoc("attrs.resources[1].ports", `empty port`, setResourceJSON(1, "ports", "8000-")),
		"fail/resource/ports-three":     serverDoc("attrs.resources[1].ports", `not a decimal number`, setResourceJSON(1, "ports", "1-2-3")),
		"fail/resource/ports-empty":     serverDoc("attrs.resources[1].ports", `empty port`, setResourceJSON(1, "ports", "")),
		"fail/resource/ports-unicode":   serverDoc("attrs.resources[1].ports", `not a decimal number`, setResourceJSON(1, "ports", "８０００-8100")),
		"fail/resource/host-bad-cidr":   serverDoc("attrs.resources[1].host", `invalid CIDR "10.0.0/33"`, func(m map[string]any) { at(m, "resources", 1)["host"] = "10.0.0/33" }),
		"fail/resource/host-bits-33":    serverDoc("attrs.resources[0].host", `invalid CIDR "10.0.0.0/33"`, func(m map[string]any) { at(m, "resources", 0)["host"] = "10.0.0.0/33" }),
		"fail/resource/host-bare-ip":    serverDoc("attrs.resources[0].host", `invalid CIDR "10.0.0.5"`, func(m map[string]any) { at(m, "resources", 0)["host"] = "10.0.0.5" }),
		"fail/resource/host-name":       serverDoc("attrs.resources[0].host", `invalid CIDR "db.example.com/32"`, func(m map[string]any) { at(m, "resources", 0)["host"] = "db.example.com/32" }),
		"fail/resource/host-zone":       serverDoc("attrs.resources[0].host", `invalid CIDR "fe80::%eth0/64"`, func(m map[string]any) { at(m, "resources", 0)["host"] = "fe80::%eth0/64" }),
		"fail/resource/host-bits-lead0": serverDoc("attrs.resources[0].host", `invalid CIDR "10.0.0.0/024"`, func(m map[string]any) { at(m, "resources", 0)["host"] = "10.0.0.0/024" }),
		"fail/resource/host-4in6":       serverDoc("attrs.resources[0].host", `IPv4-mapped IPv6 prefix "::ffff:10.0.0.0/120" never matches; use 10.0.0.0/24`, func(m map[string]any) { at(m, "resources", 0)["host"] = "::ffff:10.0.0.0/120" }),
		"fail/resource/type-dns":        serverDoc("attrs.resources[0].type", `unknown resource type "dns"`, func(m map[string]any) { at(m, "resources", 0)["type"] = "dns" }),

		// Rules Validate enforces, reached through the decoder.
		"fail/value/uuid":      relayDoc("attrs.uuid", msgUUID, func(m map[string]any) { m["uuid"] = "not-a-uuid" }),
		"fail/value/name":      relayDoc("attrs.name", "missing", func(m map[string]any) { m["name"] = "" }),
		"fail/value/name-nul":  relayDoc("attrs.name", "control character U+0000", func(m map[string]any) { m["name"] = "a\x00" }),
		"fail/value/address":   relayDoc("attrs.address", msgAddr, func(m map[string]any) { m["address"] = "relay1.example.com:8443" }),
		"fail/value/relay-dup": clientDoc("attrs.relays[1].uuid", msgRelayDup, func(m map[string]any) { at(m, "relays", 1)["uuid"] = uuidRelay1 }),
		"fail/value/target":    clientDoc("attrs.target.host", msgHost, func(m map[string]any) { at(m, "target")["host"] = "db:3306" }),
		"fail/value/group":     clientDoc("attrs.groups[0]", "missing", func(m map[string]any) { m["groups"] = []any{""} }),
		"fail/value/tz":        clientDoc("attrs.schedule.tz", "unknown time zone", func(m map[string]any) { at(m, "schedule")["tz"] = "CEST" }),
		"fail/value/day":       clientDoc("attrs.schedule.days[0]", "unknown day", func(m map[string]any) { at(m, "schedule")["days"] = []any{"weekday"} }),
		"fail/value/from":      clientDoc("attrs.schedule.from", msgTime, func(m map[string]any) { at(m, "schedule")["from"] = "25:00" }),
	}
	for name, build := range tests {
		t.Run(name, func(t *testing.T) {
			tc := build(t)
			a, err := UnmarshalJSON(tc.doc)
			if strings.HasPrefix(name, "ok/") {
				if err != nil {
					t.Fatalf("UnmarshalJSON(%s): %v", tc.doc, err)
				}
				if err := a.Validate(); err != nil {
					t.Fatalf("decoded value does not validate: %v", err)
				}
				return
			}
			if tc.field == "" {
				if err == nil || !strings.Contains(err.Error(), tc.msg) {
					t.Fatalf("error %v, want it to contain %q", err, tc.msg)
				}
				return
			}
			wantFieldErr(t, err, tc.field, tc.msg)
		})
	}
}

func TestResourceJSONMethods(t *testing.T) {
	r := Resource{UUID: uuidRes1, Name: "<web>", Type: ResourceCIDR, Prefix: netip.MustParsePrefix("10.1.2.3/8"), Ports: PortRange{80, 90}}
	b, err := r.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"uuid":"` + uuidRes1 + `","name":"<web>","type":"cidr","host":"10.0.0.0/8","ports":"80-90"}`
	if string(b) != want {
		t.Errorf("MarshalJSON = %s, want %s", b, want)
	}
	var got Resource
	if err := got.UnmarshalJSON(b); err != nil {
		t.Fatal(err)
	}
	r.Prefix = r.Prefix.Masked()
	if got != r {
		t.Errorf("UnmarshalJSON = %+v, want %+v", got, r)
	}
	err = got.UnmarshalJSON([]byte(`{"uuid":"` + uuidRes1 + `","name":"x","type":"cidr","host":"10.0.0.0/8","port":0}`))
	wantFieldErr(t, err, "resource.port", "0 out of range 1-65535")
	if _, err := (Resource{}).MarshalJSON(); err == nil {
		t.Error("MarshalJSON of a resource without a prefix succeeded")
	}
}
