package ca

import (
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"go.step.sm/crypto/keyutil"
	"go.step.sm/crypto/x509util"

	"github.com/sentinel-zt/sentinel/pkg/certattrs"
)

// Default lifetimes (DESIGN.md "Certificate attributes"); IssueRequest.TTL overrides them.
// No certificate outlives the root.
const (
	ClientLifetime = 24 * time.Hour
	ServerLifetime = 30 * 24 * time.Hour
	RelayLifetime  = 30 * 24 * time.Hour
)

// DefaultClientPort is the client's local listen port when ClientSpec.Port is zero.
const DefaultClientPort = 48080

// IssueRequest asks for one certificate. Exactly one of Relay, Server and Client is set.
type IssueRequest struct {
	// Name is the component's name: 1-64 letters, digits, '.', '_', '-'. Re-issuing a name
	// of the same role keeps its uuid.
	Name string
	// TTL is the lifetime; 0 = the role's default (ClientLifetime, ServerLifetime,
	// RelayLifetime). It is cut short at the root's expiry, with a warning.
	TTL time.Duration
	// KeyType of the generated key; "" = KeyECDSAP256.
	KeyType KeyType

	Relay  *RelaySpec
	Server *ServerSpec
	Client *ClientSpec
}

// RelaySpec is what a relay certificate says.
type RelaySpec struct {
	// Addr is where clients and servers reach the relay: a host name, an IP, or a ws:// or
	// wss:// URL for a relay behind a proxy or CDN. The SAN is its host.
	Addr string
	// Port is the relay's port (its listener; what clients dial when Addr is not a URL).
	Port int
}

// ServerSpec is what a server certificate says.
type ServerSpec struct {
	// Relays are relay names, tried in this order; empty = every valid relay in the
	// inventory, in inventory order.
	Relays []string
	// Resources are the allow-list; at least one. An empty Name is filled by position
	// ("res1", "res2", ...); an empty UUID is kept from the previous certificate's resource
	// of the same name, or made new.
	Resources []certattrs.Resource
	// Host is the direct-mode address clients may dial (host name or IP); "" = none.
	Host string
	// Port is the direct-mode listener port; 0 = no direct mode. Needs Host.
	Port int
	// OutPort is the externally reachable direct-mode port; 0 = Port.
	OutPort int
}

// ClientSpec is what a client certificate says.
type ClientSpec struct {
	// Server is the name of the one server the client may reach.
	Server string
	// Relays are relay names, tried in this order; empty = every valid relay in the
	// inventory, in inventory order.
	Relays []string
	// Target is where the client's streams go; an IP target must be inside one of the
	// server's resources unless AllowOutside.
	Target certattrs.Target
	// Port is the local listen port; 0 = DefaultClientPort.
	Port int
	// User, Groups and Schedule are optional.
	User     string
	Groups   []string
	Schedule *certattrs.Schedule
	// AllowOutside issues even when an IP target is outside every resource (with a warning).
	AllowOutside bool
}

// Role is the role the request asks for ("" when none or several specs are set).
func (r IssueRequest) Role() certattrs.Role {
	var role certattrs.Role
	n := 0
	if r.Relay != nil {
		role, n = certattrs.RoleRelay, n+1
	}
	if r.Server != nil {
		role, n = certattrs.RoleServer, n+1
	}
	if r.Client != nil {
		role, n = certattrs.RoleClient, n+1
	}
	if n != 1 {
		return ""
	}
	return role
}

// Issued is a newly signed certificate, its key and its inventory record.
type Issued struct {
	Record  Record
	Attrs   certattrs.Attrs
	Cert    *x509.Certificate
	CertPEM []byte
	Key     crypto.Signer
	KeyPEM  []byte // PKCS #8
	// Reissued is true when the name already had a certificate of this role; its uuid was kept.
	Reissued bool
	// Warnings are things the caller should show: unchecked DNS targets, a lifetime cut at
	// the root's expiry, relays the server does not use...
	Warnings []string
}

// Issue validates req, resolves the relay and server names it mentions against the
// inventory, signs the certificate with a fresh key and records it, all in one inventory
// transaction.
func (c *CA) Issue(req IssueRequest) (*Issued, error) {
	role := req.Role()
	if role == "" {
		return nil, errors.New("issue: exactly one of relay, server and client must be set")
	}
	kt, err := ParseKeyType(string(req.KeyType))
	if err != nil {
		return nil, fieldErr("key_type", err)
	}
	tx, err := c.begin()
	if err != nil {
		return nil, fmt.Errorf("inventory: %w", err)
	}
	defer tx.Rollback()
	p, err := c.plan(tx, req, nil)
	if err != nil {
		return nil, err
	}

	key, err := generateKey(kt)
	if err != nil {
		return nil, err
	}
	cert, err := x509util.CreateCertificate(p.template(key.Public()), c.root, key.Public(), c.key)
	if err != nil {
		return nil, fmt.Errorf("sign %s %s: %w", role, req.Name, err)
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return nil, err
	}
	rec, err := insertRecord(tx, cert, p.Attrs, RecordOptions{}, p.now)
	if err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("inventory: record %s %s: %w", role, req.Name, err)
	}
	return &Issued{
		Record:   rec,
		Attrs:    p.Attrs,
		Cert:     cert,
		CertPEM:  encodeCert(cert),
		Key:      key,
		KeyPEM:   keyPEM,
		Reissued: p.Reissued,
		Warnings: p.Warnings,
	}, nil
}

// Plan is what the certificate for an IssueRequest says, resolved against the inventory now,
// for a key not yet known: the online CA signs it for the key a device made. Attributes,
// names and usages come from the request and the inventory only, never from the device.
type Plan struct {
	Role  certattrs.Role
	Name  string
	UUID  string
	Attrs certattrs.Attrs
	// Extension is the encoded attributes extension.
	Extension   pkix.Extension
	DNSNames    []string
	IPAddresses []net.IP
	KeyUsage    x509.KeyUsage
	ExtKeyUsage []x509.ExtKeyUsage
	NotBefore   time.Time
	NotAfter    time.Time
	// Reissued is true when the name already had a certificate of this role; its uuid is kept.
	Reissued bool
	Warnings []string

	now time.Time
}

// Plan resolves req against the inventory without signing or recording anything.
// defaultTTL, when req.TTL is zero, replaces the role's offline default lifetime.
func (c *CA) Plan(req IssueRequest, defaultTTL func(certattrs.Role) time.Duration) (*Plan, error) {
	tx, err := c.begin()
	if err != nil {
		return nil, fmt.Errorf("inventory: %w", err)
	}
	defer tx.Rollback()
	return c.plan(tx, req, defaultTTL)
}

func (c *CA) plan(q querier, req IssueRequest, defaultTTL func(certattrs.Role) time.Duration) (*Plan, error) {
	role := req.Role()
	if role == "" {
		return nil, errors.New("issue: exactly one of relay, server and client must be set")
	}
	if err := ValidateName(req.Name); err != nil {
		return nil, fieldErr("name", err)
	}
	ttl := req.TTL
	switch {
	case ttl < 0:
		return nil, fieldErrorf("ttl", "%v: must be positive", ttl)
	case ttl == 0 && defaultTTL != nil:
		ttl = defaultTTL(role)
	case ttl == 0:
		ttl = map[certattrs.Role]time.Duration{
			certattrs.RoleClient: ClientLifetime,
			certattrs.RoleServer: ServerLifetime,
			certattrs.RoleRelay:  RelayLifetime,
		}[role]
	}

	now := c.now()
	if !now.Before(c.root.NotAfter) {
		return nil, fmt.Errorf("%w on %s: make a new CA", ErrRootExpired, formatTime(c.root.NotAfter))
	}

	b := &builder{q: q, now: now, role: role, name: req.Name}
	prev, _, reissued, err := latest(q, role, req.Name, now)
	if err != nil {
		return nil, err
	}
	if reissued {
		// Keep the identity: pins on the uuid stay valid.
		b.uuid = prev.UUID
		if b.prev, err = prev.DecodeAttrs(); err != nil {
			return nil, err
		}
	} else {
		b.uuid = uuid.NewString()
	}
	var attrs certattrs.Attrs
	switch role {
	case certattrs.RoleRelay:
		attrs, err = b.relay(req.Relay)
	case certattrs.RoleServer:
		attrs, err = b.server(req.Server)
	default:
		attrs, err = b.client(req.Client)
	}
	if err != nil {
		return nil, err
	}
	ext, err := certattrs.Encode(attrs)
	if err != nil {
		return nil, fmt.Errorf("issue %s %s: %w", role, req.Name, err)
	}

	notBefore := now.Add(-backdate)
	if notBefore.Before(c.root.NotBefore) {
		notBefore = c.root.NotBefore
	}
	notAfter := now.Add(ttl)
	if notAfter.After(c.root.NotAfter) {
		notAfter = c.root.NotAfter
		b.warnf("lifetime cut to the root's expiry, %s", formatTime(notAfter))
	}
	return &Plan{
		Role:        role,
		Name:        req.Name,
		UUID:        b.uuid,
		Attrs:       attrs,
		Extension:   ext,
		DNSNames:    b.dns,
		IPAddresses: b.ips,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: ExtKeyUsage(role),
		NotBefore:   notBefore,
		NotAfter:    notAfter,
		Reissued:    reissued,
		Warnings:    b.warnings,
		now:         now,
	}, nil
}

// template is the certificate p describes, for pub.
func (p *Plan) template(pub crypto.PublicKey) *x509.Certificate {
	eku := make(x509util.ExtKeyUsage, len(p.ExtKeyUsage))
	copy(eku, p.ExtKeyUsage)
	tmpl := &x509util.Certificate{
		Subject:          x509util.Subject{CommonName: p.Name},
		DNSNames:         p.DNSNames,
		IPAddresses:      p.IPAddresses,
		NotBefore:        p.NotBefore,
		NotAfter:         p.NotAfter,
		KeyUsage:         x509util.KeyUsage(p.KeyUsage),
		ExtKeyUsage:      eku,
		BasicConstraints: &x509util.BasicConstraints{IsCA: false},
		Extensions: []x509util.Extension{{
			ID:       x509util.ObjectIdentifier(p.Extension.Id),
			Critical: p.Extension.Critical,
			Value:    p.Extension.Value,
		}},
		PublicKey: pub,
	}
	return tmpl.GetCertificate()
}

// RecordOptions are what the online CA adds to a record.
type RecordOptions struct {
	Token       string // enrollment token id
	Ephemeral   bool
	RenewedFrom string // serial of the renewed certificate
}

// Record adds a certificate signed outside Issue (by the online CA) to the inventory. Its
// role, name and uuid are read from its attributes.
func (c *CA) Record(cert *x509.Certificate, opts RecordOptions) (Record, error) {
	attrs, err := certattrs.Decode(cert)
	if err != nil {
		return Record{}, fmt.Errorf("record certificate %s: %w", SerialString(cert), err)
	}
	return insertRecord(c.q(), cert, attrs, opts, c.now())
}

func insertRecord(q querier, cert *x509.Certificate, attrs certattrs.Attrs, opts RecordOptions, now time.Time) (Record, error) {
	doc, err := certattrs.MarshalJSON(attrs)
	if err != nil {
		return Record{}, fmt.Errorf("record %s %s: %w", attrs.Role(), attrs.Name(), err)
	}
	rec := Record{
		Serial:      SerialString(cert),
		Role:        attrs.Role(),
		Name:        attrs.Name(),
		UUID:        attrs.UUID(),
		NotBefore:   cert.NotBefore,
		NotAfter:    cert.NotAfter,
		IssuedAt:    now.UTC().Truncate(time.Second),
		Ephemeral:   opts.Ephemeral,
		Token:       opts.Token,
		RenewedFrom: opts.RenewedFrom,
	}
	ephemeral := 0
	if opts.Ephemeral {
		ephemeral = 1
	}
	if _, err := q.Exec(`INSERT INTO certificates (serial, role, name, uuid, attrs, not_before, not_after, issued_at, der, ephemeral, token, renewed_from)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		rec.Serial, string(rec.Role), rec.Name, rec.UUID, string(doc),
		formatTime(rec.NotBefore), formatTime(rec.NotAfter), formatTime(rec.IssuedAt), cert.Raw,
		ephemeral, rec.Token, rec.RenewedFrom); err != nil {
		return Record{}, fmt.Errorf("inventory: record %s %s: %w", rec.Role, rec.Name, err)
	}
	rec.Attrs = innerAttrs(doc)
	return rec, nil
}

// SerialString is the inventory's form of a certificate serial: lower-case hex.
func SerialString(cert *x509.Certificate) string { return cert.SerialNumber.Text(16) }

// ExtKeyUsage is a role's extended key usages (DESIGN.md "Certificate attributes").
func ExtKeyUsage(role certattrs.Role) []x509.ExtKeyUsage {
	switch role {
	case certattrs.RoleRelay:
		return []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	case certattrs.RoleServer:
		return []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	default:
		return []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
}

func generateKey(kt KeyType) (crypto.Signer, error) {
	var (
		key crypto.Signer
		err error
	)
	switch kt {
	case KeyEd25519:
		key, err = keyutil.GenerateSigner("OKP", "Ed25519", 0)
	default:
		key, err = keyutil.GenerateSigner("EC", "P-256", 0)
	}
	if err != nil {
		return nil, fmt.Errorf("generate %s key: %w", kt, err)
	}
	return key, nil
}

// builder resolves one request's names and fills its attributes and SANs.
type builder struct {
	q        querier
	now      time.Time
	role     certattrs.Role
	name     string
	uuid     string
	prev     certattrs.Attrs // previous certificate of the name, if any
	dns      []string
	ips      []net.IP
	warnings []string
}

func (b *builder) warnf(format string, args ...any) {
	b.warnings = append(b.warnings, fmt.Sprintf(format, args...))
}

func (b *builder) addSAN(a Address) {
	switch {
	case a.IP.IsValid():
		b.ips = append(b.ips, net.IP(a.IP.AsSlice()))
	case a.DNS != "":
		if !slices.Contains(b.dns, a.DNS) {
			b.dns = append(b.dns, a.DNS)
		}
	}
}

func (b *builder) relay(s *RelaySpec) (certattrs.Attrs, error) {
	addr, err := ParseRelayAddr(s.Addr)
	if err != nil {
		return certattrs.Attrs{}, fieldErr("addr", err)
	}
	if err := validatePort(s.Port); err != nil {
		return certattrs.Attrs{}, fieldErr("port", err)
	}
	b.dns = []string{certattrs.IdentityDNS(b.role, b.uuid)}
	b.addSAN(addr)
	return certattrs.Attrs{Relay: &certattrs.Relay{
		UUID: b.uuid, Name: b.name, Address: addr.Value, Port: s.Port,
	}}, nil
}

func (b *builder) server(s *ServerSpec) (certattrs.Attrs, error) {
	srv := &certattrs.Server{UUID: b.uuid, Name: b.name}
	b.dns = []string{certattrs.IdentityDNS(b.role, b.uuid)}
	if s.Host != "" {
		h, err := ParseHost(s.Host)
		if err != nil {
			return certattrs.Attrs{}, fieldErr("host", err)
		}
		if s.Port == 0 {
			return certattrs.Attrs{}, fieldErrorf("host", "%q needs a direct-mode port", s.Host)
		}
		srv.Host = h.Value
		b.addSAN(h)
	}
	if s.Port != 0 {
		if err := validatePort(s.Port); err != nil {
			return certattrs.Attrs{}, fieldErr("port", err)
		}
		if s.Host == "" {
			return certattrs.Attrs{}, fieldErrorf("port", "%d: direct mode needs a host", s.Port)
		}
		srv.Port, srv.OutPort = s.Port, s.Port
	}
	if s.OutPort != 0 {
		if err := validatePort(s.OutPort); err != nil {
			return certattrs.Attrs{}, fieldErr("out_port", err)
		}
		if s.Port == 0 {
			return certattrs.Attrs{}, fieldErrorf("out_port", "%d: needs a direct-mode port", s.OutPort)
		}
		srv.OutPort = s.OutPort
	}

	res, err := b.resources(s.Resources)
	if err != nil {
		return certattrs.Attrs{}, err
	}
	srv.Resources = res
	if srv.Relays, err = b.relays(s.Relays); err != nil {
		return certattrs.Attrs{}, err
	}
	if len(srv.Relays) == 0 && srv.Port == 0 {
		return certattrs.Attrs{}, fmt.Errorf("server %q would be unreachable: no valid relay in the inventory and no direct-mode host and port", b.name)
	}
	return certattrs.Attrs{Server: srv}, nil
}

func (b *builder) resources(in []certattrs.Resource) ([]certattrs.Resource, error) {
	if len(in) == 0 {
		return nil, fieldErrorf("resources", "at least one resource is required")
	}
	prevUUID := map[string]string{}
	if b.prev.Server != nil {
		for _, r := range b.prev.Server.Resources {
			prevUUID[r.Name] = r.UUID
		}
	}
	out := make([]certattrs.Resource, len(in))
	seen := map[string]bool{}
	for i, r := range in {
		if r.Name == "" {
			r.Name = fmt.Sprintf("res%d", i+1)
		} else if err := ValidateName(r.Name); err != nil {
			return nil, fieldErrorf("resources", "name %w", err)
		}
		if seen[r.Name] {
			return nil, fieldErrorf("resources", "duplicate resource name %q", r.Name)
		}
		seen[r.Name] = true
		if r.Type == "" {
			r.Type = "cidr"
		}
		r.Prefix = r.Prefix.Masked()
		if r.UUID == "" {
			r.UUID = prevUUID[r.Name]
		}
		if r.UUID == "" {
			r.UUID = uuid.NewString()
		}
		out[i] = r
	}
	return out, nil
}

// relays resolves relay names, in the order given, to references; no names = every valid
// relay of the inventory in inventory order.
func (b *builder) relays(want []string) ([]certattrs.RelayRef, error) {
	var recs []Record
	if len(want) == 0 {
		all, err := names(b.q, certattrs.RoleRelay)
		if err != nil {
			return nil, err
		}
		for _, n := range all {
			r, live, _, err := latest(b.q, certattrs.RoleRelay, n, b.now)
			if err != nil {
				return nil, err
			}
			if live {
				recs = append(recs, r)
			}
		}
	} else {
		seen := map[string]bool{}
		for _, n := range want {
			if n == "" {
				return nil, fieldErrorf("relays", "empty relay name")
			}
			if seen[n] {
				return nil, fieldErr("relays", fmt.Errorf("%w %q", ErrDuplicateRelay, n))
			}
			seen[n] = true
			r, err := b.lookup(certattrs.RoleRelay, n, ErrUnknownRelay)
			if err != nil {
				return nil, err
			}
			recs = append(recs, r)
		}
	}
	refs := make([]certattrs.RelayRef, 0, len(recs))
	for i, r := range recs {
		a, err := r.DecodeAttrs()
		if err != nil {
			return nil, err
		}
		if a.Relay == nil {
			return nil, fmt.Errorf("inventory serial %s: relay record without relay attributes", r.Serial)
		}
		refs = append(refs, certattrs.RelayRef{
			UUID: a.Relay.UUID, Name: a.Relay.Name, Addr: a.Relay.Address, Port: a.Relay.Port, Sort: i + 1,
		})
	}
	return refs, nil
}

// lookup finds the valid certificate of a name; unknown names wrap unknown, names whose
// certificates are all revoked or expired wrap ErrNotLive.
func (b *builder) lookup(role certattrs.Role, name string, unknown error) (Record, error) {
	r, live, found, err := latest(b.q, role, name, b.now)
	if err != nil {
		return Record{}, err
	}
	if !found {
		all, err := names(b.q, role)
		if err != nil {
			return Record{}, err
		}
		known := "the inventory has none"
		if len(all) > 0 {
			known = "known: " + strings.Join(all, ", ")
		}
		return Record{}, fmt.Errorf("%w %q (%s)", unknown, name, known)
	}
	if !live {
		return Record{}, fmt.Errorf("%s %q: %w (latest serial %s is %s); re-issue it first",
			role, name, ErrNotLive, r.Serial, r.Status(b.now))
	}
	return r, nil
}

func (b *builder) client(s *ClientSpec) (certattrs.Attrs, error) {
	cl := &certattrs.Client{UUID: b.uuid, Name: b.name, Port: s.Port, User: s.User, Schedule: s.Schedule}
	b.dns = []string{certattrs.IdentityDNS(b.role, b.uuid)}
	if cl.Port == 0 {
		cl.Port = DefaultClientPort
	}
	if err := validatePort(cl.Port); err != nil {
		return certattrs.Attrs{}, fieldErr("port", err)
	}
	if s.Server == "" {
		return certattrs.Attrs{}, fieldErrorf("server", "missing")
	}
	seen := map[string]bool{}
	for _, g := range s.Groups {
		if g == "" {
			return certattrs.Attrs{}, fieldErrorf("groups", "empty group")
		}
		if seen[g] {
			return certattrs.Attrs{}, fieldErrorf("groups", "duplicate group %q", g)
		}
		seen[g] = true
	}
	cl.Groups = slices.Clone(s.Groups)

	// Target syntax before any inventory lookup: a bad flag is reported as such.
	th, err := ParseHost(s.Target.Host)
	if err != nil {
		return certattrs.Attrs{}, fieldErr("target", err)
	}
	if err := validatePort(s.Target.Port); err != nil {
		return certattrs.Attrs{}, fieldErrorf("target", "port %w", err)
	}
	cl.Target = certattrs.Target{Host: th.Value, Port: s.Target.Port}

	sr, err := b.lookup(certattrs.RoleServer, s.Server, ErrUnknownServer)
	if err != nil {
		return certattrs.Attrs{}, err
	}
	sa, err := sr.DecodeAttrs()
	if err != nil {
		return certattrs.Attrs{}, err
	}
	srv := sa.Server
	if srv == nil {
		return certattrs.Attrs{}, fmt.Errorf("inventory serial %s: server record without server attributes", sr.Serial)
	}
	cl.Server = certattrs.ServerRef{UUID: srv.UUID, Name: srv.Name}
	if srv.Port != 0 {
		cl.Server.Addr, cl.Server.OutPort = srv.Host, srv.OutPort
	}

	switch {
	case th.IP.IsValid():
		ap := netip.AddrPortFrom(th.IP, uint16(s.Target.Port))
		if _, ok := certattrs.Allow(srv.Resources, ap); !ok {
			err := fmt.Errorf("target %s %w of server %q (%s)", ap, ErrTargetOutside, srv.Name, describeResources(srv.Resources))
			if !s.AllowOutside {
				return certattrs.Attrs{}, err
			}
			b.warnf("%v; issued anyway: the server will refuse it", err)
		}
	default:
		b.warnf("target %s is a DNS name: not checked against server %q's resources now; the server checks the address it resolves to",
			net.JoinHostPort(th.Value, fmt.Sprint(s.Target.Port)), srv.Name)
	}

	if cl.Relays, err = b.relays(s.Relays); err != nil {
		return certattrs.Attrs{}, err
	}
	if len(cl.Relays) == 0 && cl.Server.Addr == "" {
		return certattrs.Attrs{}, fmt.Errorf("client %q would be unreachable: no valid relay in the inventory and server %q has no direct mode", b.name, srv.Name)
	}
	serverRelays := map[string]bool{}
	for _, r := range srv.Relays {
		serverRelays[r.UUID] = true
	}
	for _, r := range cl.Relays {
		if !serverRelays[r.UUID] {
			b.warnf("relay %q is not one of server %q's relays: the client cannot reach the server through it", r.Name, srv.Name)
		}
	}
	return certattrs.Attrs{Client: cl}, nil
}

func describeResources(rs []certattrs.Resource) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = r.Name + " " + FormatResource(r)
	}
	return "resources: " + strings.Join(parts, ", ")
}

// innerAttrs returns the value of the "attrs" key of a {"attrs": {...}} document.
func innerAttrs(doc []byte) json.RawMessage {
	var env struct {
		Attrs json.RawMessage `json:"attrs"`
	}
	if err := json.Unmarshal(doc, &env); err != nil {
		return nil
	}
	return env.Attrs
}
