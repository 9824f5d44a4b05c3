package certattrs

import (
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxNameLength bounds names, groups and the user, in bytes.
const MaxNameLength = 128

// Validate checks every rule; the error is a *FieldError naming the field
// ("attrs.port: 70000 out of range 1-65535"). Exactly one role must be set. Resource
// prefixes with host bits set are accepted (they are masked when encoded).
func (a Attrs) Validate() error {
	const path = "attrs"
	n := 0
	for _, set := range []bool{a.Client != nil, a.Server != nil, a.Relay != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return fieldErr(path, fmt.Sprintf("exactly one of client, server and relay must be set, got %d", n))
	}
	switch {
	case a.Client != nil:
		return validateClient(path, a.Client)
	case a.Server != nil:
		return validateServer(path, a.Server)
	default:
		return validateRelay(path, a.Relay)
	}
}

func validateClient(path string, c *Client) error {
	if err := firstErr(
		validateUUID(join(path, "uuid"), c.UUID),
		validateName(join(path, "name"), c.Name),
		validatePort(join(path, "port"), c.Port, false),
		validateRelayRefs(join(path, "relays"), c.Relays),
	); err != nil {
		return err
	}
	sp := join(path, "server")
	if err := firstErr(
		validateUUID(join(sp, "uuid"), c.Server.UUID),
		validateName(join(sp, "name"), c.Server.Name),
		validateOptionalAddress(join(sp, "addr"), c.Server.Addr),
		validatePort(join(sp, "out_port"), c.Server.OutPort, true),
	); err != nil {
		return err
	}
	tp := join(path, "target")
	if err := firstErr(
		validateTargetHost(join(tp, "host"), c.Target.Host),
		validatePort(join(tp, "port"), c.Target.Port, false),
	); err != nil {
		return err
	}
	if c.User != "" {
		if err := validateText(join(path, "user"), c.User); err != nil {
			return err
		}
	}
	for i, g := range c.Groups {
		if err := validateName(index(join(path, "groups"), i), g); err != nil {
			return err
		}
	}
	if c.Schedule != nil {
		if _, err := c.Schedule.compile(join(path, "schedule")); err != nil {
			return err
		}
	}
	return nil
}

func validateServer(path string, s *Server) error {
	if err := firstErr(
		validateUUID(join(path, "uuid"), s.UUID),
		validateName(join(path, "name"), s.Name),
		validateOptionalAddress(join(path, "host"), s.Host),
		validatePort(join(path, "port"), s.Port, true),
		validatePort(join(path, "out_port"), s.OutPort, true),
	); err != nil {
		return err
	}
	rp := join(path, "resources")
	if len(s.Resources) == 0 {
		return fieldErr(rp, "missing (want at least one resource)")
	}
	for i, r := range s.Resources {
		if err := validateResource(index(rp, i), r); err != nil {
			return err
		}
	}
	return validateRelayRefs(join(path, "relays"), s.Relays)
}

func validateRelay(path string, r *Relay) error {
	return firstErr(
		validateUUID(join(path, "uuid"), r.UUID),
		validateName(join(path, "name"), r.Name),
		validateAddress(join(path, "address"), r.Address),
		validatePort(join(path, "port"), r.Port, false),
	)
}

func validateRelayRefs(path string, relays []RelayRef) error {
	seen := make(map[string]int, len(relays))
	for i, r := range relays {
		p := index(path, i)
		if err := firstErr(
			validateUUID(join(p, "uuid"), r.UUID),
			validateName(join(p, "name"), r.Name),
			validateAddress(join(p, "addr"), r.Addr),
			validatePort(join(p, "port"), r.Port, false),
		); err != nil {
			return err
		}
		if j, dup := seen[r.UUID]; dup {
			return fieldErr(join(p, "uuid"), fmt.Sprintf("duplicate relay %s (also at index %d)", r.UUID, j))
		}
		seen[r.UUID] = i
	}
	return nil
}

func validateResource(path string, r Resource) error {
	if err := firstErr(
		validateUUID(join(path, "uuid"), r.UUID),
		validateName(join(path, "name"), r.Name),
	); err != nil {
		return err
	}
	switch r.Type {
	case ResourceCIDR:
	case "":
		return fieldErr(join(path, "type"), "missing")
	default:
		return fieldErr(join(path, "type"), fmt.Sprintf("unknown resource type %q (want cidr)", r.Type))
	}
	if r.Prefix == (netip.Prefix{}) {
		return fieldErr(join(path, "host"), "missing")
	}
	if err := checkPrefix(r.Prefix); err != nil {
		return &FieldError{Field: join(path, "host"), Err: err}
	}
	if r.Ports.First == 0 && r.Ports.Last == 0 {
		return fieldErr(join(path, "port"), "missing")
	}
	if r.Ports.First == 0 || r.Ports.First > r.Ports.Last {
		return fieldErr(join(path, "ports"), fmt.Sprintf("invalid port range %d-%d (want 1 <= first <= last <= 65535)",
			r.Ports.First, r.Ports.Last))
	}
	return nil
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// validateUUID accepts the canonical lower-case form of an RFC 4122 (RFC 9562) UUID:
// 8-4-4-4-12 hex digits, version 1 to 8, variant 10xx.
func validateUUID(path, s string) error {
	if s == "" {
		return fieldErr(path, "missing")
	}
	if !isUUID(s) {
		return fieldErr(path, fmt.Sprintf("invalid UUID %q (want canonical lower-case RFC 4122 form)", s))
	}
	return nil
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
				return false
			}
		}
	}
	return s[14] >= '1' && s[14] <= '8' && strings.IndexByte("89ab", s[19]) >= 0
}

// validateName: non-empty, valid UTF-8, at most MaxNameLength bytes, no control characters.
func validateName(path, s string) error {
	if s == "" {
		return fieldErr(path, "missing")
	}
	return validateText(path, s)
}

func validateText(path, s string) error {
	if len(s) > MaxNameLength {
		return fieldErr(path, fmt.Sprintf("%d bytes, over the %d-byte limit", len(s), MaxNameLength))
	}
	if !utf8.ValidString(s) {
		return fieldErr(path, "invalid UTF-8")
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return fieldErr(path, fmt.Sprintf("control character %U", r))
		}
	}
	return nil
}

// validatePort checks 1-65535, or 0-65535 when zero (none) is allowed.
func validatePort(path string, port int, zeroOK bool) error {
	lo := 1
	if zeroOK {
		lo = 0
	}
	if port < lo || port > 65535 {
		return fieldErr(path, fmt.Sprintf("%d out of range %d-65535", port, lo))
	}
	return nil
}

func validateTargetHost(path, s string) error {
	if s == "" {
		return fieldErr(path, "missing")
	}
	if !isHost(s) {
		return fieldErr(path, fmt.Sprintf("invalid host %q (want an IP address or a DNS name, without scheme or port)", s))
	}
	return nil
}

func validateOptionalAddress(path, s string) error {
	if s == "" {
		return nil
	}
	return validateAddress(path, s)
}

// validateAddress accepts a host name, an IP address, or a ws:// or wss:// URL with a host
// (and optionally a port and a path; no user, query or fragment).
func validateAddress(path, s string) error {
	if s == "" {
		return fieldErr(path, "missing")
	}
	if isHost(s) || isWSURL(s) {
		return nil
	}
	return fieldErr(path, fmt.Sprintf("invalid address %q (want a host name, an IP address or a ws:// or wss:// URL)", s))
}

func isWSURL(s string) bool {
	if !strings.HasPrefix(s, "ws://") && !strings.HasPrefix(s, "wss://") {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' { // url.Parse accepts spaces and raw UTF-8
			return false
		}
	}
	u, err := url.Parse(s)
	if err != nil || u.Opaque != "" || u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return false
	}
	if !isHost(u.Hostname()) {
		return false
	}
	if p := u.Port(); p != "" {
		if _, err := parsePort(p); err != nil {
			return false
		}
	} else if strings.HasSuffix(u.Host, ":") {
		return false
	}
	return true
}

// isHost reports whether s is an IP address without a zone or a DNS host name.
func isHost(s string) bool {
	if ip, err := netip.ParseAddr(s); err == nil {
		return ip.Zone() == ""
	}
	return isDNSName(s)
}

// isDNSName accepts letters-digits-hyphen labels of 1-63 bytes, at most 253 bytes in all,
// no trailing dot, and a last label that is not all digits (so "10.0.0.256" is no name).
func isDNSName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	labels := strings.Split(s, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return strings.Trim(labels[len(labels)-1], "0123456789") != ""
}
