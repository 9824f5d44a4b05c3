package certattrs

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// ResourceCIDR is the only Resource.Type so far.
const ResourceCIDR = "cidr"

// Contains reports whether port is inside the range.
func (r PortRange) Contains(port uint16) bool { return r.First <= port && port <= r.Last }

// String is "3306" for a single port and "8000-8100" for a range.
func (r PortRange) String() string {
	if r.First == r.Last {
		return strconv.Itoa(int(r.First))
	}
	return strconv.Itoa(int(r.First)) + "-" + strconv.Itoa(int(r.Last))
}

// String is the CLI form ParseResource reads: "10.0.0.0/24:3306", "[2001:db8::/32]:443".
func (r Resource) String() string {
	if r.Prefix.Addr().Is6() {
		return "[" + r.Prefix.String() + "]:" + r.Ports.String()
	}
	return r.Prefix.String() + ":" + r.Ports.String()
}

// parseCIDR parses a resource host: an IPv4 or IPv6 prefix, host bits masked off.
func parseCIDR(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("invalid CIDR %q", s)
	}
	if err := checkPrefix(p); err != nil {
		return netip.Prefix{}, err
	}
	return p.Masked(), nil
}

// checkPrefix rejects prefixes Allow could never match.
func checkPrefix(p netip.Prefix) error {
	if !p.IsValid() {
		return errors.New("invalid CIDR")
	}
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		// Allow unmaps addresses, so such a prefix would never match anything.
		return fmt.Errorf("IPv4-mapped IPv6 prefix %q never matches; use %s",
			p, netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96).Masked())
	}
	return nil
}

// parsePortRange parses "PORT" or "FIRST-LAST": decimal digits only (no sign, space or
// leading zero), 1 <= FIRST <= LAST <= 65535.
func parsePortRange(s string) (PortRange, error) {
	first, last, isRange := strings.Cut(s, "-")
	if !isRange {
		last = first
	}
	f, err := parsePort(first)
	if err != nil {
		return PortRange{}, fmt.Errorf("invalid port range %q: %w", s, err)
	}
	l, err := parsePort(last)
	if err != nil {
		return PortRange{}, fmt.Errorf("invalid port range %q: %w", s, err)
	}
	if f > l {
		return PortRange{}, fmt.Errorf("invalid port range %q: first port above last", s)
	}
	return PortRange{First: f, Last: l}, nil
}

func parsePort(s string) (uint16, error) {
	if s == "" {
		return 0, errors.New("empty port")
	}
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("port %q is not a decimal number", s)
		}
	}
	if len(s) > 5 {
		return 0, fmt.Errorf("port %q out of range 1-65535", s)
	}
	if s[0] == '0' {
		return 0, fmt.Errorf("port %q out of range 1-65535 or has a leading zero", s)
	}
	n, _ := strconv.Atoi(s) // at most 5 digits
	if n > 65535 {
		return 0, fmt.Errorf("port %q out of range 1-65535", s)
	}
	return uint16(n), nil
}

// ParseResource parses the CLI form of a resource: "CIDR:PORT" or "CIDR:FIRST-LAST", e.g.
// "10.0.0.0/24:3306", "10.0.0.0/24:8000-8100", "[2001:db8::/32]:443" or "2001:db8::/32:443"
// (without brackets the port is after the last colon). Host bits are masked off. The result
// has Type "cidr"; UUID and Name are left for the caller.
func ParseResource(s string) (Resource, error) {
	var host, ports string
	if rest, ok := strings.CutPrefix(s, "["); ok {
		var found bool
		host, ports, found = strings.Cut(rest, "]:")
		if !found {
			return Resource{}, fmt.Errorf("parse resource %q: want [CIDR]:PORT", s)
		}
	} else {
		i := strings.LastIndexByte(s, ':')
		if i < 0 {
			return Resource{}, fmt.Errorf("parse resource %q: missing :PORT", s)
		}
		host, ports = s[:i], s[i+1:]
	}
	p, err := parseCIDR(host)
	if err != nil {
		return Resource{}, fmt.Errorf("parse resource %q: %w", s, err)
	}
	pr, err := parsePortRange(ports)
	if err != nil {
		return Resource{}, fmt.Errorf("parse resource %q: %w", s, err)
	}
	return Resource{Type: ResourceCIDR, Prefix: p, Ports: pr}, nil
}

// Allow returns the first resource of type "cidr" whose prefix and ports contain addr.
// An IPv4-mapped IPv6 address is unmapped first (::ffff:10.0.0.5 is 10.0.0.5); an IPv4
// prefix never matches an IPv6 address nor the reverse, so ::/0 does not admit IPv4
// destinations. An address with a zone, an invalid address and port 0 match nothing.
func Allow(resources []Resource, addr netip.AddrPort) (Resource, bool) {
	ip := addr.Addr()
	if !ip.IsValid() || ip.Zone() != "" || addr.Port() == 0 {
		return Resource{}, false
	}
	ip = ip.Unmap()
	for _, r := range resources {
		if r.Type == ResourceCIDR && checkPrefix(r.Prefix) == nil &&
			r.Prefix.Contains(ip) && r.Ports.First != 0 && r.Ports.Contains(addr.Port()) {
			return r, true
		}
	}
	return Resource{}, false
}

// resourceJSON is the JSON shape of a Resource.
type resourceJSON struct {
	UUID  string `json:"uuid"`
	Name  string `json:"name"`
	Type  string `json:"type"`
	Host  string `json:"host"`
	Port  int    `json:"port,omitempty"`
	Ports string `json:"ports,omitempty"`
}

// MarshalJSON writes {"uuid","name","type","host"} and "port" for a single port or "ports"
// ("FIRST-LAST") for a range; host is the masked prefix.
func (r Resource) MarshalJSON() ([]byte, error) {
	if !r.Prefix.IsValid() {
		return nil, errors.New("resource has no valid prefix")
	}
	j := resourceJSON{UUID: r.UUID, Name: r.Name, Type: r.Type, Host: r.Prefix.Masked().String()}
	if r.Ports.First == r.Ports.Last {
		j.Port = int(r.Ports.First)
	} else {
		j.Ports = r.Ports.String()
	}
	return marshal(j)
}

// UnmarshalJSON decodes one resource strictly, as UnmarshalJSON does inside a document;
// the error names the field from "resource".
func (r *Resource) UnmarshalJSON(b []byte) error {
	v, err := parseTree(b)
	if err != nil {
		return fmt.Errorf("resource: %w", err)
	}
	res, err := decodeResource("resource", v)
	if err != nil {
		return err
	}
	if err := validateResource("resource", res); err != nil {
		return err
	}
	*r = res
	return nil
}
