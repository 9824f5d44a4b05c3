package main

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/sentinel-zt/sentinel/pkg/doctor"
)

func newDoctorCmd() *cobra.Command {
	var (
		configPath string
		timeout    time.Duration
	)
	cmd := &cobra.Command{
		Use:   "doctor -c config.toml",
		Short: "Check a config, its certificate and the network path of its role, step by step",
		Long: "doctor checks, in order: the config parses; the certificate and key match; the certificate\n" +
			"chains to the CA; its role and attributes decode; its validity period; then for a client or a\n" +
			"server each relay (DNS, TCP, TLS, WebSocket, token), for a relay its listen address, and for a\n" +
			"client the end-to-end session to its server and one stream to its target.\n\n" +
			"Each check prints \"✓ what\", \"! what: warning\", \"- what: why it was skipped\" or\n" +
			"\"✗ what: why\" followed by \"    fix: what to do\". Exit status 0 when no check failed.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if configPath == "" {
				return fmt.Errorf("missing -c config.toml")
			}
			out := cmd.OutOrStdout()
			var werr error
			rep := doctor.Run(cmd.Context(), configPath, doctor.Options{
				Timeout: timeout,
				Progress: func(c doctor.Check) {
					if werr == nil {
						werr = writeCheck(out, c)
					}
				},
			})
			if werr != nil {
				return fmt.Errorf("doctor: write output: %w", werr)
			}
			if !rep.OK() {
				failed := 0
				for _, c := range rep.Checks {
					if c.Status == doctor.StatusFail {
						failed++
					}
				}
				return fmt.Errorf("doctor: %d of %d checks failed", failed, len(rep.Checks))
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&configPath, "config", "c", "", "config file (TOML) to check")
	cmd.Flags().DurationVar(&timeout, "timeout", doctor.DefaultTimeout, "bound on the whole run")
	return cmd
}

// writeCheck prints one check: "✓ what[: detail]", "! what: warning", "- what: why skipped"
// or "✗ what: why", then "    fix: ..." when there is something to do.
func writeCheck(w io.Writer, c doctor.Check) error {
	mark := map[doctor.Status]string{
		doctor.StatusPass: "✓",
		doctor.StatusWarn: "!",
		doctor.StatusFail: "✗",
		doctor.StatusSkip: "-",
	}[c.Status]
	line := mark + " " + c.Name
	if c.Detail != "" {
		line += ": " + c.Detail
	}
	if _, err := fmt.Fprintln(w, line); err != nil {
		return err
	}
	if c.Fix != "" && (c.Status == doctor.StatusFail || c.Status == doctor.StatusWarn) {
		if _, err := fmt.Fprintln(w, "    fix: "+c.Fix); err != nil {
			return err
		}
	}
	return nil
}
