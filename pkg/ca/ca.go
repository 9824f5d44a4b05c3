package ca

import (
	"crypto"
	"crypto/x509"
	"database/sql"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"go.step.sm/crypto/keyutil"
	"go.step.sm/crypto/pemutil"
	"go.step.sm/crypto/x509util"

	"github.com/sentinel-zt/sentinel/internal/atomicfile"
)

// Files of a CA directory.
const (
	RootCertFile  = "ca.crt"
	RootKeyFile   = "ca.key"
	InventoryFile = "inventory.db"
)

// DefaultRootName is the root's common name when InitOptions.Name is empty.
const DefaultRootName = "Sentinel Root CA"

// DefaultRootLifetime is the root's lifetime when InitOptions.Lifetime is zero.
const DefaultRootLifetime = 10 * 365 * 24 * time.Hour

// backdate is how far before "now" certificates start, for clocks slightly behind ours.
const backdate = time.Minute

// CA is an open CA directory. Its methods are safe for concurrent use; the inventory
// serialises writers (also across processes, through SQLite's lock and busy timeout).
type CA struct {
	dir     string
	root    *x509.Certificate
	rootPEM []byte
	key     crypto.Signer
	db      *sql.DB
	dialect dialect
	dsn     string // WithInventory's URL
	now     func() time.Time
}

// InitOptions configure a new root.
type InitOptions struct {
	// Name is the root's subject common name; "" = DefaultRootName.
	Name string
	// Lifetime is how long the root is valid; 0 = DefaultRootLifetime (10 years).
	Lifetime time.Duration
	// Now is the clock; nil = time.Now.
	Now func() time.Time
}

// Option changes how Open sets up a CA.
type Option func(*CA)

// WithClock makes the CA read the time from now (tests, and callers with their own clock).
func WithClock(now func() time.Time) Option { return func(c *CA) { c.now = now } }

// Init creates a CA in dir (made 0700 if missing): an ECDSA P-256 root key (ca.key, 0600),
// a self-signed root certificate (ca.crt) and an empty inventory. It refuses, with an error
// wrapping ErrExists, when dir already holds any of those files.
func Init(dir string, opts InitOptions) (*CA, error) {
	if opts.Name == "" {
		opts.Name = DefaultRootName
	}
	if opts.Lifetime == 0 {
		opts.Lifetime = DefaultRootLifetime
	}
	if opts.Lifetime < 0 {
		return nil, fieldErrorf("lifetime", "%v: must be positive", opts.Lifetime)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	for _, f := range []string{RootCertFile, RootKeyFile, InventoryFile} {
		p := filepath.Join(dir, f)
		if _, err := os.Lstat(p); err == nil {
			return nil, fmt.Errorf("ca dir %s: %w (%s found), refusing to overwrite", dir, ErrExists, f)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("ca dir %s: %w", dir, err)
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("ca dir %s: %w", dir, err)
	}

	key, err := keyutil.GenerateSigner("EC", "P-256", 0)
	if err != nil {
		return nil, fmt.Errorf("generate root key: %w", err)
	}
	now := opts.Now()
	tmpl := &x509util.Certificate{
		Subject:   x509util.Subject{CommonName: opts.Name},
		NotBefore: now.Add(-backdate),
		NotAfter:  now.Add(opts.Lifetime),
		KeyUsage:  x509util.KeyUsage(x509.KeyUsageCertSign | x509.KeyUsageCRLSign),
		// MaxPathLen 1 leaves room for the online CA's intermediate (DESIGN.md "Online").
		BasicConstraints: &x509util.BasicConstraints{IsCA: true, MaxPathLen: 1},
		PublicKey:        key.Public(),
	}
	x := tmpl.GetCertificate()
	root, err := x509util.CreateCertificate(x, x, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("create root certificate: %w", err)
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return nil, err
	}
	rootPEM := encodeCert(root)

	// Write the files so that a failure part way leaves nothing behind that would make the
	// next Init refuse.
	var created []string
	fail := func(err error) (*CA, error) {
		for _, p := range created {
			os.Remove(p)
		}
		return nil, err
	}
	for _, f := range []struct {
		name string
		data []byte
		perm fs.FileMode
	}{{RootKeyFile, keyPEM, 0o600}, {RootCertFile, rootPEM, 0o644}} {
		p := filepath.Join(dir, f.name)
		if err := atomicfile.Create(p, f.data, f.perm); err != nil {
			return fail(fmt.Errorf("ca dir %s: %w", dir, err))
		}
		created = append(created, p)
	}
	dbPath := filepath.Join(dir, InventoryFile)
	db, err := openInventory(dbPath, true)
	if err != nil {
		created = append(created, dbPath, dbPath+"-journal")
		return fail(fmt.Errorf("ca dir %s: %w", dir, err))
	}
	return &CA{dir: dir, root: root, rootPEM: rootPEM, key: key, db: db, now: opts.Now}, nil
}

// Open opens an existing CA directory. A directory without a root certificate gives an
// error wrapping ErrNotInitialised.
func Open(dir string, opts ...Option) (*CA, error) {
	c := &CA{dir: dir, now: time.Now}
	for _, o := range opts {
		o(c)
	}
	certPath := filepath.Join(dir, RootCertFile)
	if _, err := os.Stat(certPath); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("ca dir %s: %w", dir, ErrNotInitialised)
	}
	root, err := pemutil.ReadCertificate(certPath)
	if err != nil {
		return nil, fmt.Errorf("ca dir %s: read %s: %w", dir, RootCertFile, err)
	}
	if !root.IsCA {
		return nil, fmt.Errorf("ca dir %s: %s is not a CA certificate", dir, RootCertFile)
	}
	keyPath := filepath.Join(dir, RootKeyFile)
	if _, err := os.Stat(keyPath); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("ca dir %s: %s missing: %w", dir, RootKeyFile, ErrNotInitialised)
	}
	k, err := pemutil.Read(keyPath)
	if err != nil {
		return nil, fmt.Errorf("ca dir %s: read %s: %w", dir, RootKeyFile, err)
	}
	key, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("ca dir %s: %s holds no private key", dir, RootKeyFile)
	}
	if err := keyutil.VerifyPair(root.PublicKey, key); err != nil {
		return nil, fmt.Errorf("ca dir %s: %s does not match %s: %w", dir, RootKeyFile, RootCertFile, err)
	}
	c.root, c.key = root, key
	c.rootPEM = encodeCert(root)
	dsn, err := c.inventoryURL()
	if err != nil {
		return nil, fmt.Errorf("ca dir %s: %w", dir, err)
	}
	if dsn != "" {
		if c.db, err = openPostgres(dsn); err != nil {
			return nil, fmt.Errorf("ca dir %s: %w", dir, err)
		}
		c.dialect = dialectPostgres
		if err := c.seedFromSQLite(); err != nil {
			c.db.Close()
			return nil, fmt.Errorf("ca dir %s: %w", dir, err)
		}
		return c, nil
	}
	dbPath := filepath.Join(dir, InventoryFile)
	if _, err := os.Stat(dbPath); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("ca dir %s: %s missing: %w", dir, InventoryFile, ErrNotInitialised)
	}
	if c.db, err = openInventory(dbPath, false); err != nil {
		return nil, fmt.Errorf("ca dir %s: %w", dir, err)
	}
	return c, nil
}

// Inventory describes where the inventory lives: the SQLite file or the PostgreSQL URL
// (password hidden).
func (c *CA) Inventory() string {
	if c.dialect == dialectPostgres {
		dsn, _ := c.inventoryURL()
		return RedactURL(dsn)
	}
	return filepath.Join(c.dir, InventoryFile)
}

// Close closes the inventory.
func (c *CA) Close() error { return c.db.Close() }

// Dir is the CA directory.
func (c *CA) Dir() string { return c.dir }

// Root is the root certificate.
func (c *CA) Root() *x509.Certificate { return c.root }

// RootPEM is the root certificate in PEM, as written to bundles.
func (c *CA) RootPEM() []byte { return append([]byte(nil), c.rootPEM...) }

// Signer is the root's private key, for callers that sign on the CA's behalf (the online CA).
func (c *CA) Signer() crypto.Signer { return c.key }

func encodeCert(cert *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
}

// encodeKey is PKCS #8 PEM ("PRIVATE KEY") for every key type.
func encodeKey(key crypto.Signer) ([]byte, error) {
	b, err := pemutil.Serialize(key, pemutil.WithPKCS8(true))
	if err != nil {
		return nil, fmt.Errorf("encode key: %w", err)
	}
	return pem.EncodeToMemory(b), nil
}
