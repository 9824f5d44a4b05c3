package certattrs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"math/big"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// Fixed RFC 4122 version 4 UUIDs.
const (
	uuidClient = "6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b"
	uuidServer = "1a2b3c4d-5e6f-4a0b-9c1d-2e3f4a5b6c7d"
	uuidRelay1 = "0b7f3c1e-8a2d-4f5e-9c6b-1d2e3f4a5b6c"
	uuidRelay2 = "c3d4e5f6-a7b8-4c9d-a0e1-f2a3b4c5d6e7"
	uuidRes1   = "d1e2f3a4-b5c6-4d7e-8f90-a1b2c3d4e5f6"
	uuidRes2   = "e2f3a4b5-c6d7-4e8f-b0a1-b2c3d4e5f6a7"
)

func relayRefs() []RelayRef {
	return []RelayRef{
		{UUID: uuidRelay1, Name: "relay1", Addr: "relay1.example.com", Port: 8443, Sort: 0},
		{UUID: uuidRelay2, Name: "relay2", Addr: "wss://cdn.example.com/sentinel", Port: 443, Sort: 1},
	}
}

// validClient returns a client exercising every optional field.
func validClient() Attrs {
	return Attrs{Client: &Client{
		UUID:   uuidClient,
		Name:   "alice",
		Port:   48080,
		Relays: relayRefs(),
		Server: ServerRef{UUID: uuidServer, Name: "server1", Addr: "server1.example.com", OutPort: 9443},
		Target: Target{Host: "10.0.0.5", Port: 3306},
		User:   "alice@example.com",
		Groups: []string{"dba", "oncall"},
		Schedule: &Schedule{
			TZ: "Europe/Paris", Days: []string{"mon", "tue", "wed", "thu", "fri"}, From: "08:00", To: "19:00",
		},
	}}
}

func validServer() Attrs {
	return Attrs{Server: &Server{
		UUID:    uuidServer,
		Name:    "server1",
		Host:    "server1.example.com",
		Port:    9443,
		OutPort: 9443,
		Resources: []Resource{
			{UUID: uuidRes1, Name: "mariadb", Type: ResourceCIDR,
				Prefix: netip.MustParsePrefix("10.0.0.0/24"), Ports: PortRange{3306, 3306}},
			{UUID: uuidRes2, Name: "web", Type: ResourceCIDR,
				Prefix: netip.MustParsePrefix("2001:db8::/32"), Ports: PortRange{8000, 8100}},
		},
		Relays: relayRefs(),
	}}
}

func validRelay() Attrs {
	return Attrs{Relay: &Relay{UUID: uuidRelay1, Name: "relay1", Address: "relay1.example.com", Port: 8443}}
}

func validAttrs() map[string]Attrs {
	return map[string]Attrs{"client": validClient(), "server": validServer(), "relay": validRelay()}
}

// validDocs are hand-written documents, one per role, in the shape DESIGN.md gives.
var validDocs = map[string]string{
	"client": `{"attrs": {"type": "client", "uuid": "6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b", "name": "alice",
		"port": 48080,
		"relays": [{"uuid": "0b7f3c1e-8a2d-4f5e-9c6b-1d2e3f4a5b6c", "name": "relay1", "addr": "relay1.example.com", "port": 8443, "sort": 0}],
		"server": {"uuid": "1a2b3c4d-5e6f-4a0b-9c1d-2e3f4a5b6c7d", "name": "server1"},
		"target": {"host": "db.internal.example", "port": 3306},
		"user": "alice@example.com", "groups": ["dba"],
		"schedule": {"tz": "Europe/Paris", "days": ["mon", "fri"], "from": "22:00", "to": "06:00"}}}`,
	"server": `{"attrs": {"type": "server", "uuid": "1a2b3c4d-5e6f-4a0b-9c1d-2e3f4a5b6c7d", "name": "server1",
		"port": 0,
		"resources": [
			{"uuid": "d1e2f3a4-b5c6-4d7e-8f90-a1b2c3d4e5f6", "name": "mariadb", "type": "cidr", "host": "192.168.2.80/16", "port": 3306},
			{"uuid": "e2f3a4b5-c6d7-4e8f-b0a1-b2c3d4e5f6a7", "name": "web", "type": "cidr", "host": "2001:db8::/32", "ports": "8000-8100"}],
		"relays": [{"uuid": "0b7f3c1e-8a2d-4f5e-9c6b-1d2e3f4a5b6c", "name": "relay1", "addr": "relay1.example.com", "port": 8443, "sort": 0}]}}`,
	"relay": `{"attrs": {"type": "relay", "uuid": "0b7f3c1e-8a2d-4f5e-9c6b-1d2e3f4a5b6c", "name": "relay1",
		"address": "relay1.example.com", "port": 8443}}`,
}

// selfSigned returns a parsed certificate carrying exts.
func selfSigned(t testing.TB, exts ...pkix.Extension) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:    big.NewInt(1),
		Subject:         pkix.Name{CommonName: "test"},
		NotBefore:       time.Now().Add(-time.Minute),
		NotAfter:        time.Now().Add(time.Hour),
		ExtraExtensions: exts,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatalf("create certificate: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("parse certificate: %v", err)
	}
	return cert
}

// mutateDoc marshals a, lets f edit the document as generic JSON, and returns it.
func mutateDoc(t testing.TB, a Attrs, f func(attrs map[string]any)) []byte {
	t.Helper()
	doc, err := MarshalJSON(a)
	if err != nil {
		t.Fatalf("marshal fixture: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(doc, &m); err != nil {
		t.Fatal(err)
	}
	f(m["attrs"].(map[string]any))
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// at walks a generic JSON value by keys and indexes: at(m, "relays", 0) is m["relays"][0].
func at(v any, path ...any) map[string]any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			v = v.(map[string]any)[k]
		case int:
			v = v.([]any)[k]
		}
	}
	return v.(map[string]any)
}

// wantFieldErr checks that err is a *FieldError for field whose text contains msg.
func wantFieldErr(t *testing.T, err error, field, msg string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s: ...%s...", field, msg)
	}
	var fe *FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("error %q is not a *FieldError", err)
	}
	if fe.Field != field {
		t.Errorf("error %q names field %q, want %q", err, fe.Field, field)
	}
	if !strings.Contains(err.Error(), field+": ") || !strings.Contains(err.Error(), msg) {
		t.Errorf("error %q, want it to contain %q and %q", err, field+": ", msg)
	}
}
