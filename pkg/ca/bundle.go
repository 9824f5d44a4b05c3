package ca

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/sentinel-zt/sentinel/internal/atomicfile"
)

// ConfigFile is the bundle's config file name.
const ConfigFile = "config.toml"

// BundleFiles are the file names of name's bundle, in the order WriteBundle writes them:
// NAME.key (0600), NAME.crt, ca.crt, config.toml.
func BundleFiles(name string) []string {
	return []string{name + ".key", name + ".crt", RootCertFile, ConfigFile}
}

// BundleOptions change WriteBundle.
type BundleOptions struct {
	// Force overwrites existing bundle files (each replaced atomically).
	Force bool
}

// CheckBundle reports whether name's bundle can be written into dir: dir is not the CA
// directory and, without force, none of the bundle's files exist (error wrapping ErrExists
// naming the first). Call it before Issue so a refused bundle does not leave an undelivered
// certificate in the inventory.
func (c *CA) CheckBundle(dir, name string, force bool) error {
	if err := c.notCADir(dir); err != nil {
		return err
	}
	if err := ValidateName(name); err != nil {
		return fieldErr("name", err)
	}
	if force {
		return nil
	}
	for _, f := range BundleFiles(name) {
		if _, err := os.Lstat(filepath.Join(dir, f)); err == nil {
			return fmt.Errorf("bundle dir %s: %s %w, refusing to overwrite", dir, f, ErrExists)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("bundle dir %s: %w", dir, err)
		}
	}
	return nil
}

// WriteBundle writes iss's bundle into dir (created 0700 if missing): NAME.key (0600),
// NAME.crt, ca.crt and a config.toml whose paths are relative to dir, so copying dir to
// the device and running `backend -c config.toml` is the whole install. It returns the
// paths written.
func (c *CA) WriteBundle(dir string, iss *Issued, opts BundleOptions) ([]string, error) {
	name := iss.Record.Name
	if err := c.CheckBundle(dir, name, opts.Force); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("bundle dir %s: %w", dir, err)
	}
	contents := map[string]struct {
		data []byte
		perm fs.FileMode
	}{
		name + ".key": {iss.KeyPEM, 0o600},
		name + ".crt": {iss.CertPEM, 0o644},
		RootCertFile:  {c.rootPEM, 0o644},
		ConfigFile:    {BundleConfig(iss), 0o644},
	}
	var written []string
	for _, f := range BundleFiles(name) {
		p := filepath.Join(dir, f)
		w := atomicfile.Create
		if opts.Force {
			w = atomicfile.Replace
		}
		if err := w(p, contents[f].data, contents[f].perm); err != nil {
			return written, fmt.Errorf("bundle dir %s: %w", dir, err)
		}
		written = append(written, p)
	}
	return written, nil
}

// notCADir refuses a bundle directory that is the CA directory (its ca.crt is the root's
// and a device bundle has no business next to ca.key).
func (c *CA) notCADir(dir string) error {
	a, err1 := filepath.Abs(dir)
	b, err2 := filepath.Abs(c.dir)
	if err1 != nil || err2 != nil {
		return nil
	}
	if a == b {
		return fmt.Errorf("bundle dir %s is the CA dir: write bundles elsewhere", dir)
	}
	return nil
}

// BundleConfig is the config.toml of iss's bundle: the keys of pkg/config, paths relative
// to the bundle, and the role's section.
func BundleConfig(iss *Issued) []byte { return BundleConfigOnline(iss, OnlineBundle{}) }

// OnlineBundle is what a bundle enrolled through the online CA adds to its config.toml.
type OnlineBundle struct {
	CAURL string // ca_url: where the certificate renews itself
	CRL   string // crl: the CA's revocation list URL
}

// BundleConfigOnline is BundleConfig with the online CA's keys set.
func BundleConfigOnline(iss *Issued, online OnlineBundle) []byte {
	r := iss.Record
	q := strconv.Quote // names are ASCII (ValidateName), so Go quoting is TOML quoting
	var b strings.Builder
	fmt.Fprintf(&b, "# Sentinel %s %s (uuid %s), certificate serial %s, valid until %s.\n",
		r.Role, q(r.Name), r.UUID, r.Serial, formatTime(r.NotAfter))
	b.WriteString("# Install: copy this folder to the device and run `backend -c config.toml`.\n")
	b.WriteString("# Any key can be overridden by the environment: SENTINEL_<SECTION>_<KEY>.\n\n")
	fmt.Fprintf(&b, "cert = %s\n", q(r.Name+".crt"))
	fmt.Fprintf(&b, "key  = %s  # private: keep it mode 0600\n", q(r.Name+".key"))
	fmt.Fprintf(&b, "ca   = %s\n", q(RootCertFile))
	if online.CRL != "" {
		fmt.Fprintf(&b, "crl  = %s  # the online CA's revocation list, polled\n", q(online.CRL))
	} else {
		b.WriteString("# crl = \"ca.crl\"  # path or http(s) URL of the CA's revocation list (backend ca crl)\n")
	}
	if online.CAURL != "" {
		fmt.Fprintf(&b, "ca_url = %s  # the online CA: the certificate renews itself at 2/3 of its lifetime\n", q(online.CAURL))
	}
	b.WriteString("\n")
	b.WriteString("[log]\n")
	b.WriteString("level  = \"info\"  # debug, info, warn, error\n")
	b.WriteString("format = \"json\"  # or \"console\"\n\n")
	switch {
	case iss.Attrs.Relay != nil:
		behind := strings.Contains(iss.Attrs.Relay.Address, "://")
		b.WriteString("[relay]\n")
		fmt.Fprintf(&b, "listen       = %s\n", q("0.0.0.0:"+strconv.Itoa(iss.Attrs.Relay.Port)))
		fmt.Fprintf(&b, "behind_proxy = %t  # true: plain HTTP behind a TLS-terminating proxy or CDN\n", behind)
	case iss.Attrs.Server != nil:
		b.WriteString("[server]\n")
		b.WriteString("dial_timeout = \"5s\"  # target dial timeout\n")
	case iss.Attrs.Client != nil:
		b.WriteString("[client]\n")
		fmt.Fprintf(&b, "listen_host = \"127.0.0.1\"  # local port %d comes from the certificate\n", iss.Attrs.Client.Port)
	}
	return []byte(b.String())
}
