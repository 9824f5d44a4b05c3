package main

import (
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sentinel-zt/sentinel/pkg/ca"
	"github.com/sentinel-zt/sentinel/pkg/certattrs"
)

// newCATokenCmd is `backend ca token client|server|relay|list|revoke`: enrollment tokens for
// the online CA (backend ca serve).
func newCATokenCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token client|server|relay|list|revoke",
		Short: "Make an enrollment token for `backend enroll` (the online CA signs a key the device makes)",
		Long: "Make an enrollment token: the device runs `backend enroll --token T`, makes its own key and\n" +
			"gets a certificate from `backend ca serve` that says what this command's flags say, resolved\n" +
			"against the inventory at enrollment. Tokens are single use unless --reusable, expire after\n" +
			"--ttl and are recorded in the inventory. The token is printed on stdout; it pins the CA root.",
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newCATokenRelayCmd(), newCATokenServerCmd(), newCATokenClientCmd(),
		newCATokenListCmd(), newCATokenRevokeCmd())
	return cmd
}

type caTokenOptions struct {
	dir, db, name, ttl, certTTL string
	reusable                    int
	ephemeral                   bool
}

func (o *caTokenOptions) bindDir(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&o.dir, "dir", "", "CA directory (required)")
	f.StringVar(&o.db, "db", "", "PostgreSQL inventory, postgres://USER:PASSWORD@HOST:PORT/DB (default: the CA dir's inventory.url, else inventory.db)")
	_ = cmd.MarkFlagRequired("dir")
}

func (o *caTokenOptions) bind(cmd *cobra.Command) {
	o.bindDir(cmd)
	f := cmd.Flags()
	f.StringVar(&o.name, "name", "", "component name: letters, digits, '.', '_', '-' (required); a known name keeps its uuid")
	f.StringVar(&o.ttl, "ttl", "10m", "how long the token can be used, e.g. 10m or 7d (at most 30d)")
	f.IntVar(&o.reusable, "reusable", 1, "how many enrollments the token allows")
	f.BoolVar(&o.ephemeral, "ephemeral", false, "mark what it enrolls ephemeral: removed from the inventory once expired (CI runners, short-lived devices)")
	f.StringVar(&o.certTTL, "cert-ttl", "", "certificate lifetime, e.g. 8h (default: clients 8h, servers and relays 7d; renewed at 2/3 through ca_url)")
	_ = cmd.MarkFlagRequired("name")
}

// openCADB opens the CA directory with the --db inventory, if given.
func openCADB(dir, db string) (*ca.CA, error) {
	var opts []ca.Option
	if db != "" {
		if err := ca.ValidateInventoryURL(db); err != nil {
			return nil, fmt.Errorf("--db: %w", err)
		}
		opts = append(opts, ca.WithInventory(db))
	}
	c, err := ca.Open(dir, opts...)
	if err != nil {
		return nil, cliError(dir, err)
	}
	return c, nil
}

// tokenFlagError maps pkg/ca fields to this command's flags, where they differ from issue's.
func tokenFlagError(dir string, err error) error {
	var fe *ca.FieldError
	if errors.As(err, &fe) {
		switch fe.Field {
		case "token_ttl":
			return fmt.Errorf("--ttl: %w", fe.Err)
		case "uses":
			return fmt.Errorf("--reusable: %w", fe.Err)
		case "ttl":
			return fmt.Errorf("--cert-ttl: %w", fe.Err)
		}
	}
	return cliError(dir, err)
}

func (o *caTokenOptions) run(cmd *cobra.Command, role certattrs.Role, spec ca.TokenSpec) error {
	req := ca.TokenRequest{Role: role, Name: o.name, Spec: spec, Uses: o.reusable, Ephemeral: o.ephemeral}
	if err := ca.ValidateName(o.name); err != nil {
		return fmt.Errorf("--name: %w", err)
	}
	if o.reusable < 1 {
		return fmt.Errorf("--reusable: %d: want 1 or more", o.reusable)
	}
	d, err := ca.ParseLifetime(o.ttl)
	if err != nil {
		return fmt.Errorf("--ttl: %w", err)
	}
	req.TTL = d
	if o.certTTL != "" {
		if req.Spec.CertTTL, err = ca.ParseLifetime(o.certTTL); err != nil {
			return fmt.Errorf("--cert-ttl: %w", err)
		}
	}
	c, err := openCADB(o.dir, o.db)
	if err != nil {
		return err
	}
	defer c.Close()
	tok, err := c.NewToken(req)
	if err != nil {
		return tokenFlagError(o.dir, err)
	}
	for _, w := range tok.Warnings {
		warn(cmd, "%s", w)
	}
	r := tok.Record
	uses := "single use"
	if r.MaxUses > 1 {
		uses = fmt.Sprintf("%d uses", r.MaxUses)
	}
	if r.Ephemeral {
		uses += ", ephemeral"
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "enrollment token %s for %s %q: %s, valid until %s\n", r.ID, r.Role, r.Name, uses, fmtTime(r.ExpiresAt))
	fmt.Fprintf(cmd.ErrOrStderr(), "on the device: backend enroll --ca https://CA-HOST:9000 --token TOKEN --out DIR\n")
	_, err = fmt.Fprintln(cmd.OutOrStdout(), tok.JWT)
	return err
}

func newCATokenRelayCmd() *cobra.Command {
	var (
		o caTokenOptions
		r relayFlags
	)
	cmd := &cobra.Command{
		Use:   "relay --dir CA --name NAME --addr HOST|IP|URL [--port 8443] [--ttl 10m] [--reusable N] [--ephemeral]",
		Short: "Make an enrollment token for a relay",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd, certattrs.RoleRelay, ca.TokenSpec{Addr: r.addr, Port: r.port})
		},
	}
	o.bind(cmd)
	r.bind(cmd)
	return cmd
}

func newCATokenServerCmd() *cobra.Command {
	var (
		o  caTokenOptions
		sf serverFlags
	)
	cmd := &cobra.Command{
		Use: "server --dir CA --name NAME [--relay R ...] --resource [NAME=]CIDR:PORT[-LAST] ... " +
			"[--host H --port P [--out-port P]] [--ttl 10m] [--reusable N] [--ephemeral]",
		Short: "Make an enrollment token for a server",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// Checked now, stored as typed: the CA parses them again when the device enrolls.
			if _, err := sf.parse(cmd); err != nil {
				return err
			}
			return o.run(cmd, certattrs.RoleServer, ca.TokenSpec{Relays: sf.relays, Resources: sf.resources, Host: sf.host, Port: sf.port, OutPort: sf.outPort})
		},
	}
	o.bind(cmd)
	sf.bind(cmd, "every valid relay in the inventory at enrollment")
	return cmd
}

func newCATokenClientCmd() *cobra.Command {
	var (
		o     caTokenOptions
		cf    clientFlags
		force bool
	)
	cmd := &cobra.Command{
		Use: "client --dir CA --name NAME --server SERVER --target HOST:PORT [--port 48080] [--relay R ...] " +
			"[--user U] [--group G ...] [--schedule SCHEDULE] [--cert-ttl 8h] [--ttl 10m] [--reusable N] [--ephemeral]",
		Short: "Make an enrollment token for a client",
		Long: "Make an enrollment token for a client of one server and one target.\n\n" +
			"--schedule syntax: " + ca.ScheduleSyntax + ".",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// Checked now, stored as typed: the CA parses them again when the device enrolls.
			if _, _, err := cf.parse(); err != nil {
				return err
			}
			return o.run(cmd, certattrs.RoleClient, ca.TokenSpec{Server: cf.server, Target: cf.target, Relays: cf.relays,
				Port: cf.port, User: cf.user, Groups: cf.groups, Schedule: cf.schedule, AllowOutside: force})
		},
	}
	o.bind(cmd)
	cf.bind(cmd, "every valid relay in the inventory at enrollment")
	cmd.Flags().BoolVar(&force, "force", false, "allow a --target outside every resource of the server")
	return cmd
}

func newCATokenListCmd() *cobra.Command {
	var (
		o      caTokenOptions
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "list --dir CA [--json]",
		Short: "List the recorded enrollment tokens",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := openCADB(o.dir, o.db)
			if err != nil {
				return err
			}
			defer c.Close()
			toks, err := c.Tokens()
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				if toks == nil {
					toks = []ca.TokenRecord{}
				}
				return writeJSON(out, toks)
			}
			tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tROLE\tNAME\tUSES\tEXPIRES\tSTATUS")
			now := time.Now()
			for _, t := range toks {
				status := t.Status(now)
				if t.Ephemeral {
					status += " (ephemeral)"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d/%d\t%s\t%s\n", t.ID, t.Role, t.Name, t.Uses, t.MaxUses, fmtTime(t.ExpiresAt), status)
			}
			return tw.Flush()
		},
	}
	o.bindDir(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON (an array of token records) instead of a table")
	return cmd
}

func newCATokenRevokeCmd() *cobra.Command {
	var o caTokenOptions
	cmd := &cobra.Command{
		Use:   "revoke --dir CA ID",
		Short: "Revoke an enrollment token (certificates it already enrolled stay valid: revoke them by name)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := openCADB(o.dir, o.db)
			if err != nil {
				return err
			}
			defer c.Close()
			t, err := c.RevokeToken(args[0])
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "revoked enrollment token %s (%s %q, %d of %d uses made)\n", t.ID, t.Role, t.Name, t.Uses, t.MaxUses)
			return err
		},
	}
	o.bindDir(cmd)
	return cmd
}
