package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// Validate checks every key; the error names the first bad one ("relay.listen: missing
// port"). Load calls it; callers that build a Config by hand should too.
func (c *Config) Validate() error {
	for _, p := range []struct {
		name string
		pem  []byte
	}{{"cert", c.Cert}, {"key", c.Key}, {"ca", c.CA}} {
		if len(p.pem) == 0 {
			return fmt.Errorf("%s: required (a path or inline PEM)", p.name)
		}
	}
	if err := c.validateCRL(); err != nil {
		return err
	}
	if err := c.validateCAURL(); err != nil {
		return err
	}
	if c.IdleTimeout <= c.PingInterval {
		return fmt.Errorf("idle_timeout: %s must be longer than ping_interval (%s), or live peers look dead", c.IdleTimeout, c.PingInterval)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("log.level: unknown level %q (want debug, info, warn or error)", c.Log.Level)
	}
	switch c.Log.Format {
	case "json", "console":
	default:
		return fmt.Errorf("log.format: unknown format %q (want json or console)", c.Log.Format)
	}
	if c.Audit.Path != "" {
		dir := filepath.Dir(c.abs(c.Audit.Path))
		fi, err := os.Stat(dir)
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("audit.path: directory %s does not exist", dir)
		}
		if err != nil {
			return fmt.Errorf("audit.path: %w", err)
		}
		if !fi.IsDir() {
			return fmt.Errorf("audit.path: %s is not a directory", dir)
		}
	}
	if c.Metrics.Pprof && c.Metrics.Listen == "" {
		return errors.New("metrics.pprof: needs metrics.listen, the listener it is served on")
	}
	if c.Relay.Listen == "" {
		return errors.New("relay.listen: required")
	}
	for _, l := range []struct{ name, addr string }{
		{"metrics.listen", c.Metrics.Listen},
		{"relay.listen", c.Relay.Listen},
		{"server.listen", c.Server.Listen},
	} {
		if l.addr == "" {
			continue
		}
		if err := checkListen(l.addr); err != nil {
			return fmt.Errorf("%s: %w", l.name, err)
		}
	}
	if err := checkHost(c.Client.ListenHost); err != nil {
		return fmt.Errorf("client.listen_host: %w", err)
	}
	// Every duration and every limit must be positive; walk the key table so a new key is
	// covered without a new line here.
	root := reflect.ValueOf(document{Config: *c})
	for _, k := range Keys() {
		f := root.FieldByIndex(k.index)
		switch k.Type {
		case TypeDuration:
			if d := time.Duration(f.Int()); d <= 0 {
				return fmt.Errorf("%s: must be positive, got %s", k.Name, d)
			}
		case TypeInt:
			if n := f.Int(); n <= 0 {
				return fmt.Errorf("%s: must be positive, got %d", k.Name, n)
			}
		}
	}
	return nil
}

func (c *Config) validateCRL() error {
	if c.CRL == "" || !strings.Contains(c.CRL, "://") {
		return nil
	}
	u, err := url.Parse(c.CRL)
	if err != nil {
		return fmt.Errorf("crl: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("crl: unsupported URL scheme %q (want a path, http:// or https://)", u.Scheme)
	}
	if u.Host == "" {
		return fmt.Errorf("crl: URL %q has no host", c.CRL)
	}
	return nil
}

// checkListen accepts "host:port" with an optional host and a numeric port 0-65535.
func checkListen(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		var ae *net.AddrError
		if errors.As(err, &ae) {
			return fmt.Errorf("%s in %q", strings.TrimSuffix(ae.Err, " in address"), addr)
		}
		return err
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("port %q in %q is not a number 0-65535", port, addr)
	}
	return nil
}

// checkHost accepts an IP address or a host name, without a port.
func checkHost(h string) error {
	if h == "" {
		return errors.New("required")
	}
	if _, err := netip.ParseAddr(h); err == nil {
		return nil
	}
	if strings.ContainsAny(h, ":/ \t[]") {
		return fmt.Errorf("%q is not an IP address or host name (no port here)", h)
	}
	return nil
}

// validateCAURL checks ca_url: "" or https://HOST[:PORT] with nothing else.
func (c *Config) validateCAURL() error {
	if c.CAURL == "" {
		return nil
	}
	u, err := url.Parse(c.CAURL)
	if err != nil {
		return fmt.Errorf("ca_url: %w", err)
	}
	if u.Scheme != "https" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || strings.Trim(u.Path, "/") != "" {
		return fmt.Errorf("ca_url: %q: want https://HOST[:PORT] of the online CA", c.CAURL)
	}
	return nil
}
