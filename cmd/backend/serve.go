package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/sentinel-zt/sentinel/pkg/ca"
	"github.com/sentinel-zt/sentinel/pkg/caserver"
	"github.com/sentinel-zt/sentinel/pkg/enroll"
	"github.com/sentinel-zt/sentinel/pkg/logging"
)

// newCAServeCmd is `backend ca serve`: the online CA.
func newCAServeCmd() *cobra.Command {
	var (
		dir, db, listen, logLevel, logFormat string
		dns                                  []string
		backdate                             time.Duration
	)
	cmd := &cobra.Command{
		Use:   "serve --dir CA [--listen 127.0.0.1:9000] [--dns NAME ...] [--db postgres://...]",
		Short: "Run the online CA: enrollment with tokens, renewal, CRL and inventory over HTTPS",
		Long: "Run the online CA, an embedded step-ca authority signing with the CA dir's root:\n" +
			"  POST /1.0/sign   enrollment (backend enroll): a CSR and a token of backend ca token\n" +
			"  POST /1.0/renew  renewal of a certificate by its holder (mTLS, or a token signed with its key)\n" +
			"  GET  /crl        the CRL, also over plain HTTP on the same port\n" +
			"  /sentinel/v1/... inventory, tokens, revoke: mTLS with a certificate of backend ca admin\n" +
			"Certificates say what the inventory says, never what the device asks for.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			host, _, err := net.SplitHostPort(listen)
			if err != nil {
				return fmt.Errorf("--listen: %w", err)
			}
			names := slices.Clone(dns)
			if host != "" && host != "0.0.0.0" && host != "::" {
				names = append(names, host)
			}
			if len(dns) == 0 {
				if host == "" || host == "0.0.0.0" || host == "::" {
					if h, err := os.Hostname(); err == nil {
						names = append(names, h)
					}
				}
				names = append(names, "localhost", "127.0.0.1")
			}
			slices.Sort(names)
			names = slices.Compact(names)
			log, err := logging.New(logLevel, logFormat, cmd.ErrOrStderr())
			if err != nil {
				return fmt.Errorf("--log-level/--log-format: %w", err)
			}
			defer func() { _ = log.Sync() }()
			c, err := openCADB(dir, db)
			if err != nil {
				return err
			}
			defer c.Close()
			if backdate <= 0 {
				return fmt.Errorf("--backdate: %v: must be positive", backdate)
			}
			srv, err := caserver.New(caserver.Config{CA: c, DNSNames: names, Log: log, Backdate: backdate})
			if err != nil {
				return err
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return fmt.Errorf("--listen: %w", err)
			}
			log.Info("enroll devices with: backend enroll --ca https://HOST:PORT --token TOKEN --out DIR",
				zap.Strings("host_names_in_tls_certificate", names))
			return srv.Serve(cmd.Context(), ln)
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "dir", "", "CA directory (required)")
	f.StringVar(&db, "db", "", "PostgreSQL inventory, postgres://USER:PASSWORD@HOST:PORT/DB, recorded in the CA dir's inventory.url (default: inventory.url if present, else inventory.db)")
	f.StringVar(&listen, "listen", "127.0.0.1:9000", "address to serve HTTPS (and plain-HTTP /crl) on")
	f.StringArrayVar(&dns, "dns", nil, "host name or IP devices use to reach the CA, repeatable; goes into its TLS certificate (default: the --listen host, or this machine's host name, plus localhost and 127.0.0.1)")
	f.DurationVar(&backdate, "backdate", caserver.DefaultBackdate, "how far before now certificates start, for verifiers whose clocks are behind; certificates must live at least twice this")
	f.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	f.StringVar(&logFormat, "log-format", "console", "console or json")
	_ = cmd.MarkFlagRequired("dir")
	return cmd
}

// newCAAdminCmd is `backend ca admin`: a certificate for the online CA's admin endpoints.
func newCAAdminCmd() *cobra.Command {
	var (
		dir, db, name, out, ttl string
		revoke, force           bool
	)
	cmd := &cobra.Command{
		Use:   "admin --dir CA --name NAME --out DIR [--ttl 30d] | --revoke --name NAME",
		Short: "Issue (or revoke) an admin certificate for the online CA's /sentinel/v1 endpoints (mTLS)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := ca.ValidateName(name); err != nil {
				return fmt.Errorf("--name: %w", err)
			}
			c, err := openCADB(dir, db)
			if err != nil {
				return err
			}
			defer c.Close()
			if revoke {
				n, err := c.RevokeAdmin(name)
				if err != nil {
					return err
				}
				_, err = fmt.Fprintf(cmd.OutOrStdout(), "revoked %d admin certificate(s) of %q\n", n, name)
				return err
			}
			if out == "" {
				return errors.New("--out: required")
			}
			var d = ca.AdminLifetime
			if ttl != "" {
				if d, err = ca.ParseLifetime(ttl); err != nil {
					return fmt.Errorf("--ttl: %w", err)
				}
			}
			files := map[string][]byte{}
			order := []string{name + ".key", name + ".crt", ca.RootCertFile}
			for _, f := range order {
				if _, err := os.Lstat(filepath.Join(out, f)); err == nil && !force {
					return fmt.Errorf("%s exists; pass --force to overwrite", filepath.Join(out, f))
				}
			}
			adm, err := c.IssueAdmin(name, d)
			if err != nil {
				return cliError(dir, err)
			}
			files[name+".key"], files[name+".crt"], files[ca.RootCertFile] = adm.KeyPEM, adm.CertPEM, c.RootPEM()
			if err := os.MkdirAll(out, 0o700); err != nil {
				return err
			}
			for _, f := range order {
				perm := os.FileMode(0o644)
				if strings.HasSuffix(f, ".key") {
					perm = 0o600
				}
				if err := enroll.WriteFile(filepath.Join(out, f), files[f], perm, force); err != nil {
					return fmt.Errorf("admin certificate %s recorded but not written: %w", adm.Serial, err)
				}
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "issued admin certificate %q, serial %s, valid until %s, in %s\n", name, adm.Serial, fmtTime(adm.Cert.NotAfter), out)
			fmt.Fprintf(w, "use: curl --cacert %s --cert %s --key %s https://CA-HOST:9000/sentinel/v1/inventory\n",
				filepath.Join(out, ca.RootCertFile), filepath.Join(out, name+".crt"), filepath.Join(out, name+".key"))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "dir", "", "CA directory (required)")
	f.StringVar(&db, "db", "", "PostgreSQL inventory (default: the CA dir's inventory.url, else inventory.db)")
	f.StringVar(&name, "name", "", "admin name (required)")
	f.StringVar(&out, "out", "", "directory to write NAME.crt, NAME.key (0600) and ca.crt into")
	f.StringVar(&ttl, "ttl", "", "lifetime, e.g. 30d (default 30d)")
	f.BoolVar(&revoke, "revoke", false, "revoke every admin certificate of --name instead")
	f.BoolVar(&force, "force", false, "overwrite existing files in --out")
	_ = cmd.MarkFlagRequired("dir")
	_ = cmd.MarkFlagRequired("name")
	return cmd
}
