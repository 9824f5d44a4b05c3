// Package enroll is the device side of the online CA (`backend enroll`): it reads an
// enrollment token, pins the CA root the token names, makes the private key on the device,
// sends only a certificate request, and writes the bundle (key 0600, certificate, root,
// config.toml) the roles run from. The key never leaves the device.
package enroll

import (
	"context"
	"crypto"
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
	"github.com/sentinel-zt/sentinel/pkg/ca"
	"github.com/sentinel-zt/sentinel/pkg/certattrs"
	"github.com/sentinel-zt/sentinel/pkg/enrolltoken"
	"github.com/sentinel-zt/sentinel/pkg/identity"
)

// Options configure Enroll.
type Options struct {
	// CA is the online CA's URL, https://HOST[:PORT].
	CA string
	// Token is the enrollment token (backend ca token).
	Token string
	// Out is the bundle directory (created 0700).
	Out string
	// KeyType of the key made here; "" = ECDSA P-256.
	KeyType ca.KeyType
	// Force replaces an existing bundle.
	Force bool
	// Dial connects to the CA; nil = net.Dialer.
	Dial DialFunc
}

// Result is an enrolled bundle.
type Result struct {
	Role     certattrs.Role
	Name     string
	UUID     string
	Serial   string
	NotAfter time.Time
	Files    []string // written, in order: key, certificate, root, config
	Config   string   // path of config.toml
}

// Enroll runs the enrollment: token → pinned root → key → CSR → certificate → bundle.
func Enroll(ctx context.Context, o Options) (*Result, error) {
	claims, err := enrolltoken.ParseUnverified(o.Token)
	if err != nil {
		return nil, fmt.Errorf("token: %w", err)
	}
	base, err := Endpoint(o.CA)
	if err != nil {
		return nil, err
	}
	if o.Out == "" {
		return nil, errors.New("out: missing bundle directory")
	}
	files := ca.BundleFiles(claims.Name)
	if !o.Force {
		for _, f := range files {
			if _, err := os.Lstat(filepath.Join(o.Out, f)); err == nil {
				return nil, fmt.Errorf("bundle dir %s: %s %w, refusing to overwrite", o.Out, f, ca.ErrExists)
			} else if !errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("bundle dir %s: %w", o.Out, err)
			}
		}
	}

	root, err := FetchRoot(ctx, base, claims.Fingerprint, o.Dial)
	if err != nil {
		return nil, err
	}
	key, err := newKey(o.KeyType)
	if err != nil {
		return nil, err
	}
	csr, err := x509util.CreateCertificateRequest(claims.Name, nil, key)
	if err != nil {
		return nil, fmt.Errorf("certificate request: %w", err)
	}
	csrPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csr.Raw})

	cl := NewClient(base, root, o.Dial)
	defer cl.CloseIdleConnections()
	resp, err := cl.Sign(ctx, csrPEM, o.Token)
	if err != nil {
		return nil, fmt.Errorf("enroll %s %q: %w", claims.Role, claims.Name, err)
	}
	leaf, certPEM, err := resp.Leaf()
	if err != nil {
		return nil, err
	}
	keyPEM, err := pemutil.Serialize(key, pemutil.WithPKCS8(true))
	if err != nil {
		return nil, fmt.Errorf("encode key: %w", err)
	}
	keyBytes := pem.EncodeToMemory(keyPEM)
	rootPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: root.Raw})

	// Trust nothing of the answer before checking it is ours and what the token promised.
	id, err := identity.Parse(certPEM, keyBytes, rootPEM)
	if err != nil {
		return nil, fmt.Errorf("certificate from the CA: %w", err)
	}
	if got := id.Attrs.Role(); got != claims.Role || id.Attrs.Name() != claims.Name {
		return nil, fmt.Errorf("certificate from the CA is for %s %q, the token for %s %q", got, id.Attrs.Name(), claims.Role, claims.Name)
	}

	iss := &ca.Issued{
		Record: ca.Record{Serial: ca.SerialString(leaf), Role: claims.Role, Name: claims.Name,
			UUID: id.Attrs.UUID(), NotBefore: leaf.NotBefore, NotAfter: leaf.NotAfter},
		Attrs: id.Attrs,
		Cert:  leaf,
	}
	crl := *base
	crl.Scheme, crl.Path = "http", "/crl" // signed; plain HTTP so relays need not trust the CA's TLS
	config := ca.BundleConfigOnline(iss, ca.OnlineBundle{CAURL: base.String(), CRL: crl.String()})

	if err := os.MkdirAll(o.Out, 0o700); err != nil {
		return nil, fmt.Errorf("bundle dir %s: %w", o.Out, err)
	}
	contents := map[string]struct {
		data []byte
		perm fs.FileMode
	}{
		claims.Name + ".key": {keyBytes, 0o600},
		claims.Name + ".crt": {certPEM, 0o644},
		ca.RootCertFile:      {rootPEM, 0o644},
		ca.ConfigFile:        {config, 0o644},
	}
	res := &Result{Role: claims.Role, Name: claims.Name, UUID: id.Attrs.UUID(), Serial: ca.SerialString(leaf),
		NotAfter: leaf.NotAfter, Config: filepath.Join(o.Out, ca.ConfigFile)}
	for _, f := range files {
		p := filepath.Join(o.Out, f)
		if err := WriteFile(p, contents[f].data, contents[f].perm, o.Force); err != nil {
			return res, fmt.Errorf("bundle dir %s: %w", o.Out, err)
		}
		res.Files = append(res.Files, p)
	}
	return res, nil
}

func newKey(kt ca.KeyType) (crypto.Signer, error) {
	t, err := ca.ParseKeyType(string(kt))
	if err != nil {
		return nil, fmt.Errorf("key type: %w", err)
	}
	if t == ca.KeyEd25519 {
		return keyutil.GenerateSigner("OKP", "Ed25519", 0)
	}
	return keyutil.GenerateSigner("EC", "P-256", 0)
}

// WriteFile writes path with exactly perm: atomically (temporary file, then rename) when
// replace, else failing if path exists.
func WriteFile(path string, data []byte, perm fs.FileMode, replace bool) error {
	if replace {
		return atomicfile.Replace(path, data, perm)
	}
	return atomicfile.Create(path, data, perm)
}
