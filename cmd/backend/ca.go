package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sentinel-zt/sentinel/internal/atomicfile"
	"github.com/sentinel-zt/sentinel/pkg/ca"
	"github.com/sentinel-zt/sentinel/pkg/certattrs"
)

// newCACmd is the offline CA: `backend ca init|issue|list|inspect|revoke|crl`.
func newCACmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ca",
		Short: "Offline certificate authority",
		Long: "Offline certificate authority: a CA directory holds the root key (ca.key), the root\n" +
			"certificate (ca.crt) and an SQLite inventory (inventory.db) of every certificate issued.",
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newCAInitCmd(), newCAIssueCmd(), newCAListCmd(), newCAInspectCmd(),
		newCARevokeCmd(), newCACRLCmd())
	cmd.AddCommand(newCATokenCmd(), newCAServeCmd(), newCAAdminCmd()) // online CA: serve.go, token.go
	return cmd
}

// flagNames maps pkg/ca request fields to the flags that set them.
var flagNames = map[string]string{
	"name":        "--name",
	"addr":        "--addr",
	"port":        "--port",
	"host":        "--host",
	"out_port":    "--out-port",
	"relays":      "--relay",
	"resources":   "--resource",
	"server":      "--server",
	"target":      "--target",
	"ttl":         "--ttl",
	"key_type":    "--key-type",
	"groups":      "--group",
	"schedule":    "--schedule",
	"reason":      "--reason",
	"next_update": "--next-update",
}

// cliError rewords pkg/ca errors in the CLI's terms: fields become flags, and refusals say
// which flag or command gets past them.
func cliError(dir string, err error) error {
	var fe *ca.FieldError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ca.ErrNotInitialised):
		return fmt.Errorf("ca dir %s: not initialised, run backend ca init --dir %s", dir, dir)
	case errors.As(err, &fe) && flagNames[fe.Field] != "":
		return fmt.Errorf("%s: %w", flagNames[fe.Field], fe.Err)
	case errors.Is(err, ca.ErrTargetOutside):
		return fmt.Errorf("%w; pass --force to issue anyway", err)
	case errors.Is(err, ca.ErrExists): // a bundle file (init has no --force and does not come here)
		return fmt.Errorf("%w; pass --force to overwrite", err)
	}
	return err
}

func openCA(dir string) (*ca.CA, error) {
	c, err := ca.Open(dir)
	if err != nil {
		return nil, cliError(dir, err)
	}
	return c, nil
}

func warn(cmd *cobra.Command, format string, args ...any) {
	fmt.Fprintf(cmd.ErrOrStderr(), "backend: warning: "+format+"\n", args...)
}

func parseRole(s string) (certattrs.Role, error) {
	switch r := certattrs.Role(s); r {
	case "", certattrs.RoleClient, certattrs.RoleServer, certattrs.RoleRelay:
		return r, nil
	}
	return "", fmt.Errorf("--role: %q: want client, server or relay", s)
}

// ---- init

type caInitOptions struct {
	dir  string
	name string
}

func newCAInitCmd() *cobra.Command {
	var o caInitOptions
	cmd := &cobra.Command{
		Use:   "init --dir CA [--name NAME]",
		Short: "Create a CA: ECDSA P-256 root key and certificate (10 years), empty inventory",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := ca.Init(o.dir, ca.InitOptions{Name: o.name})
			if err != nil {
				return err
			}
			defer c.Close()
			root := c.Root()
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "initialised CA %q in %s\n", root.Subject.CommonName, o.dir)
			fmt.Fprintf(out, "root: %s (valid until %s)\n", filepath.Join(o.dir, ca.RootCertFile), fmtTime(root.NotAfter))
			fmt.Fprintf(out, "key:  %s (mode 0600; keep this directory offline and backed up)\n", filepath.Join(o.dir, ca.RootKeyFile))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.dir, "dir", "", "CA directory to create (required)")
	f.StringVar(&o.name, "name", ca.DefaultRootName, "root certificate common name")
	_ = cmd.MarkFlagRequired("dir")
	return cmd
}

// ---- issue

type caIssueOptions struct {
	dir, name, out, ttl, keyType string
	force                        bool
}

func (o *caIssueOptions) bind(cmd *cobra.Command, forceHelp string) {
	f := cmd.Flags()
	f.StringVar(&o.dir, "dir", "", "CA directory (required)")
	f.StringVar(&o.name, "name", "", "component name: letters, digits, '.', '_', '-' (required); re-issuing a name keeps its uuid")
	f.StringVar(&o.out, "out", "", "bundle directory to write NAME.crt, NAME.key, ca.crt, config.toml into (required; created 0700)")
	f.StringVar(&o.ttl, "ttl", "", "lifetime, e.g. 24h or 30d (default: clients 24h, servers and relays 30d; never past the root's expiry)")
	f.StringVar(&o.keyType, "key-type", string(ca.KeyECDSAP256), "key type: ecdsa-p256 or ed25519")
	f.BoolVar(&o.force, "force", false, forceHelp)
	for _, n := range []string{"dir", "name", "out"} {
		_ = cmd.MarkFlagRequired(n)
	}
}

func (o *caIssueOptions) request() (ca.IssueRequest, error) {
	req := ca.IssueRequest{Name: o.name}
	if o.ttl != "" {
		d, err := ca.ParseLifetime(o.ttl)
		if err != nil {
			return req, fmt.Errorf("--ttl: %w", err)
		}
		req.TTL = d
	}
	kt, err := ca.ParseKeyType(o.keyType)
	if err != nil {
		return req, fmt.Errorf("--key-type: %w", err)
	}
	req.KeyType = kt
	if err := ca.ValidateName(o.name); err != nil {
		return req, fmt.Errorf("--name: %w", err)
	}
	return req, nil
}

// issue opens the CA, checks the bundle can be written, issues and writes the bundle.
func (o *caIssueOptions) issue(cmd *cobra.Command, req ca.IssueRequest) error {
	c, err := openCA(o.dir)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.CheckBundle(o.out, o.name, o.force); err != nil {
		return cliError(o.dir, err)
	}
	iss, err := c.Issue(req)
	if err != nil {
		return cliError(o.dir, err)
	}
	for _, w := range iss.Warnings {
		warn(cmd, "%s", w)
	}
	files, err := c.WriteBundle(o.out, iss, ca.BundleOptions{Force: o.force})
	if err != nil {
		return fmt.Errorf("certificate %s recorded but bundle not written (revoke it, or issue again): %w",
			iss.Record.Serial, cliError(o.dir, err))
	}
	r := iss.Record
	verb := "issued"
	if iss.Reissued {
		verb = "re-issued (uuid kept)"
	}
	out := cmd.OutOrStdout()
	fmt.Fprintf(out, "%s %s %q: uuid %s, serial %s, valid until %s\n", verb, r.Role, r.Name, r.UUID, r.Serial, fmtTime(r.NotAfter))
	fmt.Fprintf(out, "bundle: %s\n", strings.Join(files, " "))
	fmt.Fprintf(out, "install: copy %s to the device and run: backend -c %s\n", o.out, ca.ConfigFile)
	return nil
}

func newCAIssueCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "issue relay|server|client",
		Short: "Issue a certificate and write its ready-to-run bundle",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newCAIssueRelayCmd(), newCAIssueServerCmd(), newCAIssueClientCmd())
	return cmd
}

func newCAIssueRelayCmd() *cobra.Command {
	var (
		o caIssueOptions
		r relayFlags
	)
	cmd := &cobra.Command{
		Use:   "relay --dir CA --name NAME --addr HOST|IP|URL [--port 8443] --out DIR",
		Short: "Issue a relay certificate",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			req, err := o.request()
			if err != nil {
				return err
			}
			req.Relay = &ca.RelaySpec{Addr: r.addr, Port: r.port}
			return o.issue(cmd, req)
		},
	}
	o.bind(cmd, "overwrite an existing bundle")
	r.bind(cmd)
	return cmd
}

func newCAIssueServerCmd() *cobra.Command {
	var (
		o  caIssueOptions
		sf serverFlags
	)
	cmd := &cobra.Command{
		Use: "server --dir CA --name NAME [--relay R ...] --resource [NAME=]CIDR:PORT[-LAST] ... " +
			"[--host H --port P [--out-port P]] --out DIR",
		Short: "Issue a server certificate",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			req, err := o.request()
			if err != nil {
				return err
			}
			resources, err := sf.parse(cmd)
			if err != nil {
				return err
			}
			req.Server = &ca.ServerSpec{Relays: sf.relays, Resources: resources, Host: sf.host, Port: sf.port, OutPort: sf.outPort}
			return o.issue(cmd, req)
		},
	}
	o.bind(cmd, "overwrite an existing bundle")
	sf.bind(cmd, "every valid relay in the inventory")
	return cmd
}

func newCAIssueClientCmd() *cobra.Command {
	var (
		o  caIssueOptions
		cf clientFlags
	)
	cmd := &cobra.Command{
		Use: "client --dir CA --name NAME --server SERVER --target HOST:PORT [--port 48080] [--relay R ...] " +
			"[--user U] [--group G ...] [--schedule SCHEDULE] [--ttl 24h] --out DIR",
		Short: "Issue a client certificate",
		Long: "Issue a client certificate for one server and one target.\n\n" +
			"--schedule syntax: " + ca.ScheduleSyntax + ".",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			req, err := o.request()
			if err != nil {
				return err
			}
			target, schedule, err := cf.parse()
			if err != nil {
				return err
			}
			req.Client = &ca.ClientSpec{
				Server: cf.server, Relays: cf.relays, Target: target, Port: cf.port,
				User: cf.user, Groups: cf.groups, Schedule: schedule, AllowOutside: o.force,
			}
			return o.issue(cmd, req)
		},
	}
	o.bind(cmd, "overwrite an existing bundle, and issue even if --target is outside every resource of the server")
	cf.bind(cmd, "every valid relay in the inventory")
	return cmd
}

// ---- list

func newCAListCmd() *cobra.Command {
	var (
		dir, role string
		asJSON    bool
	)
	cmd := &cobra.Command{
		Use:   "list --dir CA [--role ROLE] [--json]",
		Short: "List every certificate in the inventory",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := parseRole(role)
			if err != nil {
				return err
			}
			c, err := openCA(dir)
			if err != nil {
				return err
			}
			defer c.Close()
			recs, err := c.List(ca.Filter{Role: r})
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				if recs == nil {
					recs = []ca.Record{}
				}
				return writeJSON(out, recs)
			}
			tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ROLE\tNAME\tUUID\tSERIAL\tEXPIRES\tREVOKED")
			now := time.Now()
			for _, rec := range recs {
				expires := fmtTime(rec.NotAfter)
				if !now.Before(rec.NotAfter) {
					expires += " (expired)"
				}
				revoked := "-"
				if rec.RevokedAt != nil {
					revoked = fmtTime(*rec.RevokedAt)
					if rec.Reason != "" {
						revoked += " " + rec.Reason
					}
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", rec.Role, rec.Name, rec.UUID, rec.Serial, expires, revoked)
			}
			return tw.Flush()
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "dir", "", "CA directory (required)")
	f.StringVar(&role, "role", "", "only this role: client, server or relay")
	f.BoolVar(&asJSON, "json", false, "print JSON (an array of records) instead of a table")
	_ = cmd.MarkFlagRequired("dir")
	return cmd
}

// ---- inspect

func newCAInspectCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "inspect FILE.crt [--json]",
		Short: "Show a certificate: subject, serial, validity, SANs, role and every attribute",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			certs, err := ca.ReadCertificates(args[0])
			if err != nil {
				return fmt.Errorf("inspect: %w", err)
			}
			if len(certs) > 1 {
				warn(cmd, "%s holds %d certificates; showing the first", args[0], len(certs))
			}
			info := ca.Inspect(certs[0])
			if asJSON {
				err = writeJSON(cmd.OutOrStdout(), info)
			} else {
				err = printInspect(cmd.OutOrStdout(), info, time.Now())
			}
			if err != nil {
				return err
			}
			if info.AttrsError != "" {
				return fmt.Errorf("%s: sentinel attributes: %s", args[0], info.AttrsError)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of text")
	return cmd
}

func printInspect(w io.Writer, info ca.CertInfo, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	row := func(k string, vs ...string) {
		if len(vs) == 0 {
			vs = []string{"-"}
		}
		for i, v := range vs {
			if i > 0 {
				k = ""
			} else {
				k += ":"
			}
			fmt.Fprintf(tw, "%s\t%s\n", k, v)
		}
	}
	status := "valid"
	switch {
	case now.Before(info.NotBefore):
		status = "not yet valid"
	case !now.Before(info.NotAfter):
		status = "expired"
	}
	row("subject", info.Subject)
	row("issuer", info.Issuer)
	row("serial", info.Serial)
	row("valid", fmt.Sprintf("%s to %s (%s)", fmtTime(info.NotBefore), fmtTime(info.NotAfter), status))
	row("key", info.KeyAlgorithm)
	row("key usage", joinOrNone(info.KeyUsage)...)
	row("ext key usage", joinOrNone(info.ExtKeyUsage)...)
	row("DNS SANs", info.DNSNames...)
	row("IP SANs", info.IPAddresses...)
	if len(info.URIs) > 0 {
		row("URI SANs", info.URIs...)
	}
	row("sha256", info.Fingerprint)
	switch {
	case info.AttrsError != "":
		row("attributes", "INVALID: "+info.AttrsError)
	case info.Attrs == nil:
		if info.IsCA {
			row("role", "none (CA certificate)")
		} else {
			row("role", "none (no Sentinel attributes)")
		}
	default:
		printAttrs(row, *info.Attrs)
	}
	return tw.Flush()
}

func printAttrs(row func(string, ...string), a certattrs.Attrs) {
	row("role", string(a.Role()))
	row("uuid", a.UUID())
	row("name", a.Name())
	switch {
	case a.Relay != nil:
		row("address", a.Relay.Address)
		row("port", fmt.Sprint(a.Relay.Port))
	case a.Server != nil:
		s := a.Server
		if s.Port != 0 {
			row("direct", fmt.Sprintf("host %s, port %d, out_port %d", s.Host, s.Port, s.OutPort))
		} else {
			row("direct", "none")
		}
		res := make([]string, len(s.Resources))
		for i, r := range s.Resources {
			res[i] = fmt.Sprintf("%s %s (uuid %s)", r.Name, ca.FormatResource(r), r.UUID)
		}
		row("resources", res...)
		row("relays", relayLines(s.Relays)...)
	case a.Client != nil:
		c := a.Client
		row("port", fmt.Sprintf("%d (local listener)", c.Port))
		srv := fmt.Sprintf("%s (uuid %s)", c.Server.Name, c.Server.UUID)
		if c.Server.Addr != "" {
			srv += fmt.Sprintf(", direct %s out_port %d", c.Server.Addr, c.Server.OutPort)
		}
		row("server", srv)
		row("target", fmt.Sprintf("%s:%d", bracketHost(c.Target.Host), c.Target.Port))
		row("relays", relayLines(c.Relays)...)
		row("user", c.User)
		row("groups", c.Groups...)
		if c.Schedule != nil {
			row("schedule", ca.FormatSchedule(c.Schedule))
		} else {
			row("schedule", "any time")
		}
	}
}

// joinOrNone is one comma-separated row value, or none (shown as "-").
func joinOrNone(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return []string{strings.Join(s, ", ")}
}

func relayLines(rs []certattrs.RelayRef) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = fmt.Sprintf("%d. %s %s port %d (uuid %s)", r.Sort, r.Name, r.Addr, r.Port, r.UUID)
	}
	return out
}

func bracketHost(h string) string {
	if strings.Contains(h, ":") {
		return "[" + h + "]"
	}
	return h
}

// ---- revoke

func newCARevokeCmd() *cobra.Command {
	var dir, reason, role string
	cmd := &cobra.Command{
		Use:   "revoke --dir CA NAME|SERIAL [--reason REASON] [--role ROLE]",
		Short: "Revoke every certificate of a name, or one certificate by serial",
		Long: "Revoke every not yet revoked certificate of NAME, or the certificate with SERIAL (hex).\n" +
			"--reason is recorded; when it names an RFC 5280 reason (key-compromise, ca-compromise,\n" +
			"affiliation-changed, superseded, cessation-of-operation, privilege-withdrawn) the CRL carries\n" +
			"its code. Publish the change with `backend ca crl`.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := parseRole(role)
			if err != nil {
				return err
			}
			c, err := openCA(dir)
			if err != nil {
				return err
			}
			defer c.Close()
			recs, err := c.Revoke(args[0], ca.RevokeOptions{Reason: reason, Role: r})
			if err != nil {
				return cliError(dir, err)
			}
			out := cmd.OutOrStdout()
			for _, rec := range recs {
				fmt.Fprintf(out, "revoked %s %q serial %s at %s\n", rec.Role, rec.Name, rec.Serial, fmtTime(*rec.RevokedAt))
			}
			fmt.Fprintf(out, "publish it: backend ca crl --dir %s --out FILE.crl\n", dir)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "dir", "", "CA directory (required)")
	f.StringVar(&reason, "reason", "", "why, e.g. key-compromise, superseded, or free text")
	f.StringVar(&role, "role", "", "with a NAME: only that role's certificates (client, server or relay)")
	_ = cmd.MarkFlagRequired("dir")
	return cmd
}

// ---- crl

func newCACRLCmd() *cobra.Command {
	var dir, out, next string
	cmd := &cobra.Command{
		Use:   "crl --dir CA --out FILE.crl [--next-update 7d]",
		Short: "Write a signed CRL (PEM) of every revoked certificate",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			d, err := ca.ParseLifetime(next)
			if err != nil {
				return fmt.Errorf("--next-update: %w", err)
			}
			c, err := openCA(dir)
			if err != nil {
				return err
			}
			defer c.Close()
			crl, err := c.CRL(ca.CRLOptions{NextUpdate: d})
			if err != nil {
				return cliError(dir, err)
			}
			if err := atomicfile.Replace(out, crl.PEM, 0o644); err != nil {
				return fmt.Errorf("write CRL %s: %w", out, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s: CRL number %d, %d revoked, next update %s\n",
				out, crl.Number, len(crl.Entries), fmtTime(crl.NextUpdate))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "dir", "", "CA directory (required)")
	f.StringVar(&out, "out", "", "CRL file to write (required; replaced atomically)")
	f.StringVar(&next, "next-update", "7d", "how long until the next CRL is due, e.g. 24h or 7d")
	_ = cmd.MarkFlagRequired("dir")
	_ = cmd.MarkFlagRequired("out")
	return cmd
}

// ---- helpers

func fmtTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
