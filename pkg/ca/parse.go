package ca

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/sentinel-zt/sentinel/pkg/certattrs"
)

// nameRE is what a certificate or resource name may look like: it becomes a file name
// (NAME.crt) and a subject common name, so no separators, spaces or leading dots.
var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// ValidateName checks a certificate or resource name: 1-64 characters of letters, digits,
// '.', '_' and '-', starting with a letter or digit.
func ValidateName(name string) error {
	if name == "" {
		return errors.New("missing")
	}
	if !nameRE.MatchString(name) {
		return fmt.Errorf("%q: want 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit", name)
	}
	return nil
}

// validatePort checks a TCP port in 1-65535.
func validatePort(p int) error {
	if p < 1 || p > 65535 {
		return fmt.Errorf("%d out of range 1-65535", p)
	}
	return nil
}

// Address is a parsed relay or server address.
type Address struct {
	// Value is what goes into the attributes: the host name (lower case), the IP in its
	// canonical form, or the ws:// / wss:// URL as given.
	Value string
	// DNS or IP is the SAN the address contributes (exactly one is set).
	DNS string
	IP  netip.Addr
	// URL is set when the address was a ws:// or wss:// URL.
	URL *url.URL
}

// ParseRelayAddr parses a relay's public address: a host name, an IP address, or a ws:// or
// wss:// URL (a relay behind a proxy or CDN; the SAN is the URL's host).
func ParseRelayAddr(s string) (Address, error) {
	if strings.Contains(s, "://") {
		u, err := url.Parse(s)
		if err != nil {
			return Address{}, fmt.Errorf("%q: %w", s, err)
		}
		if u.Scheme != "ws" && u.Scheme != "wss" {
			return Address{}, fmt.Errorf("%q: scheme %q, want ws or wss", s, u.Scheme)
		}
		if u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
			return Address{}, fmt.Errorf("%q: URL must not carry user info, a query or a fragment", s)
		}
		if p := u.Port(); p != "" {
			n, err := strconv.Atoi(p)
			if err != nil || validatePort(n) != nil {
				return Address{}, fmt.Errorf("%q: bad port %q", s, p)
			}
		}
		h, err := ParseHost(u.Hostname())
		if err != nil {
			return Address{}, fmt.Errorf("%q: host: %w", s, err)
		}
		h.Value = s
		h.URL = u
		return h, nil
	}
	return ParseHost(s)
}

// ParseHost parses a bare host: a DNS name or an IP address (IPv6 without brackets).
// host:port is refused; the port has its own field.
func ParseHost(s string) (Address, error) {
	if s == "" {
		return Address{}, errors.New("missing")
	}
	if ip, err := netip.ParseAddr(s); err == nil {
		if ip.Zone() != "" {
			return Address{}, fmt.Errorf("%q: zoned IPv6 address", s)
		}
		ip = ip.Unmap()
		return Address{Value: ip.String(), IP: ip}, nil
	}
	if strings.Contains(s, ":") {
		return Address{}, fmt.Errorf("%q: want a host name or an IP address without a port", s)
	}
	if err := validateDNSName(s); err != nil {
		return Address{}, fmt.Errorf("%q: %w", s, err)
	}
	h := strings.ToLower(strings.TrimSuffix(s, "."))
	return Address{Value: h, DNS: h}, nil
}

// validateDNSName checks RFC 1123 host name syntax.
func validateDNSName(s string) error {
	s = strings.TrimSuffix(s, ".")
	if len(s) == 0 || len(s) > 253 {
		return errors.New("not a host name (length)")
	}
	for _, label := range strings.Split(s, ".") {
		if len(label) == 0 || len(label) > 63 {
			return errors.New("not a host name (empty or long label)")
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return errors.New("not a host name (label starts or ends with '-')")
		}
		for _, r := range label {
			switch {
			case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-':
			default:
				return fmt.Errorf("not a host name (character %q)", r)
			}
		}
	}
	return nil
}

// ParseTarget parses a client target "HOST:PORT" (IPv6 as "[addr]:port"); HOST is an IP or a
// DNS name the server resolves.
func ParseTarget(s string) (certattrs.Target, error) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return certattrs.Target{}, fmt.Errorf("%q: want HOST:PORT", s)
	}
	h, err := ParseHost(host)
	if err != nil {
		return certattrs.Target{}, fmt.Errorf("%q: host: %w", s, err)
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return certattrs.Target{}, fmt.Errorf("%q: port %q is not a number", s, port)
	}
	if err := validatePort(p); err != nil {
		return certattrs.Target{}, fmt.Errorf("%q: port %w", s, err)
	}
	return certattrs.Target{Host: h.Value, Port: p}, nil
}

// ParseResourceFlag parses the CLI resource form "[NAME=]CIDR:PORT" or
// "[NAME=]CIDR:FIRST-LAST". Without NAME the resource is named later by position ("res1",
// "res2", ...). The UUID is left empty for Issue to fill.
func ParseResourceFlag(s string) (certattrs.Resource, error) {
	name, spec, named := strings.Cut(s, "=")
	if !named {
		name, spec = "", s
	} else if err := ValidateName(name); err != nil {
		return certattrs.Resource{}, fmt.Errorf("%q: name %w", s, err)
	}
	r, err := certattrs.ParseResource(spec)
	if err != nil {
		if named {
			return certattrs.Resource{}, fmt.Errorf("resource %s: %w", name, err)
		}
		return certattrs.Resource{}, err // names the input already
	}
	r.Name = name
	return r, nil
}

// FormatResource is the CLI form of r without its name: "10.0.0.0/24:3306" or
// "10.0.0.0/24:8000-8100".
// IPv6 prefixes are bracketed: "[2001:db8::/32]:443".
func FormatResource(r certattrs.Resource) string {
	if r.Prefix.Addr().Is6() {
		return "[" + r.Prefix.String() + "]:" + FormatPorts(r.Ports)
	}
	return r.Prefix.String() + ":" + FormatPorts(r.Ports)
}

// FormatPorts is "3306" or "8000-8100".
func FormatPorts(p certattrs.PortRange) string {
	if p.First == p.Last {
		return strconv.Itoa(int(p.First))
	}
	return fmt.Sprintf("%d-%d", p.First, p.Last)
}

// KeyType is the algorithm of a generated certificate key.
type KeyType string

// Supported key types.
const (
	KeyECDSAP256 KeyType = "ecdsa-p256" // the default
	KeyEd25519   KeyType = "ed25519"
)

// ParseKeyType accepts "ecdsa-p256" (also "ecdsa", "p256"; "" is the default) and "ed25519".
func ParseKeyType(s string) (KeyType, error) {
	switch strings.ToLower(s) {
	case "", "ecdsa-p256", "ecdsa", "p256", "p-256":
		return KeyECDSAP256, nil
	case "ed25519":
		return KeyEd25519, nil
	}
	return "", fmt.Errorf("%q: want ecdsa-p256 or ed25519", s)
}

// ParseLifetime parses a lifetime: a Go duration ("24h", "90m") or whole days ("30d").
// It must be positive.
func ParseLifetime(s string) (time.Duration, error) {
	var d time.Duration
	if n, ok := strings.CutSuffix(s, "d"); ok && n != "" && !strings.ContainsAny(n, "hmsuµn.") {
		days, err := strconv.Atoi(n)
		if err != nil || days > 100*366 {
			return 0, fmt.Errorf("%q: want a duration like 24h or 30d", s)
		}
		d = time.Duration(days) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, fmt.Errorf("%q: want a duration like 24h or 30d", s)
		}
	}
	if d <= 0 {
		return 0, fmt.Errorf("%q: must be positive", s)
	}
	return d, nil
}
