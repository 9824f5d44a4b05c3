package config

import (
	"bytes"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// Config is one process's configuration. Which role runs is decided by the certificate, so
// every section may be present; only the running role's section is used.
//
// The toml tags name the file keys; every key is also the environment variable
// SENTINEL_<SECTION>_<KEY> (see Keys).
type Config struct {
	// Dir is the directory of the config file; relative paths in it resolve against Dir.
	Dir string `toml:"-"`

	// Cert, Key and CA hold PEM, resolved at load from a path or inline PEM
	// (file keys cert, key and ca).
	Cert []byte `toml:"-"`
	Key  []byte `toml:"-"`
	CA   []byte `toml:"-"`
	// CertPath, KeyPath and CAPath are the files they came from ("" when inline), watched
	// for changes and re-read on SIGHUP.
	CertPath string `toml:"-"`
	KeyPath  string `toml:"-"`
	CAPath   string `toml:"-"`

	// CRL is a path (made absolute against Dir at load) or an http(s) URL; "" = no
	// revocation list.
	CRL string `toml:"crl"`

	// CAURL is the online CA (backend ca serve) that renews the certificate at 2/3 of its
	// lifetime, https://HOST[:PORT]; "" = no automatic renewal.
	CAURL string `toml:"ca_url"`

	// ShutdownTimeout is how long open streams may finish after SIGTERM. Default 10s.
	ShutdownTimeout time.Duration `toml:"shutdown_timeout"`

	// PingInterval is how often every WebSocket (relay legs, control channels) is pinged, so
	// proxies and CDNs that drop idle connections never see one; default 20s.
	PingInterval time.Duration `toml:"ping_interval"`
	// IdleTimeout is how long a WebSocket peer may stay silent (no data, ping or pong) before
	// it is declared dead; default 60s, and more than ping_interval.
	IdleTimeout time.Duration `toml:"idle_timeout"`

	Log     Log     `toml:"log"`
	Audit   Audit   `toml:"audit"`
	Metrics Metrics `toml:"metrics"`
	Relay   Relay   `toml:"relay"`
	Server  Server  `toml:"server"`
	Client  Client  `toml:"client"`
}

// Log configures the process log.
type Log struct {
	Level  string `toml:"level"`  // debug, info, warn, error; default info
	Format string `toml:"format"` // json or console; default json
}

// Audit configures the audit trail.
type Audit struct {
	Path string `toml:"path"` // JSON-lines file, made absolute against Dir at load; "" = with the log
}

// Metrics configures the metrics/health listener.
type Metrics struct {
	Listen string `toml:"listen"` // "host:port"; "" = none
	Pprof  bool   `toml:"pprof"`  // also serve Go's profiler under /debug/pprof/ on Listen
}

// Relay configures the relay role.
type Relay struct {
	Listen             string        `toml:"listen"`                // default "0.0.0.0:8443"
	BehindProxy        bool          `toml:"behind_proxy"`          // plain HTTP; trust X-Forwarded-For
	BindTimeout        time.Duration `toml:"bind_timeout"`          // how long a client waits for the server's bind; default 10s
	HandshakeTimeout   time.Duration `toml:"handshake_timeout"`     // deadline for reading a request's headers; default 10s
	MaxSessionsPerCert int           `toml:"max_sessions_per_cert"` // live sessions one client certificate may hold; default 64
	MaxPendingOpens    int           `toml:"max_pending_opens"`     // opens waiting for a bind, whole relay; default 1024
	MaxServerChannels  int           `toml:"max_server_channels"`   // control channels, whole relay; default 4096
}

// Server configures the server role.
type Server struct {
	DialTimeout          time.Duration `toml:"dial_timeout"`            // target dial timeout; default 5s
	MaxStreamsPerSession int           `toml:"max_streams_per_session"` // default 1024
	MaxSessionsPerCert   int           `toml:"max_sessions_per_cert"`   // default 64
	Listen               string        `toml:"listen"`                  // direct-mode listener; "" = ":<attrs.port>" when the certificate has a port
}

// Client configures the client role.
type Client struct {
	ListenHost  string        `toml:"listen_host"`  // default "127.0.0.1"
	Direct      bool          `toml:"direct"`       // try the server's direct address before the relays
	WaitSession time.Duration `toml:"wait_session"` // how long a new local connection waits for a session; default 10s
	// FailbackInterval is how often a session on a less preferred route retries the better
	// ones; default 30s.
	FailbackInterval time.Duration `toml:"failback_interval"`
}

// Default returns the configuration before any file or environment is applied. It has no
// certificate, so it does not pass Validate on its own.
func Default() Config {
	return Config{
		ShutdownTimeout: 10 * time.Second,
		PingInterval:    20 * time.Second,
		IdleTimeout:     60 * time.Second,
		Log:             Log{Level: "info", Format: "json"},
		Relay: Relay{
			Listen:             "0.0.0.0:8443",
			BindTimeout:        10 * time.Second,
			HandshakeTimeout:   10 * time.Second,
			MaxSessionsPerCert: 64,
			MaxPendingOpens:    1024,
			MaxServerChannels:  4096,
		},
		Server: Server{
			DialTimeout:          5 * time.Second,
			MaxStreamsPerSession: 1024,
			MaxSessionsPerCert:   64,
		},
		Client: Client{
			ListenHost:       "127.0.0.1",
			WaitSession:      10 * time.Second,
			FailbackInterval: 30 * time.Second,
		},
	}
}

// document is the file's shape: the raw cert, key and ca strings (a path or inline PEM)
// next to every key of Config. Config's fields are promoted, so one struct carries the
// whole key set.
type document struct {
	Cert string `toml:"cert"` // path or inline PEM
	Key  string `toml:"key"`  // path or inline PEM
	CA   string `toml:"ca"`   // path or inline PEM
	Config
}

// Load reads path, applies environment overrides from lookupEnv (os.LookupEnv in
// production) and validates. Errors name the key: "relay.listen: missing port".
//
// Relative paths (cert, key, ca, crl, audit.path), from the file or the environment,
// resolve against the config file's directory. An empty path loads defaults and
// environment only; relative paths then resolve against the working directory.
func Load(path string, lookupEnv func(string) (string, bool)) (*Config, error) {
	doc := document{Config: Default()}
	keys := Keys()
	if path == "" {
		dir, err := os.Getwd()
		if err != nil {
			return nil, fmt.Errorf("config directory: %w", err)
		}
		doc.Dir = dir
	} else {
		abs, err := filepath.Abs(path)
		if err != nil {
			return nil, fmt.Errorf("config path %s: %w", path, err)
		}
		data, err := os.ReadFile(abs)
		if err != nil {
			return nil, fmt.Errorf("read config: %w", err)
		}
		doc.Dir = filepath.Dir(abs)
		if err := decodeFile(abs, data, &doc, keys); err != nil {
			return nil, err
		}
	}
	if lookupEnv != nil {
		if err := applyEnv(&doc, keys, lookupEnv); err != nil {
			return nil, err
		}
	}
	cfg := doc.Config
	if err := cfg.resolve(doc.Cert, doc.Key, doc.CA); err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// decodeFile decodes the TOML document strictly: unknown keys and integer durations
// are errors.
func decodeFile(path string, data []byte, doc *document, keys []Key) error {
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(doc)
	if err != nil {
		return fmt.Errorf("parse %s: %w", path, err)
	}
	// Undecoded finds keys that match no field; the toml package also matches field names
	// case-insensitively ("[RELAY] LISTEN"), so keys are compared with the table too.
	known := map[string]bool{}
	for _, k := range keys {
		known[k.Name] = true
		if sec, _, ok := strings.Cut(k.Name, "."); ok {
			known[sec] = true
		}
	}
	undecoded := map[string]bool{}
	for _, k := range md.Undecoded() {
		undecoded[k.String()] = true
	}
	var names []string
	reported := map[string]bool{}
	for _, k := range md.Keys() {
		name := k.String()
		if known[name] && !undecoded[name] {
			continue
		}
		reported[name] = true
		// An unknown table lists itself and each key in it; name only the table.
		if len(k) > 1 && reported[k[:len(k)-1].String()] {
			continue
		}
		names = append(names, fmt.Sprintf("%q", name))
	}
	switch len(names) {
	case 0:
	case 1:
		return fmt.Errorf("%s: unknown key %s", path, names[0])
	default:
		return fmt.Errorf("%s: unknown keys %s", path, strings.Join(names, ", "))
	}
	for _, k := range keys {
		if k.Type != TypeDuration {
			continue
		}
		parts := strings.Split(k.Name, ".")
		if md.IsDefined(parts...) && md.Type(parts...) != "String" {
			return fmt.Errorf("%s: must be a duration string such as \"5s\"", k.Name)
		}
	}
	return nil
}

// resolve turns the raw cert, key and ca values into PEM and makes CRL and audit paths
// absolute.
func (c *Config) resolve(cert, key, ca string) error {
	var err error
	if c.Cert, c.CertPath, err = c.resolvePEM("cert", cert); err != nil {
		return err
	}
	if c.Key, c.KeyPath, err = c.resolvePEM("key", key); err != nil {
		return err
	}
	if c.CA, c.CAPath, err = c.resolvePEM("ca", ca); err != nil {
		return err
	}
	if c.CRL != "" && !isURL(c.CRL) {
		c.CRL = c.abs(c.CRL)
	}
	if c.Audit.Path != "" {
		c.Audit.Path = c.abs(c.Audit.Path)
	}
	return nil
}

// resolvePEM returns the PEM for a cert/key/ca value and the file it came from ("" when
// inline). An empty value gives nil; Validate reports it.
func (c *Config) resolvePEM(name, v string) (data []byte, path string, err error) {
	if v == "" {
		return nil, "", nil
	}
	if strings.Contains(v, "-----BEGIN") {
		data = []byte(v)
		if err := checkPEM(data); err != nil {
			return nil, "", fmt.Errorf("%s: inline value: %w", name, err)
		}
		return data, "", nil
	}
	path = c.abs(v)
	data, err = readPEM(name, path)
	return data, path, err
}

// ReadPEM re-reads cert, key and ca from their files, for a reload on SIGHUP; values given
// inline are returned as loaded. The Config is not changed.
func (c *Config) ReadPEM() (cert, key, ca []byte, err error) {
	read := func(name, path string, loaded []byte) ([]byte, error) {
		if path == "" {
			return loaded, nil
		}
		return readPEM(name, path)
	}
	if cert, err = read("cert", c.CertPath, c.Cert); err != nil {
		return nil, nil, nil, err
	}
	if key, err = read("key", c.KeyPath, c.Key); err != nil {
		return nil, nil, nil, err
	}
	if ca, err = read("ca", c.CAPath, c.CA); err != nil {
		return nil, nil, nil, err
	}
	return cert, key, ca, nil
}

// readPEM reads a PEM file for key name; errors name the key and the path.
func readPEM(name, path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		// The *PathError already carries the path: "cert: open /etc/x.crt: no such file".
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := checkPEM(data); err != nil {
		return nil, fmt.Errorf("%s: %s: %w", name, path, err)
	}
	return data, nil
}

func checkPEM(data []byte) error {
	if b, _ := pem.Decode(data); b == nil {
		return errors.New("no PEM block found")
	}
	return nil
}

func (c *Config) abs(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.Dir, p)
}

// isURL reports whether v looks like a URL (has a scheme); Validate checks the scheme.
func isURL(v string) bool {
	u, err := url.Parse(v)
	return err == nil && u.Scheme != "" && strings.Contains(v, "://")
}
