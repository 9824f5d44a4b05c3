package certattrs

import (
	"bytes"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// Role reports which role the attributes grant ("" when none is set).
func (a Attrs) Role() Role {
	switch {
	case a.Client != nil:
		return RoleClient
	case a.Server != nil:
		return RoleServer
	case a.Relay != nil:
		return RoleRelay
	}
	return ""
}

// UUID is the component's stable identity ("" when no role is set).
func (a Attrs) UUID() string {
	switch {
	case a.Client != nil:
		return a.Client.UUID
	case a.Server != nil:
		return a.Server.UUID
	case a.Relay != nil:
		return a.Relay.UUID
	}
	return ""
}

// Name is the component's human name ("" when no role is set).
func (a Attrs) Name() string {
	switch {
	case a.Client != nil:
		return a.Client.Name
	case a.Server != nil:
		return a.Server.Name
	case a.Relay != nil:
		return a.Relay.Name
	}
	return ""
}

// Encode validates a and returns the non-critical extension carrying it: OID, and a DER
// UTF8String holding MarshalJSON(a).
func Encode(a Attrs) (pkix.Extension, error) {
	doc, err := MarshalJSON(a)
	if err != nil {
		return pkix.Extension{}, fmt.Errorf("certattrs: encode: %w", err)
	}
	der, err := asn1.MarshalWithParams(string(doc), "utf8")
	if err != nil {
		return pkix.Extension{}, fmt.Errorf("certattrs: encode: %w", err)
	}
	return pkix.Extension{Id: OID, Critical: false, Value: der}, nil
}

// Decode finds the extension in cert and decodes it strictly: exactly one extension with
// OID, not critical, whose value is exactly one DER UTF8String holding a document that
// UnmarshalJSON accepts. A certificate without the extension gives an error wrapping
// ErrNoExtension. Decode does not verify the certificate itself.
func Decode(cert *x509.Certificate) (Attrs, error) {
	if cert == nil {
		return Attrs{}, errors.New("certattrs: nil certificate")
	}
	var ext *pkix.Extension
	for i := range cert.Extensions {
		if !cert.Extensions[i].Id.Equal(OID) {
			continue
		}
		if ext != nil {
			return Attrs{}, fmt.Errorf("certattrs: extension %s appears more than once", OIDString)
		}
		ext = &cert.Extensions[i]
	}
	if ext == nil {
		return Attrs{}, fmt.Errorf("certattrs: %w", ErrNoExtension)
	}
	if ext.Critical {
		return Attrs{}, fmt.Errorf("certattrs: extension %s is marked critical", OIDString)
	}
	// A DER header of a string up to MaxDocumentSize is at most 4 bytes.
	if len(ext.Value) > MaxDocumentSize+4 {
		return Attrs{}, fmt.Errorf("certattrs: extension %s is %d bytes, over the %d-byte document limit",
			OIDString, len(ext.Value), MaxDocumentSize)
	}
	var raw asn1.RawValue
	rest, err := asn1.Unmarshal(ext.Value, &raw)
	if err != nil {
		return Attrs{}, fmt.Errorf("certattrs: extension %s: %w", OIDString, err)
	}
	if len(rest) != 0 {
		return Attrs{}, fmt.Errorf("certattrs: extension %s: %d trailing bytes after the UTF8String", OIDString, len(rest))
	}
	if raw.Class != asn1.ClassUniversal || raw.Tag != asn1.TagUTF8String || raw.IsCompound {
		return Attrs{}, fmt.Errorf("certattrs: extension %s: value is not a UTF8String (class %d, tag %d)", OIDString, raw.Class, raw.Tag)
	}
	a, err := UnmarshalJSON(raw.Bytes)
	if err != nil {
		return Attrs{}, fmt.Errorf("certattrs: %w", err)
	}
	return a, nil
}

// MarshalJSON validates a and returns the {"attrs": {...}} document: "type" first, then
// the role's fields in struct order. Its output is at most MaxDocumentSize bytes and
// UnmarshalJSON accepts it.
func MarshalJSON(a Attrs) ([]byte, error) {
	if err := a.Validate(); err != nil {
		return nil, err
	}
	doc, err := marshalDoc(a)
	if err != nil {
		return nil, fmt.Errorf("marshal attrs: %w", err)
	}
	if len(doc) > MaxDocumentSize {
		return nil, fmt.Errorf("attrs document is %d bytes, over the %d-byte limit", len(doc), MaxDocumentSize)
	}
	return doc, nil
}

// UnmarshalJSON strictly decodes a {"attrs": {...}} document and validates it. Unknown,
// duplicate and missing fields, wrong types, trailing data, invalid UTF-8 and documents over
// MaxDocumentSize are errors; field errors are *FieldError naming the field, e.g.
// "attrs.resources[1].host: invalid CIDR \"10.0.0/33\"". Empty arrays decode as nil slices;
// resource prefixes come back masked.
func UnmarshalJSON(doc []byte) (Attrs, error) {
	if len(doc) > MaxDocumentSize {
		return Attrs{}, fmt.Errorf("attrs document is %d bytes, over the %d-byte limit", len(doc), MaxDocumentSize)
	}
	if !utf8.Valid(doc) {
		return Attrs{}, errors.New("attrs document is not valid UTF-8")
	}
	root, err := parseTree(doc)
	if err != nil {
		return Attrs{}, fmt.Errorf("attrs document: %w", err)
	}
	a, err := decodeDocument(root)
	if err != nil {
		return Attrs{}, err
	}
	if err := a.Validate(); err != nil {
		return Attrs{}, err
	}
	return a, nil
}

// IdentityDNS is the SAN "<uuid>.<role>.sentinel.internal".
func IdentityDNS(role Role, uuid string) string { return uuid + "." + string(role) + "." + DNSSuffix }

// marshalDoc writes the document without validating a.
func marshalDoc(a Attrs) ([]byte, error) {
	var body any
	switch {
	case a.Client != nil:
		body = struct {
			Type Role `json:"type"`
			*Client
		}{RoleClient, a.Client}
	case a.Server != nil:
		body = struct {
			Type Role `json:"type"`
			*Server
		}{RoleServer, a.Server}
	default:
		body = struct {
			Type Role `json:"type"`
			*Relay
		}{RoleRelay, a.Relay}
	}
	return marshal(struct {
		Attrs any `json:"attrs"`
	}{body})
}

// marshal is json.Marshal without HTML escaping.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
