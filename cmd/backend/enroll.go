package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sentinel-zt/sentinel/pkg/ca"
	"github.com/sentinel-zt/sentinel/pkg/enroll"
)

// newEnrollCmd is `backend enroll`: the device side of the online CA.
func newEnrollCmd() *cobra.Command {
	var (
		o     enroll.Options
		token string
		kt    string
	)
	cmd := &cobra.Command{
		Use:   "enroll --ca https://HOST:9000 --token TOKEN|-|@FILE --out DIR [--key-type ecdsa-p256] [--force]",
		Short: "Enroll this device: make a key here, get its certificate from the online CA, write a bundle",
		Long: "Enroll this device with an enrollment token (backend ca token): the CA root is pinned by the\n" +
			"fingerprint in the token, the private key is made here and never leaves, only a certificate\n" +
			"request is sent. Writes NAME.key (0600), NAME.crt, ca.crt and config.toml (with ca_url, so\n" +
			"the certificate renews itself) into --out; then run: backend -c DIR/config.toml",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			tok, err := readToken(token, cmd)
			if err != nil {
				return fmt.Errorf("--token: %w", err)
			}
			o.Token = tok
			if o.KeyType, err = ca.ParseKeyType(kt); err != nil {
				return fmt.Errorf("--key-type: %w", err)
			}
			res, err := enroll.Enroll(cmd.Context(), o)
			if err != nil {
				if errors.Is(err, ca.ErrExists) {
					return fmt.Errorf("%w; pass --force to overwrite", err)
				}
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "enrolled %s %q: uuid %s, serial %s, valid until %s (renews itself through %s)\n",
				res.Role, res.Name, res.UUID, res.Serial, fmtTime(res.NotAfter), o.CA)
			fmt.Fprintf(out, "bundle: %s\n", strings.Join(res.Files, " "))
			fmt.Fprintf(out, "run: backend -c %s\n", res.Config)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.CA, "ca", "", "online CA URL, https://HOST:PORT (required)")
	f.StringVar(&token, "token", "", "enrollment token, - to read it from stdin, @FILE to read it from a file (required)")
	f.StringVar(&o.Out, "out", "", "bundle directory to write NAME.key, NAME.crt, ca.crt, config.toml into (required; created 0700)")
	f.StringVar(&kt, "key-type", string(ca.KeyECDSAP256), "key type: ecdsa-p256 or ed25519")
	f.BoolVar(&o.Force, "force", false, "overwrite an existing bundle (each file replaced atomically)")
	for _, n := range []string{"ca", "token", "out"} {
		_ = cmd.MarkFlagRequired(n)
	}
	return cmd
}

// readToken takes the token as given, from stdin ("-") or from a file ("@FILE"), so it need
// not sit in the shell history or the process list.
func readToken(v string, cmd *cobra.Command) (string, error) {
	switch {
	case v == "-":
		line, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
		if err != nil && line == "" {
			return "", fmt.Errorf("read stdin: %w", err)
		}
		return strings.TrimSpace(line), nil
	case strings.HasPrefix(v, "@"):
		data, err := os.ReadFile(v[1:])
		if err != nil {
			return "", err
		}
		return strings.TrimSpace(string(data)), nil
	}
	return strings.TrimSpace(v), nil
}
