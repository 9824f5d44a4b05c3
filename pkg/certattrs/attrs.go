package certattrs

import (
	"encoding/asn1"
	"net/netip"
)

// OIDString is the X.509 extension that carries Sentinel attributes: arc 1.1 under the
// project's private enterprise number 62297. Changing it invalidates every issued certificate.
const OIDString = "1.3.6.1.4.1.62297.1.1"

// OID is OIDString as an ASN.1 object identifier.
var OID = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 62297, 1, 1}

// MaxDocumentSize bounds the JSON document inside the extension.
const MaxDocumentSize = 16 << 10

// DNSSuffix is appended to "<uuid>.<role>" to form the identity SAN of every certificate.
const DNSSuffix = "sentinel.internal"

// Role names what a certificate lets its holder be.
type Role string

// The three roles.
const (
	RoleClient Role = "client"
	RoleServer Role = "server"
	RoleRelay  Role = "relay"
)

// Attrs is the decoded extension: exactly one of Client, Server and Relay is set.
type Attrs struct {
	Client *Client
	Server *Server
	Relay  *Relay
}

// Client is what a client certificate grants.
type Client struct {
	UUID     string     `json:"uuid"`
	Name     string     `json:"name"`
	Port     int        `json:"port"` // local listen port, 1-65535
	Relays   []RelayRef `json:"relays,omitempty"`
	Server   ServerRef  `json:"server"`
	Target   Target     `json:"target"`
	User     string     `json:"user,omitempty"`
	Groups   []string   `json:"groups,omitempty"`
	Schedule *Schedule  `json:"schedule,omitempty"`
}

// Server is what a server certificate grants.
type Server struct {
	UUID      string     `json:"uuid"`
	Name      string     `json:"name"`
	Host      string     `json:"host,omitempty"` // address of the direct listener, if any
	Port      int        `json:"port"`           // direct listener port; 0 = none
	OutPort   int        `json:"out_port,omitempty"`
	Resources []Resource `json:"resources"`
	Relays    []RelayRef `json:"relays,omitempty"`
}

// Relay is what a relay certificate grants.
type Relay struct {
	UUID    string `json:"uuid"`
	Name    string `json:"name"`
	Address string `json:"address"` // host name or IP clients and servers dial
	Port    int    `json:"port"`
}

// RelayRef names a relay a client or server may use; lower Sort is tried first.
type RelayRef struct {
	UUID string `json:"uuid"`
	Name string `json:"name"`
	Addr string `json:"addr"`
	Port int    `json:"port"`
	Sort int    `json:"sort"`
}

// ServerRef names the one server a client may reach.
type ServerRef struct {
	UUID    string `json:"uuid"`
	Name    string `json:"name"`
	Addr    string `json:"addr,omitempty"`     // direct-mode address, if the server has one
	OutPort int    `json:"out_port,omitempty"` // direct-mode port, if any
}

// Target is the host and port a client's streams go to; Host is an IP or a DNS name the
// server resolves on its side.
type Target struct {
	Host string `json:"host"`
	Port int    `json:"port"`
}

// Resource is one allow-list entry of a server: a CIDR and a port or an inclusive port range.
// In JSON exactly one of "port" and "ports" ("8000-8100") is present.
type Resource struct {
	UUID   string       `json:"uuid"`
	Name   string       `json:"name"`
	Type   string       `json:"type"` // "cidr"
	Prefix netip.Prefix `json:"-"`    // masked; JSON "host"
	Ports  PortRange    `json:"-"`    // JSON "port" or "ports"
}

// PortRange is an inclusive range of TCP ports, First <= Last.
type PortRange struct{ First, Last uint16 }

// Schedule limits when a client may connect: on Days, between From and To (wrapping past
// midnight when To < From), in the IANA time zone TZ.
type Schedule struct {
	TZ   string   `json:"tz"`             // IANA name, e.g. "Europe/Paris"
	Days []string `json:"days,omitempty"` // "mon".."sun"; empty = every day
	From string   `json:"from"`           // "HH:MM"
	To   string   `json:"to"`             // "HH:MM"
}
