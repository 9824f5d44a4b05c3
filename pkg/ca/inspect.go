package ca

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"go.step.sm/crypto/pemutil"
	"go.step.sm/crypto/x509util"

	"github.com/sentinel-zt/sentinel/pkg/certattrs"
)

// CertInfo describes one certificate for people and scripts; it needs no CA directory.
type CertInfo struct {
	Subject      string    `json:"subject"`
	Issuer       string    `json:"issuer"`
	Serial       string    `json:"serial"` // lower-case hex, as in the inventory
	NotBefore    time.Time `json:"not_before"`
	NotAfter     time.Time `json:"not_after"`
	Fingerprint  string    `json:"sha256_fingerprint"` // hex
	KeyAlgorithm string    `json:"key_algorithm"`      // "ECDSA P-256", "Ed25519", ...
	IsCA         bool      `json:"is_ca"`
	KeyUsage     []string  `json:"key_usage"`
	ExtKeyUsage  []string  `json:"ext_key_usage"`
	DNSNames     []string  `json:"dns_names"`
	IPAddresses  []string  `json:"ip_addresses"`
	URIs         []string  `json:"uris,omitempty"`
	// Role is the role the Sentinel attributes grant; "" when the certificate has none.
	Role certattrs.Role `json:"role,omitempty"`
	// Attrs are the decoded attributes (nil without them); AttrsJSON is their JSON object.
	Attrs     *certattrs.Attrs `json:"-"`
	AttrsJSON json.RawMessage  `json:"attrs,omitempty"`
	// AttrsError says why an attributes extension that is present did not decode.
	AttrsError string `json:"attrs_error,omitempty"`
}

// ReadCertificates reads every certificate of a PEM file.
func ReadCertificates(path string) ([]*x509.Certificate, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, err
	}
	certs, err := pemutil.ReadCertificateBundle(path)
	if err != nil {
		return nil, err // names path already
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%s: no certificate", path)
	}
	return certs, nil
}

// Inspect describes cert, decoding its Sentinel attributes if it has any. A present but
// malformed attributes extension is reported in AttrsError, not as a failure, so the rest of
// the certificate can still be shown.
func Inspect(cert *x509.Certificate) CertInfo {
	info := CertInfo{
		Subject:      cert.Subject.String(),
		Issuer:       cert.Issuer.String(),
		Serial:       SerialString(cert),
		NotBefore:    cert.NotBefore.UTC(),
		NotAfter:     cert.NotAfter.UTC(),
		Fingerprint:  x509util.Fingerprint(cert),
		KeyAlgorithm: keyAlgorithm(cert),
		IsCA:         cert.IsCA,
		KeyUsage:     keyUsageNames(cert.KeyUsage),
		ExtKeyUsage:  extKeyUsageNames(cert.ExtKeyUsage),
		DNSNames:     append([]string{}, cert.DNSNames...),
		IPAddresses:  []string{},
	}
	for _, ip := range cert.IPAddresses {
		info.IPAddresses = append(info.IPAddresses, ip.String())
	}
	for _, u := range cert.URIs {
		info.URIs = append(info.URIs, u.String())
	}
	if !hasAttrs(cert) {
		return info
	}
	a, err := certattrs.Decode(cert)
	if err != nil {
		info.AttrsError = err.Error()
		return info
	}
	info.Attrs, info.Role = &a, a.Role()
	if doc, err := certattrs.MarshalJSON(a); err == nil {
		info.AttrsJSON = innerAttrs(doc)
	}
	return info
}

func hasAttrs(cert *x509.Certificate) bool {
	for _, e := range cert.Extensions {
		if e.Id.Equal(certattrs.OID) {
			return true
		}
	}
	return false
}

func keyAlgorithm(cert *x509.Certificate) string {
	switch k := cert.PublicKey.(type) {
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name
	case ed25519.PublicKey:
		return "Ed25519"
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA %d", k.N.BitLen())
	}
	return cert.PublicKeyAlgorithm.String()
}

func keyUsageNames(ku x509.KeyUsage) []string {
	names := []string{}
	for _, u := range []struct {
		bit  x509.KeyUsage
		name string
	}{
		{x509.KeyUsageDigitalSignature, "digitalSignature"},
		{x509.KeyUsageContentCommitment, "contentCommitment"},
		{x509.KeyUsageKeyEncipherment, "keyEncipherment"},
		{x509.KeyUsageDataEncipherment, "dataEncipherment"},
		{x509.KeyUsageKeyAgreement, "keyAgreement"},
		{x509.KeyUsageCertSign, "certSign"},
		{x509.KeyUsageCRLSign, "crlSign"},
		{x509.KeyUsageEncipherOnly, "encipherOnly"},
		{x509.KeyUsageDecipherOnly, "decipherOnly"},
	} {
		if ku&u.bit != 0 {
			names = append(names, u.name)
		}
	}
	return names
}

func extKeyUsageNames(ekus []x509.ExtKeyUsage) []string {
	names := []string{}
	for _, u := range ekus {
		switch u {
		case x509.ExtKeyUsageServerAuth:
			names = append(names, "serverAuth")
		case x509.ExtKeyUsageClientAuth:
			names = append(names, "clientAuth")
		case x509.ExtKeyUsageAny:
			names = append(names, "any")
		default:
			names = append(names, fmt.Sprintf("eku(%d)", int(u)))
		}
	}
	return names
}
