package config

import (
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func fakePEM(typ, body string) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: []byte(body)}))
}

var (
	certPEM = fakePEM("CERTIFICATE", "cert")
	keyPEM  = fakePEM("PRIVATE KEY", "key")
	caPEM   = fakePEM("CERTIFICATE", "ca")
)

// bundle writes alice.crt, alice.key and ca.crt into a new directory and returns it.
func bundle(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range map[string]string{"alice.crt": certPEM, "alice.key": keyPEM, "ca.crt": caPEM} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const pemKeys = "cert = \"alice.crt\"\nkey = \"alice.key\"\nca = \"ca.crt\"\n"

// writeConfig writes body into dir/config.toml and returns its path.
func writeConfig(t *testing.T, dir, body string) string {
	t.Helper()
	p := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func noEnv(string) (string, bool) { return "", false }

func mustLoad(t *testing.T, path string, lookup func(string) (string, bool)) *Config {
	t.Helper()
	c, err := Load(path, lookup)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return c
}

func loadErr(t *testing.T, path string, lookup func(string) (string, bool), want ...string) {
	t.Helper()
	_, err := Load(path, lookup)
	if err == nil {
		t.Fatalf("Load: no error, want one containing %q", want)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Fatalf("Load error %q does not contain %q", err, w)
		}
	}
}

func TestKeys(t *testing.T) {
	want := []string{
		"cert SENTINEL_CERT",
		"key SENTINEL_KEY",
		"ca SENTINEL_CA",
		"crl SENTINEL_CRL",
		"ca_url SENTINEL_CA_URL",
		"shutdown_timeout SENTINEL_SHUTDOWN_TIMEOUT",
		"ping_interval SENTINEL_PING_INTERVAL",
		"idle_timeout SENTINEL_IDLE_TIMEOUT",
		"log.level SENTINEL_LOG_LEVEL",
		"log.format SENTINEL_LOG_FORMAT",
		"audit.path SENTINEL_AUDIT_PATH",
		"metrics.listen SENTINEL_METRICS_LISTEN",
		"metrics.pprof SENTINEL_METRICS_PPROF",
		"relay.listen SENTINEL_RELAY_LISTEN",
		"relay.behind_proxy SENTINEL_RELAY_BEHIND_PROXY",
		"relay.bind_timeout SENTINEL_RELAY_BIND_TIMEOUT",
		"relay.handshake_timeout SENTINEL_RELAY_HANDSHAKE_TIMEOUT",
		"relay.max_sessions_per_cert SENTINEL_RELAY_MAX_SESSIONS_PER_CERT",
		"relay.max_pending_opens SENTINEL_RELAY_MAX_PENDING_OPENS",
		"relay.max_server_channels SENTINEL_RELAY_MAX_SERVER_CHANNELS",
		"server.dial_timeout SENTINEL_SERVER_DIAL_TIMEOUT",
		"server.max_streams_per_session SENTINEL_SERVER_MAX_STREAMS_PER_SESSION",
		"server.max_sessions_per_cert SENTINEL_SERVER_MAX_SESSIONS_PER_CERT",
		"server.listen SENTINEL_SERVER_LISTEN",
		"client.listen_host SENTINEL_CLIENT_LISTEN_HOST",
		"client.direct SENTINEL_CLIENT_DIRECT",
		"client.wait_session SENTINEL_CLIENT_WAIT_SESSION",
		"client.failback_interval SENTINEL_CLIENT_FAILBACK_INTERVAL",
	}
	var got []string
	for _, k := range Keys() {
		got = append(got, k.Name+" "+k.Env)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Keys:\n got %q\nwant %q", got, want)
	}
}

func TestDefaults(t *testing.T) {
	dir := bundle(t)
	c := mustLoad(t, writeConfig(t, dir, pemKeys), noEnv)
	checks := map[string]struct{ got, want any }{
		"crl":                            {c.CRL, ""},
		"ca_url":                         {c.CAURL, ""},
		"shutdown_timeout":               {c.ShutdownTimeout, 10 * time.Second},
		"ping_interval":                  {c.PingInterval, 20 * time.Second},
		"idle_timeout":                   {c.IdleTimeout, 60 * time.Second},
		"log.level":                      {c.Log.Level, "info"},
		"log.format":                     {c.Log.Format, "json"},
		"audit.path":                     {c.Audit.Path, ""},
		"metrics.listen":                 {c.Metrics.Listen, ""},
		"metrics.pprof":                  {c.Metrics.Pprof, false},
		"relay.listen":                   {c.Relay.Listen, "0.0.0.0:8443"},
		"relay.behind_proxy":             {c.Relay.BehindProxy, false},
		"relay.bind_timeout":             {c.Relay.BindTimeout, 10 * time.Second},
		"relay.handshake_timeout":        {c.Relay.HandshakeTimeout, 10 * time.Second},
		"relay.max_sessions_per_cert":    {c.Relay.MaxSessionsPerCert, 64},
		"relay.max_pending_opens":        {c.Relay.MaxPendingOpens, 1024},
		"relay.max_server_channels":      {c.Relay.MaxServerChannels, 4096},
		"server.dial_timeout":            {c.Server.DialTimeout, 5 * time.Second},
		"server.max_streams_per_session": {c.Server.MaxStreamsPerSession, 1024},
		"server.max_sessions_per_cert":   {c.Server.MaxSessionsPerCert, 64},
		"server.listen":                  {c.Server.Listen, ""},
		"client.listen_host":             {c.Client.ListenHost, "127.0.0.1"},
		"client.direct":                  {c.Client.Direct, false},
		"client.wait_session":            {c.Client.WaitSession, 10 * time.Second},
		"client.failback_interval":       {c.Client.FailbackInterval, 30 * time.Second},
	}
	for name, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %v, want default %v", name, ch.got, ch.want)
		}
	}
	if c.Dir != dir {
		t.Errorf("Dir = %q, want %q", c.Dir, dir)
	}
	// Key.Default agrees with the loaded defaults.
	for _, k := range Keys() {
		if ch, ok := checks[k.Name]; ok && k.Default != fmt.Sprint(ch.want) {
			t.Errorf("Keys()[%s].Default = %q, want %v", k.Name, k.Default, ch.want)
		}
	}
}

// setting is one non-default value for a key, as a TOML literal and as an env value,
// and how to read it back; needs names keys whose settings must come with it.
type setting struct {
	toml, env string
	got       func(*Config) any
	want      any
	needs     []string
}

func settings(dir string) map[string]setting {
	return map[string]setting{
		"cert":                           {`"alice.crt"`, "alice.crt", func(c *Config) any { return c.CertPath }, filepath.Join(dir, "alice.crt"), nil},
		"key":                            {`"alice.key"`, "alice.key", func(c *Config) any { return c.KeyPath }, filepath.Join(dir, "alice.key"), nil},
		"ca":                             {`"ca.crt"`, "ca.crt", func(c *Config) any { return c.CAPath }, filepath.Join(dir, "ca.crt"), nil},
		"crl":                            {`"https://ca.example.com/ca.crl"`, "https://ca.example.com/ca.crl", func(c *Config) any { return c.CRL }, "https://ca.example.com/ca.crl", nil},
		"ca_url":                         {`"https://ca.example.com:9000"`, "https://ca.example.com:9000", func(c *Config) any { return c.CAURL }, "https://ca.example.com:9000", nil},
		"shutdown_timeout":               {`"1m"`, "1m", func(c *Config) any { return c.ShutdownTimeout }, time.Minute, nil},
		"ping_interval":                  {`"5s"`, "5s", func(c *Config) any { return c.PingInterval }, 5 * time.Second, nil},
		"idle_timeout":                   {`"2m"`, "2m", func(c *Config) any { return c.IdleTimeout }, 2 * time.Minute, nil},
		"log.level":                      {`"debug"`, "debug", func(c *Config) any { return c.Log.Level }, "debug", nil},
		"log.format":                     {`"console"`, "console", func(c *Config) any { return c.Log.Format }, "console", nil},
		"audit.path":                     {`"audit.jsonl"`, "audit.jsonl", func(c *Config) any { return c.Audit.Path }, filepath.Join(dir, "audit.jsonl"), nil},
		"metrics.listen":                 {`"127.0.0.1:9100"`, "127.0.0.1:9100", func(c *Config) any { return c.Metrics.Listen }, "127.0.0.1:9100", nil},
		"metrics.pprof":                  {`true`, "true", func(c *Config) any { return c.Metrics.Pprof }, true, []string{"metrics.listen"}},
		"relay.listen":                   {`"[::]:443"`, "[::]:443", func(c *Config) any { return c.Relay.Listen }, "[::]:443", nil},
		"relay.behind_proxy":             {`true`, "true", func(c *Config) any { return c.Relay.BehindProxy }, true, nil},
		"relay.bind_timeout":             {`"3s"`, "3s", func(c *Config) any { return c.Relay.BindTimeout }, 3 * time.Second, nil},
		"relay.handshake_timeout":        {`"4s"`, "4s", func(c *Config) any { return c.Relay.HandshakeTimeout }, 4 * time.Second, nil},
		"relay.max_sessions_per_cert":    {`7`, "7", func(c *Config) any { return c.Relay.MaxSessionsPerCert }, 7, nil},
		"relay.max_pending_opens":        {`8`, "8", func(c *Config) any { return c.Relay.MaxPendingOpens }, 8, nil},
		"relay.max_server_channels":      {`9`, "9", func(c *Config) any { return c.Relay.MaxServerChannels }, 9, nil},
		"server.dial_timeout":            {`"1500ms"`, "1500ms", func(c *Config) any { return c.Server.DialTimeout }, 1500 * time.Millisecond, nil},
		"server.max_streams_per_session": {`10`, "10", func(c *Config) any { return c.Server.MaxStreamsPerSession }, 10, nil},
		"server.max_sessions_per_cert":   {`11`, "11", func(c *Config) any { return c.Server.MaxSessionsPerCert }, 11, nil},
		"server.listen":                  {`":9443"`, ":9443", func(c *Config) any { return c.Server.Listen }, ":9443", nil},
		"client.listen_host":             {`"::1"`, "::1", func(c *Config) any { return c.Client.ListenHost }, "::1", nil},
		"client.direct":                  {`true`, "1", func(c *Config) any { return c.Client.Direct }, true, nil},
		"client.wait_session":            {`"2m"`, "2m", func(c *Config) any { return c.Client.WaitSession }, 2 * time.Minute, nil},
		"client.failback_interval":       {`"45s"`, "45s", func(c *Config) any { return c.Client.FailbackInterval }, 45 * time.Second, nil},
	}
}

// tomlDoc renders name = literal pairs as a TOML document with sections.
func tomlDoc(vals map[string]string) string {
	var top strings.Builder
	sections := map[string]*strings.Builder{}
	var order []string
	for _, k := range Keys() {
		lit, ok := vals[k.Name]
		if !ok {
			continue
		}
		sec, key, found := strings.Cut(k.Name, ".")
		if !found {
			fmt.Fprintf(&top, "%s = %s\n", k.Name, lit)
			continue
		}
		b := sections[sec]
		if b == nil {
			b = &strings.Builder{}
			sections[sec] = b
			order = append(order, sec)
		}
		fmt.Fprintf(b, "%s = %s\n", key, lit)
	}
	for _, s := range order {
		fmt.Fprintf(&top, "[%s]\n%s", s, sections[s])
	}
	return top.String()
}

func TestEveryKeyFromFileAndEnv(t *testing.T) {
	dir := bundle(t)
	set := settings(dir)
	for _, k := range Keys() {
		if _, ok := set[k.Name]; !ok {
			t.Fatalf("key %s has no test setting", k.Name)
		}
	}
	for _, k := range Keys() {
		s := set[k.Name]
		t.Run("file/"+k.Name, func(t *testing.T) {
			vals := map[string]string{"cert": `"alice.crt"`, "key": `"alice.key"`, "ca": `"ca.crt"`, k.Name: s.toml}
			for _, n := range s.needs {
				vals[n] = set[n].toml
			}
			c := mustLoad(t, writeConfig(t, dir, tomlDoc(vals)), noEnv)
			if got := s.got(c); got != s.want {
				t.Fatalf("%s from file = %v, want %v", k.Name, got, s.want)
			}
		})
		t.Run("env/"+k.Env, func(t *testing.T) {
			p := writeConfig(t, dir, pemKeys)
			vars := map[string]string{k.Env: s.env}
			for _, n := range s.needs {
				vars[envOf(t, n)] = set[n].env
			}
			c := mustLoad(t, p, env(vars))
			if got := s.got(c); got != s.want {
				t.Fatalf("%s from env = %v, want %v", k.Env, got, s.want)
			}
		})
	}
}

func envOf(t *testing.T, name string) string {
	t.Helper()
	for _, k := range Keys() {
		if k.Name == name {
			return k.Env
		}
	}
	t.Fatalf("no key %s", name)
	return ""
}

func TestEnvBeatsFile(t *testing.T) {
	dir := bundle(t)
	p := writeConfig(t, dir, pemKeys+"[relay]\nlisten = \"0.0.0.0:1\"\nbehind_proxy = false\n[log]\nlevel = \"warn\"\n")
	c := mustLoad(t, p, env(map[string]string{
		"SENTINEL_RELAY_LISTEN":       "127.0.0.1:2",
		"SENTINEL_RELAY_BEHIND_PROXY": "true",
		"SENTINEL_LOG_LEVEL":          "error",
	}))
	if c.Relay.Listen != "127.0.0.1:2" || !c.Relay.BehindProxy || c.Log.Level != "error" {
		t.Fatalf("env did not win: %+v %+v", c.Relay, c.Log)
	}
}

func TestEnvOnly(t *testing.T) {
	c := mustLoad(t, "", env(map[string]string{
		"SENTINEL_CERT": certPEM, "SENTINEL_KEY": keyPEM, "SENTINEL_CA": caPEM,
	}))
	if string(c.Cert) != certPEM || c.CertPath != "" {
		t.Fatalf("inline cert from env: %q %q", c.Cert, c.CertPath)
	}
}

func TestFileErrors(t *testing.T) {
	dir := bundle(t)
	tests := map[string]struct {
		body string
		want []string
	}{
		"unknown top-level":  {pemKeys + "listen = \"x\"\n", []string{`unknown key "listen"`}},
		"unknown in section": {pemKeys + "[relay]\nlisen = \":1\"\n", []string{`unknown key "relay.lisen"`}},
		"unknown section":    {pemKeys + "[relais]\nlisten = \":1\"\n", []string{`unknown key "relais"`}},
		"two unknown":        {pemKeys + "a = 1\nb = 2\n", []string{`unknown keys "a", "b"`}},
		"upper-case key":     {pemKeys + "[relay]\nLISTEN = \":1\"\n", []string{`unknown key "relay.LISTEN"`}},
		"upper-case section": {pemKeys + "[Relay]\nlisten = \":1\"\n", []string{`unknown key "Relay"`}},
		"upper-case top":     {"CERT = \"alice.crt\"\n" + pemKeys, []string{`unknown key "CERT"`}},
		"wrong type bool":    {pemKeys + "[relay]\nbehind_proxy = \"yes\"\n", []string{"relay.behind_proxy"}},
		"wrong type int":     {pemKeys + "[relay]\nmax_pending_opens = \"many\"\n", []string{"relay.max_pending_opens"}},
		"section as value":   {pemKeys + "relay = 5\n", []string{"relay"}},
		"bad duration":       {pemKeys + "[server]\ndial_timeout = \"5 parsecs\"\n", []string{"server.dial_timeout", "5 parsecs"}},
		"integer duration":   {pemKeys + "[server]\ndial_timeout = 5\n", []string{"server.dial_timeout: must be a duration string"}},
		"syntax":             {pemKeys + "[relay\n", []string{"config.toml"}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			loadErr(t, writeConfig(t, dir, tt.body), noEnv, tt.want...)
		})
	}
}

func TestMissingConfigFile(t *testing.T) {
	loadErr(t, filepath.Join(t.TempDir(), "nope.toml"), noEnv, "read config", "nope.toml")
}

func TestEnvErrors(t *testing.T) {
	dir := bundle(t)
	p := writeConfig(t, dir, pemKeys)
	tests := map[string]string{
		"SENTINEL_RELAY_BEHIND_PROXY":      `SENTINEL_RELAY_BEHIND_PROXY: invalid boolean "maybe"`,
		"SENTINEL_RELAY_MAX_PENDING_OPENS": `SENTINEL_RELAY_MAX_PENDING_OPENS: invalid integer "maybe"`,
		"SENTINEL_SERVER_DIAL_TIMEOUT":     `SENTINEL_SERVER_DIAL_TIMEOUT: invalid duration "maybe"`,
	}
	for name, want := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := Load(p, env(map[string]string{name: "maybe"}))
			if err == nil || err.Error() != want {
				t.Fatalf("err = %v, want %q", err, want)
			}
		})
	}
}

func TestPEMResolution(t *testing.T) {
	dir := bundle(t)
	other := bundle(t) // absolute paths into another directory
	body := fmt.Sprintf("cert = '''\n%s'''\nkey = \"alice.key\"\nca = %q\n", certPEM, filepath.Join(other, "ca.crt"))
	c := mustLoad(t, writeConfig(t, dir, body), noEnv)
	if string(c.Cert) != certPEM || c.CertPath != "" {
		t.Errorf("inline cert: %q, path %q", c.Cert, c.CertPath)
	}
	if string(c.Key) != keyPEM || c.KeyPath != filepath.Join(dir, "alice.key") {
		t.Errorf("relative key: %q, path %q", c.Key, c.KeyPath)
	}
	if string(c.CA) != caPEM || c.CAPath != filepath.Join(other, "ca.crt") {
		t.Errorf("absolute ca: %q, path %q", c.CA, c.CAPath)
	}

	// ReadPEM re-reads files and returns inline values as loaded.
	newKey := fakePEM("PRIVATE KEY", "rotated")
	if err := os.WriteFile(filepath.Join(dir, "alice.key"), []byte(newKey), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, key, ca, err := c.ReadPEM()
	if err != nil {
		t.Fatalf("ReadPEM: %v", err)
	}
	if string(cert) != certPEM || string(key) != newKey || string(ca) != caPEM {
		t.Fatalf("ReadPEM = %q, %q, %q", cert, key, ca)
	}
	if string(c.Key) != keyPEM {
		t.Fatal("ReadPEM changed the Config")
	}
	if err := os.Remove(filepath.Join(dir, "alice.key")); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := c.ReadPEM(); err == nil || !strings.Contains(err.Error(), "key: ") || !strings.Contains(err.Error(), filepath.Join(dir, "alice.key")) {
		t.Fatalf("ReadPEM of a removed key: %v", err)
	}
}

func TestPEMErrors(t *testing.T) {
	dir := bundle(t)
	if err := os.WriteFile(filepath.Join(dir, "junk.crt"), []byte("not pem"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		body string
		want []string
	}{
		"missing file": {"cert = \"gone.crt\"\nkey = \"alice.key\"\nca = \"ca.crt\"\n", []string{"cert: ", filepath.Join(dir, "gone.crt")}},
		"missing ca":   {"cert = \"alice.crt\"\nkey = \"alice.key\"\nca = \"/nonexistent/ca.crt\"\n", []string{"ca: ", "/nonexistent/ca.crt"}},
		"not PEM":      {"cert = \"junk.crt\"\nkey = \"alice.key\"\nca = \"ca.crt\"\n", []string{"cert: ", "junk.crt", "no PEM block"}},
		"bad inline":   {"cert = \"-----BEGIN nothing\"\nkey = \"alice.key\"\nca = \"ca.crt\"\n", []string{"cert: inline value: no PEM block"}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			loadErr(t, writeConfig(t, dir, tt.body), noEnv, tt.want...)
		})
	}
}

func TestCRLResolution(t *testing.T) {
	dir := bundle(t)
	for lit, want := range map[string]string{
		"ca.crl":                      filepath.Join(dir, "ca.crl"),
		"/etc/sentinel/ca.crl":        "/etc/sentinel/ca.crl",
		"http://ca.example.com/x.crl": "http://ca.example.com/x.crl",
	} {
		c := mustLoad(t, writeConfig(t, dir, pemKeys+fmt.Sprintf("crl = %q\n", lit)), noEnv)
		if c.CRL != want {
			t.Errorf("crl %q resolved to %q, want %q", lit, c.CRL, want)
		}
	}
}

// valid returns a Config that passes Validate.
func valid(t *testing.T) Config {
	t.Helper()
	c := Default()
	c.Dir = t.TempDir()
	c.Cert, c.Key, c.CA = []byte(certPEM), []byte(keyPEM), []byte(caPEM)
	return c
}

func TestValidate(t *testing.T) {
	base := valid(t)
	if err := base.Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	tests := map[string]struct {
		mut  func(*Config)
		want string
	}{
		"no cert":                 {func(c *Config) { c.Cert = nil }, "cert: required"},
		"no key":                  {func(c *Config) { c.Key = nil }, "key: required"},
		"no ca":                   {func(c *Config) { c.CA = nil }, "ca: required"},
		"crl scheme":              {func(c *Config) { c.CRL = "ftp://x/ca.crl" }, `crl: unsupported URL scheme "ftp"`},
		"crl no host":             {func(c *Config) { c.CRL = "https:///ca.crl" }, "crl: URL"},
		"ca_url http":             {func(c *Config) { c.CAURL = "http://ca.example.com:9000" }, "ca_url: "},
		"ca_url path":             {func(c *Config) { c.CAURL = "https://ca.example.com:9000/1.0" }, "ca_url: "},
		"log level":               {func(c *Config) { c.Log.Level = "loud" }, `log.level: unknown level "loud"`},
		"log format":              {func(c *Config) { c.Log.Format = "xml" }, `log.format: unknown format "xml"`},
		"audit dir":               {func(c *Config) { c.Audit.Path = "/nonexistent/dir/audit.jsonl" }, "audit.path: directory /nonexistent/dir"},
		"audit dir is file":       {func(c *Config) { c.Audit.Path = "/etc/hostname/audit.jsonl" }, "audit.path: "},
		"relay listen empty":      {func(c *Config) { c.Relay.Listen = "" }, "relay.listen: required"},
		"relay listen no port":    {func(c *Config) { c.Relay.Listen = "0.0.0.0" }, "relay.listen: missing port"},
		"relay listen port name":  {func(c *Config) { c.Relay.Listen = ":https" }, `relay.listen: port "https"`},
		"relay listen port big":   {func(c *Config) { c.Relay.Listen = ":65536" }, `relay.listen: port "65536"`},
		"relay listen port neg":   {func(c *Config) { c.Relay.Listen = ":-1" }, `relay.listen: port "-1"`},
		"relay listen empty port": {func(c *Config) { c.Relay.Listen = "host:" }, `relay.listen: port ""`},
		"metrics listen":          {func(c *Config) { c.Metrics.Listen = "9100" }, "metrics.listen: missing port"},
		"pprof without listener":  {func(c *Config) { c.Metrics.Pprof, c.Metrics.Listen = true, "" }, "metrics.pprof: needs metrics.listen"},
		"server listen":           {func(c *Config) { c.Server.Listen = "a:b:c" }, "server.listen: too many colons"},
		"listen host empty":       {func(c *Config) { c.Client.ListenHost = "" }, "client.listen_host: required"},
		"listen host with port":   {func(c *Config) { c.Client.ListenHost = "127.0.0.1:80" }, "client.listen_host: "},
		"shutdown timeout":        {func(c *Config) { c.ShutdownTimeout = 0 }, "shutdown_timeout: must be positive"},
		"idle not above ping":     {func(c *Config) { c.IdleTimeout = c.PingInterval }, "idle_timeout: 20s must be longer than ping_interval (20s)"},
		"bind timeout":            {func(c *Config) { c.Relay.BindTimeout = -time.Second }, "relay.bind_timeout: must be positive, got -1s"},
		"handshake timeout":       {func(c *Config) { c.Relay.HandshakeTimeout = 0 }, "relay.handshake_timeout: must be positive"},
		"dial timeout":            {func(c *Config) { c.Server.DialTimeout = 0 }, "server.dial_timeout: must be positive"},
		"wait session":            {func(c *Config) { c.Client.WaitSession = 0 }, "client.wait_session: must be positive"},
		"failback interval":       {func(c *Config) { c.Client.FailbackInterval = 0 }, "client.failback_interval: must be positive"},
		"relay sessions":          {func(c *Config) { c.Relay.MaxSessionsPerCert = 0 }, "relay.max_sessions_per_cert: must be positive, got 0"},
		"pending opens":           {func(c *Config) { c.Relay.MaxPendingOpens = -1 }, "relay.max_pending_opens: must be positive"},
		"server channels":         {func(c *Config) { c.Relay.MaxServerChannels = 0 }, "relay.max_server_channels: must be positive"},
		"streams per session":     {func(c *Config) { c.Server.MaxStreamsPerSession = 0 }, "server.max_streams_per_session: must be positive"},
		"server sessions":         {func(c *Config) { c.Server.MaxSessionsPerCert = 0 }, "server.max_sessions_per_cert: must be positive"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			c := base
			tt.mut(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate = %v, want error containing %q", err, tt.want)
			}
		})
	}
	ok := map[string]func(*Config){
		"listen port 0":       func(c *Config) { c.Relay.Listen = "127.0.0.1:0" },
		"listen no host":      func(c *Config) { c.Relay.Listen = ":8443" },
		"listen ipv6":         func(c *Config) { c.Metrics.Listen = "[::1]:9100" },
		"listen host name":    func(c *Config) { c.Server.Listen = "localhost:65535" },
		"listen host ipv6":    func(c *Config) { c.Client.ListenHost = "::1" },
		"listen host name ok": func(c *Config) { c.Client.ListenHost = "localhost" },
		"crl path":            func(c *Config) { c.CRL = "/etc/ca.crl" },
		"crl https":           func(c *Config) { c.CRL = "https://ca.example.com/ca.crl" },
		"audit in dir":        func(c *Config) { c.Audit.Path = filepath.Join(c.Dir, "audit.jsonl") },
	}
	for name, mut := range ok {
		t.Run("ok/"+name, func(t *testing.T) {
			c := base
			mut(&c)
			if err := c.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
		})
	}
}

func TestAuditPathFromFile(t *testing.T) {
	dir := bundle(t)
	loadErr(t, writeConfig(t, dir, pemKeys+"[audit]\npath = \"logs/audit.jsonl\"\n"), noEnv,
		"audit.path: directory "+filepath.Join(dir, "logs"))
}
