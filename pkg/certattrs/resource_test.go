package certattrs

import (
	"net/netip"
	"strings"
	"testing"
)

func TestParseResource(t *testing.T) {
	tests := map[string]struct {
		in     string
		prefix string
		ports  PortRange
		err    string
	}{
		"ok/port":             {in: "10.0.0.0/24:3306", prefix: "10.0.0.0/24", ports: PortRange{3306, 3306}},
		"ok/range":            {in: "10.0.0.0/24:8000-8100", prefix: "10.0.0.0/24", ports: PortRange{8000, 8100}},
		"ok/range-one-port":   {in: "10.0.0.0/24:22-22", prefix: "10.0.0.0/24", ports: PortRange{22, 22}},
		"ok/range-all":        {in: "0.0.0.0/0:1-65535", prefix: "0.0.0.0/0", ports: PortRange{1, 65535}},
		"ok/host-bits-masked": {in: "192.168.2.80/16:80", prefix: "192.168.0.0/16", ports: PortRange{80, 80}},
		"ok/slash-32":         {in: "10.0.0.5/32:5432", prefix: "10.0.0.5/32", ports: PortRange{5432, 5432}},
		"ok/ipv6-brackets":    {in: "[2001:db8::/32]:443", prefix: "2001:db8::/32", ports: PortRange{443, 443}},
		"ok/ipv6-last-colon":  {in: "2001:db8::/32:443", prefix: "2001:db8::/32", ports: PortRange{443, 443}},
		"ok/ipv6-range":       {in: "[2001:db8::1/64]:8000-8100", prefix: "2001:db8::/64", ports: PortRange{8000, 8100}},
		"ok/ipv6-slash-0":     {in: "::/0:65535", prefix: "::/0", ports: PortRange{65535, 65535}},
		"ok/ipv6-slash-128":   {in: "[::1/128]:1", prefix: "::1/128", ports: PortRange{1, 1}},

		"fail/empty":          {in: "", err: `parse resource "": missing :PORT`},
		"fail/no-port":        {in: "10.0.0.0/24", err: "missing :PORT"},
		"fail/empty-port":     {in: "10.0.0.0/24:", err: "empty port"},
		"fail/port-0":         {in: "10.0.0.0/24:0", err: `port "0" out of range`},
		"fail/port-65536":     {in: "10.0.0.0/24:65536", err: `port "65536" out of range 1-65535`},
		"fail/port-plus":      {in: "10.0.0.0/24:+80", err: "not a decimal number"},
		"fail/port-space":     {in: "10.0.0.0/24: 80", err: "not a decimal number"},
		"fail/port-leading-0": {in: "10.0.0.0/24:080", err: "leading zero"},
		"fail/port-hex":       {in: "10.0.0.0/24:0x50", err: "not a decimal number"},
		"fail/port-exponent":  {in: "10.0.0.0/24:1e3", err: "not a decimal number"},
		"fail/port-name":      {in: "10.0.0.0/24:mysql", err: "not a decimal number"},
		"fail/range-reversed": {in: "10.0.0.0/24:90-80", err: "first port above last"},
		"fail/range-open":     {in: "10.0.0.0/24:80-", err: "empty port"},
		"fail/range-neg":      {in: "10.0.0.0/24:-80", err: "empty port"},
		"fail/range-three":    {in: "10.0.0.0/24:80-90-100", err: "not a decimal number"},
		"fail/range-spaces":   {in: "10.0.0.0/24:80 - 90", err: "not a decimal number"},
		"fail/range-high":     {in: "10.0.0.0/24:80-70000", err: "out of range"},
		"fail/bare-ip":        {in: "10.0.0.5:3306", err: `invalid CIDR "10.0.0.5"`},
		"fail/bad-cidr":       {in: "10.0.0/33:80", err: `invalid CIDR "10.0.0/33"`},
		"fail/bits-33":        {in: "10.0.0.0/33:80", err: "invalid CIDR"},
		"fail/bits-129":       {in: "[::/129]:80", err: "invalid CIDR"},
		"fail/host-name":      {in: "db.example.com/32:80", err: "invalid CIDR"},
		"fail/zone":           {in: "[fe80::%eth0/64]:80", err: "invalid CIDR"},
		"fail/4in6":           {in: "[::ffff:10.0.0.0/104]:80", err: "IPv4-mapped IPv6 prefix"},
		"fail/open-bracket":   {in: "[2001:db8::/32:443", err: "want [CIDR]:PORT"},
		"fail/bracket-noport": {in: "[2001:db8::/32]443", err: "want [CIDR]:PORT"},
		"fail/bracket-empty":  {in: "[2001:db8::/32]:", err: "empty port"},
		"fail/ipv6-no-port":   {in: "2001:db8::/32", err: `invalid CIDR "2001:db8:"`},
		"fail/unicode-digits": {in: "10.0.0.0/24:３３０６", err: "not a decimal number"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r, err := ParseResource(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.HasPrefix(err.Error(), "parse resource ") {
					t.Fatalf("ParseResource(%q) error %v, want %q", tc.in, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseResource(%q): %v", tc.in, err)
			}
			want := Resource{Type: ResourceCIDR, Prefix: netip.MustParsePrefix(tc.prefix), Ports: tc.ports}
			if r != want {
				t.Errorf("ParseResource(%q) = %+v, want %+v", tc.in, r, want)
			}
			// String gives a form ParseResource reads back to the same value.
			if again, err := ParseResource(r.String()); err != nil || again != r {
				t.Errorf("ParseResource(%q) = %+v, %v; want %+v", r.String(), again, err, r)
			}
		})
	}
}

func TestAllow(t *testing.T) {
	res := func(name, cidr string, first, last uint16) Resource {
		return Resource{UUID: uuidRes1, Name: name, Type: ResourceCIDR, Prefix: netip.MustParsePrefix(cidr), Ports: PortRange{first, last}}
	}
	resources := []Resource{
		res("net24", "10.0.0.0/24", 3306, 3306),
		res("range", "192.168.0.0/16", 8000, 8100),
		res("v6net", "2001:db8::/32", 443, 443),
		res("v4any", "0.0.0.0/0", 22, 22),
		res("host32", "203.0.113.7/32", 5432, 5432),
		res("host128", "2001:db8:1::5/128", 80, 80),
		res("v6any", "::/0", 53, 53),
		res("shadowed", "10.0.0.0/8", 22, 22), // after v4any: never the first match
		res("all-ports", "198.51.100.0/31", 1, 65535),
	}
	tests := map[string]struct {
		addr string
		want string // resource name, "" = refused
	}{
		// Network and broadcast addresses of a /24, and just outside it.
		"ok/network-address":     {"10.0.0.0:3306", "net24"},
		"ok/broadcast-address":   {"10.0.0.255:3306", "net24"},
		"ok/inside":              {"10.0.0.5:3306", "net24"},
		"fail/below-network":     {"9.255.255.255:3306", ""},
		"fail/above-broadcast":   {"10.0.1.0:3306", ""},
		"fail/port-below":        {"10.0.0.5:3305", ""},
		"fail/port-above":        {"10.0.0.5:3307", ""},
		"fail/port-0":            {"10.0.0.5:0", ""},
		"ok/range-first-port":    {"192.168.0.0:8000", "range"},
		"ok/range-last-port":     {"192.168.255.255:8100", "range"},
		"fail/range-port-before": {"192.168.1.1:7999", ""},
		"fail/range-port-after":  {"192.168.1.1:8101", ""},
		"fail/range-next-net":    {"192.169.0.0:8000", ""},
		"ok/all-ports-low":       {"198.51.100.0:1", "all-ports"},
		"ok/all-ports-high":      {"198.51.100.1:65535", "all-ports"},
		"fail/all-ports-net":     {"198.51.100.2:1", ""},

		// /32 and /128.
		"ok/slash-32":          {"203.0.113.7:5432", "host32"},
		"fail/slash-32-below":  {"203.0.113.6:5432", ""},
		"fail/slash-32-above":  {"203.0.113.8:5432", ""},
		"ok/slash-128":         {"[2001:db8:1::5]:80", "host128"},
		"fail/slash-128-next":  {"[2001:db8:1::6]:80", ""},
		"fail/slash-128-port":  {"[2001:db8:1::5]:81", ""},
		"ok/v6-first":          {"[2001:db8::]:443", "v6net"},
		"ok/v6-last":           {"[2001:db8:ffff:ffff:ffff:ffff:ffff:ffff]:443", "v6net"},
		"fail/v6-outside":      {"[2001:db9::]:443", ""},
		"fail/v6-before":       {"[2001:db7:ffff:ffff:ffff:ffff:ffff:ffff]:443", ""},
		"fail/v6-port":         {"[2001:db8::1]:444", ""},
		"ok/v4-slash-0":        {"8.8.8.8:22", "v4any"},
		"ok/v4-slash-0-zero":   {"0.0.0.0:22", "v4any"},
		"ok/v4-slash-0-max":    {"255.255.255.255:22", "v4any"},
		"ok/v6-slash-0":        {"[::1]:53", "v6any"},
		"ok/v6-slash-0-max":    {"[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:53", "v6any"},
		"ok/first-match-wins":  {"10.1.2.3:22", "v4any"},
		"fail/v4-prefix-v6":    {"[2001:db8::1]:22", ""}, // 0.0.0.0/0 is not ::/0
		"fail/v6-prefix-v4":    {"8.8.8.8:53", ""},       // ::/0 is not 0.0.0.0/0
		"fail/v4-compat-v6":    {"[::10.0.0.5]:3306", ""},
		"fail/nat64-v6":        {"[64:ff9b::a00:5]:3306", ""},
		"ok/mapped-allowed":    {"[::ffff:10.0.0.5]:3306", "net24"},
		"ok/mapped-slash-32":   {"[::ffff:203.0.113.7]:5432", "host32"},
		"fail/mapped-outside":  {"[::ffff:10.0.1.5]:3306", ""},
		"fail/mapped-port":     {"[::ffff:10.0.0.5]:3307", ""},
		"fail/mapped-v6any":    {"[::ffff:10.0.0.5]:53", ""}, // unmapped first, so ::/0 does not match
		"ok/mapped-v4any":      {"[::ffff:1.2.3.4]:22", "v4any"},
		"fail/zone-v6":         {"[fe80::1%eth0]:53", ""},
		"fail/zone-v6-net":     {"[2001:db8::1%eth0]:443", ""},
		"fail/zone-mapped":     {"[::ffff:10.0.0.5%eth0]:3306", ""},
		"fail/no-such-service": {"172.16.0.1:3306", ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ap := netip.MustParseAddrPort(tc.addr)
			r, ok := Allow(resources, ap)
			if tc.want == "" {
				if ok {
					t.Fatalf("Allow(%s) = %q, want refused", tc.addr, r.Name)
				}
				if r != (Resource{}) {
					t.Errorf("refusal returned %+v, want the zero Resource", r)
				}
				return
			}
			if !ok || r.Name != tc.want {
				t.Fatalf("Allow(%s) = %q, %v; want %q", tc.addr, r.Name, ok, tc.want)
			}
		})
	}
}

func TestAllowRefusesOddResourcesAndAddresses(t *testing.T) {
	good := Resource{UUID: uuidRes1, Name: "db", Type: ResourceCIDR, Prefix: netip.MustParsePrefix("10.0.0.0/24"), Ports: PortRange{3306, 3306}}
	addr := netip.MustParseAddrPort("10.0.0.5:3306")
	if _, ok := Allow([]Resource{good}, addr); !ok {
		t.Fatal("good resource refused")
	}
	tests := map[string]struct {
		r    Resource
		addr netip.AddrPort
	}{
		"fail/no-resources":   {Resource{}, addr},
		"fail/type-empty":     {func() Resource { r := good; r.Type = ""; return r }(), addr},
		"fail/type-other":     {func() Resource { r := good; r.Type = "dns"; return r }(), addr},
		"fail/zero-prefix":    {func() Resource { r := good; r.Prefix = netip.Prefix{}; return r }(), addr},
		"fail/zero-ports":     {func() Resource { r := good; r.Ports = PortRange{}; return r }(), netip.AddrPortFrom(addr.Addr(), 0)},
		"fail/4in6-prefix":    {func() Resource { r := good; r.Prefix = netip.MustParsePrefix("::ffff:10.0.0.0/120"); return r }(), netip.MustParseAddrPort("[::ffff:10.0.0.5]:3306")},
		"fail/invalid-addr":   {good, netip.AddrPort{}},
		"fail/invalid-addr-p": {good, netip.AddrPortFrom(netip.Addr{}, 3306)},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var list []Resource
			if tc.r != (Resource{}) {
				list = []Resource{tc.r}
			}
			if r, ok := Allow(list, tc.addr); ok {
				t.Errorf("Allow = %+v, want refused", r)
			}
		})
	}
}

func TestAllowUnmaskedPrefix(t *testing.T) {
	// A Resource built in Go may carry host bits; it matches like its masked prefix.
	r := Resource{UUID: uuidRes1, Name: "db", Type: ResourceCIDR, Prefix: netip.MustParsePrefix("192.168.2.80/16"), Ports: PortRange{80, 80}}
	if _, ok := Allow([]Resource{r}, netip.MustParseAddrPort("192.168.200.1:80")); !ok {
		t.Error("unmasked prefix did not match an address in its network")
	}
	if _, ok := Allow([]Resource{r}, netip.MustParseAddrPort("192.169.2.80:80")); ok {
		t.Error("unmasked prefix matched outside its network")
	}
}

func FuzzParseResource(f *testing.F) {
	for _, s := range []string{
		"10.0.0.0/24:3306", "10.0.0.0/24:8000-8100", "[2001:db8::/32]:443", "2001:db8::/32:443",
		"192.168.2.80/16:80", "0.0.0.0/0:1-65535", "::/0:65535", "[::ffff:10.0.0.0/104]:80",
		"10.0.0.0/24:+80", "10.0.0.0/24:080", "[fe80::%eth0/64]:80", "[", "]:", ":", "-",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseResource(s)
		if err != nil {
			return
		}
		if r.Type != ResourceCIDR || r.UUID != "" || r.Name != "" {
			t.Fatalf("ParseResource(%q) = %+v: wrong type or identity", s, r)
		}
		if !r.Prefix.IsValid() || r.Prefix != r.Prefix.Masked() || r.Prefix.Addr().Zone() != "" || checkPrefix(r.Prefix) != nil {
			t.Fatalf("ParseResource(%q) prefix %v not a valid masked prefix", s, r.Prefix)
		}
		if r.Ports.First == 0 || r.Ports.First > r.Ports.Last {
			t.Fatalf("ParseResource(%q) ports %+v", s, r.Ports)
		}
		again, err := ParseResource(r.String())
		if err != nil || again != r {
			t.Fatalf("ParseResource(%q) = %+v, %v; want %+v", r.String(), again, err, r)
		}
		// The parsed resource, given an identity, is valid in a server certificate.
		r.UUID, r.Name = uuidRes1, "fuzz"
		if err := validateResource("resource", r); err != nil {
			t.Fatalf("resource from %q does not validate: %v", s, err)
		}
		// Its own first and last addresses and ports are allowed.
		if _, ok := Allow([]Resource{r}, netip.AddrPortFrom(r.Prefix.Addr(), r.Ports.Last)); !ok {
			t.Fatalf("resource %v refuses its network address", r)
		}
	})
}
