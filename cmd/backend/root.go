package main

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"
)

// version is stamped by the Makefile with -ldflags "-X main.version=...".
var version = "dev"

func newRootCmd() *cobra.Command {
	var configPath string
	root := &cobra.Command{
		Use:           "backend",
		Short:         "Sentinel zero-trust access proxy: client, relay or server, chosen by the certificate",
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if configPath == "" {
				return fmt.Errorf("missing -c config.toml (see 'backend --help')")
			}
			return runRole(cmd.Context(), configPath)
		},
	}
	root.Flags().StringVarP(&configPath, "config", "c", "", "config file (TOML) of the role to run")
	root.CompletionOptions.DisableDefaultCmd = true // the CLI contract lists its commands
	root.AddCommand(newCACmd(), newVersionCmd(), newDoctorCmd())
	root.AddCommand(newEnrollCmd()) // enroll.go
	return root
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "backend %s (%s)\n", version, runtime.Version())
			return err
		},
	}
}
