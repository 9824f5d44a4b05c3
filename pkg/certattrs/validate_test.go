package certattrs

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

type validateCase struct {
	attrs Attrs
	field string // "" for a valid case
	msg   string
}

// The mutators prove the fixture good before changing it, so each refusal is about the one
// change it makes.

func mutClient(t *testing.T, f func(c *Client)) Attrs {
	t.Helper()
	a := validClient()
	if err := a.Validate(); err != nil {
		t.Fatalf("fixture: %v", err)
	}
	f(a.Client)
	return a
}

func mutServer(t *testing.T, f func(s *Server)) Attrs {
	t.Helper()
	a := validServer()
	if err := a.Validate(); err != nil {
		t.Fatalf("fixture: %v", err)
	}
	f(a.Server)
	return a
}

func mutRelay(t *testing.T, f func(r *Relay)) Attrs {
	t.Helper()
	a := validRelay()
	if err := a.Validate(); err != nil {
		t.Fatalf("fixture: %v", err)
	}
	f(a.Relay)
	return a
}

func clientCase(field, msg string, f func(c *Client)) func(*testing.T) validateCase {
	return func(t *testing.T) validateCase { return validateCase{mutClient(t, f), field, msg} }
}

func serverCase(field, msg string, f func(s *Server)) func(*testing.T) validateCase {
	return func(t *testing.T) validateCase { return validateCase{mutServer(t, f), field, msg} }
}

func relayCase(field, msg string, f func(r *Relay)) func(*testing.T) validateCase {
	return func(t *testing.T) validateCase { return validateCase{mutRelay(t, f), field, msg} }
}

func setClientRelayAddr(addr string) func(c *Client) {
	return func(c *Client) { c.Relays[1].Addr = addr }
}
func setTargetHost(host string) func(c *Client)       { return func(c *Client) { c.Target.Host = host } }
func setSchedule(f func(s *Schedule)) func(c *Client) { return func(c *Client) { f(c.Schedule) } }
func setResource(i int, f func(r *Resource)) func(s *Server) {
	return func(s *Server) { f(&s.Resources[i]) }
}

const (
	msgMissing  = "missing"
	msgUUID     = "invalid UUID"
	msgRange1   = "out of range 1-65535"
	msgRange0   = "out of range 0-65535"
	msgAddr     = "invalid address"
	msgHost     = "invalid host"
	msgControl  = "control character"
	msgTooLong  = "over the 128-byte limit"
	msgTime     = "invalid time"
	msgRelayDup = "duplicate relay"
)

func TestValidate(t *testing.T) {
	tests := map[string]func(t *testing.T) validateCase{
		"ok/client": func(t *testing.T) validateCase { return validateCase{attrs: validClient()} },
		"ok/server": func(t *testing.T) validateCase { return validateCase{attrs: validServer()} },
		"ok/relay":  func(t *testing.T) validateCase { return validateCase{attrs: validRelay()} },
		"ok/client/minimal": clientCase("", "", func(c *Client) {
			c.Relays, c.User, c.Groups, c.Schedule = nil, "", nil, nil
			c.Server.Addr, c.Server.OutPort = "", 0
		}),
		"ok/client/name-128-bytes":       clientCase("", "", func(c *Client) { c.Name = strings.Repeat("é", 64) }),
		"ok/client/name-unicode":         clientCase("", "", func(c *Client) { c.Name = "Zoë's laptop (日本)" }),
		"ok/client/relay-addr-ipv4":      clientCase("", "", setClientRelayAddr("203.0.113.9")),
		"ok/client/relay-addr-ipv6":      clientCase("", "", setClientRelayAddr("2001:db8::9")),
		"ok/client/relay-addr-ws":        clientCase("", "", setClientRelayAddr("ws://relay.example.com:8080")),
		"ok/client/relay-addr-wss-ipv6":  clientCase("", "", setClientRelayAddr("wss://[2001:db8::9]:443/base")),
		"ok/client/relay-addr-one-label": clientCase("", "", setClientRelayAddr("relay")),
		"ok/client/relay-sort-negative":  clientCase("", "", func(c *Client) { c.Relays[0].Sort = -1 }),
		"ok/client/target-ipv6":          clientCase("", "", setTargetHost("2001:db8::5")),
		"ok/client/target-single-label":  clientCase("", "", setTargetHost("db")),
		"ok/client/target-port-edges": clientCase("", "", func(c *Client) {
			c.Target.Port, c.Port = 1, 65535
		}),
		"ok/client/schedule-every-day":  clientCase("", "", setSchedule(func(s *Schedule) { s.Days = nil })),
		"ok/client/schedule-wraps":      clientCase("", "", setSchedule(func(s *Schedule) { s.From, s.To = "23:59", "00:00" })),
		"ok/client/schedule-utc":        clientCase("", "", setSchedule(func(s *Schedule) { s.TZ = "UTC" })),
		"ok/client/user-empty":          clientCase("", "", func(c *Client) { c.User = "" }),
		"ok/server/no-direct-listener":  serverCase("", "", func(s *Server) { s.Host, s.Port, s.OutPort = "", 0, 0 }),
		"ok/server/no-relays":           serverCase("", "", func(s *Server) { s.Relays = nil }),
		"ok/server/host-bits-set":       serverCase("", "", setResource(0, func(r *Resource) { r.Prefix = netip.MustParsePrefix("192.168.2.80/16") })),
		"ok/server/prefix-0":            serverCase("", "", setResource(0, func(r *Resource) { r.Prefix = netip.MustParsePrefix("0.0.0.0/0") })),
		"ok/server/prefix-128":          serverCase("", "", setResource(1, func(r *Resource) { r.Prefix = netip.MustParsePrefix("2001:db8::1/128") })),
		"ok/server/ports-1-65535":       serverCase("", "", setResource(1, func(r *Resource) { r.Ports = PortRange{1, 65535} })),
		"ok/relay/address-ipv6":         relayCase("", "", func(r *Relay) { r.Address = "2001:db8::1" }),
		"ok/relay/address-wss":          relayCase("", "", func(r *Relay) { r.Address = "wss://relay.example.com" }),
		"ok/relay/address-upper-case":   relayCase("", "", func(r *Relay) { r.Address = "Relay1.Example.COM" }),
		"ok/relay/address-digit-labels": relayCase("", "", func(r *Relay) { r.Address = "1e100.net" }),

		"fail/attrs/no-role": func(t *testing.T) validateCase {
			return validateCase{Attrs{}, "attrs", "exactly one of client, server and relay must be set, got 0"}
		},
		"fail/attrs/two-roles": func(t *testing.T) validateCase {
			return validateCase{Attrs{Client: validClient().Client, Relay: validRelay().Relay}, "attrs", "got 2"}
		},

		// uuid: canonical lower-case RFC 4122.
		"fail/client/uuid-missing":    clientCase("attrs.uuid", msgMissing, func(c *Client) { c.UUID = "" }),
		"fail/client/uuid-upper-case": clientCase("attrs.uuid", msgUUID, func(c *Client) { c.UUID = strings.ToUpper(uuidClient) }),
		"fail/client/uuid-no-hyphens": clientCase("attrs.uuid", msgUUID, func(c *Client) { c.UUID = strings.ReplaceAll(uuidClient, "-", "") }),
		"fail/client/uuid-braces":     clientCase("attrs.uuid", msgUUID, func(c *Client) { c.UUID = "{" + uuidClient + "}" }),
		"fail/client/uuid-urn":        clientCase("attrs.uuid", msgUUID, func(c *Client) { c.UUID = "urn:uuid:" + uuidClient }),
		"fail/client/uuid-nil":        clientCase("attrs.uuid", msgUUID, func(c *Client) { c.UUID = "00000000-0000-0000-0000-000000000000" }),
		"fail/client/uuid-version-0":  clientCase("attrs.uuid", msgUUID, func(c *Client) { c.UUID = "6f1c2b3a-4d5e-0f60-8a7b-9c0d1e2f3a4b" }),
		"fail/client/uuid-variant":    clientCase("attrs.uuid", msgUUID, func(c *Client) { c.UUID = "6f1c2b3a-4d5e-4f60-ca7b-9c0d1e2f3a4b" }),
		"fail/client/uuid-not-hex":    clientCase("attrs.uuid", msgUUID, func(c *Client) { c.UUID = "6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4g" }),

		// names: non-empty, <= 128 bytes, no control characters.
		"fail/client/name-missing":      clientCase("attrs.name", msgMissing, func(c *Client) { c.Name = "" }),
		"fail/client/name-129-bytes":    clientCase("attrs.name", msgTooLong, func(c *Client) { c.Name = strings.Repeat("é", 64) + "x" }),
		"fail/client/name-bell":         clientCase("attrs.name", msgControl+" U+0007", func(c *Client) { c.Name = "a\ab" }),
		"fail/client/name-newline":      clientCase("attrs.name", msgControl+" U+000A", func(c *Client) { c.Name = "alice\n" }),
		"fail/client/name-del":          clientCase("attrs.name", msgControl+" U+007F", func(c *Client) { c.Name = "a\x7f" }),
		"fail/client/name-c1":           clientCase("attrs.name", msgControl+" U+0085", func(c *Client) { c.Name = "a\u0085" }),
		"fail/client/name-invalid-utf8": clientCase("attrs.name", "invalid UTF-8", func(c *Client) { c.Name = "a\xff" }),

		"fail/client/port-0":        clientCase("attrs.port", "0 "+msgRange1, func(c *Client) { c.Port = 0 }),
		"fail/client/port-65536":    clientCase("attrs.port", "65536 "+msgRange1, func(c *Client) { c.Port = 65536 }),
		"fail/client/port-negative": clientCase("attrs.port", "-1 "+msgRange1, func(c *Client) { c.Port = -1 }),

		// relays: unique uuids, valid addr, port 1-65535.
		"fail/client/relays-uuid":          clientCase("attrs.relays[1].uuid", msgUUID, func(c *Client) { c.Relays[1].UUID = "relay2" }),
		"fail/client/relays-uuid-missing":  clientCase("attrs.relays[0].uuid", msgMissing, func(c *Client) { c.Relays[0].UUID = "" }),
		"fail/client/relays-name-missing":  clientCase("attrs.relays[1].name", msgMissing, func(c *Client) { c.Relays[1].Name = "" }),
		"fail/client/relays-name-control":  clientCase("attrs.relays[1].name", msgControl, func(c *Client) { c.Relays[1].Name = "r\t2" }),
		"fail/client/relays-addr-missing":  clientCase("attrs.relays[1].addr", msgMissing, setClientRelayAddr("")),
		"fail/client/relays-addr-https":    clientCase("attrs.relays[1].addr", msgAddr, setClientRelayAddr("https://relay.example.com")),
		"fail/client/relays-addr-port":     clientCase("attrs.relays[1].addr", msgAddr, setClientRelayAddr("relay.example.com:8443")),
		"fail/client/relays-addr-ws-empty": clientCase("attrs.relays[1].addr", msgAddr, setClientRelayAddr("wss://")),
		"fail/client/relays-addr-ws-path":  clientCase("attrs.relays[1].addr", msgAddr, setClientRelayAddr("wss:///v1")),
		"fail/client/relays-addr-ws-user":  clientCase("attrs.relays[1].addr", msgAddr, setClientRelayAddr("wss://u:p@relay.example.com")),
		"fail/client/relays-addr-ws-query": clientCase("attrs.relays[1].addr", msgAddr, setClientRelayAddr("wss://relay.example.com/?x=1")),
		"fail/client/relays-addr-ws-frag":  clientCase("attrs.relays[1].addr", msgAddr, setClientRelayAddr("wss://relay.example.com/#x")),
		"fail/client/relays-addr-ws-port":  clientCase("attrs.relays[1].addr", msgAddr, setClientRelayAddr("wss://relay.example.com:70000")),
		"fail/client/relays-addr-ws-colon": clientCase("attrs.relays[1].addr", msgAddr, setClientRelayAddr("wss://relay.example.com:")),
		"fail/client/relays-addr-ws-bad":   clientCase("attrs.relays[1].addr", msgAddr, setClientRelayAddr("wss://bad_host.example.com")),
		"fail/client/relays-addr-zone":     clientCase("attrs.relays[1].addr", msgAddr, setClientRelayAddr("fe80::1%eth0")),
		"fail/client/relays-addr-brackets": clientCase("attrs.relays[1].addr", msgAddr, setClientRelayAddr("[2001:db8::1]")),
		"fail/client/relays-addr-space":    clientCase("attrs.relays[1].addr", msgAddr, setClientRelayAddr("relay .example.com")),
		"fail/client/relays-addr-ws-space": clientCase("attrs.relays[1].addr", msgAddr, setClientRelayAddr("wss://relay.example.com/a b")),
		"fail/client/relays-addr-ws-utf8":  clientCase("attrs.relays[1].addr", msgAddr, setClientRelayAddr("wss://relay.example.com/é")),
		"fail/client/relays-addr-ws-v6":    clientCase("attrs.relays[1].addr", msgAddr, setClientRelayAddr("wss://2001:db8::9/x")),
		"fail/client/relays-addr-ws-zone":  clientCase("attrs.relays[1].addr", msgAddr, setClientRelayAddr("wss://[fe80::1%25eth0]:443")),
		"fail/client/relays-addr-ws-case":  clientCase("attrs.relays[1].addr", msgAddr, setClientRelayAddr("WSS://relay.example.com")),
		"fail/client/relays-port-0":        clientCase("attrs.relays[0].port", "0 "+msgRange1, func(c *Client) { c.Relays[0].Port = 0 }),
		"fail/client/relays-port-65536":    clientCase("attrs.relays[0].port", "65536 "+msgRange1, func(c *Client) { c.Relays[0].Port = 65536 }),
		"fail/client/relays-duplicate": clientCase("attrs.relays[1].uuid", msgRelayDup+" "+uuidRelay1+" (also at index 0)", func(c *Client) {
			c.Relays[1].UUID = c.Relays[0].UUID
		}),

		// server block: uuid and name required; addr and out_port optional.
		"fail/client/server-uuid-missing":  clientCase("attrs.server.uuid", msgMissing, func(c *Client) { c.Server.UUID = "" }),
		"fail/client/server-uuid-invalid":  clientCase("attrs.server.uuid", msgUUID, func(c *Client) { c.Server.UUID = "server1" }),
		"fail/client/server-name-missing":  clientCase("attrs.server.name", msgMissing, func(c *Client) { c.Server.Name = "" }),
		"fail/client/server-addr-invalid":  clientCase("attrs.server.addr", msgAddr, func(c *Client) { c.Server.Addr = "http://server1" }),
		"fail/client/server-out-port-high": clientCase("attrs.server.out_port", "70000 "+msgRange0, func(c *Client) { c.Server.OutPort = 70000 }),
		"fail/client/server-out-port-neg":  clientCase("attrs.server.out_port", "-1 "+msgRange0, func(c *Client) { c.Server.OutPort = -1 }),

		// target: IP literal or DNS name, no scheme, no port; port 1-65535.
		"fail/client/target-host-missing":    clientCase("attrs.target.host", msgMissing, setTargetHost("")),
		"fail/client/target-host-scheme":     clientCase("attrs.target.host", msgHost, setTargetHost("tcp://db.example.com")),
		"fail/client/target-host-port":       clientCase("attrs.target.host", msgHost, setTargetHost("10.0.0.5:3306")),
		"fail/client/target-host-ipv6-port":  clientCase("attrs.target.host", msgHost, setTargetHost("[2001:db8::5]:3306")),
		"fail/client/target-host-ws":         clientCase("attrs.target.host", msgHost, setTargetHost("wss://db.example.com")),
		"fail/client/target-host-hyphen":     clientCase("attrs.target.host", msgHost, setTargetHost("-db.example.com")),
		"fail/client/target-host-underscore": clientCase("attrs.target.host", msgHost, setTargetHost("my_db.example.com")),
		"fail/client/target-host-empty-lbl":  clientCase("attrs.target.host", msgHost, setTargetHost("db..example.com")),
		"fail/client/target-host-trail-dot":  clientCase("attrs.target.host", msgHost, setTargetHost("db.example.com.")),
		"fail/client/target-host-bad-ipv4":   clientCase("attrs.target.host", msgHost, setTargetHost("10.0.0.256")),
		"fail/client/target-host-octal-ipv4": clientCase("attrs.target.host", msgHost, setTargetHost("010.0.0.5")),
		"fail/client/target-host-zone":       clientCase("attrs.target.host", msgHost, setTargetHost("fe80::1%eth0")),
		"fail/client/target-host-label-64":   clientCase("attrs.target.host", msgHost, setTargetHost(strings.Repeat("a", 64)+".example")),
		"fail/client/target-host-254-bytes":  clientCase("attrs.target.host", msgHost, setTargetHost(strings.Repeat("a.", 126)+"ab")),
		"fail/client/target-port-0":          clientCase("attrs.target.port", "0 "+msgRange1, func(c *Client) { c.Target.Port = 0 }),
		"fail/client/target-port-65536":      clientCase("attrs.target.port", "65536 "+msgRange1, func(c *Client) { c.Target.Port = 65536 }),

		// user and groups.
		"fail/client/user-control":   clientCase("attrs.user", msgControl, func(c *Client) { c.User = "alice\x00" }),
		"fail/client/user-too-long":  clientCase("attrs.user", msgTooLong, func(c *Client) { c.User = strings.Repeat("u", 129) }),
		"fail/client/groups-empty":   clientCase("attrs.groups[1]", msgMissing, func(c *Client) { c.Groups[1] = "" }),
		"fail/client/groups-control": clientCase("attrs.groups[0]", msgControl, func(c *Client) { c.Groups[0] = "d\nba" }),

		// schedule.
		"fail/client/schedule-tz-missing":   clientCase("attrs.schedule.tz", msgMissing, setSchedule(func(s *Schedule) { s.TZ = "" })),
		"fail/client/schedule-tz-unknown":   clientCase("attrs.schedule.tz", `unknown time zone "Mars/Olympus"`, setSchedule(func(s *Schedule) { s.TZ = "Mars/Olympus" })),
		"fail/client/schedule-tz-local":     clientCase("attrs.schedule.tz", `"Local" is not allowed`, setSchedule(func(s *Schedule) { s.TZ = "Local" })),
		"fail/client/schedule-tz-path":      clientCase("attrs.schedule.tz", "unknown time zone", setSchedule(func(s *Schedule) { s.TZ = "../../etc/passwd" })),
		"fail/client/schedule-day-unknown":  clientCase("attrs.schedule.days[1]", `unknown day "monday"`, setSchedule(func(s *Schedule) { s.Days[1] = "monday" })),
		"fail/client/schedule-day-case":     clientCase("attrs.schedule.days[0]", `unknown day "Mon"`, setSchedule(func(s *Schedule) { s.Days[0] = "Mon" })),
		"fail/client/schedule-day-dup":      clientCase("attrs.schedule.days[4]", `duplicate day "mon"`, setSchedule(func(s *Schedule) { s.Days[4] = "mon" })),
		"fail/client/schedule-from-missing": clientCase("attrs.schedule.from", msgMissing, setSchedule(func(s *Schedule) { s.From = "" })),
		"fail/client/schedule-from-24":      clientCase("attrs.schedule.from", msgTime+` "24:00"`, setSchedule(func(s *Schedule) { s.From = "24:00" })),
		"fail/client/schedule-from-60":      clientCase("attrs.schedule.from", msgTime, setSchedule(func(s *Schedule) { s.From = "08:60" })),
		"fail/client/schedule-from-unpad":   clientCase("attrs.schedule.from", msgTime, setSchedule(func(s *Schedule) { s.From = "8:00" })),
		"fail/client/schedule-from-seconds": clientCase("attrs.schedule.from", msgTime, setSchedule(func(s *Schedule) { s.From = "08:00:00" })),
		"fail/client/schedule-from-dot":     clientCase("attrs.schedule.from", msgTime, setSchedule(func(s *Schedule) { s.From = "08.00" })),
		"fail/client/schedule-from-sign":    clientCase("attrs.schedule.from", msgTime, setSchedule(func(s *Schedule) { s.From = "+8:00" })),
		"fail/client/schedule-to-missing":   clientCase("attrs.schedule.to", msgMissing, setSchedule(func(s *Schedule) { s.To = "" })),
		"fail/client/schedule-to-invalid":   clientCase("attrs.schedule.to", msgTime, setSchedule(func(s *Schedule) { s.To = "7pm" })),
		"fail/client/schedule-from-eq-to":   clientCase("attrs.schedule.to", `"08:00" equals from`, setSchedule(func(s *Schedule) { s.To = s.From })),

		// server.
		"fail/server/uuid-missing":     serverCase("attrs.uuid", msgMissing, func(s *Server) { s.UUID = "" }),
		"fail/server/uuid-invalid":     serverCase("attrs.uuid", msgUUID, func(s *Server) { s.UUID = "1A2B3C4D-5E6F-4A0B-9C1D-2E3F4A5B6C7D" }),
		"fail/server/name-missing":     serverCase("attrs.name", msgMissing, func(s *Server) { s.Name = "" }),
		"fail/server/name-too-long":    serverCase("attrs.name", msgTooLong, func(s *Server) { s.Name = strings.Repeat("s", 129) }),
		"fail/server/host-invalid":     serverCase("attrs.host", msgAddr, func(s *Server) { s.Host = "server1.example.com:9443" }),
		"fail/server/port-negative":    serverCase("attrs.port", "-1 "+msgRange0, func(s *Server) { s.Port = -1 }),
		"fail/server/port-65536":       serverCase("attrs.port", "65536 "+msgRange0, func(s *Server) { s.Port = 65536 }),
		"fail/server/out-port-65536":   serverCase("attrs.out_port", "65536 "+msgRange0, func(s *Server) { s.OutPort = 65536 }),
		"fail/server/resources-none":   serverCase("attrs.resources", "at least one resource", func(s *Server) { s.Resources = nil }),
		"fail/server/resource-uuid":    serverCase("attrs.resources[1].uuid", msgUUID, setResource(1, func(r *Resource) { r.UUID = "web" })),
		"fail/server/resource-name":    serverCase("attrs.resources[1].name", msgMissing, setResource(1, func(r *Resource) { r.Name = "" })),
		"fail/server/resource-name-cc": serverCase("attrs.resources[0].name", msgControl, setResource(0, func(r *Resource) { r.Name = "db\r" })),
		"fail/server/resource-no-type": serverCase("attrs.resources[0].type", msgMissing, setResource(0, func(r *Resource) { r.Type = "" })),
		"fail/server/resource-type":    serverCase("attrs.resources[0].type", `unknown resource type "dns"`, setResource(0, func(r *Resource) { r.Type = "dns" })),
		"fail/server/resource-no-host": serverCase("attrs.resources[1].host", msgMissing, setResource(1, func(r *Resource) { r.Prefix = netip.Prefix{} })),
		"fail/server/resource-4in6": serverCase("attrs.resources[0].host", "IPv4-mapped IPv6 prefix", setResource(0, func(r *Resource) {
			r.Prefix = netip.MustParsePrefix("::ffff:10.0.0.0/120")
		})),
		"fail/server/resource-no-port": serverCase("attrs.resources[0].port", msgMissing, setResource(0, func(r *Resource) { r.Ports = PortRange{} })),
		"fail/server/resource-first-0": serverCase("attrs.resources[1].ports", "invalid port range 0-100", setResource(1, func(r *Resource) { r.Ports = PortRange{0, 100} })),
		"fail/server/resource-reverse": serverCase("attrs.resources[1].ports", "invalid port range 8100-8000", setResource(1, func(r *Resource) { r.Ports = PortRange{8100, 8000} })),
		"fail/server/relays-addr":      serverCase("attrs.relays[0].addr", msgAddr, func(s *Server) { s.Relays[0].Addr = "relay1.example.com/v1" }),
		"fail/server/relays-port":      serverCase("attrs.relays[1].port", "0 "+msgRange1, func(s *Server) { s.Relays[1].Port = 0 }),
		"fail/server/relays-duplicate": serverCase("attrs.relays[1].uuid", msgRelayDup, func(s *Server) { s.Relays[1].UUID = uuidRelay1 }),

		// relay.
		"fail/relay/uuid-missing":    relayCase("attrs.uuid", msgMissing, func(r *Relay) { r.UUID = "" }),
		"fail/relay/uuid-invalid":    relayCase("attrs.uuid", msgUUID, func(r *Relay) { r.UUID = uuidRelay1[:35] }),
		"fail/relay/name-missing":    relayCase("attrs.name", msgMissing, func(r *Relay) { r.Name = "" }),
		"fail/relay/name-control":    relayCase("attrs.name", msgControl, func(r *Relay) { r.Name = "\x1b[31mred" }),
		"fail/relay/address-missing": relayCase("attrs.address", msgMissing, func(r *Relay) { r.Address = "" }),
		"fail/relay/address-invalid": relayCase("attrs.address", msgAddr, func(r *Relay) { r.Address = "ftp://relay1.example.com" }),
		"fail/relay/address-numeric": relayCase("attrs.address", msgAddr, func(r *Relay) { r.Address = "1.2.3" }),
		"fail/relay/port-0":          relayCase("attrs.port", "0 "+msgRange1, func(r *Relay) { r.Port = 0 }),
		"fail/relay/port-65536":      relayCase("attrs.port", "65536 "+msgRange1, func(r *Relay) { r.Port = 65536 }),
	}
	for name, build := range tests {
		t.Run(name, func(t *testing.T) {
			tc := build(t)
			err := tc.attrs.Validate()
			if tc.field == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				if _, err := Encode(tc.attrs); err != nil {
					t.Fatalf("Encode: %v", err)
				}
				return
			}
			wantFieldErr(t, err, tc.field, tc.msg)
			// Encode and MarshalJSON refuse what Validate refuses, with the same error.
			if _, encErr := Encode(tc.attrs); !errors.Is(encErr, err) && (encErr == nil || !strings.Contains(encErr.Error(), err.Error())) {
				t.Errorf("Encode error %v, want it to carry %v", encErr, err)
			}
			if _, mErr := MarshalJSON(tc.attrs); mErr == nil || mErr.Error() != err.Error() {
				t.Errorf("MarshalJSON error %v, want %v", mErr, err)
			}
			// A document carrying the same value is refused by the decoder, naming the same
			// field (the message can differ: a zero port is absent from JSON).
			if tc.field == "attrs" || name == "fail/client/name-invalid-utf8" {
				return // JSON cannot carry it (encoding/json writes U+FFFD for invalid UTF-8)
			}
			doc, mErr := marshalDoc(tc.attrs)
			if mErr != nil {
				return // not representable in JSON (an invalid prefix)
			}
			_, dErr := UnmarshalJSON(doc)
			var fe *FieldError
			if !errors.As(dErr, &fe) || fe.Field != tc.field {
				t.Errorf("UnmarshalJSON(%s) error %v, want one naming %s", doc, dErr, tc.field)
			}
		})
	}
}

func TestValidateMessagesAreLowerCase(t *testing.T) {
	a := validClient()
	a.Client.Target.Port = 70000
	err := a.Validate()
	if got, want := err.Error(), "attrs.target.port: 70000 out of range 1-65535"; got != want {
		t.Errorf("error %q, want %q", got, want)
	}
}
