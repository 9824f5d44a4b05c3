// Package config loads a role's TOML configuration: defaults, then the file, then
// SENTINEL_<SECTION>_<KEY> environment overrides, then validation.
package config

import (
	"errors"
	"time"
)

// CONTRACT STUB: bodies are replaced by the implementation.

// Config is one process's configuration. Which role runs is decided by the certificate, so
// every section may be present; only the running role's section is used.
type Config struct {
	// Dir is the directory of the config file; relative paths in it resolve against Dir.
	Dir string `toml:"-"`

	// Cert, Key and CA hold PEM, resolved at load from a path or inline PEM.
	Cert []byte `toml:"-"`
	Key  []byte `toml:"-"`
	CA   []byte `toml:"-"`
	// CertPath, KeyPath and CAPath are the files they came from ("" when inline), watched
	// for changes and re-read on SIGHUP.
	CertPath string `toml:"-"`
	KeyPath  string `toml:"-"`
	CAPath   string `toml:"-"`

	// CRL is a path (relative to Dir) or an http(s) URL; "" = no revocation list.
	CRL string

	// ShutdownTimeout is how long open streams may finish after SIGTERM. Default 10s.
	ShutdownTimeout time.Duration

	Log     Log
	Audit   Audit
	Metrics Metrics
	Relay   Relay
	Server  Server
	Client  Client
}

// Log configures the process log.
type Log struct {
	Level  string // debug, info, warn, error; default info
	Format string // json or console; default json
}

// Audit configures the audit trail.
type Audit struct {
	Path string // JSON-lines file; "" = with the log
}

// Metrics configures the metrics/health listener.
type Metrics struct {
	Listen string // "host:port"; "" = none
}

// Relay configures the relay role.
type Relay struct {
	Listen             string        // default "0.0.0.0:8443"
	BehindProxy        bool          // plain HTTP; trust X-Forwarded-For
	BindTimeout        time.Duration // how long a client waits for the server's bind; default 10s
	HandshakeTimeout   time.Duration // deadline for reading a request's headers; default 10s
	MaxSessionsPerCert int           // live sessions one client certificate may hold; default 64
	MaxPendingOpens    int           // opens waiting for a bind, whole relay; default 1024
	MaxServerChannels  int           // control channels, whole relay; default 4096
}

// Server configures the server role.
type Server struct {
	DialTimeout          time.Duration // target dial timeout; default 5s
	MaxStreamsPerSession int           // default 1024
	MaxSessionsPerCert   int           // default 64
	Listen               string        // direct-mode listener; "" = ":<attrs.port>" when the certificate has a port
}

// Client configures the client role.
type Client struct {
	ListenHost  string        // default "127.0.0.1"
	Direct      bool          // try the server's direct address before the relays
	WaitSession time.Duration // how long a new local connection waits for a session; default 10s
}

// Load reads path, applies environment overrides from lookupEnv (os.LookupEnv in
// production) and validates. Errors name the key: "relay.listen: missing port".
func Load(path string, lookupEnv func(string) (string, bool)) (*Config, error) {
	return nil, errors.New("config: not implemented")
}
